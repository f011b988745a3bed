"""Linear algebra beyond the op table: multi-output ops (cotangents of some outputs only,
one computation per group in evaluate and in generated code), errors on bad input and bad
shapes, numerics (slogdet where det overflows), the composed functions (pinv, norms,
cho_solve), Hessians through the decompositions, and specs calling them."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd
from tests.fd import check_grads, numerical_jvp

W = np.array([1.0, -2.0, 0.5])


def spd(rng: np.random.Generator, n: int = 3) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.arange(1.0, n + 1)) @ q.T


@pytest.fixture
def eigh_calls(monkeypatch):
    """Counts np.linalg.eigh calls (the interpreter's and generated code's alike)."""
    calls = []
    real = np.linalg.eigh

    def counting(a):
        calls.append(a.shape)
        return real(a)

    monkeypatch.setattr(np.linalg, "eigh", counting)
    return calls


# -- multi-output: eigh ------------------------------------------------------------------

def test_eigh_returns_one_node_per_output_sharing_inputs():
    a = sd.var("A", (3, 3))
    w, v = sd.linalg.eigh(a)
    assert (w.op, v.op) == (sd.linalg.eigh.op,) * 2
    assert (w.attrs["output"], v.attrs["output"]) == (0, 1)
    assert w.inputs == v.inputs == (a,)
    assert (w.shape, v.shape) == ((3,), (3, 3))
    assert sd.linalg.eigh(a) == (w, v)  # hash-consed: the same nodes again


def test_loss_of_eigenvalues_only_has_gradient_v_diag_v_transpose(rng):
    a = sd.var("A", (3, 3))
    w, _ = sd.linalg.eigh(a)
    loss = sd.sum(w * W)
    value = spd(rng)
    got = sd.evaluate(sd.grad(loss, a), {a: value})
    _, vecs = np.linalg.eigh(value)
    np.testing.assert_allclose(got, (vecs * W) @ vecs.T, atol=1e-12)
    check_grads(loss, [a], {a: value}, rng, order=2)


def test_loss_of_eigenvectors_only(rng):
    a = sd.var("A", (3, 3))
    _, v = sd.linalg.eigh(a)
    loss = sd.sum(v[:, 2] * W) + sd.sum(v[0] ** 2 * W)
    check_grads(loss, [a], {a: spd(rng)}, rng, order=2)


def test_loss_of_both_outputs_sums_their_contributions(rng):
    a = sd.var("A", (3, 3))
    w, v = sd.linalg.eigh(a)
    loss_w = sd.sum(w ** 2)
    loss_v = sd.sum(v[:, 1] * W)
    point = {a: spd(rng)}
    check_grads(loss_w + loss_v, [a], point, rng, order=1)
    both, only_w, only_v = sd.evaluate([sd.grad(loss_w + loss_v, a), sd.grad(loss_w, a),
                                        sd.grad(loss_v, a)], point)
    np.testing.assert_allclose(both, only_w + only_v, atol=1e-12)


def test_evaluate_runs_eigh_once_for_all_outputs_and_derivatives(rng, eigh_calls):
    a = sd.var("A", (3, 3))
    w, v = sd.linalg.eigh(a)
    loss = sd.sum(w ** 2) + sd.sum(v[:, 0] * W)
    sd.evaluate([w, v, loss, sd.grad(loss, a)], {a: spd(rng)})
    assert len(eigh_calls) == 1


def test_generated_code_computes_eigh_once(rng, eigh_calls, target):
    a = sd.var("A", (3, 3))
    w, v = sd.linalg.eigh(a)
    loss = sd.sum(w ** 2) + sd.sum(v[:, 0] * W)
    fn = sd.function([a], [w, v, loss, sd.grad(loss, a)], target=target)
    assert fn.source.count("np.linalg.eigh(") == 1  # inside the copied helper
    assert len(re.findall(r"^\s+\w+, \w+ = _eigh\(A\)$", fn.source, flags=re.M)) == 1
    value = spd(rng)
    eigh_calls.clear()
    got = fn(value)
    assert len(eigh_calls) == 1
    want = sd.evaluate([w, v, loss, sd.grad(loss, a)], {a: value})
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-12)


def test_generated_code_names_unused_outputs_underscore(rng, target):
    a = sd.var("A", (4, 3))
    _, s, _ = sd.linalg.svd(a)
    fn = sd.function([a], sd.sum(s), target=target)
    assert re.search(r"^\s+_, \w+, _ = _svd\(A\)$", fn.source, flags=re.M), fn.source
    value = rng.standard_normal((4, 3))
    np.testing.assert_allclose(fn(value), np.linalg.svd(value, compute_uv=False).sum())


def test_generated_slogdet_unpacks_sign_and_log(rng, target):
    a = sd.var("A", (3, 3))
    sign, logdet = sd.linalg.slogdet(a)
    fn = sd.function([a], [sign * sd.exp(logdet), sd.grad(logdet, a)], target=target)
    assert fn.source.count("np.linalg.slogdet(") == 1
    value = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    det, grad = fn(value)
    np.testing.assert_allclose(det, np.linalg.det(value))
    np.testing.assert_allclose(grad, np.linalg.inv(value).T, atol=1e-12)


def test_stats_count_a_multi_output_computation_once():
    a = sd.var("A", (4, 4))
    u, s, vh = sd.linalg.svd(a)
    one = sd.stats(sd.sum(s))
    every = sd.stats(sd.sum(u) + sd.sum(s) + sd.sum(vh))
    per_sum = sd.stats(sd.sum(a)).forward_flops
    assert every.forward_flops == one.forward_flops + 2 * per_sum + 2  # two sums, two adds


def test_multi_output_results_are_never_written_into():
    """The memory plan treats a tuple-returning call as not out-capable."""
    from codegen.printer import out_capable

    a = sd.var("A", (3, 3))
    for node in (*sd.linalg.eigh(a), *sd.linalg.svd(a), *sd.linalg.slogdet(a)):
        assert not out_capable(node)


# -- numerics ------------------------------------------------------------------------------

def test_slogdet_is_finite_where_det_overflows():
    a = sd.var("A", (200, 200))
    value = np.diag(np.full(200, 100.0))
    det, sign, logdet, grad = sd.evaluate(
        [sd.linalg.det(a), *sd.linalg.slogdet(a), sd.grad(sd.linalg.slogdet(a)[1], a)],
        {a: value})
    assert np.isinf(det)
    assert sign == 1.0 and np.isclose(logdet, 200 * np.log(100.0))
    np.testing.assert_allclose(grad, np.eye(200) / 100.0)


def test_sign_of_slogdet_has_zero_derivative(rng):
    a = sd.var("A", (3, 3))
    sign, _ = sd.linalg.slogdet(a)
    t = sd.var("t", (3, 3))
    point = {a: rng.standard_normal((3, 3)), t: rng.standard_normal((3, 3))}
    back, fwd = sd.evaluate([sd.grad(sign, a), sd.jvp(sign, a, t)], point)
    assert not back.any() and fwd == 0.0


def test_cholesky_and_eigh_read_the_symmetric_part(rng):
    a = sd.var("A", (3, 3))
    sym = spd(rng)
    skew = rng.standard_normal((3, 3))
    skew = skew - skew.T
    l_sym, l_skewed = (sd.evaluate(sd.linalg.cholesky(a), {a: m}) for m in (sym, sym + skew))
    np.testing.assert_allclose(l_sym, l_skewed)
    grad = sd.evaluate(sd.grad(sd.sum(sd.linalg.cholesky(a) * W), a), {a: sym + skew})
    np.testing.assert_allclose(grad, grad.T)


def test_repeated_eigenvalues_keep_the_eigenvalue_gradient_finite_only():
    """The documented limitation: at a repeated eigenvalue the eigenvectors' derivative
    divides by a zero gap; the eigenvalues' own derivative stays finite."""
    a = sd.var("A", (3, 3))
    w, v = sd.linalg.eigh(a)
    values_grad, vectors_grad = sd.evaluate(
        [sd.grad(sd.sum(w * W), a), sd.grad(sd.sum(v[:, 0] * W), a)], {a: np.eye(3)})
    np.testing.assert_allclose(values_grad, np.diag(W), atol=1e-12)
    assert not np.all(np.isfinite(vectors_grad))


# -- composed functions ------------------------------------------------------------------

def test_pinv_and_matrix_norms_match_numpy(rng):
    a = sd.var("A", (4, 3))
    value = rng.standard_normal((4, 3))
    got = sd.evaluate([sd.linalg.pinv(a), sd.linalg.norm(a, "fro"), sd.linalg.norm(a, "nuc"),
                       sd.linalg.norm(a, 2), sd.linalg.norm(sd.reshape(a, (12,)))], {a: value})
    want = [np.linalg.pinv(value), np.linalg.norm(value, "fro"),
            np.linalg.norm(value, "nuc"), np.linalg.norm(value, 2), np.linalg.norm(value)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-12)


def test_nuclear_norm_gradient_is_u_vh(rng):
    a = sd.var("A", (4, 3))
    value = rng.standard_normal((4, 3))
    got = sd.evaluate(sd.grad(sd.linalg.norm(a, "nuc"), a), {a: value})
    u, _, vh = np.linalg.svd(value, full_matrices=False)
    np.testing.assert_allclose(got, u @ vh, atol=1e-10)
    check_grads(sd.linalg.pinv(a), [a], {a: value}, rng, order=1)


def test_cho_solve_solves_through_the_factor(rng):
    a = sd.var("A", (3, 3))
    b = sd.var("b", (3,))
    x = sd.linalg.cho_solve(sd.linalg.cholesky(a), b)
    point = {a: spd(rng), b: rng.standard_normal(3)}
    np.testing.assert_allclose(sd.evaluate(x, point), np.linalg.solve(point[a], point[b]))
    check_grads(sd.sum(x * W), [a, b], point, rng, order=2)


def test_solve_assuming_positive_definite_goes_through_cholesky(rng):
    a = sd.var("A", (3, 3))
    b = sd.var("b", (3, 2))
    x = sd.linalg.solve(a, b, assume_a="pos")
    assert {"cholesky", "solve_triangular"} <= {n.op.name for n in sd.graph.topo_order([x])
                                               if n.op is not None}
    point = {a: spd(rng), b: rng.standard_normal((3, 2))}
    np.testing.assert_allclose(sd.evaluate(x, point), np.linalg.solve(point[a], point[b]))
    check_grads(x, [a, b], point, rng, order=2)


def test_numpy_functions_on_nodes_dispatch_to_linalg(rng):
    a = sd.var("A", (3, 3))
    assert np.linalg.inv(a) is sd.linalg.inv(a)
    assert np.linalg.cholesky(a) is sd.linalg.cholesky(a)
    assert np.linalg.norm(a, "nuc") is sd.linalg.norm(a, "nuc") is sd.norm(a, "nuc")
    value = rng.standard_normal((3, 3))
    for order in ("fro", "nuc", 2, None):
        np.testing.assert_allclose(sd.evaluate(np.linalg.norm(a, order), {a: value}),
                                   np.linalg.norm(value, order))


# -- Jacobians and Hessians (batch rules) --------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda a: sd.sum(sd.linalg.eigh(a)[0] ** 3),
    lambda a: sd.linalg.slogdet(a)[1],
    lambda a: sd.sum(sd.linalg.solve(a, W) ** 2),
    lambda a: sd.sum(sd.linalg.cholesky(a) * W),
    lambda a: sd.sum(sd.linalg.svd(a)[0][:, 0] * W),
], ids=["eigh", "slogdet", "solve", "cholesky", "svd"])
def test_hessian_through_decompositions_matches_differences_of_the_gradient(build, rng):
    a = sd.var("A", (3, 3))
    y = build(a)
    value = spd(rng) + np.eye(3)
    hess = sd.evaluate(sd.hessian(y, a), {a: value})
    grad = sd.grad(y, a)
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = 1.0
            column = numerical_jvp(lambda p: sd.evaluate(grad, p), {a: value}, {a: e})
            np.testing.assert_allclose(hess[..., i, j], column, atol=1e-6)


def test_jacobian_of_batched_solve(rng):
    a = sd.var("A", (2, 3, 3))
    b = sd.var("b", (3, 2))
    x = sd.linalg.solve(a, b)
    point = {a: rng.standard_normal((2, 3, 3)) + 4 * np.eye(3), b: rng.standard_normal((3, 2))}
    jac_a, jac_b = sd.evaluate([sd.jacobian(x, a), sd.jacobian(x, b)], point)
    assert jac_a.shape == (2, 3, 2, 2, 3, 3) and jac_b.shape == (2, 3, 2, 3, 2)
    t = rng.standard_normal((3, 2))
    want = numerical_jvp(lambda p: sd.evaluate(x, p), point, {b: t})
    np.testing.assert_allclose(np.tensordot(jac_b, t, 2), want, atol=1e-8)


# -- errors --------------------------------------------------------------------------------

def test_cholesky_of_a_matrix_that_is_not_positive_definite_raises_naming_the_node(target):
    a = sd.var("A", (2, 2))
    factor = sd.linalg.cholesky(a)
    with pytest.raises(np.linalg.LinAlgError, match=r"cholesky at .*not positive definite"):
        sd.evaluate(factor, {a: np.array([[1.0, 2.0], [2.0, 1.0]])})
    with pytest.raises(np.linalg.LinAlgError):
        sd.function([a], factor, target=target)(np.array([[1.0, 2.0], [2.0, 1.0]]))


@pytest.mark.parametrize("make", [sd.linalg.solve, lambda a, b: sd.linalg.inv(a) @ b])
def test_singular_matrix_raises(make):
    a = sd.var("A", (2, 2))
    b = sd.var("b", (2,))
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        sd.evaluate(make(a, b), {a: np.ones((2, 2)), b: np.ones(2)})


@pytest.mark.parametrize("make, shapes, message", [
    (sd.linalg.solve, [(3, 4), (3,)], r"solve: A must be a square matrix .*A \(3, 4\), B \(3,\)"),
    (sd.linalg.solve, [(3, 3), (4,)], r"solve: .* needs 3 rows .*A \(3, 3\), B \(4,\)"),
    (sd.linalg.solve, [(3, 3), (4, 2)], r"solve: .* needs 3 rows .*A \(3, 3\), B \(4, 2\)"),
    (sd.linalg.solve_triangular, [(2, 3, 3), (4, 3, 1)],
     r"solve_triangular: batch dims .*A \(2, 3, 3\), B \(4, 3, 1\)"),
    (sd.linalg.cholesky, [(2, 3)], r"cholesky: A must be a square matrix .*\(2, 3\)"),
    (sd.linalg.eigh, [(3,)], r"eigh: A must be a square"),
    (sd.linalg.slogdet, [(2, 3)], r"slogdet: A must be a square"),
    (sd.linalg.det, [(2, 3)], r"det: A must be a square"),
    (sd.linalg.inv, [(4, 3)], r"inv: A must be a square"),
], ids=["solve-nonsquare", "solve-vector-rows", "solve-matrix-rows", "batch-mismatch",
        "cholesky", "eigh", "slogdet", "det", "inv"])
def test_bad_shapes_raise_naming_the_operands(make, shapes, message):
    operands = [sd.var(name, shape) for name, shape in zip("AB", shapes, strict=False)]
    with pytest.raises(sd.ShapeError, match=message):
        make(*operands)


# -- specs -----------------------------------------------------------------------------------

SPEC = """
name = "linalg_spec"
[inputs]
B = { shape = [3, 3] }
y = { shape = [3] }
[params]
A = { shape = [3, 3] }
[define]
S = "A @ A.T + B @ B.T + where(arange(3)[:, None] == arange(3), 3.0, 0.0)"
x = "solve(S, y) + solve(S, y, assume_a='pos')"
logdet = "slogdet(S)[1]"
top = "eigh(S)[0][2]"
loss = "sum(x * y) + logdet + top + sum(svd(A)[1]) + det(inv(S))"
[outputs]
loss = "loss"
[derivatives]
loss_grad = { of = "loss", wrt = "A" }
"""


def test_a_spec_calls_the_linalg_functions(tmp_path, rng):
    path = tmp_path / "linalg_spec.toml"
    path.write_text(SPEC)
    module = sd.spec_module(sd.load_spec(path))
    a, b, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    s = a @ a.T + b @ b.T + 3 * np.eye(3)
    want = (2 * np.linalg.solve(s, y) @ y + np.linalg.slogdet(s)[1] + np.linalg.eigvalsh(s)[2]
            + np.linalg.svd(a, compute_uv=False).sum() + 1 / np.linalg.det(s))
    np.testing.assert_allclose(module.loss(B=b, y=y, A=a), want)
    grad = module.loss_grad(B=b, y=y, A=a)
    t = rng.standard_normal((3, 3))
    assert grad.shape == (3, 3)
    numeric = numerical_jvp(lambda p: module.loss(B=b, y=y, A=p["A"]), {"A": a}, {"A": t})
    np.testing.assert_allclose(np.sum(grad * t), numeric, rtol=1e-6)


def test_float16_is_refused_as_numpy_refuses_it():
    a = sd.var("a", (3, 3), "float16")
    with pytest.raises(sd.ShapeError, match="float32 or float64"):
        sd.linalg.inv(a)
