"""k-th derivative of tanh(tanh(tanh(x))) on 1e5 points, k = 1..6: generated code against
NumPy, one thread, timed interleaved in one run.

Columns: the NumPy baseline (SymPy's k-th derivative with common subexpressions pulled
out, lambdified to NumPy: the formula a careful person would write down), symdiff's NumPy
target (sd.derivative, Taylor mode), symdiff's numba target (fused kernels) and JAX (jit of
vmap of nested grad) when installed, as medians in ms and as ratios to the baseline; then
the numba target's compile time (first build and call; the disk cache warm, in-process),
and the numba-parallel target on every core against the numba target, in a process of its
own (the table's processes are pinned to one core).

    python3 benchmarks/kth_derivative.py [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symdiff as sd  # noqa: E402

POINTS = 100_000


def sympy_baseline(k: int):
    import sympy

    x = sympy.Symbol("x")
    expr = sympy.diff(sympy.tanh(sympy.tanh(sympy.tanh(x))), x, k)
    return sympy.lambdify(x, expr, "numpy", cse=True)


def jax_version(k: int):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    f = lambda x: jnp.tanh(jnp.tanh(jnp.tanh(x)))  # noqa: E731
    for _ in range(k):
        f = jax.grad(f)
    g = jax.jit(jax.vmap(f))
    return lambda x: jax.block_until_ready(g(x))


def parallel_worker() -> None:
    """Print, for k = 1..6, ms per call of the numba and numba-parallel targets (every core
    of the machine, numba's default thread count)."""
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    import numba

    print(numba.config.NUMBA_NUM_THREADS)
    xs = np.linspace(-3, 3, POINTS)
    for k in range(1, 7):
        fns = {t: symdiff_version(k, t) for t in ("numba", "numba-parallel")}
        assert np.array_equal(fns["numba"](xs), fns["numba-parallel"](xs))
        t = interleaved(fns, xs, 9, 10)
        print(t["numba"] * 1e3, t["numba-parallel"] * 1e3)


def print_parallel_times() -> None:
    import subprocess

    threads, *out = subprocess.run([sys.executable, __file__, "--parallel-worker"],
                                   capture_output=True, text=True, check=True).stdout.split()
    pairs = [(float(a), float(b)) for a, b in zip(out[::2], out[1::2], strict=True)]
    print(f"numba-parallel target, {threads} threads, against the "
          "numba target (a process on every core), ms: "
          + ", ".join(f"k={k} {p:.3f} ({s / p:.2f}x)"
                      for k, (s, p) in enumerate(pairs, start=1)))


def symdiff_version(k: int, target: str):
    x = sd.var("x", ("n",))
    return sd.function([x], sd.derivative(sd.tanh(sd.tanh(sd.tanh(x))), x, k), target=target)


def interleaved(fns: dict, arg, rounds: int, calls: int) -> dict[str, float]:
    """Median seconds per call of each function, rounds taken in turn."""
    for fn in fns.values():
        fn(arg)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn(arg)
            times[name].append((time.perf_counter() - start) / calls)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    quick = "--quick" in sys.argv
    try:
        import numba  # noqa: F401
        has_numba = True
    except ImportError:
        has_numba = False
    xs = np.linspace(-3, 3, POINTS)
    names = ["numpy", "symdiff", "symdiff numba", "jax"]
    print(f"k-th derivative of tanh(tanh(tanh x)) on {POINTS} points, float64, one thread; "
          "median ms per call (ratio to the NumPy baseline)")
    print(f"{'k':>2} " + " ".join(f"{n:>22}" for n in names))
    for k in range(1, 7):
        fns = {"numpy": sympy_baseline(k), "symdiff": symdiff_version(k, "numpy")}
        if has_numba:
            fns["symdiff numba"] = symdiff_version(k, "numba")
        jx = jax_version(k)
        if jx is not None:
            fns["jax"] = jx
        want = fns["numpy"](xs)
        for name, fn in fns.items():
            np.testing.assert_allclose(fn(xs), want, rtol=1e-8, atol=1e-10, err_msg=name)
        t = interleaved(fns, xs, 3 if quick else 9, 3 if quick else 10)
        cells = [f"{t[n] * 1e3:9.3f} ({t[n] / t['numpy']:5.2f}x)" if n in t else "-"
                 for n in names]
        print(f"{k:>2} " + " ".join(f"{c:>22}" for c in cells))
    if has_numba:
        print_compile_times()
        print_parallel_times()


def compile_worker() -> None:
    """Print numba's start-up time in a process (import, first compile), then sd.function +
    first call of the numba target for k = 1..6, in seconds."""
    start = time.perf_counter()
    import numba

    numba.njit(lambda v: v + 1)(1)  # numba's one-time start-up: its registries, LLVM
    times = [time.perf_counter() - start]
    for k in range(1, 7):
        start = time.perf_counter()
        symdiff_version(k, "numba")(np.linspace(-1, 1, 10))
        times.append(time.perf_counter() - start)
    print(" ".join(str(t) for t in times))


def print_compile_times() -> None:
    """Cold (empty cache directory) and warm (the same directory, a new process)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "SYMDIFF_CACHE_DIR": folder}
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, __file__, "--compile-worker"], env=env,
                                 capture_output=True, text=True, check=True)
            imp, *per_k = (float(v) for v in out.stdout.split())
            print(f"numba target compile, {label} (new process; sd.function + first call, "
                  f"k = 1..6): " + ", ".join(f"{t:.2f} s" for t in per_k)
                  + f" (numba's start-up in the process {imp:.2f} s apart)")


if __name__ == "__main__":
    if "--compile-worker" in sys.argv:
        compile_worker()
    elif "--parallel-worker" in sys.argv:
        parallel_worker()
    else:
        main()
