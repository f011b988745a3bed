"""The numba target: fused kernels give what the NumPy target gives (to a few ulps), with
the same argument checks, dtypes and memory rules; fusion groups what it should.

Numba compiles each kernel on first call (about a tenth of a second to a second each), so
these tests share compiled functions where they can (module-scoped fixtures, and whole op
tables compiled as one function) to keep the suite's time low."""

from __future__ import annotations

import numpy as np
import pytest

import codegen
import symdiff as sd
from symdiff.errors import SymdiffError

numba = pytest.importorskip("numba", reason="the numba target needs the numba extra")


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """One compile cache for the module: kernels compiled by one test are reused by the
    next that generates the same source (and by reruns in the same session)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "numba-gen"))
    yield
    mp.undo()


def _mlp(batch: int | str = "n"):
    X = sd.var("X", (batch, 6))
    y = sd.var("y", (batch,), "int64")
    W1, b1 = sd.var("W1", (6, 8)), sd.var("b1", (8,))
    W2, b2 = sd.var("W2", (8, 3)), sd.var("b2", (3,))
    h = sd.relu(X @ W1 + b1)
    logits = h @ W2 + b2
    onehot = sd.where(sd.equal(y[:, None], sd.arange(3)), 1.0, 0.0)
    loss = -sd.mean(sd.sum(onehot * sd.log_softmax(logits, axis=1), axis=1)) \
        + 1e-3 * (sd.sum(W1 * W1) + sd.sum(W2 * W2))
    params = [W1, b1, W2, b2]
    return [X, y, *params], [loss, sd.grad(loss, params)]


def _mlp_point(rng, batch: int):
    return [rng.standard_normal((batch, 6)), rng.integers(0, 3, batch),
            rng.standard_normal((6, 8)) * 0.5, rng.standard_normal(8) * 0.1,
            rng.standard_normal((8, 3)) * 0.5, rng.standard_normal(3) * 0.1]


@pytest.fixture
def per_node(monkeypatch):
    """Functions called kernel by kernel from Python (no whole-function kernel), for the
    tests of what the fusion pass and the buffer plan print in the Python body."""
    import codegen.whole

    monkeypatch.setattr(codegen.whole, "MAX_NODES", 0)


@pytest.fixture(scope="module")
def mlp_pair():
    inputs, outputs = _mlp()
    return sd.function(inputs, outputs), sd.function(inputs, outputs, target="numba")


def _assert_close(got, want, rtol=1e-13):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _assert_close(g, w, rtol)
        return
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape and g.dtype == w.dtype
    np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("batch", [1, 5, 64])
def test_mlp_value_and_grad_match_numpy_target(mlp_pair, rng, batch):
    f_numpy, f_numba = mlp_pair
    point = _mlp_point(rng, batch)
    _assert_close(f_numba(*point), f_numpy(*point))
    assert "@numba.njit(cache=True, nogil=True, fastmath=False" in f_numba.source
    assert "def _kernel1(" in f_numba.source


def test_mlp_argument_checks_are_the_numpy_targets(mlp_pair, rng):
    f_numpy, f_numba = mlp_pair
    point = _mlp_point(rng, 4)
    bad = [point[0][:, :5], *point[1:]]
    messages = []
    for f in (f_numpy, f_numba):
        with pytest.raises(ValueError) as err:
            f(*bad)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "'X'" in messages[0]
    lists = [p.tolist() for p in point]  # converted at entry, as the NumPy target does
    _assert_close(f_numba(*lists), f_numpy(*point))


def test_outer_product_plus_decay_is_one_kernel(rng, per_node):
    """Batch 1: the weight gradient x.T @ d + 2 lam W is one loop (no matmul, no temporary)."""
    x, d, W = sd.var("x", (1, 5)), sd.var("d", (1, 4)), sd.var("W", (5, 4))
    g = x.T @ d + 2e-4 * W
    f = sd.function([x, d, W], g, target="numba")
    body = f.source[f.source.index("def f("):]
    assert "@" not in body.replace("@numba", "") and "_kernel1(" in body
    args = [rng.standard_normal((1, 5)), rng.standard_normal((1, 4)), rng.standard_normal((5, 4))]
    _assert_close(f(*args), sd.function([x, d, W], g)(*args))


def test_where_masked_relu_and_tanh_chains_fuse(rng, per_node):
    """The backward chains of ReLU and tanh layers are single kernels that match NumPy."""
    z, g = sd.var("z", ("n", 7)), sd.var("g", ("n", 7))
    relu_back = sd.where(z > 0, g, 0.0)
    tanh_back = g * (1 - sd.tanh(z) ** 2)
    outs = [relu_back * 3.0 + 1.0, tanh_back, sd.sum(tanh_back, axis=0),
            sd.mean(relu_back, axis=1, keepdims=True)]
    f = sd.function([z, g], outs, target="numba")
    args = [rng.standard_normal((9, 7)), rng.standard_normal((9, 7))]
    _assert_close(f(*args), sd.function([z, g], outs)(*args), rtol=1e-12)
    assert f.source.count("def _kernel") <= 3  # kernels (vecmath helpers aside)


def test_deep_tanh_derivatives_match(rng):
    """k-th derivatives of tanh(tanh(tanh x)): long elementwise chains in a few kernels."""
    x = sd.var("x", ("n",))
    y = sd.tanh(sd.tanh(sd.tanh(x)))
    outs = [sd.derivative(y, x, order=k) for k in (1, 3)]
    f = sd.function([x], outs, target="numba")
    args = [np.linspace(-2, 2, 101)]
    _assert_close(f(*args), sd.function([x], outs)(*args), rtol=1e-11)


def test_constants_computed_at_import_beside_kernels(rng):
    """A constant subgraph hoisted to module level (`eye * 0.5`) and the kernels live in one
    module namespace: their names must not collide (a kernel once took the constant's)."""
    x = sd.var("x", (3, 3))
    y = sd.tanh(x) * sd.exp(x) + sd.eye(3) * 0.5
    outputs = [y, sd.grad(sd.sum(y * y), x)]
    fused, plain = sd.function([x], outputs, target="numba"), sd.function([x], outputs)
    assert "_k1 = " in fused.source and "def _kernel1(" in fused.source
    xv = rng.standard_normal((3, 3))
    for got, want in zip(fused(xv), plain(xv), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_float32_stays_float32(rng):
    x, w = sd.var("x", ("n", 3), "float32"), sd.var("w", (3,), "float32")
    y = sd.sigmoid(x * w + 0.1) * 2.5 - sd.exp(-x)
    outs = [y, sd.sum(y, axis=0)]
    f = sd.function([x, w], outs, target="numba")
    args = [rng.standard_normal((6, 3)).astype(np.float32),
            rng.standard_normal(3).astype(np.float32)]
    got, want = f(*args), sd.function([x, w], outs)(*args)
    for g, wv in zip(got, want, strict=True):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, wv, rtol=2e-6)


def test_float16_falls_back_to_numpy(rng):
    """numba has no float16 arithmetic: such ops stay NumPy statements, as generated by the
    NumPy target (computed in float32 where that target does)."""
    x = sd.var("x", (5,), "float16")
    y = sd.exp(x) * 2 + x
    f = sd.function([x], [y, sd.sum(y)], target="numba")
    assert "@numba.njit" not in f.source
    args = [rng.standard_normal(5).astype(np.float16)]
    _assert_close(f(*args), sd.function([x], [y, sd.sum(y)])(*args), rtol=0)


def test_kernels_write_into_planned_buffers(rng, per_node):
    """A single-output kernel takes out=: an operand that dies there is overwritten."""
    a, b = sd.var("a", (50, 40)), sd.var("b", (50, 40))
    t = a @ b.T  # a fresh temporary
    y = sd.tanh(t @ a) * 2.0 + 1.0
    f = sd.function([a, b], y, target="numba")
    assert "out=" in f.source[f.source.index("def f("):]
    args = [rng.standard_normal((50, 40)) * 0.1, rng.standard_normal((50, 40)) * 0.1]
    _assert_close(f(*args), sd.function([a, b], y)(*args))


def test_unknown_target_and_missing_numba_are_clear_errors(monkeypatch):
    x = sd.var("x", (3,))
    with pytest.raises(SymdiffError, match="unknown target"):
        sd.function([x], sd.exp(x), target="cuda")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba" else real(name, *a))
    for target in ("numba", "numba-parallel"):
        with pytest.raises(SymdiffError, match=r'pip install "symdiff\[numba\]"'):
            sd.function([x], sd.exp(x), target=target)


def test_emit_module_is_deterministic():
    inputs, outputs = _mlp()
    fn = codegen.Function("f", inputs, tuple(outputs))
    first = codegen.emit_module([fn], title="t", target="numba")
    inputs, outputs = _mlp()
    fn = codegen.Function("f", inputs, tuple(outputs))
    assert codegen.emit_module([fn], title="t", target="numba") == first


def test_cli_compile_target_numba_writes_a_module_that_runs(capsys, tmp_path, rng):
    """`symdiff compile --target numba`: the written module imports numba, fuses, and
    computes what the NumPy module computes; its kernels are cached beside it."""
    from symdiff import cli
    from tests.examples_support import import_file
    from tests.test_cli import XOR

    paths = {t: tmp_path / f"xor_{t}.py" for t in ("numpy", "numba")}
    for target, path in paths.items():
        assert cli.main(["compile", XOR, "-o", str(path), "--target", target]) == 0
    capsys.readouterr()
    text = paths["numba"].read_text()
    assert "import numba" in text and "@numba.njit(" in text
    plain, fused = import_file(paths["numpy"]), import_file(paths["numba"])
    args = dict(X=rng.standard_normal((5, 2)), y=rng.standard_normal(5),
                W=rng.standard_normal((2, 2)), c=rng.standard_normal(2),
                w=rng.standard_normal(2), b=np.array(0.3))
    for name in ("loss", "loss_grad", "loss_and_grad", "loss_hess_w"):
        _assert_close(getattr(fused, name)(**args), getattr(plain, name)(**args), rtol=1e-12)
    assert list((tmp_path / "__pycache__").glob("xor_numba.*.nbi"))
    assert cli.main(["compile", XOR, "--target", "numba-parallel"]) == 0  # prints the source
    assert "numba.prange(" in capsys.readouterr().out


def test_fusion_never_makes_a_cycle_through_a_matmul(rng):
    """exp(x) feeds both a matmul and the product with its result: putting exp in the
    product's kernel would need the matmul before and after that kernel, so it is not."""
    from codegen.fusion import clusters
    from codegen.schedule import schedule

    x, W = sd.var("x", (4, 4)), sd.var("W", (4, 4))
    a = sd.exp(x)
    b = sd.tanh(a @ W)
    c = (a * b + 1.0) * 2.0
    order = schedule([c])
    for cl in clusters(order, [c]):
        members = set(cl.members)
        assert not ({a, c} <= members), "a kernel would need the matmul inside it"
    f = sd.function([x, W], c, target="numba")
    args = [rng.standard_normal((4, 4)) * 0.3, rng.standard_normal((4, 4))]
    _assert_close(f(*args), sd.function([x, W], c)(*args))


def test_clusters_are_bounded_and_cover_long_chains():
    """A long elementwise chain is split into kernels of at most MAX_MEMBERS ops, each op in
    exactly one kernel, in a number of steps linear in the chain."""
    from codegen.fusion import MAX_MEMBERS, clusters
    from codegen.schedule import schedule

    x = sd.var("x", ("n",))
    y = x
    for k in range(300):
        y = sd.tanh(y) * (1.0 + 0.001 * k)
    order = schedule([y])
    found = clusters(order, [y])
    sizes = [len(c.members) for c in found]
    assert max(sizes) <= MAX_MEMBERS
    members = [m for c in found for m in c.members]
    assert len(members) == len(set(members)) == len(order)


def test_multi_output_kernels_write_into_scratch_arrays(rng, per_node):
    """A kernel with several outputs (a layer's pre-activation and its ReLU) is handed the
    buffer plan's scratch arrays for the outputs nobody is returned, not fresh arrays each
    call (a fresh 512 KB array is page faults on every call); a returned one stays fresh.
    Repeated calls, and calls at another batch size (new scratch), give the NumPy target's
    numbers and never change an earlier call's results."""
    X, b = sd.var("X", ("n", 300)), sd.var("b", (300,))
    W = sd.var("W", (300, 300))
    pre = X @ W + b
    h = sd.relu(pre)
    loss = sd.sum(h * h)
    outputs = [loss, sd.grad(loss, b)]
    f_numba = sd.function([X, W, b], outputs, target="numba")
    f_numpy = sd.function([X, W, b], outputs)
    calls = [line for line in f_numba.source.splitlines() if "= _kernel" in line]
    two_outputs = [line for line in calls if line.count(",") and line.split("=")[0].count(",")]
    assert two_outputs and all("_buf" in line for line in two_outputs), calls
    kept = []
    for batch in (64, 64, 3, 64):
        point = [rng.standard_normal((batch, 300)), rng.standard_normal((300, 300)) * 0.05,
                 rng.standard_normal(300) * 0.1]
        got = f_numba(*point)
        _assert_close(got, f_numpy(*point), rtol=1e-12)
        kept.append((got, [np.array(g, copy=True) for g in got]))
    for got, copy in kept:
        for g, c in zip(got, copy, strict=True):
            np.testing.assert_array_equal(g, c)
