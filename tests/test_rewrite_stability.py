"""Stability: losses and their gradients that overflow as written stay finite and correct
after optimize, at inputs of +-1000 in float64 and +-100 in float32. Each test shows both
sides: the unrewritten graph gives inf or NaN, the rewritten one the right numbers."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from codegen.printer import lowered, render
from symdiff.graph import topo_order
from symdiff.ops.elementwise import _sigmoid
from symdiff.ops.reductions import _logsumexp

EXTREMES = [("float64", 1000.0), ("float32", 100.0)]


def _np_log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _np_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x))


def _check(nodes, values, expected, dtype) -> None:
    """Unrewritten: some value is not finite. Rewritten: all finite and as expected."""
    with np.errstate(all="ignore"):
        raw = sd.evaluate(nodes, values)
    assert not all(np.all(np.isfinite(r)) for r in raw), "the unrewritten graph was stable"
    rewritten = sd.evaluate(sd.optimize(nodes), values)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(rewritten, expected, strict=True):
        assert got.dtype == np.dtype(dtype)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize(("dtype", "big"), EXTREMES)
def test_softmax_cross_entropy(dtype: str, big: float) -> None:
    x = sd.var("x", (3, 3), dtype)
    Y = sd.var("Y", (3, 3), dtype)
    loss = sd.mean(-sd.sum(Y * sd.log(sd.softmax(x)), axis=1))
    g = sd.grad(loss, x)
    xv = np.array([[big, -big, 0.0], [-big, big, 0.5], [0.1, -0.2, big]], dtype)
    yv = np.eye(3, dtype=dtype)[[1, 0, 2]]
    ls = _np_log_softmax(xv.astype(np.float64))
    want_loss = -(yv * ls).sum(axis=1).mean()
    want_grad = (np.exp(ls) * yv.sum(axis=1, keepdims=True) - yv) / 3
    _check([loss, g], {x: xv, Y: yv}, [want_loss, want_grad], dtype)


@pytest.mark.parametrize(("dtype", "big"), EXTREMES)
def test_logistic_loss(dtype: str, big: float) -> None:
    z = sd.var("z", (4,), dtype)
    y = sd.var("y", (4,), dtype)
    p = sd.sigmoid(z)
    loss = sd.mean(-(y * sd.log(p) + (1 - y) * sd.log(1 - p)))
    g = sd.grad(loss, z)
    zv = np.array([big, -big, big, -big], dtype)
    yv = np.array([1, 0, 0, 1], dtype)
    z64 = zv.astype(np.float64)
    want_loss = np.mean(yv * _np_softplus(-z64) + (1 - yv) * _np_softplus(z64))
    want_grad = (_np_sigmoid(z64) - yv) / 4
    _check([loss, g], {z: zv, y: yv}, [want_loss, want_grad], dtype)


@pytest.mark.parametrize(("dtype", "big"), EXTREMES)
def test_softplus_written_as_log_one_plus_exp(dtype: str, big: float) -> None:
    x = sd.var("x", (4,), dtype)
    loss = sd.sum(sd.log(1 + sd.exp(x)))
    g = sd.grad(loss, x)
    xv = np.array([big, -big, 1.0, -2.0], dtype)
    x64 = xv.astype(np.float64)
    _check([loss, g], {x: xv}, [_np_softplus(x64).sum(), _np_sigmoid(x64)], dtype)


@pytest.mark.parametrize(("dtype", "big"), EXTREMES)
def test_logsumexp_written_out(dtype: str, big: float) -> None:
    x = sd.var("x", (2, 3), dtype)
    loss = sd.sum(sd.log(sd.sum(sd.exp(x), axis=1)))
    g = sd.grad(loss, x)
    xv = np.array([[big, -big, 0.0], [-big, big, 1.0]], dtype)
    x64 = xv.astype(np.float64)
    ls = _np_log_softmax(x64)
    want_loss = np.sum((x64 - ls)[:, 0])  # x - log_softmax(x) is logsumexp, on every column
    _check([loss, g], {x: xv}, [want_loss, np.exp(ls)], dtype)


def test_log_sigmoid_behind_a_reshape() -> None:
    # Theano's rewrite missed this: a reshape between the sigmoid and its log.
    x = sd.var("x", (6,))
    out = sd.log(sd.reshape(sd.sigmoid(x), (2, 3)))
    opt = sd.optimize(out)
    ops = sorted(n.op.name for n in topo_order([opt]) if n.op)
    assert ops == ["neg", "neg", "reshape", "softplus"]
    xv = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 1000.0])
    with np.errstate(all="ignore"):
        assert np.isinf(sd.evaluate(out, {x: xv})).any()
    np.testing.assert_allclose(sd.evaluate(opt, {x: xv}), -_np_softplus(-xv).reshape(2, 3))


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_log_of_one_plus_an_integer_count(dtype: str) -> None:
    """log(1.0 + k) and log(1.0 - k) of an int (or bool) k are float; the rewrite to log1p
    casts k first (log1p refuses ints) instead of failing inside optimize."""
    k = sd.var("k", (3,), dtype)
    kv = np.array([0, 1, 1]).astype(dtype)
    for out in (sd.log(1.0 + k), sd.log(1.0 - k)):
        opt = sd.optimize(out)
        assert opt.type == out.type and "log1p" in [n.op.name for n in topo_order([opt]) if n.op]
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(sd.evaluate(opt, {k: kv}), sd.evaluate(out, {k: kv}))


def test_cross_entropy_gradient_collapses_to_softmax_minus_targets() -> None:
    # The VJP of -sum(Y * log_softmax(x)) is exp(log_softmax(x)) * sum(Y) - Y: it reuses
    # the forward's log_softmax and holds whether or not Y's rows sum to 1.
    x = sd.var("x", (4, 3))
    Y = sd.var("Y", (4, 3))
    ls = sd.log_softmax(x)
    g = sd.optimize(sd.grad(-sd.sum(Y * ls), x))
    assert g.op.name == "sub"
    scaled, target = g.inputs
    assert target is Y
    assert scaled.op.name == "mul"
    e, total = scaled.inputs
    assert e.op.name == "exp" and e.inputs[0] is ls
    assert total.op.name == "sum" and total.inputs[0] is Y and total.attrs["keepdims"]


def test_mean_cross_entropy_gradient_is_one_division() -> None:
    x = sd.var("x", ("n", 3))
    Y = sd.var("Y", ("n", 3))
    loss = sd.mean(-sd.sum(Y * sd.log(sd.softmax(x)), axis=1))
    g = sd.optimize(sd.grad(loss, x))
    ops = sorted(n.op.name for n in topo_order([g]) if n.op)
    # log(softmax(x)) is differentiated as the log_softmax it is rewritten to
    assert ops == ["dim_size", "div", "exp", "log_softmax", "mul", "sub", "sum"]
    # Compiled with the loss, the gradient reuses the forward's log_softmax.
    both = sd.optimize([loss, sd.grad(loss, x)])
    ops = sorted(n.op.name for n in topo_order(both[1:]) if n.op)
    assert ops == ["dim_size", "div", "exp", "log_softmax", "mul", "sub", "sum"]


# -- the op library's own stable forms ---------------------------------------------------------

@pytest.mark.parametrize(("dtype", "big"), EXTREMES)
def test_library_softplus_sigmoid_logsumexp_are_stable(dtype: str, big: float) -> None:
    x = sd.var("x", (4,), dtype)
    outputs = [sd.softplus(x), sd.sigmoid(x), sd.logsumexp(x)]
    grads = [sd.grad(sd.sum(o), x) for o in outputs]
    xv = np.array([big, -big, 0.5, -0.5], dtype)
    x64 = xv.astype(np.float64)
    values = sd.evaluate(outputs + grads, {x: xv})
    s = _np_sigmoid(x64)
    m = x64.max()
    lse = m + np.log(np.exp(x64 - m).sum())
    expected = [_np_softplus(x64), s, lse, s, s * (1 - s), np.exp(x64 - lse)]
    tol = 1e-6 if dtype == "float32" else 1e-12
    for got, want in zip(values, expected, strict=True):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_library_lowerings_use_the_stable_helpers() -> None:
    x = sd.var("x", (2,))
    assert render(lowered(sd.softplus(x)), ["x"]) == "np.logaddexp(0.0, x)"
    assert render(lowered(sd.sigmoid(x)), ["x"]) == "_sigmoid(x)"
    assert render(lowered(sd.logsumexp(x)), ["x"]) == "_logsumexp(x)"
    big = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_array_equal(_sigmoid(big), [0.0, 1.0])
        assert _logsumexp(big) == pytest.approx(1000.0)
