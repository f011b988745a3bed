"""The interactive graph page (`sd.to_html`, `symdiff show --format html`): one
self-contained HTML file, inline CSS and JS, no network.

The page draws the graph (laid out by Graphviz's `dot` when it is installed, else by the
layered layout below) and lets a reader collapse the forward and derivative parts, click a
node to see its op, type, provenance and the generated statement computing it, search
nodes by name, and highlight every node on the paths from a parameter to an output.

All user text reaches the page as JSON in a `<script type="application/json">` block with
`<`, `>` and `&` written as \\u escapes (so no name can close the script), and the page's
script puts it into the DOM as text, never as markup.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import write_atomic
from ..errors import SymdiffError
from ..graph import Node
from .naming import (
    Numbering,
    constant_summary,
    format_attrs,
    is_scalar_constant,
    number,
    section_of,
)
from .page_assets import PAGE_CSS, PAGE_JS

HTML_NODE_LIMIT = 1500  # notebooks show the page inline up to this many drawn nodes
LAYOUTS = ("auto", "graphviz", "layered")
DOT_TIMEOUT = 10.0  # seconds; a slower Graphviz run falls back to the layered layout
GRAPHVIZ_NODE_LIMIT = 300  # 'auto' lays bigger graphs out itself (dot takes minutes on 800)
CHAR_W, NODE_H, GAP_X, GAP_Y = 7.0, 34.0, 24.0, 46.0


def _label_lines(numbering: Numbering, node: Node) -> list[str]:
    """The two short lines drawn in a node: id and name, then op (or the type of a leaf)."""
    head = f"{numbering.ids[node]} {numbering.name_of(node)}".rstrip()
    if node.kind == "op":
        return [head, node.op.name]
    return [head, str(node.type)]


def _code(numbering: Numbering, node: Node) -> str:
    if node.kind == "var":
        return f"variable {node.type}"
    if node.kind == "const":
        return f"const {constant_summary(node.value)}"
    parts = [numbering.ref(i) for i in node.inputs] + format_attrs(node.attrs)
    return f"{node.op.name}({', '.join(parts)})"


def _statements(numbering: Numbering) -> tuple[dict[Node, str], str, str]:
    """Each node's generated statement, the module text, and '' or why there is none."""
    try:
        import codegen

        variables = [n for n in numbering.order if n.kind == "var"]
        fn = codegen.Function("graph", variables, tuple(numbering.roots))
        found: dict[Node, str] = {}
        source = codegen.emit_module([fn], title="The graph shown on this page",
                                     statements=found)
    except Exception as err:  # noqa: BLE001 - the page stays useful without the source
        return {}, "", f"no generated source: {type(err).__name__}: {err}"[:300]
    return found, source, ""


def _line_numbers(source: str, statements: dict[Node, str]) -> dict[Node, int]:
    """The 1-based line where each statement starts, scanning the module in order (module
    level constants, then function bodies)."""
    from codegen.layout import wrap

    lines = source.split("\n")
    where: dict[Node, int] = {}
    seen: dict[str, int] = {}
    at = 0
    for node, text in statements.items():
        if text in seen:  # one statement computing several outputs
            where[node] = seen[text]
            continue
        first = {wrap("    " + text)[0], wrap(text)[0]}  # in a function, or module level
        for k in range(at, len(lines)):
            if lines[k] in first:
                where[node] = seen[text] = k + 1
                at = k + 1
                break
    return where


def _no_statement(node: Node) -> str:
    if node.kind == "var":
        return "a function argument: no statement of its own"
    if node.kind == "const":
        return "a constant: written inline or as a module constant, no statement of its own"
    return ("no statement of its own: written inline in the statement that uses it (a view "
            "read once), or not needed by the generated function")


def graph_data(nodes: Node | Sequence[Node], *, layout: str = "auto",
               source: bool = True) -> dict[str, Any]:
    """The page's data: nodes (with positions), edges, outputs, the generated module."""
    if layout not in LAYOUTS:
        raise SymdiffError(f"layout= must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    numbering = number(nodes)
    roots = set(numbering.roots)
    drawn = [n for n in numbering.order if not is_scalar_constant(n) or n in roots]
    index = {n: k for k, n in enumerate(drawn)}
    statements, module, why = _statements(numbering) if source else ({}, "", "")
    lines = _line_numbers(module, statements) if module else {}
    items = []
    for node in drawn:
        prov = node.provenance
        item: dict[str, Any] = {
            "id": numbering.ids[node],
            "name": node.name if node.name is not None else (node.label or ""),
            "kind": node.kind,
            "op": node.op.name if node.op is not None else node.kind,
            "section": section_of(node, numbering.phase),
            "type": str(node.type),
            "shape": "(" + ", ".join(str(d) for d in node.shape) +
                     ("," if len(node.shape) == 1 else "") + ")",
            "dtype": node.dtype,
            "code": _code(numbering, node),
            "label": _label_lines(numbering, node),
            "in": [index[i] for i in node.inputs if i in index],
        }
        if node in roots and not item["name"] and prov is not None:
            item["name"] = numbering.what(node)  # an unnamed output: the derivative it is
        if prov is not None:
            constant = node in numbering.var_free
            item["prov"] = {
                "what": numbering.what(node),
                "text": numbering.describe(node),
                "rule": "" if constant else prov.rule,
                "kind": prov.kind,
                "forward": -1 if constant else index.get(prov.forward, -1),
                "forward_text": "" if constant else numbering.ref(prov.forward),
            }
        if node in statements:
            item["src"] = {"text": statements[node], "line": lines.get(node, 0)}
        else:
            item["nosrc"] = why or _no_statement(node)
        items.append(item)
    _place(items, layout)
    return {
        "nodes": items,
        "outputs": [index[r] for r in numbering.roots if r in index],
        "module": module,
        "counts": {s: sum(1 for i in items if i["section"] == s)
                   for s in ("inputs", "forward", "derivative")},
    }


def _size(item: dict[str, Any]) -> tuple[float, float]:
    return max(40.0, CHAR_W * max(len(t) for t in item["label"]) + 16.0), NODE_H


def _place(items: list[dict[str, Any]], layout: str) -> None:
    """Give every item x, y (centre), w, h: by Graphviz when asked, or for 'auto' when it
    is installed and the graph is small enough for it to be quick; else by the layered
    layout."""
    small = len(items) <= GRAPHVIZ_NODE_LIMIT
    if (layout == "graphviz" or (layout == "auto" and small)) and shutil.which("dot"):
        try:
            _place_graphviz(items)
            return
        except (OSError, SymdiffError, subprocess.TimeoutExpired, ValueError):
            if layout == "graphviz":
                raise
    elif layout == "graphviz":
        from .dot import dot_program

        dot_program()  # raises the install hint
    _place_layered(items)


def _place_graphviz(items: list[dict[str, Any]]) -> None:
    """Positions and edge splines from `dot -Tplain` on a skeleton graph (fixed-size
    boxes, no labels)."""
    from .dot import dot_program

    out = ["digraph g {", "node [shape=box, fixedsize=true, label=\"\"];",
           f"ranksep={GAP_Y / 72:.3f}; nodesep={GAP_X / 72:.3f};"]
    for k, item in enumerate(items):
        w, h = _size(item)
        out.append(f"n{k} [width={w / 72:.3f}, height={h / 72:.3f}];")
    for k, item in enumerate(items):
        out.extend(f"n{i} -> n{k};" for i in item["in"])
    out.append("}")
    result = subprocess.run([dot_program(), "-Tplain"], input="\n".join(out).encode(),
                            capture_output=True, timeout=DOT_TIMEOUT, check=False)
    if result.returncode != 0:
        raise SymdiffError("Graphviz's dot failed")
    height = 0.0
    placed = 0
    splines: dict[tuple[int, int], list[list[float]]] = {}
    for line in result.stdout.decode().splitlines():
        parts = line.split()
        if parts and parts[0] == "graph":
            height = float(parts[3]) * 72
        elif parts and parts[0] == "node":
            k = int(parts[1][1:])
            w, h = _size(items[k])
            items[k].update(x=round(float(parts[2]) * 72, 1),
                            y=round(height - float(parts[3]) * 72, 1), w=w, h=h)
            placed += 1
        elif parts and parts[0] == "edge":  # edge tail head n x1 y1 ... xn yn style color
            count = int(parts[3])
            points = [round(float(v) * 72 if j % 2 == 0 else height - float(v) * 72, 1)
                      for j, v in enumerate(parts[4:4 + 2 * count])]
            key = (int(parts[1][1:]), int(parts[2][1:]))
            splines.setdefault(key, []).append(points)
    if placed != len(items):
        raise ValueError("dot placed fewer nodes than asked")
    for k, item in enumerate(items):  # Graphviz's routed edges, one per input in order
        paths = [splines.get((i, k), []) for i in item["in"]]
        if all(paths):
            item["paths"] = [p.pop(0) for p in paths]


def _place_layered(items: list[dict[str, Any]]) -> None:
    """A layered layout in O(nodes + edges) per sweep: a node's layer is its longest path
    from a leaf, but leaves and derivative nodes sit just above their first user (so a
    parameter's transpose in the backward pass is drawn where it is used); within a layer,
    nodes are ordered by the mean position of their inputs (two sweeps down, one up), then
    packed left to right around the centre."""
    layer = [0] * len(items)
    for k, item in enumerate(items):  # items are in topological order
        layer[k] = max((layer[i] + 1 for i in item["in"]), default=0)
    users: list[list[int]] = [[] for _ in items]
    for k, item in enumerate(items):
        for i in item["in"]:
            users[i].append(k)
    for k in reversed(range(len(items))):  # leaves and derivative nodes as late as they
        item = items[k]                      # can be: just above their first use
        if users[k] and (not item["in"] or item["section"] == "derivative"):
            layer[k] = min(layer[u] for u in users[k]) - 1
    rows: list[list[int]] = [[] for _ in range(max(layer, default=0) + 1)]
    for k in range(len(items)):
        rows[layer[k]].append(k)
    pos = [0.0] * len(items)
    for row in rows:
        for j, k in enumerate(row):
            pos[k] = float(j)

    def sweep(row: list[int], neighbours: list[list[int]]) -> None:
        def key(k: int) -> float:
            near = neighbours[k]
            return sum(pos[i] for i in near) / len(near) if near else pos[k]
        row.sort(key=key)
        for j, k in enumerate(row):
            pos[k] = float(j)

    ins = [item["in"] for item in items]
    for _ in range(2):
        for row in rows[1:]:
            sweep(row, ins)
    for row in reversed(rows[:-1]):
        sweep(row, users)
    for row in rows[1:]:
        sweep(row, ins)
    widths = [sum(_size(items[k])[0] + GAP_X for k in row) for row in rows]
    full = max(widths, default=0.0)
    for r, row in enumerate(rows):
        x = (full - widths[r]) / 2 + GAP_X / 2
        for k in row:
            w, h = _size(items[k])
            items[k].update(x=round(x + w / 2, 1), y=round(GAP_Y / 2 + r * (NODE_H + GAP_Y)
                                                           + h / 2, 1), w=w, h=h)
            x += w + GAP_X


def script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&` or line separators
    appear literally, so no string in it can end the element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def page(nodes: Node | Sequence[Node], *, title: str | None = None, layout: str = "auto",
         source: bool = True) -> str:
    """The whole HTML page as text (see to_html)."""
    data = graph_data(nodes, layout=layout, source=source)
    if title is None:
        names = [data["nodes"][k]["name"] or data["nodes"][k]["id"] for k in data["outputs"]]
        title = "symdiff graph: " + ", ".join(names[:4]) + (" …" if len(names) > 4 else "")
    data["title"] = title
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{PAGE_CSS}</style>\n</head>\n"
            f"<body>\n<script type=\"application/json\" id=\"sd-data\">{script_json(data)}"
            f"</script>\n<script>\n{PAGE_JS}</script>\n</body>\n</html>\n")


def to_html(nodes: Node | Sequence[Node], path: str | os.PathLike | None = None, *,
            title: str | None = None, layout: str = "auto") -> str | Path:
    """The interactive graph page of `nodes`: one self-contained HTML file (inline CSS
    and JS, opens without network). Written to `path` (atomically) and the path returned;
    without a path, the HTML text is returned. `layout`: 'auto' (Graphviz's dot when
    installed, else the built-in layered layout), 'graphviz' or 'layered'."""
    text = page(nodes, title=title, layout=layout)
    if path is None:
        return text
    target = Path(path)
    write_atomic(target, text)
    return target


def repr_html(node: Node) -> str | None:
    """A notebook's display: a one-line summary and the page in an iframe, for graphs up
    to HTML_NODE_LIMIT drawn nodes (else just the summary)."""
    numbering = number(node)
    drawn = sum(1 for n in numbering.order if not is_scalar_constant(n) or n is node)
    sections = [section_of(n, numbering.phase) for n in numbering.order
                if not is_scalar_constant(n)]
    summary = (f"{html.escape(node.display_name)} : {html.escape(str(node.type))} — "
               f"{drawn} nodes ({sections.count('forward')} forward, "
               f"{sections.count('derivative')} derivative, {sections.count('inputs')} "
               "inputs)")
    if drawn > HTML_NODE_LIMIT:
        return (f"<p>{summary}; too large to draw inline (over {HTML_NODE_LIMIT} nodes): "
                "use sd.to_html(node, 'graph.html')</p>")
    doc = page(node)
    return (f"<p>{summary}</p>\n<iframe srcdoc=\"{html.escape(doc, quote=True)}\" "
            "style=\"width:100%;height:600px;border:1px solid #ccc\" "
            "sandbox=\"allow-scripts\"></iframe>")
