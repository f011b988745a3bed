"""Phase 3, simplify: algebraic identities that remove work, most of it the needless graph
that derivative rules build (products with the all-ones seed, sums of broadcast ones,
scalar factors spread over every term).

Scalar (0-d) factors are gathered in front of products and moved out of sums, so that
`s * x - s * y` becomes `s * (x - y)` and a loss scaled by 1/n keeps one division.

On `x * 0`: it is NaN when x is inf or NaN, so it becomes 0 only where x is finite for
every input (a finite constant, zeros, a size, a comparison). A mask product
`g * where(c, 1, 0)` does become `where(c, g, 0)`, which is what the derivative rules
mean by it (relu's rule writes that form itself): 0 where the mask is off, whatever g is.
Likewise `(a - b) + b -> a` and `(x * c) / c -> x` are exact in real arithmetic and
differ only where an intermediate overflows (b inf, x * c inf), which they repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Node, apply, const
from ..ops import dim_size, div, neg, reshape, sqrt, square
from ..ops.elementwise import where_op
from ..shapes import float_of, promote
from .engine import Phase
from .match import align, fit, has_value, is_op, is_scalar, uniform_value
from .stabilize import cancels_in_sum

simplify = Phase("simplify", "algebraic identities")



def _axes(node: Node) -> tuple[int, ...]:
    """The reduced axes of a reduction node (its attribute None means all of them)."""
    axis = node.attrs["axis"]
    return tuple(range(node.inputs[0].ndim)) if axis is None else tuple(axis)


# -- identities of + - * / -----------------------------------------------------------------

# x * 1 -> x, 1 * x -> x
@simplify.rule("mul")
def multiply_by_one(node: Node) -> Node | None:
    a, b = node.inputs
    if has_value(b, 1):
        return fit(a, node)
    if has_value(a, 1):
        return fit(b, node)
    return None


# x * -1 -> -x, -1 * x -> -x
@simplify.rule("mul")
def multiply_by_minus_one(node: Node) -> Node | None:
    a, b = node.inputs
    for c, x in ((a, b), (b, a)):
        if has_value(c, -1) and x.dtype != "bool":
            return fit(neg(x), node)
    return None


def _always_finite(node: Node) -> bool:
    """Finite whatever the inputs are: finite constants, booleans, and what the op record
    says is finite when its operands are (zeros, sizes, movements of such values)."""
    if node.value is not None:
        return node.value.dtype.kind in "biu" or bool(np.all(np.isfinite(node.value)))
    if node.dtype == "bool":
        return True
    finite = node.op.finite if node.op is not None else None
    return finite is not None and finite(node, _always_finite)


# x * 0 -> 0, only for an x that is finite whatever the inputs (see the module docstring)
@simplify.rule("mul")
def multiply_by_zero(node: Node) -> Node | None:
    a, b = node.inputs
    for z, x in ((a, b), (b, a)):
        if has_value(z, 0) and _always_finite(x):
            return fit(const(0, node.dtype), node)
    return None


# x + 0 -> x, 0 + x -> x
@simplify.rule("add")
def add_zero(node: Node) -> Node | None:
    a, b = node.inputs
    if has_value(b, 0):
        return fit(a, node)
    if has_value(a, 0):
        return fit(b, node)
    return None


# x - 0 -> x, 0 - x -> -x
@simplify.rule("sub")
def subtract_zero(node: Node) -> Node | None:
    a, b = node.inputs
    if has_value(b, 0):
        return fit(a, node)
    if has_value(a, 0) and b.dtype != "bool":
        return fit(neg(b), node)
    return None


# x / 1 -> x
@simplify.rule("div")
def divide_by_one(node: Node) -> Node | None:
    a, b = node.inputs
    return fit(a, node) if has_value(b, 1) else None


# (1 / d) * x -> x / d, (-1 / d) * x -> -(x / d)
@simplify.rule("mul")
def reciprocal_factor(node: Node) -> Node | None:
    a, b = node.inputs
    for r, x in ((a, b), (b, a)):
        if is_op(r, "div") and r.inputs[0].value is not None:
            v = uniform_value(r.inputs[0])
            if v in (1, -1):
                q = div(x, r.inputs[1])
                return fit(q if v == 1 else neg(q), node)
    return None


def _nonzero_finite_const(node: Node) -> bool:
    v = uniform_value(node)
    return node.value is not None and v is not None and v != 0 and bool(np.isfinite(v))


# (x * a) / a -> x, (a * x) / a -> x, for a nonzero finite constant a
@simplify.rule("div")
def cancel_constant_factor(node: Node) -> Node | None:
    num, a = node.inputs
    if is_op(num, "mul") and _nonzero_finite_const(a):
        for i in (0, 1):
            if num.inputs[i] is a:
                return fit(num.inputs[1 - i], node)
    return None


# (x / a) * a -> x, a * (x / a) -> x, for a nonzero finite constant a
@simplify.rule("mul")
def cancel_constant_divisor(node: Node) -> Node | None:
    a, b = node.inputs
    for q, c in ((a, b), (b, a)):
        if is_op(q, "div") and q.inputs[1] is c and _nonzero_finite_const(c):
            return fit(q.inputs[0], node)
    return None


# (a - b) + b -> a, b + (a - b) -> a, (a + b) - b -> a, (b + a) - b -> a
@simplify.rule("add", "sub")
def cancel_added_term(node: Node) -> Node | None:
    x, y = node.inputs
    if is_op(node, "add"):
        for d, b in ((x, y), (y, x)):
            if is_op(d, "sub") and d.inputs[1] is b:
                return fit(d.inputs[0], node)
        return None
    if is_op(x, "add"):
        for i in (0, 1):
            if x.inputs[i] is y:
                return fit(x.inputs[1 - i], node)
    return None


# x + x -> 2 * x: one pass instead of two, and the 2 joins the other scalar factors
@simplify.rule("add")
def double(node: Node) -> Node | None:
    a, b = node.inputs
    return fit(const(2.0, a.dtype) * a, node) if a is b and a.dtype in ("float32", "float64") \
        else None


# a * x + a * y -> a * (x + y), a * x - y * a -> a * (x - y): one product instead of two
@simplify.rule("add", "sub")
def factor_common_factor(node: Node) -> Node | None:
    p, q = node.inputs
    if not (is_op(p, "mul") and is_op(q, "mul")):
        return None
    for i in (0, 1):
        for j in (0, 1):
            if p.inputs[i] is q.inputs[j]:
                terms = (p.inputs[1 - i], q.inputs[1 - j])
                if promote(*(t.dtype for t in terms)) != node.dtype:
                    continue  # bool masks m1 + m2 would be m1 | m2 (float32: rounding)
                rest = apply(node.op, terms)
                common = p.inputs[i]
                if cancels_in_sum(common, rest):
                    return None  # stabilize distributes this product so that a factor cancels
                return fit(common * rest if i == 0 else rest * common, node)
    return None


# eye @ a -> a, a @ eye -> a
@simplify.rule("matmul")
def matmul_by_identity(node: Node) -> Node | None:
    a, b = node.inputs
    if is_op(a, "eye") and b.ndim >= 1:
        return fit(b, node)
    if is_op(b, "eye") and a.ndim >= 1:
        return fit(a, node)
    return None


# -- scalar factors ------------------------------------------------------------------------

@dataclass(frozen=True)
class Scaled:
    """A node read as `scalar * tensor` (kind "mul") or `tensor / scalar` (kind "div")."""

    scalar: Node
    tensor: Node
    kind: str

    def rebuild(self, tensor: Node) -> Node:
        return self.scalar * tensor if self.kind == "mul" else tensor / self.scalar


def scaled(node: Node) -> Scaled | None:
    """`node` as a 0-d factor times (or a tensor over a 0-d divisor), else None."""
    if is_op(node, "mul"):
        a, b = node.inputs
        if is_scalar(a) and not is_scalar(b):
            return Scaled(a, b, "mul")
        if is_scalar(b) and not is_scalar(a):
            return Scaled(b, a, "mul")
    if is_op(node, "div"):
        t, s = node.inputs
        if is_scalar(s) and not is_scalar(t):
            return Scaled(s, t, "div")
    return None


# s1 * (s2 * x) -> (s1 * s2) * x: scalars multiply each other first, once
@simplify.rule("mul")
def gather_scalars(node: Node) -> Node | None:
    a, b = node.inputs
    for s, x in ((a, b), (b, a)):
        inner = scaled(x)
        if is_scalar(s) and inner is not None and inner.kind == "mul":
            return fit((s * inner.scalar) * inner.tensor, node)
    return None


# x * (s * y) -> s * (x * y), x * (y / s) -> (x * y) / s: scalar factors move outward
@simplify.rule("mul")
def scalar_out_of_product(node: Node) -> Node | None:
    a, b = node.inputs
    if is_scalar(a) or is_scalar(b):
        return None
    for i in (0, 1):
        inner = scaled(node.inputs[i])
        if inner is not None:
            other = node.inputs[1 - i]
            rest = inner.tensor * other if i == 0 else other * inner.tensor
            return fit(inner.rebuild(rest), node)
    return None


# (s * x) / y -> s * (x / y), (x / s) / y -> (x / y) / s
@simplify.rule("div")
def scalar_out_of_quotient(node: Node) -> Node | None:
    a, b = node.inputs
    inner = scaled(a)
    if inner is None or is_scalar(b):
        return None
    return fit(inner.rebuild(inner.tensor / b), node)


# s * x + s * y -> s * (x + y), x / s - y / s -> (x - y) / s
@simplify.rule("add", "sub")
def factor_common_scalar(node: Node) -> Node | None:
    a, b = node.inputs
    sa, sb = scaled(a), scaled(b)
    if sa is None or sb is None or sa.kind != sb.kind or sa.scalar is not sb.scalar:
        return None
    return fit(sa.rebuild(apply(node.op, (sa.tensor, sb.tensor))), node)


# sum(s * x) -> s * sum(x), sum(x / s) -> sum(x) / s
@simplify.rule("sum")
def scalar_out_of_sum(node: Node) -> Node | None:
    inner = scaled(node.inputs[0])
    if inner is None or inner.tensor.shape != node.inputs[0].shape:
        return None
    return fit(inner.rebuild(apply(node.op, (inner.tensor,), **node.attrs)), node)


# -- where ------------------------------------------------------------------------------------

# g * where(c, x, 0) -> where(c, g * x, 0), and the same with the zero first: the mask
# selects instead of multiplying (0 where c is off, whatever g is; see the docstring)
@simplify.rule("mul")
def multiply_by_mask(node: Node) -> Node | None:
    a, b = node.inputs
    for g, w in ((a, b), (b, a)):
        if is_op(w, "where"):
            c, x, y = w.inputs
            if has_value(y, 0):
                return fit(where_op(c, g * x, y), node)
            if has_value(x, 0):
                return fit(where_op(c, x, g * y), node)
    return None


# where(c, x, x) -> x
@simplify.rule("where")
def where_same_branches(node: Node) -> Node | None:
    c, x, y = node.inputs
    return fit(x, node) if x is y else None


# where(true, x, y) -> x, where(false, x, y) -> y
@simplify.rule("where")
def where_known_condition(node: Node) -> Node | None:
    c, x, y = node.inputs
    v = uniform_value(c)
    if v is None:
        return None
    return fit(x if v else y, node)


# where(c, where(c, x, y), z) -> where(c, x, z), where(c, x, where(c, y, z)) -> where(c, x, z)
@simplify.rule("where")
def where_same_condition(node: Node) -> Node | None:
    c, x, y = node.inputs
    if is_op(x, "where") and x.inputs[0] is c:
        return fit(where_op(c, x.inputs[1], y), node)
    if is_op(y, "where") and y.inputs[0] is c:
        return fit(where_op(c, x, y.inputs[2]), node)
    return None


# -- powers -------------------------------------------------------------------------------------

# x ** 1 -> x, x ** 2 -> square(x), x ** 0.5 -> sqrt(x), x ** -1 -> 1 / x,
# x ** -0.5 -> 1 / sqrt(x), x ** 0 -> 1
@simplify.rule("pow")
def power_by_constant(node: Node) -> Node | None:
    x, p = node.inputs
    e = uniform_value(p)
    if e is None:
        return None
    if e == 0:
        return fit(const(1, node.dtype), node)
    if x.dtype != node.dtype:
        return None
    if e == 1:
        return fit(x, node)
    if e == 2:
        return fit(square(x), node)
    if node.dtype not in ("float32", "float64"):
        return None
    one = const(1, node.dtype)
    table = {0.5: lambda: sqrt(x), -1: lambda: one / x, -0.5: lambda: one / sqrt(x)}
    return fit(table[e](), node) if e in table else None


# -- reductions ---------------------------------------------------------------------------------

def _unit_identity(op: Any) -> bool:
    return op.unit_identity


# sum(x) -> reshape(x) when every reduced axis has size 1 (likewise mean, max, min, prod,
# logsumexp, every reduction whose record says so): there is nothing to reduce
@simplify.rule(when=_unit_identity)
def reduce_over_unit_axes(node: Node) -> Node | None:
    x = node.inputs[0]
    if not all(x.shape[a] == 1 for a in _axes(node)):
        return None
    return fit(reshape(x, node.shape), node)


def _broadcast_axes(node: Node) -> tuple[Node, list[int]] | None:
    """For a reduction of broadcast_to(y, S): (y with S's rank, reduced axes y lacks)."""
    b = node.inputs[0]
    if not is_op(b, "broadcast_to"):
        return None
    y = align(b.inputs[0], b.ndim)
    spread = [a for a in _axes(node) if y.shape[a] == 1 and b.shape[a] != 1]
    return (y, spread) if spread else None


# sum(broadcast_to(y, S)) -> count * sum(y): summing copies is multiplying by their number
@simplify.rule("sum")
def sum_of_broadcast(node: Node) -> Node | None:
    found = _broadcast_axes(node)
    if found is None or node.dtype == "bool":
        return None
    y, spread = found
    b = node.inputs[0]
    dims = [b.shape[a] for a in spread]
    if all(isinstance(d, int) for d in dims):
        count = const(int(np.prod(dims)), node.dtype)
    elif node.dtype in ("float32", "float64"):
        count = dim_size(b, spread)
    else:
        return None
    total = apply(node.op, (y,), **node.attrs)
    return fit(count * total, node)


# mean(broadcast_to(y, S)) -> mean(y): the mean of copies is the value copied
@simplify.rule("mean")
def mean_of_broadcast(node: Node) -> Node | None:
    found = _broadcast_axes(node)
    if found is None:
        return None
    y, _ = found
    return fit(apply(node.op, (y,), **node.attrs), node)


# -- sizes --------------------------------------------------------------------------------------

# dim_size(f(x), axes) -> dim_size(x, axes'): reading a size needs only some node that has
# that axis, so derivative code need not wait for a forward value to read its shape (nor
# keep alive a matrix product computed only for its length). The op says where its axes
# come from; failing that, symbolic dims are found by name in an operand.
@simplify.rule("dim_size")
def dim_size_of_source(node: Node) -> Node | None:
    x = node.inputs[0]
    if x.op is None:
        return None
    axes = node.attrs["axis"]
    found = x.op.axes_from(x, axes) if x.op.axes_from is not None else None
    if found is None:
        found = _named_axes(x, axes)
    if found is None or float_of(found[0].dtype) != node.dtype:
        return None
    return dim_size(*found)


def _named_axes(x: Node, axes: tuple[int, ...]) -> tuple[Node, tuple[int, ...]] | None:
    """An operand of x (arguments first) holding the symbolic dims of x at `axes`, and
    where they are in it; None when some dim is a number, repeats, or is in no operand."""
    names = [x.shape[a] for a in axes]
    if not all(isinstance(d, str) for d in names) or len(set(names)) != len(names):
        return None
    for y in sorted(x.inputs, key=lambda i: i.op is not None):
        if all(d in y.shape for d in names):
            return y, tuple(y.shape.index(d) for d in names)
    return None
