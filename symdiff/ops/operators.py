"""Python operators on nodes (+ - * / ** @, unary -, <, <=, >, >=, .T, [ ] and a few
ndarray methods), attached to Node by the op library so that the graph module does not
depend on it.

`==` and `!=` keep their identity meaning so that nodes stay usable as dict keys;
elementwise equality is `symdiff.equal` / `symdiff.not_equal`.
"""

from __future__ import annotations

from typing import Any

from ..graph import Node
from . import elementwise as ew
from . import special
from .linalg import matmul
from .reductions import sum
from .structure import astype, getitem, reshape, transpose


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

    def sum(self, axis=None, keepdims=False): return sum(self, axis, keepdims)

    def reshape(self, *shape):
        """x.reshape(2, 3) or x.reshape((2, 3)), as ndarray.reshape."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return reshape(self, shape)

    def astype(self, dtype): return astype(self, dtype)


def install(cls: type[Any] = Node) -> None:
    """Attach the operators to the node class."""
    for name, value in vars(TensorOperators).items():
        if name not in ("__module__", "__dict__", "__weakref__", "__doc__", "__qualname__"):
            setattr(cls, name, value)


install()
