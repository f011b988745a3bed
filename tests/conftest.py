"""Shared fixtures: a fixed-seed random generator; the repository root on sys.path so that
`from tests.fd import ...` works under plain `pytest` as well as `python3 -m pytest`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed, so every test sees the same numbers each run."""
    return np.random.default_rng(20240601)


@pytest.fixture(scope="session")
def dask_client():
    """One dask.distributed LocalCluster of 2 worker processes for the whole session (it
    takes seconds to start), with a client connected to it."""
    distributed = pytest.importorskip("dask.distributed", reason="dask.distributed is not "
                                      "installed (pip install 'symdiff[dask]')")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


# Code generation targets the tests that run generated functions try: the NumPy target, and
# the numba target when numba is installed (found without importing it: the extra is heavy).
TARGETS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") is not None else [])


@pytest.fixture(params=TARGETS)
def target(request) -> str:
    """Each installed code generation target in turn ("numpy", "numba")."""
    return request.param
