"""The graphs the inspection tests look at (the XOR network and a small MLP, with their
gradients), and a check that these gradients are right, so the listings are of real ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import symdiff as sd
from symdiff.graph import Node
from tests.fd import numerical_jvp


@dataclass
class Model:
    loss: Node
    params: list[Node]
    grads: list[Node]
    inputs: list[Node]


def xor(n: str | int = "n") -> Model:
    """The XOR network of the spec example: h = relu(X@W + c), yhat = h@w + b, squared error."""
    X = sd.var("X", (n, 2))
    y = sd.var("y", (n,))
    W = sd.var("W", (2, 2))
    c = sd.var("c", (2,))
    w = sd.var("w", (2,))
    b = sd.var("b", ())
    h = sd.relu(X @ W + c).named("h")
    yhat = (h @ w + b).named("yhat")
    loss = sd.mean((yhat - y) ** 2).named("loss")
    params = [W, c, w, b]
    return Model(loss, params, sd.grad(loss, params), [X, y])


def mlp(n: str | int = "n") -> Model:
    """A two-layer tanh network with a softmax cross-entropy loss."""
    X = sd.var("X", (n, 3))
    Y = sd.var("Y", (n, 2))
    W1 = sd.var("W1", (3, 4))
    b1 = sd.var("b1", (4,))
    W2 = sd.var("W2", (4, 2))
    b2 = sd.var("b2", (2,))
    h = sd.tanh(X @ W1 + b1).named("h")
    logits = (h @ W2 + b2).named("logits")
    loss = (-sd.mean(sd.sum(Y * sd.log_softmax(logits, axis=1), axis=1))).named("loss")
    params = [W1, b1, W2, b2]
    return Model(loss, params, sd.grad(loss, params), [X, Y])


def xor_point(model: Model, rng: np.random.Generator) -> dict[Node, np.ndarray]:
    X, y = model.inputs
    point = {X: np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
             y: np.array([0.0, 1.0, 1.0, 0.0])}
    for p in model.params:
        point[p] = rng.normal(size=p.shape)
    return point


def mlp_point(model: Model, rng: np.random.Generator) -> dict[Node, np.ndarray]:
    X, Y = model.inputs
    point = {X: rng.normal(size=(5, 3)), Y: np.eye(2)[rng.integers(0, 2, 5)]}
    for p in model.params:
        point[p] = rng.normal(size=p.shape)
    return point


def _check(model: Model, point: dict[Node, np.ndarray], rng: np.random.Generator) -> None:
    grads = sd.evaluate(model.grads, point)
    for p, g in zip(model.params, grads, strict=True):
        t = rng.normal(size=p.shape)
        expected = numerical_jvp(lambda pt: sd.evaluate(model.loss, pt), point, {p: t})
        assert np.isclose(np.sum(g * t), expected, rtol=1e-6, atol=1e-9)


def test_xor_gradient_is_right(rng):
    model = xor()
    _check(model, xor_point(model, rng), rng)


def test_mlp_gradient_is_right(rng):
    model = mlp()
    _check(model, mlp_point(model, rng), rng)
