"""Cost figures (sd.stats): the flop model per op family, symbolic dims, and the
Baur–Strassen ratio of gradient graphs."""

from __future__ import annotations

import pytest
import sympy

import symdiff as sd
from symdiff.inspect.stats import DEFAULT_DIM, flops
from tests.test_inspect_models import mlp, xor


@pytest.mark.parametrize("m, k, n", [(64, 32, 16), (8, 8, 8)])
def test_matmul_chain_gradient_costs_two_to_three_times_the_function(m, k, n):
    """Forward: three matmuls. Gradient: two matmuls per layer, except that X needs none,
    so five: (3 + 5) / 3 = 2.67 up to the elementwise and sum terms."""
    X = sd.var("X", (m, k))
    W1, W2, W3 = sd.var("W1", (k, n)), sd.var("W2", (n, n)), sd.var("W3", (n, n))
    loss = sd.sum(((X @ W1) @ W2) @ W3)
    s = sd.stats(sd.grad(loss, [W1, W2, W3]))
    assert 2 < s.ratio < 3
    assert s.forward_by_op["matmul"] == 2 * m * k * n + 2 * 2 * m * n * n
    assert s.derivative_by_op["matmul"] == 2 * m * k * n + 4 * 2 * m * n * n


def test_forward_part_is_the_whole_function_even_from_the_gradient_alone():
    model = xor()
    from_grads = sd.stats(model.grads, {"n": 4})
    with_loss = sd.stats([model.loss] + model.grads, {"n": 4})
    assert from_grads.forward_nodes == with_loss.forward_nodes
    assert from_grads.forward_flops == with_loss.forward_flops
    assert from_grads.derivative_flops == with_loss.derivative_flops
    assert from_grads.ratio < 5  # Baur–Strassen


def test_symbolic_dims_keep_a_formula_and_take_given_or_default_sizes():
    model = mlp()
    n = sympy.Symbol("n", positive=True, integer=True)
    given = sd.stats(model.grads, {"n": 32})
    assumed = sd.stats(model.grads)
    assert given.assumed_dims == () and given.dims == {"n": 32}
    assert assumed.assumed_dims == ("n",) and assumed.dims == {"n": DEFAULT_DIM}
    assert given.forward_formula.free_symbols == {n}
    assert given.forward_flops == int(given.forward_formula.subs(n, 32))
    assert assumed.derivative_flops == int(assumed.derivative_formula.subs(n, DEFAULT_DIM))
    # every term is linear in n (one batch of examples)
    assert sympy.degree(sympy.expand(given.derivative_formula), n) == 1


def test_flop_model_per_op_family():
    A, B = sd.var("A", ("m", 5)), sd.var("B", (5, 7))
    m = sympy.Symbol("m", positive=True, integer=True)
    assert flops(A @ B) == 2 * m * 5 * 7
    v = sd.var("v", (5,))
    assert flops(v @ v) == 2 * 5
    assert flops(sd.einsum("ij,jk->ik", A, B)) == 2 * m * 5 * 7
    assert flops(sd.exp(A)) == 5 * m
    assert flops(A + v) == 5 * m
    assert flops(sd.sum(A, axis=1)) == 5 * m
    assert flops(sd.softmax(A)) == 5 * m
    assert flops(sd.transpose(A)) == 0
    assert flops(sd.reshape(B, (35,))) == 0
    assert flops(A) == 0


def test_str_is_a_readable_table():
    text = str(sd.stats(xor().grads))
    assert "forward" in text and "derivative" in text and "total" in text
    assert "(forward + derivative) / forward =" in text
    assert "n=100 (assumed)" in text
    assert "derivative flops by op: matmul" in text
    assert "6 variables" in text


def test_counts():
    model = xor()
    s = sd.stats(model.grads)
    assert s.variables == 6
    assert s.forward_nodes == 8  # the listing's seven forward ops and the mean (the loss)
    assert s.derivative_nodes == sum(1 for line in sd.show(model.grads).splitlines()
                                     if "  # " in line)


def test_bad_dims_are_refused():
    with pytest.raises(sd.SymdiffError, match="dims must map"):
        sd.stats(xor().grads, {"n": "four"})
