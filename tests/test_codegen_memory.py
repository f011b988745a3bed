"""Buffer planning and scheduling: the optimizations happen where they should (in-place
updates, out= into dead buffers, scratch arrays, del), and never where they would be
wrong (views still alive, outputs, arguments)."""

from __future__ import annotations

import numpy as np
import pytest

import codegen
import symdiff as sd
from codegen.schedule import schedule
from symdiff.graph import topo_order
from tests.test_codegen_helpers import assert_matches_evaluate


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def mlp():
    X = sd.var("X", ("n", 100))
    Y = sd.var("Y", ("n", 10))
    W1, b1 = sd.var("W1", (100, 128)), sd.var("b1", (128,))
    W2, b2 = sd.var("W2", (128, 10)), sd.var("b2", (10,))
    h = sd.relu(X @ W1 + b1).named("h1")
    logits = (h @ W2 + b2).named("logits")
    loss = (-sd.mean(sd.sum(Y * sd.log_softmax(logits, axis=1), axis=1))
            + 1e-4 * sd.sum(W1 * W1)).named("loss")
    params = [W1, b1, W2, b2]
    return [X, Y, *params], loss, sd.grad(loss, params)


def mlp_source() -> str:
    inputs, loss, grads = mlp()
    return codegen.emit_module([codegen.Function("f", inputs, (loss, tuple(grads)))], title="m")


def test_mlp_gradient_reuses_memory():
    body = mlp_source().split("def f(")[1]
    assert "h1 = np.maximum(" in body and "out=" in body.split("h1 = np.maximum(")[1].split(
        "\n")[0], "relu should overwrite its dead input"
    assert "np.where(" not in body, "relu's derivative should use the branch-free select"
    assert "_where_zero(" in body
    assert "+= b1" in body, "the bias add should update the matmul result in place"
    assert "_scratch(" in body, "large temporaries should live in scratch arrays"
    assert body.count("out=") >= 6
    assert "del " in body


def test_mlp_gradient_matches_evaluate(rng):
    inputs, loss, grads = mlp()
    values = {inputs[0]: rng.standard_normal((5, 100)),
              inputs[1]: np.eye(10)[rng.integers(0, 10, 5)]}
    for v in inputs[2:]:
        values[v] = rng.standard_normal(v.shape) * 0.1
    assert_matches_evaluate(inputs, [loss, *grads], values)


def test_live_view_blocks_in_place_update(rng):
    """t.T is still needed after t's last direct use: t must not be overwritten there."""
    x = sd.var("x", (3, 4))
    t = sd.exp(x)
    v = t.T
    u = t * 2.0
    w = sd.sin(v) + 1.0
    assert_matches_evaluate([x], [u, w], {x: rng.standard_normal((3, 4))})


def test_output_views_are_never_overwritten(rng):
    x = sd.var("x", (3, 4))
    t = sd.tanh(x)
    out_view = sd.reshape(t, (12,))
    later = sd.exp(t) * 3.0
    assert_matches_evaluate([x], [out_view, later, t[1]], {x: rng.standard_normal((3, 4))})


def test_argument_views_are_never_written(rng):
    x = sd.var("x", (3, 4))
    y = sd.exp(x.T) + 1.0
    z = x[0] * 2.0
    assert_matches_evaluate([x], [y, z, x.T], {x: rng.standard_normal((3, 4))})


def test_broadcast_operands_are_not_in_place_targets(rng):
    """a + b with a (3, 1) and b (3, 4): the result does not fit in a's buffer."""
    x = sd.var("x", (3, 1))
    y = sd.var("y", (3, 4))
    a = sd.exp(x)
    b = a + y
    c = sd.sin(b) * sd.exp(a)
    assert_matches_evaluate([x, y], [c], {x: rng.standard_normal((3, 1)),
                                          y: rng.standard_normal((3, 4))})


def test_schedule_is_topological_complete_and_deterministic():
    inputs, loss, grads = mlp()
    outputs = [loss, *grads]
    order = schedule(outputs)
    needed = [n for n in topo_order(outputs) if n.kind == "op"]
    assert sorted(n.id for n in order) == sorted(n.id for n in needed)
    position = {n: i for i, n in enumerate(order)}
    for n in order:
        for i in n.inputs:
            if i.kind == "op":
                assert position[i] < position[n]
    assert schedule(outputs) == order


def test_mask_before_in_place_relu():
    """The scheduler computes x > 0 (small) before relu(x), so relu can overwrite x."""
    x = sd.var("x", (64, 64))
    h = sd.relu(x @ x).named("h")
    (g,) = sd.grad(sd.sum(h * h), [x])
    body = codegen.emit_module([codegen.Function("f", [x], g)], title="t").split("def f(")[1]
    assert body.index(" > 0") < body.index("h = np.maximum(")
    assert "out=" in body.split("h = np.maximum(")[1].split("\n")[0]


@pytest.mark.parametrize("size", [7, 600, 5000, 40000])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_branch_free_select_is_exactly_np_where(size, dtype, rng):
    """_where_zero (the lowering of where(c, x, 0) and where(c, 0, x)) gives np.where's
    bits: NaN, infinities and -0.0 pass or become +0.0 exactly as np.where decides."""
    from symdiff.ops.elementwise import _where_zero

    x = rng.standard_normal(size).astype(dtype)
    x[::5] = np.nan
    x[1::7] = -np.inf
    x[2::11] = -0.0
    cond = rng.random(size) < 0.5
    for x_when_true in (True, False):
        want = np.where(cond, x, 0) if x_when_true else np.where(cond, 0, x)
        in_place = x.copy()
        for got in (_where_zero(cond, x, x_when_true),
                    _where_zero(cond, x, x_when_true, out=np.empty_like(x)),
                    _where_zero(cond, in_place, x_when_true, out=in_place)):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.view(f"i{got.itemsize}"),
                                          want.view(f"i{want.itemsize}"))


@pytest.mark.parametrize("size", [600, 40000])
def test_branch_free_select_reads_any_nonzero_byte_as_true(size, rng):
    """A bool array whose bytes are not 0 or 1 (a uint8 array viewed as bool) is read as
    NumPy reads it; the bit mask used to be made from the raw bytes (issue 16)."""
    from symdiff.ops.elementwise import _where_zero

    cond = np.arange(size, dtype=np.uint8).view(bool)
    x = rng.standard_normal(size)
    for x_when_true in (True, False):
        want = np.where(cond, x, 0) if x_when_true else np.where(cond, 0, x)
        np.testing.assert_array_equal(_where_zero(cond, x, x_when_true), want)
    a = sd.var("a", (size,))
    c = sd.var("c", (size,), "bool")
    f = sd.function([a, c], sd.where(c, a, 0.0))
    np.testing.assert_array_equal(f(x, cond), np.where(cond, x, 0.0))


def test_reentrant_call_gets_its_own_scratch_arrays(rng, monkeypatch):
    """A call made while the same generated function runs (a signal handler, a callback)
    must not share the running call's scratch arrays (issue 16)."""
    inputs, loss, grads = mlp()
    f = sd.function(inputs, [loss, grads])
    assert "_scratch(" in f.source
    values = [rng.standard_normal((300, 100)), np.eye(10)[rng.integers(0, 10, 300)]]
    values += [rng.standard_normal(v.shape) * 0.1 for v in inputs[2:]]
    other = [v + 0.5 for v in values]
    want_outer, want_inner = f(*values), f(*other)
    inner_results = []
    real = f.module._where_zero

    def reenter(*args, **kwargs):
        if not inner_results:  # once, from inside the running call
            inner_results.append(None)
            inner_results[0] = f(*other)
        return real(*args, **kwargs)

    monkeypatch.setattr(f.module, "_where_zero", reenter)
    got_outer = f(*values)
    monkeypatch.undo()
    for got, want in ((got_outer, want_outer), (inner_results[0], want_inner)):
        np.testing.assert_array_equal(got[0], want[0])
        for g, w in zip(got[1], want[1], strict=True):
            np.testing.assert_array_equal(g, w)
    again = f(*values)  # the cache still serves the next call
    np.testing.assert_array_equal(again[1][0], want_outer[1][0])
