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

import functools
import heapq
import math

import numpy as np

from symdiff.graph import Node, topo_order
from symdiff.shapes import TensorType

SYMBOLIC_SIZE = 256


def is_view(node: Node) -> bool:
    """True when the value of `node` may share memory with its inputs (its op's memory
    class: a view, a read-only view, or an alias of any operand)."""
    return node.op.memory_of(node) != "fresh"


def nbytes(node: Node) -> int:
    """Estimated size of the node's value in bytes (0 for a scalar)."""
    return _type_bytes(node.type)


@functools.lru_cache(maxsize=4096)
def _type_bytes(ttype: TensorType) -> int:
    if not ttype.shape:
        return 0
    elems = math.prod(d if isinstance(d, int) else SYMBOLIC_SIZE for d in ttype.shape)
    return elems * np.dtype(ttype.dtype).itemsize


def schedule(outputs: list[Node]) -> list[Node]:
    """The op nodes needed for `outputs`, inputs before users, in a memory-aware order."""
    order = [n for n in topo_order(outputs) if n.op is not None]
    rank = {n: i for i, n in enumerate(order)}
    users: dict[Node, list[Node]] = {}
    # A storage group is an allocated array together with every view of it; it is freed
    # when no member has an unscheduled user left.
    base: dict[Node, Node] = {}
    waiting: dict[Node, int] = {}  # node -> operands not yet computed
    readers: dict[Node, list[Node]] = {}  # storage group -> the nodes that read it
    most: dict[Node, int] = {}  # storage group -> the most uses one reader takes from it
    reads: dict[Node, dict[Node, int]] = {}  # node -> pending uses it takes from each group
    size: dict[Node, int] = {}  # node -> nbytes, computed once
    alloc: dict[Node, int] = {}  # node -> bytes its result allocates
    for n in order:  # operands come first, so their base is known
        inputs = n.inputs
        distinct = dict.fromkeys(inputs) if len(inputs) > 1 else inputs
        pending = 0
        uses: dict[Node, int] = {}
        for i in distinct:
            if i in users:
                users[i].append(n)
            else:
                users[i] = [n]
            if i.op is not None:
                pending += 1
            g = base.get(i, i)
            uses[g] = uses.get(g, 0) + 1
        waiting[n] = pending
        reads[n] = uses
        view = is_view(n)
        base[n] = base.get(inputs[0], inputs[0]) if view and inputs else n
        size[n] = nbytes(n)
        alloc[n] = 0 if view else size[n]
        for g, k in uses.items():
            if g in readers:
                readers[g].append(n)
                if k > most[g]:
                    most[g] = k
            else:
                readers[g] = [n]
                most[g] = k
    pinned = set(outputs)
    remaining: dict[Node, int] = {}
    for n in order:
        g = base[n]
        remaining[g] = remaining.get(g, 0) + len(users.get(n, ())) + (n in pinned)
    result: list[Node] = []

    def gain(n: Node) -> int:
        freed = 0
        own = base[n]
        for g, uses in reads[n].items():
            if remaining.get(g) == uses and own is not g and g.op is not None:
                freed += size[g]
        return freed - alloc[n]

    # A heap of ready nodes by (gain, then depth-first rank), each entry one integer,
    # -gain * span + rank (ints compare faster than tuples). A node's gain changes only
    # when a group it reads comes down to as many pending uses as the node itself takes
    # (it would then free the group), so only then are that group's readers pushed again
    # (an entry that is no longer the node's current key is skipped). A group read by k
    # nodes thus re-pushes its readers at most `most[g] + 1` times, not at each of its k
    # uses: near-linear.
    span = len(order)
    heap: list[int] = []
    key: dict[Node, int] = {}  # ready node -> its current entry
    push_heap, pop_heap = heapq.heappush, heapq.heappop

    def push(n: Node) -> None:
        k = key[n] = -gain(n) * span + rank[n]
        push_heap(heap, k)

    for n in order:
        if waiting[n] == 0:
            push(n)
    while heap:
        k = pop_heap(heap)
        best = order[k % span]
        if key.get(best) != k:
            continue
        del key[best]
        result.append(best)
        touched = reads[best]
        for g, uses in touched.items():
            if g in remaining:
                remaining[g] -= uses
        for u in users.get(best, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                push(u)
        for g in touched:
            if g not in remaining or remaining[g] > most[g]:
                continue  # no reader frees g (yet): every ready reader's gain is unchanged
            for reader in readers[g]:
                if reader in key:
                    push(reader)
    return result
