"""codegen/vecmath.py: the kernels' exp, expm1, log, log1p, tanh and logaddexp are within
1 ulp of the correctly rounded result (mpmath at 160 bits) over the whole float range and
densely where they are hard, give NumPy's special values, vectorize, and make the numba
target agree with the NumPy target to 2 ulps.

Each function is compiled once per session, in one module whose loops evaluate a whole
array per call (as a kernel does), through the loader generated modules use."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd
from codegen import vecmath
from codegen.kernels import helper_source
from codegen.loader import load_module

numba = pytest.importorskip("numba", reason="the vecmath functions are compiled by numba")
mpmath = pytest.importorskip("mpmath", reason="the accuracy oracle is mpmath (with sympy)")

UNARY = ["np.exp", "np.expm1", "np.log", "np.log1p", "np.tanh"]
ORACLE = {"np.exp": "exp", "np.expm1": "expm1", "np.log": "log", "np.log1p": "log1p",
          "np.tanh": "tanh"}


def _loop(name: str, arity: int, dtype: str) -> str:
    args = ", ".join(f"a{k}[i]" for k in range(arity))
    value = f"{name}({args})"
    if dtype == "float32":
        value = f"np.float32({value})"  # the kernels round a float32 result so
    params = ", ".join(f"a{k}" for k in range(arity))
    return (f"@numba.njit(cache=True, fastmath=False, error_model=\"numpy\")\n"
            f"def loop_{name}_{dtype}({params}, out):\n"
            f"    for i in range(a0.shape[0]):\n"
            f"        out[i] = {value}\n")


@pytest.fixture(scope="module", params=["fma", "no fma"])
def loops(request, tmp_path_factory):
    """{(ufunc name, dtype): function(*operands) -> result array}, compiled once, with the
    functions compiled as kernels compile them (their multiply-adds may be fused), and as
    on a CPU without FMA (no contraction)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "vecmath-gen"))
    helpers: dict[str, object] = {}
    for fn in vecmath.UFUNCS.values():
        for h in vecmath.with_callees(fn):
            helpers[h.__name__] = h
    parts = ["import numba", "import numpy as np"]
    sources = [helper_source(h) for _, h in sorted(helpers.items())]
    if request.param == "no fma":
        sources = [s.replace('fastmath={"contract"}', "fastmath=False") for s in sources]
        assert all("contract" not in s for s in sources)
    parts += sources
    for ufunc, fn in vecmath.UFUNCS.items():
        arity = 2 if ufunc == "np.logaddexp" else 1
        parts += [_loop(fn.__name__, arity, dtype) for dtype in ("float64", "float32")]
    module = load_module("\n\n".join(parts), "vecmath_test", compiled=True)
    mp.undo()

    def make(ufunc: str, dtype: str):
        loop = getattr(module, f"loop_{vecmath.UFUNCS[ufunc].__name__}_{dtype}")

        def run(*operands: np.ndarray) -> np.ndarray:
            operands = [np.ascontiguousarray(a, dtype) for a in operands]
            out = np.empty(operands[0].shape, dtype)
            loop(*operands, out)
            return out
        run.loop = loop
        return run

    return {(u, d): make(u, d) for u in vecmath.UFUNCS for d in ("float64", "float32")}


# -- the oracle --------------------------------------------------------------------------------

def _correctly_rounded(value, dtype: str) -> float:
    """An mpmath number rounded once to `dtype` (subnormals and overflow included)."""
    info = np.finfo(dtype)
    if mpmath.isnan(value):
        return np.nan
    big = mpmath.mpf(2) ** (info.maxexp) * (1 - mpmath.mpf(2) ** (-info.nmant - 2))
    if abs(value) >= big:
        return np.inf if value > 0 else -np.inf
    tiny = mpmath.mpf(2) ** (info.minexp - info.nmant)  # the smallest subnormal
    if abs(value) < mpmath.mpf(2) ** info.minexp:
        return float(mpmath.nint(value / tiny)) * float(tiny)
    with mpmath.workprec(info.nmant + 1):
        return float(+value)


_ORACLE_CACHE: dict[tuple, np.ndarray] = {}


def _oracle(ufunc: str, dtype: str, *operands: np.ndarray) -> np.ndarray:
    """Correctly rounded results, NumPy's for the special operands mpmath does not take;
    kept for the second compilation of the functions (the same points)."""
    key = (ufunc, dtype, *(a.tobytes() for a in operands))
    if key not in _ORACLE_CACHE:
        _ORACLE_CACHE[key] = _mp_oracle(ufunc, dtype, *operands)
    return _ORACLE_CACHE[key]


def _mp_oracle(ufunc: str, dtype: str, *operands: np.ndarray) -> np.ndarray:
    out = np.empty(operands[0].shape, np.float64)
    with mpmath.workprec(160), np.errstate(all="ignore"):
        for i, point in enumerate(zip(*operands, strict=True)):
            xs = [float(v) for v in point]
            ordinary = all(np.isfinite(xs))
            if ufunc == "np.log" and xs[0] <= 0 or ufunc == "np.log1p" and xs[0] <= -1:
                ordinary = False
            if not ordinary or all(v == 0 for v in xs) and ufunc != "np.logaddexp":
                out[i] = getattr(np, ufunc[3:])(*xs)
                continue
            args = [mpmath.mpf(v) for v in xs]
            if ufunc == "np.logaddexp":
                d = mpmath.fsub(args[0], args[1], exact=True)
                value = max(args) + mpmath.log1p(mpmath.exp(-abs(d)))
            else:
                value = getattr(mpmath, ORACLE[ufunc])(args[0])
            out[i] = _correctly_rounded(value, dtype)
    return out.astype(dtype)


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in units in the last place (floats in order); 0 for two nans, inf when
    only one is nan."""
    wide = {np.dtype("float64"): np.int64, np.dtype("float32"): np.int32}[got.dtype]
    bits = got.dtype.itemsize * 8

    def ordered(a: np.ndarray) -> np.ndarray:
        i = a.view(wide).astype(np.int64)
        return np.where(i < 0, -(i & ((1 << (bits - 1)) - 1)), i)

    d = np.abs(ordered(got) - ordered(want)).astype(np.float64)
    both_nan = np.isnan(got) & np.isnan(want)
    d[both_nan] = 0
    d[np.isnan(got) != np.isnan(want)] = np.inf
    return d


# -- points ------------------------------------------------------------------------------------

def _anywhere(rng: np.random.Generator, n: int, dtype: str) -> np.ndarray:
    """Random bit patterns: every binade and sign equally likely, finite only."""
    wide = np.int64 if dtype == "float64" else np.int32
    info = np.iinfo(wide)
    x = rng.integers(info.min, info.max, n, dtype=wide).view(dtype)
    return x[np.isfinite(x)]


def _hard(ufunc: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Dense points where the function is hard: near 0, near the overflow and underflow
    thresholds, around the reduction's and the formulas' switch points."""
    u = rng.uniform

    def around(c: float, w: float) -> np.ndarray:
        return u(c - w, c + w, n)

    ln2 = np.log(2.0)
    regions = {
        "np.exp": [around(0, 1e-8), around(0, 1), around(709.7, 0.2), around(-745, 1.0),
                   around(-708.4, 0.5), around(ln2 / 2, 0.01), around(-ln2 / 2, 0.01)],
        "np.expm1": [around(0, 1e-8), around(0, 1e-3), around(ln2 / 2, 0.02),
                     around(-ln2 / 2, 0.02), around(1.5 * ln2, 0.02), around(-1.5 * ln2, 0.02),
                     around(37.4, 1.0), around(-38, 3), around(700, 1), around(709.7, 0.2)],
        "np.log": [around(1, 1e-6), around(1, 0.3), around(np.sqrt(0.5), 1e-3),
                   around(np.sqrt(2), 1e-3), np.exp(u(-745, 709.7, n)), u(0, 1e-308, n),
                   u(0, 1e-310, n)],
        "np.log1p": [around(0, 1e-8), around(0, 1e-3), around(-1, 1e-6) + 1e-6,
                     around(np.sqrt(2) - 1, 1e-3), around(np.sqrt(0.5) - 1, 1e-3),
                     np.exp(u(-745, 709.7, n))],
        "np.tanh": [around(0, 1e-8), around(0, 0.2), around(0.5493, 0.01),
                    around(-0.5493, 0.01), around(19, 1), around(1, 0.5), around(-2.5, 1)],
    }
    return np.concatenate(regions[ufunc])


@pytest.mark.parametrize("ufunc", UNARY)
def test_within_one_ulp_of_correctly_rounded_float64(loops, ufunc):
    rng = np.random.default_rng(sorted(vecmath.UFUNCS).index(ufunc))
    x = np.concatenate([_anywhere(rng, 1000, "float64"), _hard(ufunc, rng, 150)])
    got = loops[ufunc, "float64"](x)
    ulps = _ulps(got, _oracle(ufunc, "float64", x))
    worst = int(np.argmax(ulps))
    assert ulps.max() <= 1, f"{ufunc}({x[worst]!r}) = {got[worst]!r}: {ulps.max()} ulps"


@pytest.mark.parametrize("ufunc", UNARY)
def test_within_one_ulp_of_correctly_rounded_float32(loops, ufunc):
    rng = np.random.default_rng(10 + sorted(vecmath.UFUNCS).index(ufunc))
    hard = _hard(ufunc, rng, 60)
    x = np.concatenate([_anywhere(rng, 600, "float32"),
                        hard[np.abs(hard) < 1e38].astype(np.float32)])
    got = loops[ufunc, "float32"](x)
    ulps = _ulps(got, _oracle(ufunc, "float32", x))
    worst = int(np.argmax(ulps))
    assert ulps.max() <= 1, f"{ufunc}({x[worst]!r}) = {got[worst]!r}: {ulps.max()} ulps"


def test_logaddexp_within_one_ulp(loops):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-50, 50, 800), rng.uniform(-1, 1, 300),
                        rng.uniform(-800, 800, 300), _anywhere(rng, 300, "float64") * 1e-300])
    y = np.concatenate([rng.uniform(-50, 50, 800), np.zeros(300), rng.uniform(-800, 800, 300),
                        rng.uniform(-1e-300, 1e-300, 300)])
    got = loops["np.logaddexp", "float64"](x, y)
    ulps = _ulps(got, _oracle("np.logaddexp", "float64", x, y))
    assert ulps.max() <= 1


# -- special values ----------------------------------------------------------------------------

SPECIAL = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-310,
                    -1e-310, 2.2250738585072014e-308, 1e-300, -1e-300, 1e-20, -1e-20,
                    5.551115123125783e-17, -5.551115123125783e-17, 0.5, -0.5, 1.0, -1.0,
                    -1.0000000000000002, -0.9999999999999999, 2.0, 20.0, -20.0, 22.0, 40.0,
                    -40.0, -41.0, 700.0, 709.782712893384, 709.7827128933841, 709.8, 710.0,
                    1e300, -1e300, -708.3964185322641, -708.4, -745.1332191019411,
                    -745.1332191019412, -746.0, 1.7976931348623157e308,
                    -1.7976931348623157e308])


@pytest.mark.parametrize("ufunc", UNARY)
def test_special_values_are_numpys(loops, ufunc):
    with np.errstate(all="ignore"):
        want = getattr(np, ufunc[3:])(SPECIAL)
    got = loops[ufunc, "float64"](SPECIAL)
    for x, g, w in zip(SPECIAL, got, want, strict=True):
        assert np.isnan(g) == np.isnan(w), f"{ufunc}({x!r}) = {g!r}, NumPy {w!r}"
        if np.isnan(w):
            continue
        assert np.isinf(g) == np.isinf(w) and (g == 0) == (w == 0), \
            f"{ufunc}({x!r}) = {g!r}, NumPy {w!r}"
        assert np.signbit(g) == np.signbit(w), f"{ufunc}({x!r}) = {g!r}, NumPy {w!r}"
        assert _ulps(np.array([g]), np.array([w]))[0] <= 2, f"{ufunc}({x!r})"


def test_odd_functions_keep_negative_zero_and_tiny_arguments(loops):
    x = np.array([-0.0, 0.0, -5e-324, 1e-310, -1e-200, 3e-17])
    for ufunc in ("np.expm1", "np.log1p", "np.tanh"):
        got = loops[ufunc, "float64"](x)
        assert np.array_equal(got, x) and np.array_equal(np.signbit(got), np.signbit(x)), \
            ufunc
        got32 = loops[ufunc, "float32"](np.float32([-0.0, 1e-30]))
        assert np.signbit(got32[0]) and got32[1] == np.float32(1e-30), ufunc


def test_logaddexp_special_values_are_numpys(loops):
    pairs = [(np.inf, np.inf), (-np.inf, -np.inf), (np.inf, -np.inf), (-np.inf, 3.0),
             (np.nan, 1.0), (1.0, np.nan), (0.0, 0.0), (-0.0, -0.0), (800.0, 800.0),
             (1e308, 1e308), (0.0, -800.0), (-1000.0, -1000.5)]
    x, y = (np.array(v) for v in zip(*pairs, strict=True))
    got = loops["np.logaddexp", "float64"](x, y)
    with np.errstate(all="ignore"):
        want = np.logaddexp(x, y)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert _ulps(got, want).max() <= 1


# -- vectorized --------------------------------------------------------------------------------

def test_kernels_calling_them_are_vectorized(tmp_path, monkeypatch):
    """A generated kernel of tanh, exp, log and expm1 has a vector loop (`<N x double>` in its
    LLVM IR): the functions were inlined, and no scalar call stops the vectorizer."""
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))  # a fresh compile, inspectable
    x = sd.var("x", ("n",))
    y = sd.tanh(x) * 3.0 + sd.exp(x) * sd.log(x) - sd.expm1(x) * sd.log1p(x)
    f = sd.function([x], [y], target="numba")
    (kernel,) = [name for name in re.findall(r"def (_kernel\d+)\(", f.source)]
    assert "vm_tanh(" in f.source and "np.tanh(" not in f.source
    point = np.linspace(0.5, 3.0, 64)
    want = sd.function([x], [y])(point)
    np.testing.assert_allclose(f(point), want, rtol=1e-14, atol=1e-14)
    # the kernel runs inlined in the whole-function kernel, when the function has one
    dispatcher = getattr(f.module, "_f_compiled" if "_f_compiled" in f.source else kernel)
    llvm = dispatcher.inspect_llvm(dispatcher.signatures[0])
    assert re.search(r"<\d+ x double>", llvm), "the kernel's loop is not vectorized"
    calls = [line for line in llvm.splitlines() if re.search(r"\bcall\b", line)]
    assert not [c for c in calls if re.search(r"@(tanh|exp|log|expm1|log1p)\(|vm_", c)], \
        "a libm function or a vecmath function is called, not inlined"


# -- the numba target against the NumPy target -------------------------------------------------

@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """Both targets' functions of x (and y) computing each function times 2.0 (a kernel of
    two ops), float64 and float32."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "vecmath-targets"))
    made = {}
    for dtype in ("float64", "float32"):
        x, y = sd.var("x", ("n",), dtype), sd.var("y", ("n",), dtype)
        outs = [sd.exp(x) * 2.0, sd.expm1(x) * 2.0, sd.log(y) * 2.0, sd.log1p(y) * 2.0,
                sd.tanh(x) * 2.0, sd.logaddexp(x, y) * 2.0, sd.sigmoid(x) * 2.0,
                sd.softplus(x) * 2.0]
        made[dtype] = (sd.function([x, y], outs), sd.function([x, y], outs, target="numba"))
    mp.undo()
    return made


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numba_target_matches_numpy_target_to_two_ulps(targets, dtype):
    f_numpy, f_numba = targets[dtype]
    assert f_numba.source.count("vm_") > 8 and "np.exp(" not in f_numba.source
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-30, 30, 3000), rng.uniform(-1e-3, 1e-3, 500),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 80.0, -80.0]]).astype(dtype)
    y = np.abs(np.concatenate([rng.uniform(-30, 30, 3000), rng.uniform(-1e-3, 1e-3, 500),
                               [0.0, -0.0, np.inf, 1.0, np.nan, 1e-30, 2.0]])).astype(dtype)
    with np.errstate(all="ignore"):
        want = f_numpy(x, y)
    got = f_numba(x, y)
    names = ["exp", "expm1", "log", "log1p", "tanh", "logaddexp", "sigmoid", "softplus"]
    for name, g, w in zip(names, got, want, strict=True):
        assert g.dtype == w.dtype == np.dtype(dtype)
        ulps = _ulps(g, w)
        worst = int(np.argmax(ulps))
        assert ulps.max() <= 2, f"{name}: {g[worst]!r} against {w[worst]!r} ({ulps.max()})"
