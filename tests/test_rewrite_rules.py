"""Every rewrite rule, one table row each: the rule fires (the op counts after optimize say
so), and the value is unchanged on random inputs, for the forward graph and for the
gradient graph built on it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import symdiff as sd
from symdiff.graph import topo_order
from symdiff.ops import dim_size, eye, neg, zeros
from symdiff.rewrite import PHASES, optimize
from symdiff.rewrite.merge import RULES as MERGE_RULES
from symdiff.rewrite.merge import merge

POS = "pos"  # sampler for inputs that must be positive


@dataclass
class Case:
    rule: str  # qualified rule name, e.g. "simplify.multiply_by_one"
    build: Callable[..., sd.Node]
    shapes: dict[str, tuple]  # variable name -> shape (a shape ending in POS: positive)
    after: dict[str, int] = field(default_factory=dict)  # op -> count after optimize


def _ops(nodes) -> Counter:
    return Counter(n.op.name for n in topo_order(nodes) if n.op is not None)


T = Case
CASES = [
    # -- canonicalize ---------------------------------------------------------------------------
    T("canonicalize.operand_order", lambda x: x * 2.0, {"x": (3,)}, {"mul": 1}),
    T("canonicalize.double_negation", lambda x: neg(neg(x)), {"x": (3,)}, {"neg": 0}),
    T("canonicalize.negated_difference", lambda x, y: -(x - y), {"x": (3,), "y": (3,)},
      {"neg": 0, "sub": 1}),
    T("canonicalize.negation_into_constant", lambda x: -(2.0 * x), {"x": (3,)},
      {"neg": 0, "mul": 1}),
    T("canonicalize.negation_into_difference_factor", lambda x, y, z: -(x * (y - z)),
      {"x": (3,), "y": (3,), "z": (3,)}, {"neg": 0, "sub": 1, "mul": 1}),
    T("canonicalize.add_negation", lambda x, y: x + -y, {"x": (3,), "y": (3,)},
      {"neg": 0, "add": 0, "sub": 1}),
    T("canonicalize.subtract_negation", lambda x, y: x - -y, {"x": (3,), "y": (3,)},
      {"neg": 0, "sub": 0, "add": 1}),
    T("canonicalize.negation_minus", lambda x, y: sd.exp(-x - y), {"x": (3,), "y": (3,)},
      {"neg": 1, "add": 1, "sub": 0}),
    T("canonicalize.negation_out_of_product", lambda x, y, z: z + (-x) * y,
      {"x": (3,), "y": (3,), "z": (3,)}, {"neg": 0, "sub": 1, "mul": 1}),
    T("canonicalize.negation_out_of_linear", lambda x, y: y + sd.sum(-x),
      {"x": (2, 3), "y": ()}, {"neg": 0, "sub": 1}),
    T("canonicalize.broadcast_out_of_elementwise",
      lambda x, y: sd.broadcast_to(x, (4, 3)) * y, {"x": (3,), "y": (4, 3)},
      {"broadcast_to": 0, "mul": 1}),
    T("canonicalize.broadcast_of_broadcast",
      lambda x: sd.broadcast_to(sd.broadcast_to(x, (4, 3)), (2, 4, 3)), {"x": (3,)},
      {"broadcast_to": 1}),
    T("canonicalize.scalar_broadcast_source",
      lambda s: sd.broadcast_to(sd.reshape(s, (1, 1)), (4, 3)), {"s": ()},
      {"broadcast_to": 1, "reshape": 0}),
    T("canonicalize.scalar_operand", lambda s, x: x * sd.reshape(s, (1, 1)),
      {"s": (), "x": (4, 3)}, {"reshape": 0, "mul": 1}),
    T("canonicalize.scalar_through_elementwise",
      lambda a, x: sd.reshape(sd.exp(a), ()) * x, {"a": (1, 1), "x": (3,)},
      {"exp": 1, "mul": 1}),
    T("canonicalize.transpose_of_transpose",
      lambda x: sd.transpose(sd.transpose(x, (1, 2, 0)), (2, 0, 1)), {"x": (2, 3, 4)},
      {"transpose": 0}),
    T("canonicalize.flip_of_flip",
      lambda x: sd.flip(sd.flip(x, (0, 1)), 1) + sd.flip(sd.flip(x, 2), 2), {"x": (2, 3, 4)},
      {"flip": 1}),
    T("canonicalize.reshape_of_reshape",
      lambda x: sd.reshape(sd.reshape(x, (6,)), (3, 2)), {"x": (2, 3)}, {"reshape": 1}),
    T("canonicalize.movement_of_scalar_broadcast",
      lambda s: sd.transpose(sd.broadcast_to(s, (2, 3))), {"s": ()},
      {"transpose": 0, "broadcast_to": 1}),
    T("canonicalize.broadcast_out_of_movement",
      lambda x: sd.exp(sd.expand_dims(sd.broadcast_to(x, (2, 3)), 0)), {"x": (3,)},
      {"broadcast_to": 1, "exp": 1}),
    # -- fold ---------------------------------------------------------------------------------
    T("fold.constant_inputs", lambda x: x * (sd.const(2.0) + sd.const(3.0)), {"x": (3,)},
      {"add": 0, "mul": 1}),
    T("fold.static_dim_size", lambda x: x / dim_size(x, (0, 1)), {"x": (2, 3)},
      {"dim_size": 0, "div": 1}),
    T("fold.small_zeros", lambda x: x + zeros(()), {"x": (3,)}, {"zeros": 0, "add": 0}),
    # -- simplify -----------------------------------------------------------------------------
    T("simplify.multiply_by_one", lambda x: x * sd.const(np.ones(3)), {"x": (3,)}, {"mul": 0}),
    T("simplify.multiply_by_minus_one", lambda x, y: y + x * -1.0, {"x": (3,), "y": (3,)},
      {"mul": 0, "neg": 0, "sub": 1}),
    T("simplify.multiply_by_zero", lambda x, y: sd.astype(x > y, "float64") * 0.0 + x,
      {"x": (3,), "y": (3,)}, {"mul": 0, "greater": 0, "astype": 0}),
    T("simplify.add_zero", lambda x: 0.0 + x, {"x": (3,)}, {"add": 0}),
    T("simplify.subtract_zero", lambda x: sd.exp(x - 0.0) + (0.0 - x), {"x": (3,)},
      {"sub": 1, "add": 0, "neg": 0}),
    T("simplify.divide_by_one", lambda x: x / 1.0, {"x": (3,)}, {"div": 0}),
    T("simplify.reciprocal_factor", lambda x, d: (1.0 / d) * x, {"x": (3,), "d": (3, POS)},
      {"div": 1, "mul": 0}),
    T("simplify.cancel_constant_factor", lambda x: (x * 3.0) / 3.0, {"x": (3,)},
      {"div": 0, "mul": 0}),
    T("simplify.cancel_constant_divisor", lambda x: (x / 3.0) * 3.0, {"x": (3,)},
      {"div": 0, "mul": 0}),
    T("simplify.cancel_added_term", lambda x, y: sd.exp((x - y) + y), {"x": (3,), "y": (3,)},
      {"add": 0, "sub": 0}),
    T("simplify.factor_common_factor", lambda a, x, y: a * x + y * a,
      {"a": (3,), "x": (3,), "y": (3,)}, {"mul": 1, "add": 1}),
    T("simplify.matmul_by_identity", lambda x: eye(3) @ x @ eye(4), {"x": (3, 4)},
      {"matmul": 0, "eye": 0}),
    T("simplify.gather_scalars", lambda s, t, x: s * (t * x), {"s": (), "t": (), "x": (3,)},
      {"mul": 2}),
    T("simplify.scalar_out_of_product", lambda s, x, y: x * (s * y),
      {"s": (), "x": (3,), "y": (3,)}, {"mul": 2}),
    T("simplify.scalar_out_of_quotient", lambda s, x, y: (s * x) / y,
      {"s": (), "x": (3,), "y": (3, POS)}, {"mul": 1, "div": 1}),
    T("simplify.factor_common_scalar", lambda s, x, y: x / s - y / s,
      {"s": (POS,), "x": (3,), "y": (3,)}, {"div": 1, "sub": 1}),
    T("simplify.scalar_out_of_sum", lambda s, x, y: y - sd.sum(s * x, axis=0),
      {"s": (), "x": (2, 3), "y": (3,)}, {"mul": 1, "sum": 1}),
    T("simplify.multiply_by_mask", lambda x, g: g * sd.where(x > 0, 1.0, 0.0),
      {"x": (3,), "g": (3,)}, {"mul": 0, "where": 1}),
    T("simplify.where_same_branches", lambda x, y: sd.where(x > y, sd.exp(x), sd.exp(x)),
      {"x": (3,), "y": (3,)}, {"where": 0, "greater": 0}),
    T("simplify.where_known_condition", lambda x, y: sd.where(True, x, y),
      {"x": (3,), "y": (3,)}, {"where": 0}),
    T("simplify.where_same_condition",
      lambda x, y, z: sd.where(x > 0, sd.where(x > 0, y, z), x),
      {"x": (3,), "y": (3,), "z": (3,)}, {"where": 1}),
    T("simplify.power_by_constant", lambda x: x ** 1.0 + x ** 2.0, {"x": (3,)},
      {"pow": 0, "square": 1}),
    T("simplify.power_by_constant", lambda x: x ** 0.5 * x ** -1.0, {"x": (3, POS)},
      {"pow": 0, "sqrt": 1}),
    T("simplify.power_by_constant", lambda x: x ** -0.5 + x ** 0.0, {"x": (3, POS)},
      {"pow": 0, "sqrt": 1}),
    T("simplify.reduce_over_unit_axes", lambda x: sd.sum(x, axis=1) + sd.max(x, axis=1),
      {"x": (3, 1)}, {"sum": 0, "max": 0}),
    T("simplify.sum_of_broadcast", lambda x: sd.sum(sd.broadcast_to(x, (4, 3)), axis=0),
      {"x": (3,)}, {"sum": 0, "broadcast_to": 0, "mul": 1}),
    T("simplify.sum_of_broadcast",
      lambda x, y: sd.sum(sd.broadcast_to(x, ("n", 3)), axis=0) + 0 * sd.sum(y),
      {"x": (3,), "y": ("n", 3)}, {"broadcast_to": 1, "dim_size": 1}),
    T("simplify.mean_of_broadcast", lambda x: sd.mean(sd.broadcast_to(x, (4, 3)), axis=0),
      {"x": (3,)}, {"mean": 0, "broadcast_to": 0}),
    T("simplify.dim_size_of_source",
      lambda x: sd.sum(sd.exp(x)) / dim_size(sd.softmax(sd.exp(x).T, axis=0), (1,)),
      {"x": ("n", 3)}, {"dim_size": 1, "softmax": 0}),
    T("simplify.dim_size_of_source",  # a matmul computed only for its length goes
      lambda x, w: sd.sum(x) / dim_size(x @ w, (0,)),
      {"x": ("n", 3), "w": (3,)}, {"dim_size": 1, "matmul": 0}),
    # -- stabilize ----------------------------------------------------------------------------
    T("stabilize.log_of_softmax", lambda x: sd.log(sd.softmax(x)), {"x": (2, 3)},
      {"log": 0, "softmax": 0, "log_softmax": 1}),
    T("stabilize.log_of_softmax", lambda x: sd.log(sd.reshape(sd.softmax(x), (6,))),
      {"x": (2, 3)}, {"log": 0, "softmax": 0, "log_softmax": 1}),
    T("stabilize.log_of_sigmoid", lambda x: sd.log(sd.sigmoid(x)), {"x": (3,)},
      {"log": 0, "sigmoid": 0, "softplus": 1}),
    T("stabilize.log_of_sigmoid", lambda x: sd.log(sd.reshape(sd.sigmoid(x), (3, 2)).T),
      {"x": (6,)}, {"log": 0, "sigmoid": 0, "softplus": 1}),
    T("stabilize.log_of_one_minus_sigmoid", lambda x: sd.log(1.0 - sd.sigmoid(x)), {"x": (3,)},
      {"log": 0, "softplus": 1, "sigmoid": 0}),
    T("stabilize.log_of_one_plus_exp", lambda x: sd.log(1.0 + sd.exp(x)), {"x": (3,)},
      {"log": 0, "exp": 0, "softplus": 1}),
    T("stabilize.log_of_one_plus_exp", lambda x: sd.log1p(sd.exp(x)[1:]), {"x": (3,)},
      {"log1p": 0, "exp": 0, "softplus": 1}),
    T("stabilize.log_of_sum_of_exp", lambda x: sd.log(sd.sum(sd.exp(x), axis=1)),
      {"x": (2, 3)}, {"log": 0, "logsumexp": 1}),
    T("stabilize.log_of_exp", lambda x: sd.log(sd.exp(x).T), {"x": (2, 3)},
      {"log": 0, "exp": 0}),
    T("stabilize.log_of_one_plus",
      lambda x: sd.log(1.0 + 0.5 * sd.tanh(x)) + sd.log(1.0 - 0.5 * sd.tanh(x)),
      {"x": (3,)}, {"log": 0, "log1p": 2}),
    T("stabilize.exp_minus_one", lambda x: sd.exp(x) - 1.0, {"x": (3,)},
      {"exp": 0, "expm1": 1}),
    T("stabilize.sigmoid_from_exp", lambda x: 1.0 / (1.0 + sd.exp(-x)), {"x": (3,)},
      {"exp": 0, "sigmoid": 1}),
    T("stabilize.sigmoid_from_exp", lambda x: sd.exp(x) / (1.0 + sd.exp(x)), {"x": (3,)},
      {"exp": 0, "sigmoid": 1}),
    T("stabilize.softmax_by_hand",
      lambda x: sd.exp(x) / sd.sum(sd.exp(x), axis=1, keepdims=True), {"x": (2, 3)},
      {"exp": 0, "div": 0, "softmax": 1}),
    T("stabilize.softmax_by_hand", lambda x: sd.exp(x) / sd.sum(sd.exp(x)), {"x": (4,)},
      {"exp": 0, "div": 0, "softmax": 1}),
    T("stabilize.cancel_positive_factor", lambda x, y: (y / sd.exp(x)) * sd.exp(x),
      {"x": (3,), "y": (3,)}, {"div": 0, "mul": 0, "exp": 0}),
    T("stabilize.exp_over_one_plus_exp", lambda x, y: (y / (1.0 + sd.exp(x))) * sd.exp(x),
      {"x": (3,), "y": (3,)}, {"div": 0, "exp": 0, "sigmoid": 1}),
    T("stabilize.exp_over_sum_of_exp",
      lambda x: sd.expand_dims(1.0 / sd.sum(sd.exp(x), axis=1), 1) * sd.exp(x),
      {"x": (2, 3)}, {"div": 0, "logsumexp": 1}),
    T("stabilize.distribute_over_cancelling_quotient",
      lambda x, y, z: sd.exp(x) * (y / sd.exp(x) - z), {"x": (3,), "y": (3,), "z": (3,)},
      {"div": 0, "mul": 1, "sub": 1}),
    # -- merge --------------------------------------------------------------------------------
    T("merge.commuted_duplicate", lambda x, y: sd.exp(x + y) * (y + x),
      {"x": (3,), "y": (3,)}, {"add": 1}),
    T("merge.softmax_from_log_softmax", lambda x: sd.log_softmax(x) * sd.softmax(x),
      {"x": (2, 3)}, {"softmax": 0, "log_softmax": 1, "exp": 1}),
    T("merge.sum_of_shared_scaled",
      lambda s, x: sd.exp(x / s) + sd.sum(x, axis=0) / s, {"s": (POS,), "x": (3, 3)},
      {"div": 1, "sum": 1}),
    T("simplify.double", lambda x: sd.exp(x + x), {"x": (3,)}, {"add": 0, "mul": 1}),
    T("merge.sum_of_squares", lambda x, r: sd.sum(x * x) + sd.mean(sd.square(r)),
      {"x": (4, 3), "r": ("n",)}, {"matmul": 2, "sum": 0, "mean": 0}),
    T("merge.small_factors_first", lambda a, u, v: (a * u) * v,
      {"a": (4, 3), "u": (3,), "v": (1, 3)}, {"mul": 2}),
    # the rows are scaled by small factors first, then the big common factor comes out
    T("merge.factor_common_factor", lambda a, u, v: (a * u) * 2.0 + (a * v) * 3.0,
      {"a": (4, 3), "u": (3,), "v": (3,)}, {"mul": 3, "add": 1}),
]


def _case_id(case: Case) -> str:
    return case.rule.split(".", 1)[1]


def _variables(case: Case) -> dict[str, sd.Node]:
    shapes = {k: tuple(d for d in s if d != POS) for k, s in case.shapes.items()}
    return {k: sd.var(k, s) for k, s in shapes.items()}


def _bindings(case: Case, nodes: dict[str, sd.Node], seed: int) -> dict[sd.Node, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {}
    for name, node in nodes.items():
        shape = tuple(5 if isinstance(d, str) else d for d in node.shape)
        v = rng.normal(size=shape)
        if POS in case.shapes[name]:
            v = 0.5 + np.abs(v)
        values[node] = v
    return values


def _close(before, after) -> None:
    for a, b in zip(before, after, strict=True):
        assert np.all(np.isfinite(a)), "choose inputs where the graph is defined"
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rule_fires_and_keeps_the_value(case: Case) -> None:
    nodes = _variables(case)
    out = case.build(**nodes)
    opt, report = optimize(out, report=True)
    assert report.fired[case.rule] > 0, str(report)
    assert report.converged
    counts = _ops([opt])
    for op, n in case.after.items():
        assert counts[op] == n, f"{op}: {counts[op]} after optimize, expected {n}\n{report}"
    assert opt.type == out.type
    for seed in range(3):
        values = _bindings(case, nodes, seed)
        _close(sd.evaluate([out], values), sd.evaluate([opt], values))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rule_keeps_the_gradient(case: Case) -> None:
    nodes = _variables(case)
    out = case.build(**nodes)
    wrt = list(nodes.values())
    grads = sd.grad(sd.sum(out * out), wrt)
    opt = optimize(grads)
    for seed in range(2):
        values = _bindings(case, nodes, seed)
        _close(sd.evaluate(grads, values), sd.evaluate(opt, values))


def test_every_rule_has_a_row() -> None:
    rules = {r.qualname for phase in PHASES for r in phase.rules}
    rules |= {f"merge.{name}" for name in MERGE_RULES}
    assert rules == {c.rule for c in CASES}


def test_merge_rule_names_are_the_ones_the_table_lists() -> None:
    x, y = sd.var("x", (3,)), sd.var("y", (3,))
    fired: Counter = Counter()
    merge([sd.exp(x + y) * (y + x)], fired)
    assert set(fired) == {"merge.commuted_duplicate"}


def test_multiply_by_zero_keeps_nan_of_a_variable() -> None:
    # x * 0 for a variable x stays: it is NaN where x is inf or NaN.
    x = sd.var("x", (3,))
    out = x * 0.0
    opt = optimize(out)
    assert _ops([opt])["mul"] == 1
    values = {x: np.array([np.inf, np.nan, 1.0])}
    np.testing.assert_array_equal(sd.evaluate(opt, values), [np.nan, np.nan, 0.0])


def test_large_broadcast_of_a_constant_is_not_materialized() -> None:
    x = sd.var("x", (300, 400))
    out = x * sd.broadcast_to(sd.const(2.0), (300, 400)) + sd.broadcast_to(sd.const(1.5),
                                                                           (300, 400))
    opt = optimize(out)
    assert all(n.value is None or n.value.size == 1 for n in topo_order([opt]))
    values = {x: np.random.default_rng(0).normal(size=(300, 400))}
    _close(sd.evaluate([out], values), sd.evaluate([opt], values))


def test_common_factor_of_two_masks_stays_a_sum_of_products() -> None:
    # x * m1 + x * m2 with bool masks is not x * (m1 + m2): m1 + m2 is the logical or, and
    # m1 - m2 is refused by NumPy; the sum is kept in the result's dtype.
    x = sd.var("x", (4,))
    m1, m2 = sd.var("m1", (4,), "bool"), sd.var("m2", (4,), "bool")
    values = {x: np.array([-1.0, 1.0, 2.0, 3.0]), m1: np.array([1, 1, 0, 0], bool),
              m2: np.array([1, 0, 1, 0], bool)}
    for out in (x * m1 + m2 * x, x * m1 - x * m2):
        _close(sd.evaluate([out], values), sd.evaluate([optimize(out)], values))
