"""Finite-difference checks of symbolic derivatives, in float64 (like JAX's check_grads).

`numerical_jvp` is a central difference of a NumPy function; `check_jvp`, `check_vjp` and
`check_transpose` compare symdiff's forward and reverse mode on a graph against it at one
point, in random directions; `check_grads` runs them to first or second order, the second
order by applying the same checks to the derivative graphs themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

import symdiff as sd
from symdiff.graph import Node

Point = Mapping[Node, np.ndarray]

DEFAULT_RTOL = 1e-6
DEFAULT_STEP = 1e-3


def numerical_jvp(fun: Callable[[dict[Node, np.ndarray]], np.ndarray], point: Point,
                  tangents: Mapping[Node, np.ndarray], step: float = DEFAULT_STEP) -> np.ndarray:
    """d/de fun(point + e * tangents) at e = 0, by the fourth-order central difference
    (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h, computed in float64."""

    def at(eps: float) -> np.ndarray:
        moved = dict(point)
        for node, t in tangents.items():
            moved[node] = np.asarray(point[node], np.float64) + eps * np.asarray(t, np.float64)
        return np.asarray(fun(moved), dtype=np.float64)

    near = at(step) - at(-step)
    far = at(2 * step) - at(-2 * step)
    return (8 * near - far) / (12 * step)


def inner(a: object, b: object) -> float:
    """<a, b> summed in float64."""
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def assert_close(actual: object, expected: object, rtol: float, what: str,
                 scale: float | None = None) -> None:
    """Elementwise |actual - expected| <= rtol * max(1, |expected|max, scale)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    size = max(1.0, float(np.max(np.abs(expected), initial=0.0)), scale or 0.0)
    err = float(np.max(np.abs(actual - expected), initial=0.0))
    assert np.all(np.isfinite(actual)), f"{what}: non-finite value {actual}"
    assert err <= rtol * size, (f"{what}: max error {err:.3g} > {rtol:g} * {size:.3g}\n"
                                f"actual:\n{actual}\nexpected:\n{expected}")


def random_like(rng: np.random.Generator, node: Node, point: Point | None = None) \
        -> np.ndarray:
    """A standard normal float64 array shaped like the node's value at `point` (so that
    symbolic dims such as "n" take the sizes the point binds)."""
    if point is not None and node in point:
        shape = np.shape(point[node])
    elif all(isinstance(d, int) for d in node.shape):
        shape = tuple(node.shape)
    else:
        shape = np.shape(sd.evaluate(node, _bind(point or {})))
    return rng.standard_normal(shape)


def _evaluator(node: Node) -> Callable[[dict[Node, np.ndarray]], np.ndarray]:
    def run(values: dict[Node, np.ndarray]) -> np.ndarray:
        return sd.evaluate(node, {k: np.asarray(v).astype(k.dtype) for k, v in values.items()
                                  if k.kind == "var"})

    return run


def _bind(point: Point) -> dict[Node, np.ndarray]:
    return {k: np.asarray(v).astype(k.dtype) for k, v in point.items()}


def check_jvp(y: Node, wrt: Sequence[Node], point: Point, rng: np.random.Generator, *,
              rtol: float = DEFAULT_RTOL, step: float = DEFAULT_STEP) -> None:
    """sd.jvp(y, w, t) agrees with the central difference of y along t, for each w alone."""
    fun = _evaluator(y)
    for w in wrt:
        t_var = sd.var(f"t_{w.display_name}", w.shape, w.dtype)
        t = random_like(rng, w, point)
        tangent = sd.jvp(y, w, t_var)
        assert tangent.shape == y.shape and tangent.dtype == y.dtype, \
            f"jvp wrt {w!r} has type {tangent.type}, {y!r} has {y.type}"
        symbolic = sd.evaluate(tangent, {**_bind(point), t_var: t})
        numeric = numerical_jvp(fun, point, {w: t}, step)
        assert symbolic.shape == numeric.shape, f"jvp shape {symbolic.shape} for {y}"
        assert_close(symbolic, numeric, rtol, f"jvp of {y!r} wrt {w.display_name}")
    if len(wrt) > 1:  # every tangent at once: the rules' contributions must add up
        t_vars = [sd.var(f"t_{w.display_name}", w.shape, w.dtype) for w in wrt]
        ts = [random_like(rng, w, point) for w in wrt]
        symbolic = sd.evaluate(sd.jvp(y, list(wrt), t_vars),
                               {**_bind(point), **dict(zip(t_vars, ts, strict=True))})
        numeric = numerical_jvp(fun, point, dict(zip(wrt, ts, strict=True)), step)
        assert_close(symbolic, numeric, rtol, f"joint jvp of {y!r}")


def check_vjp(y: Node, wrt: Sequence[Node], point: Point, rng: np.random.Generator, *,
              rtol: float = DEFAULT_RTOL, step: float = DEFAULT_STEP) -> None:
    """<vjp(y, w, c), t> agrees with <c, central difference of y along t> for each w, and
    each cotangent has w's shape and dtype."""
    fun = _evaluator(y)
    ct = sd.var("ct", y.shape, y.dtype)
    c = random_like(rng, y, point)
    pulled = sd.vjp(y, list(wrt), ct)
    values = sd.evaluate(pulled, {**_bind(point), ct: c})
    for w, node, value in zip(wrt, pulled, values, strict=True):
        assert node.shape == w.shape and node.dtype == w.dtype, \
            f"vjp wrt {w!r} has type {node.type}"
        assert value.shape == np.shape(point[w]), f"vjp value shape {value.shape} for {w!r}"
        t = random_like(rng, w, point)
        numeric = numerical_jvp(fun, point, {w: t}, step)
        terms = np.abs(np.asarray(c) * numeric).sum() + np.abs(value * t).sum()
        assert_close(inner(value, t), inner(c, numeric), rtol,
                     f"<vjp(c), t> of {y!r} wrt {w.display_name}", scale=terms)


def check_transpose(y: Node, wrt: Sequence[Node], point: Point, rng: np.random.Generator,
                    *, rtol: float | None = None) -> None:
    """<t, vjp(c)> == <jvp(t), c>: forward and reverse mode are each other's transpose
    (to rounding: 1e-10 in float64, 1e-5 where float32 is involved)."""
    if rtol is None:
        rtol = 1e-5 if "float32" in {y.dtype, *[w.dtype for w in wrt]} else 1e-10
    ct = sd.var("ct", y.shape, y.dtype)
    c = random_like(rng, y, point)
    for w in wrt:
        t_var = sd.var(f"t_{w.display_name}", w.shape, w.dtype)
        t = random_like(rng, w, point)
        back, fwd = sd.evaluate([sd.vjp(y, w, ct), sd.jvp(y, w, t_var)],
                                {**_bind(point), ct: c, t_var: t})
        terms = np.abs(back * t).sum() + np.abs(fwd * c).sum()
        assert_close(inner(t, back), inner(fwd, c), rtol,
                     f"<t, vjp(c)> vs <jvp(t), c> of {y!r} wrt {w.display_name}", scale=terms)


def check_grads(y: Node, wrt: Sequence[Node], point: Point, rng: np.random.Generator, *,
                order: int = 1, rtol: float = DEFAULT_RTOL, step: float = DEFAULT_STEP) -> None:
    """First-order checks of y; with order 2, the same checks on each first derivative:
    grad of <vjp(y, w, c), v> (reverse over reverse) and jvp of vjp(y, w, c) (forward over
    reverse), with c and v fixed random arrays."""
    check_jvp(y, wrt, point, rng, rtol=rtol, step=step)
    check_vjp(y, wrt, point, rng, rtol=rtol, step=step)
    check_transpose(y, wrt, point, rng)
    if order < 2:
        return
    ct = sd.var("c", y.shape, y.dtype)
    extended = {**point, ct: random_like(rng, y, point)}
    for w in wrt:
        first = sd.vjp(y, w, ct)
        v = sd.var("v", w.shape, w.dtype)
        dotted = sd.sum(first * v)
        at = {**extended, v: random_like(rng, w, point)}
        check_vjp(dotted, wrt, at, rng, rtol=rtol, step=step)
        check_jvp(first, wrt, extended, rng, rtol=rtol, step=step)
        check_transpose(first, wrt, extended, rng)
