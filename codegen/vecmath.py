"""Transcendental functions of one number for the numba target's fused kernels, written in
plain arithmetic so that LLVM inlines them and vectorizes the kernel's loop.

numba turns `np.exp(t)` inside a loop into a call of the C library's scalar `exp` (about
20 ns, and a call stops LLVM's loop vectorizer; llvmlite here has no SVML). The functions
below have no calls and no branches (conditional expressions only, which LLVM turns into
selects), take the 2^k of range reductions from the bits of a double (`np.int64(...).view`)
and never convert between int64 and float64 (AVX2 has no packed instruction for that).
The kernel printer (codegen/kernels.py) writes `vm_tanh(t)` where a per-element form calls
`np.tanh`, and copies the sources of the functions it uses (with those they call) into the
generated module, which therefore still needs only NumPy and numba.

Methods (fdlibm's, made branch-free): exp and expm1 reduce x = k ln2 + r (Cody-Waite split
of ln2, |r| <= ln2/2) and evaluate expm1(r) - r as r^2 P(r) (a Chebyshev fit of degree 10);
2^k is applied as two factors so that subnormal results round once. expm1 adds the parts
with an exact two-sum of 2^k - 1 and 2^k r. log and log1p reduce to m in [sqrt(2)/2,
sqrt(2)) and use fdlibm's polynomial in s = f / (2 + f); log1p carries the rounding error
of 1 + x as a correction. tanh is Cody and Waite's rational x + x R(x^2) for |x| < ln(3)/2
(full relative accuracy near 0) and 1 - 2 / (exp(2|x|) + 1) above, with a leaner exp (the
division damps its error). logaddexp (softplus) is max + log1p(exp(-|x - y|)), as NumPy
computes it. The kernels compile these functions with contraction allowed (fastmath
"contract": a multiply and an add may become one FMA, rounded once; nothing reassociates),
which shortens their dependency chains; the bounds below hold with and without FMA.

Special values follow NumPy: nan propagates, exp overflows to inf and underflows through
the subnormals to 0, log(0) = -inf, log of a negative number is nan, -0.0 stays -0.0 where
the function is odd at 0 (expm1, log1p, tanh). Results are at most 1 ulp from the correctly
rounded value on the points tests/test_vecmath.py checks against mpmath (NumPy's own float64
functions are within about 1 ulp too), so the numba target may differ from the NumPy target
by 1 or 2 ulps in these functions. float32 operands are computed in float64 and rounded by
the kernel, so float32 results are correctly rounded but for rare double roundings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def vm_exp(x0):
    """e**x, within 1 ulp (fdlibm's reduction, a degree 12 polynomial for expm1(r))."""
    x = np.float64(x0)
    x = 709.8 if x > 709.8 else x  # beyond: inf (nan passes, comparisons are false)
    x = -746.0 if x < -746.0 else x  # beyond: 0
    kd, ki, r, c = vm_exp_reduce(x)
    low = vm_expm1_tail(r) + (c + c * r)  # expm1(r + c) - r
    s = 1.0 + r  # 1 + r exactly, as s + e (|r| < 1: Fast2Sum)
    e = (1.0 - s) + r
    y = s + (e + low)
    return vm_scale(y, kd, ki)


def vm_expm1(x0):
    """e**x - 1, within 1 ulp, exact for |x| < 2**-54 (so expm1(-0.0) = -0.0)."""
    x = np.float64(x0)
    xc = 709.8 if x > 709.8 else x
    xc = -40.0 if xc < -40.0 else xc  # expm1(-40) rounds to -1 already
    kd, ki, r, c = vm_exp_reduce(xc)
    low = vm_expm1_tail(r) + (c + c * r)  # expm1(r + c) - r
    # x > 700: expm1(x) == exp(x) to the last bit and 2**k may overflow: use 2**(k - 2)
    big = xc > 700.0
    kb = ki - 2 if big else ki
    s = np.int64((kb << 52) + 4607182418800017408).view(np.float64)  # 2**k or 2**(k - 2)
    a = s - 1.0  # exact for -58 <= k <= 53
    b = s * r  # exact: a power of two times r
    total = a + b  # two-sum: total + err == a + b exactly
    bb = total - a
    err = (a - (total - bb)) + (b - bb)
    y = total + (err + s * low)
    y = y * 4.0 if big else y
    return x if abs(x) < 5.551115123125783e-17 else y


def vm_exp_reduce(x):
    """x = k ln2 + r + c (|r| <= ln2/2) for finite |x| < 750: k as a double and as bits
    (the low bits of `ki` hold k), r, and c, the rounding error of r."""
    z = x * 1.4426950408889634 + 6755399441055744.0  # 1.5 * 2**52: rounds x/ln2 to an int
    ki = np.float64(z).view(np.int64)
    kd = z - 6755399441055744.0
    hi = x - kd * 6.93147180369123816490e-01  # ln2 high part: k * it is exact
    lo = kd * 1.90821492927058770002e-10  # ln2 low part
    r = hi - lo
    return kd, ki, r, (hi - r) - lo


def vm_expm1_tail(r):
    """expm1(r) - r for |r| <= ln2/2 to double precision: r**2 times a degree 10 polynomial,
    by Estrin's scheme (a short dependency chain, so that a kernel calling several of these
    in a row, tanh(tanh(x)), is not bound by latency)."""
    r2 = r * r
    r4 = r2 * r2
    a0 = 0.5 + 0.1666666666666667 * r
    a1 = 0.04166666666666667 + 0.008333333333325551 * r
    a2 = 0.0013888888888883332 + 0.00019841269876840357 * r
    a3 = 2.480158732699005e-05 + 2.755725286336732e-06 * r
    a4 = 2.755727183153613e-07 + 2.5106262550879078e-08 * r
    b0 = a0 + a1 * r2
    b1 = a2 + a3 * r2
    b2 = a4 + 2.0915433598076003e-09 * r2
    return r2 * ((b0 + b1 * r4) + b2 * (r4 * r4))


def vm_scale(y, kd, ki):
    """y * 2**k as (y * 2**k1) * 2**(k - k1), k1 = k / 2 rounded: no factor overflows for
    |k| < 2044, and a subnormal result is rounded once."""
    z1 = kd * 0.5 + 6755399441055744.0
    k1 = np.float64(z1).view(np.int64)
    s1 = np.int64((k1 << 52) + 4607182418800017408).view(np.float64)  # 2**k1
    s2 = np.int64(((ki - k1) << 52) + 4607182418800017408).view(np.float64)  # 2**(k - k1)
    return (y * s1) * s2


def vm_log(x0):
    """Natural logarithm, within 1 ulp; log(0) = -inf, log(x < 0) = nan."""
    x = np.float64(x0)
    tiny = x < 2.2250738585072014e-308  # subnormal (or not positive): scale by 2**54
    u = x * 18014398509481984.0 if tiny else x
    kadj = -54.0 if tiny else 0.0
    y = vm_log_core(u, kadj, 0.0)
    y = x if not x < np.inf else y  # inf and nan
    y = np.nan if x < 0.0 else y
    return -np.inf if x == 0.0 else y


def vm_log1p(x0):
    """log(1 + x), within 1 ulp, exact for |x| < 2**-54 (so log1p(-0.0) = -0.0)."""
    x = np.float64(x0)
    u = 1.0 + x  # two-sum: u + c == 1 + x exactly
    bb = u - 1.0
    c = (1.0 - (u - bb)) + (x - bb)
    y = vm_log_core(u, 0.0, c / u)  # log(u + c) = log(u) + c / u to double precision
    y = x if not x < np.inf else y
    y = np.nan if x < -1.0 else y
    y = -np.inf if x == -1.0 else y
    return x if abs(x) < 5.551115123125783e-17 else y


def vm_log_core(u, kadj, cc):
    """log(u * 2**kadj) + cc for a positive normal u and a small correction cc: u = 2**k m
    with m in [sqrt(2)/2, sqrt(2)), f = m - 1, and fdlibm's series in s = f / (2 + f)."""
    ix = np.float64(u).view(np.int64)
    t = ix + 2638147582215219  # 0x3ff0000000000000 - bits of sqrt(2)/2
    e = np.int64((t >> 52) | 4841369599423283200).view(np.float64)  # 2**52 + exponent
    kd = (e - 4503599627371519.0) + kadj  # exponent - 1023, exactly
    m = np.int64((t & 4503599627370495) + 4604544271217802189).view(np.float64)
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                               + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                                               + w * (1.818357216161805012e-01
                                                      + w * 1.479819860511658591e-01)))
    big_r = t2 + t1
    return kd * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + big_r)
                                                       + (kd * 1.90821492927058770002e-10
                                                          + cc))) - f)


def vm_tanh(x0):
    """Hyperbolic tangent, within 1 ulp; a rational in x**2 near 0, so tanh(-0.0) = -0.0
    and small arguments keep full relative accuracy."""
    x = np.float64(x0)
    g = x * x
    p = (-0.96437492777225469787 * g - 0.99225929672236083313e+2) * g \
        - 0.16134119023996228053e+4
    q = ((g + 0.11274474380534949335e+3) * g + 0.22337720718962312926e+4) * g \
        + 0.48402357071988688686e+4
    a = abs(x)
    near0 = a < 0.5493061443340549
    # e**(2|x|) to about 1 ulp, enough here (the error is damped by 2 e / (e + 1)**2 <= 3/8
    # in 2 / (e + 1)): no correction for the reduction's rounding, and one power of two,
    # 2**k <= 2**58, as |x| is capped at 20 (tanh(20) rounds to 1; nan passes). The
    # reduction starts from |x| (times 2 / ln 2), not from 2|x|: an add less on the chain
    ac = 20.0 if a > 20.0 else a
    z = ac * 2.8853900817779268 + 6755399441055744.0  # as in vm_exp_reduce(2 ac)
    ki = np.float64(z).view(np.int64)
    kd = z - 6755399441055744.0
    r = ((ac + ac) - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10
    e = (1.0 + (r + vm_expm1_tail(r))) \
        * np.int64((ki << 52) + 4607182418800017408).view(np.float64)
    # one division for both formulas: R = g p / q near 0, else 2 / (exp(2|x|) + 1)
    ratio = (g * p if near0 else 2.0) / (q if near0 else e + 1.0)
    # tanh(|x|), then x's sign (so tanh(-0.0) = -0.0; below 1e-9, |x| + |x| R rounds to |x|)
    return np.copysign(a + a * ratio if near0 else 1.0 - ratio, x)


def vm_logaddexp(x0, y0):
    """log(e**x + e**y) as NumPy computes it: x + log(2) when x == y (equal infinities),
    else max(x, y) + log1p(exp(-|x - y|)); nan if either is nan."""
    x = np.float64(x0)
    y = np.float64(y0)
    d = x - y
    big = x if x > y else y
    r = big + vm_log1p(vm_exp(-abs(d)))
    return x + 0.6931471805599453 if x == y else r


# The NumPy ufuncs a kernel prints as the functions above (by the name in a lowering).
UFUNCS: dict[str, Callable] = {
    "np.exp": vm_exp,
    "np.expm1": vm_expm1,
    "np.log": vm_log,
    "np.log1p": vm_log1p,
    "np.tanh": vm_tanh,
    "np.logaddexp": vm_logaddexp,
}

# Every function here (a kernel's decorator marks them `forceinline`).
VECMATH: frozenset[Callable] = frozenset(
    f for name, f in list(globals().items()) if name.startswith("vm_") and callable(f))


def with_callees(fn: Callable) -> list[Callable]:
    """`fn` and the functions of this module it calls, directly or not (the sources a
    generated module needs beside a kernel that calls `fn`)."""
    here = globals()
    found: dict[str, Callable] = {}
    stack = [fn]
    while stack:
        f = stack.pop()
        if f.__name__ in found:
            continue
        found[f.__name__] = f
        stack.extend(here[n] for n in f.__code__.co_names
                     if n.startswith("vm_") and callable(here.get(n)))
    return list(found.values())
