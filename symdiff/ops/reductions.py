"""Reductions (sum mean max min prod logsumexp), their adjoint broadcast_to, sizes
(dim_size), and the normalizers softmax and log_softmax.

Each reduction takes `axis` (int, tuple or None for all) and `keepdims`. A rule first puts
the reduced axes back (`_expand`) so the cotangent broadcasts against the input.
broadcast_to and sum are each other's VJP, which is why they live together.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..graph import Node
from ..shapes import (
    Shape,
    TensorType,
    broadcast_shapes,
    canonical_dtype,
    canonical_shape,
    float_of,
    fmt_shape,
    normalize_axes,
    promote,
)
from .base import (
    Flops,
    always_finite,
    define,
    export,
    lift,
    no_flops,
    pass_through_sympy,
    reduction_rule,
    require_float,
    same_type_rule,
    shape_mismatch,
)
from .elementwise import equal, exp, where
from .lowering import (
    A0,
    A1,
    NP,
    XP,
    Arg,
    Attribute,
    Call,
    Infix,
    Method,
    Reduce,
    Subscript,
    kwargs,
)
from .structure import batch_align, expand_dims
from .texforms import ATOM, PROD, Tex, axes_text, function, grouped, number, reduction, symbol

# -- broadcast_to and sum_to, its adjoint ---------------------------------------------------


def _broadcast_rule(types: list[TensorType], inputs: list[Node], *, shape: Shape) -> TensorType:
    (t,) = types
    result = broadcast_shapes([t.shape, shape], [inputs[0].display_name, "target"],
                              "broadcast_to")
    if result != shape:
        raise shape_mismatch("broadcast_to", inputs, f"cannot broadcast to {fmt_shape(shape)}")
    return TensorType(shape, t.dtype)


def _broadcast_impl(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(x, shape)


def _broadcast_vjp(g: Node, x: Node, out: Node, shape: Shape) -> Node:
    return sum_to(g, x.shape)


def _broadcast_jvp(t: Node, x: Node, out: Node, shape: Shape) -> Node:
    return broadcast_to(t, shape)


def _broadcast_batch(args: list[Node], batched: list[bool], out: Node, shape: Shape) -> Node:
    return broadcast_to(batch_align(args[0], len(shape)), args[0].shape[:1] + shape)


def _broadcast_lower(x: Node, out: Node, shape: Shape) -> Any:
    return Call("np.broadcast_to", (A0, shape))


broadcast_to_op = define(
    "broadcast_to", family="movement", memory="readonly", shape_rule=_broadcast_rule,
    impl=_broadcast_impl, vjp=(_broadcast_vjp,), jvp=(_broadcast_jvp,),
    batch=_broadcast_batch, lower=_broadcast_lower, to_sympy=pass_through_sympy,
    doc="Broadcast to a shape, as np.broadcast_to; its VJP sums over the broadcast axes.")


@export(op=broadcast_to_op, statics=("shape",))
def broadcast_to(x: object, shape: Sequence[int | str]) -> Node:
    """Broadcast x to `shape` with NumPy's rules."""
    x = lift(x)
    shape = canonical_shape(shape)
    if x.shape == shape:
        return x
    return broadcast_to_op(x, shape=shape)


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


def add_batch(x: Node, size: Any) -> Node:
    """An unbatched node repeated along a new leading axis (a broadcast, not a copy)."""
    return broadcast_to(expand_dims(x, 0), (size,) + x.shape)


def all_batched(args: Sequence[Node], batched: Sequence[bool]) -> list[Node]:
    """Operands with the batch axis given to the unbatched ones too (joins, prod_others)."""
    size = next(a.shape[0] for a, b in zip(args, batched, strict=True) if b)
    return [a if b else add_batch(a, size) for a, b in zip(args, batched, strict=True)]


# -- dim_size ---------------------------------------------------------------------------------

def _dim_size_rule(types: list[TensorType], inputs: list[Node], *, axis: tuple[int, ...]) \
        -> TensorType:
    return TensorType((), float_of(types[0].dtype))


def _dim_size_impl(x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    return np.asarray(math.prod(x.shape[a] for a in axis),
                      dtype=float_of(canonical_dtype(x.dtype)))


def _dim_size_batch(args: list[Node], batched: list[bool], out: Node,
                    axis: tuple[int, ...]) -> Node:
    return broadcast_to(dim_size(args[0], [a + 1 for a in axis]), args[0].shape[:1])


def size_of(x: Any, axes: Sequence[int]) -> Any:
    """`x.shape[a] * x.shape[b] ...` as an expression (a product of sizes)."""
    terms = [Subscript(Attribute(x, "shape"), a) for a in axes]
    total = terms[0] if terms else 1
    for term in terms[1:]:
        total = Infix("*", total, term)
    return total


def _dim_size_lower(x: Node, out: Node, axis: tuple[int, ...]) -> Any:
    return Call(f"np.{out.dtype}", (size_of(A0, axis),))


def _dim_size_latex(node: Node, x: Tex) -> Tex:
    """The sizes themselves: `n`, `2 n`, `4`."""
    dims = [node.inputs[0].shape[a] for a in node.attrs["axis"]]
    if all(isinstance(d, int) for d in dims):
        return number(math.prod(dims))
    known = math.prod(d for d in dims if isinstance(d, int))
    words = ([str(known)] if known != 1 else []) + [symbol(d) for d in dims if isinstance(d, str)]
    return Tex(" ".join(words), PROD if len(words) > 1 else ATOM)


dim_size_op = define(
    "dim_size", shape_rule=_dim_size_rule, impl=_dim_size_impl, vjp=(None,), jvp=(None,),
    batch=_dim_size_batch, lower=_dim_size_lower, flops=no_flops, finite=always_finite,
    latex=_dim_size_latex,
    doc="Number of elements along the given axes, as a float scalar (for means over "
        "symbolic dims).")


def dim_size(x: Node, axis: Sequence[int]) -> Node:
    """The product of x's sizes along `axis`, known only at run time for symbolic dims."""
    return dim_size_op(x, axis=tuple(axis))


# -- the reduction family ---------------------------------------------------------------------

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


def _axis_value(axis: tuple[int, ...] | None) -> Any:
    """How an axis attribute is printed: 1 rather than (1,)."""
    return axis[0] if axis is not None and len(axis) == 1 else axis


def reduce_kwargs(axis: tuple[int, ...] | None, keepdims: bool) -> tuple:
    return kwargs(axis=_axis_value(axis), keepdims=True if keepdims else None)


def method_lowering(x: Node, out: Node, axis: Any, keepdims: bool) -> Any:
    """x.sum(...), x.max(...): the method saves a dispatch over np.sum."""
    return Method(A0, out.op.name, (), reduce_kwargs(axis, keepdims))


def reduction_batch(args: list[Node], batched: list[bool], out: Node, *, axis: Any,
                    keepdims: bool) -> Node:
    """Reductions: the same reduction over the shifted axes."""
    axes = range(out.inputs[0].ndim) if axis is None else axis
    return out.op(*args, axis=tuple(a + 1 for a in axes), keepdims=keepdims)


def _sympy_if_nothing_reduced(sp: Any, node: Node, x: Any) -> Any:
    """A reduction over unit axes only keeps each element's formula; others mix elements."""
    shape = node.inputs[0].shape
    axes = range(len(shape)) if node.attrs["axis"] is None else node.attrs["axis"]
    return x if all(shape[a] == 1 for a in axes) else None


def _reducer(name: str, impl: Any, vjp: Any, jvp: Any, *, float_result: bool = False,
             lower: Any = method_lowering, bool_counts: bool = False, latex: Any = None,
             kernel: Any = None, doc: str = "", array_api: Any = None) -> Any:
    op = define(name, family="reduction", kernel=kernel,
                shape_rule=reduction_rule(name, float_result, bool_counts), impl=impl,
                vjp=(vjp,), jvp=(jvp,), lower=lower, array_api=array_api,
                batch=reduction_batch,
                unit_identity=True, to_sympy=_sympy_if_nothing_reduced, latex=latex, doc=doc)

    def fn(x: object, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Node:
        x = lift(x)
        if float_result:
            require_float(name, [x])
        return op(x, axis=_axes(x, axis, name), keepdims=bool(keepdims))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return export(fn, op=op, statics=("axis", "keepdims"))


def _np_reduce(x: np.ndarray, axis: Any, keepdims: bool, *, fn: Any) -> np.ndarray:
    return np.asarray(fn(x, axis=axis, keepdims=keepdims))


def _tie_mask(x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    """1/k on each of the k elements that attain the max (or min), 0 elsewhere."""
    hit = equal(x, _expand(out, x, axis, keepdims))
    ones = where(hit, lift(1, x), lift(0, x))
    return ones / sum(ones, axis, keepdims=True)


def _sum_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return broadcast_to(_expand(g, x, axis, keepdims), x.shape)


def _sum_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return sum(t, axis, keepdims)


def _adding_kernel(x: Node, out: Node, axis: Any, keepdims: bool, mean: bool = False) \
        -> Reduce | None:
    """Sum and mean in a fused kernel: float accumulation in the result's dtype, element by
    element in C order (NumPy's order along any but the last axis; along the last it sums
    pairwise, so a kernel's sum may differ from it in the last few bits)."""
    if out.dtype not in ("float64", "float32"):
        return None
    return Reduce(0.0, Infix("+", A0, A1), mean)


def _sum_latex(node: Node, x: Tex) -> Tex:
    """Sums as products with the ones vector: `\\mathbf{1}^\\top v`, `\\mathbf{1}^\\top X`
    (over the rows), `X \\mathbf{1}` (over the columns); other sums `\\sum_{axes}`."""
    ndim = node.inputs[0].ndim
    axes = axes_text(node)
    ones = r"\mathbf{1}"
    if ndim == 1 or (ndim == 2 and axes == "0"):
        return Tex(rf"{ones}^\top {grouped(x, PROD)}", PROD)
    if ndim == 2 and axes == "1":
        return Tex(rf"{grouped(x, PROD)} {ones}", PROD)
    if ndim == 2 and axes is None:
        return Tex(rf"{ones}^\top {grouped(x, PROD)} {ones}", PROD)
    sub = "" if axes is None else f"_{{{axes}}}"
    return Tex(rf"\sum{sub} {grouped(x, PROD)}", PROD)


sum = _reducer(  # noqa: A001
    "sum", functools.partial(_np_reduce, fn=np.sum), _sum_vjp, _sum_jvp, bool_counts=True,
    latex=_sum_latex, kernel=_adding_kernel, doc="Sum over axis (None: all).")


def _mean_lower(x: Node, out: Node, axis: Any, keepdims: bool) -> Any:
    """x.sum(...) / count: np.mean's own arithmetic (a sum, then one true division) at a
    third of its call overhead."""
    count = Attribute(A0, "size") if axis is None else size_of(A0, axis)
    return Infix("/", Method(A0, "sum", (), reduce_kwargs(axis, keepdims)), count)


def _mean_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    """Divide the small cotangent, then broadcast."""
    return broadcast_to(_expand(g / _count(x, axis), x, axis, keepdims), x.shape)


def _mean_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return mean(t, axis, keepdims)


mean = _reducer(
    "mean", functools.partial(_np_reduce, fn=np.mean), _mean_vjp, _mean_jvp,
    float_result=True, lower=_mean_lower, kernel=functools.partial(_adding_kernel, mean=True),
    doc="Mean over axis (None: all).")


def _chooser_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    """max/min: the cotangent goes to the elements that attain the extreme, split evenly."""
    return _expand(g, x, axis, keepdims) * _tie_mask(x, out, axis, keepdims)


def _chooser_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return sum(t * _tie_mask(x, out, axis, keepdims), axis, keepdims)


max = _reducer("max", functools.partial(_np_reduce, fn=np.max),  # noqa: A001
               _chooser_vjp, _chooser_jvp, latex=reduction(r"\max"),
               doc="Maximum over axis; ties share the derivative evenly.")
min = _reducer("min", functools.partial(_np_reduce, fn=np.min),  # noqa: A001
               _chooser_vjp, _chooser_jvp, latex=reduction(r"\min"),
               doc="Minimum over axis; ties share the derivative evenly.")


def _prod_others(xp: Any, x: Any, *directions: Any, axis: tuple[int, ...]) -> Any:
    """For each element of x, the product of the other elements of its group (the axes
    `axis`) and, given directions t_1..t_m, its mixed derivative d^m/de_1..de_m at
    x + e_1 t_1 + ... + e_m t_m. Computed without division, so exact at zeros: prefix and
    suffix products (by doubling) of polynomials in e_1..e_m with each e_r^2 = 0, held as
    one coefficient array per subset of the directions. Standard array-API calls only
    (`xp` is NumPy's namespace or another library's), and no writes into arrays."""
    full = (1 << len(directions)) - 1
    if x.size == 0:
        empty = x * 0
        for t in directions:  # (sum is the op here) the promoted dtype, as below
            empty = empty + t * 0
        return empty
    rest = [a for a in range(x.ndim) if a not in axis]
    order = rest + list(axis)
    n = 1
    for a in axis:
        n *= x.shape[a]
    flat_shape = tuple(x.shape[a] for a in rest) + (n,)

    def flat(a: Any) -> Any:
        return xp.reshape(xp.permute_dims(xp.broadcast_to(a, x.shape), order), flat_shape)

    def times(a: list, b: list) -> list:
        result = []
        for s in range(full + 1):
            part, total = s, None
            while True:
                term = a[part] * b[s ^ part]
                total = term if total is None else total + term
                if part == 0:
                    break
                part = (part - 1) & s
            result.append(total)
        return result

    def exclusive_scan(a: list) -> list:
        start = [xp.ones_like(a[0][..., :1])] + [xp.zeros_like(c[..., :1]) for c in a[1:]]
        if full == 0 and hasattr(xp, "cumulative_prod"):  # plain products: one pass
            return [xp.concat([start[0], xp.cumulative_prod(a[0][..., :-1], axis=-1)],
                              axis=-1)]
        shift = 1
        while shift < n:
            a = [xp.concat([c[..., :shift], p], axis=-1) for c, p in
                 zip(a, times([c[..., :-shift] for c in a], [c[..., shift:] for c in a]),
                     strict=True)]
            shift *= 2
        return [xp.concat([o, c[..., :-1]], axis=-1) for o, c in zip(start, a, strict=True)]

    terms = [flat(x)] + [xp.zeros_like(flat(x))] * full
    for r, t in enumerate(directions):
        terms[1 << r] = flat(t)
    before = exclusive_scan(terms)
    after = [xp.flip(c, axis=-1) for c in exclusive_scan([xp.flip(c, axis=-1) for c in terms])]
    result = xp.reshape(times(before, after)[full],
                        tuple(x.shape[a] for a in rest) + tuple(x.shape[a] for a in axis))
    return xp.permute_dims(result, tuple(order.index(a) for a in range(x.ndim)))


def _prod_others_rule(v: Node, x: Node, *directions: Node, out: Node, axis: tuple[int, ...],
                      index: int) -> Node:
    """VJP and JVP alike: the op is the gradient of prod (or one of its directional
    derivatives), so its Jacobian is a symmetric derivative tensor of prod. Differentiating
    in x adds `v` as a direction; in direction t_r (linear in it), `v` takes t_r's place."""
    kept = [t for r, t in enumerate(directions) if r != index - 1]
    return prod_others_op(x, *kept, v, axis=axis)


def _prod_others_shape(types: list[TensorType], inputs: list[Node], *,
                       axis: tuple[int, ...]) -> TensorType:
    return TensorType(types[0].shape, promote(*[t.dtype for t in types]))


def _prod_others_batch(args: list[Node], batched: list[bool], out: Node, *,
                       axis: tuple[int, ...]) -> Node:
    return prod_others_op(*all_batched(args, batched), axis=tuple(a + 1 for a in axis))


def _prod_others_lower(*args: Node, out: Node, axis: tuple[int, ...]) -> Any:
    return Call(_prod_others, (NP,) + tuple(Arg(i) for i in range(len(args))),
                kwargs(axis=axis))


def _prod_others_flops(node: Node) -> Flops:
    """3^m products per element and doubling step, for m directions."""
    group = [node.shape[a] for a in node.attrs["axis"]]
    size = math.prod(d if isinstance(d, int) else 1024 for d in group)
    steps = math.ceil(math.log2(size)) if size > 2 else 1  # (max is the op here)
    return 2 * 3 ** (len(node.inputs) - 1) * steps, node.shape


prod_others_op = define(
    "prod_others", shape_rule=_prod_others_shape, impl=functools.partial(_prod_others, np),
    vjp=(_prod_others_rule,), jvp=(_prod_others_rule,), batch=_prod_others_batch,
    lower=_prod_others_lower, flops=_prod_others_flops,
    variadic=True,
    doc="d prod / d x_i (the product of the other elements of x_i's group) and its "
        "directional derivatives, exact at zeros.")


def prod_others(x: Node, axis: tuple[int, ...] | None) -> Node:
    """The gradient of prod(x, axis), one element per element of x."""
    return prod_others_op(x, axis=_all(x, axis))


def _prod_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return _expand(g, x, axis, keepdims) * prod_others(x, axis)


def _prod_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return sum(t * prod_others(x, axis), axis, keepdims)


prod = _reducer("prod", functools.partial(_np_reduce, fn=np.prod), _prod_vjp, _prod_jvp,
                bool_counts=True, doc="Product over axis; its derivative is exact at zeros too.")


def _logsumexp(x: np.ndarray, axis: int | tuple[int, ...] | None = None,
               keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) shifted by the max so that nothing overflows."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


def _logsumexp_xp(xp, x, axis=None, keepdims=False):
    """_logsumexp with the standard's calls; summing the kept size-1 axes drops them."""
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    s = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else xp.sum(s, axis=axis)


def _logsumexp_vjp(g: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return _expand(g, x, axis, keepdims) * exp(x - _expand(out, x, axis, keepdims))


def _logsumexp_jvp(t: Node, x: Node, out: Node, axis: Any, keepdims: bool) -> Node:
    return sum(t * exp(x - _expand(out, x, axis, keepdims)), axis, keepdims)


def _logsumexp_lower(x: Node, out: Node, axis: Any, keepdims: bool) -> Any:
    return Call(_logsumexp, (A0,), reduce_kwargs(axis, keepdims))


def _logsumexp_xp_lower(x: Node, out: Node, axis: Any, keepdims: bool) -> Any:
    return Call(_logsumexp_xp, (XP, A0), reduce_kwargs(axis, keepdims))


logsumexp = _reducer("logsumexp", _logsumexp, _logsumexp_vjp, _logsumexp_jvp,
                     float_result=True, lower=_logsumexp_lower, array_api=_logsumexp_xp_lower,
                     doc="log(sum(exp(x))) over axis, computed stably.")


# -- normalizers along an axis ------------------------------------------------------------

def _softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x: np.ndarray, axis: int | tuple[int, ...] = -1) -> np.ndarray:
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _softmax_xp(xp, x, axis=-1):
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _log_softmax_xp(xp, x, axis=-1):
    z = x - xp.max(x, axis=axis, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))


def _normalizer_batch(args: list[Node], batched: list[bool], out: Node,
                      axis: tuple[int, ...]) -> Node:
    return out.op(args[0], axis=tuple(a + 1 for a in axis))


def _normalizer_lower(x: Node, out: Node, axis: tuple[int, ...]) -> Any:
    helper = _softmax if out.op.name == "softmax" else _log_softmax
    return Call(helper, (A0,), kwargs(axis=_axis_value(axis)))


def _normalizer_xp_lower(x: Node, out: Node, axis: tuple[int, ...]) -> Any:
    helper = _softmax_xp if out.op.name == "softmax" else _log_softmax_xp
    return Call(helper, (XP, A0), kwargs(axis=_axis_value(axis)))


def _softmax_vjp(g: Node, x: Node, out: Node, axis: tuple[int, ...]) -> Node:
    return out * (g - sum(g * out, axis, keepdims=True))


def _log_softmax_vjp(g: Node, x: Node, out: Node, axis: tuple[int, ...]) -> Node:
    return g - exp(out) * sum(g, axis, keepdims=True)


def _log_softmax_jvp(t: Node, x: Node, out: Node, axis: tuple[int, ...]) -> Node:
    return t - sum(exp(out) * t, axis, keepdims=True)


softmax_op = define(
    "softmax", family="normalizer", shape_rule=same_type_rule("softmax"), impl=_softmax,
    vjp=(_softmax_vjp,), jvp=(_softmax_vjp,), batch=_normalizer_batch,
    lower=_normalizer_lower, array_api=_normalizer_xp_lower, positive=True,
    latex=function(r"\operatorname{softmax}"),
    doc="exp(x) / sum(exp(x)) along axis, shifted by the max.")
log_softmax_op = define(
    "log_softmax", family="normalizer", shape_rule=same_type_rule("log_softmax"),
    impl=_log_softmax, vjp=(_log_softmax_vjp,), jvp=(_log_softmax_jvp,),
    batch=_normalizer_batch, lower=_normalizer_lower, array_api=_normalizer_xp_lower,
    latex=function(r"\log\operatorname{softmax}"), doc="x - logsumexp(x) along axis.")


@export(op=softmax_op, statics=("axis",))
def softmax(x: object, axis: int | tuple[int, ...] = -1) -> Node:
    """Softmax along axis (default the last)."""
    x = lift(x)
    require_float("softmax", [x])
    return softmax_op(x, axis=normalize_axes(axis, x.ndim, "softmax"))


@export(op=log_softmax_op, statics=("axis",))
def log_softmax(x: object, axis: int | tuple[int, ...] = -1) -> Node:
    """Log of the softmax along axis, computed without forming the softmax."""
    x = lift(x)
    require_float("log_softmax", [x])
    return log_softmax_op(x, axis=normalize_axes(axis, x.ndim, "log_softmax"))
