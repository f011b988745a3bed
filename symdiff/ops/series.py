"""Truncated Taylor series arithmetic on graph nodes, for the ops' Taylor rules.

A series is a list [y0, y1, ..., yK] of the Taylor coefficients of y(t) = f(x + t*v)
around t = 0 (y_k = k-th derivative / k!), each a node, or None for an exact zero. Rules
are the classical recurrences of automatic differentiation (Griewank and Walther,
"Evaluating Derivatives", ch. 13): O(K^2) nodes per op, so the k-th derivative of a
composition grows polynomially in k instead of doubling with every order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..graph import Node
from .base import lift

Series = list[Node | None]


def total(terms: Sequence[Node | None]) -> Node | None:
    """Sum of the terms that are not exact zeros (None if all are)."""
    result = None
    for term in terms:
        if term is not None:
            result = term if result is None else result + term
    return result


def times(a: Node | None, b: Node | None) -> Node | None:
    return None if a is None or b is None else a * b


def scaled(a: Node | None, c: float) -> Node | None:
    if a is None or c == 0:
        return None
    return a if c == 1 else a * lift(float(c), a)


def cauchy(a: Series, b: Series, k: int, lo: int = 0) -> Node | None:
    """The k-th coefficient of a*b, from j = lo to k - lo: sum_j a_j b_{k-j}."""
    return total([times(a[j], b[k - j]) for j in range(lo, k - lo + 1)])


def linear(u: Series, out: Node, fn: Callable[[Node], Node]) -> Series:
    """Series of a map applied coefficient by coefficient (linear ops)."""
    return [out] + [None if c is None else fn(c) for c in u[1:]]


def solve_ode(u: Series, y0: Node, z: Callable[[Series, int], Node | None]) -> Series:
    """Series of y with y' = u' * z(y): y_k = (1/k) sum_{j=1..k} j u_j z_{k-j}, where
    z's k-th coefficient may use y_0..y_k (exp: z = y; tanh: z = 1 - y^2; ...)."""
    y: Series = [y0]
    zs: Series = [z(y, 0)]
    for k in range(1, len(u)):
        y.append(total([scaled(times(u[j], zs[k - j]), j / k) for j in range(1, k + 1)]))
        if k < len(u) - 1:
            zs.append(z(y, k))
    return y


def divide(a: Series, b: Series, out: Node) -> Series:
    """a / b: y_k = (a_k - sum_{j=1..k} b_j y_{k-j}) / b_0."""
    y: Series = [out]
    for k in range(1, len(a)):
        num = total([a[k]] + [scaled(times(b[j], y[k - j]), -1) for j in range(1, k + 1)])
        y.append(None if num is None else num / b[0])
    return y


def logarithm(u: Series, out: Node, u0: Node) -> Series:
    """log(u) with u's value u0: y_k = (u_k - (1/k) sum_{j=1..k-1} j y_j u_{k-j}) / u0."""
    y: Series = [out]
    for k in range(1, len(u)):
        inner = total([scaled(times(y[j], u[k - j]), -j / k) for j in range(1, k)])
        num = total([u[k], inner])
        y.append(None if num is None else num / u0)
    return y


def sqrt_series(u: Series, out: Node) -> Series:
    """sqrt(u): y_k = (u_k - sum_{j=1..k-1} y_j y_{k-j}) / (2 y_0)."""
    y: Series = [out]
    for k in range(1, len(u)):
        num = total([u[k], scaled(cauchy(y, y, k, lo=1), -1)])
        y.append(None if num is None else num / (2 * out))
    return y


def sin_cos(u: Series, s0: Node, c0: Node) -> tuple[Series, Series]:
    """sin(u) and cos(u) together: s' = u' c and c' = -u' s."""
    s: Series = [s0]
    c: Series = [c0]
    for k in range(1, len(u)):
        s.append(total([scaled(times(u[j], c[k - j]), j / k) for j in range(1, k + 1)]))
        c.append(total([scaled(times(u[j], s[k - j]), -j / k) for j in range(1, k + 1)]))
    return s, c


def sinh_cosh(u: Series, s0: Node, c0: Node) -> tuple[Series, Series]:
    """sinh(u) and cosh(u) together: s' = u' c and c' = u' s."""
    s: Series = [s0]
    c: Series = [c0]
    for k in range(1, len(u)):
        s.append(total([scaled(times(u[j], c[k - j]), j / k) for j in range(1, k + 1)]))
        c.append(total([scaled(times(u[j], s[k - j]), j / k) for j in range(1, k + 1)]))
    return s, c


def power_const(a: Series, p: Node, out: Node) -> Series:
    """a ** p for p constant along the series: k a_0 y_k = sum_j ((p + 1) j - k) a_j y_{k-j}."""
    y: Series = [out]
    for k in range(1, len(a)):
        terms = [times(times(a[j], y[k - j]), (p + 1) * j - k) for j in range(1, k + 1)]
        num = total(terms)
        y.append(None if num is None else num / (k * a[0]))
    return y
