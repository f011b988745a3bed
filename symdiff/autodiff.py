"""Symbol-to-symbol derivatives: reverse mode (grad, vjp) and forward mode (jvp).

Both walks add nodes to the same graph, built by the ops' own rules with the public op
constructors, so every derivative can be differentiated again. Reverse mode follows the
general back-propagation algorithm (Goodfellow et al., algorithms 6.5 and 6.6): keep the
nodes on a path from `wrt` to the output, visit them in reverse topological order, and
sum the contributions that reach a node along several paths. Broadcasting, dtypes and
missing (zero) contributions are handled here, once, and not in the op rules. Both walks
differentiate the stabilized form of the graph (rewrite/stabilize.py), so a derivative is
as stable as the library's ops wherever a fragile pattern such as log(sigmoid(x)) sits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from .errors import GradError
from .gcpause import gc_paused
from .graph import Node, Provenance, derivative_context, nodes_between, topo_order
from .ops import astype, broadcast_to, lift, sum_to, zeros
from .ops.base import group_key, group_member, shared_attrs
from .rewrite.stabilize import stabilized
from .shapes import fmt_shape, is_float

Disconnected = Literal["zeros", "raise"]


def _as_list(nodes: Node | Sequence[Node], what: str) -> tuple[list[Node], bool]:
    """(list of nodes, whether a single node was given), with a clear error for non-nodes."""
    single = isinstance(nodes, Node)
    # An array or a string is one wrong item, not a sequence of items to check.
    one = single or isinstance(nodes, (str, bytes, np.ndarray)) or not isinstance(nodes, Iterable)
    items = [nodes] if one else list(nodes)
    for item in items:
        if not isinstance(item, Node):
            raise GradError(f"{what} must be a symdiff node (a variable or an expression "
                            f"built from one), got {type(item).__name__}: {item!r}"[:300])
    return items, single


def single_node(value: object, what: str) -> Node:
    """The one node `value` must be, with a clear error for a list or a non-node."""
    items, single = _as_list(value, what)
    if not single:
        raise GradError(f"{what} must be a single node, got a list of {len(items)}; "
                        "differentiate each one, or sum them first")
    return items[0]


def _check_wrt(wrt: list[Node]) -> None:
    for w in wrt:
        if not is_float(w.dtype):
            raise GradError(f"cannot differentiate with respect to {w.display_name}: its dtype "
                            f"is {w.dtype}; derivatives need float16, float32 or float64")


def _fit(contribution: Node, target: Node) -> Node:
    """A contribution summed back over broadcast axes and cast to the target's dtype."""
    contribution = sum_to(contribution, target.shape)
    if contribution.dtype != target.dtype:
        contribution = astype(contribution, target.dtype)
    return contribution


def _total(parts: list[Node]) -> Node:
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


@gc_paused
def backprop(outputs: Sequence[Node], cotangents: Sequence[Node], wrt: Sequence[Node]) \
        -> dict[Node, Node]:
    """Cotangents of every node between `wrt` and `outputs` (algorithms 6.5 and 6.6)."""
    of = outputs[0]
    relevant = nodes_between(wrt, outputs)
    incoming: dict[Node, list[Node]] = {}
    for out, ct in zip(outputs, cotangents, strict=True):
        if out in relevant:
            incoming.setdefault(out, []).append(ct)
    adjoint: dict[Node, Node] = {}
    order = [n for n in topo_order(outputs) if n in relevant]
    # An op with a joint rule (scan) pulls back all its outputs' cotangents at once, at the
    # member met last in reverse order: every member's users come before it.
    joint_at = {}
    for n in order:
        if n.op is not None and n.op.joint_vjp is not None:
            joint_at.setdefault(group_key(n), n)
    for node in reversed(order):
        parts = incoming.pop(node, None)
        if parts:
            if len(parts) > 1:
                with derivative_context(Provenance("vjp", "accumulate", node, of, node)):
                    adjoint[node] = _total(parts)
            else:
                adjoint[node] = parts[0]
        if node.op is not None and node.op.joint_vjp is not None:
            if joint_at[group_key(node)] is node:
                _joint_pullback(node, adjoint, relevant, incoming, of)
            continue
        if not parts or node.op is None:
            continue
        g = adjoint[node]
        for i, inp in enumerate(node.inputs):
            rule = node.op.vjp_rule(i) if inp in relevant else None
            if rule is None:
                continue
            prov = Provenance("vjp", f"{node.op.name}.vjp[arg {i}]", node, of, inp)
            with derivative_context(prov):
                c = rule(g, *node.inputs, out=node, **node.attrs)
                if c is not None:
                    incoming.setdefault(inp, []).append(_fit(lift(c, g), inp))
    return adjoint


def _joint_pullback(node: Node, adjoint: dict[Node, Node], relevant: set[Node],
                    incoming: dict[Node, list[Node]], of: Node) -> None:
    """Pull back the cotangents of every output of `node`'s group through its joint rule."""
    members = [group_member(node, k) for k in range(node.op.output_count(node.attrs))]
    cts = [adjoint.get(m) for m in members]
    if all(c is None for c in cts):
        return
    prov = Provenance("vjp", f"{node.op.name}.vjp", node, of, node)
    with derivative_context(prov):
        pulled = node.op.joint_vjp(cts, *node.inputs, out=node, **shared_attrs(node.attrs))
        for inp, c in zip(node.inputs, pulled, strict=True):
            if c is not None and inp in relevant:
                incoming.setdefault(inp, []).append(_fit(c, inp))


def _results(adjoint: dict[Node, Node], wrt: list[Node], single: bool,
             disconnected: Disconnected, of: Node) -> Node | list[Node]:
    results = []
    for w in wrt:
        if w in adjoint:
            results.append(adjoint[w])
        elif disconnected == "raise":
            raise GradError(f"{of.display_name} does not depend on {w.display_name} "
                            "(disconnected='raise')")
        else:
            results.append(zeros(w.shape, w.dtype))
    return results[0] if single else results


def vjp(y: Node, wrt: Node | Sequence[Node], cotangent: object, *,
        disconnected: Disconnected = "zeros") -> Node | list[Node]:
    """Vector-Jacobian product: the cotangent pulled back from y to each of `wrt`."""
    y = single_node(y, "the differentiated expression")
    wrt_list, single = _as_list(wrt, "wrt")
    _check_wrt(wrt_list)
    ct = lift(cotangent, y)
    if ct.shape != y.shape:
        raise GradError(f"the cotangent has shape {fmt_shape(ct.shape)} but "
                        f"{y.display_name} has shape {fmt_shape(y.shape)}")
    (stable,) = stabilized([y])
    adjoint = backprop([stable], [_fit(ct, y)], wrt_list)
    return _results(adjoint, wrt_list, single, disconnected, y)


def grad(cost: Node, wrt: Node | Sequence[Node], *,
         disconnected: Disconnected = "zeros") -> Node | list[Node]:
    """Gradient of a scalar cost, as nodes of the same graph (one per `wrt` node)."""
    cost = single_node(cost, "the cost")
    if cost.shape != ():
        raise GradError(f"grad needs a scalar cost, but {cost.display_name} has shape "
                        f"{fmt_shape(cost.shape)}; use vjp or jacobian for non-scalar outputs")
    if not is_float(cost.dtype):
        raise GradError(f"grad needs a float cost, but {cost.display_name} has dtype "
                        f"{cost.dtype}")
    return vjp(cost, wrt, lift(1.0, cost), disconnected=disconnected)


@gc_paused
def jvp(y: Node | Sequence[Node], wrt: Node | Sequence[Node],
        tangent: object | Sequence[object]) -> Node | list[Node]:
    """Jacobian-vector product (forward mode, the R-operator): the tangent pushed from
    `wrt` to y. With a list of wrt, give a list of tangents."""
    ys, single_y = _as_list(y, "the differentiated expression")
    wrt_list, single = _as_list(wrt, "wrt")
    _check_wrt(wrt_list)
    tangents = [tangent] if single else list(tangent)  # type: ignore[arg-type]
    if len(tangents) != len(wrt_list):
        raise GradError(f"jvp got {len(tangents)} tangents for {len(wrt_list)} wrt nodes")
    tangent_of: dict[Node, Node] = {}
    for w, t in zip(wrt_list, tangents, strict=True):
        t = lift(t, w)
        if t.shape != w.shape:
            raise GradError(f"the tangent for {w.display_name} has shape {fmt_shape(t.shape)}; "
                            f"expected {fmt_shape(w.shape)}")
        tangent_of[w] = astype(t, w.dtype)  # astype of the same dtype is t itself
    of = wrt_list[0]
    ys = stabilized(ys)
    relevant = nodes_between(wrt_list, ys)
    for node in topo_order(ys):
        if node not in relevant or node in tangent_of or node.op is None:
            continue
        ins = [tangent_of.get(i) for i in node.inputs]
        if all(t is None for t in ins):
            continue
        if node.op.joint_jvp is not None:  # one rule for all the tangents (scan)
            prov = Provenance("jvp", f"{node.op.name}.jvp", node, of, node)
            with derivative_context(prov):
                t = node.op.joint_jvp(ins, *node.inputs, out=node, **node.attrs)
            if t is not None:
                tangent_of[node] = t
            continue
        parts: list[Node] = []
        for i, t in enumerate(ins):
            rule = node.op.jvp_rule(i) if t is not None else None
            if rule is None:
                continue
            prov = Provenance("jvp", f"{node.op.name}.jvp[arg {i}]", node, of, node)
            with derivative_context(prov):
                c = rule(t, *node.inputs, out=node, **node.attrs)
                if c is not None:
                    parts.append(c)
        if not parts:
            continue
        with derivative_context(Provenance("jvp", "accumulate", node, of, node)):
            total = _total([broadcast_to(p, node.shape) for p in parts])
            tangent_of[node] = astype(total, node.dtype)
    results = [tangent_of.get(n, None) for n in ys]
    results = [r if r is not None else zeros(n.shape, n.dtype if is_float(n.dtype) else "float64")
               for r, n in zip(results, ys, strict=True)]
    return results[0] if single_y else results
