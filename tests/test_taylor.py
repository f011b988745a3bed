"""Taylor mode (the k-th derivative of elementwise functions): every op's Taylor rule
against nested grad, and polynomial growth of the graph with the order."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.graph import topo_order
from symdiff.ops import REGISTRY, library_ops
from symdiff.taylor import NoTaylorRule, taylor_derivative
from tests.fd import assert_close
from tests.test_ops_table import CASES, Case

C = sd.const(np.array([0.7, 1.3, 0.4]))
UNARY = ["exp", "log", "log1p", "expm1", "sqrt", "square", "abs", "sin", "cos", "tan", "tanh",
         "sigmoid", "softplus", "relu"]
BUILDERS = {
    **{name: (lambda x, f=getattr(sd, name): f(x)) for name in UNARY},
    "neg": lambda x: -sd.sin(x),
    "sign": lambda x: sd.sign(x) * x,
    "add": lambda x: sd.exp(x) + C, "sub": lambda x: C - sd.sin(x) - x,
    "mul": lambda x: sd.sin(x) * sd.exp(x) * C, "div": lambda x: C / (x + sd.sin(x)),
    "pow": lambda x: x ** 2.5 + x ** x + C ** x,
    "maximum": lambda x: sd.maximum(sd.sin(x), x * x), "minimum": lambda x: sd.minimum(x, C),
    "where": lambda x: sd.where(x > 0.8, sd.exp(x), sd.sin(x)),
}


def test_every_elementwise_op_has_a_taylor_rule():
    elementwise = {name for name, op in library_ops().items() if op.elementwise}
    assert {name for name in elementwise if REGISTRY[name].taylor is None} == set()


def _table_cases():
    """Rows of the op table for elementwise ops, one per differentiable operand whose shape
    is the result's: the other operands become constants at the row's sample point."""
    for c in CASES:
        if not REGISTRY[c.op].elementwise:
            continue
        for i in c.diff:
            yield pytest.param(c, i, id=f"{c.id}-arg{i}")


@pytest.mark.parametrize("c,i", list(_table_cases()))
def test_op_table_taylor_matches_nested_grad(c: Case, i: int):
    rng = np.random.default_rng(1)
    values = [np.asarray(v).astype(d) for v, d in zip(c.sample(rng, c.shapes), c.input_dtypes())]
    x = sd.var("x", c.shapes[i])
    y = c.build(*[x if j == i else sd.const(v) for j, v in enumerate(values)])
    if y.shape != x.shape:
        return  # broadcast: not an elementwise function of x alone
    if any(n.op is not None and n.op.taylor is None for n in topo_order([y])):
        return  # a composition through reductions (layer_norm): no series rule to check
    nested = y
    for order in (1, 2, 3):
        nested = sd.grad(sd.sum(nested), x)
        assert_close(sd.evaluate(taylor_derivative(y, x, order), {x: values[i]}),
                     sd.evaluate(nested, {x: values[i]}), 1e-9, f"{c.id} order {order}")


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_taylor_rule_matches_nested_grad(name, order):
    x = sd.var("x", (3,))
    y = BUILDERS[name](x)
    nested = y
    for _ in range(order):
        nested = sd.grad(sd.sum(nested), x)
    point = {x: np.array([0.6, 1.1, 0.9])}
    assert_close(sd.evaluate(taylor_derivative(y, x, order), point),
                 sd.evaluate(nested, point), 1e-11, f"{name} order {order}")


def test_comparisons_have_no_higher_coefficients():
    x = sd.var("x", (3,))
    from symdiff.taylor import taylor_coefficients

    assert taylor_coefficients(sd.less(x, C), x, 3)[1:] == [None, None, None]


def test_non_elementwise_op_is_reported():
    x = sd.var("x", (3,))
    with pytest.raises(NoTaylorRule):
        taylor_derivative(sd.softmax(x), x, 2)


def test_kth_derivative_grows_polynomially():
    x = sd.var("x")
    y = sd.tanh(sd.tanh(sd.tanh(x)))
    counts = [len(topo_order([sd.derivative(y, x, k)])) for k in range(1, 11)]
    # second differences of a quadratic are constant; nested grad doubles instead
    assert counts[-1] < 0.1 * 2 ** 10 * counts[0]
    assert max(b / a for a, b in zip(counts[4:], counts[5:])) < 1.5
