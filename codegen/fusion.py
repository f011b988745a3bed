"""The fusion pass of the numba target: which scheduled nodes share one loop nest.

A *cluster* is a set of nodes computed by one fused kernel: elementwise ops over one
iteration shape (the cluster's *space*), and the reductions (sum, mean) that consume them.
Each node's per-element form comes from its op record (`Op.kernel`, or an elementwise op's
NumPy lowering when it is made of ufunc calls and operators, which read the same on
numbers); a node without one stays a NumPy statement (matrix products stay BLAS calls).

Clusters grow backwards over the schedule: a reduction or elementwise node starts a
cluster, and an elementwise producer joins the cluster of one of its users when it has the
same shape and the join leaves the graph of clusters acyclic (no path leaves the cluster
and comes back). A producer with users outside its cluster becomes one of the kernel's
outputs. Each acyclicity check is a bounded search, so the pass stays near-linear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from symdiff.graph import Node
from symdiff.ops.lowering import Arg, Call, Choose, Infix, Prefix, Reduce, Value

# A join is refused when proving it safe would visit more nodes than this.
SEARCH_BUDGET = 256
# Ops per kernel at most: a bigger cluster is still correct, but numba's compile time grows
# faster than linearly with the size of one function. At 64, the 6th derivative of
# tanh(tanh(tanh x)) split into 9 kernels passing up to 21 arrays between them (too many
# for LLVM to vectorize: 45 ms on 1e5 points, 7.9 s to compile); at 512 it is one kernel
# (3.5 ms, 3.3 s).
MAX_MEMBERS = 512


@dataclass(eq=False)
class Cluster:
    """Nodes computed in one loop nest over `space`, in schedule order once `finish`ed."""

    space: tuple
    members: list[Node] = field(default_factory=list)
    last: int = -1  # the largest schedule position of a member

    def outputs(self, users: dict[Node, list[Node]], returned: set[Node]) -> list[Node]:
        """The members read outside the cluster or returned, in schedule order."""
        inside = set(self.members)
        return [m for m in self.members
                if m in returned or any(u not in inside for u in users.get(m, ()))]


def per_element(node: Node) -> Value | Reduce | None:
    """The node's op on one element (Arg(i): operand i's element): its record's kernel form,
    or an elementwise op's NumPy lowering when that reads the same on numbers; None when it
    has neither, or when float16 is involved (kernels compute in the graph's dtypes)."""
    op = node.op
    if op is None or op.outputs != 1 or node.dtype == "float16" \
            or any(i.dtype == "float16" for i in node.inputs):
        return None
    if op.kernel is not None:
        return op.kernel(*node.inputs, out=node, **node.attrs)
    if op.elementwise:
        form = op.lowered(node)
        return form if _scalar_safe(form) else None
    return None


def element_form(node: Node) -> Value | Reduce | None:
    """The node's per-element form for a fused kernel (Arg(i): operand i's element), a
    `Reduce` for a reduction a kernel can accumulate, or None: not fusible."""
    form = per_element(node)
    if form is None:
        return None
    if isinstance(form, Reduce):
        return form if node.inputs and node.inputs[0].shape else None
    if not node.shape or not all(_broadcasts(i.shape, node.shape) for i in node.inputs):
        return None
    return form


def _scalar_safe(form: Value) -> bool:
    """A NumPy lowering that reads the same on numbers: ufunc calls (`np.exp`), operators,
    operands and literals."""
    if isinstance(form, Arg) or isinstance(form, (bool, int, float)):
        return True
    if isinstance(form, Call):
        return isinstance(form.fn, str) and form.fn.startswith("np.") and not form.kwargs \
            and all(_scalar_safe(a) for a in form.args)
    if isinstance(form, Infix):
        return _scalar_safe(form.left) and _scalar_safe(form.right)
    if isinstance(form, Prefix):
        return _scalar_safe(form.operand)
    if isinstance(form, Choose):
        return all(_scalar_safe(v) for v in (form.cond, form.then, form.other))
    return False


def _broadcasts(shape: tuple, space: tuple) -> bool:
    """`shape` broadcasts to `space` (right-aligned dims equal, or a static 1)."""
    if len(shape) > len(space):
        return False
    off = len(space) - len(shape)
    return all(d == space[off + j] or d == 1 for j, d in enumerate(shape))


def clusters(order: list[Node], returned: list[Node], min_members: int = 2) -> list[Cluster]:
    """The clusters of the scheduled op nodes `order` worth a kernel (`min_members` ops or
    more: two when the kernel is called from Python, one from a whole-function kernel)."""
    pos = {n: i for i, n in enumerate(order)}
    users: dict[Node, list[Node]] = {}
    for n in order:
        for i in dict.fromkeys(n.inputs):
            users.setdefault(i, []).append(n)
    forms = {n: element_form(n) for n in order}
    out_set = set(returned)
    owner: dict[Node, Cluster] = {}
    found: list[Cluster] = []
    for n in reversed(order):
        form = forms[n]
        if form is None:
            continue
        if isinstance(form, Reduce):
            c = Cluster(n.inputs[0].shape, [n], pos[n])
            owner[n] = c
            found.append(c)
            continue
        joined = None
        for u in users.get(n, ()):
            c = owner.get(u)
            if c is None or c is joined or c.space != n.shape or len(c.members) >= MAX_MEMBERS:
                continue
            if isinstance(forms[u], Reduce) and u.inputs[0] is not n:
                continue
            if _scalar_result(c) and (n in out_set or any(owner.get(v) is not c
                                                         for v in users.get(n, ()))):
                continue  # a kernel returning a number returns nothing else
            if _safe_join(n, c, users, owner, pos):
                joined = c
                break
        if joined is None:
            joined = Cluster(n.shape, [], pos[n])
            found.append(joined)
        joined.members.append(n)
        owner[n] = joined
    for c in found:
        c.members.sort(key=pos.__getitem__)
    return [c for c in found if len(c.members) >= min_members]


def _scalar_result(c: Cluster) -> bool:
    return any(not m.shape for m in c.members)


def _safe_join(n: Node, c: Cluster, users: dict[Node, list[Node]],
               owner: dict[Node, Cluster], pos: dict[Node, int]) -> bool:
    """Whether `n` may join `c`: no user of `n` outside `c` leads back into `c`, through
    plain edges or through another cluster (whose members run as one). Bounded search."""
    stack = [u for u in users.get(n, ()) if owner.get(u) is not c]
    seen: set[Node] = set(stack)
    seen_clusters: set[int] = set()
    budget = SEARCH_BUDGET
    while stack:
        x = stack.pop()
        budget -= 1
        if budget < 0:
            return False
        if owner.get(x) is c:
            return False
        d = owner.get(x)
        nxt = list(users.get(x, ()))
        if d is not None and id(d) not in seen_clusters:
            seen_clusters.add(id(d))
            nxt.extend(d.members)
        elif d is None and pos[x] > c.last:
            continue  # after every member of c, and not a cluster: cannot lead into c
        for y in nxt:
            if y not in seen:
                seen.add(y)
                stack.append(y)
    return True
