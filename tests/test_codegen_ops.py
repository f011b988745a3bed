"""Codegen against the reference interpreter for every op: the op table of
tests/test_ops_table.py (one or more rows per op in symdiff.ops.REGISTRY) walked through
generated code, for the op's value and for the gradient of a scalar built on it."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from codegen.schedule import is_view
from symdiff import ops
from tests.test_codegen_helpers import assert_matches_evaluate, compile_nodes
from tests.test_ops_table import CASES, Case, _instance

DIFFERENTIABLE = [c for c in CASES if c.diff]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def test_every_registered_op_is_covered():
    """The op table reaches every op, so the tests below cover the whole registry."""
    assert {c.op for c in CASES} == set(ops.library_ops())


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_op_value(c: Case, rng):
    inputs, y, point = _instance(c, rng)
    assert_matches_evaluate(inputs, [y], point)


@pytest.mark.parametrize("c", DIFFERENTIABLE, ids=lambda c: c.id)
def test_op_gradient(c: Case, rng):
    """The reverse-mode graph of sum(sin(y) + y * y), a cotangent that varies per element."""
    inputs, y, point = _instance(c, rng)
    cost = sd.sum(sd.sin(y) + y * y)
    grads = sd.grad(cost, [inputs[i] for i in c.diff])
    assert_matches_evaluate(inputs, [cost, *grads], point)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_fresh_results_share_no_memory(c: Case, rng):
    """An op codegen treats as a fresh result really returns new memory, so writing into it
    later (in place or with out=) can never reach an argument."""
    inputs, y, point = _instance(c, rng)
    if y.kind != "op" or is_view(y) or not inputs:
        return
    args = [np.asarray(point[v]) for v in inputs]
    (got,) = compile_nodes(inputs, [y])(*args)
    for a in args:
        assert not np.shares_memory(np.asarray(got), a), f"{c.id} aliases an input"
