"""Elementwise ops: unary math, broadcasting binary arithmetic, comparisons and where.

Elementwise derivatives are written once as partials: d(out)/d(arg) as graph nodes, from
which both the VJP (g * partial) and the JVP (t * partial) follow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..graph import Node, const
from ..shapes import TensorType, is_float
from . import series as ts
from .base import (
    Op,
    broadcasting_rule,
    define,
    export,
    finite_if_operands,
    lift,
    lift_pair,
    refuse_bool,
    require_float,
)
from .lowering import A0, A1, XP, Arg, Call, Choose, Fixed, Infix, Prefix, kwargs
from .structure import batch_align
from .texforms import (
    ATOM,
    HADAMARD,
    PROD,
    SUM,
    Tex,
    function,
    grouped,
    indicator,
    infix,
    prefix,
    superscript,
)

Partial = Callable[..., Node]


# -- rules from partial derivatives, the family's batching rule --------------------------------

def times_partial(g: Node, *inputs: Node, out: Node, partial: Partial) -> Node:
    """An elementwise VJP or JVP: the cotangent (or tangent) times d(out)/d(arg). A
    cotangent masked by where (the derivative of where(c, f(x), 0)) keeps its mask outside
    the product: the branch where does not take contributes exactly 0, even where f's
    derivative is inf or NaN there (sqrt at x < 0), as JAX's double-where idiom gives."""
    d = partial(*inputs, out)
    if g.op is where_op:
        c, a, b = g.inputs
        for kept, zero, first in ((a, b, True), (b, a, False)):
            if not _is_zero_literal(zero):
                continue
            product = kept * d
            if product.shape == g.shape:
                return where_op(c, product, zero) if first else where_op(c, zero, product)
    return g * d


def _from_partials(partials: tuple[Partial | None, ...]) -> tuple[Any, ...]:
    return tuple(None if p is None else functools.partial(times_partial, partial=p)
                 for p in partials)


def over_series(series: list, out: Node, *, rule: Callable, **attrs: Any) -> list:
    """A Taylor rule written over the operands' series: rule(u, out) or rule(a, b, out)."""
    return rule(*series, out)


def constant_series(*operands: Any) -> list:
    """Ops whose value is locally constant (sign, comparisons): no higher coefficients."""
    *series, out = operands
    return [out] + [None] * (len(series[0]) - 1)


def elementwise_batch(args: list[Node], batched: list[bool], out: Node, **attrs: Any) -> Node:
    """Broadcasting ops: line each batched operand's axes up with the output's."""
    aligned = [batch_align(a, out.ndim) if b else a for a, b in zip(args, batched, strict=True)]
    return out.op(*aligned, **attrs)


def _public(op: Op, nargs: int, name: str | None,
            numpy: Sequence[str] | None = None) -> Callable[..., Node]:
    if nargs == 1:
        def fn(x: object) -> Node:
            return op(lift(x))
    else:
        def fn(x: object, y: object) -> Node:
            return op(*lift_pair(x, y))
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = op.doc
    fn.op = op  # type: ignore[attr-defined]
    if name is not None:
        export(fn, name=name, op=op, numpy=numpy)
    else:
        object.__setattr__(op, "public", fn)
    return fn


def unary(name: str, impl: Callable, partial: Partial | None, *, lower: Any = None,
          accepts: str = "float", rule: Callable | None = None, taylor: Callable | None = None,
          public: bool | str = True, numpy: Sequence[str] | None = None,
          **props: Any) -> Callable[..., Node]:
    """Define a unary elementwise op; `partial(x, out)` is d(out)/dx. Where g * partial
    is wasteful, `rule(g, x, out)` gives the product directly (serving VJP and JVP alike,
    as an elementwise derivative is its own transpose). `accepts`: "float" operands only,
    "number" (int or float, as NumPy has no bool negation or square), or "any". `public`:
    export under the op's name (True), another name (a str), or not at all; `numpy`: the
    NumPy functions it stands for (see `export`)."""
    shape_rule = functools.partial(_unary_rule, name=name, accepts=accepts)
    rules = (rule,) if rule is not None else _from_partials((partial,))
    op = define(name, family="elementwise", shape_rule=shape_rule, impl=impl, vjp=rules,
                jvp=rules, lower=lower or Fixed(Call(f"np.{impl.__name__}", (A0,), out=True)),
                batch=elementwise_batch,
                taylor=None if taylor is None else functools.partial(over_series, rule=taylor),
                **props)
    return _public(op, 1, _public_name(name, public), numpy)


def _public_name(name: str, public: bool | str) -> str | None:
    return public if isinstance(public, str) else name if public else None


def _unary_rule(types: list[TensorType], inputs: list[Node], *, name: str, accepts: str,
                **attrs: Any) -> TensorType:
    if accepts == "float":
        require_float(name, inputs)
    elif accepts == "number":
        refuse_bool(name, inputs)
    return types[0]


def binary(name: str, impl: Callable, partials: tuple[Partial | None, Partial | None], *,
           symbol: str | None = None, result: str = "promote", vjp: tuple | None = None,
           taylor: Callable | None = None, bool_ok: bool = True, public: bool | str = True,
           numpy: Sequence[str] | None = None, **props: Any) -> Callable[..., Node]:
    """Define a broadcasting binary op from its two partials (or explicit linear rules),
    lowered as `a symbol b` or else as the ufunc `impl`. With `bool_ok` false, two bool
    operands are refused (NumPy has no bool subtraction, and bool ** bool is int8)."""
    rules = vjp if vjp is not None else _from_partials(partials)
    if result == "bool":
        taylor = constant_series
    ufunc = f"np.{impl.__name__}"
    lower = Fixed(Infix(symbol, A0, A1, ufunc) if symbol else Call(ufunc, (A0, A1), out=True))
    shape_rule = broadcasting_rule(name, result)
    if not bool_ok:
        shape_rule = functools.partial(_no_two_bools, name=name, promoting=shape_rule)
    op = define(name, family="elementwise", shape_rule=shape_rule, impl=impl, vjp=rules,
                jvp=rules, lower=lower, batch=elementwise_batch,
                taylor=None if taylor is None else functools.partial(over_series, rule=taylor),
                **props)
    return _public(op, 2, _public_name(name, public), numpy)


def _no_two_bools(types: list[TensorType], inputs: list[Node], *, name: str,
                  promoting: Callable, **attrs: Any) -> TensorType:
    if all(t.dtype == "bool" for t in types):
        refuse_bool(name, inputs)
    return promoting(types, inputs, **attrs)


def _sympy_fn(name: str) -> Callable[..., Any]:
    """A SymPy mapping written as a function of the sympy module and the operands."""
    return functools.partial(_sympy_call, name=name)


def _sympy_call(sp: Any, node: Node, *args: Any, name: str) -> Any:
    return _SYMPY_FORMULAS[name](sp, *args)


_SYMPY_FORMULAS: dict[str, Callable[..., Any]] = {
    "neg": lambda sp, x: -x,
    "add": lambda sp, x, y: x + y,
    "sub": lambda sp, x, y: x - y,
    "mul": lambda sp, x, y: x * y,
    "div": lambda sp, x, y: x / y,
    "pow": lambda sp, x, y: x ** y,
    "log1p": lambda sp, x: sp.log(1 + x),
    "expm1": lambda sp, x: sp.exp(x) - 1,
    "square": lambda sp, x: x ** 2,
    "sigmoid": lambda sp, x: 1 / (1 + sp.exp(-x)),
    "softplus": lambda sp, x: sp.log(1 + sp.exp(x)),
    "relu": lambda sp, x: sp.Max(x, 0),
    "where": lambda sp, c, x, y: sp.Piecewise((x, c), (y, True)),
}


# -- reference implementations that need care for stability ------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_xp(xp, x):
    """_sigmoid with the array API standard's calls (the array-API target)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_element(x, e):
    """The logistic function of one number x, given e = exp(-|x|), as `_sigmoid` computes
    it (fused kernels; the kernel computes e, with its own exp)."""
    return 1 / (1 + e) if x >= 0 else e / (1 + e)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.zeros((), dtype=np.result_type(x, np.float16)), x)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.zeros((), dtype=x.dtype))


# -- partial derivatives and Taylor rules of the unary ops --------------------------------------

def _neg_rule(g: Node, x: Node, out: Node) -> Node:
    return -g


def _neg_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.linear(u, out, neg)


def _exp_partial(x: Node, out: Node) -> Node:
    return out


def _exp_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.solve_ode(u, out, _exp_ode)


def _exp_ode(y: ts.Series, k: int) -> Node | None:
    return y[k]


def _log_partial(x: Node, out: Node) -> Node:
    return 1 / x


def _log_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.logarithm(u, out, u[0])


def _log1p_partial(x: Node, out: Node) -> Node:
    return 1 / (1 + x)


def _log1p_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.logarithm(u, out, 1 + u[0])


def _expm1_partial(x: Node, out: Node) -> Node:
    return out + 1


def _expm1_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.solve_ode(u, out, _expm1_ode)


def _expm1_ode(y: ts.Series, k: int) -> Node | None:
    return y[k] + 1 if k == 0 else y[k]


def _sqrt_partial(x: Node, out: Node) -> Node:
    return 0.5 / out


def _square_partial(x: Node, out: Node) -> Node:
    return 2 * x


def _square_series(u: ts.Series, out: Node) -> ts.Series:
    return [out] + [ts.cauchy(u, u, k) for k in range(1, len(u))]


def _abs_partial(x: Node, out: Node) -> Node:
    return sign(x)


def _abs_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.linear(u, out, functools.partial(mul, sign(u[0])))


def _sin_partial(x: Node, out: Node) -> Node:
    return cos(x)


def _sin_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.sin_cos(u, out, cos(u[0]))[0]


def _cos_partial(x: Node, out: Node) -> Node:
    return -sin(x)


def _cos_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.sin_cos(u, sin(u[0]), out)[1]


def _tan_partial(x: Node, out: Node) -> Node:
    return 1 + square(out)


def _tan_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.solve_ode(u, out, _tan_ode)


def _tan_ode(y: ts.Series, k: int) -> Node | None:
    return 1 + square(y[0]) if k == 0 else ts.cauchy(y, y, k)


def _tanh_partial(x: Node, out: Node) -> Node:
    return 1 - square(out)


def _tanh_series(u: ts.Series, out: Node) -> ts.Series:
    return ts.solve_ode(u, out, _tanh_ode)


def _tanh_ode(y: ts.Series, k: int) -> Node | None:
    return 1 - square(y[0]) if k == 0 else ts.scaled(ts.cauchy(y, y, k), -1)


def _sigmoid_partial(x: Node, out: Node) -> Node:
    """sigma(x) sigma(-x), not sigma (1 - sigma): exact where sigma rounds to 1."""
    return out * sigmoid(-x)


def _sigmoid_series(u: ts.Series, out: Node) -> ts.Series:
    """sigma' = sigma (1 - sigma) = sigma - sigma^2, with 1 - sigma(u) taken as
    sigma(-u), exact where sigma rounds to 1."""
    return ts.solve_ode(u, out, functools.partial(_sigmoid_ode, sigmoid(-u[0])))


def _sigmoid_ode(rest: Node, y: ts.Series, k: int) -> Node | None:
    return y[0] * rest if k == 0 else ts.total([y[k], ts.scaled(ts.cauchy(y, y, k), -1)])


def _softplus_partial(x: Node, out: Node) -> Node:
    return sigmoid(x)


def _softplus_series(u: ts.Series, out: Node) -> ts.Series:
    """softplus' = sigmoid."""
    slope = _sigmoid_series(u, sigmoid(u[0]))
    return ts.solve_ode(u, out, functools.partial(_coefficient, slope))


def _coefficient(series: ts.Series, y: ts.Series, k: int) -> Node | None:
    return series[k]


def _relu_rule(g: Node, x: Node, out: Node) -> Node:
    return where(x > 0, g, lift(0, g))


def _relu_series(u: ts.Series, out: Node) -> ts.Series:
    return choose(u[0] > 0, u, [None] * len(u), out)


# -- unary math ---------------------------------------------------------------------------

def _sqrt_latex(node: Node, x: Tex) -> Tex:
    return Tex(rf"\sqrt{{{x.text}}}")


def _abs_latex(node: Node, x: Tex) -> Tex:
    return Tex(rf"\left|{x.text}\right|")



neg = unary("neg", np.negative, None, lower=Fixed(Prefix("-", A0, "np.negative")),
            accepts="number", rule=_neg_rule, taylor=_neg_series, public="negative",
            to_sympy=_sympy_fn("neg"), latex=prefix("-", SUM),
            to_sympy_matrix=lambda sp, node, x: -x, doc="Elementwise -x.")
exp = unary("exp", np.exp, _exp_partial, taylor=_exp_series, positive=True, to_sympy="exp",
            latex=function(r"\exp"),
            doc="Elementwise e**x.")
log = unary("log", np.log, _log_partial, taylor=_log_series, to_sympy="log",
            latex=function(r"\log"),
            doc="Natural logarithm.")
log1p = unary("log1p", np.log1p, _log1p_partial, taylor=_log1p_series,
              to_sympy=_sympy_fn("log1p"), doc="log(1 + x), accurate near 0.")
expm1 = unary("expm1", np.expm1, _expm1_partial, taylor=_expm1_series,
              to_sympy=_sympy_fn("expm1"), doc="exp(x) - 1, accurate near 0.")
sqrt = unary("sqrt", np.sqrt, _sqrt_partial, taylor=ts.sqrt_series, to_sympy="sqrt",
             latex=_sqrt_latex,
             doc="Square root.")
square = unary("square", np.square, _square_partial, accepts="number", taylor=_square_series,
               to_sympy=_sympy_fn("square"), latex=superscript("2"), doc="x * x.")
sign = unary("sign", np.sign, None, accepts="number", taylor=constant_series, to_sympy="sign",
             doc="Sign; derivative 0 everywhere.")
abs = unary("abs", np.abs, _abs_partial, accepts="any", taylor=_abs_series,  # noqa: A001
            numpy=("abs", "absolute"),
            to_sympy="Abs", latex=_abs_latex, doc="Absolute value; derivative sign(x), so 0 at 0.")
sin = unary("sin", np.sin, _sin_partial, taylor=_sin_series, to_sympy="sin",
            latex=function(r"\sin"), doc="Sine.")
cos = unary("cos", np.cos, _cos_partial, taylor=_cos_series, to_sympy="cos",
            latex=function(r"\cos"), doc="Cosine.")
tan = unary("tan", np.tan, _tan_partial, taylor=_tan_series, to_sympy="tan",
            latex=function(r"\tan"), doc="Tangent.")
tanh = unary("tanh", np.tanh, _tanh_partial, taylor=_tanh_series, to_sympy="tanh",
             latex=function(r"\tanh"),
             doc="Hyperbolic tangent.")
sigmoid = unary("sigmoid", _sigmoid, _sigmoid_partial, lower=Fixed(Call(_sigmoid, (A0,))),
                array_api=Fixed(Call(_sigmoid_xp, (XP, A0))),
                kernel=Fixed(Call(_sigmoid_element, (A0, Call("np.exp", (
                    Prefix("-", Call("np.absolute", (A0,)), "np.negative"),))))),
                taylor=_sigmoid_series, positive=True, to_sympy=_sympy_fn("sigmoid"),
                latex=function(r"\sigma"),
                doc="Logistic function 1 / (1 + exp(-x)), stable.")
softplus = unary("softplus", _softplus, _softplus_partial, taylor=_softplus_series,
                 lower=Fixed(Call("np.logaddexp", (0.0, A0), out=True)), positive=True,
                 to_sympy=_sympy_fn("softplus"),
                 doc="log(1 + exp(x)), computed stably as logaddexp(0, x).")
relu = unary("relu", _relu, None, rule=_relu_rule, accepts="any", taylor=_relu_series,
             lower=Fixed(Call("np.maximum", (A0, 0), out=True)), to_sympy=_sympy_fn("relu"),
             doc="max(x, 0); derivative 1 for x > 0 and 0 for x <= 0 (so 0 at 0).")

# -- binary arithmetic --------------------------------------------------------------------


def _identity_rule(g: Node, x: Node, y: Node, out: Node) -> Node:
    return g


def _negated_rule(g: Node, x: Node, y: Node, out: Node) -> Node:
    return -g


def _add_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    return [out] + [ts.total(p) for p in zip(a[1:], b[1:], strict=True)]


def _sub_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    return [out] + [ts.total([p, ts.scaled(q, -1)]) for p, q in zip(a[1:], b[1:], strict=True)]


def _mul_partial_x(x: Node, y: Node, out: Node) -> Node:
    return y


def _mul_partial_y(x: Node, y: Node, out: Node) -> Node:
    return x


def _mul_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    return [out] + [ts.cauchy(a, b, k) for k in range(1, len(a))]


def _div_partial_x(x: Node, y: Node, out: Node) -> Node:
    return 1 / y


def _div_partial_y(x: Node, y: Node, out: Node) -> Node:
    return -out / y


def _mul_latex(node: Node, a: Tex, b: Tex) -> Tex:
    """A scalar factor by juxtaposition, written first (`2 \\lambda W`); a column times a
    vector as the outer product `g w^\\top`; a matrix scaled along its rows or columns by a
    vector as a product with `\\operatorname{diag}`; other arrays by the Hadamard product
    `A \\odot B`."""
    x, y = node.inputs
    if _scalar_like(y) and not _scalar_like(x):
        a, b = b, a
    if _scalar_like(x) or _scalar_like(y):
        glue = r" \cdot " if b.text[:1].isdigit() or b.text.startswith("-") else " "
        return Tex(f"{grouped(a, PROD)}{glue}{grouped(b, PROD)}", PROD)
    if x.ndim == 2 and x.shape[1] == 1 and y.ndim == 1:  # a column times a vector
        return Tex(rf"{grouped(a, PROD)} {grouped(b, ATOM)}^\top", PROD)
    if y.ndim == 2 and y.shape[1] == 1 and x.ndim == 1:
        return Tex(rf"{grouped(b, PROD)} {grouped(a, ATOM)}^\top", PROD)
    for (m, mt), (v, vt) in (((x, a), (y, b)), ((y, b), (x, a))):
        if m.ndim == 2 and m.shape[1] != 1 and v.ndim == 1 and v.shape[0] == m.shape[1]:
            return Tex(rf"{grouped(mt, PROD)} \operatorname{{diag}}\left({vt.text}\right)", PROD)
        if m.ndim == 2 and m.shape[1] != 1 and v.ndim == 2 and v.shape == (m.shape[0], 1):
            return Tex(rf"\operatorname{{diag}}\left({vt.text}\right) {grouped(mt, PROD)}", PROD)
    return infix(r"\odot", HADAMARD)(node, a, b)


def _scalar_like(node: Node, depth: int = 8) -> bool:
    """A 0-d value, perhaps broadcast or given unit axes by movement ops, or an elementwise
    op of such values (looking `depth` ops deep)."""
    while node.op is not None and node.op.movement and node.inputs:
        node = node.inputs[0]
    if all(d == 1 for d in node.shape):
        return True
    return depth > 0 and node.op is not None and node.op.elementwise and \
        all(_scalar_like(i, depth - 1) for i in node.inputs)


def _div_latex(node: Node, a: Tex, b: Tex) -> Tex:
    return Tex(rf"\frac{{{a.text}}}{{{b.text}}}")


def _pow_latex(node: Node, a: Tex, b: Tex) -> Tex:
    return superscript(b.text)(node, a)


def _same_shape(node: Node) -> bool:
    return all(i.shape == node.shape for i in node.inputs)


def _add_matrix(sp: Any, node: Node, a: Any, b: Any) -> Any:
    return a + b if _same_shape(node) else None


def _sub_matrix(sp: Any, node: Node, a: Any, b: Any) -> Any:
    return a - b if _same_shape(node) else None


def _mul_matrix(sp: Any, node: Node, a: Any, b: Any) -> Any:
    """A scalar factor, an outer product, or the Hadamard product of two arrays of one
    shape."""
    x, y = node.inputs
    if x.ndim == 0 or y.ndim == 0:
        return a * b
    if x.ndim == 2 and x.shape[1] == 1 and y.ndim == 1:  # a column times a vector
        return a @ b.T
    if y.ndim == 2 and y.shape[1] == 1 and x.ndim == 1:
        return b @ a.T
    return sp.HadamardProduct(a, b) if _same_shape(node) else None


def _div_matrix(sp: Any, node: Node, a: Any, b: Any) -> Any:
    return a / b if node.inputs[1].ndim == 0 else None


add = binary("add", np.add, (None, None), symbol="+", vjp=(_identity_rule, _identity_rule),
             taylor=_add_series, commutative=True, public="add", to_sympy=_sympy_fn("add"),
             latex=infix("+", SUM), to_sympy_matrix=_add_matrix,
             doc="x + y.")
sub = binary("sub", np.subtract, (None, None), symbol="-",
             vjp=(_identity_rule, _negated_rule), taylor=_sub_series, bool_ok=False,
             public="subtract", to_sympy=_sympy_fn("sub"),
             latex=infix("-", SUM, right_strict=True), to_sympy_matrix=_sub_matrix, doc="x - y.")
mul = binary("mul", np.multiply, (_mul_partial_x, _mul_partial_y), symbol="*",
             taylor=_mul_series, commutative=True, public="multiply", to_sympy=_sympy_fn("mul"),
             latex=_mul_latex, to_sympy_matrix=_mul_matrix,
             doc="x * y.")
div = binary("div", np.divide, (_div_partial_x, _div_partial_y), symbol="/", result="float",
             taylor=ts.divide, public="divide", to_sympy=_sympy_fn("div"), latex=_div_latex,
             to_sympy_matrix=_div_matrix,
             doc="x / y (true division).")


def _pow_series(a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """a ** b: the constant-exponent recurrence, or exp(b log a) when b varies too."""
    if all(c is None for c in b[1:]):
        p = b[0].value
        if p is not None and np.all(p == 0):
            return constant_series(a, b, out)  # x ** 0 == 1 for every x, 0 included
        if p is not None and p.size and np.all(p == p.flat[0]) and p.flat[0] == int(p.flat[0]) \
                and 0 < p.flat[0] <= 64:
            return _int_power_series(a, int(p.flat[0]), out)
        return ts.power_const(a, b[0], out)
    logs = ts.logarithm(a, log(a[0]), a[0])
    return exp.op.taylor([mul.op.taylor([b, logs], b[0] * logs[0])], out)


def _int_power_series(a: ts.Series, n: int, out: Node) -> ts.Series:
    """a ** n for a whole n > 0 by repeated squaring of the series: products only, so exact
    where a is 0 (the general recurrence divides by a's value)."""
    result: ts.Series | None = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else _mul_series(result, base, result[0] * base[0])
        n >>= 1
        if n:
            base = _mul_series(base, base, base[0] * base[0])
    return [out] + result[1:]


def _nonzero(x: Node) -> Node:
    """x with zeros replaced by ones, so that log(x) is 0 there (pow's d/dy at 0 ** y)."""
    return where(equal(x, lift(0, x)), lift(1, x), x)


def _pow_base_partial(x: Node, y: Node, out: Node) -> Node:
    """y * x**(y - 1), with a constant exponent lowered by one right away. Where y is 0
    the partial is exactly 0 (x ** 0 is constant), also at x == 0, where y * x**(y - 1)
    would be 0 * inf: a constant exponent of 0 gives a zero partial, entries of a constant
    exponent that are 0 get the exponent 0 in place of -1 (so every higher order stays
    exact), and a variable exponent selects 0 where it is 0 (as JAX does)."""
    if y.value is None:
        return where(equal(y, lift(0, y)), lift(0, out), y * x ** (y - 1))
    if np.all(y.value == 0):
        return lift(0, out)
    if np.all(y.value == 1):
        return y
    if np.all(y.value == 2):
        return y * x
    lowered = np.where(y.value == 0, 0, y.value - 1).astype(y.value.dtype)
    return y * x ** const(lowered)


def _pow_exponent_partial(x: Node, y: Node, out: Node) -> Node:
    return out * log(_nonzero(x))


pow = binary("pow", np.power, (_pow_base_partial, _pow_exponent_partial),  # noqa: A001
             symbol="**", taylor=_pow_series, bool_ok=False, public="power",
             to_sympy=_sympy_fn("pow"), latex=_pow_latex,
             doc="x ** y; d/dy is out * log(x) for x > 0 and 0 at x == 0 (where 0 ** y is "
                 "constant for y > 0), as in JAX.")


def _greater(a: Node, b: Node) -> Node:
    return a > b


def _less(a: Node, b: Node) -> Node:
    return a < b


def _choose_partial(x: Node, y: Node, out: Node, *, wins: Callable, first: bool) -> Node:
    """maximum/minimum: the winner takes the whole derivative, a tie splits it 1/2 and 1/2."""
    mine, other = (x, y) if first else (y, x)
    half = where(equal(x, y), lift(0.5, out), lift(0, out))
    return where(wins(mine, other), lift(1, out), half)


def _choose_series(a: ts.Series, b: ts.Series, out: Node, *, wins: Callable) -> ts.Series:
    """maximum/minimum follow the winner's series; a tie takes the mean of both."""
    half = [None if p is None and q is None else ts.scaled(ts.total([p, q]), 0.5)
            for p, q in zip(a, b, strict=True)]
    return choose(wins(a[0], b[0]), a, choose(equal(a[0], b[0]), half, b, out), out)


maximum = binary("maximum", np.maximum,
                 (functools.partial(_choose_partial, wins=_greater, first=True),
                  functools.partial(_choose_partial, wins=_greater, first=False)),
                 taylor=functools.partial(_choose_series, wins=_greater), commutative=True,
                 to_sympy="Max", latex=function(r"\max"),
                 doc="Elementwise maximum; a tie splits the derivative evenly.")
minimum = binary("minimum", np.minimum,
                 (functools.partial(_choose_partial, wins=_less, first=True),
                  functools.partial(_choose_partial, wins=_less, first=False)),
                 taylor=functools.partial(_choose_series, wins=_less), commutative=True,
                 to_sympy="Min", latex=function(r"\min"),
                 doc="Elementwise minimum; a tie splits the derivative evenly.")

# -- comparisons (not differentiable: their derivative is zero) ---------------------------

less = binary("less", np.less, (None, None), symbol="<", result="bool", to_sympy="Lt",
              latex=indicator("<"))
less_equal = binary("less_equal", np.less_equal, (None, None), symbol="<=", result="bool",
                    to_sympy="Le", latex=indicator(r"\le"))
greater = binary("greater", np.greater, (None, None), symbol=">", result="bool",
                 to_sympy="Gt", latex=indicator(">"))
greater_equal = binary("greater_equal", np.greater_equal, (None, None), symbol=">=",
                       result="bool", to_sympy="Ge", latex=indicator(r"\ge"))
equal = binary("equal", np.equal, (None, None), symbol="==", result="bool", commutative=True,
               to_sympy="Eq", latex=indicator("="))
not_equal = binary("not_equal", np.not_equal, (None, None), symbol="!=", result="bool",
                   commutative=True, to_sympy="Ne", latex=indicator(r"\ne"))


# -- where ----------------------------------------------------------------------------------

def _where_impl(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(cond, x, y)


def _where_zero(cond, x, x_when_true=True, out=None):
    """np.where(cond, x, 0) (or np.where(cond, 0, x)) for a float array x, into `out` when
    given. Large arrays take x's bits ANDed with a mask of all ones or all zeros made from
    cond: exact for every x (NaN, infinities, -0.0 pass through or become +0.0 just as with
    np.where) and free of the branches that make np.where slow on unpredictable masks. The
    mask starts from `cond != 0` on its bytes, so a bool array whose bytes are not 0 or 1 (a
    uint8 array viewed as bool) counts as NumPy counts it: any nonzero byte is True."""
    if x.size < 32768:
        return np.where(cond, x, 0) if x_when_true else np.where(cond, 0, x)
    flags = np.not_equal(cond.view(np.uint8), 0).view(np.int8)  # 0 or 1, whatever the bytes
    mask = np.negative(flags, out=flags) if x_when_true else np.subtract(flags, 1, out=flags)
    if out is None:
        out = np.empty_like(x)
    ints = np.dtype(f"i{x.itemsize}")
    np.bitwise_and(x.view(ints), mask, out=out.view(ints))
    return out


def _is_zero_literal(node: Node) -> bool:
    return node.value is not None and node.value.ndim == 0 and node.value == 0 \
        and not np.signbit(node.value)


def _where_lower(cond: Node, x: Node, y: Node, out: Node) -> Any:
    """where(c, x, 0.0) and where(c, 0.0, x), with x a float array of the result's shape
    and type, print as the branch-free helper `_where_zero`, which can also write into a
    buffer; everything else as np.where."""
    if out.shape and is_float(out.dtype) and cond.value is None and cond.shape == out.shape:
        for k, (kept, zero) in ((1, (x, y)), (2, (y, x))):
            if kept.value is None and kept.shape == out.shape and kept.dtype == out.dtype \
                    and _is_zero_literal(zero):
                flag = None if k == 1 else False
                return Call(_where_zero, (A0, Arg(k)), kwargs(x_when_true=flag), out=True)
    return Call("np.where", (A0, A1, Arg(2)))


def _where_vjp_x(g: Node, c: Node, x: Node, y: Node, out: Node) -> Node:
    return where(c, g, lift(0, g))


def _where_vjp_y(g: Node, c: Node, x: Node, y: Node, out: Node) -> Node:
    return where(c, lift(0, g), g)


def _where_series(series: list, out: Node) -> list:
    return choose(series[0][0], series[1], series[2], out)


def choose(cond: Node, a: ts.Series, b: ts.Series, out: Node) -> ts.Series:
    """where(cond, a, b) coefficient by coefficient (cond fixed along the series)."""
    zero = lift(0, out)
    return [out] + [None if x is None and y is None else
                    where(cond, zero if x is None else x, zero if y is None else y)
                    for x, y in zip(a[1:], b[1:], strict=True)]


def _where_latex(node: Node, c: Tex, x: Tex, y: Tex) -> Tex:
    """where(c, x, 0) is `x \\odot [c]` (the indicator of c); anything else a where()."""
    cond = c if c.text.startswith(r"\left[") else Tex(rf"\left[{c.text}\right]")
    if _is_zero_literal(node.inputs[2]):
        return infix(r"\odot", HADAMARD)(node, x, cond)
    if _is_zero_literal(node.inputs[1]):
        return infix(r"\odot", HADAMARD)(node, y, Tex(rf"\left(1 - {cond.text}\right)"))
    return function(r"\operatorname{where}")(node, c, x, y)


where_op = define(
    "where", family="elementwise", shape_rule=broadcasting_rule("where", promotes=(1, 2)),
    impl=_where_impl, vjp=(None, _where_vjp_x, _where_vjp_y),
    jvp=(None, _where_vjp_x, _where_vjp_y), lower=_where_lower, batch=elementwise_batch,
    array_api=Fixed(Call("xp.where", (A0, A1, Arg(2)))),
    kernel=Fixed(Choose(A0, A1, Arg(2))),
    taylor=_where_series, promotes=(1, 2), finite=finite_if_operands,
    to_sympy=_sympy_fn("where"),
    latex=_where_latex, doc="where(cond, x, y): x where cond is true, else y.")


@export(op=where_op)
def where(cond: object, x: object, y: object) -> Node:
    """Elementwise choice: x where cond holds, else y (broadcast together)."""
    x_node, y_node = lift_pair(x, y)
    c = lift(cond)
    if c.dtype != "bool":
        # check shapes first, so that an error names cond and not the converted node
        broadcasting_rule("where")([c.type, x_node.type, y_node.type], [c, x_node, y_node])
        c = not_equal(c, lift(0, c))
    return where_op(c, x_node, y_node)
