"""Fused numba kernels: the source of one `@numba.njit` loop nest per cluster, and the
graph in which each cluster is a single node that calls its kernel.

A kernel reads its array operands at each point of the iteration space (broadcast operands
at index 0 along their unit axes), computes its ops one number at a time, and writes each
output element (or adds it into a reduction's accumulator). It allocates nothing: the
caller passes its output arrays. A kernel with one output takes `out=`, so the buffer plan
can hand it a dead buffer or an operand to overwrite, exactly as for a NumPy ufunc (else
the call passes `out=np.empty(...)`); with several outputs the call passes new arrays and
gets them back as a tuple. A kernel reducing to a number returns it.

Numbers keep the graph's dtypes: a float32 op's result is rounded to float32 at once and a
float32 constant is written `np.float32(...)` (numba would otherwise widen a float32
expression that meets a Python float), so kernels compute what the NumPy target computes.
`error_model="numpy"`: division by zero gives inf or nan, as in NumPy, not an exception.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from symdiff.graph import Node, apply
from symdiff.ops.base import Op
from symdiff.ops.lowering import (
    Arg,
    Call,
    Choose,
    Infix,
    Name,
    Prefix,
    Reduce,
    Value,
    subexpressions,
)
from symdiff.shapes import TensorType

from .function import Function
from .fusion import Cluster, clusters, element_form
from .naming import Namer
from .printer import scalar_text
from .schedule import schedule
from .vecmath import UFUNCS, VECMATH, with_callees

DECORATOR = '@numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")'
# the vecmath functions: LLVM always inlines them (else a big kernel, or logaddexp with the
# exp and log1p it calls inlined, passes the inliner's size limit, and its loop stays scalar),
# and may fuse their multiply-adds (only contraction, no reassociation: the flag stays on
# their instructions once inlined, the kernel's own arithmetic is rounded as NumPy's is); a
# chain of them is bound by latency, which an FMA shortens
INLINED_DECORATOR = DECORATOR.replace("fastmath=False", 'fastmath={"contract"}')[:-1] \
    + ", forceinline=True)"
# a function called only from compiled code (by a whole-function kernel): numba inlines it
# into its caller at its own IR level, so the caller is one compiled function, where each
# function compiled apart costs a tenth of a second or more
WHOLE_CALLEE = DECORATOR.replace("njit(", 'njit(inline="always", ', 1)
# a kernel of the numba-parallel target whose first loop is a prange
PARALLEL_DECORATOR = DECORATOR[:-1] + ", parallel=True)"
INDENT = "    "
_tokens = itertools.count()  # makes each kernel node distinct in the graph's intern table


@dataclass
class KernelState:
    """What the kernels of one module share: their names, sources, helpers and imports."""

    sources: list[str] = field(default_factory=list)
    helpers: dict[str, Callable] = field(default_factory=dict)
    modules: set[str] = field(default_factory=set)
    named: dict[str, str] = field(default_factory=dict)  # kernel text -> its name
    # each kernel call node's token -> the call (read by whole-function kernels)
    calls: dict[int, KernelCall] = field(default_factory=dict)
    # kernels independent along their first axis loop over it with numba.prange
    parallel: bool = False

    def add(self, source: str) -> str:
        """The name of the kernel with this source (written with the name `KERNEL`): a new
        kernel, or one already in the module (numba compiles each kernel once)."""
        if source not in self.named:
            name = f"_kernel{len(self.named) + 1}"
            self.named[source] = name
            self.sources.append(source.replace(f"def {KERNEL}(", f"def {name}(", 1))
        return self.named[source]


KERNEL = "KERNEL"  # the placeholder name of a kernel's source until it is named


@dataclass
class KernelCall:
    """One call of a kernel: its name, the cluster outputs it computes (original nodes, in
    the kernel's order), the nodes standing for them in the fused graph, and its space."""

    name: str
    outs: list[Node]
    nodes: list[Node]
    space: tuple


def fuse_function(fn: Function, state: KernelState, whole: bool = False) -> Function:
    """`fn` with each cluster of its scheduled graph replaced by a call of a new kernel
    (whose source goes to `state`). `whole`: for a whole-function kernel (codegen/whole.py),
    which calls the kernels from compiled code: every fusible node gets a kernel, even
    alone, and scalar operands are passed as numbers, not 0-d arrays."""
    leaves = fn.leaves
    order = schedule(leaves)
    found = clusters(order, leaves, min_members=1 if whole else 2)
    if not found:
        return fn
    users: dict[Node, list[Node]] = {}
    for n in order:
        for i in dict.fromkeys(n.inputs):
            users.setdefault(i, []).append(n)
    returned = set(leaves)
    owner: dict[Node, Cluster] = {m: c for c in found for m in c.members}

    def make(c: Cluster, new: dict[Node, Node]) -> dict[Node, Node]:
        outs = c.outputs(users, returned)
        inputs = _external_inputs(c)
        name = state.add(_kernel_source(KERNEL, c, inputs, outs, state, numbers=whole))
        nodes = _kernel_nodes(name, c, [new.get(i, i) for i in inputs], outs)
        state.calls[nodes[0].attrs["kernel"]] = KernelCall(name, outs, nodes, c.space)
        return dict(zip(outs, nodes, strict=True))

    new_leaves = _rebuild(leaves, found, owner, make)
    tree = _replace(fn.outputs, dict(zip(leaves, new_leaves, strict=True)))
    return Function(fn.name, fn.inputs, tree, fn.doc)


# -- the graph with kernel nodes --------------------------------------------------------------

def _external_inputs(c: Cluster) -> list[Node]:
    """The operands a kernel takes: what its members read from outside, scalar constants
    excepted (those are written into the kernel as literals)."""
    inside = set(c.members)
    found: dict[Node, None] = {}
    for m in c.members:
        for i in m.inputs:
            if i not in inside and not _scalar_const(i):
                found.setdefault(i)
    return list(found)


def _scalar_const(node: Node) -> bool:
    return node.kind == "const" and node.value.ndim == 0


def _kernel_nodes(name: str, c: Cluster, inputs: list[Node], outs: list[Node]) -> list[Node]:
    """The nodes calling kernel `name`: one node, or one per output of a multi-output call.
    A scalar operand is passed as a 0-d array (`np.asarray`), whatever it is at run time.
    Output arrays are made by the caller (`np.empty`, sized from the iteration space held
    in the nodes' `shape` attribute, so that symbolic dims print as the function's locals)
    or given by the buffer plan: a kernel allocates nothing."""
    args = tuple(Call("np.asarray", (Arg(k),)) if not i.shape else Arg(k)
                 for k, i in enumerate(inputs))
    types = [TensorType(o.shape, o.dtype) for o in outs]
    token = next(_tokens)
    space = c.space
    if len(outs) == 1:
        (o,) = outs
        if not o.shape:  # the kernel returns a Python number: keep NumPy's scalar type
            call = Call(f"np.{o.dtype}", (Call(name, args),))

            def lower(*operands: Node, out: Node, **attrs: object) -> Call:
                return call
        else:
            def lower(*operands: Node, out: Node, shape: tuple, **attrs: object) -> Call:
                return Call(name, args, out=True, fresh_out=_alloc_expr(o, shape))
        family = "elementwise" if o.shape == space and not _is_reduce(o) else "other"
        op = _kernel_op(o.op.name, types, lower, family, 1)
        node = apply(op, inputs, kernel=token, shape=space)
        _inherit(node, o)
        return [node]

    def lower_all(*operands: Node, out: Node, shape: tuple, **attrs: object) -> Call:
        return Call(name, args + tuple(_alloc_expr(o, shape) for o in outs))

    op = _kernel_op("fused", types, lower_all, "other", len(outs))
    nodes = [apply(op, inputs, kernel=token, shape=space, output=k) for k in range(len(outs))]
    for node, o in zip(nodes, outs, strict=True):
        _inherit(node, o)
    return nodes


def takes_output_arrays(node: Node) -> bool:
    """Whether `node` is an output of a multi-output kernel call, which is passed the arrays
    to write (the last arguments, one per output, in order): the buffer plan may give it a
    scratch array instead of a new one."""
    return node.op.multi_output and "kernel" in node.attrs and "output" in node.attrs


def _alloc_expr(o: Node, space: tuple) -> Call:
    """`np.empty(shape, dtype)` for output `o` of a kernel over `space` (as printed)."""
    if _is_reduce(o):
        kept, _ = _kept_axes(o)
        shape = tuple(space[a] if a in kept else 1 for a in range(len(space))
                      if a in kept or o.attrs["keepdims"])
    else:
        shape = tuple(space)
    return Call("np.empty", (shape, Name("np.bool_" if o.dtype == "bool" else f"np.{o.dtype}")))


def _is_reduce(node: Node) -> bool:
    return isinstance(element_form(node), Reduce)


def _kernel_op(name: str, types: list[TensorType], lower: Callable[..., Call], family: str,
               outputs: int) -> Op:
    """An op record for one kernel call (not registered: it exists for this module only).
    It is named after the op of the node it stands for, so generated names read the same."""
    def shape_rule(in_types: list, in_nodes: list, **attrs: object) -> TensorType:
        return types[attrs.get("output", 0)]

    def impl(*args: object, **attrs: object) -> object:
        raise NotImplementedError("a fused kernel runs only in generated code")

    return Op(name=name, shape_rule=shape_rule, impl=impl, vjp=(), jvp=(), lower=lower,
              family=family, memory="fresh", foldable=False, outputs=outputs)


def _inherit(node: Node, old: Node) -> None:
    """The kernel node is named and commented as the node it replaces."""
    if old.label is not None:
        node.label = old.label
    node.provenance = old.provenance


def _rebuild(leaves: list[Node], clusters_found: list[Cluster], owner: dict[Node, Cluster],
             make: Callable[[Cluster, dict[Node, Node]], dict[Node, Node]]) -> list[Node]:
    """The outputs with every cluster replaced by its kernel nodes (`make(cluster, new)`
    builds them over the already rebuilt operands and maps each cluster output to its node),
    and the nodes above a kernel rebuilt (same op and attributes) over the new operands.
    Walks the graph of clusters and plain nodes depth first, operands before users."""
    new: dict[Node, Node] = {}
    done: set[int] = set()

    def unit_inputs(unit: Node | Cluster) -> list[Node]:
        if isinstance(unit, Cluster):
            return [i for m in unit.members for i in m.inputs if owner.get(i) is not unit]
        return list(unit.inputs)

    def unit_of(n: Node) -> Node | Cluster:
        return owner.get(n, n)

    stack: list[tuple[Node | Cluster, bool]] = [(unit_of(leaf), False) for leaf in leaves]
    while stack:
        unit, expanded = stack.pop()
        if id(unit) in done:
            continue
        if not expanded:
            stack.append((unit, True))
            for i in unit_inputs(unit):
                if i.kind == "op" and id(unit_of(i)) not in done:
                    stack.append((unit_of(i), False))
            continue
        done.add(id(unit))
        if isinstance(unit, Cluster):
            new.update(make(unit, new))
            continue
        inputs = tuple(new.get(i, i) for i in unit.inputs)
        if inputs != unit.inputs:
            node = apply(unit.op, inputs, **unit.attrs)
            _inherit(node, unit)
            new[unit] = node
    return [new.get(leaf, leaf) for leaf in leaves]


def _replace(tree: object, new: dict[Node, Node]) -> object:
    if isinstance(tree, Node):
        return new[tree]
    items = [_replace(sub, new) for sub in tree]
    return items if isinstance(tree, list) else tuple(items)


# -- kernel source ----------------------------------------------------------------------------

def _kernel_source(name: str, c: Cluster, inputs: list[Node], outs: list[Node],
                   state: KernelState, numbers: bool = False) -> str:
    """The `@numba.njit` function computing cluster `c`. Scalar operands are 0-d arrays,
    or with `numbers` plain numbers (when compiled code calls the kernel)."""
    namer = Namer({"np", "numba", "math", "out"})
    # operands by position (x0, x1, ...), so that clusters doing the same work on other
    # arrays are one kernel
    params = {i: namer.fresh(f"x{k}") for k, i in enumerate(inputs)}
    space = c.space
    loop = [f"i{a}" for a in range(len(space))]
    namer.taken.update(loop + [f"j{a}" for a in range(len(space))])
    dims = [_dim_text(space, a, inputs, params) for a in range(len(space))]
    single = len(outs) == 1
    out_names = {o: "out" if single else namer.fresh(f"{o.op.name}_out", "out")
                 for o in outs}
    local: dict[Node, str] = {}
    reductions = [m for m in c.members if isinstance(element_form(m), Reduce)]
    # threads split the first axis when no reduction sums along it: each iteration then
    # writes its own elements, and the results are the serial kernel's to the bit
    threads = state.parallel and not numbers and bool(space) \
        and all(0 in _kept_axes(r)[0] for r in reductions)
    lines = [WHOLE_CALLEE if numbers else PARALLEL_DECORATOR if threads else DECORATOR]
    signature = ", ".join([params[i] for i in inputs] + [out_names[o] for o in outs if o.shape])
    lines.append(f"def {name}({signature}):")
    ops = ", ".join(dict.fromkeys(m.op.name for m in c.members))
    lines.append(f'{INDENT}"""Fused loop over {len(space)} axes: {ops}."""')
    body = INDENT
    for a, d in enumerate(dims):
        lines.append(f"{body}n{a} = {d}")
    for i in inputs:
        if not i.shape and numbers:
            local[i] = params[i]
        elif not i.shape:
            local[i] = namer.fresh(f"{params[i]}_value", "v")
            lines.append(f"{body}{local[i]} = {params[i]}[()]")
    dim_text = [f"n{a}" for a in range(len(space))]
    depth: dict[Node, int] = {}  # reductions kept in a local accumulator: at which loop
    for r in reductions:
        kept, axes = _kept_axes(r)
        if axes == tuple(range(len(space) - len(axes), len(space))):
            depth[r] = len(space) - len(axes)
    for r in reductions:
        if r not in depth:  # accumulated in its output array: zero it first
            lines.extend(_zero_lines(out_names[r], r.ndim, body))
    acc = {r: namer.fresh(f"{r.op.name}_acc", "acc") for r in depth}
    stmts: list[str] = []
    for m in c.members:
        form = element_form(m)
        if isinstance(form, Reduce):
            (x,) = m.inputs
            value = local.get(x) or _read(x, space, params, loop)
            if m in depth:
                step = _expr(form.step, [acc[m], value], m, local)
                stmts.append(f"{acc[m]} = {step}")
            else:
                target = f"{out_names[m]}[{_index(m, loop)}]"
                step = _expr(form.step, [target, value], m, local)
                stmts.append(f"{target} = {step}")
            continue
        args = [local.get(i) or _operand(i, m, space, params, loop) for i in m.inputs]
        text = _expr(form, args, m, local)
        if m.dtype == "float32":
            text = f"np.float32({text})"
        local[m] = namer.fresh(_local_name(m), "t")
        stmts.append(f"{local[m]} = {text}")
        if m in out_names:
            stmts.append(f"{out_names[m]}[{', '.join(loop)}] = {local[m]}")
    _collect(c, state)
    # the loop nest, with each local accumulator set before and stored after its loop
    for a in range(len(space)):
        ind = INDENT * (a + 1)
        for r in (r for r in depth if depth[r] == a):
            init = _literal(element_form(r).init, r.dtype)
            lines.append(f"{ind}{acc[r]} = {init}")
        loop_range = "numba.prange" if threads and a == 0 else "range"
        lines.append(f"{ind}for {loop[a]} in {loop_range}({dim_text[a]}):")
    inner = INDENT * (len(space) + 1)
    lines.extend(inner + s for s in stmts)
    for a in range(len(space) - 1, -1, -1):
        ind = INDENT * (a + 1)
        for r in (r for r in depth if depth[r] == a):
            value = acc[r]
            if element_form(r).mean:
                value = f"{value} / ({_count(r, dim_text)})"
            if not r.shape:
                lines.append(f"{ind}{out_names[r]}_value = {value}")
            else:
                lines.append(f"{ind}{out_names[r]}[{_index(r, loop)}] = {value}")
    for r in reductions:
        if r not in depth and element_form(r).mean:
            lines.append(f"{body}{out_names[r]} /= ({_count(r, dim_text)})")
    if single:
        o = outs[0]
        lines.append(f"{body}return {out_names[o]}_value" if not o.shape else
                     f"{body}return out")
    else:
        lines.append(f"{body}return {', '.join(out_names[o] for o in outs)}")
    return "\n".join(lines) + "\n"


def _local_name(m: Node) -> str:
    """A member's local: its op's name (a label would make equal kernels differ)."""
    return m.op.name


def _dim_text(space: tuple, a: int, inputs: list[Node], params: dict[Node, str]) -> str:
    """Source for the length of axis `a`: an operand's size along it. Read at run time even
    where it is static, so that kernels differing only in sizes are one kernel."""
    for i in inputs:
        off = len(space) - i.ndim
        if a >= off and i.shape[a - off] == space[a]:
            return f"{params[i]}.shape[{a - off}]"
    raise ValueError(f"no operand of the kernel has the symbolic dim {space[a]!r}")


def _zero_lines(name: str, ndim: int, indent: str) -> list[str]:
    """Loops setting every element of array `name` to 0."""
    lines = []
    for a in range(ndim):
        lines.append(f"{indent}{INDENT * a}for j{a} in range({name}.shape[{a}]):")
    index = ", ".join(f"j{a}" for a in range(ndim)) or "()"
    lines.append(f"{indent}{INDENT * ndim}{name}[{index}] = 0")
    return lines


def _kept_axes(r: Node) -> tuple[list[int], tuple[int, ...]]:
    """The axes of a reduction's operand that it keeps, and those it reduces."""
    ndim = r.inputs[0].ndim
    axis = r.attrs["axis"]
    axes = tuple(range(ndim)) if axis is None else tuple(sorted(axis))
    return [a for a in range(ndim) if a not in axes], axes


def _index(r: Node, loop: list[str]) -> str:
    """Where element `loop` of a reduction's operand lands in its result."""
    kept, axes = _kept_axes(r)
    parts = [loop[a] if a in kept else "0" for a in range(len(loop))
             if a in kept or r.attrs["keepdims"]]
    return ", ".join(parts) if parts else "()"


def _count(r: Node, dim_text: list[str]) -> str:
    _, axes = _kept_axes(r)
    return " * ".join(dim_text[a] for a in axes) or "1"


def _read(x: Node, space: tuple, params: dict[Node, str], loop: list[str]) -> str:
    """An external operand's element at the current point (broadcast along unit axes)."""
    off = len(space) - x.ndim
    index = [loop[off + j] if d == space[off + j] else "0" for j, d in enumerate(x.shape)]
    return f"{params[x]}[{', '.join(index)}]"


def _operand(i: Node, user: Node, space: tuple, params: dict[Node, str],
             loop: list[str]) -> str:
    if _scalar_const(i):
        return _literal(i.value.item(), i.dtype)
    return _read(i, space, params, loop)


def _literal(value: object, dtype: str) -> str:
    """A number in the kernel, typed as the graph types it."""
    if dtype == "bool":
        return repr(bool(value))
    if dtype == "int64":
        return repr(int(value))
    text = scalar_text(np.asarray(value), dtype)
    if text.startswith("np."):  # np.nan, np.inf
        text = f"np.{dtype}({text})" if dtype == "float32" else text
        return text
    if text.startswith("-"):
        text = f"({text})"
    return f"np.float32({text})" if dtype == "float32" else text


def _expr(form: Value, args: list[str], node: Node, local: dict[Node, str]) -> str:
    """Source of a per-element form with operand i spelled args[i]."""
    if isinstance(form, Arg):
        return args[form.index]
    if isinstance(form, bool):
        return repr(form)
    if isinstance(form, (int, float)):
        return _literal(form, node.dtype) if isinstance(form, float) else repr(form)
    if isinstance(form, Call):
        vector = _vecmath(form, node)
        fn = vector.__name__ if vector else form.fn if isinstance(form.fn, str) \
            else form.fn.__name__
        inner = ", ".join(_expr(a, args, node, local) for a in form.args)
        return f"{fn}({inner})"
    if isinstance(form, Infix):
        return f"({_expr(form.left, args, node, local)} {form.symbol} " \
               f"{_expr(form.right, args, node, local)})"
    if isinstance(form, Prefix):
        return f"({form.symbol}{_expr(form.operand, args, node, local)})"
    if isinstance(form, Choose):
        return f"({_expr(form.then, args, node, local)} if " \
               f"{_expr(form.cond, args, node, local)} else " \
               f"{_expr(form.other, args, node, local)})"
    raise ValueError(f"{node.op.name}: a kernel cannot print {form!r}")


def _vecmath(call: Call, node: Node) -> Callable | None:
    """The codegen/vecmath function a kernel calls for this ufunc call in `node`'s form
    (real floating point only: numba's own function stays for complex and integer
    results), or None."""
    if not isinstance(call.fn, str) or node.dtype not in ("float64", "float32"):
        return None
    return UFUNCS.get(call.fn)


def _collect(c: Cluster, state: KernelState) -> None:
    """The helpers (jitted alongside) and modules the members' forms call."""
    for m in c.members:
        collect_form(element_form(m), m, state)


def collect_form(form: Value | Reduce, node: Node, state: KernelState) -> None:
    """The helpers and modules one node's per-element form calls, into `state`."""
    for value in subexpressions(form):
        if not isinstance(value, Call):
            continue
        vector = _vecmath(value, node)
        if vector is not None:
            for fn in with_callees(vector):
                state.helpers.setdefault(fn.__name__, fn)
        elif callable(value.fn):
            state.helpers.setdefault(value.fn.__name__, value.fn)
        elif "." in value.fn:
            state.modules.add(value.fn.split(".")[0])


def helper_source(fn: Callable) -> str:
    """A helper's source, compiled by numba alongside the kernels that call it."""
    decorator = INLINED_DECORATOR if fn in VECMATH else DECORATOR
    return f"{decorator}\n{inspect.getsource(fn)}"
