"""Phase 1, canonicalize: one form for things that can be written several ways, so later
rules match a single pattern.

The normal forms: constants and scalars first in commutative ops; negation moved outward
(through products, sums and movement ops) until an add, sub or constant absorbs it;
broadcast_to moved outward, past the elementwise ops that would broadcast anyway, so work
happens on the small operand; size-1 operands as 0-d scalars; chains of movement ops
(transpose, reshape, expand_dims) collapsed into one.
"""

from __future__ import annotations

from ..graph import Node, apply, const
from ..ops import add, broadcast_to, expand_dims, neg, reshape, sub, transpose
from .engine import Phase
from .match import align, broadcasts, commutative, elementwise, is_op, is_scalar

canonicalize = Phase("canonicalize", "one normal form per expression")


def _rank(node: Node) -> int:
    """Operand order of commutative ops: scalar constants, scalars, constants, the rest."""
    if node.value is not None:
        return 0 if is_scalar(node) else 2
    return 1 if is_scalar(node) else 3


# -- operand order ---------------------------------------------------------------------------

# a + c -> c + a, x * s -> s * x (constants, then scalars, go first in commutative ops)
@canonicalize.rule(when=commutative)
def operand_order(node: Node) -> Node | None:
    a, b = node.inputs
    if _rank(b) < _rank(a):
        return apply(node.op, (b, a), **node.attrs)
    return None


# -- negation --------------------------------------------------------------------------------

def _negated_const(c: Node) -> Node | None:
    if c.value is None or c.dtype == "bool":
        return None
    return const(-c.value, c.dtype)


# --x -> x
@canonicalize.rule("neg")
def double_negation(node: Node) -> Node | None:
    x = node.inputs[0]
    return x.inputs[0] if is_op(x, "neg") else None


# -(a - b) -> b - a
@canonicalize.rule("neg")
def negated_difference(node: Node) -> Node | None:
    x = node.inputs[0]
    return sub(x.inputs[1], x.inputs[0]) if is_op(x, "sub") else None


# -(c * x) -> (-c) * x, -(x / c) -> x / (-c), -(c / x) -> (-c) / x, for a constant c
@canonicalize.rule("neg")
def negation_into_constant(node: Node) -> Node | None:
    x = node.inputs[0]
    if not is_op(x, "mul", "div"):
        return None
    for i in (0, 1):
        negated = _negated_const(x.inputs[i])
        if negated is not None:
            inputs = list(x.inputs)
            inputs[i] = negated
            return apply(x.op, inputs)
    return None


# -(a * (x - y)) -> a * (y - x), -((x - y) / a) -> (y - x) / a
@canonicalize.rule("neg")
def negation_into_difference_factor(node: Node) -> Node | None:
    x = node.inputs[0]
    if not is_op(x, "mul", "div"):
        return None
    for i in (0, 1):
        d = x.inputs[i]
        if is_op(d, "sub"):
            inputs = list(x.inputs)
            inputs[i] = sub(d.inputs[1], d.inputs[0])
            return apply(x.op, inputs)
    return None


# a + -b -> a - b, -a + b -> b - a
@canonicalize.rule("add")
def add_negation(node: Node) -> Node | None:
    a, b = node.inputs
    if is_op(b, "neg"):
        return sub(a, b.inputs[0])
    if is_op(a, "neg"):
        return sub(b, a.inputs[0])
    return None


# a - -b -> a + b
@canonicalize.rule("sub")
def subtract_negation(node: Node) -> Node | None:
    a, b = node.inputs
    return add(a, b.inputs[0]) if is_op(b, "neg") else None


# -a - b -> -(a + b)
@canonicalize.rule("sub")
def negation_minus(node: Node) -> Node | None:
    a, b = node.inputs
    return neg(add(a.inputs[0], b)) if is_op(a, "neg") else None


# -a * b -> -(a * b), a * -b -> -(a * b), -a / b -> -(a / b), a / -b -> -(a / b)
@canonicalize.rule("mul", "div")
def negation_out_of_product(node: Node) -> Node | None:
    a, b = node.inputs
    if is_op(a, "neg"):
        return neg(apply(node.op, (a.inputs[0], b)))
    if is_op(b, "neg"):
        return neg(apply(node.op, (a, b.inputs[0])))
    return None


# sum(-x) -> -sum(x), and the same for mean and the movement ops (not broadcast_to, which
# moves outward itself)
@canonicalize.rule("sum", "mean", "reshape", "transpose", "expand_dims", "getitem")
def negation_out_of_linear(node: Node) -> Node | None:
    x = node.inputs[0]
    if is_op(x, "neg") and x.dtype == node.dtype:
        return neg(apply(node.op, (x.inputs[0],), **node.attrs))
    return None


# -- broadcasts ------------------------------------------------------------------------------

# f(broadcast_to(a, S), b) -> broadcast_to(f(a, b), shape): an elementwise f broadcasts
# anyway, so it can work on the small operand (and the broadcast disappears when b is full)
@canonicalize.rule(when=elementwise)
def broadcast_out_of_elementwise(node: Node) -> Node | None:
    if not any(is_op(i, "broadcast_to") for i in node.inputs):
        return None
    inner = [i.inputs[0] if is_op(i, "broadcast_to") else i for i in node.inputs]
    if broadcasts(*inner) is None:
        return None
    return broadcast_to(apply(node.op, inner, **node.attrs), node.shape)


# broadcast_to(broadcast_to(a, S), T) -> broadcast_to(a, T)
@canonicalize.rule("broadcast_to")
def broadcast_of_broadcast(node: Node) -> Node | None:
    x = node.inputs[0]
    return broadcast_to(x.inputs[0], node.shape) if is_op(x, "broadcast_to") else None


def _unit_shaped(node: Node) -> bool:
    return node.ndim > 0 and all(d == 1 for d in node.shape)


# broadcast_to(a, S) -> broadcast_to(reshape(a, ()), S) for a of size 1
@canonicalize.rule("broadcast_to")
def scalar_broadcast_source(node: Node) -> Node | None:
    a = node.inputs[0]
    return broadcast_to(reshape(a, ()), node.shape) if _unit_shaped(a) else None


# f(a, b) -> f(reshape(a, ()), b) for a of size 1 with no more axes than b: b sets the shape
@canonicalize.rule(when=elementwise)
def scalar_operand(node: Node) -> Node | None:
    if len(node.inputs) < 2:
        return None
    for i, a in enumerate(node.inputs):
        if not _unit_shaped(a):
            continue
        others = node.inputs[:i] + node.inputs[i + 1:]
        shape = broadcasts(*others)
        if shape is not None and len(shape) >= a.ndim:
            inputs = list(node.inputs)
            inputs[i] = reshape(a, ())
            return apply(node.op, inputs, **node.attrs)
    return None


# reshape(f(a, b), ()) -> f(reshape(a, ()), reshape(b, ())) for an elementwise f of size 1
@canonicalize.rule("reshape")
def scalar_through_elementwise(node: Node) -> Node | None:
    x = node.inputs[0]
    if node.shape != () or x.op is None or not x.op.elementwise:
        return None
    return apply(x.op, [reshape(i, ()) for i in x.inputs], **x.attrs)


# -- movement chains -------------------------------------------------------------------------

# transpose(transpose(x, p), q) -> transpose(x, p[q])
@canonicalize.rule("transpose")
def transpose_of_transpose(node: Node) -> Node | None:
    x = node.inputs[0]
    if not is_op(x, "transpose"):
        return None
    inner, outer = x.attrs["axes"], node.attrs["axes"]
    return transpose(x.inputs[0], [inner[i] for i in outer])


# flip(flip(x, a), b) -> flip(x, a ^ b): an axis flipped twice is back in order
@canonicalize.rule("flip")
def flip_of_flip(node: Node) -> Node | None:
    x = node.inputs[0]
    if not is_op(x, "flip"):
        return None
    axes = tuple(sorted(set(x.attrs["axis"]) ^ set(node.attrs["axis"])))
    return apply(node.op, (x.inputs[0],), axis=axes) if axes else x.inputs[0]


def _merged_expand_axes(inner: tuple[int, ...], outer: tuple[int, ...], ndim: int) \
        -> tuple[int, ...]:
    """Axes of expand_dims(expand_dims(x, inner), outer) as one expand_dims (ndim: result)."""
    kept = [i for i in range(ndim) if i not in outer]
    return tuple(sorted(set(outer) | {kept[p] for p in inner}))


# reshape(reshape(x)) -> reshape(x), the same through expand_dims (one reshape says it all)
@canonicalize.rule("reshape", "expand_dims")
def reshape_of_reshape(node: Node) -> Node | None:
    x = node.inputs[0]
    if not is_op(x, "reshape", "expand_dims"):
        return None
    if is_op(node, "expand_dims") and is_op(x, "expand_dims"):
        axes = _merged_expand_axes(x.attrs["axis"], node.attrs["axis"], node.ndim)
        return expand_dims(x.inputs[0], axes)
    return reshape(x.inputs[0], node.shape)


# reshape / transpose / expand_dims / getitem of broadcast_to(s, S), s 0-d -> broadcast_to(s, T)
@canonicalize.rule("reshape", "transpose", "expand_dims", "getitem")
def movement_of_scalar_broadcast(node: Node) -> Node | None:
    x = node.inputs[0]
    if is_op(x, "broadcast_to") and is_scalar(x.inputs[0]):
        return broadcast_to(x.inputs[0], node.shape)
    return None


# expand_dims(broadcast_to(a, S)) -> broadcast_to(expand_dims(a), T), and so for transpose
# (a first given S's rank): the small operand moves, the broadcast moves outward
@canonicalize.rule("expand_dims", "transpose")
def broadcast_out_of_movement(node: Node) -> Node | None:
    x = node.inputs[0]
    if not is_op(x, "broadcast_to"):
        return None
    a = align(x.inputs[0], x.ndim)
    return broadcast_to(apply(node.op, (a,), **node.attrs), node.shape)
