"""The text listing of a graph (`sd.show`): one line per node, forward and derivative parts
in their own sections, every derivative line saying what it is and where it came from.

    -- inputs --
    %0  X : float64[n, 2]
    -- forward --
    %6    : float64[n, 2] = matmul(X, W)
    -- derivative --
    %20   : float64[2, 2] = matmul(%19, %18)   # ∂loss/∂W, via matmul.vjp[arg 1] at %6
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from ..errors import SymdiffError
from ..graph import Node, topo_order
from .naming import (
    Numbering,
    constant_summary,
    format_attrs,
    is_scalar_constant,
    number,
    section_of,
)

COMMENT_COLUMN_MAX = 72  # comments line up, unless the code part is longer than this


SECTIONS = ("inputs", "forward", "derivative")


def show(nodes: Node | Sequence[Node], *,
         only: Node | str | Sequence[Node | str] | None = None, depth: int | None = None,
         part: str | None = None) -> str:
    """The graph below `nodes` as text, one line per node in schedule order.

    `only`: list just the nodes that feed these outputs, given as nodes or by their ids in
    the full listing ("%7"; ids stay those of the full listing). `depth`: list just the
    nodes at most that many edges above the outputs; deeper op nodes are still referenced,
    written `%3:matmul`. `part`: list one section only ("forward" or "derivative"), as
    a big derivative listing is read.
    """
    numbering = number(nodes)
    roots = numbering.roots
    if only is not None:
        roots = _targets(numbering, only)
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise SymdiffError(f"depth= must be a non-negative int, got {depth!r}")
    if part is not None and part not in SECTIONS:
        raise SymdiffError(f"part= must be one of {', '.join(SECTIONS)}, got {part!r}")
    shown = set(topo_order(roots)) if depth is None else _within(roots, depth)
    if part is not None:
        shown = {n for n in shown if section_of(n, numbering.phase) == part}
    return _render(numbering, roots, shown, depth)


def _targets(numbering: Numbering, only: object) -> list[Node]:
    """The nodes `only=` names: nodes of the graph, or ids such as "%7"."""
    items = list(only) if isinstance(only, (list, tuple)) else [only]
    by_id = {ident: node for node, ident in numbering.ids.items()}
    targets = []
    for item in items:
        if isinstance(item, str):
            ident = item if item.startswith("%") else f"%{item}"
            if ident not in by_id:
                raise SymdiffError(f"there is no node {ident} in the listing (ids %0 to "
                                   f"%{len(by_id) - 1})")
            targets.append(by_id[ident])
        elif not isinstance(item, Node):
            raise SymdiffError(f"only= takes symdiff nodes or listing ids such as '%7', got "
                               f"{type(item).__name__}: {item!r}"[:200])
        else:
            node = item
            if node not in numbering.ids:
                raise SymdiffError(f"only=: {node.display_name} is not part of the graph "
                                   "being shown")
            targets.append(node)
    return targets


def _within(roots: Sequence[Node], depth: int) -> set[Node]:
    """Nodes at most `depth` edges above one of the roots (breadth-first, shortest path)."""
    distance = {r: 0 for r in roots}
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        if distance[node] == depth:
            continue
        for inp in node.inputs:
            if inp not in distance:
                distance[inp] = distance[node] + 1
                queue.append(inp)
    return set(distance)


def _render(numbering: Numbering, roots: Sequence[Node], shown: set[Node],
            depth: int | None) -> str:
    def ref(node: Node) -> str:
        text = numbering.ref(node)
        if node not in shown and node.kind == "op" and text == numbering.ids.get(node):
            return f"{text}:{node.op.name}"
        return text

    id_w = max((len(numbering.ids[n]) for n in numbering.order if n in shown), default=0)
    rows: list[tuple[str, str, str, str, str]] = []  # section, head, type, code, comment
    blocks: dict[int, list[str]] = {}  # row -> the indented body listed under it (loops)
    loops: set[tuple] = set()  # loops whose body is listed already
    for node in numbering.order:
        if node not in shown or (is_scalar_constant(node) and node not in roots):
            continue
        section = section_of(node, numbering.phase)
        head = numbering.ids[node]
        name = numbering.name_of(node)
        code = _code(node, ref)
        comment = numbering.describe(node) if node.is_derivative else ""
        rows.append((section, f"{head:<{id_w}}  {name}".rstrip(), str(node.type), code, comment))
        blocks[len(rows) - 1] = _loop_block(node, loops)

    head_w = max((len(r[1]) for r in rows), default=0)
    type_w = max((len(r[2]) for r in rows), default=0)
    lines: list[str] = []
    bodies = [f"{r[1]:<{head_w}} : {r[2]:<{type_w}}{' = ' + r[3] if r[3] else ''}"
              for r in rows]
    code_w = min(max((len(b) for b, r in zip(bodies, rows, strict=True) if r[4]), default=0),
                 COMMENT_COLUMN_MAX)
    section = None
    for k, (body, row) in enumerate(zip(bodies, rows, strict=True)):
        if row[0] != section:
            section = row[0]
            lines.append(f"-- {section} --")
        line = body.rstrip() if not row[4] else f"{body:<{code_w}}  # {row[4]}"
        lines.append(line)
        lines.extend(blocks.get(k, ()))
    lines.append("-- outputs --")
    lines.extend(_output_text(numbering, r) for r in roots)
    reach = set(topo_order(roots))
    hidden = sum(1 for n in reach if n not in shown and not is_scalar_constant(n))
    if depth is not None and hidden:
        lines.append(f"# {hidden} deeper node{'s' * (hidden != 1)} not shown (depth={depth})")
    return "\n".join(lines) + "\n"


LOOP_INDENT = "    | "


def _loop_block(node: Node, listed: set[tuple]) -> list[str]:
    """The body of a loop (a scan node), listed once per loop under its first output's
    line: its placeholders as inputs, its nodes with their provenance, and which of them
    are the next carry and the ys. Its ids are its own (`%0` again)."""
    from ..loops.body import Body
    from ..ops.base import group_key

    body = next((v for v in node.attrs.values() if isinstance(v, Body)), None) \
        if node.kind == "op" else None
    if body is None or group_key(node) in listed:
        return []
    listed.add(group_key(node))
    outputs = list(body.carry_out) + list(body.ys)
    steps = node.attrs.get("length")
    order = " from the last step" if node.attrs.get("reverse") else ""
    names = ", ".join(p.name for p in body.carry)
    head = [f"{LOOP_INDENT[:-2]}loop {body.name}: {steps} steps{order}; carry ({names}), "
            f"x ({', '.join(p.name for p in body.xs)}) = slices of the sequences, closed "
            f"({', '.join(p.name for p in body.closed)})"]
    if not outputs:
        return head
    inner = show(outputs).rstrip("\n").split("\n")
    numbering = number(outputs)
    carries = ", ".join(numbering.ids[o] for o in body.carry_out)
    ys = ", ".join(numbering.ids[o] for o in body.ys)
    cut = inner.index("-- outputs --")
    tail = f"-- next carry {carries or '(none)'}; ys {ys or '(none)'} --"
    return head + [LOOP_INDENT + line for line in inner[:cut] + [tail]]


def _output_text(numbering: Numbering, node: Node) -> str:
    """An output's id, with its name, or for a derivative what it is the derivative of."""
    ident = numbering.ids[node]
    ref = numbering.ref(node)
    if ref != ident:
        return f"{ident}  {ref}"
    if node.is_derivative:
        return f"{ident}  {numbering.what(node)}"
    return ident


def _code(node: Node, ref) -> str:
    """The right-hand side of a node's line: `op(args, attrs)`, or a constant's value."""
    if node.kind == "var":
        return ""
    if node.kind == "const":
        return f"const {constant_summary(node.value)}"
    parts = [ref(i) for i in node.inputs] + format_attrs(node.attrs)
    return f"{node.op.name}({', '.join(parts)})"
