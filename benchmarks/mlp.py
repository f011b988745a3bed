"""Generated value-and-grad code against hand-written NumPy backprop, side by side.

    python3 benchmarks/mlp.py            # full run (about two minutes)
    python3 benchmarks/mlp.py --quick    # fewer calls, for a smoke test
    python3 benchmarks/mlp.py --source   # print the generated code being timed

Networks: an MLP 784-256-256-10 (ReLU, softmax cross-entropy averaged over the batch,
one-hot labels as a float matrix, weight decay 1e-4 * 0.5 * sum of squared weights) at
batch 1, 32 and 256; a deep narrow net (8 tanh layers of 64x64, squared loss) at batch 32;
and a 2-8-1 tanh network with a squared loss at batch 4, where the per-call overhead
dominates. Columns: median time per call of the hand-written NumPy backprop, of symdiff's
generated value-and-grad function (`symdiff.function`, optimized) and of the generated
forward (loss only), with the ratios. The numba target of the same value-and-grad
(`target="numba"`, fused kernels), JAX (jit) and autograd are added as extra columns when
installed, and the numba target's cold and warm compile times are printed below the table.
BLAS and OpenMP threads are pinned to 1.
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
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symdiff as sd  # noqa: E402
from symdiff.function import function  # noqa: E402

DECAY = 1e-4
SIZES = (784, 256, 256, 10)


# -- the models in symdiff ---------------------------------------------------------------

def mlp_graph() -> tuple[list, object, list]:
    """Inputs, loss and gradient nodes of the 784-256-256-10 ReLU MLP."""
    X = sd.var("X", ("n", SIZES[0]))
    Y = sd.var("Y", ("n", SIZES[-1]))
    params = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
        params += [sd.var(f"W{i}", (a, b)), sd.var(f"b{i}", (b,))]
    h = X
    for i in range(0, len(params) - 2, 2):
        h = sd.relu(h @ params[i] + params[i + 1]).named(f"h{i // 2 + 1}")
    logits = (h @ params[-2] + params[-1]).named("logits")
    xent = -sd.mean(sd.sum(Y * sd.log_softmax(logits, axis=1), axis=1))
    squares = [sd.sum(W * W) for W in params[0::2]]
    decay = squares[0] + squares[1] + squares[2]
    loss = (xent + 0.5 * DECAY * decay).named("loss")
    return [X, Y, *params], loss, sd.grad(loss, params)


DEEP = 8  # layers of the deep narrow net
WIDTH = 64


def deep_graph() -> tuple[list, object, list]:
    """Inputs, loss and gradient nodes of the deep 64x64 tanh net with a squared loss."""
    X, Y = sd.var("X", ("n", WIDTH)), sd.var("Y", ("n", WIDTH))
    params = []
    h = X
    for i in range(1, DEEP + 1):
        W, b = sd.var(f"W{i}", (WIDTH, WIDTH)), sd.var(f"b{i}", (WIDTH,))
        params += [W, b]
        h = sd.tanh(h @ W + b).named(f"h{i}")
    loss = sd.mean((h - Y) ** 2).named("loss")
    return [X, Y, *params], loss, sd.grad(loss, params)


def tanh_graph() -> tuple[list, object, list]:
    """Inputs, loss and gradient nodes of the 2-8-1 tanh network with a squared loss."""
    X, y = sd.var("X", ("n", 2)), sd.var("y", ("n",))
    W1, b1, w2, b2 = sd.var("W1", (2, 8)), sd.var("b1", (8,)), sd.var("w2", (8,)), \
        sd.var("b2", ())
    h = sd.tanh(X @ W1 + b1).named("h")
    yhat = (h @ w2 + b2).named("yhat")
    loss = sd.mean((yhat - y) ** 2).named("loss")
    params = [W1, b1, w2, b2]
    return [X, y, *params], loss, sd.grad(loss, params)


# -- hand-written NumPy, as a careful engineer writes it ----------------------------------

def numpy_mlp(X, Y, W1, b1, W2, b2, W3, b3):
    """Loss and gradients of the MLP, with in-place updates where they are natural."""
    n = X.shape[0]
    h1 = X @ W1
    h1 += b1
    np.maximum(h1, 0, out=h1)
    h2 = h1 @ W2
    h2 += b2
    np.maximum(h2, 0, out=h2)
    z = h2 @ W3
    z += b3
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    s = p.sum(axis=1, keepdims=True)
    z -= np.log(s)                          # log-probabilities
    decay = np.vdot(W1, W1) + np.vdot(W2, W2) + np.vdot(W3, W3)
    loss = -np.vdot(Y, z) / n + 0.5 * DECAY * decay
    p /= s
    p -= Y                                  # rows of Y sum to 1 (one-hot)
    p *= 1.0 / n                            # d loss / d logits
    dW3 = h2.T @ p
    dW3 += DECAY * W3
    db3 = p.sum(axis=0)
    dh2 = p @ W3.T
    dh2 *= h2 > 0
    dW2 = h1.T @ dh2
    dW2 += DECAY * W2
    db2 = dh2.sum(axis=0)
    dh1 = dh2 @ W2.T
    dh1 *= h1 > 0
    dW1 = X.T @ dh1
    dW1 += DECAY * W1
    db1 = dh1.sum(axis=0)
    return loss, (dW1, db1, dW2, db2, dW3, db3)


def numpy_deep(X, Y, *params):
    """Loss and gradients of the deep tanh net."""
    hs = [X]
    for W, b in zip(params[0::2], params[1::2], strict=True):
        h = hs[-1] @ W
        h += b
        np.tanh(h, out=h)
        hs.append(h)
    r = hs[-1] - Y
    loss = np.vdot(r, r) / r.size
    d = r
    d *= 2.0 / r.size
    grads = []
    for k in range(len(params) // 2, 0, -1):
        h = hs[k]
        h *= h
        np.subtract(1.0, h, out=h)
        d *= h                              # d loss / d pre-activation of layer k
        grads += [d.sum(axis=0), hs[k - 1].T @ d]
        if k > 1:
            d = d @ params[2 * k - 2].T
    return loss, tuple(grads[::-1])


def numpy_tanh(X, y, W1, b1, w2, b2):
    """Loss and gradients of the 2-8-1 tanh network."""
    h = np.tanh(X @ W1 + b1)
    r = h @ w2 + b2 - y
    loss = np.vdot(r, r) / r.shape[0]
    dr = r * (2.0 / r.shape[0])
    dw2 = h.T @ dr
    db2 = dr.sum()
    dz = np.outer(dr, w2)
    dz *= 1.0 - h * h
    return loss, (X.T @ dz, dz.sum(axis=0), dw2, db2)


# -- optional peers -------------------------------------------------------------------------

def jax_versions(kind: str) -> tuple[Callable, Callable] | None:
    """JIT-compiled value_and_grad and forward in JAX, or None when JAX is absent."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    if kind == "mlp":
        def loss_fn(params, X, Y):
            W1, b1, W2, b2, W3, b3 = params
            h = jax.nn.relu(X @ W1 + b1)
            h = jax.nn.relu(h @ W2 + b2)
            logp = jax.nn.log_softmax(h @ W3 + b3, axis=1)
            decay = sum(jnp.sum(W * W) for W in (W1, W3, W2))
            return -jnp.mean(jnp.sum(Y * logp, axis=1)) + 0.5 * DECAY * decay
    elif kind == "deep":
        def loss_fn(params, X, Y):
            h = X
            for W, b in zip(params[0::2], params[1::2], strict=True):
                h = jnp.tanh(h @ W + b)
            return jnp.mean((h - Y) ** 2)
    else:
        def loss_fn(params, X, y):
            W1, b1, w2, b2 = params
            return jnp.mean((jnp.tanh(X @ W1 + b1) @ w2 + b2 - y) ** 2)
    vg = jax.jit(jax.value_and_grad(loss_fn))
    fwd = jax.jit(loss_fn)

    def run_vg(X, Y, *params):
        value, grads = vg(params, X, Y)
        return jax.block_until_ready(value), jax.block_until_ready(grads)

    def run_fwd(X, Y, *params):
        return jax.block_until_ready(fwd(params, X, Y))

    return run_vg, run_fwd


def autograd_version(kind: str) -> Callable | None:
    """autograd's value_and_grad, or None when autograd is absent."""
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None

    if kind == "mlp":
        def loss_fn(params, X, Y):
            W1, b1, W2, b2, W3, b3 = params
            h = anp.maximum(X @ W1 + b1, 0)
            h = anp.maximum(h @ W2 + b2, 0)
            z = h @ W3 + b3
            z = z - anp.max(z, axis=1, keepdims=True)
            logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
            decay = anp.sum(W1 * W1) + anp.sum(W2 * W2) + anp.sum(W3 * W3)
            return -anp.mean(anp.sum(Y * logp, axis=1)) + 0.5 * DECAY * decay
    elif kind == "deep":
        def loss_fn(params, X, Y):
            h = X
            for W, b in zip(params[0::2], params[1::2], strict=True):
                h = anp.tanh(h @ W + b)
            return anp.mean((h - Y) ** 2)
    else:
        def loss_fn(params, X, y):
            W1, b1, w2, b2 = params
            return anp.mean((anp.tanh(X @ W1 + b1) @ w2 + b2 - y) ** 2)
    vg = autograd.value_and_grad(loss_fn)
    return lambda X, Y, *params: vg(list(params), X, Y)


# -- timing ---------------------------------------------------------------------------------
#
# Each cell of the table is timed in a fresh worker process, so that one implementation's
# allocations (and the allocator state they leave, which decides page faults) never bias
# another's; the parent checks that all implementations agree before timing anything.

IMPLEMENTATIONS = ("numpy", "symdiff", "fwd", "symdiff numba", "jax v&g", "jax fwd",
                   "autograd v&g")


def median_time(fn: Callable, args: tuple, budget: float) -> float:
    """Median seconds per call over at least 30 calls and about `budget` seconds, after a
    warm-up that lets caches and the allocator settle."""
    for _ in range(5):
        fn(*args)
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < budget or len(times) < 30:
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def check_same(got, want, what: str) -> None:
    flat_got = [got[0], *got[1]]
    flat_want = [want[0], *want[1]]
    for a, b in zip(flat_got, flat_want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=what)


def mlp_data(n: int, rng: np.random.Generator) -> tuple:
    X = rng.standard_normal((n, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], n)]
    params = []
    for a, b in zip(SIZES[:-1], SIZES[1:], strict=True):
        params += [rng.standard_normal((a, b)) * np.sqrt(2.0 / a), rng.standard_normal(b) * 0.1]
    return (X, Y, *params)


def deep_data(n: int, rng: np.random.Generator) -> tuple:
    params = []
    for _ in range(DEEP):
        params += [rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH),
                   rng.standard_normal(WIDTH) * 0.1]
    return (rng.standard_normal((n, WIDTH)), rng.standard_normal((n, WIDTH)) * 0.5, *params)


def tanh_data(n: int, rng: np.random.Generator) -> tuple:
    X = rng.standard_normal((n, 2))
    y = rng.standard_normal(n)
    return (X, y, rng.standard_normal((2, 8)), rng.standard_normal(8), rng.standard_normal(8),
            np.float64(0.1))


def data(kind: str, n: int) -> tuple:
    rng = np.random.default_rng(n)
    return {"mlp": mlp_data, "deep": deep_data, "tanh": tanh_data}[kind](n, rng)


GRAPHS = {"mlp": mlp_graph, "deep": deep_graph, "tanh": tanh_graph}
HAND = {"mlp": numpy_mlp, "deep": numpy_deep, "tanh": numpy_tanh}
LABELS = {"mlp": "mlp 784-256-256-10", "deep": "deep 8x 64x64 tanh", "tanh": "tanh 2-8-1"}


def implementation(kind: str, name: str) -> Callable | None:
    """The callable timed under `name`, or None when its library is absent."""
    if name == "numpy":
        return HAND[kind]
    if name in ("symdiff", "fwd"):
        inputs, loss, grads = GRAPHS[kind]()
        return function(inputs, [loss, tuple(grads)] if name == "symdiff" else loss)
    if name == "symdiff numba":
        try:
            import numba  # noqa: F401
        except ImportError:
            return None
        inputs, loss, grads = GRAPHS[kind]()
        return function(inputs, [loss, tuple(grads)], target="numba")
    if name.startswith("jax"):
        versions = jax_versions(kind)
        return None if versions is None else versions[0 if "v&g" in name else 1]
    return autograd_version(kind)


def worker(kind: str, n: int, name: str, budget: float) -> None:
    """Print the median seconds per call of one implementation (run in its own process)."""
    fn = implementation(kind, name)
    print(median_time(fn, data(kind, n), budget))


def time_in_subprocess(kind: str, n: int, name: str, budget: float) -> float:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, str(n), name,
                          str(budget)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def check_agreement(kind: str, n: int, peers: list[str]) -> None:
    """Every implementation gives the hand-written NumPy numbers (before any timing)."""
    args = data(kind, n)
    want = implementation(kind, "numpy")(*args)
    check_same(implementation(kind, "symdiff")(*args), want, f"{kind} batch {n}: symdiff")
    np.testing.assert_allclose(implementation(kind, "fwd")(*args), want[0], rtol=1e-9)
    for name in peers:
        if name == "symdiff numba":
            check_same(implementation(kind, name)(*args), want, f"{kind} batch {n}: {name}")
        elif "v&g" in name:
            got = implementation(kind, name)(*args)
            check_same((got[0], tuple(got[1])), want, f"{kind} batch {n}: {name}")


def run(kind: str, batches: tuple[int, ...], budget: float, peers: list[str]) -> list[str]:
    rows = []
    for n in batches:
        check_agreement(kind, n, peers)
        t = {name: time_in_subprocess(kind, n, name, budget)
             for name in ["numpy", "symdiff", "fwd", *peers]}
        label = LABELS[kind]
        cells = [label.ljust(20), f"{n:>5}", f"{t['numpy'] * 1e6:10.1f}",
                 f"{t['symdiff'] * 1e6:11.1f}", f"{t['symdiff'] / t['numpy']:5.2f}",
                 f"{t['fwd'] * 1e6:8.1f}", f"{t['symdiff'] / t['fwd']:7.2f}"]
        cells += [f"{t[k] * 1e6:{len(k) + 5}.1f}" for k in peers]
        rows.append(" | ".join(cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--source", action="store_true", help="print the generated code")
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "BATCH", "IMPL", "BUDGET"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--compile-worker", metavar="KIND", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.worker:
        kind, n, name, budget = ns.worker
        worker(kind, int(n), name, float(budget))
        return
    if ns.compile_worker:
        compile_worker(ns.compile_worker)
        return
    if ns.source:
        for kind in ("mlp", "deep", "tanh"):
            print(implementation(kind, "symdiff").source)
            if implementation(kind, "symdiff numba") is not None:
                print(implementation(kind, "symdiff numba").source)
        return
    budget = 0.5 if ns.quick else 4.0
    peers = [name for name in IMPLEMENTATIONS[3:] if implementation("tanh", name) is not None]
    header = ["network".ljust(20), "batch", "numpy (us)", "symdiff (us)", "ratio",
              "fwd (us)", "v&g/fwd"] + [f"{p} (us)" for p in peers]
    print(f"NumPy {np.__version__}; BLAS/OpenMP threads pinned to 1; median time per call, "
          "each cell in its own process")
    print("numpy: hand-written backprop; symdiff: generated value-and-grad "
          f"(symdiff.function, rewrites: {_rewrites_available()}); ratio = symdiff / numpy; "
          "fwd: generated loss alone")
    print(" | ".join(header))
    for line in run("mlp", (1, 32, 256), budget, peers) + run("deep", (32,), budget, peers) \
            + run("tanh", (4,), budget, peers):
        print(line)
    if not peers:
        print("(numba, jax and autograd are not installed: no extra columns)")
    if "symdiff numba" in peers:
        print_compile_times()


def compile_worker(kind: str) -> None:
    """Print the seconds numba takes to start in a process (import, then its first compile
    loads its registries: once per process, whatever symdiff does), then to build the
    numba-target function and make its first call (which compiles its kernels, or loads
    them from the disk cache)."""
    start = time.perf_counter()
    import numba

    numba.njit(lambda v: v + 1)(1)  # numba's one-time start-up: its registries, LLVM
    imported = time.perf_counter()
    inputs, loss, grads = GRAPHS[kind]()
    f = function(inputs, [loss, tuple(grads)], target="numba")
    f(*data(kind, 4))
    print(imported - start, time.perf_counter() - imported)


def print_compile_times() -> None:
    """Cold (empty cache directory) and warm (the same directory, a new process) compile
    times of the numba target, numba's own import time shown apart."""
    import tempfile

    print("numba target compile time (new process each; sd.function + first call, numba's "
          "start-up in the process apart):")
    for kind in ("mlp", "deep", "tanh"):
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "SYMDIFF_CACHE_DIR": folder}
            times = []
            for _ in range(2):
                out = subprocess.run([sys.executable, __file__, "--compile-worker", kind],
                                     capture_output=True, text=True, check=True, env=env)
                times.append([float(v) for v in out.stdout.split()[-2:]])
        (imp_cold, cold), (imp_warm, warm) = times
        print(f"  {LABELS[kind]:<20} cold {cold:6.2f} s   warm {warm:6.3f} s   "
              f"(numba start-up {imp_cold:.2f} s / {imp_warm:.2f} s)")


def _rewrites_available() -> str:
    try:
        import symdiff.rewrite  # noqa: F401
    except ModuleNotFoundError:
        return "not available, unoptimized graphs"
    return "on"


if __name__ == "__main__":
    main()
