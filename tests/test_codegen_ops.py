"""Codegen against the reference interpreter for every op: the op table of
tests/test_ops_table.py (one or more rows per op in symdiff.ops.REGISTRY) walked through
generated code, for the op's value and for the gradient of a scalar built on it."""

from __future__ import annotations

import numpy as np
import pytest

from codegen.schedule import is_view
from symdiff import ops
from tests import numba_op_table
from tests.numba_op_table import gradient_outputs
from tests.test_codegen_helpers import assert_matches_evaluate, compile_nodes
from tests.test_ops_table import CASES, Case, _instance

DIFFERENTIABLE = [c for c in CASES if c.diff]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


@pytest.fixture(scope="session")
def numba_table(request, tmp_path_factory):
    """Every row's functions in one numba-target module (tests/numba_op_table.py), in the
    cache directory the conftest's warm-up process fills, if it runs."""
    folder = request.config.stash.get(numba_op_table.CACHE_KEY, None) or \
        str(tmp_path_factory.getbasetemp() / "numba-op-table")
    module, _, graphs = numba_op_table.build(folder)
    yield numba_op_table.table(module)
    del graphs


def _compiled(request, target: str, kind: str, c: Case):
    """The row's functions from the shared numba module, or None (compiled by the check)."""
    if target == "numpy":
        return None
    return request.getfixturevalue("numba_table")[kind, c.id]


def test_every_registered_op_is_covered():
    """The op table reaches every op, so the tests below cover the whole registry."""
    assert {c.op for c in CASES} == set(ops.library_ops())


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_op_value(c: Case, rng, target, request):
    inputs, y, point = _instance(c, rng)
    assert_matches_evaluate(inputs, [y], point,
                            compiled=_compiled(request, target, "value", c))


@pytest.mark.parametrize("c", DIFFERENTIABLE, ids=lambda c: c.id)
def test_op_gradient(c: Case, rng, target, request):
    """The reverse-mode graph of sum(sin(y) + y * y), a cotangent that varies per element."""
    inputs, y, point = _instance(c, rng)
    assert_matches_evaluate(inputs, gradient_outputs(c, inputs, y), point,
                            compiled=_compiled(request, target, "gradient", c))


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_fresh_results_share_no_memory(c: Case, rng, target, request):
    """An op codegen treats as a fresh result really returns new memory, so writing into it
    later (in place or with out=) can never reach an argument."""
    inputs, y, point = _instance(c, rng)
    if y.kind != "op" or is_view(y) or not inputs:
        return
    args = [np.asarray(point[v]) for v in inputs]
    compiled = _compiled(request, target, "value", c)
    f = compile_nodes(inputs, [y]) if compiled is None else compiled[0]
    (got,) = f(*args)
    for a in args:
        assert not np.shares_memory(np.asarray(got), a), f"{c.id} aliases an input"
