"""Constant subgraphs: op nodes that read no argument (`np.eye(100) * 0.01`, a broadcast of a
constant) are computed once, when the generated module is imported, instead of at every
call. Constant folding leaves them in the graph when folding would write a large array into
the source; here they become module-level arrays, read-only, which a function reads like a
constant and copies before returning one (callers never get the module's own array)."""

from __future__ import annotations

from symdiff.graph import Node


def hoistable(order: list[Node]) -> list[Node]:
    """The nodes of `order` (inputs before users) that depend on constants alone, have
    static shapes, and whose op may be evaluated ahead of time (`foldable`, one output)."""
    found: set[Node] = set()
    result = []
    for n in order:
        if n.op.foldable and n.op.outputs == 1 \
                and all(isinstance(d, int) for d in n.shape) \
                and all(i.kind == "const" or i in found for i in n.inputs):
            found.add(n)
            result.append(n)
    return result
