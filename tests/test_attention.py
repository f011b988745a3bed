"""The transformer block of examples/attention.toml (`symdiff check` passes on it: see
test_cli.py's test over every example): `symdiff show --of loss_grad` is a readable
listing, the mask makes it causal (no position's output depends on a later token), and
the masked softmax stays exact and finite however large the attention scores."""

from __future__ import annotations

import inspect
import re
import sys

import numpy as np
import pytest

import symdiff as sd
from symdiff.spec import load_spec
from tests.examples_support import (
    EXAMPLES_DIR,
    compiled_examples,
    import_file,
    run,
    symdiff_command,
)

SPEC = EXAMPLES_DIR / "attention.toml"
T, VOCAB = 8, 6


@pytest.fixture(scope="module")
def block():
    return import_file(compiled_examples() / "attention_grad.py")


def _point(rng: np.random.Generator, n: int = 4, scale: float = 1.0) -> dict[str, np.ndarray]:
    spec = load_spec(SPEC)
    point = {name: scale * rng.standard_normal(tuple(d if isinstance(d, int) else n
                                                     for d in node.shape))
             for name, node in spec.params.items()}
    tokens = rng.integers(0, VOCAB, (n, T))
    point["X"] = np.eye(VOCAB)[tokens]
    point["labels"] = np.maximum.accumulate(tokens, axis=1)  # the task: the running max
    return point


def _args(fn_name: str, point: dict[str, np.ndarray], module) -> dict[str, np.ndarray]:
    return {k: point[k] for k in inspect.signature(getattr(module, fn_name)).parameters}


def test_show_of_the_loss_gradient_is_readable():
    result = run([*symdiff_command("show", str(SPEC), "--of", "loss_grad")],
                 EXAMPLES_DIR.parent)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    lines = text.splitlines()
    assert len(lines) < 250
    # the spec's names label their nodes, and derivative lines say what they are and why
    for name in ("causal", "scores", "weights", "heads", "H1", "M_in", "logp"):
        assert any(f" {name} " in line for line in lines), name
    for why in ("∂loss/∂weights, via einsum.vjp", "∂loss/∂V, via einsum.vjp",
                "via softmax.vjp[arg 0] at weights", "via relu.vjp"):
        assert why in text, why
    assert "where(causal, " in text  # the mask, and its adjoint zeroing masked scores


def test_attention_is_causal(block, rng):
    point = _point(rng)
    weights = block.attention(**_args("attention", point, block))
    assert weights.shape == (4, 2, T, T)
    assert np.all(np.triu(np.ones((T, T)), 1) * weights == 0)  # nothing from the future
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-12)
    # change the last token only: every earlier position's logits stay the same
    logits = block.logits(**_args("logits", point, block))
    moved = dict(point)
    moved["X"] = point["X"].copy()
    moved["X"][:, -1] = np.roll(moved["X"][:, -1], 1, axis=-1)
    after = block.logits(**_args("logits", moved, block))
    np.testing.assert_allclose(after[:, :-1], logits[:, :-1], rtol=1e-12, atol=1e-12)
    assert not np.allclose(after[:, -1], logits[:, -1])


def test_masked_softmax_is_stable_at_large_scores(block, rng):
    """Query and key weights 300 times larger: scores in the tens of thousands, where a
    naive softmax overflows; the value and every gradient stay finite, and each row of
    attention weights still sums to 1."""
    point = _point(rng, scale=1.0)
    point["Wq"] = point["Wq"] * 300
    point["Wk"] = point["Wk"] * 300
    value, grads = block.loss_and_grad(**_args("loss_and_grad", point, block))
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in grads)
    weights = block.attention(**_args("attention", point, block))
    assert np.all(np.isfinite(weights)) and np.abs(weights.sum(-1) - 1).max() < 1e-12


def test_loss_hvp_matches_the_interpreter(block, rng):
    spec = load_spec(SPEC)
    point = _point(rng)
    v = rng.standard_normal((8, 2, 4))
    got = block.loss_hvp_Wq(**_args("loss_hvp_Wq", {**point, "v": v}, block))
    loss = spec.defines["loss"]
    nodes = {**spec.inputs, **spec.params}
    want = sd.evaluate(sd.hvp(loss, nodes["Wq"], sd.const(v)),
                       {node: point[name] for name, node in nodes.items()})
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_generated_block_imports_only_numpy():
    source = (compiled_examples() / "attention_grad.py").read_text()
    imports = {line.split()[1] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert all(m == "numpy" or m in sys.stdlib_module_names for m in imports), imports


def test_training_script_learns_the_running_max():
    """examples/attention_train.py, shortened to 300 of its 1500 Adam steps (100% per-token
    accuracy at the default seed either way)."""
    result = run([sys.executable, str(EXAMPLES_DIR / "attention_train.py"), "--steps", "300"],
                 compiled_examples())
    assert result.returncode == 0, result.stderr
    assert "using the generated module attention_grad.py" in result.stderr
    assert "[" + "#" * 30 + "] 300/300" in result.stderr
    match = re.search(r"accuracy on 1000 fresh sequences: ([0-9.]+)%", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) >= 95.0
