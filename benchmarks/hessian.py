"""Full Hessians and Hessian-vector products: symdiff's generated code against NumPy.

Prints, side by side in one run, (1) the full Hessian of the L2-regularized logistic loss
f(w) = mean(log(1 + exp(-y * (X @ w)))) + 0.5 * lam * ||w||^2, X of shape (1000, d), by
symdiff and by the closed form X^T diag(p(1-p)) X / n + lam I; (2) the HVP of a
784-256-256-10 MLP loss as a ratio to its value-and-grad and to a hand-written NumPy
R-operator (`numpy_mlp_hvp`). Medians of repeated calls, one thread. With numba installed,
the same generated functions through the numba target (fused kernels) are timed beside
them, with their compile time (sd.function and the first call: kernels compiled, or loaded
from the disk cache on later runs).
Usage: python3 benchmarks/hessian.py [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):  # one core for every implementation: XLA's own thread
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pool ignores the env vars

import statistics
import sys
import time

import numpy as np

import symdiff as sd


def median_time(fn, *args, repeat: int = 7, min_time: float = 0.05) -> float:
    """Median seconds per call over `repeat` rounds of enough calls to last min_time."""
    fn(*args)
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        if time.perf_counter() - start >= min_time or calls >= 1 << 16:
            break
        calls *= 2
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def compile_fn(inputs, outputs):
    """sd.function when codegen is there, else the reference interpreter."""
    if hasattr(sd, "function"):
        return sd.function(inputs, outputs), "generated"
    return (lambda *vals: sd.evaluate(outputs, dict(zip(inputs, vals)))), "evaluate"


def numba_fn(inputs, outputs, *args):
    """The numba target's function and its compile time (None, 0 without numba)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return None, 0.0
    start = time.perf_counter()
    fn = sd.function(inputs, outputs, target="numba")
    fn(*args)
    return fn, time.perf_counter() - start


def logistic_hessian(d: int, n: int = 1000, lam: float = 0.1) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    Xv = rng.standard_normal((n, d)) / np.sqrt(d)
    yv = np.sign(rng.standard_normal(n))
    wv = rng.standard_normal(d) * 0.1
    X, y, w = sd.var("X", (n, d)), sd.var("y", (n,)), sd.var("w", (d,))
    f = sd.mean(sd.log(1 + sd.exp(-y * (X @ w)))) + 0.5 * lam * sd.sum(w * w)
    hess, _ = compile_fn([X, y, w], sd.hessian(f, w))

    def closed_form(Xv, yv, wv):
        p = 1 / (1 + np.exp(-yv * (Xv @ wv)))
        return (Xv.T * (p * (1 - p))) @ Xv / n + lam * np.eye(d)

    err = np.max(np.abs(hess(Xv, yv, wv) - closed_form(Xv, yv, wv)))
    assert err < 1e-10, err
    fused, compile_s = numba_fn([X, y, w], sd.hessian(f, w), Xv, yv, wv)
    t_nb = None
    if fused is not None:
        np.testing.assert_allclose(fused(Xv, yv, wv), hess(Xv, yv, wv), rtol=1e-10, atol=1e-13)
        t_nb = (median_time(fused, Xv, yv, wv, repeat=5), compile_s)
    return median_time(hess, Xv, yv, wv, repeat=5), median_time(closed_form, Xv, yv, wv,
                                                                repeat=5), err, t_nb


def numpy_mlp_hvp(X, Y, W1, W2, W3, b1, b2, b3, V1, V2, V3, c1, c2, c3, lam: float = 1e-4):
    """The MLP loss's Hessian-vector product written by hand in NumPy: Pearlmutter's
    R-operator (the tangent of every forward and backward quantity along V), with in-place
    updates where they are natural; the reference the generated HVP is compared with."""
    n = X.shape[0]
    z1 = X @ W1
    z1 += b1
    m1 = z1 > 0
    a1 = np.maximum(z1, 0, out=z1)
    z2 = a1 @ W2
    z2 += b2
    m2 = z2 > 0
    a2 = np.maximum(z2, 0, out=z2)
    z3 = a2 @ W3
    z3 += b3
    z3 -= z3.max(axis=1, keepdims=True)
    p = np.exp(z3, out=z3)
    p /= p.sum(axis=1, keepdims=True)
    rows = Y.sum(axis=1, keepdims=True) * (1.0 / n)
    g3 = p * rows
    g3 -= Y * (1.0 / n)                              # d loss / d z3
    g2 = g3 @ W3.T
    g2 *= m2
    # the R-operator: tangents of the forward pass ...
    r1 = X @ V1
    r1 += c1
    r1 *= m1
    r2 = r1 @ W2
    r2 += a1 @ V2
    r2 += c2
    r2 *= m2
    r3 = r2 @ W3
    r3 += a2 @ V3
    r3 += c3
    r3 -= (p * r3).sum(axis=1, keepdims=True)
    r3 *= p                                          # tangent of the softmax
    r3 *= rows                                       # tangent of g3
    # ... and of the backward pass
    h3 = r2.T @ g3
    h3 += a2.T @ r3
    h3 += 2 * lam * V3
    s2 = r3 @ W3.T
    s2 += g3 @ V3.T
    s2 *= m2                                         # tangent of g2
    h2 = r1.T @ g2
    h2 += a1.T @ s2
    h2 += 2 * lam * V2
    s1 = s2 @ W2.T
    s1 += g2 @ V2.T
    s1 *= m1                                         # tangent of g1
    h1 = X.T @ s1
    h1 += 2 * lam * V1
    return [h1, h2, h3, s1.sum(axis=0), s2.sum(axis=0), r3.sum(axis=0)]


def mlp_hvp_ratio(batch: int = 32, lam: float = 1e-4) -> tuple:
    rng = np.random.default_rng(1)
    sizes = [784, 256, 256, 10]
    X, Y = sd.var("X", (batch, 784)), sd.var("Y", (batch, 10))
    Ws = [sd.var(f"W{i}", (a, b)) for i, (a, b) in enumerate(zip(sizes, sizes[1:]), 1)]
    bs = [sd.var(f"b{i}", (b,)) for i, b in enumerate(sizes[1:], 1)]
    h = X
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ W + b
        if i < len(Ws) - 1:
            h = sd.relu(h)
    loss = sd.mean(-sd.sum(Y * sd.log_softmax(h), axis=1)) + lam * sum(sd.sum(W * W) for W in Ws)
    params = Ws + bs
    Vs = [sd.var(f"V_{p.name}", p.shape) for p in params]
    grads = sd.grad(loss, params)
    value_and_grad, _ = compile_fn([X, Y] + params, [loss] + grads)
    hvp, _ = compile_fn([X, Y] + params + Vs, sd.hvp(loss, params, Vs))
    vals = [rng.standard_normal((batch, 784)), np.eye(10)[rng.integers(0, 10, batch)]]
    pvals = [rng.standard_normal(p.shape) * 0.05 for p in params]
    vvals = [rng.standard_normal(p.shape) for p in params]
    for got, want in zip(hvp(*vals, *pvals, *vvals), numpy_mlp_hvp(*vals, *pvals, *vvals, lam),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    t_vg = median_time(value_and_grad, *vals, *pvals)
    t_hvp = median_time(hvp, *vals, *pvals, *vvals)
    t_hand = median_time(numpy_mlp_hvp, *vals, *pvals, *vvals)
    fused_vg, c_vg = numba_fn([X, Y] + params, [loss] + grads, *vals, *pvals)
    fused_hvp, c_hvp = numba_fn([X, Y] + params + Vs, sd.hvp(loss, params, Vs), *vals, *pvals,
                                *vvals)
    numba_times = None
    if fused_vg is not None:
        for got, want in zip(fused_hvp(*vals, *pvals, *vvals), hvp(*vals, *pvals, *vvals),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        numba_times = (median_time(fused_vg, *vals, *pvals),
                       median_time(fused_hvp, *vals, *pvals, *vvals), c_vg + c_hvp)
    return t_vg, t_hvp, t_hand, numba_times


def main() -> None:
    quick = "--quick" in sys.argv
    _, how = compile_fn([], [])
    print(f"symdiff through: {how}\n")
    print("Full Hessian of the logistic loss, X of shape (1000, d)")
    print(f"{'d':>6} {'symdiff ms':>11} {'closed form ms':>15} {'ratio':>7} {'max |diff|':>11}"
          f" {'symdiff numba ms':>17} {'ratio':>6} {'compile s':>10}")
    for d in ((100, 300) if quick else (100, 300, 1000)):
        t_sd, t_cf, err, t_nb = logistic_hessian(d)
        extra = "" if t_nb is None else \
            f" {t_nb[0] * 1e3:>17.2f} {t_nb[0] / t_cf:>6.2f} {t_nb[1]:>10.2f}"
        print(f"{d:>6} {t_sd * 1e3:>11.2f} {t_cf * 1e3:>15.2f} {t_sd / t_cf:>7.2f} {err:>11.1e}"
              + extra)
    print("\nMLP 784-256-256-10 (ReLU, softmax cross-entropy, weight decay), batch 32")
    t_vg, t_hvp, t_hand, nb = mlp_hvp_ratio()
    print(f"value-and-grad {t_vg * 1e3:.2f} ms, hvp {t_hvp * 1e3:.2f} ms, "
          f"hvp / value-and-grad = {t_hvp / t_vg:.2f} (aim: at most 3)")
    print(f"hand-written NumPy R-operator hvp {t_hand * 1e3:.2f} ms "
          f"(/ value-and-grad = {t_hand / t_vg:.2f}); "
          f"symdiff hvp / hand-written = {t_hvp / t_hand:.2f} (aim: at most 1.1)")
    if nb is not None:
        print(f"symdiff numba: value-and-grad {nb[0] * 1e3:.2f} ms, hvp {nb[1] * 1e3:.2f} ms, "
              f"hvp / value-and-grad = {nb[1] / nb[0]:.2f}; compile {nb[2]:.2f} s for both")


if __name__ == "__main__":
    main()
