"""The interactive graph page without a browser: well-formed HTML, the embedded JSON, no
network, escaping of hostile names, provenance and generated-source data, the notebook
repr, the CLI, and the size of the page for a graph of 700+ nodes (the browser test is
tests/test_inspect_html_browser.py)."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import pytest

import symdiff as sd
from symdiff import cli
from symdiff.inspect import html as sd_html
from tests.examples_support import EXAMPLES_DIR
from tests.test_inspect_models import mlp, xor

VOID = {"meta", "br", "img", "input", "link", "hr"}
HOSTILE = "</script><script>alert(1)</script><!--&amp;\"'\u2028"


class Checker(HTMLParser):
    """Balanced tags, and the text of every <script> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "script":
            self.scripts.append((dict(attrs), ""))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def parse(page: str) -> tuple[Checker, dict]:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    blocks = [text for attrs, text in checker.scripts if attrs.get("id") == "sd-data"]
    assert len(blocks) == 1
    return checker, json.loads(blocks[0])


def gradient_nodes(model) -> list:
    return [model.loss, *model.grads]


def deep_mlp(layers: int):
    """A sigmoid MLP `layers` deep and its gradient: some 11 nodes a layer."""
    X = sd.var("X", shape=("N", 8))
    y = sd.var("y", shape=("N",))
    z, params = X, []
    for k in range(layers):
        W = sd.var(f"W{k + 1}", shape=(8, 8))
        params.append(W)
        z = sd.sigmoid(z @ W).named(f"z{k + 1}")
    w = sd.var("w", shape=(8,))
    params.append(w)
    loss = sd.mean((z @ w - y) ** 2).named("loss")
    return [loss, *sd.grad(loss, params)]


def test_the_page_is_well_formed_html_with_its_data_as_json():
    page = sd.to_html(gradient_nodes(xor()))
    checker, data = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert [t for t, _ in checker.tags].count("script") == 2
    nodes = data["nodes"]
    assert {n["section"] for n in nodes} == {"inputs", "forward", "derivative"}
    assert data["counts"]["derivative"] == sum(n["section"] == "derivative" for n in nodes)
    for k, n in enumerate(nodes):
        assert all(0 <= i < k for i in n["in"])  # topological order, valid references
        assert n["w"] > 0 and n["h"] > 0 and n["x"] >= 0 and n["y"] >= 0
    assert [nodes[k]["name"] for k in data["outputs"]][0] == "loss"


def test_the_page_needs_no_network():
    page = sd.to_html(gradient_nodes(mlp()))
    checker, _ = parse(page)
    for tag, attrs in checker.tags:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
        assert tag not in ("link", "iframe", "img")
    assert "@import" not in page and not re.search(r"url\((?!#)", page)  # url(#id) only
    # the one address in the page is SVG's namespace name, which is never fetched
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}


def test_hostile_names_are_data_never_markup():
    x = sd.var(HOSTILE, shape=(3,))
    h = sd.tanh(x).named(HOSTILE + "h")
    loss = sd.sum(h * h).named("<img src=x onerror=alert(1)>")
    page = sd.to_html([loss, sd.grad(loss, x)], title=HOSTILE)
    checker, data = parse(page)
    assert [t for t, _ in checker.tags].count("script") == 2
    assert "<img" not in [t for t, _ in checker.tags]
    assert "alert(1)</script>" not in page and "<!--" not in page
    assert "\u2028" not in page[page.index("<script"):]
    names = {n["name"] for n in data["nodes"]}
    assert {HOSTILE, HOSTILE + "h", "<img src=x onerror=alert(1)>"} <= names
    assert data["title"] == HOSTILE
    assert f"<title>{HOSTILE}" not in page


def test_script_json_escapes_what_could_end_a_script():
    text = sd_html.script_json({"a": "</script>&<!--\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script>&<!--\u2028"}


def test_derivative_nodes_carry_provenance_and_their_forward_node():
    _, data = parse(sd.to_html(gradient_nodes(xor())))
    nodes = data["nodes"]
    derivative = [n for n in nodes if n["section"] == "derivative"]
    assert derivative and all("prov" in n for n in derivative)
    with_forward = [n for n in derivative if n["prov"]["forward"] >= 0]
    assert with_forward
    for n in with_forward:
        forward = nodes[n["prov"]["forward"]]
        assert forward["section"] == "forward"
        assert n["prov"]["forward_text"] in (forward["id"], forward["name"])
        assert n["prov"]["what"].startswith("∂loss/∂")
        assert "." in n["prov"]["rule"] or n["prov"]["rule"] == "accumulate"
    assert all("prov" not in n for n in nodes if n["section"] != "derivative")


def test_each_node_has_its_generated_statement_or_says_why_not():
    _, data = parse(sd.to_html(gradient_nodes(mlp())))
    lines = data["module"].split("\n")
    with_source = [n for n in data["nodes"] if "src" in n]
    assert len(with_source) > len(data["nodes"]) // 2
    for n in with_source:
        line = n["src"]["line"]
        assert line > 0
        assert lines[line - 1].strip().startswith(n["src"]["text"][:40].strip())
    for n in data["nodes"]:
        assert ("src" in n) != ("nosrc" in n)
        if n["kind"] == "var":
            assert "argument" in n["nosrc"]
    assert "def graph(" in data["module"]


def test_a_graph_that_cannot_be_compiled_still_gets_a_page():
    x = sd.var("x", shape=())
    y = sd.sum(sd.broadcast_to(x, ("m",)))  # "m" is no input's size
    _, data = parse(sd.to_html(y))
    assert data["module"] == ""
    assert all("no generated source" in n["nosrc"] for n in data["nodes"])


def test_a_700_node_gradient_builds_a_page_of_reasonable_size():
    nodes = deep_mlp(64)
    page = sd.to_html(nodes)
    _, data = parse(page)
    count = len(data["nodes"])
    assert count >= 700
    edges = sum(len(n["in"]) for n in data["nodes"])
    assert edges < 3 * count
    # a few short label lines a node, so the SVG stays a few elements a node
    assert all(len(n["label"]) == 2 and len(n["label"][0]) < 40 for n in data["nodes"])
    assert len(page) < 1200 * count  # bytes a node, generated module included
    xs = [n["x"] for n in data["nodes"]]
    assert max(xs) < 4000  # layered rows of a few nodes, not one wide row


def test_the_layered_layout_is_used_without_graphviz(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    nodes = gradient_nodes(xor())
    _, data = parse(sd.to_html(nodes))
    for n in data["nodes"]:  # every input sits above its user
        assert all(data["nodes"][i]["y"] < n["y"] for i in n["in"])
    with pytest.raises(sd.GraphvizNotFoundError):
        sd.to_html(nodes, layout="graphviz")


def test_a_bad_layout_is_a_clear_error():
    with pytest.raises(sd.SymdiffError, match="layout= must be one of"):
        sd.to_html(xor().loss, layout="spring")


def test_to_html_writes_a_file(tmp_path):
    target = sd.to_html(gradient_nodes(xor()), tmp_path / "g.html")
    assert target == tmp_path / "g.html"
    parse(target.read_text())


def test_the_notebook_repr_has_a_summary_and_the_page_inline(monkeypatch):
    model = xor()
    text = model.grads[0]._repr_html_()
    assert re.match(r"<p>.* : float64\[2, 2\] — \d+ nodes \(\d+ forward, \d+ derivative", text)
    srcdoc = re.search(r'<iframe srcdoc="([^"]*)"', text).group(1)
    assert "<script" not in srcdoc  # escaped inside the attribute
    import html

    parse(html.unescape(srcdoc))
    monkeypatch.setattr(sd_html, "HTML_NODE_LIMIT", 5)
    small = model.grads[0]._repr_html_()
    assert "too large to draw inline" in small and "<iframe" not in small


def test_cli_show_format_html(tmp_path, capsys):
    out = tmp_path / "grad.html"
    spec = str(EXAMPLES_DIR / "deep_mlp.toml")
    assert cli.main(["show", spec, "--of", "loss_grad", "--format", "html", "-o",
                     str(out)]) == 0
    _, data = parse(out.read_text())
    assert data["title"] == "deep_mlp.toml: loss_grad"
    assert "wrote" in capsys.readouterr().err
    assert cli.main(["show", spec, "--format", "html"]) == 2
    assert "give the file to write with -o" in capsys.readouterr().err


def test_outputs_computed_together_share_their_statement():
    A = sd.var("A", shape=(3, 3))
    w, V = sd.linalg.eigh(A)
    loss = sd.sum(w) + sd.sum(V * V)
    _, data = parse(sd.to_html([loss, sd.grad(loss, A)], layout="layered"))
    eigh = [n for n in data["nodes"] if n["op"] == "eigh"]
    assert len(eigh) == 2
    assert eigh[0]["src"] == eigh[1]["src"] and eigh[0]["src"]["line"] > 0
    assert ", " in eigh[0]["src"]["text"].split(" = ")[0]  # both outputs assigned at once
