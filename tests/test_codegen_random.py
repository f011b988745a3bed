"""Codegen against the reference interpreter on random graphs built by hypothesis: forward
values, gradients (sd.grad) and second derivatives, float64 and float32, fixed and
symbolic batch dims. Random graphs exercise what the per-op table cannot: buffer reuse
across many nodes, views that keep buffers alive, in-place chains, shared subexpressions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.errors import ShapeError
from symdiff.graph import Node
from symdiff.shapes import broadcast_shapes
from tests.test_codegen_helpers import assert_matches_evaluate

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

UNARY = {
    "tanh": sd.tanh, "sin": sd.sin, "cos": sd.cos, "sigmoid": sd.sigmoid, "square": sd.square,
    "relu": sd.relu, "abs": sd.abs, "neg": lambda x: -x, "softplus": sd.softplus,
    "exp_tanh": lambda x: sd.exp(sd.tanh(x)), "log1p_sq": lambda x: sd.log1p(x * x),
    "sqrt_1p_sq": lambda x: sd.sqrt(1.0 + x * x), "cube": lambda x: x ** 3.0,
}
BINARY = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / (1.0 + y * y), "maximum": sd.maximum, "minimum": sd.minimum,
    "where": lambda x, y: sd.where(x > y, x, y * 0.5),
    "where0": lambda x, y: sd.where(x > y, x, 0.0),
}
REDUCE = {"sum": sd.sum, "mean": sd.mean, "max": sd.max, "logsumexp": sd.logsumexp}


def _compatible(a: Node, b: Node) -> bool:
    try:
        broadcast_shapes([a.shape, b.shape], ["a", "b"], "test")
    except ShapeError:
        return False
    return True


@st.composite
def graphs(draw, max_steps: int = 10):
    """(variables, list of nodes to compute, the last node built, values)."""
    dtype = draw(st.sampled_from(["float64", "float64", "float32"]))
    n = draw(st.sampled_from([3, "n"]))
    A = sd.var("A", (n, 4), dtype)
    B = sd.var("B", (4,), dtype)
    C = sd.var("C", (), dtype)
    D = sd.var("D", (4, 4), dtype)
    variables = [A, B, C, D]
    pool: list[Node] = list(variables)
    for _ in range(draw(st.integers(1, max_steps))):
        x = draw(st.sampled_from(pool))
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "matmul",
                                     "structure", "normalize"]))
        if kind == "unary":
            node = UNARY[draw(st.sampled_from(sorted(UNARY)))](x)
        elif kind == "binary":
            partners = [p for p in pool if _compatible(x, p)]
            y = draw(st.sampled_from(partners)) if partners else sd.const(0.75, dtype)
            fn = BINARY[draw(st.sampled_from(sorted(BINARY)))]
            node = fn(x, y) if draw(st.booleans()) else fn(y, x)
        elif kind == "reduce":
            axis = draw(st.sampled_from([None, *range(-x.ndim, x.ndim)])) if x.ndim else None
            node = REDUCE[draw(st.sampled_from(sorted(REDUCE)))](x, axis,
                                                                 draw(st.booleans()))
        elif kind == "matmul":
            rights = [p for p in pool if x.ndim >= 1 and p.ndim in (1, 2) and p.shape[0] ==
                      x.shape[-1]]
            node = x @ draw(st.sampled_from(rights)) if rights else x @ D if x.ndim and \
                x.shape[-1] == 4 else sd.tanh(x)
        elif kind == "structure":
            node = _structure(draw, x)
        else:
            node = (sd.softmax if draw(st.booleans()) else sd.log_softmax)(x, -1) \
                if x.ndim else sd.sigmoid(x)
        if node.kind == "op":
            pool.append(node)
    last = pool[-1]
    extra = draw(st.sampled_from(pool))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = 3 if n == 3 else draw(st.sampled_from([1, 2, 5]))
    values = {A: rng.standard_normal((rows, 4)), B: rng.standard_normal(4),
              C: rng.standard_normal(()), D: rng.standard_normal((4, 4)) * 0.5}
    values = {v: np.asarray(a, dtype=dtype) for v, a in values.items()}
    return variables, last, extra, values


def _structure(draw, x: Node) -> Node:
    choices = ["expand_broadcast"]
    if x.ndim >= 2:
        choices += ["transpose"]
    if x.ndim >= 1 and isinstance(x.shape[-1], int):
        choices += ["concat"]  # joining along a symbolic axis is not supported
    if x.ndim >= 1 and isinstance(x.shape[-1], int) and x.shape[-1] >= 2:
        choices += ["slice", "index"]
    if x.ndim and all(isinstance(d, int) for d in x.shape):
        choices += ["flatten"]
    choice = draw(st.sampled_from(choices))
    if choice == "transpose":
        return x.T
    if choice == "concat":
        return sd.concatenate([x, sd.tanh(x)], axis=-1)
    if choice == "slice":
        return x[..., :2]
    if choice == "index":
        return x[..., 1]
    if choice == "flatten":
        return sd.reshape(x, (-1,))
    return sd.broadcast_to(sd.expand_dims(x, 0), (2, *x.shape))


def _cost(y: Node) -> Node:
    return sd.sum(sd.sin(y) + y * y)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


@SETTINGS
@given(graphs())
def test_random_graph_values(case):
    variables, last, extra, values = case
    assert_matches_evaluate(variables, [last, extra], values)


@SETTINGS
@given(graphs())
def test_random_graph_gradients(case):
    variables, last, extra, values = case
    cost = _cost(last) + sd.sum(extra)
    grads = sd.grad(cost, variables)
    assert_matches_evaluate(variables, [cost, *grads, last], values)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(max_steps=6))
def test_random_graph_second_derivatives(case):
    """Gradient of a function of the gradient: second-order graphs (Hessian-vector
    products) through codegen."""
    variables, last, _, values = case
    gA, gB = sd.grad(_cost(last), variables[:2])
    second = sd.grad(sd.sum(sd.tanh(gA)) + sd.sum(gB * gB), variables)
    assert_matches_evaluate(variables, [*second, gA], values)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(max_steps=8))
def test_random_graph_through_symdiff_function(case):
    """The whole pipeline (rewrites, then codegen) against the unoptimized graph; rewrites
    may reassociate, hence the looser tolerance."""
    variables, last, _, values = case
    cost = _cost(last)
    f = sd.function(variables, [cost, sd.grad(cost, variables)])
    got_cost, got_grads = f(*[values[v] for v in variables])
    want = sd.evaluate([cost, *sd.grad(cost, variables)], values)
    tol = 1e-8 if last.dtype == "float64" else 2e-4
    for g, w in zip([got_cost, *got_grads], want, strict=True):
        assert np.asarray(g).dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_random_graph_gradients_numba(case):
    """The numba target on random graphs (values and gradients): fused kernels with buffer
    reuse, views and broadcasts, against the interpreter. Fewer examples than the NumPy
    target's tests, as numba compiles each example's kernels (about 0.3 s each). float64
    only: a kernel sums in index order where NumPy sums pairwise, which in float32 moves a
    sum with cancellation by more than the interpreter comparison allows (tests of float32
    kernels are in test_numba_target.py)."""
    pytest.importorskip("numba", reason="the numba target needs the numba extra")
    variables, last, extra, values = case
    assume(last.dtype == "float64")
    cost = _cost(last) + sd.sum(extra)
    grads = sd.grad(cost, variables)
    assert_matches_evaluate(variables, [cost, *grads, last], values, rtol=1e-11,
                            target="numba")
