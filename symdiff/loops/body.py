"""The body of a loop: a sub-graph held by a scan node as a static attribute.

A body has placeholder variables for the carry, the slices of the scanned sequences and
the closed-over values, the nodes computing the next carry and the step's ys, and the
values its reverse pass reads (found once, from the body's own VJP). `LoopCall` is the
callee of a scan's lowering: a target generates the loop function from the body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..autodiff import backprop
from ..graph import Node, apply, derivative_context, nodes_between, topo_order, var
from ..shapes import is_float


class Body:
    """The body of a loop: placeholder variables for the carry, the slices of the scanned
    sequences and the closed-over values, the nodes computing the next carry and the
    step's ys, and the residuals its reverse pass reads (plus caches of derived bodies).
    Hashed by identity: each scan builds its own body."""

    def __init__(self, name: str, carry: Sequence[Node], xs: Sequence[Node],
                 closed: Sequence[Node], carry_out: Sequence[Node], ys: Sequence[Node]) -> None:
        self.name = name
        self.carry = tuple(carry)
        self.xs = tuple(xs)
        self.closed = tuple(closed)
        self.carry_out = tuple(carry_out)
        self.ys = tuple(ys)
        # what the reverse pass reads, and what of it the loop must store besides its ys
        self.needed = _needed(self)
        ys = set(self.ys)
        self.residuals = tuple(n for n in self.needed if n not in ys)
        self._derived: dict[tuple, Any] = {}

    @property
    def placeholders(self) -> tuple[Node, ...]:
        return self.carry + self.xs + self.closed

    @property
    def outputs(self) -> tuple[Node, ...]:
        """Every node the loop stacks or carries: next carries, ys, residuals."""
        return self.carry_out + self.ys + self.residuals

    def derived(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A body derived from this one (reverse, tangent, batched), built once per key so
        that the scan nodes using it are interned once too."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def __repr__(self) -> str:
        return f"<body {self.name}>"

    def __reduce__(self) -> tuple:
        return Body, (self.name, self.carry, self.xs, self.closed, self.carry_out, self.ys)


def _needed(body: Body) -> tuple[Node, ...]:
    """The body values the reverse pass reads: every carry (so a segment or a higher
    derivative can recompute anything) and the values the body's VJP reads that depend on
    the step (a tanh's output, say), not the x slices (the sequences are operands already)
    nor what depends only on closed-over values (recomputed). Those that are not ys are the
    residuals the forward loop stacks."""
    outs = [o for o in body.carry_out + body.ys if is_float(o.dtype)]
    wrt = [p for p in body.placeholders if is_float(p.dtype)]
    carries = [c for c in body.carry if is_float(c.dtype)]
    if not outs or not wrt:
        return tuple(carries)
    cts = [var(f"ct_{i}", o.shape, o.dtype) for i, o in enumerate(outs)]
    adjoint = backprop(outs, cts, wrt)
    grads = [adjoint[w] for w in wrt if w in adjoint]
    varying = nodes_between(body.carry + body.xs, body.carry_out + body.ys)
    varying.update(body.carry + body.xs)
    forward = set(topo_order(body.carry_out + body.ys))
    stepwise = varying & forward
    found: dict[Node, None] = dict.fromkeys(carries)
    for n in topo_order(grads):
        if n in stepwise:
            continue
        for i in n.inputs:
            if i in stepwise:
                found[i] = None
    for g in grads:
        if g in stepwise:
            found[g] = None
    xs = set(body.xs)
    return tuple(n for n in found if n not in xs)


# -- building a scan -------------------------------------------------------------------------


def substitute(roots: Sequence[Node], mapping: dict[Node, Node]) -> list[Node]:
    """`roots` rebuilt with each key of `mapping` replaced by its value (labels and
    provenance kept); nodes below a key are not visited."""
    new: dict[Node, Node] = dict(mapping)
    order: list[Node] = []
    seen: set[Node] = set(mapping)
    stack = [(r, False) for r in reversed(list(roots))]
    while stack:  # iterative post-order that stops at mapped nodes
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((i, False) for i in reversed(node.inputs) if i not in seen)
    for n in order:
        if n.op is None or not any(new.get(i, i) is not i for i in n.inputs):
            new.setdefault(n, n)
            continue
        with derivative_context(n.provenance):
            built = apply(n.op, [new.get(i, i) for i in n.inputs], **n.attrs)
        if built.label is None and n.label is not None:
            built.label = n.label
        new[n] = built
    return [new.get(r, r) for r in roots]


def name_of(node: Node) -> str:
    """A readable name for a placeholder standing for `node`."""
    return node.name or node.label or (node.op.name if node.op is not None else "const")


def segments(length: int, checkpoint: int) -> int:
    """How many carries a checkpointed loop stores: one per started segment."""
    return -(-length // checkpoint)


class LoopCall:
    """The callee of a scan's lowering: a loop function that each target generates from
    the body (codegen/loops.py), not a helper copied from source."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def __repr__(self) -> str:
        return f"<loop of {self.body.name}>"
