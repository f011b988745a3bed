"""The NumPy target's last passes (issue 14): the structure of the generated code where it
used to waste a pass or an allocation, and the numbers it gives there.

- constant subgraphs (`np.eye(d) * lam`) are computed once at import, read-only, and never
  handed to a caller;
- a Hessian is returned as the C-contiguous array its last product wrote, not a transposed
  view;
- an elementwise pass over transposed operands writes a column-major scratch array;
- a matrix product contracting a dimension of 1 (the weight gradient of a batch of one) is
  a broadcast product, at run time when that dimension is symbolic.
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen
import symdiff as sd
from tests.test_codegen_helpers import assert_matches_evaluate


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def body(source: str, name: str = "f") -> str:
    """The text of function `name` in a generated module."""
    start = source.index(f"\ndef {name}(")
    end = source.find("\ndef ", start + 1)
    return source[start:] if end < 0 else source[start:end]


def module_level(source: str) -> str:
    """The generated module without its function bodies and helpers' bodies: the lines
    that are not indented."""
    return "\n".join(line for line in source.split("\n") if line and not line[0].isspace())


def logistic(d: int = 6, n: int = 40, lam: float = 0.1):
    X, y, w = sd.var("X", (n, d)), sd.var("y", (n,)), sd.var("w", (d,))
    f = sd.mean(sd.log(1 + sd.exp(-y * (X @ w)))) + 0.5 * lam * sd.sum(w * w)
    return [X, y, w], f


def logistic_point(inputs, rng):
    X, y, w = inputs
    n, d = X.shape
    return {X: rng.standard_normal((n, d)), y: np.sign(rng.standard_normal(n)),
            w: rng.standard_normal(d) * 0.3}


def closed_form(Xv, yv, wv, lam: float = 0.1):
    p = 1 / (1 + np.exp(-yv * (Xv @ wv)))
    return (Xv.T * (p * (1 - p))) @ Xv / len(yv) + lam * np.eye(Xv.shape[1])


# -- constant subgraphs at module level -------------------------------------------------------

@pytest.mark.parametrize("optimize", [True, False])
def test_the_regularizers_identity_is_made_on_import_not_per_call(optimize, rng):
    inputs, f = logistic()
    fn = sd.function(inputs, sd.hessian(f, inputs[2]), optimize=optimize)
    assert "np.eye(" in module_level(fn.source)
    assert "np.eye(" not in body(fn.source)
    point = logistic_point(inputs, rng)
    args = [point[v] for v in inputs]
    np.testing.assert_allclose(fn(*args), closed_form(*args), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fn(*args), closed_form(*args), rtol=1e-12, atol=1e-15)


def test_module_constants_are_read_only_and_never_returned(rng):
    x = sd.var("x", (3,))
    scaled_eye = sd.eye(3) * 2.0
    fn = sd.function([x], [scaled_eye, x * 2.0, scaled_eye.T], optimize=False)
    assert "np.eye(" in module_level(fn.source) and "np.eye(" not in body(fn.source)
    module = codegen.load_module(fn.source, "consts")
    constants = [getattr(module, name) for name in dir(module)
                 if name.startswith("_k") and isinstance(getattr(module, name), np.ndarray)]
    assert constants and all(not c.flags.writeable for c in constants)
    first, _, transposed = fn(np.ones(3))
    for got in (first, transposed):
        assert got.flags.writeable and got.flags.owndata
        assert not any(np.shares_memory(got, c) for c in constants)
    first *= 100.0  # the caller's own array: the next call is unaffected
    transposed[0, 0] = -1.0
    again, _, _ = fn(np.ones(3))
    np.testing.assert_array_equal(again, 2.0 * np.eye(3))


def test_functions_of_one_module_share_a_constant():
    inputs, f = logistic()
    hess = codegen.Function("hess", inputs, sd.optimize(sd.hessian(f, inputs[2])))
    both = codegen.Function("hess_plus", inputs, sd.optimize(sd.hessian(f, inputs[2]) + 1.0))
    source = codegen.emit_module([hess, both], title="m")
    assert module_level(source).count("np.eye(") == 1
    assert "np.eye(" not in body(source, "hess") and "np.eye(" not in body(source, "hess_plus")


def test_a_constant_subgraph_matches_evaluate(rng):
    x = sd.var("x", (4, 3))
    y = sd.sum(x * (sd.eye(3)[:, :3].sum(axis=0) * 2.0 + sd.broadcast_to(sd.const(1.5), (4, 3))))
    assert_matches_evaluate([x], [y, sd.grad(y, x)], {x: rng.standard_normal((4, 3))})


# -- C-contiguous Hessians --------------------------------------------------------------------

@pytest.mark.parametrize("optimize", [True, False])
def test_a_hessian_is_returned_c_contiguous(optimize, rng):
    inputs, f = logistic()
    fn = sd.function(inputs, sd.hessian(f, inputs[2]), optimize=optimize)
    assert ".T\n" not in body(fn.source).split("return")[-1]
    point = logistic_point(inputs, rng)
    H = fn(*[point[v] for v in inputs])
    assert H.flags.c_contiguous and H.flags.owndata


def test_a_matrix_hessian_is_symmetric_and_matches_finite_differences(rng):
    W = sd.var("W", (3, 2))
    x = sd.var("x", (2,))
    f = sd.sum(sd.tanh(W @ x) ** 2) + sd.sum(W * W * W)
    H = sd.hessian(f, W)
    Wv, xv = rng.standard_normal((3, 2)), rng.standard_normal(2)
    got = sd.function([W, x], H)(Wv, xv)
    assert got.shape == (3, 2, 3, 2) and got.flags.c_contiguous
    flat = got.reshape(6, 6)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-12, atol=1e-12)

    def grad_at(Wflat):
        return sd.evaluate([sd.grad(f, W)], {W: Wflat.reshape(3, 2), x: xv})[0].ravel()

    eps = 1e-6
    fd = np.stack([(grad_at(Wv.ravel() + eps * e) - grad_at(Wv.ravel() - eps * e)) / (2 * eps)
                   for e in np.eye(6)])
    np.testing.assert_allclose(flat, fd, rtol=1e-6, atol=1e-8)


def test_a_forward_jacobian_is_still_its_transposed_columns(rng):
    x = sd.var("x", (3,))
    A = rng.standard_normal((4, 3))
    J = sd.jacobian(sd.const(A) @ sd.sin(x), x, mode="fwd")
    xv = rng.standard_normal(3)
    np.testing.assert_allclose(sd.function([x], J)(xv), A * np.cos(xv), rtol=1e-12)


# -- column-major scratch for passes over transposed operands ---------------------------------

def test_scaling_the_rows_of_a_transpose_writes_a_column_major_scratch_array(rng):
    inputs, f = logistic(d=20, n=1000)  # X.T * v is 160 kB: a scratch array
    fn = sd.function(inputs, sd.hessian(f, inputs[2]))
    assert "np.empty((1000, 20)).T" in body(fn.source)
    assert "np.empty((20, 1000))" not in body(fn.source)
    point = logistic_point(inputs, rng)
    args = [point[v] for v in inputs]
    np.testing.assert_allclose(fn(*args), closed_form(*args), rtol=1e-11, atol=1e-15)
    assert_matches_evaluate(inputs, [sd.hessian(f, inputs[2])], point, rtol=1e-11)


# -- outer products: a matrix product contracting a dimension of 1 ----------------------------

def weight_gradient(n):
    X, d = sd.var("X", (n, 80)), sd.var("d", (n, 60))  # dW has 4800 elements
    W = sd.var("W", (80, 60))
    return [X, d, W], sd.grad(sd.sum(d * (X @ W)) + 1e-4 * sd.sum(W * W), W)


def test_a_symbolic_batch_outer_product_is_a_broadcast_product_when_it_is_one(rng):
    inputs, g = weight_gradient("n")
    fn = sd.function(inputs, g)
    assert "_matmul_unit(X.T, d" in body(fn.source)
    assert "np.multiply(a, b, out=out)" in fn.source  # the helper's batch-of-one branch
    W = rng.standard_normal((80, 60))
    for n in (1, 5):
        X, d = rng.standard_normal((n, 80)), rng.standard_normal((n, 60))
        got = fn(X, d, W)
        np.testing.assert_allclose(got, X.T @ d + 2e-4 * W, rtol=1e-13, atol=1e-15)
        assert_matches_evaluate(inputs, [g], {inputs[0]: X, inputs[1]: d, inputs[2]: W})


def test_a_static_outer_product_is_written_as_one(rng):
    inputs, g = weight_gradient(1)
    fn = sd.function(inputs, g)
    assert "np.dot(X.T" not in fn.source and "np.matmul(X.T" not in fn.source
    assert "_matmul_unit" not in fn.source
    X, d, W = rng.standard_normal((1, 80)), rng.standard_normal((1, 60)), \
        rng.standard_normal((80, 60))
    np.testing.assert_array_equal(fn(X, d, W), np.multiply(X.T, d) + 2e-4 * W)


def test_a_small_product_needs_no_run_time_test():
    X, d = sd.var("X", ("n", 8)), sd.var("d", ("n", 4))
    fn = sd.function([X, d], X.T @ d)
    assert "_matmul_unit" not in fn.source and "np.dot(X.T, d)" in fn.source


def test_outer_products_of_stacks_match_evaluate(rng):
    a, b = sd.var("a", (2, 3, 1)), sd.var("b", (1, 4))
    p, q = sd.var("p", ("k", 3, "m")), sd.var("q", ("m", 2))
    assert_matches_evaluate([a, b], [a @ b, sd.grad(sd.sum(sd.sin(a @ b)), a)],
                            {a: rng.standard_normal((2, 3, 1)), b: rng.standard_normal((1, 4))})
    assert "_matmul_unit(p, q" in sd.function([p, q], p @ q).source
    for m in (1, 3):
        assert_matches_evaluate([p, q], [p @ q],
                                {p: rng.standard_normal((2, 3, m)), q: rng.standard_normal((m, 2))})


@pytest.mark.parametrize("dtype", ["float16", "float32", "int64", "bool"])
def test_an_outer_product_gives_matmuls_numbers_in_every_dtype(dtype, rng):
    a, b = sd.var("a", (70, "n"), dtype), sd.var("b", ("n", 80), dtype)
    fn = sd.function([a, b], a @ b)
    assert "_matmul_unit(a" in fn.source  # float16 widens: a.astype(np.float32)
    for n in (1, 3):
        if dtype == "bool":
            av, bv = rng.random((70, n)) > 0.5, rng.random((n, 80)) > 0.5
        elif dtype == "int64":
            av, bv = rng.integers(-5, 5, (70, n)), rng.integers(-5, 5, (n, 80))
        else:
            av = rng.standard_normal((70, n)).astype(dtype)
            bv = rng.standard_normal((n, 80)).astype(dtype)
        got, (want,) = fn(av, bv), sd.evaluate([a @ b], {a: av, b: bv})
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
