"""Reductions (sum mean max min prod logsumexp) and the normalizers softmax, log_softmax.

Each reduction takes `axis` (int, tuple or None for all) and `keepdims`. A rule first puts
the reduced axes back (`_expand`) so the cotangent broadcasts against the input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..graph import Node
from ..shapes import normalize_axes
from .base import define, lift, reduce_args, reduction_rule, require_float, same_type_rule
from .elementwise import equal, exp, where
from .structure import broadcast_to, dim_size, expand_dims


def _axes(x: Node, axis: Any, name: str) -> tuple[int, ...] | None:
    """Canonical axis attribute: a sorted tuple, or None when every axis is reduced."""
    if axis is None:
        return None
    return normalize_axes(axis, x.ndim, name)


def _all(x: Node, axis: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(range(x.ndim)) if axis is None else axis


def _expand(g: Node, x: Node, axis: tuple[int, ...] | None, keepdims: bool) -> Node:
    """Reinsert reduced axes (as size 1) so that `g` broadcasts against `x`."""
    if keepdims or not _all(x, axis) or g.ndim == 0:
        return g  # a 0-d cotangent broadcasts as it is
    return expand_dims(g, _all(x, axis))


def _count(x: Node, axis: tuple[int, ...] | None) -> Node:
    """Number of elements reduced over, as a scalar node of x's float dtype."""
    dims = [x.shape[a] for a in _all(x, axis)]
    if all(isinstance(d, int) for d in dims):
        return lift(float(math.prod(dims)), x)
    return dim_size(x, _all(x, axis))


def _reducer(name: str, impl: Any, vjp: Any, jvp: Any, *, float_result: bool = False,
             lower: Any = None, helpers: tuple = (), doc: str = "") -> Any:
    op = define(name, shape_rule=reduction_rule(name, float_result), impl=impl, vjp=(vjp,),
                jvp=(jvp,), lower=lower or (lambda a, axis, keepdims:  # x.sum(...): no dispatch
                                            f"{a[0]}.{name}({reduce_args(axis, keepdims)[2:]})"),
                helpers=helpers, reduction=True, doc=doc)

    def fn(x: object, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Node:
        x = lift(x)
        if float_result:
            require_float(name, [x])
        return op(x, axis=_axes(x, axis, name), keepdims=bool(keepdims))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.op = op  # type: ignore[attr-defined]
    return fn


def _np_reduce(fn: Any) -> Any:
    return lambda x, axis, keepdims: np.asarray(fn(x, axis=axis, keepdims=keepdims))


def _tie_mask(x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    """1/k on each of the k elements that attain the max (or min), 0 elsewhere."""
    hit = equal(x, _expand(out, x, axis, keepdims))
    ones = where(hit, lift(1, x), lift(0, x))
    return ones / sum(ones, axis, keepdims=True)


sum = _reducer(  # noqa: A001
    "sum", _np_reduce(np.sum),
    lambda g, x, out, axis, keepdims: broadcast_to(_expand(g, x, axis, keepdims), x.shape),
    lambda t, x, out, axis, keepdims: sum(t, axis, keepdims),
    doc="Sum over axis (None: all).")
def _lower_mean(a: list[str], axis: Any, keepdims: bool) -> str:
    """x.sum(...) / count: np.mean's own arithmetic (a sum, then one true division) at a
    third of its call overhead."""
    count = f"{a[0]}.size" if axis is None else \
        " * ".join(f"{a[0]}.shape[{i}]" for i in axis) or "1"
    count = f"({count})" if axis is not None and len(axis) > 1 else count
    return f"{a[0]}.sum({reduce_args(axis, keepdims)[2:]}) / {count}"


mean = _reducer(
    "mean", _np_reduce(np.mean),
    lambda g, x, out, axis, keepdims:  # divide the small cotangent, then broadcast
        broadcast_to(_expand(g / _count(x, axis), x, axis, keepdims), x.shape),
    lambda t, x, out, axis, keepdims: mean(t, axis, keepdims),
    float_result=True, lower=_lower_mean, doc="Mean over axis (None: all).")
def _chooser_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    """max/min: the cotangent goes to the elements that attain the extreme, split evenly."""
    return _expand(g, x, axis, keepdims) * _tie_mask(x, out, axis, keepdims)


def _chooser_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return sum(t * _tie_mask(x, out, axis, keepdims), axis, keepdims)


max = _reducer("max", _np_reduce(np.max), _chooser_vjp, _chooser_jvp,  # noqa: A001
               doc="Maximum over axis; ties share the derivative evenly.")
min = _reducer("min", _np_reduce(np.min), _chooser_vjp, _chooser_jvp,  # noqa: A001
               doc="Minimum over axis; ties share the derivative evenly.")
def _prod_others(x: Node, axis: Any) -> Node:
    """d prod / d x_i, the product of the other elements, exact where x has zeros. With
    S = x with zeros made 1 and Z = x with nonzeros made 1, a nonzero x_i gets
    prod(S) / S_i * prod(Z) (0 once the group has a zero, yet still differentiable in
    that zero) and a zero x_i gets prod(S) if it is the group's only zero, else 0. So
    first derivatives are exact everywhere and second derivatives wherever a group has
    at most one zero (with two or more, they are taken as 0)."""
    zero = equal(x, lift(0, x))
    nonzero_part = where(zero, lift(1, x), x)
    zero_part = where(zero, x, lift(1, x))
    nonzero_product = prod(nonzero_part, axis, keepdims=True)
    zeros = sum(where(zero, lift(1, x), lift(0, x)), axis, keepdims=True)
    at_zero = where(equal(zeros, lift(1, x)), nonzero_product, lift(0, x))
    elsewhere = nonzero_product / nonzero_part * prod(zero_part, axis, keepdims=True)
    return where(zero, at_zero, elsewhere)


prod = _reducer(
    "prod", _np_reduce(np.prod),
    lambda g, x, out, axis, keepdims: _expand(g, x, axis, keepdims) * _prod_others(x, axis),
    lambda t, x, out, axis, keepdims: sum(t * _prod_others(x, axis), axis, keepdims),
    doc="Product over axis; its derivative is exact at zeros too.")


def _logsumexp(x: np.ndarray, axis: int | tuple[int, ...] | None = None,
               keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) shifted by the max so that nothing overflows."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


logsumexp = _reducer(
    "logsumexp", _logsumexp,
    lambda g, x, out, axis, keepdims:
        _expand(g, x, axis, keepdims) * exp(x - _expand(out, x, axis, keepdims)),
    lambda t, x, out, axis, keepdims:
        sum(t * exp(x - _expand(out, x, axis, keepdims)), axis, keepdims),
    float_result=True, helpers=(_logsumexp,),
    lower=lambda a, axis, keepdims: f"_logsumexp({a[0]}{reduce_args(axis, keepdims)})",
    doc="log(sum(exp(x))) over axis, computed stably.")


def sum_to(x: Node, shape: tuple) -> Node:
    """Sum x down to `shape`, the shape it was broadcast from (the adjoint of broadcasting)."""
    if x.shape == tuple(shape):
        return x
    lead = x.ndim - len(shape)
    if lead > 0:
        x = sum(x, tuple(range(lead)))
    axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, shape, strict=True))
                 if b == 1 and a != 1)
    return sum(x, axes, keepdims=True) if axes else x


# -- normalizers along an axis ------------------------------------------------------------

def _softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _shift(axis: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a + 1 for a in axis)


def _axis_arg(axis: tuple[int, ...]) -> str:
    return str(axis[0] if len(axis) == 1 else axis)


softmax_op = define(
    "softmax", shape_rule=same_type_rule("softmax"), impl=_softmax, helpers=(_softmax,),
    vjp=(lambda g, x, out, axis: out * (g - sum(g * out, axis, keepdims=True)),),
    jvp=(lambda t, x, out, axis: out * (t - sum(t * out, axis, keepdims=True)),),
    batch=lambda args, batched, out, axis: softmax_op(args[0], axis=_shift(axis)),
    lower=lambda a, axis: f"_softmax({a[0]}, axis={_axis_arg(axis)})",
    doc="exp(x) / sum(exp(x)) along axis, shifted by the max.")
log_softmax_op = define(
    "log_softmax", shape_rule=same_type_rule("log_softmax"), impl=_log_softmax,
    helpers=(_log_softmax,),
    vjp=(lambda g, x, out, axis: g - exp(out) * sum(g, axis, keepdims=True),),
    jvp=(lambda t, x, out, axis: t - sum(exp(out) * t, axis, keepdims=True),),
    batch=lambda args, batched, out, axis: log_softmax_op(args[0], axis=_shift(axis)),
    lower=lambda a, axis: f"_log_softmax({a[0]}, axis={_axis_arg(axis)})",
    doc="x - logsumexp(x) along axis.")


def softmax(x: object, axis: int | tuple[int, ...] = -1) -> Node:
    """Softmax along axis (default the last)."""
    x = lift(x)
    require_float("softmax", [x])
    return softmax_op(x, axis=normalize_axes(axis, x.ndim, "softmax"))


def log_softmax(x: object, axis: int | tuple[int, ...] = -1) -> Node:
    """Log of the softmax along axis, computed without forming the softmax."""
    x = lift(x)
    require_float("log_softmax", [x])
    return log_softmax_op(x, axis=normalize_axes(axis, x.ndim, "log_softmax"))
