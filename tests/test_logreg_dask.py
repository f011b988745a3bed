"""examples/logreg_dask.py: Newton's method for logistic regression with the array-API
target's gradient and Hessian on row-chunked Dask arrays on a 2-process LocalCluster,
against the same fit in memory with the NumPy target."""

from __future__ import annotations

import numpy as np
import pytest

from tests.examples_support import EXAMPLES_DIR, import_file

pytest.importorskip("array_api_compat", reason="the array-API target needs array-api-compat")
da = pytest.importorskip("dask.array", reason="Dask is not installed (pip install "
                         "'symdiff[dask]')")

ROWS, FEATURES, CHUNK_ROWS = 6000, 8, 1000


@pytest.fixture(scope="module")
def logreg():
    return import_file(EXAMPLES_DIR / "logreg_dask.py")


def test_fit_on_the_cluster_matches_the_in_memory_numpy_fit(logreg, dask_client):
    X, y = logreg.synthetic_dask(ROWS, FEATURES, CHUNK_ROWS, seed=3)
    X, y = dask_client.persist([X, y])
    lines: list[str] = []
    w, iterations = logreg.fit(X, y, logreg.newton_step_function(FEATURES), lazy=True,
                               out=lines.append)
    assert iterations < 10 and len(lines) == iterations
    assert lines[0].startswith("iteration 1: loss 0.693147180560")  # log 2 at w = 0
    X_np, y_np = dask_client.compute([X, y], sync=True)
    assert isinstance(X_np, np.ndarray) and X_np.shape == (ROWS, FEATURES)
    w_np, iterations_np = logreg.fit(X_np, y_np,
                                     logreg.newton_step_function(FEATURES, "numpy"),
                                     lazy=False, out=lambda line: None)
    assert iterations_np == iterations
    np.testing.assert_allclose(w, w_np, rtol=1e-9, atol=1e-12)
    assert np.max(np.abs(w - logreg.true_weights(FEATURES, 3))) < 0.5  # it learned the model


def test_no_task_of_the_hessian_reads_two_chunks_of_x(logreg, dask_client):
    """The Hessian is a sum of per-chunk X_c^T diag(w_c) X_c: every task that reads X reads
    one chunk of it, so X is never gathered onto one worker."""
    from dask.core import get_dependencies

    X, y = dask_client.persist(list(logreg.synthetic_dask(ROWS, FEATURES, CHUNK_ROWS, seed=1)))
    step = logreg.newton_step_function(FEATURES)
    loss, g, H = step(X, y, da.from_array(np.full(FEATURES, 0.1)), da.asarray(np.float64(1e-4)))
    graph = dict(H.__dask_graph__())
    chunks = {key for row in X.__dask_keys__() for key in row}
    assert len(chunks) == ROWS // CHUNK_ROWS
    readers = [key for key in graph if get_dependencies(graph, key) & chunks]
    assert readers and all(len(get_dependencies(graph, k) & chunks) == 1 for k in readers)
    assert np.asarray(H.compute()).shape == (FEATURES, FEATURES)


def test_the_script_runs_against_a_running_cluster(logreg, dask_client, capsys):
    assert logreg.main(["--rows", "4000", "--features", "5", "--chunk-rows", "1000",
                        "--scheduler", dask_client.scheduler.address, "--compare"]) == 0
    out = capsys.readouterr().out
    assert "cluster: 2 worker processes" in out and "4 chunks of 1,000 rows" in out
    assert "converged in" in out and "in memory with the NumPy target" in out
