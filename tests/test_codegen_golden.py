"""Golden files: the exact generated source for a few small graphs, so that any change in
scheduling, naming, buffer planning or printing shows up as a readable diff.

Regenerate after an intended change with

    SYMDIFF_REGEN_GOLDEN=1 python3 -m pytest tests/test_codegen_golden.py

and review the diff of tests/golden/codegen/ before committing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import codegen
import symdiff as sd

GOLDEN = Path(__file__).resolve().parent / "golden" / "codegen"


def tanh_layer() -> list[codegen.Function]:
    """Value and gradient of a tanh layer with a squared loss, batch dim symbolic."""
    X = sd.var("X", ("n", 3))
    y = sd.var("y", ("n",))
    W = sd.var("W", (3, 4))
    b = sd.var("b", (4,))
    v = sd.var("v", (4,))
    h = sd.tanh(X @ W + b).named("h")
    yhat = (h @ v).named("yhat")
    loss = sd.mean((yhat - y) ** 2).named("loss")
    return [codegen.Function("predict", [X, W, b, v], yhat, doc="Predictions."),
            codegen.Function("loss_and_grad", [X, y, W, b, v],
                             (loss, tuple(sd.grad(loss, [W, b, v]))),
                             doc="Loss and its gradient with respect to W, b and v.")]


def softmax_xent_float32() -> list[codegen.Function]:
    """Mean softmax cross-entropy in float32 and its gradient: stays float32 throughout."""
    logits = sd.var("logits", ("n", 5), "float32")
    labels = sd.var("labels", ("n", 5), "float32")
    loss = (-sd.mean(sd.sum(labels * sd.log_softmax(logits), axis=1))).named("xent")
    return [codegen.Function("xent_grad", [logits, labels], (loss, sd.grad(loss, logits)))]


def relu_mlp_scratch() -> list[codegen.Function]:
    """A ReLU layer wide enough for scratch arrays, with weight decay and a constant."""
    X = sd.var("X", ("n", 64))
    W = sd.var("W", (64, 128))
    w = sd.var("w", (128,))
    h = sd.relu(X @ W).named("h")
    scale = sd.const(np.linspace(0.5, 1.5, 4))
    out = (h @ w).named("out")
    loss = sd.mean(sd.softplus(out)) + 1e-3 * sd.sum(W * W) + sd.sum(scale * scale)
    return [codegen.Function("grad", [X, W, w], tuple(sd.grad(loss, [W, w])))]


def hostile_names() -> list[codegen.Function]:
    """User text that must not reach the source unsanitized."""
    a = sd.var("x; import os", (2,))
    b = sd.var("x", (2,))
    c = sd.var("lambda", ())
    y = (sd.exp(a * c) + b).named('y"""')
    return [codegen.Function('__import__("os")', [a, b, c], (y, sd.grad(sd.sum(y), a)),
                             doc='He said """hi""" \\o/')]


CASES: dict[str, Callable[[], list[codegen.Function]]] = {
    "tanh_layer": tanh_layer,
    "softmax_xent_float32": softmax_xent_float32,
    "relu_mlp_scratch": relu_mlp_scratch,
    "hostile_names": hostile_names,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_source(name: str):
    source = codegen.emit_module(CASES[name](), title=f"golden file {name}")
    path = GOLDEN / f"{name}.py"
    if os.environ.get("SYMDIFF_REGEN_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with SYMDIFF_REGEN_GOLDEN=1"
    assert source == path.read_text(encoding="utf-8"), \
        f"generated source differs from {path}; if intended, regenerate (see module doc)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_source_runs(name: str, tmp_path, monkeypatch):
    """Each golden module compiles and runs its functions on random data."""
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    functions = CASES[name]()
    module = codegen.load_module(codegen.emit_module(functions, title=name), name)
    rng = np.random.default_rng(0)
    for fn in functions:
        values = {v: rng.standard_normal([7 if isinstance(d, str) else d for d in v.shape])
                  .astype(v.dtype) for v in fn.inputs}
        want = sd.evaluate(fn.leaves, values)
        got = getattr(module, codegen.sanitize(fn.name))(*[values[v] for v in fn.inputs])
        for g, w in zip(_flatten(got), want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6 if w.dtype == np.float32 else 1e-12)


def _flatten(tree):
    if isinstance(tree, (tuple, list)):
        return [x for sub in tree for x in _flatten(sub)]
    return [tree]


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_source_is_lint_clean(name: str):
    """Generated code passes the project's own lint rules (pyflakes, pycodestyle at 100
    columns, import order, bugbear, pyupgrade), as hand-written code would."""
    ruff = pytest.importorskip("ruff")
    del ruff
    source = codegen.emit_module(CASES[name](), title=f"golden file {name}")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                             "--line-length", "100", "--target-version", "py311",
                             "--select", "E,F,W,I,B,UP", "--stdin-filename", f"{name}.py", "-"],
                            input=source, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
