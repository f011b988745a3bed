"""The NumPy surface beyond the op table: node methods, NumPy functions applied to nodes,
erf's accuracy, the derivative conventions at special points (norm at 0, clip at its
bounds), variance over unit axes, split, and the bad-input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import symdiff as sd
from symdiff.ops.base import NUMPY, PUBLIC
from symdiff.ops.special import _erf

RNG = np.random.default_rng(11)
XV = RNG.standard_normal((3, 4))
X = sd.var("x", (3, 4))


def value(node):
    return sd.evaluate(node, {X: XV})


METHODS = [
    ("mean()", lambda x: x.mean()), ("max(1)", lambda x: x.max(1)),
    ("min(0, keepdims)", lambda x: x.min(0, keepdims=True)), ("prod(1)", lambda x: x.prod(1)),
    ("std()", lambda x: x.std()), ("var(0, ddof=1)", lambda x: x.var(0, ddof=1)),
    ("transpose(1, 0)", lambda x: x.transpose(1, 0)),
    ("transpose((1, 0))", lambda x: x.transpose((1, 0))), ("transpose()", lambda x: x.transpose()),
    ("flatten()", lambda x: x.flatten()), ("ravel()", lambda x: x.ravel()),
    ("clip(-0.5, 0.5)", lambda x: x.clip(-0.5, 0.5)), ("clip(max=0)", lambda x: x.clip(max=0)),
    ("cumsum(1)", lambda x: x.cumsum(1)), ("sum(0)", lambda x: x.sum(0)),
    ("reshape(2, 6).squeeze()", lambda x: x.reshape(1, 12, 1).squeeze()),
    ("dot", lambda x: x.dot(np.ones(4))), ("// and %", lambda x: x // 0.3 + x % 0.3),
]


@pytest.mark.parametrize("label, method", METHODS, ids=[m[0] for m in METHODS])
def test_node_methods_match_ndarray_methods(label, method):
    np.testing.assert_allclose(value(method(X)), method(XV), rtol=1e-12, atol=1e-15)


def test_size_and_len():
    assert X.size == 12 and len(X) == 3
    assert np.size(X) == 12 and np.shape(X) == (3, 4) and np.ndim(X) == 2
    with pytest.raises(TypeError, match="0-d"):
        len(sd.var("s", ()))
    n = sd.var("n_rows", ("n", 2))
    with pytest.raises(TypeError, match="symbolic"):
        len(n)
    with pytest.raises(sd.ShapeError, match="symbolic"):
        _ = n.size


UFUNCS = ["exp", "log1p", "sin", "cos", "tanh", "sinh", "cosh", "arctan", "abs", "absolute",
          "negative", "square", "sign", "floor", "ceil", "rint", "round", "sqrt"]


@pytest.mark.parametrize("name", UFUNCS)
def test_numpy_ufuncs_build_the_symdiff_op(name):
    y = getattr(np, name)(X)
    assert isinstance(y, sd.Node)
    want = getattr(np, name)(XV)
    np.testing.assert_allclose(value(y), want if name != "sqrt" else np.sqrt(XV), rtol=1e-12)


def test_numpy_binary_ufuncs_and_operators_with_arrays():
    arr = RNG.uniform(1, 2, (3, 4))
    for fn in (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.logaddexp,
               np.mod, np.remainder, np.floor_divide):
        y = fn(arr, X)
        assert isinstance(y, sd.Node), fn
        np.testing.assert_allclose(value(y), fn(arr, XV), rtol=1e-12)
    y = arr + X * arr  # ndarray on the left: the node's op, not an object array
    assert isinstance(y, sd.Node)
    np.testing.assert_allclose(value(y), arr + XV * arr)


def test_numpy_functions_dispatch_to_symdiff():
    cases = [
        (lambda m: np.sum(m, axis=0), None), (lambda m: np.mean(m, keepdims=True), None),
        (lambda m: np.max(m, 1), None), (lambda m: np.transpose(m), None),
        (lambda m: np.reshape(m, (4, 3)), None), (lambda m: np.matmul(m, m.T), None),
        (lambda m: np.dot(m.T, m), None), (lambda m: np.clip(m, -0.5, 0.5), None),
        (lambda m: np.var(m, axis=1), None), (lambda m: np.std(m), None),
        (lambda m: np.linalg.norm(m, axis=1), None), (lambda m: np.cumsum(m, 0), None),
        (lambda m: np.concatenate([m, m], axis=1), None), (lambda m: np.where(m > 0, m, 0), None),
        (lambda m: np.einsum("ij->j", m), None), (lambda m: np.trace(m[:, :3]), None),
        (lambda m: np.outer(m[0], m[1]), None), (lambda m: np.flip(m, 1), None),
        (lambda m: np.tile(m, 2), None), (lambda m: np.pad(m, 1), None),
    ]
    for build, _ in cases:
        y = build(X)
        assert isinstance(y, sd.Node)
        np.testing.assert_allclose(value(y), build(XV), rtol=1e-12)
    parts = np.split(X, 2, axis=1)
    assert all(isinstance(p, sd.Node) for p in parts)


def test_numpy_functions_without_a_counterpart_name_the_symdiff_function():
    with pytest.raises(TypeError, match=r"np.fmax has no symdiff counterpart .*sd\.max"):
        np.fmax(X, 0.0)
    with pytest.raises(TypeError, match=r"np.cbrt has no symdiff counterpart"):
        np.cbrt(X)
    with pytest.raises(TypeError, match=r"np.median has no symdiff counterpart"):
        np.median(X)
    with pytest.raises(TypeError, match=r"np.add.reduce .*sd\.sum"):
        np.add.reduce(X)
    with pytest.raises(TypeError, match=r"out.*sd\.exp"):
        np.exp(X, out=np.zeros((3, 4)))


def test_every_numpy_name_dispatches_to_a_public_function_that_exists_in_numpy():
    for name, fn in NUMPY.items():
        assert fn in PUBLIC.values(), name
        obj = np
        for part in name.split("."):
            obj = getattr(obj, part)


def test_named_arithmetic_is_the_operator_node():
    y = sd.var("y", (4,))
    assert sd.add(X, y) is X + y
    assert sd.subtract(X, y) is X - y
    assert sd.multiply(X, y) is X * y
    assert sd.divide(X, y) is X / y
    assert sd.power(X, y) is X ** y
    assert sd.negative(X) is -X
    assert sd.reciprocal(X) is 1 / X


# -- erf --------------------------------------------------------------------------------------

def test_erf_is_accurate_against_math_erf_and_scipy():
    xs = np.concatenate([np.linspace(-7, 7, 40000), np.geomspace(1e-300, 1.0, 400),
                         -np.geomspace(1e-300, 1.0, 400), [1.9999999, 2.0, 2.0000001]])
    got = _erf(np, xs)
    want = np.array([math.erf(v) for v in xs])
    assert np.max(np.abs(got - want) / np.abs(want)) < 2e-15
    np.testing.assert_allclose(got, scipy.special.erf(xs), rtol=2e-15, atol=0)
    edges = _erf(np, np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 30.0]))
    np.testing.assert_array_equal(edges[[0, 1, 3, 5]], [1.0, -1.0, 0.0, 1.0])
    assert np.isnan(edges[2]) and np.signbit(edges[4])
    assert _erf(np, np.float32(0.5)).dtype == np.float32


def test_erf_in_generated_code_needs_numpy_alone(target):
    v = sd.var("v", (5,))
    f = sd.function([v], [sd.erf(v), sd.grad(sd.sum(sd.erf(v)), v)], target=target)
    assert "scipy" not in f.source
    # numba kernels compute erf with the standard library's math.erf (numba has no np erf)
    assert "import math" not in f.source or target == "numba"
    xs = np.array([-3.0, -0.5, 0.0, 1.0, 4.0])
    values, slopes = f(xs)
    np.testing.assert_allclose(values, scipy.special.erf(xs), rtol=2e-15)
    np.testing.assert_allclose(slopes, 2 / np.sqrt(np.pi) * np.exp(-xs ** 2), rtol=1e-15)


# -- conventions at special points --------------------------------------------------------------

@pytest.mark.parametrize("ord", [None, 1, np.inf])
def test_norm_derivative_at_zero_is_zero(ord, target):
    v = sd.var("v", (3,))
    n = sd.norm(v, ord)
    one = sd.const(np.ones(3))
    grad, tangent = sd.evaluate([sd.grad(n, v), sd.jvp(n, v, one)], {v: np.zeros(3)})
    np.testing.assert_array_equal(grad, np.zeros(3))
    assert tangent == 0.0
    generated = sd.function([v], sd.grad(n, v), target=target)(np.zeros(3))
    np.testing.assert_array_equal(generated, np.zeros(3))


def test_norm_refuses_matrix_norms_other_than_fro_nuc_and_2():
    with pytest.raises(sd.ShapeError, match="matrix norm"):
        sd.norm(X, 1)
    with pytest.raises(sd.ShapeError, match="ord=3"):
        sd.norm(X, 3, axis=0)
    with pytest.raises(sd.ShapeError, match="axis"):
        sd.norm(X, axis=(0, 1))


def test_clip_derivative_splits_at_the_bounds():
    x = sd.var("x", (5,))
    lo, hi = sd.var("lo", ()), sd.var("hi", ())
    y = sd.sum(sd.clip(x, lo, hi))
    point = {x: np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), lo: np.float64(-1.0), hi: np.float64(1.0)}
    gx, glo, ghi = sd.evaluate(sd.grad(y, [x, lo, hi]), point)
    np.testing.assert_array_equal(gx, [0, 1, 1, 1, 0])  # a tie with a bound goes to x
    assert glo == 1 and ghi == 1


def test_variance_over_unit_axes_is_not_the_identity():
    """optimize may drop sum or max over size-1 axes, never a variance or a norm (which
    give 0 and |x| there)."""
    x = sd.var("x", (3, 1))
    xv = RNG.standard_normal((3, 1))
    outs = sd.optimize([sd.variance(x, 1), sd.norm(x, axis=1), sd.std(x, 1)])
    got = sd.evaluate(outs, {x: xv})
    np.testing.assert_array_equal(got[0], np.zeros(3))
    np.testing.assert_allclose(got[1], np.abs(xv[:, 0]))
    np.testing.assert_array_equal(got[2], np.zeros(3))
    assert not sd.ops.REGISTRY["variance"].unit_identity


def test_split_pieces_compile_once_and_only_used_pieces_get_cotangents(target):
    v = sd.var("v", (6,))
    a, b, c = sd.split(v, 3)
    loss = sd.sum(a * a) + sd.sum(c)
    f = sd.function([v], [loss, sd.grad(loss, v)], target=target)
    vv = np.arange(6.0)
    value_, grad = f(vv)
    assert value_ == 0 + 1 + 4 + 5
    np.testing.assert_array_equal(grad, [0, 2, 0, 0, 1, 1])


BAD = [
    (lambda: sd.squeeze(X, 0), "squeeze: axis 0 has size 3"),
    (lambda: sd.split(X, 3, axis=1), "3 sections do not divide axis 1"),
    (lambda: sd.tensordot(X, sd.var("w", (3, 4)), ([1], [1])), None),
    (lambda: sd.tensordot(X, sd.var("w", (3, 5)), 1), "tensordot: axis 1 of x has size 4"),
    (lambda: sd.inner(X, sd.var("w", (3,))), "inner: axis 1 of x has size 4"),
    (lambda: sd.dot(sd.var("a3", (2, 3, 4)), sd.var("b3", (2, 5, 2))), "dot: the last axis"),
    (lambda: sd.pad(X, 1, mode="reflect"), "mode='reflect'"),
    (lambda: sd.pad(X, ((1, 1), (1, 1), (1, 1))), "does not fit 2 axes"),
    (lambda: sd.tile(X, -1), "tile: reps must be non-negative"),
    (lambda: sd.repeat(X, 2.5), "repeat: repeats must be non-negative ints, got 2.5"),
    (lambda: sd.repeat(X, (1, 2), axis=0), "2 counts for axis 0 of size 3"),
    (lambda: sd.moveaxis(X, (0, 0), (1, 0)), "moveaxis: repeated axis"),
    (lambda: sd.diag(sd.var("t3", (2, 2, 2))), "diag takes 1-D or 2-D"),
    (lambda: sd.trace(sd.var("t1", (3,))), "trace needs 2 axes"),
    (lambda: sd.clip(X, sd.var("b", (2,)), 1), "clip"),
    (lambda: sd.moveaxis(X, 0, (0, 1)), "1 source axes but 2"),
    (lambda: sd.variance(sd.var("k", (3,), "int64")), "variance: operand k has dtype int64"),
]


@pytest.mark.parametrize("build, message", BAD)
def test_bad_input_names_the_operands(build, message):
    if message is None:
        build()  # a valid call in the list keeps the table honest
        return
    with pytest.raises(sd.ShapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_einsum_diagonal_derivative_is_the_identity_pattern():
    m = sd.var("m", (3, 3))
    grad = sd.evaluate(sd.grad(sd.einsum("ii->", m), m), {m: np.ones((3, 3))})
    np.testing.assert_array_equal(grad, np.eye(3))


SPEC = """
name = "surface"
[inputs]
X = { shape = ["n", 4] }
[params]
w = { shape = [4] }
[define]
z = "X @ w"
parts = "split(w, 2)[0]"
a = "sum(erf(z) ** 2) + norm(w, ord='inf') + variance(X, axis=0, ddof=1) @ w"
loss = "a + sum(cumsum(clip(z, -1, 1))) + sum(parts % 0.7) + sum(z // 2) + trace(outer(w, w))"
[outputs]
loss = "loss"
[derivatives]
loss_grad = { of = "loss", wrt = ["w"] }
loss_hess = { of = "loss", wrt = "w", kind = "hessian" }
"""


def test_a_spec_using_the_new_functions_compiles_to_numpy_alone():
    from symdiff.spec import loads_spec

    spec = loads_spec(SPEC, file="surface.toml")
    source = sd.compile_spec(spec)
    imports = {line.split()[1] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"numpy", "__future__"}, imports
    module = sd.spec_module(spec)
    xv = RNG.standard_normal((6, 4))
    wv = RNG.standard_normal(4)
    X_, w_ = spec.symbols["X"], spec.symbols["w"]
    loss = spec.defines["loss"]
    want_value, want_grad, want_hess = sd.evaluate(
        [loss, sd.grad(loss, w_), sd.hessian(loss, w_)], {X_: xv, w_: wv})
    np.testing.assert_allclose(module.loss(xv, wv), want_value, rtol=1e-12)
    (grad,) = module.loss_grad(xv, wv)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10)
    np.testing.assert_allclose(module.loss_hess(xv, wv), want_hess, rtol=1e-9, atol=1e-12)
