"""Source of one generated function: signature, docstring, entry checks, one statement per
scheduled node (with `out=`, in-place updates and `del` from the buffer plan), return."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from symdiff.graph import Node
from symdiff.loops.body import LoopCall
from symdiff.ops.base import group_key, group_member
from symdiff.ops.lowering import Call, Name, helpers, is_postfix
from symdiff.shapes import fmt_shape

from . import printer
from .function import Function, render
from .hoist import hoistable
from .kernels import takes_output_arrays
from .layout import WIDTH, wrap
from .loops import emit_loop
from .memory import Plan, Step, plan
from .naming import node_names, sanitize
from .printer import augmented, literal, literal_ok
from .runtime import _scratch, _scratch_return
from .schedule import is_view, schedule

INDENT = "    "

# Temporaries estimated at this many bytes or more live in scratch arrays kept across calls.
SCRATCH_BYTES = 64 * 1024


@dataclass
class ModuleState:
    """What functions of one module share: constants and helpers, named in first-use order."""

    constants: dict[Node, str] = field(default_factory=dict)
    # constant subgraphs computed at import: node -> module name, and its statement
    hoisted: dict[Node, str] = field(default_factory=dict)
    hoisted_lines: dict[Node, str] = field(default_factory=dict)
    hoisted_read: set[Node] = field(default_factory=set)  # read by a function body
    helpers: dict[str, object] = field(default_factory=dict)
    dtypes: set[str] = field(default_factory=set)
    scratch_caches: list[str] = field(default_factory=list)  # threading.local() per function
    # the statement computing each scheduled node (unwrapped), in body order: read by
    # inspection (the graph page shows the line that computes a node)
    statements: dict[Node, str] = field(default_factory=dict)
    loops: dict[tuple, str] = field(default_factory=dict)  # scan group -> loop function
    loop_sources: list[str] = field(default_factory=list)  # their source, bodies first

    def constant(self, node: Node) -> str:
        if node not in self.constants:
            self.constants[node] = f"_c{len(self.constants) + 1}"
        return self.constants[node]


def docstring(text: str, indent: str) -> str:
    """A triple-quoted docstring showing `text` verbatim, whatever it contains."""
    out = []
    for ch in text.replace("\r\n", "\n"):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n" or (ch.isprintable() and ch not in "\u2028\u2029"):
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    body = "".join(out).strip("\n")
    lines = [line.rstrip() for line in body.split("\n")]
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    inner = "\n".join((indent + line) if line.strip() else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{inner}\n{indent}"""'


def _comment_text(text: str) -> str:
    """Text safe inside a # comment: one line, plain characters."""
    return re.sub(r"[^A-Za-z0-9_.,:()\[\]/ -]", "_", text)


def _type_text(node: Node, dim_names: dict[str, str]) -> str:
    shape = tuple(dim_names.get(d, d) if isinstance(d, str) else d for d in node.shape)
    return f"{node.dtype} {'scalar' if not shape else 'array of shape ' + fmt_shape(shape)}"


def emit_function(fn: Function, state: ModuleState, name: str, checks: bool = True,
                  scratch_bytes: int | None = None) -> str:
    """The source of one generated function called `name`; without `checks` (a loop body,
    called by generated code only) the arguments are trusted and only dims are bound.
    Temporaries of `scratch_bytes` (default SCRATCH_BYTES) or more live in arrays reused
    from call to call."""
    outputs = fn.leaves
    order = schedule(outputs)
    constant = hoistable(order)
    for n in constant:
        _hoist(n, state)
    if constant:
        hoisted = set(constant)
        order = [n for n in order if n not in hoisted]
        state.hoisted_read.update(i for n in order for i in n.inputs if i in hoisted)
        state.hoisted_read.update(n for n in outputs if n in hoisted)
    lowerings = {n: printer.lowered(n) for n in order}  # once per node: the forms passes read
    if scratch_bytes is None:
        scratch_bytes = SCRATCH_BYTES
    dims, names, dim_names, inlined, buffer_plan = named_plan(
        fn, order, lowerings, scratch_bytes, lambda n: printer.out_capable(n, lowerings[n]))
    scope = Scope(names, buffer_plan.variable, dim_names, inlined, state, lowerings)

    lines = [f"def {name}({', '.join(names[v] for v in fn.inputs)}):"]
    lines.append(docstring(_doc(fn, names, dim_names), INDENT))
    lines.extend(_entry_checks(fn, names, dim_names, state) if checks else
                 _dim_bindings(fn, names, dim_names))
    if buffer_plan.scratch:
        lines.extend(_scratch_lines(buffer_plan, name, [dim_names[d] for d in dims], dim_names,
                                    state))
    lines.extend(_body(buffer_plan, scope))
    text = returned_names(outputs, names, buffer_plan, state)
    if buffer_plan.scratch:
        lines.append(_scratch_return_line(name, [dim_names[d] for d in dims], state))
    lines.append(f"{INDENT}return {render(fn.outputs, _caller_owned(text, state.hoisted))}")
    laid_out = [lines[0], lines[1]] + [w for line in lines[2:] for w in wrap(line)]
    return "\n".join(laid_out) + "\n"


def named_plan(fn: Function, order: list[Node], lowerings: dict[Node, Any],
               scratch_bytes: int | None, writes: Callable[[Node], bool]) \
        -> tuple[list[str], dict[Node, str], dict[str, str], dict[Node, Node], Plan]:
    """What every target decides before printing a body: the symbolic dims the arguments
    carry, the names of the nodes and dims, the views printed inline, and the buffer plan."""
    outputs = fn.leaves
    inlined = _inlined_views(order, outputs, lowerings)
    dims = list(dict.fromkeys(d for v in fn.inputs for d in v.shape if isinstance(d, str)))
    names, dim_names = node_names(list(fn.inputs), dims,
                                  [n for n in order if n not in inlined], outputs)
    output_set = set(outputs)
    generic = {n for n in order if n in names and _generic(n, names) and n not in output_set}
    buffer_plan = plan(order, outputs, generic, scratch_bytes, inlined, writes=writes,
                       given=takes_output_arrays)
    return dims, names, dim_names, inlined, buffer_plan


def returned_names(outputs: list[Node], names: dict[Node, str], buffer_plan: Plan,
                   state: ModuleState) -> dict[Node, str]:
    """The text each output is returned as: its variable, argument, constant or module
    array."""
    text = {n: state.hoisted[n] if n in state.hoisted else
            names[buffer_plan.variable.get(n, n)] if n.kind == "op" else names.get(n, "")
            for n in outputs}
    for n in outputs:
        if n.kind == "const":
            text[n] = state.constant(n)
    return text


def _caller_owned(text: dict[Node, str], hoisted: dict[Node, str]) -> Callable[[Node], str]:
    """Spell the returned values so that each is an array the caller owns: an argument, a
    constant (or a module-level array of `hoisted`), a view of either (or a read-only
    broadcast), and a value whose memory an earlier result already holds (the same value
    again, or a view of it or of what it views) are copied; everything else is fresh memory
    of this call."""
    claimed: set[Node] = set()

    def spell(node: Node) -> str:
        root = _fresh_root(node, hoisted)
        copy = root is None or root in claimed
        if root is not None:
            claimed.add(root)
        return f"{text[node]}.copy()" if copy else text[node]

    return spell


def _fresh_root(node: Node, hoisted: dict[Node, str]) -> Node | None:
    """The op node whose fresh memory `node`'s value may be a view of, or None when that
    memory lasts beyond the call (an argument, a constant, a module-level array, a read-only
    broadcast)."""
    while node.kind == "op" and node not in hoisted and is_view(node) and node.inputs:
        if node.op.memory_of(node) == "readonly":
            return None  # read-only, and may repeat one element many times
        node = node.inputs[0]
    return node if node.kind == "op" and node not in hoisted else None


def _hoist(node: Node, state: ModuleState) -> None:
    """Give a constant subgraph's node a module-level name and statement (once per module:
    functions that share it share the array)."""
    if node in state.hoisted:
        return
    name = state.hoisted[node] = f"_k{len(state.hoisted) + 1}"
    scope = Scope({}, {}, {}, {}, state, {node: printer.lowered(node)})
    expr = scope.lowered(node)
    for h in helpers(expr):
        state.helpers.setdefault(h.__name__, h)
    state.hoisted_lines[node] = f"{name} = {printer.render(expr, scope.args(node))}"


def hoisted_block(state: ModuleState) -> str:
    """The module-level statements computing the hoisted constants, in dependency order;
    the arrays functions read are made read-only, the others deleted once used."""
    if not state.hoisted:
        return ""
    lines = ["# constant subexpressions, computed once on import (read-only; a function "
             "copies one", "# before returning it)"]
    for node, statement in state.hoisted_lines.items():
        lines.extend(wrap(statement))
        if node in state.hoisted_read and node.shape:
            lines.append(f"{state.hoisted[node]}.flags.writeable = False")
    unread = [state.hoisted[n] for n in state.hoisted if n not in state.hoisted_read]
    if unread:
        lines.append(f"del {', '.join(unread)}")
    return "\n".join(lines) + "\n"


def _generic(n: Node, names: dict[Node, str]) -> bool:
    """Named after its op and a count, so it may continue another node's variable."""
    if n.label is not None:
        return False
    op, name = sanitize(n.op.name), names[n]
    count = name[len(op) + 1:]
    return name.startswith(f"{op}_") and count.isascii() and count.isdigit()


def _doc(fn: Function, names: dict[Node, str], dim_names: dict[str, str]) -> str:
    lines = [fn.doc.strip() or f"Generated function {sanitize(fn.name, 'f')}.", ""]
    lines.append("Arguments:")
    for v in fn.inputs:
        lines.append(f"    {names[v]}: {_type_text(v, dim_names)}")
    out_names = {n: names.get(n, "value") for n in fn.leaves}
    lines.append(f"Returns {render(fn.outputs, out_names.__getitem__)}:")
    for n in dict.fromkeys(fn.leaves):
        lines.append(f"    {out_names[n]}: {_type_text(n, dim_names)}")
    return "\n".join(lines)


def _entry_checks(fn: Function, names: dict[Node, str], dim_names: dict[str, str],
                  state: ModuleState, numbers: bool = False) -> list[str]:
    """One fast test per argument, by identity of class and dtype and by shape (the slow
    path converts what evaluate would accept, or raises a ValueError naming the argument).
    An argument that brings a new symbolic dim binds it, then checks its other dims.
    `numbers`: a scalar argument is made a NumPy number of its dtype (one already is
    passes a single test), for compiled code that takes numbers (codegen/whole.py)."""
    lines: list[str] = []
    origin: dict[str, str] = {}
    for v in fn.inputs:
        a = names[v]
        state.dtypes.add(v.dtype)
        shape = tuple(dim_names[d] if isinstance(d, str) else d for d in v.shape)
        shape_text = fmt_shape(shape)
        new_dims = [(axis, s) for axis, s in enumerate(shape)
                    if isinstance(v.shape[axis], str) and s not in origin
                    and shape.index(s) == axis]
        fast = f"{a}.__class__ is not _ndarray or {a}.dtype is not _{v.dtype}"
        convert = f"{a} = _as_array({a}, {a!r}, {v.dtype!r}, {len(shape)}, {shape_text!r})"
        for _, s in new_dims:
            origin[s] = a
        used = list(dict.fromkeys(s for s in shape if isinstance(s, str)))
        dims_map = "{" + ", ".join(f"{s!r}: {s}" for s in used) + "}"
        origin_map = "{" + ", ".join(f"{s!r}: {origin[s]!r}" for s in used) + "}"
        check = [f"if {a}.shape != {_tuple_text(shape)}:",
                 f"{INDENT}raise _shape_error({a!r}, {a}.shape, {shape_text!r}, {dims_map}, "
                 f"{origin_map})"]
        if not new_dims:
            block = [f"if {fast} or {a}.shape != {_tuple_text(shape)}:", f"{INDENT}{convert}"]
            block += [INDENT + line for line in check]
            if numbers and not shape:
                scalar = "bool_" if v.dtype == "bool" else v.dtype
                block = [f"if {a}.__class__ is not np.{scalar}:"] + \
                    [INDENT + line for line in block] + [f"{INDENT}{a} = {a}[()]"]
            lines.extend(INDENT + line for line in block)
            continue
        lines.append(f"{INDENT}if {fast} or {a}.ndim != {len(shape)}:")
        lines.append(f"{INDENT * 2}{convert}")
        for axis, s in new_dims:
            lines.append(f"{INDENT}{s} = {a}.shape[{axis}]")
        if len(new_dims) < len(shape):
            lines.extend(INDENT + line for line in check)
    return lines


def _dim_bindings(fn: Function, names: dict[Node, str], dim_names: dict[str, str]) \
        -> list[str]:
    """Bind each symbolic dim from the first argument that has it (no checks)."""
    lines, bound = [], set()
    for v in fn.inputs:
        for axis, d in enumerate(v.shape):
            if isinstance(d, str) and d not in bound:
                bound.add(d)
                lines.append(f"{INDENT}{dim_names[d]} = {names[v]}.shape[{axis}]")
    return lines


def _scratch_lines(buffer_plan: Plan, name: str, dims: list[str], dim_names: dict[str, str],
                   state: ModuleState) -> list[str]:
    """Bind the scratch arrays (made on the first call of this thread, and again when the
    symbolic dims change)."""
    cache = f"_{name}_scratch"
    state.scratch_caches.append(cache)
    state.helpers.setdefault(_scratch.__name__, _scratch)
    arrays = []
    for b in buffer_plan.scratch:
        dims_text = tuple(dim_names[d] if isinstance(d, str) else d for d in b.shape)
        dtype = "" if b.dtype == "float64" else \
            f", dtype=np.{'bool_' if b.dtype == 'bool' else b.dtype}"
        if b.fortran:  # the transpose of a row-major array: what NumPy gives for X.T * v
            arrays.append(f"np.empty({_tuple_text(dims_text[::-1])}{dtype}).T")
        else:
            arrays.append(f"np.empty({_tuple_text(dims_text)}{dtype})")
    targets = ", ".join(scratch_name(k) for k in range(len(arrays)))
    targets += "," if len(arrays) == 1 else ""
    call = f"{INDENT}{SCRATCH_SET} = _scratch({cache}, {_tuple_text(tuple(dims))}, lambda: ("
    lines = [f"{INDENT}# scratch arrays, reused from call to call (one set per thread and "
             "call)"]
    one_line = call + ", ".join(arrays) + ("," if len(arrays) == 1 else "") + "))"
    unpack = f"{INDENT}{targets} = {SCRATCH_SET}"
    if len(one_line) <= WIDTH:
        return lines + [one_line, unpack]
    return lines + [call] + [f"{INDENT * 2}{a}," for a in arrays] + [f"{INDENT}))", unpack]


SCRATCH_SET = "_scratch_set"  # the tuple of scratch arrays a call holds until it returns


def _scratch_return_line(name: str, dims: list[str], state: ModuleState) -> str:
    """Give the scratch arrays back to the cache, just before the return (results never
    live in scratch arrays). A call that raises keeps them: the next call makes new ones."""
    state.helpers.setdefault(_scratch_return.__name__, _scratch_return)
    return (f"{INDENT}_scratch_return(_{name}_scratch, {_tuple_text(tuple(dims))}, "
            f"{SCRATCH_SET})")


def scratch_name(k: int) -> str:
    return f"_buf{k + 1}"


def _tuple_text(shape: tuple) -> str:
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _inlined_views(order: list[Node], outputs: list[Node],
                   lowerings: dict[Node, object]) -> dict[Node, Node]:
    """Views (x.T, x[:, None], x.reshape(...)) read once and not returned: written inside
    the statement that reads them rather than as statements of their own."""
    uses: dict[Node, list[Node]] = {}
    for n in order:
        for i in n.inputs:
            uses.setdefault(i, []).append(n)
    returned = set(outputs)
    return {n: uses[n][0] for n in order if n not in returned and len(uses.get(n, [])) == 1
            and is_view(n) and is_postfix(lowerings[n])}


@dataclass
class Scope:
    """How the nodes of one function are spelled: names, the variable each op node is
    printed under, dims, views written inline, module constants."""

    names: dict[Node, str]
    variable: dict[Node, Node]
    dim_names: dict[str, str]
    inlined: dict[Node, Node]
    state: ModuleState
    lowerings: dict[Node, object]  # each node's lowering with its symbolic dims as named
    steps: dict[Node, Step] = field(default_factory=dict)  # the plan's, set by _body

    def arg(self, node: Node, user: Node) -> str:
        """The text of `node` as an operand of `user`."""
        if node.kind == "var":
            return self.names[node]
        if node in self.state.hoisted:
            return self.state.hoisted[node]
        if node.kind == "const":
            if node.value.ndim == 0 and literal_ok(user, node):
                compute = user.dtype if user.dtype != "bool" else _operand_dtype(user)
                return literal(node, compute)
            return self.state.constant(node)
        if node in self.inlined:
            return printer.render(self.lowered(node), self.args(node))
        return self.names[self.variable[node]]

    def args(self, node: Node) -> list[str]:
        return [self.arg(i, node) for i in node.inputs]

    def lowered(self, node: Node) -> object:
        """The lowering as printed: symbolic dims in a `shape` attribute as named locally."""
        if "shape" in node.attrs:
            return printer.lowered(node, self.dim_names)
        return self.lowerings[node]

    def name(self, node: Node) -> str:
        return self.names[self.variable[node]]


def _operand_dtype(node: Node) -> str:
    """The dtype a comparison computes in: NumPy's promotion of its typed operands."""
    from symdiff.shapes import promote

    typed = [i.dtype for i in node.inputs if not (i.kind == "const" and i.value.ndim == 0)]
    return promote(*typed) if typed else "float64"


def _body(buffer_plan: Plan, scope: Scope) -> list[str]:
    lines: list[str] = []
    last_comment = None
    scheduled = {step.node for step in buffer_plan.steps}
    scope.steps = {step.node: step for step in buffer_plan.steps}
    computed: dict[tuple, str] = {}  # multi-output computations already printed
    walked: dict[int, object] = {}  # lowerings searched for helpers (many nodes share one),
    for step in buffer_plan.steps:  # by id, each kept alive so that no id is reused
        n = step.node
        expr = scope.lowered(n)
        if id(expr) not in walked:
            walked[id(expr)] = expr
            for h in helpers(expr):
                scope.state.helpers.setdefault(h.__name__, h)
        if n in scope.inlined:
            continue
        key = group_key(n) if n.op.multi_output else None
        if key not in computed and isinstance(scope.lowerings[n], Call) and \
                isinstance(scope.lowerings[n].fn, LoopCall):  # a scan: its loop function
            used = [k for k in range(n.op.output_count(n.attrs))
                    if group_member(n, k) in scheduled]
            loop = emit_loop(n, used, scope.state, emit_function, docstring)
            scope.lowerings[n] = dataclasses.replace(scope.lowerings[n], fn=loop)
        if key in computed:  # assigned with its multi-output group's first member
            scope.state.statements.setdefault(n, computed[key])
        else:
            comment = _provenance_comment(n, scope.names)
            if comment is not None and comment != last_comment:
                lines.append(f"{INDENT}# {comment}")
            last_comment = comment
            statement = _statement(step, scope, scheduled)
            scope.state.statements[n] = statement
            if key is not None:
                computed[key] = statement
            lines.append(INDENT + statement)
        if step.dels:
            lines.append(f"{INDENT}del {', '.join(scope.names[v] for v in step.dels)}")
    return lines


def _statement(step: Step, scope: Scope, scheduled: set[Node]) -> str:
    n = step.node
    own = scope.name(n)
    args, expr = scope.args(n), scope.lowered(n)
    if n.op.multi_output:  # `w, V = np.linalg.eigh(a)`, `_` for outputs not used here
        members = [group_member(n, k) for k in range(n.op.output_count(n.attrs))]
        targets = [scope.name(m) if m in scheduled else "_" for m in members]
        if takes_output_arrays(n):  # the planned scratch arrays instead of new ones
            given = list(expr.args[-len(members):])
            for k, m in enumerate(members):
                if m in scope.steps and scope.steps[m].scratch is not None:
                    given[k] = Name(scratch_name(scope.steps[m].scratch))
            expr = dataclasses.replace(expr, args=expr.args[:-len(members)] + tuple(given))
        return f"{', '.join(targets)} = {printer.render(expr, args)}"
    target = args[step.inplace] if step.inplace is not None else \
        scope.name(step.recycle) if step.recycle is not None else \
        scratch_name(step.scratch) if step.scratch is not None else None
    if step.takeover is not None:
        aug = augmented(n, expr, args, step.inplace)
        if aug is not None:
            return aug
        if printer.returns_out(expr):  # else a helper may return a new array instead
            return printer.render(expr, args, out=target)
    return f"{own} = {printer.render(expr, args, out=target)}"


def _provenance_comment(n: Node, names: dict[Node, str]) -> str | None:
    prov = n.provenance
    if prov is None:
        return None

    def nm(x: Node) -> str:
        if x in names:
            return names[x]
        if x.label is not None:
            return sanitize(x.label)
        return _comment_text(x.op.name) if x.op is not None else "constant"

    rule = _comment_text(prov.rule)
    if prov.kind == "vjp":
        return f"d({nm(prov.of)})/d({nm(prov.target)}) via {rule}"
    return f"tangent of {nm(prov.target)} via {rule}"
