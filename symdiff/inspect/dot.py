"""The graph as networkx and Graphviz: `to_networkx`, `to_dot`, `render`, notebook SVG.

Node keys are the listing's short ids ('%7'), so a picture, a networkx query and
`sd.show` all name a node the same way. Forward ops are white ellipses, derivative ops
orange dashed boxes, variables blue boxes, constants grey; every edge carries the
argument position it feeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import write_atomic
from ..errors import SymdiffError
from ..graph import Node
from .naming import Numbering, constant_summary, format_attrs, is_scalar_constant, number

if TYPE_CHECKING:
    import networkx as nx
    import pydot

SVG_NODE_LIMIT = 400  # notebooks draw graphs up to this many nodes; larger ones print as text
RENDER_FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`; "
                "sd.to_dot(...) gives the DOT text without it")

STYLE = {
    "var": {"shape": "box", "style": "filled", "fillcolor": "#dbeafe", "color": "#1d4ed8"},
    "const": {"shape": "box", "style": "filled,dotted", "fillcolor": "#f3f4f6",
              "color": "#6b7280"},
    "scalar": {"shape": "plaintext", "fontsize": "10", "fontcolor": "#4b5563"},
    "forward": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffffff",
                "color": "#111827"},
    "derivative": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#ffedd5",
                   "color": "#c2410c"},
}
DERIVATIVE_EDGE = {"color": "#c2410c"}
LEGEND = ("blue: variables   grey: constants   white ellipses: forward ops   "
          "orange dashed: derivative ops   purple clusters: loop bodies   "
          "edge labels: argument position")


class GraphvizNotFoundError(SymdiffError, FileNotFoundError):
    """Graphviz's `dot` program is needed (for render and notebook pictures) but missing."""


def _node_label(numbering: Numbering, node: Node) -> str:
    """The text drawn in a node: id and name, op and attributes, type, and for a derivative
    node the derivative it belongs to."""
    head = f"{numbering.ids[node]} {numbering.name_of(node)}".rstrip()
    if node.kind == "var":
        return f"{head}\n{node.type}"
    if node.kind == "const":
        return f"{head} const\n{node.type}\n{constant_summary(node.value)}"
    op_line = " ".join([node.op.name] + format_attrs(node.attrs))
    lines = [head, op_line, str(node.type)]
    if node.is_derivative:
        lines.append(numbering.what(node))
    return "\n".join(lines)


def _kind_key(node: Node) -> str:
    if node.kind == "op":
        return "derivative" if node.is_derivative else "forward"
    return node.kind


def _graph(numbering: Numbering) -> nx.DiGraph:
    import networkx as nx

    g = nx.DiGraph(outputs=[numbering.ids[r] for r in numbering.roots])
    for node in numbering.order:
        ident = numbering.ids[node]
        prov = node.provenance
        g.add_node(
            ident,
            op=node.op.name if node.op is not None else node.kind,
            kind=node.kind,
            shape=node.shape,
            dtype=node.dtype,
            derivative=node.is_derivative,
            provenance=numbering.describe(node) if prov is not None else "",
            rule=prov.rule if prov is not None else "",
            name=node.name or node.label or "",
            attrs=", ".join(format_attrs(node.attrs)),
            label=_node_label(numbering, node) if not is_scalar_constant(node)
            else numbering.ref(node),
        )
        for position, inp in enumerate(node.inputs):
            source = numbering.ids[inp]
            if g.has_edge(source, ident):
                args = g.edges[source, ident]["args"] + (position,)
            else:
                args = (position,)
            g.add_edge(source, ident, args=args, label=",".join(str(a) for a in args))
    return g


def to_networkx(nodes: Node | Sequence[Node]) -> nx.DiGraph:
    """The graph below `nodes` as a networkx DiGraph keyed by the listing's ids ('%7').

    Node attributes: op, kind ('var', 'const', 'op'), shape, dtype, derivative (bool),
    provenance (text, '' for forward nodes), rule, name, attrs (text) and label. An edge
    u -> v has `args`, the tuple of v's argument positions that u fills (x * x gives one
    edge with args (0, 1)), and `label`, the same as text ('0,1'). The graph attribute
    `outputs` lists the ids of `nodes`. (For a graph keyed by the Node objects themselves,
    with one edge per argument, use symdiff.graph.to_digraph.)
    """
    return _graph(number(nodes))


def quote(text: str) -> str:
    """A DOT double-quoted string that Graphviz shows as `text` verbatim: backslashes and
    quotes escaped (so no user name can start an escape such as \\N or end the string),
    & written &amp; (Graphviz decodes character entities in labels), newlines turned into
    DOT's centred line breaks."""
    escaped = (text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
               .replace("\r", ""))
    return '"' + escaped.replace("\n", "\\n") + '"'


def to_pydot(nodes: Node | Sequence[Node]) -> pydot.Dot:
    """The graph as a pydot.Dot (see to_dot for the drawing conventions)."""
    import pydot

    numbering = number(nodes)
    g = _graph(numbering)
    dot = pydot.Dot("symdiff", graph_type="digraph")
    dot.set("label", quote(LEGEND))
    dot.set("labelloc", "b")
    dot.set("fontsize", "10")
    dot.set("fontname", "Helvetica")
    dot.set_node_defaults(fontname="Helvetica", fontsize="11")
    dot.set_edge_defaults(fontname="Helvetica", fontsize="9", arrowsize="0.6")
    outputs = set(g.graph["outputs"])
    serial = {ident: f"n{i}" for i, ident in enumerate(g.nodes)}
    by_id = {numbering.ids[n]: n for n in numbering.order}
    for ident, data in g.nodes(data=True):
        node = by_id[ident]
        if is_scalar_constant(node) and ident not in outputs:
            continue  # drawn next to each user instead, see below
        style = dict(STYLE[_kind_key(node)])
        if ident in outputs:
            style["peripheries"] = "2"
        tooltip = data["provenance"] or data["label"]
        dot.add_node(pydot.Node(serial[ident], label=quote(data["label"]),
                                tooltip=quote(tooltip), **style))
    for source, target, data in g.edges(data=True):
        node, user = by_id[source], by_id[target]
        edge_style = DERIVATIVE_EDGE if user.is_derivative else {}
        for position in data["args"]:
            tail = serial[source]
            if is_scalar_constant(node) and source not in outputs:
                # a scalar constant is drawn once per use, so shared 0.0s and 1.0s do not
                # pull edges across the whole picture
                tail = f"{serial[target]}_arg{position}"
                dot.add_node(pydot.Node(tail, label=quote(g.nodes[source]["label"]),
                                        **STYLE["scalar"]))
            dot.add_edge(pydot.Edge(tail, serial[target], label=quote(str(position)),
                                    **edge_style))
    _add_loops(dot, numbering, serial)
    return dot


LOOP_STYLE = {"style": "rounded,dashed", "color": "#7c3aed", "fontcolor": "#7c3aed"}
LOOP_EDGE = {"style": "dotted", "color": "#7c3aed", "fontcolor": "#7c3aed"}


def _add_loops(dot: pydot.Dot, numbering: Numbering, serial: dict[str, str]) -> None:
    """Each loop (scan) once, as a cluster holding its body: dotted edges bring the loop's
    operands to the body's placeholders (init, x[t], closed-over values) and its next
    carry and ys to the loop's outputs in the picture."""
    import pydot

    from ..loops.body import Body
    from ..ops.base import group_key, group_member

    drawn: set[tuple] = set()
    for node in numbering.order:
        body = next((v for v in node.attrs.values() if isinstance(v, Body)), None) \
            if node.kind == "op" else None
        if body is None or group_key(node) in drawn:
            continue
        drawn.add(group_key(node))
        prefix = f"loop{len(drawn)}_"
        outputs = list(body.carry_out) + list(body.ys)
        inner = number(outputs) if outputs else None
        steps = node.attrs.get("length")
        cluster = pydot.Cluster(f"loop{len(drawn)}", label=quote(
            f"loop {body.name}: {steps} steps" +
            (" from the last" if node.attrs.get("reverse") else "")), **LOOP_STYLE)
        ids = {} if inner is None else {n: prefix + inner.ids[n].lstrip("%")
                                        for n in inner.order}
        for n in [] if inner is None else inner.order:
            if is_scalar_constant(n) and n not in outputs:
                continue
            cluster.add_node(pydot.Node(ids[n], label=quote(_node_label(inner, n)),
                                        **STYLE[_kind_key(n)]))
        dot.add_subgraph(cluster)
        for n in [] if inner is None else inner.order:
            for position, inp in enumerate(n.inputs):
                if inp in ids and not (is_scalar_constant(inp) and inp not in outputs):
                    dot.add_edge(pydot.Edge(ids[inp], ids[n], label=quote(str(position))))
        roles = ["init"] * len(body.carry) + ["x[t]"] * len(body.xs) + \
            ["closed"] * len(body.closed)
        for p, operand, role in zip(body.placeholders, node.inputs, roles, strict=True):
            source = numbering.ids.get(operand)
            if p in ids and source in serial and not is_scalar_constant(operand):
                dot.add_edge(pydot.Edge(serial[source], ids[p], label=quote(role),
                                        **LOOP_EDGE))
        nc = len(body.carry)
        for index, out in enumerate(outputs):
            member = numbering.ids.get(group_member(node, index))
            if member in serial and out in ids:
                role = "final carry" if index < nc else "ys"
                dot.add_edge(pydot.Edge(ids[out], serial[member], label=quote(role),
                                        **LOOP_EDGE))


def to_dot(nodes: Node | Sequence[Node]) -> str:
    """The graph as Graphviz DOT text. Forward ops are white ellipses, derivative ops orange
    dashed boxes (their label says which derivative they belong to, their tooltip the rule
    and the forward node), variables blue boxes, array constants grey boxes, scalar
    constants plain text drawn at each use; outputs have a double border; each edge is
    labelled with the argument position it feeds."""
    return to_pydot(nodes).to_string()


def dot_program() -> str:
    """The path of Graphviz's `dot`, or a GraphvizNotFoundError saying how to install it."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizNotFoundError(f"Graphviz's `dot` program is not on PATH; {INSTALL_HINT}")
    return path


def render_bytes(nodes: Node | Sequence[Node], fmt: str = "svg") -> bytes:
    """The picture of the graph in `fmt` (svg, png, pdf), drawn by Graphviz's `dot`."""
    if fmt not in RENDER_FORMATS or fmt == "dot":
        raise SymdiffError(f"cannot draw format {fmt!r}; use one of svg, png, pdf")
    source = to_dot(nodes).encode("utf-8")
    program = dot_program()
    result = subprocess.run([program, f"-T{fmt}"], input=source, capture_output=True,
                            check=False)
    if result.returncode != 0:
        raise SymdiffError(f"Graphviz's dot failed ({result.returncode}): "
                           f"{result.stderr.decode('utf-8', 'replace').strip()[:500]}")
    return result.stdout


def render(nodes: Node | Sequence[Node], path: str | os.PathLike, *,
           format: str | None = None) -> Path:  # noqa: A002 - the word users expect
    """Draw the graph into a file; the format comes from the suffix (.svg, .png, .pdf, or
    .dot for the DOT text) unless `format` is given. Returns the path written."""
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt not in RENDER_FORMATS:
        raise SymdiffError(f"cannot tell the picture format of {str(target)!r}: use a "
                           f".svg, .png, .pdf or .dot file name, or pass format=")
    data = to_dot(nodes) if fmt == "dot" else render_bytes(nodes, fmt)
    write_atomic(target, data)  # a failed write leaves an existing picture whole
    return target


def repr_svg(node: Node) -> str | None:
    """SVG for a notebook's display of a node: None without Graphviz or for a graph too
    large to draw legibly (the text repr is shown instead)."""
    if shutil.which("dot") is None:
        return None
    count = 0
    stack, seen = [node], {node}
    while stack:
        count += 1
        if count > SVG_NODE_LIMIT:
            return None
        for inp in stack.pop().inputs:
            if inp not in seen:
                seen.add(inp)
                stack.append(inp)
    try:
        return render_bytes(node, "svg").decode("utf-8")
    except SymdiffError:
        return None
