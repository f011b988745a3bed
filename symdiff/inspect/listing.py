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
    as_roots,
    constant_summary,
    format_attrs,
    is_scalar_constant,
    number,
    section_of,
)

COMMENT_COLUMN_MAX = 72  # comments line up, unless the code part is longer than this


def show(nodes: Node | Sequence[Node], *, only: Node | Sequence[Node] | None = None,
         depth: int | None = None) -> str:
    """The graph below `nodes` as text, one line per node in schedule order.

    `only`: list just the nodes that feed these outputs (ids stay those of the full
    listing). `depth`: list just the nodes at most that many edges above the outputs;
    deeper op nodes are still referenced, written `%3:matmul`.
    """
    numbering = number(nodes)
    roots = numbering.roots
    if only is not None:
        targets = as_roots(only, "only=")
        for t in targets:
            if t not in numbering.ids:
                raise SymdiffError(f"only=: {t.display_name} is not part of the graph "
                                   "being shown")
        roots = targets
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise SymdiffError(f"depth= must be a non-negative int, got {depth!r}")
    shown = set(topo_order(roots)) if depth is None else _within(roots, depth)
    return _render(numbering, roots, shown, depth)


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
    for node in numbering.order:
        if node not in shown or (is_scalar_constant(node) and node not in roots):
            continue
        section = section_of(node, numbering.phase)
        head = numbering.ids[node]
        name = numbering.name_of(node)
        code = _code(node, ref)
        comment = numbering.describe(node) if node.is_derivative else ""
        rows.append((section, f"{head:<{id_w}}  {name}".rstrip(), str(node.type), code, comment))

    head_w = max((len(r[1]) for r in rows), default=0)
    type_w = max((len(r[2]) for r in rows), default=0)
    lines: list[str] = []
    bodies = [f"{r[1]:<{head_w}} : {r[2]:<{type_w}}{' = ' + r[3] if r[3] else ''}"
              for r in rows]
    code_w = min(max((len(b) for b, r in zip(bodies, rows, strict=True) if r[4]), default=0),
                 COMMENT_COLUMN_MAX)
    section = None
    for body, row in zip(bodies, rows, strict=True):
        if row[0] != section:
            section = row[0]
            lines.append(f"-- {section} --")
        line = body.rstrip() if not row[4] else f"{body:<{code_w}}  # {row[4]}"
        lines.append(line)
    lines.append("-- outputs --")
    lines.extend(_output_text(numbering, r) for r in roots)
    reach = set(topo_order(roots))
    hidden = sum(1 for n in reach if n not in shown and not is_scalar_constant(n))
    if depth is not None and hidden:
        lines.append(f"# {hidden} deeper node{'s' * (hidden != 1)} not shown (depth={depth})")
    return "\n".join(lines) + "\n"


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
