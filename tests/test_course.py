"""The course material's networks: the XOR network of Goodfellow et al. 6.1, the
L-hidden-layer MLP of the CSE 547 notes against their delta recursion written by hand,
and the softmax cross-entropy + weight decay MLP of Goodfellow et al. 6.5.7 against its
hand-written back-propagation."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def _xor_graph():
    X = sd.var("X", ("n", 2))
    W = sd.var("W", (2, 2))
    c = sd.var("c", (2,))
    w = sd.var("w", (2,))
    b = sd.var("b", ())
    h = sd.relu(X @ W + c).named("h")
    yhat = (h @ w + b).named("yhat")
    return (X, W, c, w, b), h, yhat


def test_xor_network_outputs_exactly_xor():
    (X, W, c, w, b), h, yhat = _xor_graph()
    point = {X: XOR_X, W: np.ones((2, 2)), c: np.array([0.0, -1.0]), w: np.array([1.0, -2.0]),
             b: 0.0}
    h_value, out = sd.evaluate([h, yhat], point)
    np.testing.assert_array_equal(h_value, [[0, 0], [1, 0], [1, 0], [2, 1]])
    np.testing.assert_array_equal(out, XOR_Y)


def test_xor_solution_is_a_stationary_point_of_the_square_loss():
    (X, W, c, w, b), _, yhat = _xor_graph()
    y = sd.var("y", ("n",))
    loss = sd.mean((yhat - y) ** 2)
    point = {X: XOR_X, y: XOR_Y, W: np.ones((2, 2)), c: np.array([0.0, -1.0]),
             w: np.array([1.0, -2.0]), b: 0.0}
    values = sd.evaluate([loss, *sd.grad(loss, [W, c, w, b])], point)
    assert values[0] == 0.0
    for g in values[1:]:
        np.testing.assert_array_equal(g, np.zeros_like(g))


# -- L-hidden-layer MLP, square loss, delta recursion (CSE 547 notes, section 2) ------------

UNITS = {
    "tanh": (sd.tanh, np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "sigmoid": (sd.sigmoid, lambda a: 1 / (1 + np.exp(-a)),
                lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2),
}


def _delta_recursion(X, y, weights, w_out, h, h_prime):
    """The notes' backward pass, one example at a time: delta^(L+1) = -(y - yhat),
    delta_j^(l) = h'(a_j^(l)) sum_k w_kj^(l+1) delta_k^(l+1), dl/dw_ji^(l) = delta_j z_i,
    averaged over the N examples (loss 1/(2N) sum (y - yhat)^2)."""
    N = len(X)
    grads = [np.zeros_like(W) for W in weights]
    grad_out = np.zeros_like(w_out)
    for x_n, y_n in zip(X, y):
        zs, acts = [x_n], []
        for W in weights:                       # forward pass: a^(l) = W^(l) z^(l-1)
            acts.append(W @ zs[-1])
            zs.append(h(acts[-1]))
        yhat = w_out @ zs[-1]                   # a^(L+1)
        delta_out = -(y_n - yhat)               # delta^(L+1)
        grad_out += delta_out * zs[-1] / N
        upper_w, upper_delta = w_out[None, :], np.array([delta_out])
        for layer in reversed(range(len(weights))):
            delta = np.array([h_prime(acts[layer][j]) * sum(
                upper_w[k, j] * upper_delta[k] for k in range(len(upper_delta)))
                for j in range(len(acts[layer]))])
            grads[layer] += np.outer(delta, zs[layer]) / N
            upper_w, upper_delta = weights[layer], delta
    return grads, grad_out


@pytest.mark.parametrize("unit", sorted(UNITS))
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_mlp_gradient_equals_delta_recursion(layers, unit, rng):
    sd_h, np_h, np_h_prime = UNITS[unit]
    sizes = [3, 5, 4, 3][: layers + 1]
    X = sd.var("X", ("N", sizes[0]))
    y = sd.var("y", ("N",))
    weights = [sd.var(f"W{i + 1}", (sizes[i + 1], sizes[i])) for i in range(layers)]
    w_out = sd.var(f"w{layers + 1}", (sizes[-1],))
    z = X
    for W in weights:
        z = sd_h(z @ W.T)                       # rows are examples: a = z W^T
    yhat = z @ w_out
    loss = sd.mean((y - yhat) ** 2) / 2
    grads = sd.grad(loss, [*weights, w_out])

    n = 6
    values = {X: rng.standard_normal((n, sizes[0])), y: rng.standard_normal(n),
              w_out: rng.standard_normal(sizes[-1])}
    values |= {W: rng.standard_normal(W.shape) for W in weights}
    got = sd.evaluate(grads, values)
    want_w, want_out = _delta_recursion(values[X], values[y], [values[W] for W in weights],
                                        values[w_out], np_h, np_h_prime)
    for g, w_, name in zip(got, [*want_w, want_out], [*weights, w_out], strict=True):
        np.testing.assert_allclose(g, w_, rtol=1e-12, atol=1e-14, err_msg=name.name)


# -- Goodfellow et al. 6.5.7: ReLU MLP, softmax cross-entropy and weight decay -------------

def test_relu_mlp_cross_entropy_weight_decay_matches_hand_backprop(rng):
    n, d, hidden, k, lam = 7, 4, 5, 3, 0.01
    X = sd.var("X", ("n", d))
    Y = sd.var("Y", ("n", k))                  # one-hot labels
    W1 = sd.var("W1", (d, hidden))
    W2 = sd.var("W2", (hidden, k))
    U1 = X @ W1
    H = sd.relu(U1)
    U2 = H @ W2
    J_mle = -sd.mean(sd.sum(Y * sd.log_softmax(U2, axis=1), axis=1))
    J = J_mle + lam * (sd.sum(W1 ** 2) + sd.sum(sd.square(W2)))
    grads = sd.grad(J, [W1, W2])

    x = rng.standard_normal((n, d))
    labels = rng.integers(0, k, n)
    onehot = np.eye(k)[labels]
    w1 = rng.standard_normal((d, hidden))
    w2 = rng.standard_normal((hidden, k))
    j_value, g1, g2 = sd.evaluate([J, *grads], {X: x, Y: onehot, W1: w1, W2: w2})

    # forward
    u1 = x @ w1
    h = np.maximum(u1, 0)
    u2 = h @ w2
    p = np.exp(u2 - u2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want_j = -np.mean(np.log(p[np.arange(n), labels])) + lam * ((w1 ** 2).sum()
                                                                + (w2 ** 2).sum())
    # backward, as the text traces it
    G = (p - onehot) / n                       # gradient on U2 from cross_entropy
    want_g2 = h.T @ G + 2 * lam * w2           # H^T G, plus the weight decay path
    G_prime = (G @ w2.T) * (u1 > 0)            # relu zeroes components where U1 < 0
    want_g1 = x.T @ G_prime + 2 * lam * w1
    np.testing.assert_allclose(j_value, want_j, rtol=1e-13)
    np.testing.assert_allclose(g1, want_g1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g2, want_g2, rtol=1e-12, atol=1e-15)
