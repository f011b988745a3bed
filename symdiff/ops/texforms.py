"""How an op writes itself in matrix-calculus LaTeX: the `Op.latex` forms.

A form is `form(node, *operands) -> Tex`: the node (for its shapes and attributes) and the
operands' LaTeX, each a `Tex` that knows how tightly it binds, so a form parenthesizes an
operand only where the notation needs it. The factories here give the family defaults
(`\\operatorname{name}(x)`, infix operators, `\\sum` over axes, transparent movement ops);
ops with a textbook notation pass their own form to `define(..., latex=...)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Binding strength, loosest first: a relation, a sum, a Hadamard product, a product written
# by juxtaposition (matrix products, scalar factors), a superscript, an atom.
REL, SUM, HADAMARD, PROD, POW, ATOM = range(6)


@dataclass(frozen=True)
class Tex:
    """A piece of LaTeX and how tightly it binds (REL .. ATOM)."""

    text: str
    prec: int = ATOM


Form = Callable[..., Tex]


def grouped(t: Tex, prec: int) -> str:
    """`t` as an operand of something binding at `prec`: parenthesized when looser."""
    return t.text if t.prec >= prec else rf"\left({t.text}\right)"


def escape(text: str) -> str:
    """Text safe inside \\mathrm{} or \\operatorname{}."""
    return re.sub(r"([_#%&{}$])", r"\\\1", text)


def operator_name(name: str) -> str:
    return rf"\operatorname{{{escape(name)}}}"


def function(macro: str) -> Form:
    """`macro(a, b, ...)`: `\\exp\\left(x\\right)`, `\\sigma\\left(x\\right)`."""

    def form(node: Any, *args: Tex) -> Tex:
        return Tex(rf"{macro}\left({', '.join(a.text for a in args)}\right)")

    return form


def named_function(name: str) -> Form:
    """The family default of a function-like op: `\\operatorname{name}(x)`."""
    return function(operator_name(name))


def infix(symbol: str, prec: int, right_strict: bool = False) -> Form:
    """`a symbol b` binding at `prec`; with `right_strict`, a right operand binding at
    `prec` is parenthesized too (a - (b - c))."""

    def form(node: Any, a: Tex, b: Tex) -> Tex:
        right = grouped(b, prec + 1 if right_strict else prec)
        return Tex(f"{grouped(a, prec)} {symbol} {right}", prec)

    return form


def indicator(symbol: str) -> Form:
    """A comparison as its indicator: `[a > b]`, 1 where it holds, 0 elsewhere."""

    def form(node: Any, a: Tex, b: Tex) -> Tex:
        return Tex(rf"\left[{a.text} {symbol} {b.text}\right]")

    return form


def prefix(symbol: str, prec: int) -> Form:
    """`symbol x`: `-x`."""

    def form(node: Any, x: Tex) -> Tex:
        return Tex(f"{symbol}{grouped(x, prec + 1)}", prec)

    return form


def superscript(sup: str) -> Form:
    """`x^{sup}`: `x^{2}`, `X^{-1}`; a fraction in parentheses."""

    def form(node: Any, x: Tex) -> Tex:
        base = Tex(x.text, POW) if x.text.startswith("\\frac") else x
        return Tex(f"{grouped(base, ATOM)}^{{{sup}}}", POW)

    return form


def transparent(node: Any, x: Tex, *rest: Tex) -> Tex:
    """Movement ops that only add unit axes, broadcast or change dtype: the operand."""
    return x


def axes_text(node: Any) -> str | None:
    """The reduced axes as a subscript, or None when every axis is reduced."""
    axis = node.attrs.get("axis")
    ndim = node.inputs[0].ndim
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(axes) == ndim:
        return None
    return ", ".join(str(a % ndim) for a in axes)


def reduction(macro: str) -> Form:
    """A reduction: `macro_{axes}(x)`, without the subscript over every axis."""

    def form(node: Any, x: Tex) -> Tex:
        axes = axes_text(node)
        sub = "" if axes is None else f"_{{{axes}}}"
        return Tex(rf"{macro}{sub}\left({x.text}\right)")

    return form


def default_form(name: str, family: str) -> Form:
    """The family default: movement ops are transparent, reductions write `name_{axes}`,
    everything else `\\operatorname{name}(operands)`."""
    if family == "movement":
        return transparent
    if family == "source":
        return lambda node: Tex(operator_name(name))
    if family == "reduction":
        return reduction(operator_name(name))
    return named_function(name)


def number(value: Any) -> Tex:
    """A scalar as a formula writes it: 2, 0.5, -1, 10^{-8}, \\infty."""
    if isinstance(value, bool):
        return Tex(r"\mathrm{true}" if value else r"\mathrm{false}")
    if isinstance(value, int):
        return Tex(str(value), ATOM if value >= 0 else SUM)
    value = float(value)
    if value != value:
        return Tex(r"\mathrm{NaN}")
    if value in (float("inf"), float("-inf")):
        return Tex(r"\infty" if value > 0 else r"-\infty", ATOM if value > 0 else SUM)
    if value.is_integer() and abs(value) < 1e15:
        return number(int(value))
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        text = power if mantissa in ("1", "-1") else rf"{mantissa} \cdot {power}"
        if mantissa == "-1":
            text = "-" + text
        return Tex(text, SUM if text.startswith("-") else PROD)
    return Tex(text, SUM if value < 0 else ATOM)


GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
         "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "phi", "chi",
         "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi",
         "Psi", "Omega"}


def symbol(name: str) -> str:
    """A variable, label or dim name as a formula writes it: `W1` and `W_1` as `W_{1}`,
    `lam`bda as `\\lambda`, `yhat` as `\\hat{y}`, longer words upright (`\\mathrm{loss}`)."""
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+|[A-Za-z])", name) if "_" in name else \
        re.fullmatch(r"([A-Za-z]+?)(\d+)", name)
    if match:
        return f"{symbol(match.group(1))}_{{{match.group(2)}}}"
    if name in GREEK:
        return "\\" + name
    if name == "lam":
        return r"\lambda"
    if len(name) > 3 and name.endswith("hat"):
        return rf"\hat{{{symbol(name[:-3])}}}"
    if len(name) == 1 and name.isalpha():
        return name
    return rf"\mathrm{{{escape(name)}}}"
