"""Elementwise ops: unary math, broadcasting binary arithmetic, comparisons and where.

Elementwise derivatives are written once as partials: d(out)/d(arg) as graph nodes, from
which both the VJP (g * partial) and the JVP (t * partial) follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..graph import Node, const
from ..shapes import TensorType
from . import series as ts
from .base import (
    Op,
    broadcasting_rule,
    call,
    define,
    infix,
    lift,
    lift_pair,
    refuse_bool,
    require_float,
)

Partial = Callable[..., Node]


def _from_partials(partials: tuple[Partial | None, ...]) -> tuple[tuple, tuple]:
    """VJP and JVP rules for an elementwise op, from its partial derivatives."""

    def make(partial: Partial | None) -> Any:
        if partial is None:
            return None
        return lambda g, *inputs, out: g * partial(*inputs, out)

    rules = tuple(make(p) for p in partials)
    return rules, rules


def _series_rule(rule: Callable | None) -> Callable | None:
    """Taylor rules are written over the operands' series: rule(u, out) or rule(a, b, out)."""
    if rule is None:
        return None
    return lambda series, out, **_: rule(*series, out)


def _constant_series(*operands: Any) -> list:
    """Ops whose value is locally constant (sign, comparisons): no higher coefficients."""
    *series, out = operands
    return [out] + [None] * (len(series[0]) - 1)


def _public(op: Op, nargs: int) -> Callable[..., Node]:
    if nargs == 1:
        def fn(x: object) -> Node:
            return op(lift(x))
    else:
        def fn(x: object, y: object) -> Node:
            return op(*lift_pair(x, y))
    fn.__name__ = op.name
    fn.__qualname__ = op.name
    fn.__doc__ = op.doc
    fn.op = op  # type: ignore[attr-defined]
    return fn


def unary(name: str, impl: Callable, partial: Partial | None, *, lower: Callable | None = None,
          ufunc: bool = True, accepts: str = "float", rule: Callable | None = None,
          helpers: tuple = (), taylor: Callable | None = None, doc: str = "") \
        -> Callable[..., Node]:
    """Define a unary elementwise op; `partial(x, out)` is d(out)/dx. Where g * partial
    is wasteful, `rule(g, x, out)` gives the product directly (serving VJP and JVP alike,
    as an elementwise derivative is its own transpose). `accepts`: "float" operands only,
    "number" (int or float, as NumPy has no bool negation or square), or "any"."""

    def shape_rule(types: list[TensorType], inputs: list[Node], **_: Any) -> TensorType:
        if accepts == "float":
            require_float(name, inputs)
        elif accepts == "number":
            refuse_bool(name, inputs)
        return types[0]

    if rule is not None:
        vjp = jvp = (rule,)
    else:
        vjp, jvp = _from_partials((partial,))
    op = define(name, shape_rule=shape_rule, impl=impl, vjp=vjp, jvp=jvp,
                lower=lower or call(f"np.{impl.__name__}"), ufunc=ufunc, elementwise=True,
                helpers=helpers, taylor=_series_rule(taylor), doc=doc)
    return _public(op, 1)


def binary(name: str, impl: Callable, partials: tuple[Partial | None, Partial | None], *,
           lower: Callable, result: str = "promote", ufunc: bool = True,
           vjp: tuple | None = None, taylor: Callable | None = None, bool_ok: bool = True,
           doc: str = "") -> Callable[..., Node]:
    """Define a broadcasting binary op from its two partials (or explicit linear rules).
    With `bool_ok` false, two bool operands are refused (NumPy has no bool subtraction,
    and bool ** bool is int8)."""
    rules = (vjp, vjp) if vjp is not None else _from_partials(partials)
    if result == "bool":
        taylor = _constant_series
    shape_rule = broadcasting_rule(name, result)
    if not bool_ok:
        promoting = shape_rule

        def shape_rule(types: list[TensorType], inputs: list[Node], **attrs: Any) -> TensorType:
            if all(t.dtype == "bool" for t in types):
                refuse_bool(name, inputs)
            return promoting(types, inputs, **attrs)
    op = define(name, shape_rule=shape_rule, impl=impl, vjp=rules[0],
                jvp=rules[1], lower=lower, ufunc=ufunc, elementwise=True,
                taylor=_series_rule(taylor), doc=doc)
    return _public(op, 2)


# -- reference implementations that need care for stability ------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.zeros((), dtype=np.result_type(x, np.float32)), x)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.zeros((), dtype=x.dtype))


# -- unary math ---------------------------------------------------------------------------

neg = unary("neg", np.negative, None, lower=lambda a, **_: f"-{a[0]}", accepts="number",
            rule=lambda g, x, out: -g, taylor=lambda u, out: ts.linear(u, out, neg),
            doc="Elementwise -x.")
exp = unary("exp", np.exp, lambda x, out: out, doc="Elementwise e**x.",
            taylor=lambda u, out: ts.solve_ode(u, out, lambda y, k: y[k]))
log = unary("log", np.log, lambda x, out: 1 / x, doc="Natural logarithm.",
            taylor=lambda u, out: ts.logarithm(u, out, u[0]))
log1p = unary("log1p", np.log1p, lambda x, out: 1 / (1 + x), doc="log(1 + x), accurate near 0.",
              taylor=lambda u, out: ts.logarithm(u, out, 1 + u[0]))
expm1 = unary("expm1", np.expm1, lambda x, out: out + 1, doc="exp(x) - 1, accurate near 0.",
              taylor=lambda u, out: ts.solve_ode(u, out, lambda y, k: y[k] + 1 if k == 0
                                                 else y[k]))
sqrt = unary("sqrt", np.sqrt, lambda x, out: 0.5 / out, doc="Square root.",
             taylor=ts.sqrt_series)
square = unary("square", np.square, lambda x, out: 2 * x, accepts="number", doc="x * x.",
               taylor=lambda u, out: [out] + [ts.cauchy(u, u, k) for k in range(1, len(u))])
sign = unary("sign", np.sign, None, accepts="number", doc="Sign; derivative 0 everywhere.",
             taylor=_constant_series)
abs = unary("abs", np.abs, lambda x, out: sign(x), accepts="any",  # noqa: A001
            taylor=lambda u, out: ts.linear(u, out, lambda c: sign(u[0]) * c),
            doc="Absolute value; derivative sign(x), so 0 at 0.")
sin = unary("sin", np.sin, lambda x, out: cos(x), doc="Sine.",
            taylor=lambda u, out: ts.sin_cos(u, out, cos(u[0]))[0])
cos = unary("cos", np.cos, lambda x, out: -sin(x), doc="Cosine.",
            taylor=lambda u, out: ts.sin_cos(u, sin(u[0]), out)[1])
tan = unary("tan", np.tan, lambda x, out: 1 + square(out), doc="Tangent.",
            taylor=lambda u, out: ts.solve_ode(u, out, lambda y, k: 1 + square(y[0]) if k == 0
                                               else ts.cauchy(y, y, k)))
tanh = unary("tanh", np.tanh, lambda x, out: 1 - square(out), doc="Hyperbolic tangent.",
             taylor=lambda u, out: ts.solve_ode(u, out, lambda y, k: 1 - square(y[0]) if k == 0
                                                else ts.scaled(ts.cauchy(y, y, k), -1)))


def _sigmoid_series(u: ts.Series, out: Node) -> ts.Series:
    """sigma' = sigma (1 - sigma) = sigma - sigma^2."""
    return ts.solve_ode(u, out, lambda y, k: y[0] * (1 - y[0]) if k == 0
                        else ts.total([y[k], ts.scaled(ts.cauchy(y, y, k), -1)]))


def _softplus_series(u: ts.Series, out: Node) -> ts.Series:
    """softplus' = sigmoid."""
    slope = _sigmoid_series(u, sigmoid(u[0]))
    return ts.solve_ode(u, out, lambda y, k: slope[k])


sigmoid = unary("sigmoid", _sigmoid, lambda x, out: out * (1 - out), ufunc=False,
                lower=call("_sigmoid"), helpers=(_sigmoid,), taylor=_sigmoid_series,
                doc="Logistic function 1 / (1 + exp(-x)), stable.")
softplus = unary("softplus", _softplus, lambda x, out: sigmoid(x),
                 taylor=lambda u, out: _softplus_series(u, out),
                 lower=lambda a, **_: f"np.logaddexp(0.0, {a[0]})",
                 doc="log(1 + exp(x)), computed stably as logaddexp(0, x).")
relu = unary("relu", _relu, None, rule=lambda g, x, out: where(x > 0, g, lift(0, g)),
             accepts="any",
             taylor=lambda u, out: ts.choose(u[0] > 0, u, [None] * len(u), out),
             lower=lambda a, **_: f"np.maximum({a[0]}, 0)",
             doc="max(x, 0); derivative 1 for x > 0 and 0 for x <= 0 (so 0 at 0).")

# -- binary arithmetic --------------------------------------------------------------------

add = binary("add", np.add, (None, None), lower=infix("+"),
             vjp=(lambda g, x, y, out: g, lambda g, x, y, out: g),
             taylor=lambda a, b, out: [out] + [ts.total(p) for p in zip(a[1:], b[1:], strict=True)],
             doc="x + y.")
sub = binary("sub", np.subtract, (None, None), lower=infix("-"),
             vjp=(lambda g, x, y, out: g, lambda g, x, y, out: -g),
             taylor=lambda a, b, out: [out] + [ts.total([p, ts.scaled(q, -1)])
                                               for p, q in zip(a[1:], b[1:], strict=True)],
             bool_ok=False, doc="x - y.")
mul = binary("mul", np.multiply, (lambda x, y, out: y, lambda x, y, out: x), lower=infix("*"),
             taylor=lambda a, b, out: [out] + [ts.cauchy(a, b, k) for k in range(1, len(a))],
             doc="x * y.")
div = binary("div", np.divide, (lambda x, y, out: 1 / y, lambda x, y, out: -out / y),
             lower=infix("/"), result="float", taylor=ts.divide, doc="x / y (true division).")


def _pow_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """a ** b: the constant-exponent recurrence, or exp(b log a) when b varies too."""
    if all(c is None for c in b[1:]):
        return ts.power_const(a, b[0], out)
    logs = ts.logarithm(a, log(a[0]), a[0])
    return exp.op.taylor([mul.op.taylor([b, logs], b[0] * logs[0])], out)


def _nonzero(x: Node) -> Node:
    """x with zeros replaced by ones, so that log(x) is 0 there (pow's d/dy at 0 ** y)."""
    return where(equal(x, lift(0, x)), lift(1, x), x)


def _pow_base_partial(x: Node, y: Node, out: Node) -> Node:
    """y * x**(y - 1), with a constant exponent lowered by one right away."""
    if y.value is None:
        return y * x ** (y - 1)
    if np.all(y.value == 1):
        return y
    if np.all(y.value == 2):
        return y * x
    return y * x ** const(y.value - 1)


pow = binary("pow", np.power,  # noqa: A001
             (_pow_base_partial, lambda x, y, out: out * log(_nonzero(x))),
             lower=infix("**"), taylor=_pow_series, bool_ok=False,
             doc="x ** y; d/dy is out * log(x) for x > 0 and 0 at x == 0 (where 0 ** y is "
                 "constant for y > 0), as in JAX.")


def _choose_partial(wins: Callable[[Node, Node], Node], first: bool) -> Partial:
    """maximum/minimum: the winner takes the whole derivative, a tie splits it 1/2 and 1/2."""

    def partial(x: Node, y: Node, out: Node) -> Node:
        mine, other = (x, y) if first else (y, x)
        half = where(equal(x, y), lift(0.5, out), lift(0, out))
        return where(wins(mine, other), lift(1, out), half)

    return partial


def _choose_series(wins: Callable[[Node, Node], Node]) -> Callable:
    """maximum/minimum follow the winner's series; a tie takes the mean of both."""

    def rule(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
        half = [None if p is None and q is None else ts.scaled(ts.total([p, q]), 0.5)
                for p, q in zip(a, b, strict=True)]
        return ts.choose(wins(a[0], b[0]), a, ts.choose(equal(a[0], b[0]), half, b, out), out)

    return rule


maximum = binary("maximum", np.maximum,
                 (_choose_partial(lambda a, b: a > b, True),
                  _choose_partial(lambda a, b: a > b, False)), lower=call("np.maximum"),
                 taylor=_choose_series(lambda a, b: a > b),
                 doc="Elementwise maximum; a tie splits the derivative evenly.")
minimum = binary("minimum", np.minimum,
                 (_choose_partial(lambda a, b: a < b, True),
                  _choose_partial(lambda a, b: a < b, False)), lower=call("np.minimum"),
                 taylor=_choose_series(lambda a, b: a < b),
                 doc="Elementwise minimum; a tie splits the derivative evenly.")

# -- comparisons (not differentiable: their derivative is zero) ---------------------------

less = binary("less", np.less, (None, None), lower=infix("<"), result="bool")
less_equal = binary("less_equal", np.less_equal, (None, None), lower=infix("<="), result="bool")
greater = binary("greater", np.greater, (None, None), lower=infix(">"), result="bool")
greater_equal = binary("greater_equal", np.greater_equal, (None, None), lower=infix(">="),
                       result="bool")
equal = binary("equal", np.equal, (None, None), lower=infix("=="), result="bool")
not_equal = binary("not_equal", np.not_equal, (None, None), lower=infix("!="), result="bool")


# -- where ----------------------------------------------------------------------------------

def _where_impl(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(cond, x, y)


where_op = define(
    "where",
    shape_rule=broadcasting_rule("where"),
    impl=_where_impl,
    vjp=(None,
         lambda g, c, x, y, out: where(c, g, lift(0, g)),
         lambda g, c, x, y, out: where(c, lift(0, g), g)),
    jvp=(None,
         lambda t, c, x, y, out: where(c, t, lift(0, t)),
         lambda t, c, x, y, out: where(c, lift(0, t), t)),
    lower=call("np.where"),
    taylor=lambda series, out: ts.choose(series[0][0], series[1], series[2], out),
    elementwise=True,
    doc="where(cond, x, y): x where cond is true, else y.",
)


def where(cond: object, x: object, y: object) -> Node:
    """Elementwise choice: x where cond holds, else y (broadcast together)."""
    x_node, y_node = lift_pair(x, y)
    c = lift(cond)
    if c.dtype != "bool":
        # check shapes first, so that an error names cond and not the converted node
        broadcasting_rule("where")([c.type, x_node.type, y_node.type], [c, x_node, y_node])
        c = not_equal(c, lift(0, c))
    return where_op(c, x_node, y_node)
