"""float16 end to end: a float16 graph keeps float16 values and derivatives (as NumPy and
JAX do), its sums accumulate in float32 (so they stay accurate), Python scalars stay weak,
and `symdiff check` handles a float16 spec."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff import cli
from symdiff.spec import load_spec, spec_module
from symdiff.spec.check import check_spec

RTOL, ATOL = 1e-2, 1e-3  # float16 has about 3 decimal digits


def _mlp(dtype: str):
    X = sd.var("X", ("n", 8), dtype)
    y = sd.var("y", ("n", 3), dtype)
    W1 = sd.var("W1", (8, 16), dtype)
    b1 = sd.var("b1", (16,), dtype)
    W2 = sd.var("W2", (16, 3), dtype)
    h = sd.tanh(X @ W1 + b1)
    loss = -sd.mean(sd.sum(y * sd.log_softmax(h @ W2, axis=1), axis=1))
    return [X, y, W1, b1, W2], loss, sd.grad(loss, [W1, b1, W2])


def _point(n: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 8))
    y = np.eye(3)[rng.integers(0, 3, n)]
    return [X, y, rng.standard_normal((8, 16)) / 3, rng.standard_normal(16) / 10,
            rng.standard_normal((16, 3)) / 4]


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """Within float16 accuracy after scaling by the reference's size."""
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(np.asarray(got, np.float64) / scale, want / scale,
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("how", ["evaluate", "function", "numba"])
def test_mlp_gradient_in_float16_matches_float64(how):
    values = _point()
    args16, loss16, grads16 = _mlp("float16")
    args64, loss64, grads64 = _mlp("float64")
    assert loss16.dtype == "float16" and all(g.dtype == "float16" for g in grads16)
    want = sd.evaluate([loss64, *grads64], dict(zip(args64, values, strict=True)))
    half = [v.astype(np.float16) for v in values]
    if how == "evaluate":
        got = sd.evaluate([loss16, *grads16], dict(zip(args16, half, strict=True)))
    else:
        if how == "numba":
            pytest.importorskip("numba", reason="the numba target needs the numba extra")
        f = sd.function(args16, [loss16, *grads16],
                        target="numba" if how == "numba" else "numpy")
        got = f(*half)
        assert "float64" not in f.source.split("def f(")[1]
    for g, w in zip(got, want, strict=True):
        assert np.asarray(g).dtype == np.float16
        _close(g, w)


def test_a_float16_sum_accumulates_in_float32():
    """4096 ones summed in float16 stop at 2048 (2048 + 1 rounds back to 2048); symdiff
    accumulates in float32 as NumPy's pairwise sum does not guarantee."""
    x = sd.var("x", (4096,), "float16")
    ones = np.ones(4096, np.float16)
    for total in (sd.evaluate(sd.sum(x), {x: ones}), sd.function([x], sd.sum(x))(ones),
                  sd.function([x], sd.cumsum(x))(ones)[-1]):
        assert total.dtype == np.float16 and float(total) == 4096.0


def test_python_scalars_keep_float16():
    x = sd.var("x", (3,), "float16")
    for node in (x * 2, 2 * x, x + 0.5, x / 3, x ** 2, 1 - x, sd.maximum(x, 0.0)):
        assert node.dtype == "float16", node
    assert (x * np.float64(2)).dtype == "float64"  # a NumPy scalar is strongly typed
    assert sd.function([x], x * 2.5)(np.ones(3, np.float16)).dtype == np.float16


def test_float16_arguments_are_converted_and_checked():
    x = sd.var("x", (2,), "float16")
    f = sd.function([x], x * 2)
    assert f([1, 2]).dtype == np.float16 and sd.evaluate(x * 2, {x: [1, 2]}).dtype == np.float16
    with pytest.raises(ValueError, match="float16"):
        f(np.array(["a", "b"]))


SPEC = '''
name = "mlp16"
[inputs]
X = { shape = ["n", 4], dtype = "float16" }
y = { shape = ["n"], dtype = "float16" }
[params]
W1 = { shape = [4, 6], dtype = "float16" }
b1 = { shape = [6], dtype = "float16" }
w2 = { shape = [6], dtype = "float16" }
[define]
h = "tanh(X @ W1 + b1)"
yhat = "h @ w2"
E = "mean((yhat - y)**2)"
[outputs]
predict = "yhat"
[derivatives]
E_grad = { of = "E", wrt = ["W1", "b1", "w2"] }
E_and_grad = { of = "E", wrt = ["W1", "b1", "w2"], kind = "value_and_grad" }
'''


def test_check_handles_a_float16_spec(tmp_path, capsys):
    path = tmp_path / "mlp16.toml"
    path.write_text(SPEC)
    status = cli.main(["check", str(path)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "MISMATCH" not in out and "E_grad" in out and "checks passed" in err


def test_check_still_catches_a_wrong_float16_derivative(tmp_path, monkeypatch):
    """The float16 tolerance is loose, not blind: a gradient off by 0.2 in one entry fails."""
    path = tmp_path / "mlp16.toml"
    path.write_text(SPEC)
    module = spec_module(path)
    right = module.E_grad

    def wrong(**kwargs):
        dW1, db1, dw2 = right(**kwargs)
        db1 = db1.copy()
        db1[2] += np.float16(0.2)
        return dW1, db1, dw2

    monkeypatch.setattr(module, "E_grad", wrong)
    failed = {(r.function, r.wrt) for r in check_spec(load_spec(path), module) if not r.ok}
    assert failed == {("E_grad", "b1")}
