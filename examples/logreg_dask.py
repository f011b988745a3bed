"""Logistic regression by Newton's method on a data set chunked by rows across the worker
processes of a dask.distributed cluster, with the gradient and Hessian of symdiff's
array-API target running on the Dask arrays where they live.

    python3 -m pip install -e ".[dask]"
    python3 examples/logreg_dask.py                       # 2,000,000 rows x 50 features
    python3 examples/logreg_dask.py --rows 20000000 --workers 4 --chunk-rows 250000

The generated function gets the whole chunked X; on Dask arrays each of its statements
becomes per-chunk tasks, and the Hessian's `(X^T * w) @ X` is a sum of per-chunk
X_c^T diag(w_c) X_c products that Dask reduces as a tree: no task ever holds more than one
chunk of X. Only the loss, gradient (d) and Hessian (d x d) come back to this process.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np

import symdiff as sd

TOLERANCE = 1e-8      # on the gradient norm of the mean loss
MAX_ITERATIONS = 10
RIDGE = 1e-4          # keeps the Hessian positive definite


def newton_step_function(features: int, target: str = "array-api") -> sd.CompiledFunction:
    """loss, gradient and Hessian of the mean logistic loss (labels in {0, 1}) with a small
    ridge term, in one generated function so their per-chunk work is shared."""
    X = sd.var("X", shape=("n", features))
    y = sd.var("y", shape=("n",))
    w = sd.var("w", shape=(features,))
    lam = sd.var("lam", shape=())
    z = X @ w
    loss = sd.mean(sd.softplus(z) - y * z) + 0.5 * lam * sd.sum(sd.square(w))
    return sd.function([X, y, w, lam], [loss, sd.grad(loss, w), sd.hessian(loss, w)],
                       target=target)


def true_weights(features: int, seed: int) -> np.ndarray:
    """The weights the labels are drawn from: an intercept and the feature weights."""
    return np.random.default_rng(seed).normal(scale=1.0 / np.sqrt(features), size=features)


def synthetic_dask(rows: int, features: int, chunk_rows: int, seed: int) -> tuple:
    """X (a column of ones, then standard normal features) and labels y drawn from the
    logistic model, as Dask arrays made chunk by chunk on the workers."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    normal = rng.standard_normal((rows, features - 1), chunks=(chunk_rows, features - 1))
    X = da.concatenate([da.ones((rows, 1), chunks=(chunk_rows, 1)), normal], axis=1)
    X = X.rechunk((chunk_rows, features))
    z = X @ true_weights(features, seed)
    y = (rng.random(rows, chunks=chunk_rows) < 1.0 / (1.0 + da.exp(-z))).astype(np.float64)
    return X, y


def fit(X, y, step_function, *, lazy: bool, out=print) -> tuple[np.ndarray, int]:
    """Newton's method from w = 0: w <- w - H^-1 g until |g| < TOLERANCE. With `lazy`, X and
    y are Dask arrays: each iteration builds the task graph and computes the three results
    together on the cluster."""
    features = X.shape[1]
    w = np.zeros(features)
    lam = np.float64(RIDGE)
    start = time.perf_counter()
    for iteration in range(1, MAX_ITERATIONS + 1):
        if lazy:
            import dask
            import dask.array as da

            loss, g, H = dask.compute(*step_function(X, y, da.from_array(w), da.asarray(lam)))
        else:
            loss, g, H = step_function(X, y, w, lam)
        norm = float(np.linalg.norm(g))
        out(f"iteration {iteration}: loss {float(loss):.12f}  |grad| {norm:.2e}  "
            f"({time.perf_counter() - start:.1f} s)")
        if norm < TOLERANCE:
            return w, iteration
        w = w - np.linalg.solve(H, g)
    raise RuntimeError(f"Newton's method did not converge in {MAX_ITERATIONS} iterations")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=50, help="including the intercept")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="use a running cluster's scheduler instead of starting a "
                             "LocalCluster")
    parser.add_argument("--compare", action="store_true",
                        help="also fit in memory with the NumPy target and compare")
    args = parser.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if args.scheduler is None:
            cluster = stack.enter_context(LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True))
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(args.scheduler))
        workers = len(client.scheduler_info()["workers"])
        print(f"cluster: {workers} worker processes ({client.dashboard_link})")
        X, y = synthetic_dask(args.rows, args.features, args.chunk_rows, args.seed)
        X, y = client.persist([X, y])
        print(f"data: {args.rows:,} rows x {args.features} features in "
              f"{X.numblocks[0]} chunks of {args.chunk_rows:,} rows "
              f"({X.nbytes / 2**30:.2f} GiB across the workers)")
        started = time.perf_counter()
        w, iterations = fit(X, y, newton_step_function(args.features), lazy=True)
        elapsed = time.perf_counter() - started
        error = np.max(np.abs(w - true_weights(args.features, args.seed)))
        print(f"converged in {iterations} iterations, {elapsed:.1f} s on the cluster; "
              f"max |w - w_true| = {error:.3f}")
        if args.compare:
            X_np, y_np = client.compute([X, y], sync=True)
            started = time.perf_counter()
            w_np, _ = fit(X_np, y_np, newton_step_function(args.features, "numpy"),
                          lazy=False)
            print(f"in memory with the NumPy target: {time.perf_counter() - started:.1f} s; "
                  f"max |w_dask - w_numpy| = {np.max(np.abs(w - w_np)):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
