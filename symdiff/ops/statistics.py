"""Reductions beyond sums: variance (sd.variance, since sd.var builds a variable) and std,
the vector norm (ord 2, 1, inf), and cumsum, whose VJP is a cumsum run backward.

variance and norm are not the identity over size-1 axes (a variance of one element is 0,
a norm |x|), so unlike sum and max they keep `unit_identity` False.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..graph import Node
from ..shapes import TensorType, normalize_axes
from .arrays import flip
from .base import (
    define,
    export,
    lift,
    reduction_rule,
    require_float,
    same_axes_from,
    shape_mismatch,
)
from .elementwise import abs, equal, sign, sqrt, where
from .lowering import A0, Call, Method, Name, kwargs
from .reductions import _axes, _axis_value, _count, _expand, _tie_mask, mean, sum
from .structure import reshape

# -- variance and std -----------------------------------------------------------------------


def _variance_impl(x: np.ndarray, axis: Any, keepdims: bool, ddof: int) -> np.ndarray:
    return np.asarray(np.var(x, axis=axis, ddof=ddof, keepdims=keepdims))


def _centered_slope(x: Node, axis: Any, ddof: int) -> Node:
    """d variance / d x = 2 (x - mean(x)) / (N - ddof)."""
    return (x - mean(x, axis, keepdims=True)) * (2 / (_count(x, axis) - ddof))


def _variance_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool, ddof: int) -> Node:
    return _expand(g, x, axis, keepdims) * _centered_slope(x, axis, ddof)


def _variance_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool, ddof: int) -> Node:
    return sum(t * _centered_slope(x, axis, ddof), axis, keepdims)


def _shifted(x: Node, axis: Any) -> tuple[int, ...]:
    """A reduction's axes one further right (the batch axis in front)."""
    return tuple(a + 1 for a in (range(x.ndim) if axis is None else axis))


def _variance_batch(args: list[Node], batched: list[bool], out: Node, *, axis: Any,
                    keepdims: bool, ddof: int) -> Node:
    return out.op(args[0], axis=_shifted(out.inputs[0], axis), keepdims=keepdims, ddof=ddof)


def _variance_lower(x: Node, out: Node, axis: Any, keepdims: bool, ddof: int) -> Any:
    return Method(A0, "var", (), kwargs(axis=_axis_value(axis), ddof=ddof or None,
                                        keepdims=True if keepdims else None))


variance_op = define(
    "variance", family="reduction", shape_rule=reduction_rule("variance", float_result=True),
    impl=_variance_impl, vjp=(_variance_vjp,), jvp=(_variance_jvp,), batch=_variance_batch,
    lower=_variance_lower,
    doc="Variance over axis, np.var: sum((x - mean)^2) / (N - ddof).")


@export(op=variance_op, statics={"axis": ("an int, a tuple of ints or None", False),
                                 "ddof": ("an int", False),
                                 "keepdims": ("True or False", False)}, numpy=("var",))
def variance(x: object, axis: int | tuple[int, ...] | None = None, ddof: int = 0,
             keepdims: bool = False) -> Node:
    """np.var (named variance, as sd.var builds a variable): the mean squared deviation
    over axis, divided by N - ddof instead of N."""
    x = lift(x)
    require_float("variance", [x])
    return variance_op(x, axis=_axes(x, axis, "variance"), keepdims=bool(keepdims),
                       ddof=int(ddof))


@export(statics={"axis": ("an int, a tuple of ints or None", False), "ddof": ("an int", False),
                 "keepdims": ("True or False", False)})
def std(x: object, axis: int | tuple[int, ...] | None = None, ddof: int = 0,
        keepdims: bool = False) -> Node:
    """np.std: the square root of the variance (its derivative is infinite where the
    variance is 0, as with NumPy's formula)."""
    return sqrt(variance(x, axis, ddof, keepdims))



@export(statics={"axis": ("an int or a tuple of ints", False), "eps": ("a float", False)},
        numpy=())
def layer_norm(x: object, axis: int | tuple[int, ...] = -1, eps: float = 1e-5) -> Node:
    """(x - mean) / sqrt(variance + eps) over axis: PyTorch's F.layer_norm without the
    affine part (multiply by a scale and add a shift after it). A composition, so its
    derivatives are those of mean, variance, sqrt and division."""
    x = lift(x)
    require_float("layer_norm", [x])
    axes = _axes(x, axis, "layer_norm")
    centered = x - mean(x, axes, keepdims=True)
    return centered / sqrt(variance(x, axes, keepdims=True) + lift(float(eps), x))

# -- vector norms --------------------------------------------------------------------------

_ORDS = (2, 1, math.inf)


def _norm_impl(x: np.ndarray, ord: Any, axis: Any, keepdims: bool) -> np.ndarray:
    along = None if axis is None else axis[0]
    return np.asarray(np.linalg.norm(x, None if ord == 2 and axis is None else ord, along,
                                     keepdims))


def _norm_slope(x: Node, out: Node, ord: Any, axis: Any, keepdims: bool) -> Node:
    """d norm / d x, taken as 0 where the norm is 0 (the vector is 0): x / norm (2),
    sign(x) (1), sign(x) on the entries of largest size, split evenly (inf)."""
    if ord == 1:
        return sign(x)
    if ord == 2:
        expanded = _expand(out, x, axis, keepdims)
        safe = where(equal(expanded, lift(0, out)), lift(1, out), expanded)
        return x / safe
    return sign(x) * _tie_mask(abs(x), out, axis, keepdims)


def _norm_vjp(g: Node, x: Node, out: Node, ord: Any, axis: Any, keepdims: bool) -> Node:
    return _expand(g, x, axis, keepdims) * _norm_slope(x, out, ord, axis, keepdims)


def _norm_jvp(t: Node, x: Node, out: Node, ord: Any, axis: Any, keepdims: bool) -> Node:
    return sum(t * _norm_slope(x, out, ord, axis, keepdims), axis, keepdims)


def _norm_batch(args: list[Node], batched: list[bool], out: Node, *, ord: Any, axis: Any,
                keepdims: bool) -> Node:
    x = out.inputs[0]
    if axis is None and x.ndim != 1:  # the whole operand: a vector per batch entry
        flat = reshape(args[0], (args[0].shape[0], -1))
        result = out.op(flat, ord=ord, axis=(1,), keepdims=False)
        return reshape(result, args[0].shape[:1] + out.shape) if keepdims else result
    return out.op(args[0], ord=ord, axis=_shifted(x, axis), keepdims=keepdims)


def _norm_lower(x: Node, out: Node, ord: Any, axis: Any, keepdims: bool) -> Any:
    printed = Name("np.inf") if ord == math.inf else None if ord == 2 else ord
    along = None if axis is None else axis[0]
    return Call("np.linalg.norm", (A0,), kwargs(ord=printed, axis=along,
                                               keepdims=True if keepdims else None))


norm_op = define(
    "norm", family="reduction", shape_rule=reduction_rule("norm", float_result=True),
    impl=_norm_impl, vjp=(_norm_vjp,), jvp=(_norm_jvp,), batch=_norm_batch, lower=_norm_lower,
    doc="Vector norm (ord 2, 1 or inf) along one axis or of all elements; its derivative "
        "is defined as 0 where the norm is 0.")


@export(op=norm_op, statics={"ord": ("None, 1, 2, 'inf', 'fro' or 'nuc'", True),
                             "axis": ("an int or None", False),
                             "keepdims": ("True or False", False)},
        numpy=("linalg.norm",))
def norm(x: object, ord: Any = None, axis: int | None = None, keepdims: bool = False) -> Node:
    """np.linalg.norm for vectors: ord None or 2 (Euclidean; of every element when axis is
    None, the Frobenius norm), 1 (sum of sizes) or inf (largest size), along `axis` (an
    int) or, for a 1-D operand or ord None, over everything ('inf' also names inf, as a
    spec writes it). The derivative where the norm
    is 0 is taken as 0 (a subgradient), not NaN. A matrix (2-D, axis None) also takes the
    matrix norms 'fro', 'nuc' and 2 (see matrix_norm)."""
    x = lift(x)
    require_float("norm", [x])
    if x.ndim == 2 and axis is None and not keepdims and ord in ("fro", "nuc", 2):
        from .decompositions import matrix_norm  # matrix norms go through the svd

        return matrix_norm(x, ord)
    order = 2 if ord is None else math.inf if ord == "inf" else ord
    if order not in _ORDS:
        raise shape_mismatch("norm", [x], f"ord={ord!r} is not supported (None, 1, 2 or inf; "
                                          "of a matrix also 'fro', 'nuc' and 2)")
    if not (axis is None or isinstance(axis, (int, np.integer))):
        raise shape_mismatch("norm", [x], f"axis={axis!r}: give one int (a vector norm) or "
                                          "None; matrix norms are not supported")
    if axis is None and x.ndim > 1 and ord is not None:
        raise shape_mismatch("norm", [x], f"ord={ord!r} of an operand of rank {x.ndim} with "
                                          "axis=None is a matrix norm in NumPy; only 'fro', "
                                          "'nuc' and 2 of a matrix are supported (give axis= "
                                          "or flatten the operand)")
    order = math.inf if order == math.inf else int(order)
    axes = None if axis is None else normalize_axes(axis, x.ndim, "norm")
    return norm_op(x, ord=order, axis=axes, keepdims=bool(keepdims))


# -- cumsum --------------------------------------------------------------------------------

def _cumsum_rule(types: list[TensorType], inputs: list[Node], *, axis: int) -> TensorType:
    (t,) = types
    normalize_axes(axis, t.ndim, "cumsum")
    return TensorType(t.shape, "int64" if t.dtype == "bool" else t.dtype)


def _cumsum_impl(x: np.ndarray, axis: int) -> np.ndarray:
    return np.cumsum(x, axis=axis)


def _cumsum_vjp(g: Node, x: Node, out: Node, axis: int) -> Node:
    """The adjoint of a running sum is a running sum from the other end."""
    return flip(cumsum(flip(g, axis), axis), axis)


def _cumsum_jvp(t: Node, x: Node, out: Node, axis: int) -> Node:
    return cumsum(t, axis)


def _cumsum_batch(args: list[Node], batched: list[bool], out: Node, axis: int) -> Node:
    return cumsum(args[0], axis + 1)


def _cumsum_lower(x: Node, out: Node, axis: int) -> Any:
    return Method(A0, "cumsum", (), kwargs(axis=axis))


cumsum_op = define(
    "cumsum", shape_rule=_cumsum_rule, impl=_cumsum_impl, vjp=(_cumsum_vjp,),
    jvp=(_cumsum_jvp,), batch=_cumsum_batch, lower=_cumsum_lower, axes_from=same_axes_from,
    accumulates=True,
    doc="Running sum along an axis.")


@export(op=cumsum_op, statics={"axis": ("an int or None", False)})
def cumsum(x: object, axis: int | None = None) -> Node:
    """np.cumsum: running sum along axis; with axis None, of the flattened operand."""
    x = lift(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    (axis,) = normalize_axes(axis, x.ndim, "cumsum")
    return cumsum_op(x, axis=axis)

