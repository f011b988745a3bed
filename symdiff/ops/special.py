"""More elementwise math, NumPy's names: hyperbolic and inverse trigonometric and
hyperbolic functions, log2/log10, exp2, erf, rounding (floor, ceil, round: derivative 0),
logaddexp and logaddexp2, arctan2, hypot, clip, floor division (`//`, derivative 0) and
remainder (`%`). Built with the factories of
ops/elementwise.py, so each op is its definition alone.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..graph import Node
from . import series as ts
from .base import broadcasting_rule, define, export, lift, refuse_bool
from .elementwise import (
    _coefficient,
    _exp_ode,
    _identity_rule,
    binary,
    choose,
    constant_series,
    elementwise_batch,
    exp,
    over_series,
    sqrt,
    square,
    times_partial,
    unary,
    where,
)
from .lowering import A0, A1, NP, XP, Arg, Call, Fixed, Infix

# -- erf: NumPy has none, so a NumPy-only reference that generated modules copy --------------


def _erf(xp, x):
    """The error function to ~1e-15 relative, in standard array-API calls (`xp`: NumPy or
    another library). |x| < 2: the series
    erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), whose terms are
    all positive (no cancellation); |x| >= 2: 1 - erfc(x), erfc from its continued fraction
    sqrt(pi) exp(x^2) erfc(x) = 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated
    backward from a fixed depth. Float32 operands are computed in float64 and cast back."""
    a = xp.astype(xp.abs(x), xp.float64)
    near = a < 2.0
    s = xp.where(near, a, 0.0)
    s2 = s * s
    term = s
    total = s
    for n in range(1, 40):
        term = term * (2.0 * s2 / (2 * n + 1))
        total = total + term
    series = 1.1283791670955126 * xp.exp(-s2) * total
    t = xp.where(near, 2.0, a)
    frac = xp.zeros_like(t)
    for k in range(60, 0, -1):
        frac = (0.5 * k) / (t + frac)
    tail = xp.exp(-t * t) / (1.7724538509055160 * (t + frac))
    return xp.astype(xp.copysign(xp.where(near, series, 1.0 - tail), xp.astype(x, xp.float64)),
                     x.dtype)


def _logaddexp2_xp(xp, x, y):
    """log2(2**x + 2**y) through the standard's logaddexp (the array-API target)."""
    ln2 = 0.6931471805599453
    return xp.logaddexp(x * ln2, y * ln2) / ln2


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_partial(x: Node, out: Node) -> Node:
    return _TWO_OVER_SQRT_PI * exp(-square(x))


def _erf_series(u: ts.Series, out: Node) -> ts.Series:
    """erf' = 2/sqrt(pi) exp(-u^2): the slope's series, then y' = u' * slope."""
    w = [-square(u[0])] + [ts.scaled(ts.cauchy(u, u, k), -1) for k in range(1, len(u))]
    slope = [ts.scaled(c, _TWO_OVER_SQRT_PI) for c in ts.solve_ode(w, exp(w[0]), _exp_ode)]
    return ts.solve_ode(u, out, functools.partial(_coefficient, slope))


# -- hyperbolic functions ---------------------------------------------------------------------

def _sinh_partial(x: Node, out: Node) -> Node:
    return cosh(x)


def _cosh_partial(x: Node, out: Node) -> Node:
    return sinh(x)


def _sinh_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.sinh_cosh(u, out, cosh(u[0]))[0]


def _cosh_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.sinh_cosh(u, sinh(u[0]), out)[1]


# -- inverse trigonometric functions ----------------------------------------------------------

def _arctan_partial(x: Node, out: Node) -> Node:
    return 1 / (1 + square(x))


def _one_plus_square(u: ts.Series) -> ts.Series:
    return [1 + square(u[0])] + [ts.cauchy(u, u, k) for k in range(1, len(u))]


def _one_minus_square(u: ts.Series) -> ts.Series:
    return [1 - square(u[0])] + [ts.scaled(ts.cauchy(u, u, k), -1) for k in range(1, len(u))]


def _reciprocal_series(b: ts.Series) -> ts.Series:
    one: ts.Series = [lift(1, b[0])] + [None] * (len(b) - 1)
    return ts.divide(one, b, 1 / b[0])


def _arctan_series(u: ts.Series, out: Node) -> ts.Series:
    """arctan' = 1 / (1 + u^2)."""
    slope = _reciprocal_series(_one_plus_square(u))
    return ts.solve_ode(u, out, functools.partial(_coefficient, slope))


def _arcsin_partial(x: Node, out: Node) -> Node:
    return 1 / sqrt(1 - square(x))


def _arccos_partial(x: Node, out: Node) -> Node:
    return -1 / sqrt(1 - square(x))


def _inverse_sine_slope(u: ts.Series) -> ts.Series:
    """The series of 1 / sqrt(1 - u^2)."""
    w = _one_minus_square(u)
    return _reciprocal_series(ts.sqrt_series(w, sqrt(w[0])))


def _arcsin_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.solve_ode(u, out, functools.partial(_coefficient, _inverse_sine_slope(u)))


def _arccos_series(u: ts.Series, out: Node) -> ts.Series:
    slope = [ts.scaled(c, -1) for c in _inverse_sine_slope(u)]
    return ts.solve_ode(u, out, functools.partial(_coefficient, slope))


# -- logarithms to base 2 and 10 --------------------------------------------------------------

def _log_base_partial(x: Node, out: Node, *, base: float) -> Node:
    return 1 / (x * math.log(base))


def _log_base_series(u: ts.Series, out: Node, *, base: float) -> ts.Series:
    natural = ts.logarithm(u, out, u[0])
    return [out] + [ts.scaled(c, 1 / math.log(base)) for c in natural[1:]]


def _log_base_sympy(sp: Any, node: Node, x: Any, *, base: int) -> Any:
    return sp.log(x, base)


sinh = unary("sinh", np.sinh, _sinh_partial, taylor=_sinh_series, to_sympy="sinh",
             doc="Hyperbolic sine.")
cosh = unary("cosh", np.cosh, _cosh_partial, taylor=_cosh_series, positive=True,
             to_sympy="cosh", doc="Hyperbolic cosine.")
arctan = unary("arctan", np.arctan, _arctan_partial, taylor=_arctan_series, to_sympy="atan",
               doc="Inverse tangent.")
arcsin = unary("arcsin", np.arcsin, _arcsin_partial, taylor=_arcsin_series, to_sympy="asin",
               doc="Inverse sine, on [-1, 1] (derivative infinite at the ends).")
arccos = unary("arccos", np.arccos, _arccos_partial, taylor=_arccos_series, to_sympy="acos",
               doc="Inverse cosine, on [-1, 1] (derivative infinite at the ends).")
log2 = unary("log2", np.log2, functools.partial(_log_base_partial, base=2.0),
             taylor=functools.partial(_log_base_series, base=2.0),
             to_sympy=functools.partial(_log_base_sympy, base=2), doc="Base-2 logarithm.")
log10 = unary("log10", np.log10, functools.partial(_log_base_partial, base=10.0),
              taylor=functools.partial(_log_base_series, base=10.0),
              to_sympy=functools.partial(_log_base_sympy, base=10), doc="Base-10 logarithm.")
erf = unary("erf", functools.partial(_erf, np), _erf_partial,
            lower=Fixed(Call(_erf, (NP, A0))), taylor=_erf_series,
            kernel=Fixed(Call("math.erf", (A0,))),
            to_sympy="erf",
            doc="Error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to x (NumPy has "
                "none: the generated module carries its own, ~1e-15 relative).")
floor = unary("floor", np.floor, None, taylor=constant_series,
              to_sympy="floor",
              doc="Round down; derivative 0 everywhere.")
ceil = unary("ceil", np.ceil, None, taylor=constant_series,
             to_sympy="ceiling",
             doc="Round up; derivative 0 everywhere.")
round = unary("round", np.round, None, accepts="number", taylor=constant_series,  # noqa: A001
              numpy=("round", "rint"),
              doc="Round to the nearest integer, halves to even (np.round with decimals=0); "
                  "derivative 0 everywhere. No SymPy formula: SymPy rounds halves away from 0.")


# -- logaddexp ----------------------------------------------------------------------------

def _logaddexp_partial_x(x: Node, y: Node, out: Node) -> Node:
    return exp(x - out)


def _logaddexp_partial_y(x: Node, y: Node, out: Node) -> Node:
    return exp(y - out)


def _logaddexp_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """log(e^a + e^b) = out + log(e^(a - out) + e^(b - out)), whose inner sum is 1 at t = 0."""
    shifted = []
    for u in (a, b):
        v = [u[0] - out] + list(u[1:])
        shifted.append(ts.solve_ode(v, exp(v[0]), _exp_ode))
    total = [ts.total(p) for p in zip(*shifted, strict=True)]
    return ts.logarithm(total, out, total[0])


def _logaddexp_sympy(sp: Any, node: Node, x: Any, y: Any) -> Any:
    return sp.log(sp.exp(x) + sp.exp(y))


logaddexp = binary("logaddexp", np.logaddexp, (_logaddexp_partial_x, _logaddexp_partial_y),
                   result="float", taylor=_logaddexp_series, commutative=True,
                   to_sympy=_logaddexp_sympy,
                   doc="log(exp(x) + exp(y)), computed without overflow.")


# -- inverse hyperbolic functions, base-2 exponentials, arctan2, hypot -------------------------

def _arcsinh_partial(x: Node, out: Node) -> Node:
    return 1 / sqrt(1 + square(x))


def _arccosh_partial(x: Node, out: Node) -> Node:
    return 1 / sqrt(square(x) - 1)


def _arctanh_partial(x: Node, out: Node) -> Node:
    return 1 / (1 - square(x))


def _with_slope(u: ts.Series, out: Node, slope: ts.Series) -> ts.Series:
    """y' = u' * slope, the slope's series known."""
    return ts.solve_ode(u, out, functools.partial(_coefficient, slope))


def _arcsinh_series(u: ts.Series, out: Node) -> ts.Series:
    w = _one_plus_square(u)
    return _with_slope(u, out, _reciprocal_series(ts.sqrt_series(w, sqrt(w[0]))))


def _arccosh_series(u: ts.Series, out: Node) -> ts.Series:
    w = [square(u[0]) - 1] + [ts.cauchy(u, u, k) for k in range(1, len(u))]
    return _with_slope(u, out, _reciprocal_series(ts.sqrt_series(w, sqrt(w[0]))))


def _arctanh_series(u: ts.Series, out: Node) -> ts.Series:
    return _with_slope(u, out, _reciprocal_series(_one_minus_square(u)))


_LN2 = math.log(2.0)


def _exp2_partial(x: Node, out: Node) -> Node:
    return out * _LN2


def _exp2_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.solve_ode(u, out, _exp2_ode)


def _exp2_ode(y: ts.Series, k: int) -> Node | None:
    return ts.scaled(y[k], _LN2)


def _logaddexp2_partial_x(x: Node, y: Node, out: Node) -> Node:
    return exp2(x - out)


def _logaddexp2_partial_y(x: Node, y: Node, out: Node) -> Node:
    return exp2(y - out)


def _logaddexp2_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """logaddexp2(a, b) = logaddexp(a ln 2, b ln 2) / ln 2."""
    natural = _logaddexp_series([ts.scaled(c, _LN2) for c in a], [ts.scaled(c, _LN2) for c in b],
                                out * _LN2)
    return [out] + [ts.scaled(c, 1 / _LN2) for c in natural[1:]]


def _logaddexp2_sympy(sp: Any, node: Node, x: Any, y: Any) -> Any:
    return sp.log(2 ** x + 2 ** y, 2)


def _arctan2_partial_y(y: Node, x: Node, out: Node) -> Node:
    return x / (square(x) + square(y))


def _arctan2_partial_x(y: Node, x: Node, out: Node) -> Node:
    return -y / (square(x) + square(y))


def _arctan2_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """arctan2(a, b) is arctan(a / b) plus a constant near any point with b != 0."""
    ratio = ts.divide(a, b, a[0] / b[0])
    return _arctan_series(ratio, out)


def _hypot_partial_x(x: Node, y: Node, out: Node) -> Node:
    return x / out


def _hypot_partial_y(x: Node, y: Node, out: Node) -> Node:
    return y / out


def _hypot_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    squares = [square(out)] + [ts.total([ts.cauchy(a, a, k), ts.cauchy(b, b, k)])
                               for k in range(1, len(a))]
    return ts.sqrt_series(squares, out)


def _hypot_sympy(sp: Any, node: Node, x: Any, y: Any) -> Any:
    return sp.sqrt(x ** 2 + y ** 2)


def _exp2_sympy(sp: Any, node: Node, x: Any) -> Any:
    return 2 ** x


arcsinh = unary("arcsinh", np.arcsinh, _arcsinh_partial, taylor=_arcsinh_series,
                to_sympy="asinh", doc="Inverse hyperbolic sine.")
arccosh = unary("arccosh", np.arccosh, _arccosh_partial, taylor=_arccosh_series,
                to_sympy="acosh", doc="Inverse hyperbolic cosine, for x >= 1.")
arctanh = unary("arctanh", np.arctanh, _arctanh_partial, taylor=_arctanh_series,
                to_sympy="atanh", doc="Inverse hyperbolic tangent, on (-1, 1).")
exp2 = unary("exp2", np.exp2, _exp2_partial, taylor=_exp2_series, positive=True,
             array_api=Fixed(Infix("**", 2.0, A0)),
             to_sympy=_exp2_sympy, doc="2 ** x.")
logaddexp2 = binary("logaddexp2", np.logaddexp2,
                    (_logaddexp2_partial_x, _logaddexp2_partial_y), result="float",
                    taylor=_logaddexp2_series, commutative=True, to_sympy=_logaddexp2_sympy,
                    array_api=Fixed(Call(_logaddexp2_xp, (XP, A0, A1))),
                    doc="log2(2**x + 2**y), computed without overflow.")
arctan2 = binary("arctan2", np.arctan2, (_arctan2_partial_y, _arctan2_partial_x),
                 result="float", taylor=_arctan2_series, to_sympy="atan2",
                 doc="arctan2(y, x): the angle of the point (x, y), in [-pi, pi].")
hypot = binary("hypot", np.hypot, (_hypot_partial_x, _hypot_partial_y), result="float",
               taylor=_hypot_series, commutative=True, to_sympy=_hypot_sympy,
               doc="sqrt(x**2 + y**2) without overflow; its derivative is x / out, y / out "
                   "(undefined at the origin, as the function has a cone there).")


@export(numpy=("deg2rad", "radians"))
def deg2rad(x: object) -> Node:
    """Degrees to radians: x * pi / 180."""
    x = lift(x)
    return x * (math.pi / 180)


@export(numpy=("rad2deg", "degrees"))
def rad2deg(x: object) -> Node:
    """Radians to degrees: x * 180 / pi."""
    x = lift(x)
    return x * (180 / math.pi)


# -- floor division and remainder -----------------------------------------------------------

def _mod_partial_y(x: Node, y: Node, out: Node) -> Node:
    return -floor(x / y)


def _mod_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """x % y = x - floor(x / y) * y, the quotient constant along the series."""
    q = floor(a[0] / b[0])
    return [out] + [ts.total([p, None if r is None else -(q * r)])
                    for p, r in zip(a[1:], b[1:], strict=True)]


def _floor_divide_sympy(sp: Any, node: Node, x: Any, y: Any) -> Any:
    return sp.floor(x / y)


floor_divide = binary("floor_divide", np.floor_divide, (None, None), symbol="//",
                      taylor=constant_series, bool_ok=False, to_sympy=_floor_divide_sympy,
                      doc="x // y, floor(x / y) (NumPy's sign rules); derivative 0.")
mod = binary("mod", np.remainder, (None, None), symbol="%",
             vjp=(_identity_rule, functools.partial(times_partial, partial=_mod_partial_y)),
             taylor=_mod_series, bool_ok=False, to_sympy="Mod", numpy=("remainder", "mod"),
             doc="x % y with the sign of y (np.remainder); d/dx = 1, d/dy = -floor(x / y).")


# -- clip -------------------------------------------------------------------------------

def _clip_masks(x: Node, lo: Node, hi: Node) -> tuple[Node, Node, Node]:
    """Which operand the result is, as NumPy's minimum(maximum(x, lo), hi): hi where
    max(x, lo) > hi, else x where x >= lo, else lo. Exactly one mask holds everywhere."""
    at_hi = where(x >= lo, x > hi, lo > hi)
    at_x = where(at_hi, False, x >= lo)
    at_lo = where(at_hi, False, x < lo)
    return at_x, at_lo, at_hi


def _clip_rule(g: Node, x: Node, lo: Node, hi: Node, out: Node, *, which: int) -> Node:
    mask = _clip_masks(x, lo, hi)[which]
    return where(mask, g, lift(0, g))


def _clip_impl(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.clip(x, lo, hi)


def _clip_series(a: ts.Series, lo: ts.Series, hi: ts.Series, out: Node) -> ts.Series:
    """The series of the operand the result equals (masks fixed along the series)."""
    at_x, at_lo, _ = _clip_masks(a[0], lo[0], hi[0])
    return choose(at_x, a, choose(at_lo, lo, hi, out), out)


def _clip_sympy(sp: Any, node: Node, x: Any, lo: Any, hi: Any) -> Any:
    return sp.Min(sp.Max(x, lo), hi)


_CLIP_RULES = tuple(functools.partial(_clip_rule, which=i) for i in range(3))
clip_op = define(
    "clip", family="elementwise", shape_rule=broadcasting_rule("clip"), impl=_clip_impl,
    vjp=_CLIP_RULES, jvp=_CLIP_RULES, lower=Fixed(Call("np.clip", (A0, A1, Arg(2)), out=True)),
    kernel=Fixed(Call("np.minimum", (Call("np.maximum", (A0, A1)), Arg(2)))),
    batch=elementwise_batch, taylor=functools.partial(over_series, rule=_clip_series),
    to_sympy=_clip_sympy,
    doc="np.clip(x, lo, hi) = minimum(maximum(x, lo), hi); the derivative goes to x where "
        "lo <= x <= hi, else to the bound the result equals.")


@export(op=clip_op)
def clip(x: object, lo: object = None, hi: object = None) -> Node:
    """np.clip: x limited to [lo, hi] (tensors or scalars, broadcast; None: no bound)."""
    x = lift(x)
    refuse_bool("clip", [x])
    lo_node = lift(-np.inf if lo is None else lo, x)
    hi_node = lift(np.inf if hi is None else hi, x)
    return clip_op(x, lo_node, hi_node)


# -- NumPy's names for the arithmetic that operators build ------------------------------------

@export(numpy=("reciprocal",))
def reciprocal(x: object) -> Node:
    """1 / x."""
    x = lift(x)
    return lift(1, x) / x

