"""A scan node lowered to two generated functions: the loop, which preallocates the stacked
outputs once and runs a Python `for` over the steps, and the body, one step as ordinary
generated code (its temporaries planned, and reused, like any function's), called with no
argument checks. Only the outputs something reads are stacked (the residuals a reverse
pass needs are stored only when there is one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from symdiff.graph import Node
from symdiff.loops.body import Body

from .function import Function
from .naming import Namer

if TYPE_CHECKING:
    from .emit import ModuleState

INDENT = "    "
# A body's temporaries of this size or more are scratch arrays: allocated once, reused by
# every step (and every call), instead of a fresh array per step.
BODY_SCRATCH_BYTES = 1


def emit_loop(node: Node, used: list[int], state: ModuleState, emit_function: Callable,
              docstring: Callable[[str, str], str]) -> str:
    """The name of the loop function computing `node`'s group (outputs `used`), emitted
    into the module once per group and used set; `emit_function` and `docstring` are the
    emitter's (passed in, so that this module does not import it back)."""
    from symdiff.ops.base import group_key

    key = (group_key(node), tuple(used))
    if key not in state.loops:
        name = f"_{_base(node.attrs['body'])}{len(state.loops) + 1}"
        state.loops[key] = name
        state.loop_sources.append(_loop_source(node, used, name, state, emit_function,
                                               docstring))
    return state.loops[key]


def _base(body: Body) -> str:
    from .naming import sanitize

    return sanitize(body.name, "scan")


def _loop_source(node: Node, used: list[int], name: str, state: ModuleState,
                 emit_function: Callable, docstring: Callable[[str, str], str]) -> str:
    body: Body = node.attrs["body"]
    length, reverse, checkpoint = node.attrs["length"], node.attrs["reverse"], \
        node.attrs["checkpoint"]
    nc, nx, ny = len(body.carry), len(body.xs), len(body.ys)
    namer = Namer({"t", "steps"})
    args = [namer.fresh(p.name or "arg", "arg") for p in body.placeholders]
    carry, xs = args[:nc], args[nc:nc + nx]
    used_set = set(used)
    stacked: list[tuple[int, Node]] = [(nc + j, y) for j, y in enumerate(body.ys)]
    if not checkpoint:
        stacked += [(nc + ny + j, r) for j, r in enumerate(body.residuals)]
    stacked = [(k, n) for k, n in stacked if k in used_set]
    kept = [(nc + ny + i, c) for i, c in enumerate(body.carry)] if checkpoint else []
    kept = [(k, c) for k, c in kept if k in used_set]
    lines = [f"def {name}({', '.join(args)}):",
             docstring(f"The loop of scan {body.name}: {length} steps"
                       f"{' from the last' if reverse else ''}; one step is "
                       f"{name}_body.", INDENT)]
    if isinstance(length, int):
        lines.append(f"{INDENT}steps = {length}")
    elif xs:
        lines.append(f"{INDENT}steps = {xs[0]}.shape[0]")
    else:
        raise ValueError(f"scan {body.name}: a loop of symbolic length {length!r} with no "
                         "sequence to read it from")
    dims = _dim_sources(body, args)
    wanted = [d for _, n in stacked + kept for d in n.shape if isinstance(d, str)]
    dim_text: dict[str, str] = {}
    for d in dict.fromkeys(wanted):
        if d == length:
            dim_text[d] = "steps"
            continue
        if d not in dims:
            raise ValueError(f"scan {body.name}: symbolic dim {d!r} of a stacked output is "
                             "not the size of any operand")
        local = namer.fresh(d, "dim")
        lines.append(f"{INDENT}{local} = {dims[d]}")
        dim_text[d] = local

    def shape_text(lead: str, node: Node) -> str:
        parts = [lead] + [dim_text[d] if isinstance(d, str) else str(d) for d in node.shape]
        return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"

    out_name: dict[int, str] = {}
    for k, n in stacked:
        out_name[k] = namer.fresh(f"{n.name or n.label or 'ys'}_steps", "ys")
        lines.append(f"{INDENT}{out_name[k]} = np.empty({shape_text('steps', n)}, "
                     f"dtype=np.{_np_dtype(n.dtype)})")
    if checkpoint:
        lines.append(f"{INDENT}stored = (steps + {checkpoint - 1}) // {checkpoint}")
    for k, c in kept:
        out_name[k] = namer.fresh(f"{c.name}_kept", "kept")
        lines.append(f"{INDENT}{out_name[k]} = np.empty({shape_text('stored', c)}, "
                     f"dtype=np.{_np_dtype(c.dtype)})")
    if carry and (length == 0 or not isinstance(length, int)):
        # a loop of no steps returns its init: a copy, as every result is fresh memory
        prefix = INDENT
        if not isinstance(length, int):
            lines.append(f"{INDENT}if steps == 0:")
            prefix = INDENT * 2
        lines.extend(f"{prefix}{c} = {c}.copy()" for c in carry)
    # the body returns the next carries, then the stacked values it computes (a carry
    # stored as a residual is stored from the loop's own variable before the step)
    carry_index = {c: i for i, c in enumerate(body.carry)}
    from_carry = [(k, carry_index[n]) for k, n in stacked if n in carry_index]
    computed = [(k, n) for k, n in stacked if n not in carry_index]
    results = list(dict.fromkeys(list(body.carry_out) + [n for _, n in computed]))
    body_name = f"{name}_body"
    fn = Function(body_name, body.placeholders, tuple(results),
                  doc=f"One step of scan {body.name}.")
    state.loop_sources.append(emit_function(fn, state, body_name, checks=False,
                                            scratch_bytes=BODY_SCRATCH_BYTES))
    step_names = {}
    for n in results:
        if n in body.carry_out:
            step_names[n] = carry[body.carry_out.index(n)]
        else:
            step_names[n] = namer.fresh(f"{n.name or n.label or 'y'}_t", "y")
    # a value that is both a next carry and a stacked y has the carry's name
    steps_range = "range(steps - 1, -1, -1)" if reverse else "range(steps)"
    lines.append(f"{INDENT}for t in {steps_range}:")
    if checkpoint and kept:
        lines.append(f"{INDENT * 2}if t % {checkpoint} == 0:")
        for k, c in kept:
            lines.append(f"{INDENT * 3}{out_name[k]}[t // {checkpoint}] = {carry[carry_index[c]]}")
    for k, i in from_carry:
        lines.append(f"{INDENT * 2}{out_name[k]}[t] = {carry[i]}")
    call_args = [carry_arg for carry_arg in carry] + [f"{x}[t]" for x in xs] + args[nc + nx:]
    targets = [step_names[n] for n in results]
    if targets:
        lines.append(f"{INDENT * 2}{', '.join(targets)}{',' if len(targets) == 1 else ''} = "
                     f"{body_name}({', '.join(call_args)})")
    for k, n in computed:
        lines.append(f"{INDENT * 2}{out_name[k]}[t] = {step_names[n]}")
    count = nc + ny + (nc if checkpoint else len(body.residuals))
    returned = [carry[k] if k < nc else out_name.get(k, "None") for k in range(count)]
    lines.append(f"{INDENT}return ({', '.join(returned)}{',' if count == 1 else ''})")
    from .layout import wrap

    return "\n".join([lines[0], lines[1]] + [w for line in lines[2:] for w in wrap(line)]) \
        + "\n"


def _dim_sources(body: Body, args: list[str]) -> dict[str, str]:
    """Where each symbolic dim of the body's placeholders can be read from the operands."""
    nc, nx = len(body.carry), len(body.xs)
    found: dict[str, str] = {}
    for k, (p, a) in enumerate(zip(body.placeholders, args, strict=True)):
        offset = 1 if nc <= k < nc + nx else 0
        for axis, d in enumerate(p.shape):
            if isinstance(d, str):
                found.setdefault(d, f"{a}.shape[{axis + offset}]")
    return found


def _np_dtype(dtype: str) -> str:
    return "bool_" if dtype == "bool" else dtype
