"""Buffer planning for one scheduled function: where each result is stored and when each
name is deleted.

Each non-scalar result lives in a *buffer* (an array allocated during the call). A view
(transpose, reshape, broadcast_to, indexing ...) shares its input's buffers. A buffer is
*dead* after the last use of every node that holds it, unless one of them is an output.
Reuse, in order of preference, for ops whose lowering can write into an array:

1. in place: an elementwise op overwrites an operand whose buffer dies at this very step,
   has the result's shape and dtype, and is not also read through a view by the same op
   (printed `a += b`, or `np.exp(a, out=a)`);
2. recycled: the op writes into a dead buffer of the same shape and dtype whose name was
   kept for the purpose (`out=`), the most recently freed first.

Arguments, module constants, outputs and anything an output views are never written.
Every other dead name is deleted (`del`) right after its last use, or after its buffer is
recycled, so memory returns to the allocator as early as possible.

Large temporaries (buffers no output ever holds or views) allocated by such ops become
*scratch* arrays: created once per thread and reused by every call, since on machines
where page faults are dear, a fresh large array costs more than the arithmetic on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from symdiff.graph import Node

from .printer import out_capable
from .schedule import is_view, nbytes


@dataclass(eq=False)
class Buffer:
    """An array allocated during the call; `owner` is the node whose name holds it now,
    `creator` the node that allocated it."""

    shape: tuple
    dtype: str
    owner: Node
    creator: Node | None = None
    writable_into: bool = False   # the creator can write into a given array (out=)
    fortran: bool = False         # laid out column-major (see `fortran_layout`)
    last: int = -1                # the latest last use of any holder (kept by `plan`)


@dataclass
class Step:
    """How one scheduled node is computed."""

    node: Node
    inplace: int | None = None      # index of the operand overwritten in place
    recycle: Node | None = None     # node whose name holds the dead buffer written into
    takeover: Node | None = None    # the node whose variable this node continues (in place)
    scratch: int | None = None      # index of the scratch array the result is written into
    dels: list[Node] = field(default_factory=list)  # variables deleted after this step


@dataclass
class Plan:
    steps: list[Step]
    variable: dict[Node, Node]      # op node -> node whose name it is printed under
    scratch: list[Buffer] = field(default_factory=list)  # arrays kept from call to call


def plan(schedule: list[Node], outputs: list[Node], generic: set[Node],
         scratch_bytes: int | None = None, inlined: dict[Node, Node] | None = None,
         writes: Callable[[Node], bool] = out_capable,
         given: Callable[[Node], bool] | None = None) -> Plan:
    """Decide storage and deletions. A `generic` node (no meaningful name of its own)
    computed in place continues its operand's variable when that one is generic too.
    Temporaries of at least `scratch_bytes` (estimated) go to scratch arrays kept across
    calls; None disables that. An `inlined` view is printed inside the statement of its
    one user (the mapping's value), so its operands are read at that user's step.
    `writes(node)`: whether the node's lowering can write into a given array; `given(node)`:
    whether a node of a multi-output computation is computed into an array the call passes
    (a kernel's outputs), which may then be a scratch array."""
    if scratch_bytes is None:
        scratch_bytes = 1 << 62
    inlined = inlined or {}
    end = len(schedule)
    pos = {n: i for i, n in enumerate(schedule)}
    last_use: dict[Node, int] = {}
    for n in schedule:
        at = pos[_host(n, inlined)]
        for inp in n.inputs:
            last_use[inp] = max(last_use.get(inp, -1), at)
    for out in outputs:
        last_use[out] = end
    storage: dict[Node, list[Buffer]] = {}
    variable: dict[Node, Node] = {}
    steps: list[Step] = []
    pool: list[Buffer] = []
    recycled_at: dict[Node, int] = {}  # variable node -> step at which its buffer is reused

    def dead_after(b: Buffer, i: int) -> bool:
        return b.last <= i  # every holder's last use is behind: O(1), not a holder walk

    def hold(b: Buffer, n: Node) -> None:
        b.last = max(b.last, last_use.get(n, -1))

    for i, n in enumerate(schedule):
        step = Step(n)
        steps.append(step)
        variable[n] = n
        if is_view(n):
            # a view aliases its first operand; an op of memory class "alias" any of them
            sources = n.inputs if n.op.memory_of(n) == "alias" else n.inputs[:1]
            bufs = _unique(b for s in sources for b in storage.get(s, []))
            storage[n] = bufs
            for b in bufs:
                hold(b, n)
        elif n.shape and writes(n):
            target = _inplace_target(n, storage, dead_after, i) if n.op.elementwise else None
            if target is not None:
                k, b = target
                step.inplace = k
                if n in generic and variable[n.inputs[k]] in generic:
                    step.takeover = variable[n.inputs[k]]
                    variable[n] = step.takeover
                hold(b, n)
                b.owner = n
                storage[n] = [b]
            else:
                b = _take(pool, n)
                if b is not None:
                    step.recycle = b.owner
                    recycled_at[variable[b.owner]] = i
                    b.owner = n
                    hold(b, n)
                    storage[n] = [b]
                else:
                    storage[n] = [_new(n, writable_into=True)]
                    storage[n][0].last = last_use.get(n, -1)
        elif n.shape:
            storage[n] = [_new(n, writable_into=given is not None and given(n))]
            storage[n][0].last = last_use.get(n, -1)
        else:
            storage[n] = []
        # buffers read here for the last time become free for recycling
        own = storage[n]
        for b in _unique(b for inp in n.inputs for b in storage.get(inp, ())):
            if b.last <= i and b not in own:
                pool.append(b)

    _schedule_dels(steps, [n for n in schedule if n not in inlined], variable, last_use,
                   recycled_at, pos, end)
    scratch = _scratch(steps, storage, last_use, end, scratch_bytes)
    return Plan(steps, variable, scratch)


def _host(n: Node, inlined: dict[Node, Node]) -> Node:
    """The node whose statement computes `n` (itself unless it is printed inline)."""
    while n in inlined:
        n = inlined[n]
    return n


def _unique(bufs: Iterable[Buffer]) -> list[Buffer]:
    seen: list[Buffer] = []
    for b in bufs:
        if not any(b is s for s in seen):
            seen.append(b)
    return seen


def _new(n: Node, writable_into: bool = False) -> Buffer:
    return Buffer(n.shape, n.dtype, n, n, writable_into, fortran=fortran_layout(n))


def fortran_layout(n: Node) -> bool:
    """Whether n's array is column-major: an elementwise matrix whose full-size operands are
    all transposed matrices (`X.T * v`). NumPy lays a fresh result out as its operands are,
    so a buffer it is written into should be too: a row-major one would turn the pass into a
    strided transpose (twice as slow for a 100 x 1000 matrix)."""
    if not (n.kind == "op" and n.op.elementwise and len(n.shape) == 2):
        return False
    full = [i for i in n.inputs if i.shape == n.shape]
    return bool(full) and all(i.kind == "op" and i.op.movement
                              and i.attrs.get("axes") == (1, 0) for i in full)


def _scratch(steps: list[Step], storage: dict[Node, list[Buffer]], last_use: dict[Node, int],
             end: int, min_bytes: int) -> list[Buffer]:
    """Buffers that never hold (or are viewed by) an output, allocated by an op that can
    write into a given array and large enough that a fresh allocation costs page faults:
    these become scratch arrays created once per thread (and per dims) and reused by every
    later call."""
    chosen: list[Buffer] = []
    seen: set[int] = set()
    for step in steps:
        for b in storage.get(step.node, []):
            if id(b) in seen or b.creator is not step.node:
                continue
            seen.add(id(b))
            if b.writable_into and nbytes(step.node) >= min_bytes and b.last < end:
                step.scratch = len(chosen)
                chosen.append(b)
    return chosen


def _inplace_target(n: Node, storage, dead_after, i: int) -> tuple[int, Buffer] | None:
    """An operand whose whole buffer dies here and fits the result, if any."""
    for k, m in enumerate(n.inputs):
        bufs = storage.get(m, [])
        if m.kind != "op" or is_view(m) or len(bufs) != 1:
            continue
        b = bufs[0]
        if b.owner is not m or m.shape != n.shape or m.dtype != n.dtype \
                or not dead_after(b, i):
            continue
        if any(other is not m and any(ob is b for ob in storage.get(other, []))
               for other in n.inputs):
            continue  # read through a view as well: partial overlap
        return k, b
    return None


def _take(pool: list[Buffer], n: Node) -> Buffer | None:
    for j in range(len(pool) - 1, -1, -1):
        b = pool[j]
        if b.shape == n.shape and b.dtype == n.dtype and b.fortran == fortran_layout(n):
            return pool.pop(j)
    return None


def _schedule_dels(steps: list[Step], schedule: list[Node], variable: dict[Node, Node],
                   last_use: dict[Node, int], recycled_at: dict[Node, int],
                   pos: dict[Node, int], end: int) -> None:
    """Delete each variable after its last use (or after its buffer is recycled). Scalars,
    outputs and names that die at the final step are left alone."""
    var_last: dict[Node, int] = {}
    for n in schedule:
        v = variable[n]
        var_last[v] = max(var_last.get(v, -1), last_use.get(n, -1))
    for v, last in var_last.items():
        if not v.shape and not _holds_array(v):
            continue
        if last >= end:
            continue
        at = max(last, recycled_at.get(v, -1))
        if at >= end - 1:
            continue
        steps[at].dels.append(v)
    for step in steps:
        step.dels.sort(key=lambda v: pos[v])


def _holds_array(n: Node) -> bool:
    """A shape-() view may be a 0-d array that references a larger buffer."""
    return n.kind == "op" and is_view(n)
