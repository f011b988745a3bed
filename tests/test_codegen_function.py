"""symdiff.function: the public callable over generated code."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

import symdiff as sd
from symdiff.errors import SymdiffError


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def model():
    x = sd.var("x", (3,))
    W = sd.var("W", (2, 3))
    y = sd.sum(sd.tanh(W @ x)).named("y")
    return x, W, y


def test_list_of_outputs_gives_a_tuple_and_a_node_one_array(target):
    x, W, y = model()
    g = sd.grad(y, [x, W])
    f = sd.function([x, W], [y, g], target=target)
    xv, Wv = np.array([0.1, -0.2, 0.3]), np.arange(6.0).reshape(2, 3) / 6
    got_y, (got_gx, got_gW) = f(xv, Wv)
    want = sd.evaluate([y, *g], {x: xv, W: Wv})
    np.testing.assert_allclose(got_y, want[0], rtol=1e-12)
    np.testing.assert_allclose(got_gx, want[1], rtol=1e-12)
    np.testing.assert_allclose(got_gW, want[2], rtol=1e-12)
    single = sd.function([x, W], g[1], target=target)
    assert isinstance(single(xv, Wv), np.ndarray)
    np.testing.assert_allclose(single(xv, Wv), want[2], rtol=1e-12)


def test_source_save_signature_and_keywords(tmp_path):
    x, W, y = model()
    f = sd.function([x, W], y)
    assert "import numpy as np" in f.source and "symdiff" in f.source.splitlines()[0] + \
        f.source
    assert list(inspect.signature(f).parameters) == ["x", "W"]
    assert f(W=np.ones((2, 3)), x=np.ones(3)) == f(np.ones(3), np.ones((2, 3)))
    path = tmp_path / "y.py"
    f.save(path)
    assert path.read_text(encoding="utf-8") == f.source
    out = subprocess.run([sys.executable, "-c", "import numpy as np, y; "
                          "print(y.f(np.ones(3), np.ones((2, 3))))"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert float(out) == pytest.approx(float(f(np.ones(3), np.ones((2, 3)))), rel=1e-12)


def test_optimize_flag():
    x = sd.var("x", (4,))
    y = sd.sum(sd.log(sd.exp(x)) * 1.0 + 0.0)
    plain = sd.function([x], y, optimize=False)
    optimized = sd.function([x], y)
    v = np.array([0.5, -1.0, 2.0, 0.0])
    assert plain(v) == pytest.approx(optimized(v), rel=1e-12)
    assert len(optimized.source) <= len(plain.source)


def test_errors_name_the_culprit():
    x, W, y = model()
    with pytest.raises(SymdiffError, match="depend on variable 'W'"):
        sd.function([x], y)
    with pytest.raises(SymdiffError, match="outputs must be nodes"):
        sd.function([x, W], [y, "loss"])
    f = sd.function([x, W], y)
    with pytest.raises(ValueError, match="argument 'x'"):
        f(np.ones(4), np.ones((2, 3)))
