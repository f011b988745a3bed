"""Shared fixtures: a fixed-seed random generator; the repository root on sys.path so that
`from tests.fd import ...` works under plain `pytest` as well as `python3 -m pytest`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.targets import TARGETS  # noqa: E402


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


@pytest.fixture(params=TARGETS)
def target(request) -> str:
    """Each installed code generation target in turn ("numpy", "numba")."""
    return request.param


# -- the op table through numba: kernels compiled on the second core ------------------------

_warm_up: subprocess.Popen | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """When the op-table codegen tests run on the numba target, start a process compiling
    their kernels into numba's disk cache (tests/numba_op_table.py) while the suite runs
    on the other core: most of those tests' time is numba compiling 300-odd kernels."""
    global _warm_up
    if "numba" not in TARGETS or not any(
            item.nodeid.startswith("tests/test_codegen_ops.py") and "[numba-" in item.nodeid
            for item in session.items):
        return
    from tests import numba_op_table

    folder = tempfile.mkdtemp(prefix="symdiff-numba-op-table-")
    session.config.stash[numba_op_table.CACHE_KEY] = folder
    _warm_up = subprocess.Popen([sys.executable, numba_op_table.__file__, folder],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _warm_up is not None:
        _warm_up.kill()
        _warm_up.wait()
        from tests import numba_op_table

        shutil.rmtree(session.config.stash[numba_op_table.CACHE_KEY], ignore_errors=True)
