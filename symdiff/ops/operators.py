"""Python operators on nodes (+ - * / // % ** @, unary -, <, <=, >, >=, .T, [ ], len() and
the ndarray methods a NumPy user types), and NumPy's own functions applied to nodes
(`np.exp(x)`, `np.sum(x)`: `__array_ufunc__` and `__array_function__` dispatch to the
public function that registered that NumPy name, see `export`), attached to Node by the op
library so that the graph module does not depend on it.

`==` and `!=` keep their identity meaning so that nodes stay usable as dict keys;
elementwise equality is `symdiff.equal` / `symdiff.not_equal`. (Against an ndarray, NumPy
runs its `equal` ufunc, which dispatches here like any other: `arr == x` is `sd.equal`.)
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from ..errors import ShapeError
from ..graph import Node
from . import elementwise as ew
from . import reductions as red
from . import special, statistics
from .arrays import squeeze
from .base import NUMPY, PUBLIC
from .gather import getitem
from .linalg import matmul
from .structure import astype, reshape, transpose


class TensorOperators:
    """The methods attached to Node; every one builds graph nodes."""

    def __add__(self, other): return ew.add(self, other)
    def __radd__(self, other): return ew.add(other, self)
    def __sub__(self, other): return ew.sub(self, other)
    def __rsub__(self, other): return ew.sub(other, self)
    def __mul__(self, other): return ew.mul(self, other)
    def __rmul__(self, other): return ew.mul(other, self)
    def __truediv__(self, other): return ew.div(self, other)
    def __rtruediv__(self, other): return ew.div(other, self)
    def __floordiv__(self, other): return special.floor_divide(self, other)
    def __rfloordiv__(self, other): return special.floor_divide(other, self)
    def __mod__(self, other): return special.mod(self, other)
    def __rmod__(self, other): return special.mod(other, self)
    def __pow__(self, other): return ew.pow(self, other)
    def __rpow__(self, other): return ew.pow(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __neg__(self): return ew.neg(self)
    def __pos__(self): return self
    def __abs__(self): return ew.abs(self)
    def __lt__(self, other): return ew.less(self, other)
    def __le__(self, other): return ew.less_equal(self, other)
    def __gt__(self, other): return ew.greater(self, other)
    def __ge__(self, other): return ew.greater_equal(self, other)
    def __getitem__(self, index): return getitem(self, index)

    @property
    def T(self):
        """Reversed axes, as ndarray.T."""
        return transpose(self)

    def sum(self, axis=None, keepdims=False): return red.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return red.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return red.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return red.min(self, axis, keepdims)
    def prod(self, axis=None, keepdims=False): return red.prod(self, axis, keepdims)

    def var(self, axis=None, *, ddof=0, keepdims=False):
        """The variance, as ndarray.var (sd.variance; sd.var builds a variable)."""
        return statistics.variance(self, axis, ddof, keepdims)

    def std(self, axis=None, *, ddof=0, keepdims=False):
        return statistics.std(self, axis, ddof, keepdims)

    def cumsum(self, axis=None): return statistics.cumsum(self, axis)
    def clip(self, min=None, max=None): return special.clip(self, min, max)  # noqa: A002
    def squeeze(self, axis=None): return squeeze(self, axis)
    def flatten(self): return reshape(self, (-1,))
    def ravel(self): return reshape(self, (-1,))
    def dot(self, other): return PUBLIC["dot"](self, other)

    def transpose(self, *axes):
        """x.transpose(), x.transpose(1, 0) or x.transpose((1, 0)), as ndarray.transpose."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return transpose(self, axes or None)

    @property
    def size(self) -> int:
        """The number of elements (static shapes only)."""
        symbolic = [d for d in self.shape if not isinstance(d, int)]
        if symbolic:
            raise ShapeError(f"{self.display_name}: the size depends on the symbolic dims "
                             f"{symbolic}, unknown until evaluated")
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError(f"len() of the 0-d node {self.display_name}")
        if not isinstance(self.shape[0], int):
            raise TypeError(f"len() of {self.display_name}: its first dim is the symbolic "
                            f"{self.shape[0]!r}, unknown until evaluated")
        return self.shape[0]

    # NumPy's functions on nodes
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = getattr(ufunc, "__name__", str(ufunc))
        if method != "__call__":
            raise TypeError(f"np.{name}.{method} is not supported on symdiff nodes; use the "
                            "symdiff reductions (sd.sum, sd.prod, sd.max, sd.min, sd.cumsum)")
        if kwargs:
            raise TypeError(f"np.{name} on symdiff nodes takes no keyword arguments (got "
                            f"{sorted(kwargs)}); call sd.{_suggest(name)} instead")
        return _numpy_counterpart(name)(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        prop = getattr(type(self), func.__name__, None)
        if isinstance(prop, property) and len(args) == 1 and not kwargs \
                and isinstance(args[0], type(self)):
            return getattr(args[0], func.__name__)  # np.shape(x), np.ndim(x), np.size(x)
        module = getattr(func, "__module__", "numpy") or "numpy"
        name = func.__name__ if module == "numpy" else \
            f"{module.removeprefix('numpy.')}.{func.__name__}"
        return _numpy_counterpart(name)(*args, **kwargs)

    def reshape(self, *shape):
        """x.reshape(2, 3) or x.reshape((2, 3)), as ndarray.reshape."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return reshape(self, shape)

    def astype(self, dtype): return astype(self, dtype)


def _suggest(name: str) -> str:
    """The symdiff function standing for np.<name>, or the closest public name."""
    fn = NUMPY.get(name)
    if fn is not None:
        return fn.__name__
    close = difflib.get_close_matches(name.split(".")[-1], sorted(PUBLIC), n=1, cutoff=0.75)
    return close[0] if close else ""


def _numpy_counterpart(name: str) -> Any:
    fn = NUMPY.get(name)
    if fn is None:
        hint = _suggest(name)
        hint = f" (the closest symdiff function is sd.{hint})" if hint else ""
        raise TypeError(f"np.{name} has no symdiff counterpart for nodes{hint}; build the "
                        "graph with symdiff's functions (sd.exp, sd.sum, ...)")
    return fn


def install(cls: type[Any] = Node) -> None:
    """Attach the operators to the node class."""
    for name, value in vars(TensorOperators).items():
        if name not in ("__module__", "__dict__", "__weakref__", "__doc__", "__qualname__"):
            setattr(cls, name, value)


install()
