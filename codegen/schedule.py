"""A deterministic, memory-aware topological order of the op nodes of one function.

List scheduling: among the nodes whose inputs are all computed, run the one that frees the
most memory net of what it allocates (estimated in bytes, symbolic dims taken as
`SYMBOLIC_SIZE`), ties broken by the depth-first order of `topo_order`. So a mask `x > 0`
is computed before `relu(x)` (letting relu overwrite x in place), and large temporaries
such as a weight-decay term wait until they are needed.

It also classifies how each op's result relates to memory, which the buffer planner uses:
a *view* may share memory with its inputs; a *fresh* result is a new array.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from symdiff.graph import Node, topo_order

SYMBOLIC_SIZE = 256


def is_view(node: Node) -> bool:
    """True when the value of `node` may share memory with its inputs (its op's memory
    class: a view, a read-only view, or an alias of any operand)."""
    return node.op.memory_of(node) != "fresh"


def nbytes(node: Node) -> int:
    """Estimated size of the node's value in bytes (0 for a scalar)."""
    if not node.shape:
        return 0
    elems = math.prod(d if isinstance(d, int) else SYMBOLIC_SIZE for d in node.shape)
    return elems * np.dtype(node.dtype).itemsize


def schedule(outputs: list[Node]) -> list[Node]:
    """The op nodes needed for `outputs`, inputs before users, in a memory-aware order."""
    order = [n for n in topo_order(outputs) if n.kind == "op"]
    rank = {n: i for i, n in enumerate(order)}
    users: dict[Node, list[Node]] = {}
    for n in order:
        for i in dict.fromkeys(n.inputs):
            users.setdefault(i, []).append(n)
    # A storage group is an allocated array together with every view of it; it is freed
    # when no member has an unscheduled user left.
    base: dict[Node, Node] = {}
    for n in order:
        base[n] = base.get(n.inputs[0], n.inputs[0]) if is_view(n) and n.inputs else n
    pinned = set(outputs)
    remaining: dict[Node, int] = {}
    for n in order:
        if n.kind == "op" and n in base:
            g = base[n]
            remaining[g] = remaining.get(g, 0) + len(users.get(n, [])) + (n in pinned)
    waiting = {n: sum(1 for i in dict.fromkeys(n.inputs) if i.kind == "op") for n in order}
    readers: dict[Node, list[Node]] = {}  # storage group -> the nodes that read it
    most: dict[Node, int] = {}  # storage group -> the most uses one reader takes from it
    reads: dict[Node, dict[Node, int]] = {}  # node -> its _group_uses, computed once
    size: dict[Node, int] = {}  # node -> nbytes, computed once
    alloc: dict[Node, int] = {}  # node -> bytes its result allocates
    for n in order:
        reads[n] = _group_uses(n, base)
        size[n] = nbytes(n)
        alloc[n] = 0 if is_view(n) else size[n]
        for g, uses in reads[n].items():
            readers.setdefault(g, []).append(n)
            most[g] = max(most.get(g, 0), uses)
    result: list[Node] = []

    def gain(n: Node) -> int:
        freed = 0
        for g, uses in reads[n].items():
            if remaining.get(g) == uses and base.get(n) is not g and g.kind == "op":
                freed += size[g]
        return freed - alloc[n]

    # A heap of ready nodes by (gain, then depth-first rank). A node's gain changes only
    # when a group it reads comes down to as many pending uses as the node itself takes
    # (it would then free the group), so only then are that group's readers pushed again
    # (older entries are skipped by version). A group read by k nodes thus re-pushes its
    # readers at most `most[g] + 1` times, not at each of its k uses: near-linear.
    heap: list[tuple[int, int, int, Node]] = []
    version: dict[Node, int] = {}
    ready: set[Node] = set()

    def push(n: Node) -> None:
        version[n] = version.get(n, 0) + 1
        heapq.heappush(heap, (-gain(n), rank[n], version[n], n))

    for n in order:
        if waiting[n] == 0:
            ready.add(n)
            push(n)
    while heap:
        _, _, ver, best = heapq.heappop(heap)
        if best not in ready or version[best] != ver:
            continue
        ready.remove(best)
        result.append(best)
        touched = reads[best]
        for g, uses in touched.items():
            if g in remaining:
                remaining[g] -= uses
        for u in users.get(best, []):
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.add(u)
                push(u)
        for g in touched:
            if g not in remaining or remaining[g] > most[g]:
                continue  # no reader frees g (yet): every ready reader's gain is unchanged
            for reader in readers.get(g, ()):
                if reader in ready:
                    push(reader)
    return result


def _group_uses(n: Node, base: dict[Node, Node]) -> dict[Node, int]:
    """How many pending uses `n` takes from each storage group it reads."""
    uses: dict[Node, int] = {}
    for i in dict.fromkeys(n.inputs):
        g = base.get(i, i)
        uses[g] = uses.get(g, 0) + 1
    return uses
