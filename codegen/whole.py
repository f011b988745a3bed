"""Whole-function kernels of the numba target: a small function whose every node compiled
code can compute runs as one `@numba.njit` function, so that a call costs one dispatch.

For a small graph (the XOR net: a few dozen elements per array) the time of a call is the
interpreter's: each NumPy call or kernel dispatch costs a microsecond or more, several
times the arithmetic. When every scheduled node is fusible (it then gets a kernel, even
alone), a scalar op with a per-element form, a small matrix product of float arrays, a
view (transpose, expand_dims, reshape) or a size (`dim_size`), the function body becomes
one compiled function (`_f_compiled`) into which numba inlines the kernels and the
products' loops; the generated Python function keeps the NumPy target's argument checks
and error messages, calls it once and gives scalar results NumPy's scalar types. Anything
else (a helper such as log_softmax, a gather, an array constant, a float16 value, a
returned view, a product big enough for BLAS) keeps the per-node body of codegen/emit.py.

Results are the NumPy target's to a few ulps: the kernels' loops, and products summed in
index order without FMA where BLAS may block and fuse; sums in a kernel add in order where
NumPy adds pairwise. Kernels write into arrays dead by then, as the buffer plan of the
per-node body does (`_deaths`); the others are allocated inside the compiled function.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from symdiff.graph import Node, topo_order
from symdiff.ops.lowering import Reduce, Value

from . import printer
from .emit import INDENT, ModuleState, _doc, _entry_checks, docstring
from .function import Function, render
from .fusion import element_form, per_element
from .hoist import hoistable
from .kernels import (
    DECORATOR,
    WHOLE_CALLEE,
    KernelState,
    _alloc_expr,
    _expr,
    _literal,
    collect_form,
)
from .layout import wrap
from .naming import node_names
from .schedule import is_view, schedule

# Scheduled op nodes at most: numba compiles one function in time growing faster than its
# size, and a graph this big has enough work per call that dispatch matters little.
MAX_NODES = 200
# Functions of one module at most that get a whole-function kernel each: each is compiled
# on its own, its kernels inlined, where per-node bodies share their kernels (a module of
# hundreds of small functions, such as the op-table tests', compiles each kernel once).
MAX_FUNCTIONS = 16
DTYPES = ("float64", "float32", "int64", "bool")
VIEWS = ("transpose", "expand_dims", "reshape")
# Matrix products are loops (_MATMUL_LOOPS below), for operands this small at most: numba's own
# `@` (a BLAS call) takes it about a second to compile for each pair of operand ranks and
# layouts, loops a tenth of that, and for small products they are as fast.
SMALL_PRODUCT = 512


def eligible(fn: Function) -> bool:
    """Whether every node of `fn` can run inside one compiled function (see the module
    docstring), its outputs being distinct arrays or numbers that it computes."""
    leaves = fn.leaves
    if len(set(leaves)) != len(leaves) or any(v.dtype not in DTYPES for v in fn.inputs):
        return False
    if any(leaf.kind != "op" or is_view(leaf) for leaf in leaves):
        return False
    order = [n for n in topo_order(leaves) if n.kind == "op"]  # any order, inputs first
    if len(order) > MAX_NODES or hoistable(order):
        return False
    return all(_supported(n) for n in order)


def _supported(n: Node) -> bool:
    if n.dtype not in DTYPES or n.op.outputs != 1 \
            or any(i.kind == "const" and i.value.ndim for i in n.inputs):
        return False
    if element_form(n) is not None or scalar_form(n) is not None:
        return True
    name = n.op.name
    if name == "matmul":
        return n.dtype in ("float64", "float32") and _small_product(*n.inputs) \
            and all(i.dtype == n.dtype and i.ndim in (1, 2) for i in n.inputs)
    # numbers are not arrays in compiled code: no views or sizes of them
    return (name in VIEWS or name == "dim_size") and all(i.ndim for i in n.inputs)


def _small_product(a: Node, b: Node) -> bool:
    """A matrix product with at most SMALL_PRODUCT multiply-adds per element of its
    symbolic dims (the batch): loops are as fast as BLAS there."""
    return math.prod(d for d in (*a.shape, *b.shape[1:]) if isinstance(d, int)) \
        <= SMALL_PRODUCT


def scalar_form(n: Node) -> Value | None:
    """The per-element form of an elementwise op on numbers (a 0-d result), or None."""
    form = None if n.shape else per_element(n)
    return None if isinstance(form, Reduce) else form


def emit_whole(fn: Function, kernels: KernelState, state: ModuleState, name: str) -> str:
    """The Python function `name` (argument checks, one call, results typed as NumPy's),
    for `fn` already fused with `fuse_function(..., whole=True)`; the compiled function it
    calls goes to `kernels.sources`, after the kernels it calls."""
    leaves = fn.leaves
    order = schedule(leaves)
    dims = list(dict.fromkeys(d for v in fn.inputs for d in v.shape if isinstance(d, str)))
    names, dim_names = node_names(list(fn.inputs), dims, order, leaves)
    body_name = f"_{name}_compiled"
    args = ", ".join(names[v] for v in fn.inputs)
    results = [names[leaf] for leaf in leaves]

    body = [DECORATOR, f"def {body_name}({args}):",
            docstring(f"The body of {name} in one compiled call ({name} checks the "
                      "arguments).", INDENT)]
    bound: set[str] = set()
    for v in fn.inputs:
        for axis, d in enumerate(v.shape):
            if isinstance(d, str) and d not in bound:
                bound.add(d)
                body.append(f"{INDENT}{dim_names[d]} = {names[v]}.shape[{axis}]")
    done: set[int] = set()
    free_after = _deaths(order, leaves)
    pool: dict[tuple, list[str]] = {}  # dead arrays by shape and dtype

    def alloc(o: Node, space: tuple) -> str:
        """A dead array for kernel output `o` to write into, else a new one."""
        spare = pool.get(_key(o, dim_names))
        return spare.pop() if spare else _alloc_text(o, space, dim_names)

    for k, n in enumerate(order):
        statement = _statement(n, names, dim_names, kernels, done, alloc)
        if statement is not None:
            state.statements[n] = statement
            body.append(INDENT + statement)
        for dead in free_after.get(k, ()):
            pool.setdefault(_key(dead, dim_names), []).append(names[dead])
    body.append(f"{INDENT}return {_tuple(results)}")
    kernels.sources.append("\n".join(w for line in body for w in wrap(line)) + "\n")

    lines = [f"def {name}({args}):", docstring(_doc(fn, names, dim_names), INDENT)]
    lines.extend(_entry_checks(fn, names, dim_names, state, numbers=True))
    lines.append(f"{INDENT}{', '.join(results)}{',' if len(results) == 1 else ''} = "
                 f"{body_name}({args})")
    lines.append(f"{INDENT}return {render(fn.outputs, lambda n: _typed(n, names[n]))}")
    return "\n".join([lines[0], lines[1]] + [w for line in lines[2:] for w in wrap(line)]) \
        + "\n"


def _deaths(order: list[Node], leaves: list[Node]) -> dict[int, list[Node]]:
    """The arrays of the compiled body (kernel outputs and products: new, C-ordered) that
    are dead after each statement: no later statement reads them or a view of them, and
    they are not returned. Kernels write into them rather than into new arrays, as the
    NumPy target's buffer plan does (an array of a large batch is then not allocated and
    faulted in again on every call)."""
    base: dict[Node, Node | None] = {}  # a node -> the array whose memory it is
    last: dict[Node, int] = {}
    calls: dict[int, int] = {}  # kernel call -> its statement (at its first output)
    for at, n in enumerate(order):
        k = calls.setdefault(n.attrs["kernel"], at) if "kernel" in n.attrs else at
        if n.op.name in VIEWS:
            i = n.inputs[0]
            base[n] = base.get(i) if i.kind == "op" else None
        else:
            base[n] = n if n.shape and ("kernel" in n.attrs or n.op.name == "matmul") else None
        for i in n.inputs:
            b = base.get(i) if i.kind == "op" else None
            if b is not None:
                last[b] = max(last.get(b, k), k)
    kept = set(leaves)
    found: dict[int, list[Node]] = {}
    for b, k in last.items():
        if b not in kept:
            found.setdefault(k, []).append(b)
    return found


def _key(n: Node, dim_names: dict[str, str]) -> tuple:
    return tuple(dim_names.get(d, d) if isinstance(d, str) else d for d in n.shape), n.dtype


def _statement(n: Node, names: dict[Node, str], dim_names: dict[str, str],
               kernels: KernelState, done: set[int],
               alloc: Callable[[Node, tuple], str]) -> str | None:
    """The line computing node `n` inside the compiled function (None: computed already,
    with the other outputs of its kernel)."""
    def operand(i: Node) -> str:
        if i.kind == "const":
            return _literal(i.value.item(), i.dtype)
        return names[i]

    args = [operand(i) for i in n.inputs]
    if "kernel" in n.attrs and n.attrs["kernel"] in kernels.calls:
        token = n.attrs["kernel"]
        if token in done:
            return None
        done.add(token)
        call = kernels.calls[token]
        allocs = [alloc(o, call.space) for o in call.outs if o.shape]
        targets = [names.get(m, "_") for m in call.nodes]
        target = targets[0] if len(targets) == 1 else ", ".join(targets)
        return f"{target} = {call.name}({', '.join(args + allocs)})"
    own = names[n]
    form = scalar_form(n)
    if form is not None:
        collect_form(form, n, kernels)
        text = _expr(form, args, n, {})
        return f"{own} = {f'np.float32({text})' if n.dtype == 'float32' else text}"
    if n.op.name == "matmul":
        a, b = n.inputs
        source = _matmul_source(a.ndim, b.ndim)
        if source not in kernels.sources:
            kernels.sources.append(source)
        return f"{own} = _matmul{a.ndim}{b.ndim}({args[0]}, {args[1]})"
    if n.op.name == "reshape":  # numba reshapes contiguous arrays only
        args = [f"np.ascontiguousarray({args[0]})"]
    return f"{own} = {printer.render(printer.lowered(n, dim_names), args)}"


def _alloc_text(o: Node, space: tuple, dim_names: dict[str, str]) -> str:
    call = _alloc_expr(o, space)
    shape = tuple(dim_names.get(d, d) if isinstance(d, str) else d for d in call.args[0])
    inner = ", ".join(str(d) for d in shape)
    return f"np.empty(({inner}{',' if len(shape) == 1 else ''}), {call.args[1].text})"


def _typed(n: Node, name: str) -> str:
    """A result as the NumPy target returns it: a number as a NumPy scalar."""
    if n.shape:
        return name
    return f"np.{'bool_' if n.dtype == 'bool' else n.dtype}({name})"


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


# a @ b as loops, by operand ranks. The contracted axis runs outside the columns, so the
# inner loop runs along rows of b and of the result (vectorized, no reassociation).
_MATMUL_LOOPS = {
    (2, 2): ["out = np.zeros((a.shape[0], b.shape[1]), a.dtype)",
             "for i in range(a.shape[0]):",
             "    for p in range(a.shape[1]):",
             "        x = a[i, p]",
             "        for j in range(b.shape[1]):",
             "            out[i, j] += x * b[p, j]",
             "return out"],
    (2, 1): ["out = np.zeros((a.shape[0],), a.dtype)",
             "for i in range(a.shape[0]):",
             "    for p in range(a.shape[1]):",
             "        out[i] += a[i, p] * b[p]",
             "return out"],
    (1, 2): ["out = np.zeros((b.shape[1],), a.dtype)",
             "for p in range(a.shape[0]):",
             "    x = a[p]",
             "    for j in range(b.shape[1]):",
             "        out[j] += x * b[p, j]",
             "return out"],
    (1, 1): ["out = np.zeros((1,), a.dtype)",
             "for p in range(a.shape[0]):",
             "    out[0] += a[p] * b[p]",
             "return out[0]"],
}


def _matmul_source(ra: int, rb: int) -> str:
    """The njit function `_matmul{ra}{rb}(a, b)`: a @ b as loops (a number for vectors)."""
    lines = [WHOLE_CALLEE, f"def _matmul{ra}{rb}(a, b):",
             f'{INDENT}"""a @ b for a small product, as loops."""']
    lines += [INDENT + line for line in _MATMUL_LOOPS[(ra, rb)]]
    return "\n".join(lines) + "\n"
