"""The text listing (sd.show): golden files for the XOR and MLP gradient graphs, and the
properties every listing has (a valid schedule, sections, provenance, filters).

Regenerate the golden files after an intended change with
    SYMDIFF_REGEN_GOLDEN=1 python3 -m pytest tests/test_inspect_listing.py
and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff.graph import topo_order
from symdiff.inspect.naming import is_scalar_constant
from tests.test_inspect_models import mlp, xor

GOLDEN = Path(__file__).parent / "golden" / "inspect"
LINE = re.compile(r"^(%\d+)\s")
REF = re.compile(r"%\d+")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SYMDIFF_REGEN_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with SYMDIFF_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"listing differs from {path}; if the change is intended, regenerate with "
        "SYMDIFF_REGEN_GOLDEN=1 python3 -m pytest tests/test_inspect_listing.py")


def defined_ids(text: str) -> list[str]:
    return [LINE.match(line).group(1) for line in code_lines(text)]


def sections(text: str) -> list[str]:
    return [line.strip("- ") for line in text.splitlines() if line.startswith("-- ")]


def code_lines(text: str) -> list[str]:
    body = text.split("-- outputs --")[0]
    return [line for line in body.splitlines() if LINE.match(line)]


# -- golden files ------------------------------------------------------------------------


def test_xor_gradient_listing_golden():
    check_golden("xor_grad.txt", sd.show(xor().grads))


def test_mlp_gradient_listing_golden():
    check_golden("mlp_grad.txt", sd.show(mlp().grads))


def test_xor_loss_and_gradient_listing_golden():
    model = xor()
    check_golden("xor_loss_and_grad.txt", sd.show([model.loss] + model.grads))


# -- properties --------------------------------------------------------------------------


@pytest.mark.parametrize("build", [xor, mlp])
def test_listing_is_deterministic_across_fresh_graphs(build):
    """Global node ids differ between two builds; the listing does not."""
    first, second = build(), build()
    assert first.grads[0].id != second.grads[0].id
    assert sd.show(first.grads) == sd.show(second.grads)


def test_listing_does_not_depend_on_other_graphs_alive():
    """Constant subexpressions of derivatives (the unit seed pushed through mean) are
    interned and shared by every graph, so they carry no provenance of any one graph."""
    decoy_x = sd.var("q", (3,))
    decoy = sd.mean((decoy_x * 3.0) ** 3).named("loss")
    decoy_grad = sd.grad(decoy, decoy_x)
    check_golden("xor_loss_and_grad.txt", sd.show([(m := xor()).loss] + m.grads))
    constants = [n for n in topo_order([decoy_grad]) if n.is_constant and n.op is not None]
    assert constants and all(n.provenance is None for n in constants)


@pytest.mark.parametrize("build", [xor, mlp])
def test_listing_is_a_schedule_of_the_whole_graph(build):
    model = build()
    text = sd.show(model.grads)
    nodes = [n for n in topo_order(model.grads) if not is_scalar_constant(n)]
    ids = defined_ids(text)
    assert len(ids) == len(set(ids)) == len(nodes)
    assert ids == [f"%{i}" for i in range(len(ids))]
    seen: set[str] = set()
    for line in code_lines(text):
        ident = LINE.match(line).group(1)
        code = line.split("#")[0]
        uses = [r for r in REF.findall(code) if r != ident]
        assert all(u in seen for u in uses), f"{line!r} uses a node before its line"
        seen.add(ident)


@pytest.mark.parametrize("build", [xor, mlp])
def test_forward_and_derivative_are_separate_sections(build):
    model = build()
    text = sd.show(model.grads)
    assert sections(text) == ["inputs", "forward", "derivative", "outputs"]
    part = "inputs"
    derivative_nodes = {n for n in topo_order(model.grads) if n.is_derivative}
    forward_ops = [n for n in topo_order(model.grads) if n.kind == "op" and not n.is_derivative]
    count = {"forward": 0, "derivative": 0}
    for line in text.splitlines():
        if line.startswith("-- "):
            part = line.strip("- ")
        elif part in count:
            count[part] += 1
            assert ("  # " in line) == (part == "derivative"), line
    assert count == {"forward": len(forward_ops), "derivative": len(derivative_nodes)}


def test_derivative_lines_say_what_and_where_from():
    text = sd.show(xor().grads)
    lines = {LINE.match(line).group(1): line for line in code_lines(text)}
    (matmul_xw,) = [i for i, line in lines.items() if "= matmul(X, W)" in line]
    dW = [line for line in lines.values() if "# ∂loss/∂W" in line]
    assert dW and all(f"via matmul.vjp[arg 1] at {matmul_xw}" in line for line in dW)
    assert any("# ∂loss/∂h, via matmul.vjp[arg 0] at" in line for line in lines.values())
    assert any("via relu.vjp[arg 0] at h" in line for line in lines.values())
    outputs = text.split("-- outputs --\n")[1].splitlines()
    assert [o.split("  ")[1] for o in outputs] == ["∂loss/∂W", "∂loss/∂c", "∂loss/∂w",
                                                    "∂loss/∂b"]


def test_types_keep_symbolic_dims_and_names_are_used():
    text = sd.show(xor().grads)
    assert "%0   X    : float64[n, 2]\n" in text
    assert "= matmul(X, W)" in text
    assert re.search(r"%\d+\s+h\s+: float64\[n, 2\] = relu\(%\d+\)", text)
    assert "shape=(n,)" in text or "(n," in text


def test_scalar_constants_inline_and_arrays_summarized():
    x = sd.var("x", (3,))
    small = sd.const(np.array([1.0, 2.0, 3.0]))
    big_same = sd.const(np.full((20, 3), 0.5))
    big = sd.const(np.arange(60.0).reshape(20, 3))
    y = sd.sum(x * small + 2.0) + sd.sum(big_same @ x) + sd.sum(big @ x)
    text = sd.show(y)
    assert "= const [1., 2., 3.]" in text
    assert "= const full(0.5)" in text
    assert "= const min 0, max 59, mean 29.5" in text
    assert re.search(r"add\(%\d+, 2\.0\)", text)
    assert "2.0 " not in "".join(line[:6] for line in text.splitlines())


def test_awkward_names_are_quoted_and_never_used_as_references():
    nasty = sd.var('a "b" {c} <d>', (2,))
    twin_a, twin_b = sd.var("x", (2,)), sd.var("x", (2,))
    y = sd.sum(nasty * twin_a + twin_b)
    text = sd.show(y)
    assert "'a \"b\" {c} <d>'" in text
    mul_line = next(line for line in code_lines(text) if "mul(" in line)
    assert re.search(r"mul\(%\d+, %\d+\)", mul_line)  # twins and the odd name by id


def test_only_lists_the_ancestors_of_one_output_with_the_same_ids():
    model = xor()
    full = sd.show(model.grads)
    grad_c = model.grads[1]
    part = sd.show(model.grads, only=grad_c)
    assert len(code_lines(part)) < len(code_lines(full))
    full_lines = {LINE.match(x).group(1): " ".join(x.split()) for x in code_lines(full)}
    for line in code_lines(part):
        assert " ".join(line.split()) == full_lines[LINE.match(line).group(1)]
    assert "∂loss/∂W" not in part.split("-- outputs --")[0]
    assert part.endswith("∂loss/∂c\n")


def test_depth_limits_the_listing_and_marks_deeper_references():
    model = xor()
    text = sd.show(model.grads, depth=1)
    ops_listed = [line for line in code_lines(text) if " = " in line]
    # the four outputs and the nodes feeding them directly
    assert 4 <= len(ops_listed) < 12
    assert re.search(r"%\d+:(where|mul|matmul|transpose)", text)
    assert re.search(r"# \d+ deeper nodes not shown \(depth=1\)\n$", text)
    assert sd.show(model.grads, depth=100) == sd.show(model.grads)


def test_gradient_penalty_gives_alternating_sections():
    """A forward node built from a gradient comes after it, in a second forward section."""
    x = sd.var("x", (3,))
    f = sd.sum(sd.tanh(x) ** 2)
    g = sd.grad(f, x)
    penalty = sd.sum(g * g).named("penalty")
    total = (f + penalty).named("total")
    text = sd.show([total, sd.grad(total, x)])
    # the second-order nodes need nothing from the second forward part: they join the
    # first derivative section, which the schedule keeps as early as it can
    assert sections(text) == ["inputs", "forward", "derivative", "forward", "outputs"]
    second_forward = text.split("-- forward --")[2]
    assert "penalty" in second_forward and "total" in second_forward


def test_jvp_nodes_are_described_as_forward_mode():
    x = sd.var("x", (3,))
    y = sd.tanh(x).named("y")
    t = sd.jvp(y, x, np.ones(3))
    text = sd.show(t)
    assert "∂y/∂x·t, via tanh.jvp[arg 0] at y" in text


@pytest.mark.parametrize("kwargs, message", [
    ({"only": 3.5}, "takes symdiff nodes or listing ids"),
    ({"only": "loss"}, "no node %loss in the listing"),
    ({"depth": -1}, "non-negative"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(sd.SymdiffError, match=message):
        sd.show(xor().grads, **kwargs)


def test_only_outside_the_graph_is_refused():
    model = xor()
    stranger = sd.var("z", ())
    with pytest.raises(sd.SymdiffError, match="z is not part of the graph"):
        sd.show(model.grads, only=stranger)


def test_non_nodes_are_refused():
    with pytest.raises(sd.SymdiffError, match="must be symdiff nodes"):
        sd.show([np.ones(3)])


def test_listing_narrowed_by_part_and_by_id():
    x = sd.var("x", (3,))
    w = sd.var("w", (3,))
    loss = sd.sum(sd.tanh(x * w)).named("loss")
    full = sd.show(sd.grad(loss, w))
    derivative = sd.show(sd.grad(loss, w), part="derivative")
    assert "-- derivative --" in derivative and "-- forward --" not in derivative
    assert "-- inputs --" not in derivative
    forward = sd.show(sd.grad(loss, w), part="forward")
    assert "-- forward --" in forward and "-- derivative --" not in forward
    last = full.split("-- outputs --")[1].split()[0]  # the gradient's id, e.g. %9
    assert sd.show(sd.grad(loss, w), only=last) == full
    with pytest.raises(sd.SymdiffError, match="no node %999"):
        sd.show(sd.grad(loss, w), only="%999")
    with pytest.raises(sd.SymdiffError, match="part="):
        sd.show(sd.grad(loss, w), part="backward")
