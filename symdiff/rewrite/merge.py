"""Phases 5 and 6, merge and dead code.

Interning already makes structurally equal nodes one node, and every rewrite pass rebuilds
the graph through it, so common subexpressions merge as they appear. What interning
cannot see is merged here: `a + b` next to `b + a`, a softmax next to the log_softmax
of the same input (the softmax becomes exp of it, one pass over the data fewer), and a
scaled sum next to the scaled value it sums (simplify moves scalars out of sums so that
they can be factored; where the scaled value is computed anyway, summing it is cheaper),
and a large tensor scaled by several small factors in turn (the factors are multiplied
together first, and common large factors of a sum are factored out again). Last, a sum
of squares becomes a dot product (no temporary). These lowerings run here, once the
phases have settled, because simplify moves scalar factors the other way.

Dead code: a rewritten graph is rebuilt from the outputs down, so a node no output needs
is never rebuilt; `live_nodes` lists what is left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..graph import Node, apply, topo_order
from ..ops import dim_size, exp, matmul, reshape
from ..shapes import broadcast_shapes
from .engine import Phase, Rule, rewrite_pass
from .match import commutative, fit, is_op
from .simplify import factor_common_factor, scaled

# the merge pass's rules, in the order they are tried
RULES = ("commuted_duplicate", "softmax_from_log_softmax", "sum_of_shared_scaled",
         "small_factors_first", "sum_of_squares", "factor_common_factor")


def merge(roots: list[Node], fired: Counter[str]) -> list[Node]:
    """One node per value over the whole graph (a pass whose rules see every node)."""
    nodes = topo_order(roots)
    log_softmax_of = {(n.inputs[0], n.attrs["axis"]): n for n in nodes if is_op(n, "log_softmax")}
    seen: dict[tuple, Node] = {}
    scaled_of = {(sc.tensor, sc.scalar, sc.kind): n for n in nodes if (sc := scaled(n))}
    phase = Phase("merge", "one node per value")

    # a + b, b + a -> one node (the first met), and so for the other commutative ops
    @phase.rule(when=commutative)
    def commuted_duplicate(node: Node) -> Node | None:
        key = (node.op.name, tuple(sorted(i.id for i in node.inputs)))
        return seen.setdefault(key, node)

    # softmax(x) -> exp(log_softmax(x)) where the graph computes log_softmax(x) anyway
    @phase.rule("softmax")
    def softmax_from_log_softmax(node: Node) -> Node | None:
        ls = log_softmax_of.get((node.inputs[0], node.attrs["axis"]))
        return exp(ls) if ls is not None else None

    # sum(x) / s -> sum(x / s), s * sum(x) -> sum(s * x) where the graph computes x / s
    # (or s * x) anyway: one sum of a shared value instead of a sum and a second scaling
    @phase.rule("mul", "div")
    def sum_of_shared_scaled(node: Node) -> Node | None:
        outer = scaled(node)
        if outer is None or not is_op(outer.tensor, "sum"):
            return None
        total = outer.tensor
        shared = scaled_of.get((total.inputs[0], outer.scalar, outer.kind))
        if shared is None:
            return None
        return fit(apply(total.op, (shared,), **total.attrs), node)

    # (x * u) * v -> x * (u * v) where u and v are both smaller than x and broadcast
    # against it: the small factors multiply each other first and the large tensor is
    # scaled in one pass instead of one pass per factor. Run here, once the other phases
    # are settled, because simplify moves scalar factors the other way (outward).
    @phase.rule("mul")
    def small_factors_first(node: Node) -> Node | None:
        for i in (0, 1):
            outer, small = node.inputs[i], node.inputs[1 - i]
            if not is_op(outer, "mul") or small.shape == node.shape:
                continue
            for big, little in (outer.inputs, outer.inputs[::-1]):
                if big.shape != node.shape or little.shape == node.shape:
                    continue
                both = broadcast_shapes([little.shape, small.shape], ["u", "v"], "mul")
                if both != node.shape:
                    return fit(big * (little * small), node)
        return None

    # sum(x * x), sum(square(x)) -> ravel(x) @ ravel(x) (mean: divided by the size): one
    # read of x and no temporary, where the product and then the sum took three passes
    @phase.rule("sum", "mean")
    def sum_of_squares(node: Node) -> Node | None:
        (inner,) = node.inputs
        if node.attrs["axis"] is not None or node.attrs["keepdims"] or inner.ndim == 0:
            return None
        if is_op(inner, "square"):
            x = inner.inputs[0]
        elif is_op(inner, "mul") and inner.inputs[0] is inner.inputs[1]:
            x = inner.inputs[0]
        else:
            return None
        if x.ndim > 1:
            if not all(isinstance(d, int) for d in x.shape):
                return None
            x = reshape(x, (-1,))
        total = matmul(x, x)
        return fit(total / dim_size(x, (0,)) if is_op(node, "mean") else total, node)

    phase.add(Rule(factor_common_factor.__name__, "merge", ("add", "sub"), factor_common_factor))
    assert tuple(r.name for r in phase.rules) == RULES
    return rewrite_pass(roots, phase, fired)


def live_nodes(roots: Iterable[Node]) -> list[Node]:
    """The nodes the outputs depend on, inputs first: everything else is dead."""
    return topo_order(roots)
