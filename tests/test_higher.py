"""Higher-order derivatives: third derivatives, jacobian, hessian, hvp and k-th derivatives
against finite differences, SymPy, and each other; graph size independent of the size."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import symdiff as sd
from symdiff.graph import topo_order
from tests.fd import assert_close, numerical_jvp

RNG = np.random.default_rng(7)


def _value(node, point):
    return lambda moved: sd.evaluate(node, moved)


COMPOSITIONS = {
    "tanh(sigmoid)": lambda x: sd.tanh(sd.sigmoid(x)),
    "softplus(log)": lambda x: sd.softplus(sd.log(x)),
    "exp(tanh)*sigmoid": lambda x: sd.exp(sd.tanh(x)) * sd.sigmoid(x),
    "log(1+x^2)/x": lambda x: sd.log(1 + x**2) / x,
    "tanh^3": lambda x: sd.tanh(sd.tanh(sd.tanh(x))),
}


@pytest.mark.parametrize("name", COMPOSITIONS)
def test_third_derivative_of_scalar_compositions(name):
    x = sd.var("x")
    y = COMPOSITIONS[name](x)
    point = {x: np.float64(0.7)}
    d2, d3 = sd.derivative(y, x, 2), sd.derivative(y, x, 3)
    expected = numerical_jvp(_value(d2, point), point, {x: np.float64(1.0)})
    assert_close(sd.evaluate(d3, point), expected, 1e-6, f"d3 {name}")
    xs = sympy.Symbol("x")
    exact = sympy.diff(_sympy(name, xs), xs, 3)
    assert_close(sd.evaluate(d3, point), float(exact.subs(xs, 0.7)), 1e-10, f"sympy {name}")


def _sympy(name, x):
    sig = lambda u: 1 / (1 + sympy.exp(-u))  # noqa: E731
    return {
        "tanh(sigmoid)": sympy.tanh(sig(x)),
        "softplus(log)": sympy.log(1 + sympy.exp(sympy.log(x))),
        "exp(tanh)*sigmoid": sympy.exp(sympy.tanh(x)) * sig(x),
        "log(1+x^2)/x": sympy.log(1 + x**2) / x,
        "tanh^3": sympy.tanh(sympy.tanh(sympy.tanh(x))),
    }[name]


def test_third_derivative_tensor_of_matmul_chain():
    n = 3
    x = sd.var("x", (n,))
    W1, W2 = RNG.standard_normal((4, n)), RNG.standard_normal((2, 4))
    y = sd.sum(sd.tanh(sd.const(W2) @ sd.softplus(sd.const(W1) @ x)))
    point = {x: RNG.standard_normal(n)}
    t = RNG.standard_normal(n)
    H, T3 = sd.derivative(y, x, 2), sd.derivative(y, x, 3)
    assert T3.shape == (n, n, n)
    expected = numerical_jvp(_value(H, point), point, {x: t})
    assert_close(np.tensordot(sd.evaluate(T3, point), t, axes=1), expected, 1e-6, "T3 . t")


def _mlp_loss(W1, x_shape=(5, 3)):
    X = sd.const(RNG.standard_normal(x_shape))
    W2 = sd.const(RNG.standard_normal((W1.shape[1], 2)))
    Y = sd.const(np.eye(2)[RNG.integers(0, 2, x_shape[0])])
    logits = sd.tanh(X @ W1) @ W2
    return sd.mean(-sd.sum(Y * sd.log_softmax(logits), axis=1)) + 0.01 * sd.sum(W1**2)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jacobian_of_matrix_argument(mode):
    W = sd.var("W", (4, 3))
    x = sd.const(RNG.standard_normal(3))
    y = sd.tanh(W @ x)
    J = sd.jacobian(y, W, mode=mode)
    assert J.shape == (4, 4, 3)
    point = {W: RNG.standard_normal((4, 3))}
    value = sd.evaluate(J, point)
    tangent = RNG.standard_normal((4, 3))
    expected = numerical_jvp(_value(y, point), point, {W: tangent})
    assert_close(np.tensordot(value, tangent, axes=2), expected, 1e-6, "J . t")
    for i in range(4):  # row by row, against grad of each element
        assert_close(value[i], sd.evaluate(sd.grad(y[i], W), point), 1e-12, f"row {i}")


def test_jacobian_modes_agree_on_vector_function():
    x = sd.var("x", (4,))
    A = sd.const(RNG.standard_normal((3, 4)))
    y = sd.softmax(A @ sd.sin(x)) * sd.sum(x**2)
    point = {x: RNG.standard_normal(4)}
    fwd, rev = (sd.evaluate(sd.jacobian(y, x, mode=m), point) for m in ("fwd", "rev"))
    assert_close(fwd, rev, 1e-12, "fwd vs rev")


def test_hessian_of_mlp_loss_wrt_weight_matrix():
    W1 = sd.var("W1", (3, 4))
    loss = _mlp_loss(W1)
    H = sd.hessian(loss, W1)
    assert H.shape == (3, 4, 3, 4)
    point = {W1: RNG.standard_normal((3, 4))}
    value = sd.evaluate(H, point)
    flat = value.reshape(12, 12)
    assert_close(flat, flat.T, 1e-12, "symmetry")
    V = RNG.standard_normal((3, 4))
    expected = numerical_jvp(_value(sd.grad(loss, W1), point), point, {W1: V})
    assert_close(np.tensordot(value, V, axes=2), expected, 1e-6, "H . V vs FD")
    hv = sd.evaluate(sd.hvp(loss, W1, sd.const(V)), point)
    assert_close(hv, np.tensordot(value, V, axes=2), 1e-12, "hvp vs H . V")
    for i, j in [(0, 0), (2, 3)]:  # element by element: second grad of one entry
        row = sd.grad(sd.grad(loss, W1)[i, j], W1)
        assert_close(value[i, j], sd.evaluate(row, point), 1e-12, f"H[{i},{j}]")


def test_hessian_modes_agree_and_match_closed_form():
    n, d, lam = 30, 6, 0.1
    X, yv = RNG.standard_normal((n, d)), np.sign(RNG.standard_normal(n))
    w = sd.var("w", (d,))
    f = sd.mean(sd.log(1 + sd.exp(-sd.const(yv) * (sd.const(X) @ w)))) + 0.5 * lam * sd.sum(w * w)
    wv = RNG.standard_normal(d)
    p = 1 / (1 + np.exp(-yv * (X @ wv)))
    closed = X.T @ np.diag(p * (1 - p)) @ X / n + lam * np.eye(d)
    for mode in ("fwd", "rev"):
        assert_close(sd.evaluate(sd.hessian(f, w, mode=mode), {w: wv}), closed, 1e-12, mode)


def _logistic_hessian_size(d):
    X, y, w = sd.var("X", (50, d)), sd.var("y", (50,)), sd.var("w", (d,))
    f = sd.mean(sd.log(1 + sd.exp(-y * (X @ w)))) + 0.05 * sd.sum(w * w)
    return len(topo_order([sd.hessian(f, w)])), len(topo_order([sd.jacobian(sd.grad(f, w), w,
                                                                            mode="rev")]))


def test_hessian_graph_size_does_not_grow_with_the_number_of_elements():
    assert _logistic_hessian_size(10) == _logistic_hessian_size(1000)


def test_hvp_graph_is_a_small_multiple_of_the_gradient():
    W1 = sd.var("W1", (3, 4))
    loss = _mlp_loss(W1)
    g = sd.grad(loss, W1)
    hv = sd.hvp(loss, W1, sd.var("V", (3, 4)))
    assert len(topo_order([hv])) <= 4 * len(topo_order([g]))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_kth_derivative_of_elementwise_function_matches_sympy(k):
    x = sd.var("x", (5,))
    xs = sympy.Symbol("x")
    exact = sympy.lambdify(xs, sympy.diff(sympy.tanh(sympy.sin(xs)) * xs, xs, k), "numpy")
    point = RNG.uniform(-2, 2, 5)
    got = sd.evaluate(sd.derivative(sd.tanh(sd.sin(x)) * x, x, k), {x: point})
    assert_close(got, exact(point), 1e-10, f"order {k}")


def test_float32_hessian_stays_float32():
    w = sd.var("w", (3,), "float32")
    H = sd.hessian(sd.sum(sd.tanh(w) ** 2), w)
    assert H.dtype == "float32"
    assert sd.evaluate(H, {w: np.ones(3, np.float32)}).dtype == np.float32


def test_errors():
    x = sd.var("x", (3,))
    n = sd.var("v", ("n",))
    with pytest.raises(sd.GradError, match="hessian needs a scalar"):
        sd.hessian(sd.tanh(x), x)
    with pytest.raises(sd.GradError, match=r"concrete shapes.*\(n,\)"):
        sd.jacobian(sd.tanh(n), n)
    with pytest.raises(sd.GradError, match="order must be a non-negative int"):
        sd.derivative(sd.sum(x), x, -1)
    with pytest.raises(sd.GradError, match="use jacobian"):
        sd.derivative(sd.tanh(x)[:2], x, 2)
    with pytest.raises(sd.GradError, match="mode must be"):
        sd.jacobian(sd.tanh(x), x, mode="sideways")


def test_a_list_of_costs_gets_a_clear_error():
    x = sd.var("x", (3,))
    with pytest.raises(sd.GradError, match="single node, got a list of 2"):
        sd.grad([sd.sum(x), sd.sum(x * x)], x)
    with pytest.raises(sd.GradError, match="single node"):
        sd.hessian(sd.sum(x), [x, x])


def test_hessian_of_log_sigmoid_loss_stays_finite_where_p_underflows():
    w = sd.var("w", (3,))
    Xv = np.array([[1.0, 2, 3], [-1, 0.5, 2], [0.3, -2, 1]]) * 30
    yv = np.array([1.0, -1, 1])
    f = sd.mean(-sd.log(sd.sigmoid(sd.const(yv) * (sd.const(Xv) @ w))))
    wv = np.array([1.0, -0.5, 0.2]) * -20  # margins -360 .. -900: sigmoid underflows to 0
    p = 1 / (1 + np.exp(-yv * (Xv @ wv)))
    exact = (Xv.T * (p * (1 - p))) @ Xv / 3
    got = sd.evaluate(sd.optimize(sd.hessian(f, w)), {w: wv})
    np.testing.assert_allclose(got, exact, rtol=1e-12)
    hv = sd.evaluate(sd.optimize(sd.hvp(f, w, sd.const(np.ones(3)))), {w: wv})
    np.testing.assert_allclose(hv, exact @ np.ones(3), rtol=1e-12)


def test_derivative_refuses_a_same_shape_function_that_is_not_elementwise():
    x = sd.var("x", (3,))
    with pytest.raises(sd.GradError, match="needs it elementwise.*softmax.*use jacobian"):
        sd.derivative(sd.softmax(x), x, 2)
    with pytest.raises(sd.GradError, match="needs it elementwise.*sum"):
        sd.derivative(x * sd.sum(x), x, 1)
    with pytest.raises(sd.GradError, match="non-negative int"):
        sd.derivative(sd.tanh(x), x, True)


def test_derivative_of_a_scalar_through_non_elementwise_ops():
    t = sd.var("t")
    c = sd.const(np.array([1.0, 2.0, 3.0]))
    y = sd.sum(sd.exp(sd.broadcast_to(t, (3,)) * c))  # sum_i exp(c_i t)
    got = sd.evaluate(sd.derivative(y, t, 3), {t: 0.2})
    assert_close(got, float(np.sum(c.value ** 3 * np.exp(c.value * 0.2))), 1e-12, "d3")


def test_power_with_a_zero_exponent_has_zero_derivatives_at_zero(target):
    """x ** 0.0 at x = 0 (HIPS autograd's case): every derivative order, in both modes and
    through Hessians, generated code and Taylor mode, is exactly 0, not 0 * 0**-1 = NaN;
    an exponent array with zero entries and a variable exponent at 0 too."""
    x = sd.var("x", ())
    y = x ** 0.0
    one = sd.const(1.0)
    outs = [sd.grad(y, x), sd.jvp(y, x, one), sd.hvp(y, x, one), sd.grad(sd.grad(y, x), x),
            sd.derivative(y, x, order=3)]
    for value in sd.evaluate(outs, {x: np.float64(0.0)}):
        assert value == 0.0
    assert sd.function([x], outs, target=target)(0.0) == (0.0,) * len(outs)
    v = sd.var("v", (2,))
    z = sd.sum(v ** sd.const(np.array([0.0, 3.0])))
    grad, hess = sd.evaluate([sd.grad(z, v), sd.hessian(z, v)], {v: np.zeros(2)})
    np.testing.assert_array_equal(grad, [0.0, 0.0])
    np.testing.assert_array_equal(hess, np.zeros((2, 2)))
    grad, hess = sd.evaluate([sd.grad(z, v), sd.hessian(z, v)], {v: np.array([1.0, 2.0])})
    np.testing.assert_array_equal(grad, [0.0, 12.0])
    np.testing.assert_array_equal(hess, [[0.0, 0.0], [0.0, 12.0]])
    p = sd.var("p", ())
    dx, dp = sd.evaluate(sd.grad(x ** p, [x, p]), {x: np.float64(0.0), p: np.float64(0.0)})
    assert dx == 0.0 and dp == 0.0


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 5.0])
def test_whole_powers_have_exact_taylor_derivatives_at_zero(p):
    """sd.derivative (Taylor mode) of x ** n at 0: the general power recurrence divides by
    x, so whole exponents multiply series instead; every order matches nested grad."""
    x = sd.var("x", ())
    nested = x ** p
    for order in (1, 2, 3, 4, 5):
        nested = sd.grad(nested, x)
        got, want = sd.evaluate([sd.derivative(x ** p, x, order=order), nested],
                                {x: np.float64(0.0)})
        assert got == want, (p, order, got, want)
