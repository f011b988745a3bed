"""A 64-unit tanh RNN over 100 steps at batch 32: value and gradient by symdiff's scan
(generated forward loop + reverse loop) against hand-written NumPy BPTT, and JAX's
`lax.scan` under `jit` when JAX is installed; with `checkpoint=10`, the memory saved.

    python3 benchmarks/rnn.py            # full run (about a minute)
    python3 benchmarks/rnn.py --quick    # fewer calls, for a smoke test
    python3 benchmarks/rnn.py --source   # print the generated code being timed

Model: h_t = tanh(x_t W + h_{t-1} U + b) with 16 inputs, loss = 0.5 * sum((H v - Y)^2) / 32
over the stacked states H; gradients by W, U, b, v. The hand-written version stores the
states in one preallocated array and runs the textbook reverse loop. Times are medians of
interleaved calls (one thread: BLAS, OpenMP and XLA pinned to one core). Memory: the peak
bytes NumPy allocates during one call (tracemalloc), which for these loops is dominated by
the stored states: every step's for the default scan, every 10th plus one segment's with
checkpoint=10.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symdiff as sd  # noqa: E402

STEPS, BATCH, UNITS, INPUTS = 100, 32, 64, 16
CHECKPOINT = 10


def symdiff_rnn(checkpoint: int | None):
    """The compiled value-and-gradient function of the scan-based model."""
    X = sd.var("X", (STEPS, BATCH, INPUTS))
    Y = sd.var("Y", (STEPS, BATCH))
    h0 = sd.var("h0", (BATCH, UNITS))
    W = sd.var("W", (INPUTS, UNITS))
    U = sd.var("U", (UNITS, UNITS))
    b = sd.var("b", (UNITS,))
    v = sd.var("v", (UNITS,))

    def step(h, x):
        h = sd.tanh(x @ W + h @ U + b)
        return h, h

    _, H = sd.scan(step, h0, X, checkpoint=checkpoint, name="rnn")
    r = H @ v - Y
    loss = 0.5 * sd.sum(r * r) / BATCH
    return sd.function([X, Y, h0, W, U, b, v], [loss] + sd.grad(loss, [W, U, b, v]))


def hand_rnn(X, Y, h0, W, U, b, v):
    """Textbook BPTT in NumPy: a forward loop storing the states, a reverse loop."""
    H = np.empty((STEPS + 1, BATCH, UNITS))
    H[0] = h0
    for t in range(STEPS):
        H[t + 1] = np.tanh(X[t] @ W + H[t] @ U + b)
    r = H[1:] @ v - Y
    loss = 0.5 * np.sum(r * r) / BATCH
    r /= BATCH
    dv = H[1:].reshape(-1, UNITS).T @ r.reshape(-1)
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    dh = np.zeros((BATCH, UNITS))
    for t in range(STEPS - 1, -1, -1):
        dh += r[t][:, None] * v
        da = dh * (1.0 - H[t + 1] * H[t + 1])
        dW += X[t].T @ da
        dU += H[t].T @ da
        db += da.sum(axis=0)
        dh = da @ U.T
    return loss, dW, dU, db, dv


def jax_rnn():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def loss_fn(W, U, b, v, X, Y, h0):
        def step(h, x):
            h = jnp.tanh(x @ W + h @ U + b)
            return h, h

        _, H = jax.lax.scan(step, h0, X)
        r = H @ v - Y
        return 0.5 * jnp.sum(r * r) / BATCH

    vg = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1, 2, 3)))

    def run(X, Y, h0, W, U, b, v):
        loss, grads = vg(W, U, b, v, X, Y, h0)
        jax.block_until_ready(grads)
        return (loss, *grads)

    return run


def peak_bytes(fn, args) -> int:
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--source", action="store_true")
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((STEPS, BATCH, INPUTS)), rng.standard_normal((STEPS, BATCH)),
            np.zeros((BATCH, UNITS)), rng.normal(0, 0.3, (INPUTS, UNITS)),
            rng.normal(0, 0.1, (UNITS, UNITS)), np.zeros(UNITS), rng.normal(0, 0.3, UNITS))
    plain, checkpointed = symdiff_rnn(None), symdiff_rnn(CHECKPOINT)
    if opts.source:
        print(plain.source)
        return 0
    contenders = {"hand NumPy": hand_rnn, "symdiff scan": plain,
                  f"symdiff checkpoint={CHECKPOINT}": checkpointed}
    jx = jax_rnn()
    if jx is not None:
        contenders["JAX lax.scan (jit)"] = jx
    want = hand_rnn(*args)
    for name, fn in contenders.items():  # same numbers first (and warm up)
        for a, w in zip(fn(*args), want, strict=True):
            np.testing.assert_allclose(np.asarray(a), w, rtol=1e-9, atol=1e-12, err_msg=name)
    rounds = 5 if opts.quick else 40
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):  # interleaved: every contender once per round
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["hand NumPy"])
    print(f"tanh RNN, {UNITS} units, {STEPS} steps, batch {BATCH}, {INPUTS} inputs: "
          f"value and gradient (median of {rounds} interleaved calls, one thread)")
    print(f"  {'implementation':<26} {'ms/call':>9} {'ratio':>7} {'peak MB':>9}")
    for name, fn in contenders.items():
        t = statistics.median(times[name])
        peak = peak_bytes(fn, args) / 1e6 if not name.startswith("JAX") else float("nan")
        print(f"  {name:<26} {t * 1e3:9.2f} {t / base:6.2f}x {peak:9.2f}")
    state = BATCH * UNITS * 8
    kept = -(-STEPS // CHECKPOINT) + CHECKPOINT  # every 10th state, then one segment's
    print(f"  stored states for the reverse pass: {STEPS * state / 1e6:.2f} MB by default, "
          f"{kept * state / 1e6:.2f} MB with checkpoint={CHECKPOINT} ({kept} of {STEPS}); "
          "the stacked outputs H (1.64 MB) are part of every peak; JAX's memory is XLA's, "
          "not traced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
