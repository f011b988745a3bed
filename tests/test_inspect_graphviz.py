"""networkx and Graphviz output: attributes, argument positions, DOT that parses back,
escaping of awkward names, SVG/PNG through `dot`, and the error when `dot` is missing."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pydot
import pytest

import symdiff as sd
from symdiff.graph import topo_order
from symdiff.inspect.dot import quote
from tests.test_inspect_models import mlp, xor

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def unquote(text: str) -> str:
    """The inverse of symdiff's DOT quoting (escapes, then the &amp; entity)."""
    assert text.startswith('"') and text.endswith('"'), text
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out).replace("&amp;", "&")


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


# -- networkx ----------------------------------------------------------------------------


def test_networkx_nodes_carry_the_documented_attributes():
    model = xor()
    g = sd.to_networkx(model.grads)
    nodes = topo_order(model.grads)
    assert g.number_of_nodes() == len(nodes)
    kinds = {data["kind"] for _, data in g.nodes(data=True)}
    assert kinds == {"var", "const", "op"}
    for _, data in g.nodes(data=True):
        assert set(data) >= {"op", "shape", "dtype", "kind", "derivative", "provenance",
                             "label"}
        assert data["derivative"] == bool(data["provenance"])
    listed = sd.show(model.grads).split("-- outputs --\n")[1].splitlines()
    assert g.graph["outputs"] == [line.split()[0] for line in listed]
    dW = g.nodes[g.graph["outputs"][0]]
    assert (dW["op"], dW["shape"], dW["dtype"], dW["derivative"]) == \
        ("matmul", (2, 2), "float64", True)
    assert dW["provenance"].startswith("∂loss/∂W, via matmul.vjp[arg 1] at %")
    assert g.nodes["%0"]["shape"] == ("n", 2) and g.nodes["%0"]["kind"] == "var"
    derivative_count = sum(1 for n in nodes if n.is_derivative)
    assert sum(1 for _, d in g.nodes(data=True) if d["derivative"]) == derivative_count


def test_networkx_ids_are_the_listing_ids():
    model = mlp()
    g = sd.to_networkx(model.grads)
    listing = sd.show(model.grads)
    for ident, data in g.nodes(data=True):
        if data["kind"] == "op":
            line = next(x for x in listing.splitlines() if x.startswith(ident + " "))
            assert f"= {data['op']}(" in line


def test_edges_carry_argument_positions_and_a_repeated_input_keeps_both():
    x = sd.var("x", (3,))
    y = sd.var("y", (3,))
    g = sd.to_networkx(x * x - y)
    square = next(i for i, d in g.nodes(data=True) if d["op"] == "mul")
    sub = next(i for i, d in g.nodes(data=True) if d["op"] == "sub")
    assert g.edges["%0", square]["args"] == (0, 1)
    assert g.edges["%0", square]["label"] == "0,1"
    assert g.edges[square, sub]["args"] == (0,)
    assert g.edges["%1", sub]["args"] == (1,)


# -- DOT ---------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [xor, mlp])
def test_dot_parses_back_with_pydot(build):
    model = build()
    text = sd.to_dot(model.grads)
    (parsed,) = pydot.graph_from_dot_data(text)
    g = sd.to_networkx(model.grads)
    drawn = {unquote(n.get("label")) for n in parsed.get_nodes() if n.get("label")}
    for _, data in g.nodes(data=True):
        assert data["label"] in drawn
    op_edges = sum(len(d["args"]) for _, _, d in g.edges(data=True))
    assert len(parsed.get_edges()) == op_edges  # one drawn edge per argument


def test_dot_draws_forward_and_derivative_nodes_differently():
    model = xor()
    (parsed,) = pydot.graph_from_dot_data(sd.to_dot(model.grads))
    styles: dict[str, set[tuple]] = {}
    for n in parsed.get_nodes():
        label = n.get("label")
        if not label or n.get("shape") == "plaintext":  # scalar constants
            continue
        text = unquote(label)
        kind = ("derivative" if "∂" in text or "constant" in text.splitlines()[-1]
                else "var" if re.match(r"%\d+ \w+\nfloat", text) else "forward")
        styles.setdefault(kind, set()).add((n.get("shape"), n.get("style"), n.get("fillcolor")))
    assert len(styles["derivative"]) == 1 and len(styles["forward"]) == 1
    assert styles["derivative"].isdisjoint(styles["forward"])
    assert styles["var"].isdisjoint(styles["forward"] | styles["derivative"])
    edge_labels = {unquote(e.get("label")) for e in parsed.get_edges()}
    assert edge_labels == {"0", "1", "2"}


def test_awkward_names_survive_dot_quoting():
    name = 'we"ird {name} <b>x</b> \\N back\\slash\nnewline'
    x = sd.var(name, (2,))
    y = sd.sum(sd.exp(x)).named('out"put')
    text = sd.to_dot(y)
    (parsed,) = pydot.graph_from_dot_data(text)
    labels = [unquote(n.get("label")) for n in parsed.get_nodes() if n.get("label")]
    assert any(name in label or repr(name) in label for label in labels)
    assert any("'out\"put'" in label for label in labels)


def test_quote_escapes_everything_dot_interprets():
    assert quote('a"b') == '"a\\"b"'
    assert quote("a\\nb") == '"a\\\\nb"'
    assert quote("two\nlines") == '"two\\nlines"'
    assert quote("<html>") == '"<html>"'
    assert quote("&amp;") == '"&amp;amp;"'


# -- rendering ---------------------------------------------------------------------------


@needs_dot
def test_render_svg_has_the_node_labels(tmp_path):
    model = xor()
    path = sd.render(model.grads, tmp_path / "xor.svg")
    texts = svg_texts(path.read_text(encoding="utf-8"))
    for expected in ["%0 X", "relu", "∂loss/∂W", "∂loss/∂b", "float64[n, 2]"]:
        assert expected in texts


@needs_dot
def test_render_png_and_dot_text(tmp_path):
    model = mlp()
    png = sd.render(model.grads, tmp_path / "mlp.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = sd.render(model.grads, tmp_path / "mlp.dot")
    assert dot.read_text(encoding="utf-8") == sd.to_dot(model.grads)


@needs_dot
def test_awkward_names_render_as_valid_svg(tmp_path):
    x = sd.var("<script>&amp;\"{}\"", (2,))
    path = sd.render(sd.sum(x * 2.0), tmp_path / "odd.svg")
    texts = svg_texts(path.read_text(encoding="utf-8"))
    assert any("<script>&amp;" in t for t in texts)


@needs_dot
def test_notebook_svg_repr():
    model = xor()
    svg = model.grads[0]._repr_svg_()
    assert svg is not None and "∂loss/∂W" in svg_texts(svg)


def test_missing_dot_gives_install_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    model = xor()
    with pytest.raises(sd.GraphvizNotFoundError) as err:
        sd.render(model.grads, tmp_path / "g.svg")
    message = str(err.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert "conda" in message
    assert model.grads[0]._repr_svg_() is None
    assert "digraph" in sd.to_dot(model.grads)  # the DOT text needs no Graphviz


def test_render_refuses_unknown_formats(tmp_path):
    with pytest.raises(sd.SymdiffError, match=r"\.svg, \.png, \.pdf or \.dot"):
        sd.render(sd.var("x"), tmp_path / "g.gif")


def test_constants_are_drawn_distinctly():
    x = sd.var("x", (3,))
    y = sd.sum(x * sd.const(np.arange(3.0)) + 1.5)
    (parsed,) = pydot.graph_from_dot_data(sd.to_dot(y))
    by_label = {unquote(n.get("label")): n for n in parsed.get_nodes() if n.get("label")}
    array = next(n for label, n in by_label.items() if "const" in label)
    scalar = by_label["1.5"]
    assert "dotted" in array.get("style")
    assert scalar.get("shape") == "plaintext"
