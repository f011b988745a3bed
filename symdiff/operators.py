"""Python operators on nodes (+ - * / ** @, unary -, <, <=, >, >=, .T, [ ]).

`==` and `!=` keep their identity meaning so that nodes stay usable as dict keys;
elementwise equality is `symdiff.equal` / `symdiff.not_equal`.
"""

from __future__ import annotations

from typing import Any


def _ops() -> Any:
    from . import ops  # imported late: the op library itself builds on graph nodes

    return ops


class TensorOperators:
    """Mixin giving Node the NumPy operator syntax; every method builds graph nodes."""

    __slots__ = ()

    def __add__(self, other): return _ops().add(self, other)
    def __radd__(self, other): return _ops().add(other, self)
    def __sub__(self, other): return _ops().sub(self, other)
    def __rsub__(self, other): return _ops().sub(other, self)
    def __mul__(self, other): return _ops().mul(self, other)
    def __rmul__(self, other): return _ops().mul(other, self)
    def __truediv__(self, other): return _ops().div(self, other)
    def __rtruediv__(self, other): return _ops().div(other, self)
    def __pow__(self, other): return _ops().pow(self, other)
    def __rpow__(self, other): return _ops().pow(other, self)
    def __matmul__(self, other): return _ops().matmul(self, other)
    def __rmatmul__(self, other): return _ops().matmul(other, self)
    def __neg__(self): return _ops().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops().abs(self)
    def __lt__(self, other): return _ops().less(self, other)
    def __le__(self, other): return _ops().less_equal(self, other)
    def __gt__(self, other): return _ops().greater(self, other)
    def __ge__(self, other): return _ops().greater_equal(self, other)
    def __getitem__(self, index): return _ops().getitem(self, index)

    def __iter__(self):
        raise TypeError("a symdiff node is not iterable; index it explicitly, e.g. x[0]")

    @property
    def T(self):
        """Reversed axes, as ndarray.T."""
        return _ops().transpose(self)

    def sum(self, axis=None, keepdims=False): return _ops().sum(self, axis, keepdims)
    def reshape(self, *shape):
        """x.reshape(2, 3) or x.reshape((2, 3)), as ndarray.reshape."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _ops().reshape(self, shape)

    def astype(self, dtype): return _ops().astype(self, dtype)

    # notebook display (symdiff/inspect/): a picture when Graphviz is there, a formula for
    # scalar and elementwise graphs; None tells IPython to skip that format
    def _repr_svg_(self):
        from .inspect.dot import repr_svg

        return repr_svg(self)

    def _repr_latex_(self):
        from .inspect.sympy_bridge import repr_latex

        return repr_latex(self)
