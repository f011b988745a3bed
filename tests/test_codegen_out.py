"""The `out=` keyword of generated functions: results written into the caller's arrays (the
same objects returned), equal to the results without it, and every wrong `out` refused with
a ValueError naming its position."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import codegen
import symdiff as sd
from tests.test_codegen_random import _cost, graphs


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def compile_one(inputs, outputs, name="f"):
    source = codegen.emit_module([codegen.Function(name, inputs, outputs)], title="out= test")
    return getattr(codegen.load_module(source, "out_test"), name), source


def leaves(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for sub in tree for leaf in leaves(sub)]
    return [tree]


def garbage_like(tree):
    """Arrays shaped and typed like a result, filled with values no result has."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(garbage_like(sub) for sub in tree)
    value = np.asarray(tree)
    fill = True if value.dtype == bool else 12345
    return np.full(value.shape, fill, dtype=value.dtype)


def assert_out_matches(f, *argsets) -> None:
    """With out=, each call returns the given structure itself, its arrays are the given
    ones, and they hold exactly the results without out= (reused from call to call)."""
    out = garbage_like(f(*argsets[0]))
    given = leaves(out)
    for args in argsets:
        want = f(*args)
        got = f(*args, out=out)
        assert got is out
        got_leaves = leaves(got)
        assert len(got_leaves) == len(given)
        assert all(g is a for g, a in zip(got_leaves, given, strict=True))
        for g, w in zip(got_leaves, leaves(want), strict=True):
            w = np.asarray(w)
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w, strict=True)  # exact: rtol 0


# -- graphs -------------------------------------------------------------------------------

def mlp(sizes=(64, 128, 32, 5), dtype="float64"):
    X = sd.var("X", ("n", sizes[0]), dtype)
    Y = sd.var("Y", ("n", sizes[-1]), dtype)
    params = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params += [sd.var(f"W{i}", (a, b), dtype), sd.var(f"b{i}", (b,), dtype)]
    h = X
    for i in range(0, len(params) - 2, 2):
        h = sd.relu(h @ params[i] + params[i + 1])
    logits = h @ params[-2] + params[-1]
    xent = -sd.mean(sd.sum(Y * sd.log_softmax(logits, axis=1), axis=1))
    loss = (xent + 1e-4 * (sd.sum(params[0] * params[0]) + sd.sum(params[2] * params[2])))
    return [X, Y, *params], loss.named("loss"), sd.grad(loss, params)


def mlp_values(inputs, n, seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    values = []
    for v in inputs:
        shape = tuple(n if isinstance(d, str) else d for d in v.shape)
        values.append(rng.standard_normal(shape).astype(dtype))
    return values


def test_mlp_value_and_grad_through_symdiff_function():
    inputs, loss, grads = mlp()
    f = sd.function(inputs, [loss, tuple(grads)])
    assert_out_matches(f, mlp_values(inputs, 7, 1), mlp_values(inputs, 7, 2))
    # the large gradients are computed straight into the caller's arrays, not copied
    body = f.source[f.source.index("def _f__out("):]
    assert re.search(r"np\.matmul\([^\n]*out=_out\d\)", body)
    assert "np.copyto(_out2," not in body  # d loss / d W1 (64 x 128) written in place


def test_mlp_nested_tuple_structure_and_batch_sizes():
    inputs, loss, grads = mlp()
    f, _ = compile_one(inputs, (loss, (tuple(grads[:2]), tuple(grads[2:]))))
    assert_out_matches(f, mlp_values(inputs, 3, 3), mlp_values(inputs, 3, 4))
    # another batch size needs arrays of its own shapes; the first ones still work after
    assert_out_matches(f, mlp_values(inputs, 1, 5))
    assert_out_matches(f, mlp_values(inputs, 3, 6))


def test_float32():
    inputs, loss, grads = mlp((6, 5, 3), "float32")
    f, _ = compile_one(inputs, [loss, list(grads)])
    assert_out_matches(f, mlp_values(inputs, 4, 7, "float32"), mlp_values(inputs, 4, 8, "float32"))
    out = garbage_like(f(*mlp_values(inputs, 4, 7, "float32")))
    assert isinstance(out, list) and isinstance(out[1], list)
    out[1][0] = out[1][0].astype(np.float64)
    with pytest.raises(ValueError, match=re.escape(
            "out[1][0] must be a writable float32 array of shape (6, 5), got a float64 array")):
        f(*mlp_values(inputs, 4, 7, "float32"), out=out)


def test_single_array_result():
    x = sd.var("x", ("n", 3))
    W = sd.var("W", (3, 4))
    f, source = compile_one([x, W], sd.tanh(x @ W) * 2.0)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((5, 3)), rng.standard_normal((3, 4))]
    assert_out_matches(f, args, [a + 1 for a in args])
    with pytest.raises(ValueError, match=re.escape(
            "out must be a writable float64 array of shape (5, 4), got a float64 array of "
            "shape (4, 4)")):
        f(*args, out=np.empty((4, 4)))
    with pytest.raises(ValueError, match=r"^out must be a writable float64 array .* got a tuple"):
        f(*args, out=(np.empty((5, 4)),))
    assert f(*args, out=None).shape == (5, 4)


def test_results_that_are_views_arguments_constants_and_repeats():
    x = sd.var("x", (3, 4))
    y = sd.var("y", (4,))
    z = sd.exp(x * y).named("z")
    c = sd.const(np.arange(6.0).reshape(2, 3))
    outputs = (x, [z, z, z.T], c, sd.reshape(z, (12,)), y, (sd.sum(z), sd.sum(z)),
               sd.broadcast_to(y, (2, 3, 4)), x.T, z > 1.0)
    f, _ = compile_one([x, y], outputs)
    rng = np.random.default_rng(1)
    args = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    assert_out_matches(f, args, [a * 2 for a in args])
    out = garbage_like(f(*args))
    f(*args, out=out)
    assert not np.shares_memory(out[0], args[0])  # arguments are copied into out
    out[1][0][0, 0] = -1.0
    assert out[1][1][0, 0] != -1.0  # a repeated result fills both arrays


def test_hostile_names_and_an_argument_called_out():
    out_var = sd.var("out", (2,))
    dim = sd.var("v", ("out",))
    f, source = compile_one([out_var, dim], (out_var * 2.0, sd.sum(dim)))
    assert "def f(out_2, v, *, out=None):" in source
    args = [np.arange(2.0), np.arange(3.0)]
    assert_out_matches(f, args)
    got = f(out_2=args[0], v=args[1], out=(np.empty(2), np.empty(())))
    np.testing.assert_array_equal(got[0], [0.0, 2.0])
    assert got[1] == 3.0


def test_empty_result():
    x = sd.var("x", (2,))
    f, _ = compile_one([x], ())
    out = ()
    assert f(np.ones(2)) == () and f(np.ones(2), out=out) is out
    with pytest.raises(ValueError, match=r"^out must be a tuple or list of 0"):
        f(np.ones(2), out=(np.empty(2),))


# -- wrong out= -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vg():
    """A value-and-grad function, its arguments and a correct out structure maker."""
    inputs, loss, grads = mlp((8, 6, 6, 3))
    f = sd.function(inputs, [loss, tuple(grads)])
    args = mlp_values(inputs, 4, 9)
    return f, args, lambda: garbage_like(f(*args))


def test_good_out_from_one_buffer_and_strided_arrays(vg):
    f, args, fresh = vg
    block = np.empty((2, 8, 6))
    strided = np.empty((6, 12))[:, ::2]
    out = _set(fresh(), (1, 0), block[0])       # disjoint parts of one buffer
    out = _set(out, (1, 4), block[1, :6, :3])
    out = _set(out, (1, 2), strided)             # not contiguous
    got = f(*args, out=out)
    assert got is out
    want = f(*args)
    for g, w in zip(leaves(got), leaves(want), strict=True):
        np.testing.assert_array_equal(g, w, strict=True)
    np.testing.assert_array_equal(block[0], want[1][0], strict=True)


def _set(tree, path, value):
    """`tree` with the leaf at `path` replaced (tuples rebuilt, lists kept)."""
    if not path:
        return value
    items = list(tree)
    items[path[0]] = _set(items[path[0]], path[1:], value)
    return type(tree)(items)


BAD = {
    "wrong shape": ((1, 2), lambda out, args: np.empty((6, 3)),
                    "out[1][2] must be a writable float64 array of shape (6, 6)"),
    "transposed shape": ((1, 0), lambda out, args: np.empty((6, 8)),
                         "out[1][0] must be a writable float64 array of shape (8, 6), got a "
                         "float64 array of shape (6, 8)"),
    "wrong dtype": ((1, 1), lambda out, args: np.empty(6, dtype=np.float32),
                    "out[1][1] must be a writable float64 array of shape (6,), got a float32"),
    "big-endian dtype": ((1, 1), lambda out, args: np.empty(6, dtype=">f8"),
                         "out[1][1] must be a writable float64 array"),
    "scalar as float": ((0,), lambda out, args: 0.0,
                        "out[0] must be a writable float64 array of shape (), got a float"),
    "list leaf": ((1, 3), lambda out, args: [0.0] * 6,
                  "out[1][3] must be a writable float64 array of shape (6,), got a list"),
    "read-only": ((1, 0), lambda out, args: np.broadcast_to(np.zeros(6), (8, 6)),
                  "out[1][0] must be a writable float64 array of shape (8, 6), got a read-only"),
    "an argument": ((1, 0), lambda out, args: args[2],
                    "out[1][0] must not share memory with argument 'W1'"),
    "a view of an argument": ((1, 1), lambda out, args: args[3][::-1],
                              "out[1][1] must not share memory with argument 'b1'"),
    "another leaf": ((1, 3), lambda out, args: out[1][1],
                     "out[1][1] must not share memory with out[1][3]"),
    "overlapping leaf": ((1, 2), lambda out, args: out[1][0][:6],
                         "out[1][0] must not share memory with out[1][2]"),
    "too short": ((1,), lambda out, args: out[1][:5],
                  "out[1] must be a tuple or list of 6, like the result, got a tuple of 5"),
    "array for tuple": ((1,), lambda out, args: np.empty(6),
                        "out[1] must be a tuple or list of 6, like the result, got a ndarray"),
    "dict": ((), lambda out, args: {"loss": out[0]},
             "out must be a tuple or list of 2, like the result, got a dict"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_out_is_refused_naming_its_position(vg, case):
    f, args, fresh = vg
    path, make, message = BAD[case]
    out = fresh()
    bad = _set(out, path, make(out, args))
    before = [a.copy() for a in args]
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        f(*args, out=bad)
    for a, b in zip(args, before, strict=True):  # nothing was written anywhere
        np.testing.assert_array_equal(a, b)


# -- random graphs ---------------------------------------------------------------------------

@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(max_steps=8))
def test_random_graphs(case):
    """Values, gradients, the last node and a random earlier one (views, arguments and
    repeats among them): out= gives exactly the results without it."""
    variables, last, extra, values = case
    cost = _cost(last) + sd.sum(extra)
    f, _ = compile_one(variables, (cost, tuple(sd.grad(cost, variables)), [last, extra, last]))
    args = [values[v] for v in variables]
    assert_out_matches(f, args, [a * 0.5 for a in args])
