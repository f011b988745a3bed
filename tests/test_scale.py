"""Compile time grows near-linearly with graph size (issue 16). No timings are asserted:
the tests count the work that used to grow quadratically (heap pushes of the scheduler,
name probes of the namer, key-line scans of the spec loader), and compile one moderately
big graph end to end."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

import symdiff as sd
from codegen import schedule as schedule_module
from codegen.naming import Namer
from codegen.schedule import schedule


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def many_terms(terms: int):
    x = sd.var("x", (8,))
    total = x * 1.0
    for i in range(1, terms):
        total = total + sd.sin(x * float(i))
    return sd.sum(total), x


def tanh_chain(steps: int):
    x = sd.var("x", (8,))
    h = x
    for _ in range(steps):
        h = sd.tanh(h)
    return sd.sum(h), x


class _CountingHeapq:
    def __init__(self) -> None:
        self.pushes = 0
        self.heappop = heapq.heappop

    def heappush(self, heap, item) -> None:
        self.pushes += 1
        heapq.heappush(heap, item)


def _pushes(outputs, monkeypatch) -> tuple[int, int]:
    counter = _CountingHeapq()
    monkeypatch.setattr(schedule_module, "heapq", counter)
    order = schedule(outputs)
    monkeypatch.undo()
    return counter.pushes, len(order)


@pytest.mark.parametrize("build", [many_terms, tanh_chain])
def test_scheduler_pushes_grow_linearly(build, monkeypatch):
    """A widely shared input used to re-push all of its ready readers at every step."""
    counts = []
    for size in (400, 800):
        loss, x = build(size)
        pushes, ops = _pushes([loss, sd.grad(loss, x)], monkeypatch)
        assert pushes <= 3 * ops
        counts.append(pushes)
    assert counts[1] <= 2.2 * counts[0]


def test_namer_probes_grow_linearly():
    class CountingSet(set):
        probes = 0

        def __contains__(self, item):
            CountingSet.probes += 1
            return super().__contains__(item)

    namer = Namer()
    namer.taken = CountingSet()
    names = [namer.fresh("d_loss_d_h") for _ in range(3000)]
    assert len(set(names)) == 3000 and names[:3] == ["d_loss_d_h", "d_loss_d_h_2",
                                                     "d_loss_d_h_3"]
    assert CountingSet.probes <= 3 * 3000


def test_a_10k_node_chain_compiles_and_runs():
    loss, x = tanh_chain(2500)
    g = sd.grad(loss, x)
    f = sd.function([x], [loss, g])
    xv = np.linspace(-1, 1, 8)
    want = sd.evaluate([loss, g], {x: xv})
    got = f(xv)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-300)


def test_a_spec_sum_of_5000_terms_loads():
    from symdiff.spec import loads_spec

    expr = " + ".join(f"sin({i} * x)" for i in range(1, 5001))
    spec = loads_spec(f'[inputs]\nx = {{ shape = [4] }}\n[outputs]\nf = "sum({expr})"\n')
    (value,) = sd.evaluate([spec.function("f").outputs], {spec.inputs["x"]: np.ones(4)})
    assert np.isclose(value, 4 * sum(np.sin(i) for i in range(1, 5001)))
