"""The graph IR: hash-consing, provenance of derivative nodes, the documented derivative
conventions at non-differentiable points, and dtype preservation."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.graph import topo_order

# -- hash-consing ---------------------------------------------------------------------------

def test_same_op_on_same_inputs_is_one_node():
    x = sd.var("x", (3,))
    y = sd.var("y", (3,))
    assert sd.exp(x) is sd.exp(x)
    assert x + y is x + y
    assert x + y is not y + x
    assert sd.sum(x, axis=0) is sd.sum(x, axis=0)
    assert sd.sum(x, axis=0) is sd.sum(x, axis=-1)  # axes are normalized before interning
    assert sd.sum(x) is not sd.sum(x, keepdims=True)


def test_equal_constants_are_one_node():
    assert sd.const(np.arange(3.0)) is sd.const(np.array([0.0, 1.0, 2.0]))
    assert sd.const(2.0) is sd.const(np.float64(2.0))
    assert sd.const(np.zeros(3)) is not sd.const(np.zeros(4))
    assert sd.const(np.zeros(3)) is not sd.const(np.zeros(3, np.float32))
    x = sd.var("x", (3,))
    assert x * 2.0 is x * 2.0  # the lifted scalar is one constant, so the product is one node


def test_two_variables_with_one_name_stay_distinct():
    a = sd.var("x", (3,))
    b = sd.var("x", (3,))
    assert a is not b and a != b
    assert a + b is not a + a
    with pytest.raises(sd.BindingError, match="two variables are named 'x'"):
        sd.evaluate(a + b, {"x": np.ones(3)})
    np.testing.assert_array_equal(sd.evaluate(a - b, {a: np.ones(3), b: np.full(3, 4.0)}),
                                  np.full(3, -3.0))


def test_shared_subexpression_appears_once_in_topo_order():
    x = sd.var("x", (2,))
    h = sd.tanh(x)
    y = sd.sum(h * h + sd.tanh(x))
    order = topo_order([y])
    assert sum(1 for n in order if n.kind == "op" and n.op.name == "tanh") == 1


# -- derivatives of simple graphs -----------------------------------------------------------

def test_x_times_x_gives_two_x():
    x = sd.var("x", (4,))
    g = sd.grad(sd.sum(x * x), x)
    xv = np.array([-1.5, 0.0, 2.0, 3.25])
    np.testing.assert_array_equal(sd.evaluate(g, {x: xv}), 2 * xv)
    # both arguments of the one mul node reach x: the two contributions are accumulated
    assert any(n.provenance is not None and n.provenance.rule == "accumulate"
               for n in topo_order([g]))


def test_symbolic_dims_in_derivatives():
    x = sd.var("x", ("n", 3))
    point = {x: np.arange(12.0).reshape(4, 3)}
    np.testing.assert_array_equal(sd.evaluate(sd.grad(sd.sum(x), x), point), np.ones((4, 3)))
    np.testing.assert_allclose(sd.evaluate(sd.grad(sd.mean(x), x), point),
                               np.full((4, 3), 1 / 12))
    np.testing.assert_allclose(sd.evaluate(sd.grad(sd.sum(sd.mean(x, axis=0) ** 2), x), point),
                               np.broadcast_to(2 * point[x].mean(0) / 4, (4, 3)))



def test_wrt_may_be_an_intermediate_node_or_the_output_itself():
    x = sd.var("x", (3,))
    h = sd.tanh(x)
    cost = sd.sum(h * h)
    xv = np.array([0.1, -0.2, 0.3])
    gx, gh = sd.evaluate(sd.grad(cost, [x, h]), {x: xv})
    np.testing.assert_allclose(gh, 2 * np.tanh(xv), rtol=1e-14)
    np.testing.assert_allclose(gx, 2 * np.tanh(xv) * (1 - np.tanh(xv) ** 2), rtol=1e-14)
    t = sd.var("t", (3,))
    jv = sd.evaluate(sd.jvp(cost, h, t), {x: xv, t: np.ones(3)})
    np.testing.assert_allclose(jv, 2 * np.tanh(xv).sum(), rtol=1e-14)
    s = sd.var("s")
    assert sd.evaluate(sd.grad(s, s), {s: 2.0}) == 1.0
    assert sd.evaluate(sd.jvp(s, s, 3.0), {s: 2.0}) == 3.0
    g1, g2 = sd.evaluate(sd.grad(cost, [x, x]), {x: xv})
    np.testing.assert_array_equal(g1, g2)

# -- provenance -----------------------------------------------------------------------------

def test_provenance_names_rule_forward_node_and_target():
    A = sd.var("A", (3, 4))
    x = sd.var("x", (4,))
    prod = A @ x
    loss = sd.sum(sd.tanh(prod)).named("loss")
    gA, gx = sd.grad(loss, [A, x])
    derived = [n for n in topo_order([gA, gx]) if n.provenance is not None]
    rules = {n.provenance.rule for n in derived}
    # sum.vjp of the unit seed builds only constants, which belong to no one derivative
    assert {"tanh.vjp[arg 0]", "matmul.vjp[arg 0]", "matmul.vjp[arg 1]"} <= rules
    for n in derived:
        if n.provenance.rule == "matmul.vjp[arg 0]":
            assert n.provenance.forward is prod and n.provenance.target is A
            assert n.provenance.of is loss and n.provenance.kind == "vjp"
        if n.provenance.rule == "matmul.vjp[arg 1]":
            assert n.provenance.target is x
    assert gA.provenance.rule == "matmul.vjp[arg 0]"
    assert gA.provenance.describe() == "∂loss/∂A, via matmul.vjp[arg 0]"
    # forward nodes and variables carry none
    assert all(n.provenance is None for n in topo_order([loss]))


def test_jvp_provenance():
    x = sd.var("x", (3,))
    t = sd.var("t", (3,))
    y = sd.sin(x)
    jv = sd.jvp(y, x, t)
    assert jv.provenance.kind == "jvp" and jv.provenance.forward is y
    assert jv.provenance.rule in {"sin.jvp[arg 0]", "accumulate"}
    assert any(n.provenance is not None and n.provenance.rule == "sin.jvp[arg 0]"
               for n in topo_order([jv]))


def test_constants_never_carry_provenance():
    x = sd.var("x", (3,))
    g = sd.grad(sd.sum(sd.sqrt(x)), x)
    assert all(n.provenance is None for n in topo_order([g]) if n.kind == "const")


# -- conventions at non-differentiable points -----------------------------------------------

def _grad_at(f, value):
    x = sd.var("x", np.shape(value))
    return sd.evaluate(sd.grad(sd.sum(f(x)), x), {x: np.asarray(value, float)})


def _jvp_at(f, value):
    x = sd.var("x", np.shape(value))
    t = sd.var("t", np.shape(value))
    return sd.evaluate(sd.jvp(f(x), x, t), {x: np.asarray(value, float),
                                            t: np.ones(np.shape(value))})


def test_relu_derivative_is_zero_at_zero():
    np.testing.assert_array_equal(_grad_at(sd.relu, [-1.0, 0.0, 2.0]), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(_jvp_at(sd.relu, [-1.0, 0.0, 2.0]), [0.0, 0.0, 1.0])


def test_abs_derivative_is_zero_at_zero():
    np.testing.assert_array_equal(_grad_at(sd.abs, [-1.0, 0.0, 2.0]), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(_jvp_at(sd.abs, [-1.0, 0.0, 2.0]), [-1.0, 0.0, 1.0])


def test_sign_derivative_is_zero():
    np.testing.assert_array_equal(_grad_at(sd.sign, [-1.0, 0.0, 2.0]), [0.0, 0.0, 0.0])


def test_pow_exponent_derivative_is_zero_at_a_zero_base():
    x = sd.var("x", (3,))
    p = sd.var("p")
    cost = sd.sum(x ** p)
    point = {x: np.array([0.0, 1.0, 2.0]), p: 2.5}
    gx, gp = sd.evaluate(sd.grad(cost, [x, p]), point)
    np.testing.assert_allclose(gx, 2.5 * point[x] ** 1.5)
    np.testing.assert_allclose(gp, 2 ** 2.5 * np.log(2))
    np.testing.assert_allclose(sd.evaluate(sd.grad(sd.grad(cost, p), p), point),
                               2 ** 2.5 * np.log(2) ** 2)

@pytest.mark.parametrize("reduce", [sd.max, sd.min])
def test_max_min_reductions_split_ties_evenly(reduce):
    v = [3.0, 1.0, 3.0, 3.0] if reduce is sd.max else [1.0, 3.0, 1.0, 1.0]
    np.testing.assert_allclose(_grad_at(reduce, v), [1 / 3, 0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(_jvp_at(reduce, v), 1.0)  # the tangent's mean over the ties
    m = [[2.0, 2.0, 1.0], [0.0, 5.0, -1.0]] if reduce is sd.max else \
        [[1.0, 1.0, 2.0], [5.0, 0.0, 6.0]]
    for keepdims in (False, True):
        got = _grad_at(lambda x, k=keepdims: reduce(x, axis=1, keepdims=k), m)
        np.testing.assert_allclose(got, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    got = _grad_at(lambda x: reduce(x, axis=0), [[2.0, 2.0], [2.0, 1.0]] if reduce is sd.max
                   else [[1.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(got, [[0.5, 1.0], [0.5, 0.0]])


@pytest.mark.parametrize("binary", [sd.maximum, sd.minimum])
def test_maximum_minimum_split_ties_half_half(binary):
    x = sd.var("x", (3,))
    y = sd.var("y", (3,))
    gx, gy = sd.grad(sd.sum(binary(x, y)), [x, y])
    xv = np.array([1.0, 2.0, 3.0])
    yv = np.array([1.0, 0.0, 4.0])
    wins = xv > yv if binary is sd.maximum else xv < yv
    expected_x = np.where(xv == yv, 0.5, np.where(wins, 1.0, 0.0))
    got_x, got_y = sd.evaluate([gx, gy], {x: xv, y: yv})
    np.testing.assert_array_equal(got_x, expected_x)
    np.testing.assert_array_equal(got_y, 1 - expected_x)
    # broadcast: a scalar tied with two of three entries collects 1/2 from each tie
    s = sd.var("s")
    gs = sd.grad(sd.sum(binary(x, s)), s)
    np.testing.assert_allclose(sd.evaluate(gs, {x: np.array([2.0, 2.0, 7.0]), s: 2.0}),
                               1.0 + (binary is sd.minimum))


# -- dtypes ---------------------------------------------------------------------------------

def test_float32_graphs_stay_float32():
    x = sd.var("x", (3,), "float32")
    y = x * 2
    assert y.dtype == "float32"
    for expr in [x * 2.0, 2 * x, x / 3, x ** 2, sd.exp(x) + 1, sd.mean(x), sd.sigmoid(x),
                 sd.softplus(x), sd.logsumexp(x), sd.softmax(x), x @ x]:
        assert expr.dtype == "float32", expr
    cost = sd.sum(sd.tanh(x * 2) ** 2) / 3 + sd.mean(sd.softplus(x))
    g = sd.grad(cost, x)
    assert cost.dtype == "float32" and g.dtype == "float32"
    assert all(n.dtype in ("float32", "bool") for n in topo_order([g]))
    value = sd.evaluate(g, {x: np.array([0.5, -1.0, 2.0], np.float32)})
    assert value.dtype == np.float32
    hx = sd.grad(sd.sum(sd.grad(cost, x) * x), x)
    assert hx.dtype == "float32"


def test_float32_with_float64_promotes():
    x = sd.var("x", (3,), "float32")
    z = sd.var("z", (3,), "float64")
    assert (x * z).dtype == "float64"
    gx = sd.grad(sd.sum(x * z), x)
    assert gx.dtype == "float32"  # the gradient has its variable's dtype
    assert sd.evaluate(gx, {x: np.ones(3, np.float32), z: np.ones(3)}).dtype == np.float32


def test_prod_derivative_is_exact_at_zeros():
    """d prod/d x_i is the product of the others, also where x has one or two zeros."""
    x = sd.var("x", (3, 3))
    xv = np.array([[1.0, 2.0, 3.0], [0.0, 5.0, 6.0], [0.0, 2.0, 0.0]])
    others = np.array([[np.prod(np.delete(row, j)) for j in range(3)] for row in xv])
    grad = sd.grad(sd.sum(sd.prod(x, axis=1)), x)
    np.testing.assert_array_equal(sd.evaluate(grad, {x: xv}), others)
    tangent = np.arange(9.0).reshape(3, 3)
    jvp = sd.evaluate(sd.jvp(sd.prod(x, axis=1), x, sd.const(tangent)), {x: xv})
    np.testing.assert_array_equal(jvp, (others * tangent).sum(axis=1))
    # the second derivative of x0*x1*x2 at (0, 5, 6): d2/dx0dx1 = 6, d2/dx0dx2 = 5
    v = sd.var("v", (3,))
    H = sd.evaluate(sd.hessian(sd.prod(v), v), {v: np.array([0.0, 5.0, 6.0])})
    np.testing.assert_array_equal(H, [[0, 6, 5], [6, 0, 0], [5, 0, 0]])


def _prod_derivative(x: np.ndarray, indices: tuple[int, ...]) -> float:
    """d^k prod(x) / dx_i1 ... dx_ik: the product of the elements not named, 0 if an index
    repeats (prod is linear in each element)."""
    if len(set(indices)) < len(indices):
        return 0.0
    return float(np.prod(np.delete(x, list(indices))))


@pytest.mark.parametrize("point", [[0.0, 0.0, 3.0, -1.5], [0.0, 0.0, 0.0, 2.0],
                                   [0.0, 0.0, 0.0, 0.0], [1.5, 0.0, -2.0, 0.5]])
def test_prod_derivatives_of_every_order_are_exact_at_zeros(point, target):
    """Up to the fourth derivative, however many zeros a group holds (JAX's values too:
    d2/dx0 dx1 prod([0, 0, 3, -1.5]) = -4.5)."""
    import itertools

    x = sd.var("x", (4,))
    xv = np.array(point)
    derivative = sd.prod(x)
    for order in range(1, 5):
        derivative = sd.jacobian(derivative, x)
        got = sd.function([x], derivative, target=target)(xv)
        want = np.zeros((4,) * order)
        for idx in itertools.product(range(4), repeat=order):
            want[idx] = _prod_derivative(xv, idx)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(sd.evaluate(derivative, {x: xv}), want)
