"""The numba-parallel target: kernels whose iterations are independent along their first
axis loop over it with numba.prange, and give the serial kernels' results to the bit; a
kernel that sums along that axis stays serial."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd

numba = pytest.importorskip("numba", reason="the numba-parallel target needs the numba extra")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One function, compiled for the serial and the parallel numba targets: an
    elementwise chain, a sum along the first axis (the bias gradient's pattern) and one
    along the second."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "numba-parallel"))
    x = sd.var("x", ("n", "m"))
    outputs = [sd.tanh(sd.tanh(x)) * 2.0, sd.sum(sd.exp(x) * x, axis=0),
               sd.sum(sd.tanh(x) * x, axis=1)]
    fns = {t: sd.function([x], outputs, target=t) for t in ("numba", "numba-parallel")}
    yield fns
    mp.undo()


def _kernels(source: str) -> dict[str, str]:
    """Each kernel's source by its docstring's list of ops."""
    found = re.findall(r"(@numba\.njit\([^\n]*\)\ndef _kernel\d+\(.*?\n    return [^\n]*\n)",
                       source, re.S)
    return {re.search(r'"""Fused loop over \d+ axes: (.*?)\."""', k).group(1): k for k in found}


def test_prange_where_iterations_are_independent(both):
    kernels = _kernels(both["numba-parallel"].source)
    assert len(kernels) == 3, list(kernels)
    for ops, text in kernels.items():
        along_first = "exp" in ops  # sum(..., axis=0): every row adds into one output row
        assert ("numba.prange(" in text) is not along_first, text
        assert ("parallel=True" in text) is not along_first, text
    assert "prange" not in both["numba"].source


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (3000, 40)])
def test_parallel_results_are_the_serial_ones_to_the_bit(both, rng, shape):
    x = rng.standard_normal(shape)
    serial, parallel = both["numba"](x), both["numba-parallel"](x)
    for s, p in zip(serial, parallel, strict=True):
        assert np.array_equal(s, p)
