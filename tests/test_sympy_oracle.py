"""SymPy as an oracle: for scalar compositions, sd.grad (and grad of grad) at random points
equals sympy.diff of the same formula, evaluated in 30-digit mpmath, to about 1e-10.

Each formula is written once against a namespace `m`, which is either the symdiff module
or `SympyOps` below, so the two sides cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdiff as sd
from tests.fd import assert_close

RTOL = 1e-10
POINTS = 4


class SympyOps:
    """The symdiff function names used below, spelled in SymPy (by their definitions)."""

    exp = staticmethod(sympy.exp)
    log = staticmethod(sympy.log)
    sin = staticmethod(sympy.sin)
    cos = staticmethod(sympy.cos)
    tan = staticmethod(sympy.tan)
    tanh = staticmethod(sympy.tanh)
    sqrt = staticmethod(sympy.sqrt)

    @staticmethod
    def sigmoid(u):
        return 1 / (1 + sympy.exp(-u))

    @staticmethod
    def softplus(u):
        return sympy.log(1 + sympy.exp(u))

    @staticmethod
    def log1p(u):
        return sympy.log(1 + u)

    @staticmethod
    def expm1(u):
        return sympy.exp(u) - 1

    @staticmethod
    def square(u):
        return u ** 2

    @staticmethod
    def logsumexp3(a, b, c):
        return sympy.log(sympy.exp(a) + sympy.exp(b) + sympy.exp(c))


def _sd_logsumexp3(a, b, c):
    return sd.logsumexp(sd.stack([a, b, c]))


sd_ops = type("SdOps", (), {name: staticmethod(getattr(sd, name)) for name in
                            ["exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "sigmoid",
                             "softplus", "log1p", "expm1", "square"]}
              | {"logsumexp3": staticmethod(_sd_logsumexp3)})

Formula = Callable[..., object]

# (name, formula of (m, x, y, z), whether x, y, z must be positive)
FORMULAS: list[tuple[str, Formula, bool]] = [
    ("exp(sin(x) y)", lambda m, x, y, z: m.exp(m.sin(x) * y), False),
    ("log(1+x^2)/(1+y^2)", lambda m, x, y, z: m.log(1 + x ** 2) / (1 + y ** 2), False),
    ("tanh(xy+z)", lambda m, x, y, z: m.tanh(x * y + z), False),
    ("sigmoid(x) softplus(y)", lambda m, x, y, z: m.sigmoid(x) * m.softplus(y) - z, False),
    ("sqrt(1+x^2+y^2)", lambda m, x, y, z: m.sqrt(1 + x ** 2 + y ** 2) * z, False),
    ("x^y", lambda m, x, y, z: x ** y + z ** 3, True),
    ("(xy-z)/(x^2+1)", lambda m, x, y, z: (x * y - z) / (x ** 2 + 1), False),
    ("sin(cos(x)+y) exp(-z^2)", lambda m, x, y, z: m.sin(m.cos(x) + y) * m.exp(-z ** 2),
     False),
    ("log sigmoid", lambda m, x, y, z: m.log(m.sigmoid(x)) + m.log(1 - m.sigmoid(y * z)),
     False),
    ("softplus(tanh(x) y)^2", lambda m, x, y, z: m.softplus(m.tanh(x) * y) ** 2, False),
    ("expm1 log1p", lambda m, x, y, z: m.expm1(x * 0.3) * m.log1p(y ** 2) + z, False),
    ("tan + square", lambda m, x, y, z: m.tan(x * 0.5) + m.square(y - z), False),
    ("(1+e^x)^(-y)", lambda m, x, y, z: (1 + m.exp(x)) ** (-y) * z, False),
    ("sqrt(sigmoid)/cos", lambda m, x, y, z: m.sqrt(m.sigmoid(x * y)) / m.cos(z * 0.2), False),
    ("xyz/(1+x^2y^2)", lambda m, x, y, z: x * y * z / (1 + x ** 2 * y ** 2), False),
    ("exp(tanh(sin x))^2 y", lambda m, x, y, z: m.exp(m.tanh(m.sin(x))) ** 2 * y, False),
    ("3^x z", lambda m, x, y, z: 3.0 ** x * z - y, False),
    ("logsumexp", lambda m, x, y, z: m.logsumexp3(x, y * 2, z), False),
    ("sigmoid^3", lambda m, x, y, z: m.sigmoid(m.sigmoid(m.sigmoid(x) * y) + z), False),
    ("1/x + log(y)/z", lambda m, x, y, z: 1 / x + m.log(y) / z, True),
    ("x^y^z", lambda m, x, y, z: x ** (y ** z), True),
    ("sqrt(x) y^(-1/2)", lambda m, x, y, z: m.sqrt(x) * y ** -0.5 + m.log(x * y * z), True),
]


def _sample(rng: np.random.Generator, positive: bool) -> np.ndarray:
    return rng.uniform(0.3, 1.7, 3) if positive else rng.uniform(-1.5, 1.5, 3)


def _mp(expr: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> Callable[..., float]:
    fn = sympy.lambdify(symbols, expr, "mpmath")

    def value(*args: float) -> float:
        with mpmath.workdps(30):
            return float(fn(*[mpmath.mpf(float(a)) for a in args]))

    return value


@pytest.mark.parametrize("name, formula, positive", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_gradient_and_hessian_match_sympy(name, formula, positive, rng):
    syms = sympy.symbols("x y z", real=True)
    exact = formula(SympyOps, *syms)
    xs = [sd.var(s.name) for s in syms]
    f = formula(sd_ops, *xs)
    assert f.shape == () and f.dtype == "float64"
    grads = sd.grad(f, xs)
    hessian = [sd.grad(g, xs) for g in grads]
    nodes = [f, *grads, *[h for row in hessian for h in row]]
    oracles = [exact, *[sympy.diff(exact, s) for s in syms],
               *[sympy.diff(exact, a, b) for a in syms for b in syms]]
    values = [_mp(e, syms) for e in oracles]
    for _ in range(POINTS):
        point = _sample(rng, positive)
        got = sd.evaluate(nodes, dict(zip(xs, point, strict=True)))
        want = [v(*point) for v in values]
        labels = ["f", *[f"d/d{s}" for s in syms],
                  *[f"d2/d{a}d{b}" for a in syms for b in syms]]
        for g, w, label in zip(got, want, labels, strict=True):
            assert_close(g, w, RTOL, f"{name}: {label} at {point}")


# -- random compositions: the same tree of choices built in both worlds --------------------

UNARY = [  # bounded or domain-safe on the whole real line
    ("sin", lambda m, u: m.sin(u)),
    ("cos", lambda m, u: m.cos(u)),
    ("tanh", lambda m, u: m.tanh(u)),
    ("sigmoid", lambda m, u: m.sigmoid(u)),
    ("softplus", lambda m, u: m.softplus(u)),
    ("exp∘tanh", lambda m, u: m.exp(m.tanh(u))),
    ("log(1+u^2)", lambda m, u: m.log(1 + u * u)),
    ("sqrt(1+u^2)", lambda m, u: m.sqrt(1 + m.square(u))),
    ("log1p(u^2)", lambda m, u: m.log1p(u ** 2)),
    ("-u", lambda m, u: -u),
]
BINARY = [
    ("+", lambda m, a, b: a + b),
    ("-", lambda m, a, b: a - b),
    ("*", lambda m, a, b: a * b),
    ("/(1+b^2)", lambda m, a, b: a / (1 + b ** 2)),
    ("(1+sigmoid)^b", lambda m, a, b: (1 + m.sigmoid(a)) ** m.tanh(b)),
]


@st.composite
def trees(draw, depth: int = 0):
    """A random expression as a builder: tree(m, x, y) -> expression in namespace m."""
    if depth >= 4 or (depth > 1 and draw(st.booleans())):
        leaf = draw(st.sampled_from(["x", "y", "c"]))
        const = draw(st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 3)))
        return {"x": lambda m, x, y: x, "y": lambda m, x, y: y,
                "c": lambda m, x, y: sympy.Float(const) if m is SympyOps else const}[leaf]
    if draw(st.booleans()):
        _, fn = draw(st.sampled_from(UNARY))
        inner = draw(trees(depth + 1))
        return lambda m, x, y: fn(m, inner(m, x, y))
    _, fn = draw(st.sampled_from(BINARY))
    left = draw(trees(depth + 1))
    right = draw(trees(depth + 1))
    return lambda m, x, y: fn(m, left(m, x, y), right(m, x, y))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees(), point=st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5)))
def test_random_compositions_match_sympy(tree, point):
    syms = sympy.symbols("x y", real=True)
    exact = tree(SympyOps, *syms) + syms[0] * syms[1]  # depend on both, whatever the tree
    xs = [sd.var("x"), sd.var("y")]
    f = tree(sd_ops, *xs) + xs[0] * xs[1]
    grads = sd.grad(f, xs)
    got = sd.evaluate(grads, dict(zip(xs, point, strict=True)))
    for g, s in zip(got, syms, strict=True):
        want = _mp(sympy.diff(exact, s), syms)(*point)
        assert_close(g, want, RTOL, f"d/d{s} of {exact} at {point}")
