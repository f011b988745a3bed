"""A small CNN's value and gradient: generated code against hand-written NumPy im2col and
JAX, side by side in one run.

    python3 benchmarks/conv.py            # about a minute
    python3 benchmarks/conv.py --quick    # fewer rounds, for a smoke test
    python3 benchmarks/conv.py --source   # print the generated code being timed

The network (Keras's MNIST CNN, smaller): 28x28 images with one channel at batch 64, a
3x3 convolution to 16 channels, ReLU, a 3x3 convolution to 32 channels, ReLU, 2x2 max
pooling, a dense softmax layer over 10 classes and the mean cross-entropy of integer
labels; the value and the gradient with respect to every weight and bias. Columns: median
milliseconds per call of

- `numpy`: a hand-written im2col backprop (`numpy_cnn` below): the windows copied once into
  a matrix per layer, kept for the weight gradient, channels-last inside, one GEMM per
  product, col2im by nine strided adds, the pooling mask from a reshape;
- `symdiff`: `symdiff.function(inputs, [loss, grads])`, rewrites then codegen;
- `jax`: `jax.jit(jax.value_and_grad(...))` with lax.conv_general_dilated and
  lax.reduce_window, when JAX is installed.

Method: BLAS, OpenMP and XLA pinned to one thread and the process to one core before NumPy
is imported; implementations are first checked to agree (rtol 1e-9), then timed in
interleaved rounds (one call of each per round, after a warm-up), so that a slow phase of
a shared machine hits all of them alike; the medians and their ratios come from one run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()
if hasattr(os, "sched_setaffinity"):  # one core for every implementation: XLA's own thread
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pool ignores the env vars

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symdiff as sd  # noqa: E402

BATCH, SIZE, CLASSES = 64, 28, 10
C1, C2 = 16, 32
POOLED = (SIZE - 4) // 2  # two valid 3x3 convolutions, then 2x2 pooling: 12
FEATURES = C2 * POOLED * POOLED


# -- the model in symdiff -------------------------------------------------------------------

def cnn_graph() -> tuple[list, object, list]:
    X = sd.var("X", ("n", 1, SIZE, SIZE))
    labels = sd.var("labels", ("n",), "int64")
    K1, b1 = sd.var("K1", (C1, 1, 3, 3)), sd.var("b1", (C1,))
    K2, b2 = sd.var("K2", (C2, C1, 3, 3)), sd.var("b2", (C2,))
    W, c = sd.var("W", (FEATURES, CLASSES)), sd.var("c", (CLASSES,))
    h1 = sd.relu(sd.conv2d(X, K1) + b1[:, None, None]).named("h1")
    h2 = sd.relu(sd.conv2d(h1, K2) + b2[:, None, None]).named("h2")
    pooled = sd.max_pool2d(h2, 2).named("pooled")
    logits = (sd.reshape(pooled, ("n", FEATURES)) @ W + c).named("logits")
    logp = sd.log_softmax(logits, axis=1)
    loss = (-sd.mean(sd.take_along_axis(logp, labels[:, None], 1))).named("loss")
    params = [K1, b1, K2, b2, W, c]
    return [X, labels, *params], loss, sd.grad(loss, params)


# -- hand-written NumPy im2col, as a careful engineer writes it ---------------------------

def _im2col(x):
    """x (n, h, w, c) channels-last -> the 3x3 windows as a matrix (n*h'*w', 9c) and h'."""
    n, h, w, c = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # n,h',w',c,3,3
    return win.reshape(n * (h - 2) * (w - 2), c * 9), h - 2


def _col2im(cols, n, h, c):
    """The adjoint of _im2col: (n*h'*w', 9c) windows added back into (n, h, h, c)."""
    out = np.zeros((n, h, h, c))
    cols = cols.reshape(n, h - 2, h - 2, c, 3, 3)
    for i in range(3):
        for j in range(3):
            out[:, i:i + h - 2, j:j + h - 2, :] += cols[..., i, j]
    return out


def numpy_cnn(X, labels, K1, b1, K2, b2, W, c):
    n = X.shape[0]
    x = X.transpose(0, 2, 3, 1)                               # NHWC
    cols1, h = _im2col(x)
    z1 = cols1 @ K1.reshape(C1, -1).T
    z1 += b1
    a1 = np.maximum(z1, 0).reshape(n, h, h, C1)
    cols2, h = _im2col(a1)
    z2 = cols2 @ K2.reshape(C2, -1).T
    z2 += b2
    a2 = np.maximum(z2, 0).reshape(n, h // 2, 2, h // 2, 2, C2)
    pooled = a2.max(axis=(2, 4))                              # n, 12, 12, C2
    flat = pooled.transpose(0, 3, 1, 2).reshape(n, FEATURES)  # W's rows in NCHW order
    z = flat @ W
    z += c
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    s = p.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = -(z[rows, labels] - np.log(s[:, 0])).mean()
    p /= s
    p[rows, labels] -= 1.0
    p *= 1.0 / n                                              # d loss / d logits
    dW = flat.T @ p
    dc = p.sum(axis=0)
    dpooled = (p @ W.T).reshape(n, C2, h // 2, h // 2).transpose(0, 2, 3, 1)
    da2 = (a2 == pooled[:, :, None, :, None]) * dpooled[:, :, None, :, None]
    dz2 = da2.reshape(-1, C2)
    dz2 *= z2 > 0
    dK2 = (dz2.T @ cols2).reshape(K2.shape)
    db2 = dz2.sum(axis=0)
    dz1 = _col2im(dz2 @ K2.reshape(C2, -1), n, h + 2, C1).reshape(-1, C1)
    dz1 *= z1 > 0
    dK1 = (dz1.T @ cols1).reshape(K1.shape)
    db1 = dz1.sum(axis=0)
    return loss, (dK1, db1, dK2, db2, dW, dc)


# -- JAX ------------------------------------------------------------------------------------

def jax_cnn() -> Callable | None:
    """The same network in JAX, jit-compiled value_and_grad; None when JAX is absent."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def conv(x, k):
        return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID")

    def loss_fn(params, X, labels):
        K1, b1, K2, b2, W, c = params
        h = jax.nn.relu(conv(X, K1) + b1[:, None, None])
        h = jax.nn.relu(conv(h, K2) + b2[:, None, None])
        h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        logp = jax.nn.log_softmax(h.reshape(h.shape[0], -1) @ W + c, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], 1))

    vg = jax.jit(jax.value_and_grad(loss_fn))

    def run(X, labels, *params):
        value, grads = vg(params, X, labels)
        return jax.block_until_ready(value), tuple(np.asarray(g) for g in grads)

    return run


# -- timing ---------------------------------------------------------------------------------

def data() -> tuple:
    rng = np.random.default_rng(0)
    X = rng.random((BATCH, 1, SIZE, SIZE))
    labels = rng.integers(0, CLASSES, BATCH)
    params = (rng.normal(0, np.sqrt(2 / 9), (C1, 1, 3, 3)), rng.normal(0, 0.1, C1),
              rng.normal(0, np.sqrt(2 / (9 * C1)), (C2, C1, 3, 3)), rng.normal(0, 0.1, C2),
              rng.normal(0, np.sqrt(1 / FEATURES), (FEATURES, CLASSES)),
              rng.normal(0, 0.1, CLASSES))
    return (X, labels, *params)


def check_same(got, want, what: str) -> None:
    for a, b in zip([got[0], *got[1]], [want[0], *want[1]], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=what)


def interleaved(fns: dict[str, Callable], args: tuple, rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, timed one call each per round."""
    for fn in fns.values():
        for _ in range(3):
            fn(*args)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (smoke test)")
    parser.add_argument("--source", action="store_true", help="print the generated code")
    ns = parser.parse_args()
    inputs, loss, grads = cnn_graph()
    generated = sd.function(inputs, [loss, tuple(grads)])
    if ns.source:
        print(generated.source)
        return
    args = data()
    fns = {"numpy": numpy_cnn, "symdiff": generated}
    jax_fn = jax_cnn()
    if jax_fn is not None:
        fns["jax"] = jax_fn
    want = numpy_cnn(*args)
    for name, fn in fns.items():
        check_same(fn(*args), want, name)
    t = interleaved(fns, args, 10 if ns.quick else 60)
    print(f"NumPy {np.__version__}; one thread, one core; CNN 28x28x1 -> conv3x3(16) -> ReLU "
          f"-> conv3x3(32) -> ReLU -> maxpool2 -> dense(10), batch {BATCH}, value and grad")
    print("impl      ms/call  ratio to numpy")
    for name, seconds in t.items():
        print(f"{name:8} {seconds * 1e3:8.2f}  {seconds / t['numpy']:6.2f}")
    if jax_fn is None:
        print("(JAX is not installed: no jax row)")


if __name__ == "__main__":
    main()
