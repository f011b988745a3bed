"""The optimize pipeline as a whole: its interface and report, what it keeps (variables,
labels, provenance), the size it reaches on an MLP gradient, the engine's contract, and a
property test against the reference interpreter on random graphs and their gradients."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.errors import SymdiffError
from symdiff.graph import topo_order, variables
from symdiff.ops import dim_size, neg
from symdiff.rewrite import OptimizeReport, Phase, RewriteError, optimize, pipeline, rewrite_pass


def _ops(nodes) -> Counter:
    return Counter(n.op.name for n in topo_order(nodes) if n.op is not None)


def _mlp(lam: float = 0.01):
    X, Y = sd.var("X", ("n", 4)), sd.var("Y", ("n", 3))
    W1, b1 = sd.var("W1", (4, 5)), sd.var("b1", (5,))
    W2, b2 = sd.var("W2", (5, 3)), sd.var("b2", (3,))
    z = (X @ W1 + b1).named("z")
    h = sd.relu(z).named("h")
    logits = (h @ W2 + b2).named("logits")
    xent = sd.mean(-sd.sum(Y * sd.log_softmax(logits), axis=1))
    loss = (xent + lam * (sd.sum(W1 ** 2) + sd.sum(W2 ** 2))).named("loss")
    return loss, (X, Y), (W1, b1, W2, b2), (z, h, logits)


def _mlp_values(X, Y, W1, b1, W2, b2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {X: rng.normal(size=(7, 4)), Y: np.eye(3)[rng.integers(0, 3, 7)],
            W1: rng.normal(size=(4, 5)), b1: rng.normal(size=5),
            W2: rng.normal(size=(5, 3)), b2: rng.normal(size=3)}


# -- interface --------------------------------------------------------------------------------

def test_result_has_the_structure_of_the_argument() -> None:
    x = sd.var("x", (3,))
    a, b = sd.exp(x) * 1.0, x + 0.0
    assert isinstance(optimize(a), sd.Node)
    assert isinstance(optimize([a, b]), list)
    out = optimize((a, b))
    assert isinstance(out, tuple) and len(out) == 2
    assert out[1] is x
    node, report = optimize(a, report=True)
    assert isinstance(node, sd.Node) and isinstance(report, OptimizeReport)
    assert sd.optimize is optimize


@pytest.mark.parametrize("bad", [3.0, "x", [1, 2], None])
def test_non_node_argument_is_refused(bad) -> None:
    with pytest.raises(SymdiffError, match="optimize takes a node"):
        optimize(bad)


def test_report_counts_rules_nodes_and_time() -> None:
    loss, _, params, _ = _mlp()
    grads = sd.grad(loss, list(params))
    _, report = optimize(grads, report=True)
    assert report.nodes_before == len(topo_order(grads))
    assert report.nodes_after < report.nodes_before
    assert report.ops_after < report.ops_before
    assert report.fired["canonicalize.broadcast_out_of_elementwise"] > 0
    assert report.seconds > 0 and report.converged
    text = str(report)
    assert text.startswith(f"optimize: {report.nodes_before} -> {report.nodes_after} nodes")
    for name, count in report.fired.items():
        assert any(line.split() == [name, str(count)] for line in text.splitlines())


def test_report_of_a_graph_with_nothing_to_do() -> None:
    x = sd.var("x", (3,))
    out, report = optimize(sd.exp(x), report=True)
    assert out.op.name == "exp" and out.inputs[0] is x
    assert not report.fired and report.nodes_before == report.nodes_after == 2
    assert "no rule fired" in str(report)


def test_optimize_reaches_a_fixed_point() -> None:
    loss, _, params, _ = _mlp()
    once = optimize([loss, *sd.grad(loss, list(params))])
    pipeline._OUTPUT_OF.clear()  # forget that these are outputs: run every rule again
    twice, report = optimize(once, report=True)
    assert all(a is b for a, b in zip(once, twice, strict=True))
    assert report.nodes_before == report.nodes_after


def test_optimized_outputs_are_returned_at_once() -> None:
    """What one run returned (all of it or part) is a fixed point: sd.function, which
    optimizes what it is given, does no second pass over an sd.optimize result. Outputs
    of two runs are merged together, so they go through the pipeline."""
    loss, _, params, _ = _mlp()
    once = optimize([loss, *sd.grad(loss, list(params))])
    for part in (once, once[1:]):
        again, report = optimize(part, report=True)
        assert report.rounds == 0 and all(a is b for a, b in zip(part, again, strict=True))
    other = optimize(sd.exp(params[0]))
    _, report = optimize([once[0], other], report=True)
    assert report.rounds >= 1


# -- what survives ----------------------------------------------------------------------------

def test_variables_are_the_same_objects() -> None:
    loss, data, params, _ = _mlp()
    out = optimize([loss, *sd.grad(loss, list(params))])
    assert {id(v) for v in variables(out)} == {id(v) for v in (*data, *params)}


def test_labels_pass_to_the_replacement() -> None:
    x = sd.var("x", (2, 3))
    logp = sd.log(sd.softmax(x)).named("logp")
    y = (sd.exp(x) * 1.0).named("y")
    t = sd.tanh(x * 1.0).named("t")  # rebuilt over a rewritten input
    out = optimize([logp, y, t])
    assert [n.label for n in out] == ["logp", "y", "t"]
    assert out[0].op.name == "log_softmax" and out[1].op.name == "exp"


def test_shared_constant_nodes_get_no_label() -> None:
    # broadcast_to(2.0) is one node for every graph: a label from one graph would leak.
    x = sd.var("x", (3,))
    twos = (sd.broadcast_to(sd.const(2.0), (3,)) * 1.0).named("twos")
    out = optimize([twos, x])
    assert out[0] is sd.broadcast_to(sd.const(2.0), (3,)) and out[0].label is None


def test_provenance_survives_rewriting() -> None:
    loss, _, params, _ = _mlp()
    out = optimize([loss, *sd.grad(loss, list(params))])
    forward = set(topo_order(out[:1]))
    assert all(n.provenance is None for n in forward)
    derivative = [n for n in topo_order(out[1:]) if n not in forward and n.kind == "op"]
    assert derivative and all(n.provenance is not None for n in derivative)
    rules = {n.provenance.rule for n in derivative}
    assert {"matmul.vjp[arg 0]", "matmul.vjp[arg 1]", "relu.vjp[arg 0]", "accumulate",
            "log_softmax.vjp[arg 0]"} <= rules
    assert all(n.provenance.of is loss for n in derivative)


# -- size -------------------------------------------------------------------------------------

def _hand_written_backprop(loss, data, params, forward, lam: float):
    """The gradients of _mlp's loss as one would write them by hand."""
    X, Y = data
    W1, _, W2, _ = params
    z, h, logits = forward
    ls = loss.inputs[0].inputs[0].inputs[0].inputs[0].inputs[1]  # the log_softmax node
    assert ls.op.name == "log_softmax"
    d_logits = (sd.exp(ls) * sd.sum(Y, axis=1, keepdims=True) - Y) / dim_size(Y, (0,))
    d_z = sd.where(z > 0, d_logits @ W2.T, 0.0)
    return [X.T @ d_z + (2 * lam) * W1, sd.sum(d_z, axis=0),
            h.T @ d_logits + (2 * lam) * W2, sd.sum(d_logits, axis=0)]


def test_mlp_gradient_is_as_small_as_hand_written_backprop() -> None:
    lam = 0.01
    loss, data, params, forward = _mlp(lam)
    raw = sd.grad(loss, list(params))
    out = optimize([loss, *raw])
    hand = [loss, *_hand_written_backprop(loss, data, params, forward, lam)]

    def derivative_ops(graph):
        forward = set(topo_order(graph[:1]))
        return Counter(n.op.name for n in topo_order(graph[1:])
                       if n.op is not None and n not in forward)

    assert derivative_ops(out) == derivative_ops(hand)
    assert sum(derivative_ops(hand).values()) == 20
    values = _mlp_values(*data, *params)
    for got, want, before in zip(sd.evaluate(out, values), sd.evaluate(hand, values),
                                 sd.evaluate([loss, *raw], values), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got, before, rtol=1e-12, atol=1e-14)


def test_hessian_vector_product_keeps_its_value() -> None:
    loss, data, params, _ = _mlp()
    W1 = params[0]
    V = sd.var("V", W1.shape)
    hvp = sd.jvp(sd.grad(loss, W1), W1, V)
    out, report = optimize(hvp, report=True)
    assert report.ops_after < report.ops_before
    values = _mlp_values(*data, *params, seed=1)
    values[V] = np.random.default_rng(2).normal(size=W1.shape)
    np.testing.assert_allclose(sd.evaluate(out, values), sd.evaluate(hvp, values),
                               rtol=1e-10, atol=1e-12)


def test_logistic_regression_hessian_of_the_optimized_gradient() -> None:
    X, y, w = sd.var("X", ("n", 3)), sd.var("y", ("n",)), sd.var("w", (3,))
    p = sd.sigmoid(X @ w)
    loss = -sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p))
    H = optimize(sd.jacobian(optimize(sd.grad(loss, w)), w))
    # X^T diag(sigmoid(z) sigmoid(-z) (y + (1 - y))) X / n: the identity basis is gone, and
    # p (1 - p) is taken as sigmoid(z) sigmoid(-z), exact where p rounds to 1 (y + (1 - y)
    # stays: it is 1 only for finite targets).
    assert _ops([H]) == Counter({"matmul": 2, "transpose": 1, "sigmoid": 2, "neg": 1,
                                 "sub": 1, "add": 1, "mul": 3, "div": 1, "dim_size": 1})
    rng = np.random.default_rng(0)
    Xv, wv = rng.normal(size=(6, 3)), rng.normal(size=3)
    pv = 1 / (1 + np.exp(-Xv @ wv))
    got = sd.evaluate(H, {X: Xv, y: rng.integers(0, 2, 6).astype(float), w: wv})
    np.testing.assert_allclose(got, Xv.T @ np.diag(pv * (1 - pv)) @ Xv / 6, rtol=1e-12)


def test_deep_graph_needs_no_recursion() -> None:
    x = sd.var("x", (3,))
    y = x
    for _ in range(3000):
        y = sd.tanh(y * 1.0)
    out = optimize(y)
    assert _ops([out]) == Counter({"tanh": 3000})


def test_a_deep_mlp_gradient_settles_in_few_rounds() -> None:
    x = sd.var("x", ("n", 8))
    h, params = x, []
    for i in range(40):
        W, b = sd.var(f"W{i}", (8, 8)), sd.var(f"b{i}", (8,))
        params += [W, b]
        h = sd.tanh(h @ W + b)
    grads = sd.grad(sd.mean(h ** 2), params)
    _, report = optimize(grads, report=True)
    assert report.converged and report.rounds <= 4


# -- engine contract --------------------------------------------------------------------------

def test_a_rule_that_changes_the_type_is_an_error() -> None:
    phase = Phase("broken")

    @phase.rule("exp")
    def widen(node):  # exp(x) -> sum(x): a different shape
        return sd.sum(node.inputs[0])

    x = sd.var("x", (3,))
    with pytest.raises(RewriteError, match="broken.widen"):
        rewrite_pass([sd.exp(x)], phase, Counter())


def test_rules_that_undo_each_other_are_reported() -> None:
    phase = Phase("pingpong")

    @phase.rule("add")
    def swap(node):
        return sd.ops.add(node.inputs[1], node.inputs[0])

    x, y = sd.var("x", (3,)), sd.var("y", (3,))
    with pytest.raises(RewriteError, match="pingpong.swap"):
        rewrite_pass([x + y], phase, Counter())


def test_phase_rule_needs_an_op_name() -> None:
    with pytest.raises(ValueError, match="at least one op"):
        Phase("p").rule()


# -- property: optimize(g) computes what g computes ------------------------------------------

def _safe_div(a, b):
    return a / (1.0 + sd.square(b))


UNARY = [
    sd.tanh, sd.sigmoid, sd.softplus, sd.sin, sd.relu, lambda a: -a,
    lambda a: sd.exp(sd.tanh(a)), lambda a: sd.log(1.0 + sd.square(a)),
    # (tanh keeps these where the unrewritten form is accurate: the stable form differs
    # from it exactly where it is not, which test_rewrite_stability covers)
    lambda a: sd.log(sd.sigmoid(sd.tanh(a))), lambda a: sd.log(1.0 - sd.sigmoid(sd.tanh(a))),
    lambda a: sd.exp(sd.tanh(a)) - 1.0, lambda a: a * 1.0 + 0.0, lambda a: neg(neg(a)),
    lambda a: a ** 2.0, lambda a: (a * 3.0) / 3.0, lambda a: sd.where(a > 0, a, 0.0) * 2.0,
    lambda a: sd.log(sd.softmax(a, axis=-1)) if a.ndim else a,
    lambda a: sd.sum(a, axis=-1, keepdims=True) if a.ndim else a,
    lambda a: sd.mean(a, axis=0) if a.ndim else a,
    lambda a: sd.transpose(a) if a.ndim == 2 else a,
    lambda a: sd.broadcast_to(a, (2,) + a.shape) if a.ndim < 2 else a,
    lambda a: sd.reshape(a, (-1,)) if a.ndim == 2 else a,
    lambda a: sd.expand_dims(a, 0) if a.ndim < 2 else a,
    lambda a: sd.log(sd.sum(sd.exp(sd.tanh(a)), axis=-1)) if a.ndim else a,
]
# Rewrites may change rounding, and a comparison of two values equal in exact arithmetic
# (a and (a - b) + b) would turn that into a jump: so no such pairs, and comparisons get
# an offset operand.
BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, _safe_div,
    lambda a, b: sd.maximum(a, b + 0.25), lambda a, b: sd.where(a > b + 0.25, a, 2.0 * b),
    lambda a, b: a * b + b * a,
    lambda a, b: sd.exp(sd.tanh(b)) * (a / sd.exp(sd.tanh(b))),
]

step = st.tuples(st.booleans(), st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))


def _random_graph(steps):
    a, b, c = sd.var("a", (2, 3)), sd.var("b", (3,)), sd.var("c", ())
    pool = [a, b, c]
    for binary, k, i, j in steps:
        x, y = pool[i % len(pool)], pool[j % len(pool)]
        if binary:
            try:
                node = BINARY[k % len(BINARY)](x, y)
            except sd.ShapeError:
                continue
        else:
            node = UNARY[k % len(UNARY)](x)
        pool.append(node)
    loss = pool[0].sum()
    for node in pool[1:]:
        loss = loss + sd.sum(node)
    return loss, [a, b, c]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=10), st.integers(0, 2 ** 16))
def test_optimize_agrees_with_the_unoptimized_graph(steps, seed) -> None:
    loss, wrt = _random_graph(steps)
    grads = sd.grad(loss, wrt)
    graph = [loss, *grads]
    rng = np.random.default_rng(seed)
    values = {v: rng.normal(size=v.shape) for v in wrt}
    with np.errstate(all="ignore"):
        before = sd.evaluate(graph, values)
    assume(all(np.all(np.isfinite(v)) for v in before))
    out, report = optimize(graph, report=True)
    assert report.converged
    assert [n.type for n in out] == [n.type for n in graph]
    with np.errstate(all="ignore"):
        after = sd.evaluate(out, values)
    for got, want in zip(after, before, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)
