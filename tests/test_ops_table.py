"""The op table: every op in symdiff.ops.REGISTRY, with a builder, an input sampler for its
domain and its differentiable arguments. One set of tests walks the table and checks, for
each entry, the forward value against NumPy, VJP and JVP against central differences, the
transpose identity <t, vjp(c)> = <jvp(t), c>, and second derivatives the same way.

Adding an op means adding an entry here: `test_table_covers_registry` fails otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special

import symdiff as sd
from symdiff import ops
from symdiff.graph import Node, topo_order
from symdiff.shapes import is_float
from tests.fd import assert_close, check_grads, random_like

Shape = tuple[int, ...]
Dist = Callable[[np.random.Generator, Shape], np.ndarray]
Sampler = Callable[[np.random.Generator, Sequence[Shape]], list[np.ndarray]]


# -- input distributions: keep each op inside its domain and away from its kinks ----------

def normal(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.standard_normal(shape)


def positive(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """|x| in [0.5, 1.5], either sign: far from the kink of abs/relu and from 0 for div."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape)


def uniform(lo: float, hi: float) -> Dist:
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def boolean(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.random(shape) < 0.5


def integers(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.integers(-5, 6, shape)


def spread(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Distinct values at least 0.2 apart, so max/min have no ties within a step."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.25 - size * 0.1
            + rng.uniform(-0.02, 0.02, size)).reshape(shape)


def positive_ints(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.integers(1, 4, shape)


def _clip_sample_x(rng: np.random.Generator, shapes: Sequence[Shape]) -> list[np.ndarray]:
    return [rng.choice([-1.0, 0.0, 1.0], shapes[0]) + rng.uniform(-0.3, 0.3, shapes[0])]


def each(*dists: Dist) -> Sampler:
    """Independent inputs; with one distribution, every input uses it."""

    def sample(rng: np.random.Generator, shapes: Sequence[Shape]) -> list[np.ndarray]:
        chosen = dists if len(dists) == len(shapes) else dists * len(shapes)
        return [d(rng, s) for d, s in zip(chosen, shapes, strict=True)]

    return sample


def interleaved(rng: np.random.Generator, shapes: Sequence[Shape]) -> list[np.ndarray]:
    """Two inputs on the grids 0.5 k and 0.5 k + 0.25: every pair differs by >= 0.2, so
    maximum/minimum never meet a tie under a finite-difference step."""
    x_shape, y_shape = shapes
    x = 0.5 * rng.integers(-4, 5, x_shape) + rng.uniform(-0.02, 0.02, x_shape)
    y = 0.5 * rng.integers(-4, 5, y_shape) + 0.25 + rng.uniform(-0.02, 0.02, y_shape)
    return [x, y]


# -- the table --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One table row: `build(*inputs)` must give a node whose op is `op`."""

    op: str
    label: str
    build: Callable[..., Node]
    shapes: tuple[Shape, ...]
    sample: Sampler
    diff: tuple[int, ...]
    ref: Callable[..., Any] | None
    dtypes: tuple[str, ...] = ()
    rtol: float = 1e-6
    step: float = 1e-3
    symbolic: tuple = ()  # variable shapes with symbolic dims (values use `shapes`)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label}"

    def input_dtypes(self) -> tuple[str, ...]:
        return self.dtypes or ("float64",) * len(self.shapes)


CASES: list[Case] = []


def case(op: str, label: str, build: Callable[..., Node], shapes: Sequence[Shape],
         sample: Sampler, diff: Sequence[int], ref: Callable[..., Any] | None,
         **kw: Any) -> None:
    CASES.append(Case(op, label, build, tuple(tuple(s) for s in shapes), sample,
                      tuple(diff), ref, **kw))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY: list[tuple[str, Dist, Callable]] = [
    ("neg", normal, np.negative),
    ("exp", normal, np.exp),
    ("log", positive, np.log),
    ("log1p", uniform(-0.5, 2.0), lambda x: np.log(1 + x)),
    ("expm1", normal, lambda x: np.exp(x) - 1),
    ("sqrt", positive, lambda x: x ** 0.5),
    ("square", normal, lambda x: x * x),
    ("abs", nonzero, np.abs),
    ("sin", normal, np.sin),
    ("cos", normal, np.cos),
    ("tan", uniform(-1.2, 1.2), np.tan),
    ("tanh", normal, np.tanh),
    ("sigmoid", normal, _sigmoid),
    ("softplus", normal, lambda x: np.log(1 + np.exp(x))),
    ("relu", nonzero, lambda x: np.where(x > 0, x, 0.0)),
]
for name, dist, ref in UNARY:
    fn = getattr(ops, name)
    case(name, "matrix", fn, [(3, 4)], each(dist), [0], ref)
    case(name, "scalar", fn, [()], each(dist), [0], ref)
case("sign", "matrix", ops.sign, [(3, 4)], each(nonzero), [], np.sign)
for name, dist, ref in [("sinh", normal, np.sinh), ("cosh", normal, np.cosh),
                        ("arctan", normal, np.arctan), ("arcsin", uniform(-0.9, 0.9), np.arcsin),
                        ("arccos", uniform(-0.9, 0.9), np.arccos), ("log2", positive, np.log2),
                        ("log10", positive, np.log10), ("erf", normal, scipy.special.erf),
                        ("arcsinh", normal, np.arcsinh), ("arccosh", uniform(1.2, 3.0),
                                                           np.arccosh),
                        ("arctanh", uniform(-0.8, 0.8), np.arctanh), ("exp2", normal, np.exp2)]:
    case(name, "matrix", getattr(ops, name), [(3, 4)], each(dist), [0], ref)
    case(name, "scalar", getattr(ops, name), [()], each(dist), [0], ref)
case("erf", "tails", ops.erf, [(6,)], lambda rng, shapes: [np.array([-6.0, -2.5, -2.0, 1.99,
                                                                     3.5, 7.0])],
     [0], scipy.special.erf)


def halves_away(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Values at least 0.1 from the jumps of floor, ceil and round (integers, halves)."""
    return rng.integers(-6, 6, shape) * 0.5 + rng.uniform(0.1, 0.4, shape)


for name in ("floor", "ceil", "round"):
    case(name, "matrix", getattr(ops, name), [(3, 4)], each(halves_away), [],
         getattr(np, name))
case("round", "halves-to-even", ops.round, [(4,)],
     lambda rng, shapes: [np.array([0.5, 1.5, 2.5, -0.5])], [], lambda x: [0.0, 2.0, 2.0, -0.0])
case("round", "int64", ops.round, [(3,)], each(integers), [], lambda x: x, dtypes=("int64",))
case("stop_gradient", "matrix", ops.stop_gradient, [(3, 4)], each(normal), [], lambda x: x)

# Broadcasting pairs for every binary op: equal shapes, (3,1) with (1,4), scalar with
# matrix (both ways) and a vector against a matrix.
BROADCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3), ()), ((4,), (3, 4))]
BINARY: list[tuple[str, Sampler, Callable]] = [
    ("add", each(normal), np.add),
    ("sub", each(normal), np.subtract),
    ("mul", each(normal), np.multiply),
    ("div", each(normal, nonzero), np.divide),
    ("pow", each(positive, uniform(-1.5, 1.5)), lambda x, y: np.exp(y * np.log(x))),
    ("maximum", interleaved, lambda x, y: np.where(x > y, x, y)),
    ("minimum", interleaved, lambda x, y: np.where(x < y, x, y)),
]
for name, sampler, ref in BINARY:
    for sx, sy in BROADCAST:
        case(name, f"{sx}x{sy}", getattr(ops, name), [sx, sy], sampler, [0, 1], ref)
for sx, sy in BROADCAST:
    case("logaddexp", f"{sx}x{sy}", ops.logaddexp, [sx, sy], each(normal), [0, 1],
         lambda x, y: np.log(np.exp(x) + np.exp(y)))
    case("mod", f"{sx}x{sy}", ops.mod, [sx, sy], each(uniform(0.1, 0.9), uniform(1.0, 2.0)),
         [0, 1], np.fmod)
    case("floor_divide", f"{sx}x{sy}", ops.floor_divide, [sx, sy],
         each(uniform(0.1, 0.9), uniform(1.0, 2.0)), [], lambda x, y: np.zeros(np.broadcast(
             x, y).shape))
for sx, sy in BROADCAST[:3]:
    case("logaddexp2", f"{sx}x{sy}", ops.logaddexp2, [sx, sy], each(normal), [0, 1],
         lambda x, y: np.log2(2 ** x + 2 ** y))
    case("hypot", f"{sx}x{sy}", ops.hypot, [sx, sy], each(nonzero), [0, 1],
         lambda x, y: np.sqrt(x * x + y * y))
    case("arctan2", f"{sx}x{sy}", ops.arctan2, [sx, sy], each(normal, nonzero), [0, 1],
         lambda y, x: np.angle(x + 1j * y))
case("arctan2", "every quadrant", ops.arctan2, [(4,), (4,)],
     lambda rng, shapes: [np.array([0.5, 0.5, -0.5, -0.5]), np.array([1.0, -1.0, 1.0, -1.0])],
     [0, 1], lambda y, x: np.angle(x + 1j * y))
case("mul", "deg2rad", ops.deg2rad, [(3,)], each(normal), [0], lambda x: x / 180 * np.pi)
case("mul", "rad2deg", ops.rad2deg, [(3,)], each(normal), [0], lambda x: x * 180 / np.pi)
case("logaddexp", "far apart", ops.logaddexp, [(4,), (4,)],
     lambda rng, shapes: [np.array([-800.0, 0.0, 800.0, 30.0]), np.array([0.0, 800.0, 799.0,
                                                                            -30.0])],
     [0, 1], lambda x, y: np.maximum(x, y) + np.log1p(np.exp(-np.abs(x - y))))
case("mod", "signs", lambda x, y: x % y, [(6,), (6,)],
     lambda rng, shapes: [np.array([5.3, -5.3, 5.3, -5.3, 2.2, 0.7]),
                          np.array([2.0, 2.0, -2.0, -2.0, 0.5, 3.0])],
     [0, 1], lambda x, y: x - np.floor(x / y) * y)
case("mod", "scalar-divisor", lambda x: x % 1.5, [(3, 4)], each(uniform(-4.0, 4.0)), [0],
     lambda x: x - np.floor(x / 1.5) * 1.5, step=1e-4)
case("floor_divide", "operator", lambda x, y: x // y, [(6,), (6,)],
     lambda rng, shapes: [np.array([5.3, -5.3, 5.3, -5.3, 2.2, 0.7]),
                          np.array([2.0, 2.0, -2.0, -2.0, 0.5, 3.0])],
     [], lambda x, y: np.floor(x / y))
case("floor_divide", "int64", lambda x, y: x // y, [(4,), (4,)], each(integers, positive_ints),
     [], np.floor_divide, dtypes=("int64", "int64"))
case("div", "reciprocal", ops.reciprocal, [(3, 4)], each(nonzero), [0], lambda x: 1 / x)


def _clip_sample(rng: np.random.Generator, shapes: Sequence[Shape]) -> list[np.ndarray]:
    """x spread over [-3, 3], lo near -1 and hi near 1, x at least 0.05 from either."""
    x_shape, lo_shape, hi_shape = shapes
    lo = -1 + rng.uniform(-0.2, 0.2, lo_shape)
    hi = 1 + rng.uniform(-0.2, 0.2, hi_shape)
    x = rng.choice([-2.5, -0.5, 0.0, 0.5, 2.5], x_shape) + rng.uniform(-0.2, 0.2, x_shape)
    return [x, lo, hi]


for shapes in [((3, 4), (3, 4), (3, 4)), ((3, 4), (), ()), ((3, 4), (4,), (3, 1)),
               ((), (3,), (3,))]:
    case("clip", f"{shapes}", ops.clip, shapes, _clip_sample, [0, 1, 2], np.clip)
case("clip", "lo>hi", ops.clip, [(4,), (4,), (4,)],
     lambda rng, shapes: [np.array([-2.0, 0.1, 1.3, 3.0]), np.full(4, 1.0), np.full(4, 0.5)],
     [0, 1, 2], np.clip)
case("clip", "one-sided", lambda x: ops.clip(x, None, 0.5), [(3, 4)], _clip_sample_x,
     [0], lambda x: np.clip(x, None, 0.5))
case("pow", "negative-base-int-exponent", lambda x: x ** 3.0, [(3, 4)], each(normal), [0],
     lambda x: x * x * x)
case("pow", "const-base", lambda y: 2.0 ** y, [(3, 4)], each(normal), [0],
     lambda y: np.exp(y * np.log(2.0)))

COMPARISONS = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]
for name in COMPARISONS:
    for sx, sy in [((3, 4), (3, 4)), ((3, 1), (1, 4))]:
        case(name, f"{sx}x{sy}", getattr(ops, name), [sx, sy], each(normal), [],
             getattr(np, name))
case("equal", "ties", ops.equal, [(6,), (6,)],
     lambda rng, shapes: [np.arange(6.0), np.array([0.0, 5, 2, 1, 4, 0])], [], np.equal)

for sc, sx, sy in [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), ()), ((), (3, 4), (4,))]:
    case("where", f"{sc}{sx}{sy}", ops.where, [sc, sx, sy], each(boolean, normal, normal),
         [1, 2], lambda c, x, y: np.choose(c.astype(int), [np.broadcast_to(y, np.broadcast(
             c, x, y).shape), np.broadcast_to(x, np.broadcast(c, x, y).shape)]),
         dtypes=("bool", "float64", "float64"))

# Reductions over a (2, 3, 4) operand, several axis and keepdims choices.
AXES = [(None, False), (1, False), ((0, 2), True), (-1, False), (None, True)]
REDUCTIONS: list[tuple[str, Dist, Callable]] = [
    ("sum", normal, np.sum),
    ("mean", normal, lambda x, axis, keepdims: np.sum(x, axis, keepdims=keepdims)
     / (x.size / np.sum(np.ones_like(x), axis, keepdims=keepdims).size)),
    ("max", spread, np.max),
    ("min", spread, np.min),
    ("prod", nonzero, np.prod),
    ("logsumexp", normal,
     lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis, keepdims=keepdims))),
]
for name, dist, ref in REDUCTIONS:
    for axis, keep in AXES:
        case(name, f"axis={axis},keepdims={keep}",
             lambda x, _n=name, _a=axis, _k=keep: getattr(ops, _n)(x, _a, _k),
             [(2, 3, 4)], each(dist), [0],
             lambda x, _r=ref, _a=axis, _k=keep: _r(x, axis=_a, keepdims=_k))
    case(name, "vector", getattr(ops, name), [(5,)], each(dist), [0],
         lambda x, _r=ref: _r(x, axis=None, keepdims=False))

for axis, keep in AXES:
    for ddof in (0, 1):
        case("variance", f"axis={axis},keepdims={keep},ddof={ddof}",
             lambda x, _a=axis, _k=keep, _d=ddof: ops.variance(x, _a, _d, _k), [(2, 3, 4)],
             each(normal), [0], lambda x, _a=axis, _k=keep, _d=ddof: np.var(
                 x, axis=_a, ddof=_d, keepdims=_k))
case("variance", "vector", ops.variance, [(5,)], each(normal), [0], np.var)
case("variance", "size-1 axis", lambda x: ops.variance(x, 1), [(3, 1)], each(normal), [0],
     lambda x: np.zeros(3))
case("sqrt", "std", lambda x: ops.std(x, 0, 1), [(4, 3)], each(normal), [0],
     lambda x: np.std(x, 0, ddof=1))
for ord in (None, 1, np.inf):
    for axis, shape, keep in [(None, (5,), False), (0, (4, 3), False), (-1, (2, 3, 4), True)]:
        case("norm", f"ord={ord},axis={axis},keepdims={keep}",
             lambda x, _o=ord, _a=axis, _k=keep: ops.norm(x, _o, _a, _k), [shape],
             each(spread if ord == np.inf else nonzero), [0],
             lambda x, _o=ord, _a=axis, _k=keep: np.linalg.norm(x, _o, _a, _k))
case("variance", "symbolic,axis=0,ddof=1", lambda x: ops.variance(x, 0, 1), [(4, 3)],
     each(normal), [0], lambda x: np.var(x, 0, ddof=1), symbolic=(("n", 3),))
case("clip", "symbolic", ops.clip, [(4, 3), (3,), ()], _clip_sample, [0, 1, 2], np.clip,
     symbolic=(("n", 3), (3,), ()))
case("erf", "symbolic", ops.erf, [(4, 3)], each(normal), [0], scipy.special.erf,
     symbolic=(("n", 3),))
case("norm", "frobenius", ops.norm, [(3, 4)], each(normal), [0], np.linalg.norm)
case("norm", "symbolic,axis=1", lambda x: ops.norm(x, axis=1), [(4, 3)], each(normal), [0],
     lambda x: np.linalg.norm(x, axis=1), symbolic=(("n", 3),))
for axis, shape in [(None, (3, 4)), (0, (3, 4)), (-1, (2, 3, 4)), (0, (5,))]:
    case("cumsum", f"{shape},axis={axis}", lambda x, _a=axis: ops.cumsum(x, _a), [shape],
         each(normal), [0], lambda x, _a=axis: np.cumsum(x, _a))
case("cumsum", "symbolic", lambda x: ops.cumsum(x, 0), [(4, 3)], each(normal), [0],
     lambda x: np.cumsum(x, 0), symbolic=(("n", 3),))
case("cumsum", "bool", lambda x: ops.cumsum(x, 0), [(5,)], each(boolean), [],
     lambda x: np.cumsum(x, 0), dtypes=("bool",))


def _np_softmax(x, axis):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


for axis, shape in [(-1, (3, 4)), (0, (3, 4)), ((1, 2), (2, 3, 4)), (0, (5,))]:
    case("softmax", f"{shape},axis={axis}", lambda x, _a=axis: ops.softmax(x, _a), [shape],
         each(normal), [0], lambda x, _a=axis: _np_softmax(x, _a))
    case("log_softmax", f"{shape},axis={axis}", lambda x, _a=axis: ops.log_softmax(x, _a), [shape],
         each(normal), [0], lambda x, _a=axis: np.log(_np_softmax(x, _a)))

# Structure: transpose, reshape, broadcast_to, expand_dims, concatenate, stack, indexing.
case("transpose", "default", ops.transpose, [(3, 4)], each(normal), [0], lambda x: x.T)
case("transpose", "axes=(1,2,0)", lambda x: ops.transpose(x, (1, 2, 0)), [(2, 3, 4)],
     each(normal), [0], lambda x: np.moveaxis(x, 0, -1))
case("transpose", "x.T-3d", lambda x: x.T, [(2, 3, 4)], each(normal), [0],
     lambda x: np.einsum("ijk->kji", x))
for src, dst in [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((6,), (2, 3)), ((), (1, 1)),
                 ((2, 3, 4), (4, -1, 2))]:
    case("reshape", f"{src}->{dst}", lambda x, _d=dst: ops.reshape(x, _d), [src],
         each(normal), [0], lambda x, _d=dst: np.reshape(x, _d))
for src, dst in [((3, 1), (2, 3, 4)), ((), (2, 3)), ((4,), (3, 4)), ((1, 4), (3, 4))]:
    case("broadcast_to", f"{src}->{dst}", lambda x, _d=dst: ops.broadcast_to(x, _d), [src],
         each(normal), [0], lambda x, _d=dst: x * np.ones(_d))
for axis, want in [(0, (1, 3, 4)), ((0, 3), (1, 3, 4, 1)), (-1, (3, 4, 1))]:
    case("expand_dims", f"axis={axis}", lambda x, _a=axis: ops.expand_dims(x, _a), [(3, 4)],
         each(normal), [0], lambda x, _w=want: np.reshape(x, _w))
case("concatenate", "axis=0", lambda a, b: ops.concatenate([a, b], 0), [(2, 3), (4, 3)],
     each(normal), [0, 1], lambda a, b: np.vstack([a, b]))
case("concatenate", "three,axis=1", lambda a, b, c: ops.concatenate([a, b, c], axis=-1),
     [(2, 3), (2, 1), (2, 2)], each(normal), [0, 1, 2], lambda a, b, c: np.hstack([a, b, c]))
case("stack", "axis=0", lambda a, b: ops.stack([a, b]), [(3,), (3,)], each(normal), [0, 1],
     lambda a, b: np.array([a, b]))
case("stack", "three,axis=-1", lambda a, b, c: ops.stack([a, b, c], axis=-1),
     [(2, 3), (2, 3), (2, 3)], each(normal), [0, 1, 2],
     lambda a, b, c: np.moveaxis(np.array([a, b, c]), 0, -1))
for axis, shape in [(None, (3, 4)), (0, (3, 4)), ((0, 2), (2, 3, 4)), (-1, (5,))]:
    case("flip", f"{shape},axis={axis}", lambda x, _a=axis: ops.flip(x, _a), [shape],
         each(normal), [0], lambda x, _a=axis: np.flip(x, _a))
case("flip", "symbolic", lambda x: ops.flip(x, 0), [(4, 3)], each(normal), [0],
     lambda x: x[::-1], symbolic=(("n", 3),))
# NumPy's array functions built from the ops above: rows under the op each one builds.
for axis, shape in [(None, (1, 3, 1)), (0, (1, 3)), ((0, 2), (1, 3, 1))]:
    case("reshape", f"squeeze{shape},axis={axis}", lambda x, _a=axis: ops.squeeze(x, _a),
         [shape], each(normal), [0], lambda x, _a=axis: np.squeeze(x, _a))
case("transpose", "swapaxes(0,2)", lambda x: ops.swapaxes(x, 0, 2), [(2, 3, 4)],
     each(normal), [0], lambda x: np.swapaxes(x, 0, 2))
for src, dst in [(0, -1), ((0, 1), (2, 0)), (-1, 0)]:
    case("transpose", f"moveaxis({src},{dst})", lambda x, _s=src, _d=dst: ops.moveaxis(x, _s, _d),
         [(2, 3, 4)], each(normal), [0], lambda x, _s=src, _d=dst: np.moveaxis(x, _s, _d))
for reps, shape in [((2, 3), (3, 4)), (2, (3,)), ((2, 1, 2), (3, 4)), ((2, 1), (3, 4, 2))]:
    case("reshape", f"tile{shape}x{reps}", lambda x, _r=reps: ops.tile(x, _r), [shape],
         each(normal), [0], lambda x, _r=reps: np.tile(x, _r))
for repeats, axis, shape in [(2, None, (3, 4)), (3, 0, (3, 4)), (2, -1, (2, 3, 2))]:
    case("reshape", f"repeat{shape}x{repeats},axis={axis}",
         lambda x, _r=repeats, _a=axis: ops.repeat(x, _r, _a), [shape], each(normal), [0],
         lambda x, _r=repeats, _a=axis: np.repeat(x, _r, _a))
case("concatenate", "repeat(3,2)x(2,0,1),axis=0", lambda x: ops.repeat(x, (2, 0, 1), 0),
     [(3, 2)], each(normal), [0], lambda x: np.repeat(x, (2, 0, 1), 0))
for width, value in [(1, 0.0), (((1, 2), (0, 3)), -1.5), ((2, 0), 0.0)]:
    case("concatenate", f"pad{width},{value}",
         lambda x, _w=width, _v=value: ops.pad(x, _w, constant_values=_v), [(3, 4)],
         each(normal), [0], lambda x, _w=width, _v=value: np.pad(x, _w, constant_values=_v))
for pieces, axis, shape, part in [(3, 0, (6, 2), 1), ([1, 3], 1, (2, 5), 2),
                                  ([2, -1], 0, (5,), 1)]:
    case("getitem", f"split{shape},{pieces},axis={axis}[{part}]",
         lambda x, _p=pieces, _a=axis, _i=part: ops.split(x, _p, _a)[_i], [shape],
         each(normal), [0], lambda x, _p=pieces, _a=axis, _i=part: np.split(x, _p, _a)[_i])
case("mul", "outer", ops.outer, [(3,), (2, 2)], each(normal), [0, 1], np.outer)
for sa, sb in [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,))]:
    case("einsum", f"inner{sa}{sb}", ops.inner, [sa, sb], each(normal), [0, 1], np.inner)
for sa, sb, axes in [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 2), ([0, 1], [1, 0])),
                     ((3, 4), (2, 5), 0), ((2, 3, 4), (4, 3), ([1, 2], [1, 0]))]:
    case("einsum", f"tensordot{sa}{sb},axes={axes}",
         lambda a, b, _x=axes: ops.tensordot(a, b, _x), [sa, sb], each(normal), [0, 1],
         lambda a, b, _x=axes: np.tensordot(a, b, _x))
for sa, sb in [((2, 3, 4), (4,)), ((2, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((3, 4), (2, 4, 5))]:
    case("einsum", f"dot{sa}{sb}", ops.dot, [sa, sb], each(normal), [0, 1], np.dot)
for k, shape in [(0, (3, 3)), (1, (3, 4)), (-1, (4, 3))]:
    case("einsum", f"diag{shape},k={k}", lambda x, _k=k: ops.diag(x, _k), [shape],
         each(normal), [0], lambda x, _k=k: np.diag(x, _k))
case("einsum", "trace symbolic(n,n)", ops.trace, [(3, 3)], each(normal), [0], np.trace,
     symbolic=(("n", "n"),))
case("einsum", "diag symbolic(n,n)", ops.diag, [(3, 3)], each(normal), [0], np.diag,
     symbolic=(("n", "n"),))
case("mul", "diag(3,)", ops.diag, [(3,)], each(normal), [0], np.diag)
case("concatenate", "diag(3,),k=-2", lambda x: ops.diag(x, -2), [(3,)], each(normal), [0],
     lambda x: np.diag(x, -2))
for offset, axes, shape in [(0, (0, 1), (3, 3)), (1, (0, 1), (3, 4)), (-1, (2, 0), (3, 2, 4))]:
    case("einsum", f"trace{shape},offset={offset},axes={axes}",
         lambda x, _o=offset, _a=axes: ops.trace(x, _o, *_a), [shape], each(normal), [0],
         lambda x, _o=offset, _a=axes: np.trace(x, _o, *_a))

INDEXES: list[tuple[str, Callable[[Any], Any], Shape]] = [
    ("[1]", lambda x: x[1], (4, 5)),
    ("[:,1:3]", lambda x: x[:, 1:3], (4, 5)),
    ("[None,::2]", lambda x: x[None, ::2], (4, 5)),
    ("[...,-1]", lambda x: x[..., -1], (4, 5)),
    ("[1,None,:2]", lambda x: x[1, None, :2], (4, 5)),
    ("[::-1,3]", lambda x: x[::-1, 3], (4, 5)),
    ("[1,...,2:]", lambda x: x[1, ..., 2:], (2, 3, 4)),
    ("[-2]", lambda x: x[-2], (5,)),
]
for label, index, shape in INDEXES:
    case("getitem", label, index, [shape], each(normal), [0], index)


def _np_unindex(g, index, shape):
    out = np.zeros(shape)
    out[index] = g
    return out


UNINDEXES = [  # (normalized index, the same as a Python index, operand shape, result shape)
    (((1, 3, None),), np.s_[1:3], (2, 5), (4, 5)),
    ((2,), np.s_[2], (5,), (4, 5)),
    (((None, None, None), (None, None, -2)), np.s_[:, ::-2], (4, 3), (4, 5)),
    ((None, (None, None, 2)), np.s_[None, ::2], (1, 2, 5), (4, 5)),
]
for index, py_index, g_shape, shape in UNINDEXES:
    case("unindex", str(py_index), lambda g, _i=index, _s=shape: ops.unindex(g, _i, _s),
         [g_shape], each(normal), [0], lambda g, _i=py_index, _s=shape: _np_unindex(g, _i, _s))

case("astype", "float64->float32", lambda x: ops.astype(x, "float32"), [(3, 4)],
     each(normal), [0], lambda x: x.astype(np.float32), rtol=1e-5, step=0.5)
case("astype", "float32->float64", lambda x: ops.astype(x, "float64"), [(3, 4)],
     each(normal), [0], lambda x: x.astype(np.float64), dtypes=("float32",), rtol=1e-5,
     step=0.5)
case("astype", "int64->float64", lambda x: ops.astype(x, "float64"), [(3, 4)],
     each(integers), [], lambda x: x * 1.0, dtypes=("int64",))
case("astype", "float64->bool", lambda x: ops.astype(x, bool), [(3, 4)], each(nonzero), [],
     lambda x: x != 0)
case("zeros", "(2,3)", lambda: ops.zeros((2, 3)), [], each(), [], lambda: np.zeros((2, 3)))
case("zeros", "float32-scalar", lambda: ops.zeros((), "float32"), [], each(), [],
     lambda: np.float32(0))
case("eye", "n=3", lambda: ops.eye(3), [], each(), [], lambda: np.eye(3))
case("eye", "float32", lambda: ops.eye(2, "float32"), [], each(), [],
     lambda: np.eye(2, dtype=np.float32))
case("dim_size", "axis=(0,1)", lambda x: ops.dim_size(x, (0, 1)), [(2, 3, 4)], each(normal),
     [], lambda x: np.float64(6))
case("dim_size", "axis=(2,)", lambda x: ops.dim_size(x, (2,)), [(2, 3, 4)], each(normal),
     [], lambda x: np.float64(4))

# Contractions: matmul's vector, matrix and batched forms; a few einsum subscripts.
MATMULS = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
           ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
           ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((3, 4), (2, 4, 5))]
for sa, sb in MATMULS:
    case("matmul", f"{sa}@{sb}", ops.matmul, [sa, sb], each(normal), [0, 1],
         lambda a, b: np.einsum("...ij,...jk->...ik", a[None, :] if a.ndim == 1 else a,
                                b[:, None] if b.ndim == 1 else b).reshape(np.matmul(a, b).shape))
case("matmul", "dot-vectors", ops.dot, [(4,), (4,)], each(normal), [0, 1],
     lambda a, b: np.sum(a * b))
EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,j,k->ik", [(3, 4), (4,), (2,)]),
    ("ij,j->j", [(3, 4), (4,)]),
    ("i,j", [(3,), (4,)]),
    ("ijk,ik", [(2, 3, 4), (2, 4)]),
]
EINSUMS += [("...ij,jk->...ik", [(2, 3, 4), (4, 2)]), ("...ij,jk", [(2, 2, 3), (3, 2)]),
            ("i...,i...", [(2, 3), (2, 1)]), ("bi,...i->...b", [(2, 3), (4, 3)]),
            ("ij,jk", [(2, 1), (3, 4)]), ("...ii->...i", [(2, 3, 3)]),
            ("...j,j...", [(2, 3), (3, 2)])]
EINSUMS += [("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("iij->j", [(2, 2, 3)]),
            ("ij,jj->i", [(2, 3), (3, 3)]), ("iii->i", [(2, 2, 2)]), ("ii", [(3, 3)])]
for subscripts, shapes in EINSUMS:
    case("einsum", subscripts, lambda *xs, _s=subscripts: ops.einsum(_s, *xs), shapes,
         each(normal), range(len(shapes)),
         lambda *xs, _s=subscripts: np.einsum(_s, *xs, optimize=False))



# Convolution and pooling (ops/conv.py): conv1d/conv2d are einsums of unfold (im2col), the
# pools reductions over unfold's window axes; every stride, padding, dilation and groups
# form against a direct loop over output positions (PyTorch's semantics).

def _np_pairs(padding, kernel, dilation):
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return [(t // 2, t - t // 2) for t in totals]
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    items = (padding,) * len(kernel) if isinstance(padding, int) else padding
    return [(p, p) for p in items]


def _np_windows(x, kernel, stride, pairs, dilation, fill=0.0):
    """Each window of x (N, C, *size) as an array (N, C, *kernel), by output position."""
    x = np.pad(x, [(0, 0), (0, 0)] + list(pairs), constant_values=fill)
    nd = len(kernel)
    places = [(x.shape[2 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
              for a in range(nd)]
    found = {}
    for pos in np.ndindex(*places):
        index = tuple(slice(p * s, p * s + d * (k - 1) + 1, d)
                      for p, s, d, k in zip(pos, stride, dilation, kernel, strict=True))
        found[pos] = x[(slice(None), slice(None)) + index]
    return places, found


def _np_conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    nd = w.ndim - 2
    stride = (stride,) * nd if isinstance(stride, int) else stride
    dilation = (dilation,) * nd if isinstance(dilation, int) else dilation
    kernel = w.shape[2:]
    places, windows = _np_windows(x, kernel, stride, _np_pairs(padding, kernel, dilation),
                                  dilation)
    o, cg = w.shape[:2]
    y = np.zeros((x.shape[0], o, *places))
    for pos, patch in windows.items():
        for j in range(o):
            g = j // (o // groups)
            part = patch[:, g * cg:(g + 1) * cg]
            y[(slice(None), j) + pos] = np.sum(part * w[j], axis=tuple(range(1, nd + 2)))
    return y


def _np_pool(x, kernel, stride, padding, reduce, fill):
    kernel = (kernel,) * 2 if isinstance(kernel, int) else kernel
    stride = kernel if stride is None else (stride,) * 2 if isinstance(stride, int) else stride
    places, windows = _np_windows(x, kernel, stride, _np_pairs(padding, kernel, (1, 1)),
                                  (1, 1), fill)
    y = np.zeros(x.shape[:2] + tuple(places))
    for pos, patch in windows.items():
        y[(Ellipsis,) + pos] = reduce(patch, axis=(2, 3))
    return y


CONVS = [  # (x shape, w shape, keywords)
    ((2, 3, 6, 5), (4, 3, 3, 2), {}),
    ((2, 4, 7, 6), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2),
                                   "groups": 2}),
    ((1, 2, 5, 5), (3, 2, 3, 3), {"padding": "same"}),
    ((2, 2, 5, 6), (2, 2, 2, 2), {"padding": "same", "dilation": 2}),
    ((1, 2, 6, 6), (2, 2, 3, 3), {"stride": 2, "padding": "valid"}),
]
for xs, ws, kw in CONVS:
    case("reshape" if kw.get("groups", 1) > 1 else "einsum", f"conv2d{xs}*{ws},{kw}",
         lambda x, w, _k=kw: ops.conv2d(x, w, **_k), [xs, ws], each(normal), [0, 1],
         lambda x, w, _k=kw: _np_conv(x, w, **_k))
for xs, ws, kw in [((2, 3, 7), (4, 3, 3), {}),
                   ((2, 4, 9), (4, 1, 2), {"stride": 2, "padding": 1, "dilation": 3,
                                           "groups": 4}),
                   ((1, 2, 6), (3, 2, 4), {"padding": "same"})]:
    case("reshape" if kw.get("groups", 1) > 1 else "einsum", f"conv1d{xs}*{ws},{kw}",
         lambda x, w, _k=kw: ops.conv1d(x, w, **_k), [xs, ws], each(normal), [0, 1],
         lambda x, w, _k=kw: _np_conv(x, w, **_k))
case("einsum", "conv2d symbolic batch", lambda x, w: ops.conv2d(x, w, padding=1),
     [(3, 2, 4, 4), (3, 2, 3, 3)], each(normal), [0, 1],
     lambda x, w: _np_conv(x, w, padding=1), symbolic=(("n", 2, 4, 4), (3, 2, 3, 3)))
case("reshape", "conv2d groups symbolic batch",
     lambda x, w: ops.conv2d(x, w, groups=2), [(3, 4, 4, 4), (2, 2, 3, 3)], each(normal),
     [0, 1], lambda x, w: _np_conv(x, w, groups=2), symbolic=(("n", 4, 4, 4), (2, 2, 3, 3)))
for kernel, stride, padding, shape in [(2, None, 0, (2, 3, 4, 6)), ((3, 2), 1, (1, 0),
                                                                    (1, 2, 5, 4)),
                                       (3, 2, 1, (2, 2, 5, 5))]:
    label = f"{shape},k={kernel},s={stride},p={padding}"
    case("transpose", f"max_pool2d{label}",
         lambda x, _k=kernel, _s=stride, _p=padding: ops.max_pool2d(x, _k, _s, _p), [shape],
         each(spread), [0],
         lambda x, _k=kernel, _s=stride, _p=padding: _np_pool(x, _k, _s, _p, np.max, -np.inf))
    case("transpose", f"avg_pool2d{label}",
         lambda x, _k=kernel, _s=stride, _p=padding: ops.avg_pool2d(x, _k, _s, _p), [shape],
         each(normal), [0],
         lambda x, _k=kernel, _s=stride, _p=padding: _np_pool(x, _k, _s, _p, np.mean, 0.0))
def _np_layer_norm(x, axis, eps):
    centered = x - np.mean(x, axis, keepdims=True)
    return centered / np.sqrt(np.mean(centered ** 2, axis, keepdims=True) + eps)


for axis, eps, shape in [(-1, 1e-5, (3, 5)), ((1, 2), 0.1, (2, 3, 4)), (0, 1e-5, (4,))]:
    case("div", f"layer_norm{shape},axis={axis},eps={eps}",
         lambda x, _a=axis, _e=eps: ops.layer_norm(x, _a, _e), [shape], each(normal), [0],
         lambda x, _a=axis, _e=eps: _np_layer_norm(x, _a, _e))


def _causal_softmax(x, fill):
    n = x.shape[-1]
    mask = ops.arange(n)[:, None] >= ops.arange(n)[None, :]
    return ops.softmax(ops.where(mask, x, fill), -1)


def _np_causal_softmax(x):
    keep = np.tril(np.ones(x.shape[-2:], bool))
    e = np.where(keep, np.exp(x - np.max(np.where(keep, x, -np.inf), -1, keepdims=True)), 0)
    return e / np.sum(e, -1, keepdims=True)


for fill in (-np.inf, -3e4):  # -3e4 stays finite in float16
    case("softmax", f"causal,fill={fill}", lambda x, _f=fill: _causal_softmax(x, _f),
         [(2, 4, 4)], each(normal), [0], _np_causal_softmax)
case("softmax", "causal,large logits", lambda x: _causal_softmax(x, -np.inf), [(4, 4)],
     each(uniform(-300.0, 300.0)), [0], _np_causal_softmax)
UNFOLDS = [  # (operand shape, kernel, stride, padding pairs, dilation)
    ((2, 5, 4), (2, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((2, 3, 6, 5), (3, 2), (2, 1), ((1, 2), (0, 1)), (1, 2)),
    ((3, 7), (3,), (2,), ((1, 1),), (2,)),
]
for shape, kernel, stride, pads, dilation in UNFOLDS:
    geometry = {"kernel": kernel, "stride": stride, "padding": pads, "dilation": dilation}
    case("unfold", f"{shape},{geometry}", lambda x, _g=geometry: ops.conv.unfold_op(x, **_g),
         [shape], each(normal), [0],
         lambda x, _g=geometry: _np_unfold_loops(x, **_g))
    cols = ops.conv.unfold_op(sd.var("x", shape), **geometry)
    case("fold", f"{cols.shape},{geometry}",
         lambda c, _g=geometry, _s=shape: ops.conv.fold_op(c, size=_s[-len(_g["kernel"]) - 1:],
                                                           **_g),
         [cols.shape], each(normal), [0],
         lambda c, _g=geometry, _s=shape: _np_fold(c, _s, **_g))


def _np_unfold_loops(x, kernel, stride, padding, dilation, fill=0.0):
    """unfold by a loop over window positions: (..., C, *size) -> (..., *places, C, *kernel)."""
    lead = x.shape[:-len(kernel) - 1]
    flat = x.reshape((-1,) + x.shape[len(lead):])
    places, windows = _np_windows(flat, kernel, stride, padding, dilation, fill)
    out = np.zeros((flat.shape[0], *places, flat.shape[1], *kernel))
    for pos, patch in windows.items():
        out[(slice(None),) + pos] = patch
    return out.reshape(lead + out.shape[1:])


def _np_fold(cols, shape, kernel, stride, padding, dilation):
    """fold as the transpose of unfold's matrix, built column by column from unit inputs."""
    size = int(np.prod(shape))
    matrix = np.stack([_np_unfold_loops(e.reshape(shape), kernel, stride, padding,
                                        dilation).ravel() for e in np.eye(size)], axis=1)
    return (matrix.T @ cols.ravel()).reshape(shape)

# Edge cases: one variable in several argument slots, size-1 and empty axis lists, more
# index and einsum forms, and inputs far out where a naive formula overflows.
case("mul", "x*x", lambda x: x * x, [(3, 4)], each(normal), [0], lambda x: x ** 2)
case("div", "x/x", lambda x: x / x, [(3,)], each(nonzero), [0], lambda x: x / x)
case("pow", "x**x", lambda x: x ** x, [(3,)], each(positive), [0], lambda x: np.exp(x * np.log(x)))
case("pow", "x**-1", lambda x: x ** -1, [(3,)], each(nonzero), [0], lambda x: 1 / x)
case("pow", "x**0.5", lambda x: x ** 0.5, [(3,)], each(positive), [0], np.sqrt)
case("matmul", "x@x.T", lambda x: x @ x.T, [(3, 4)], each(normal), [0], lambda x: x @ x.T)
case("concatenate", "[x,x]", lambda x: ops.concatenate([x, x], 1), [(2, 3)], each(normal),
     [0], lambda x: np.hstack([x, x]))
case("stack", "scalars", lambda a, b: ops.stack([a, b, a]), [(), ()], each(normal), [0, 1],
     lambda a, b: np.array([a, b, a]))
case("where", "same-branch", lambda c, x: ops.where(c, x, -x), [(3, 4), (3, 4)],
     each(boolean, normal), [1], lambda c, x: np.where(c, x, -x), dtypes=("bool", "float64"))
case("einsum", "ij,jk->ki", lambda a, b: ops.einsum("ij,jk->ki", a, b), [(3, 4), (4, 2)],
     each(normal), [0, 1], lambda a, b: (a @ b).T)
case("einsum", "i,i,i->i", lambda x: ops.einsum("i,i,i->i", x, x, x), [(3,)], each(normal),
     [0], lambda x: x ** 3)
case("sum", "axis=()", lambda x: ops.sum(x, ()), [(2, 3)], each(normal), [0], lambda x: x)
case("sum", "size-1 axis", lambda x: ops.sum(x, 1), [(3, 1, 2)], each(normal), [0],
     lambda x: x[:, 0, :])
case("max", "size-1 axis,keepdims", lambda x: ops.max(x, 1, True), [(3, 1)], each(spread), [0],
     lambda x: x)
case("softmax", "size-1 axis", lambda x: ops.softmax(x, 1), [(3, 1)], each(normal), [0],
     lambda x: np.ones_like(x))
case("broadcast_to", "(1,3,1)->(2,3,4)", lambda x: ops.broadcast_to(x, (2, 3, 4)), [(1, 3, 1)],
     each(normal), [0], lambda x: np.broadcast_to(x, (2, 3, 4)))
for label, index, shape in [("[1:-1:2]", lambda x: x[1:-1:2], (6,)),
                            ("[-3:]", lambda x: x[-3:], (5,)),
                            ("[:,None]", lambda x: x[:, None], (3, 2)),
                            ("[2:0:-1,...]", lambda x: x[2:0:-1, ...], (4, 2))]:
    case("getitem", label, index, [shape], each(normal), [0], index)
case("logsumexp", "large", lambda x: ops.logsumexp(x, 1), [(2, 3)], each(uniform(995, 1000)),
     [0], lambda x: x.max(1) + np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)))
case("log_softmax", "large", ops.log_softmax, [(2, 3)], each(uniform(995, 1000)), [0],
     lambda x: x - x.max(1, keepdims=True)
     - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)))
case("softmax", "large", ops.softmax, [(2, 3)], each(uniform(995, 1000)), [0],
     lambda x: np.exp(x - x.max(1, keepdims=True))
     / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True))
case("sigmoid", "far out", ops.sigmoid, [(4,)],
     lambda rng, shapes: [np.array([-40.0, -30.0, 30.0, 40.0])], [0],
     lambda x: np.where(x > 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x))))
case("softplus", "far out", ops.softplus, [(4,)],
     lambda rng, shapes: [np.array([-800.0, -40.0, 40.0, 800.0])], [0],
     lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))

N3 = ("n", 3)


# Integer indexing: gather (x[idx], x[:, i, j], take, take_along_axis), its adjoint
# scatter_add (repeated indices accumulate) and arange.
def index_values(size: int, lo: int = -1) -> Dist:
    """Integers in [lo * size, size): negative indices count from the end, as in NumPy."""
    return lambda rng, shape: rng.integers(lo * size, size, shape)


case("gather", "x[idx]", lambda x, i: x[i], [(5, 3), (4,)], each(normal, index_values(5)),
     [0], lambda x, i: x[i], dtypes=("float64", "int64"))
case("gather", "x[:,i,j] repeated", lambda x, i, j: x[:, i, j], [(2, 3, 4, 2), (5, 1), (3,)],
     each(normal, index_values(3, 0), index_values(4)), [0], lambda x, i, j: x[:, i, j],
     dtypes=("float64", "int64", "int64"))
case("gather", "take axis=1", lambda x, i: ops.take(x, i, axis=1), [(2, 4), (2, 3)],
     each(normal, index_values(4)), [0], lambda x, i: np.take(x, i, axis=1),
     dtypes=("float64", "int64"))
case("gather", "take_along_axis", lambda x, i: ops.take_along_axis(x, i, 1), [(4, 3), (4, 1)],
     each(normal, index_values(3, 0)), [0], lambda x, i: np.take_along_axis(x, i, 1),
     dtypes=("float64", "int64"))
case("gather", "symbolic logp[arange(n), labels]",
     lambda x, i: x[ops.arange("n"), i], [(4, 3), (4,)], each(normal, index_values(3, 0)),
     [0], lambda x, i: x[np.arange(4), i], dtypes=("float64", "int64"), symbolic=(N3, ("n",)))
case("scatter_add", "repeated", lambda g, i: ops.gather.scatter_add_op(g, i, start=0,
                                                                       shape=(3, 2)),
     [(5, 2), (5,)], each(normal, index_values(3, 0)), [0],
     lambda g, i: _np_scatter(g, i, (3, 2)), dtypes=("float64", "int64"))
case("arange", "symbolic", lambda x: ops.arange(x.shape[0]), [(4, 3)], each(normal), [],
     lambda x: np.arange(4), symbolic=(N3,))  # x only gives n


def _np_scatter(g, i, shape):
    out = np.zeros(shape)
    np.add.at(out, i, g)
    return out


# Symbolic dims: the variables have shapes such as ("n", 3); the values bind n = 4 (or 5).
case("mean", "symbolic,axis=0", lambda x: ops.mean(x, 0), [(4, 3)], each(normal), [0],
     lambda x: x.mean(0), symbolic=(N3,))
case("mean", "symbolic,all,keepdims", lambda x: ops.mean(x, keepdims=True), [(4, 3)],
     each(normal), [0], lambda x: x.mean(keepdims=True), symbolic=(N3,))
case("sum", "symbolic,axis=0", lambda x: ops.sum(x, 0), [(4, 3)], each(normal), [0],
     lambda x: x.sum(0), symbolic=(N3,))
case("max", "symbolic,axis=0", lambda x: ops.max(x, 0), [(4, 3)], each(spread), [0],
     lambda x: x.max(0), symbolic=(N3,))
case("prod_others", "axis=(0,2)", lambda x: ops.reductions.prod_others(x, (0, 2)), [(2, 3, 4)],
     each(normal), [0], lambda x: _np_prod_others(x, (0, 2)))
case("prod_others", "two directions", lambda x, s, t: ops.reductions.prod_others_op(
    x, s, t, axis=(1,)), [(2, 4), (2, 4), (2, 4)], each(normal), [0, 1, 2],
     lambda x, s, t: _np_prod_others_jet(x, s, t))


def _np_prod_others(x, axis):
    """prod of the others by brute force: the group's product with each element set to 1."""
    out = np.empty_like(x)
    for i in np.ndindex(x.shape):
        y = x.copy()
        y[i] = 1.0
        out[i] = np.prod(y, axis=axis, keepdims=True)[tuple(
            0 if a in axis else i[a] for a in range(x.ndim))]
    return out


def _np_prod_others_jet(x, s, t):
    """d^2/de1 de2 of prod_{j != k}(x_j + e1 s_j + e2 t_j) along axis 1, by brute force."""
    out = np.zeros_like(x)
    for row in range(x.shape[0]):
        for k in range(x.shape[1]):
            for i in range(x.shape[1]):
                for j in range(x.shape[1]):
                    if len({i, j, k}) == 3:
                        rest = [x[row, q] for q in range(x.shape[1]) if q not in (i, j, k)]
                        out[row, k] += s[row, i] * t[row, j] * np.prod(rest)
    return out


case("prod", "symbolic,axis=1", lambda x: ops.prod(x, 1), [(4, 3)], each(nonzero), [0],
     lambda x: x.prod(1), symbolic=(N3,))
case("logsumexp", "symbolic,axis=0", lambda x: ops.logsumexp(x, 0, True), [(4, 3)],
     each(normal), [0], lambda x: np.log(np.exp(x).sum(0, keepdims=True)), symbolic=(N3,))
case("softmax", "symbolic", ops.softmax, [(4, 3)], each(normal), [0],
     lambda x: _np_softmax(x, -1), symbolic=(N3,))
case("add", "symbolic(n,1)x(1,3)", ops.add, [(4, 1), (1, 3)], each(normal), [0, 1], np.add,
     symbolic=(("n", 1), (1, 3)))
case("mul", "symbolic(n,3)x(3,)", ops.mul, [(4, 3), (3,)], each(normal), [0, 1], np.multiply,
     symbolic=(N3, (3,)))
case("div", "symbolic(n,3)x(n,1)", ops.div, [(4, 3), (4, 1)], each(normal, nonzero), [0, 1],
     np.divide, symbolic=(N3, ("n", 1)))
case("matmul", "symbolic(n,3)@(3,2)", ops.matmul, [(4, 3), (3, 2)], each(normal), [0, 1],
     np.matmul, symbolic=(N3, (3, 2)))
case("matmul", "symbolic(n,3)@(3,)", ops.matmul, [(4, 3), (3,)], each(normal), [0, 1],
     np.matmul, symbolic=(N3, (3,)))
case("matmul", "symbolic(3,n)@(n,)", ops.matmul, [(3, 4), (4,)], each(normal), [0, 1],
     np.matmul, symbolic=((3, "n"), ("n",)))
case("einsum", "symbolic ni,ij->nj", lambda a, b: ops.einsum("ni,ij->nj", a, b),
     [(4, 3), (3, 2)], each(normal), [0, 1], lambda a, b: a @ b, symbolic=(N3, (3, 2)))
case("where", "symbolic", ops.where, [(4, 1), (3,), (4, 3)], each(boolean, normal, normal),
     [1, 2], lambda c, x, y: np.where(c, x, y), dtypes=("bool", "float64", "float64"),
     symbolic=(("n", 1), (3,), N3))
case("getitem", "symbolic[:,1]", lambda x: x[:, 1], [(4, 3)], each(normal), [0],
     lambda x: x[:, 1], symbolic=(N3,))
case("getitem", "symbolic[None,:,1:]", lambda x: x[None, :, 1:], [(4, 3)], each(normal), [0],
     lambda x: x[None, :, 1:], symbolic=(N3,))
case("transpose", "symbolic", ops.transpose, [(4, 3)], each(normal), [0], lambda x: x.T,
     symbolic=(N3,))
case("reshape", "symbolic(n,3)->(n,3,1)", lambda x: ops.reshape(x, ("n", 3, 1)), [(4, 3)],
     each(normal), [0], lambda x: x[:, :, None], symbolic=(N3,))
case("broadcast_to", "symbolic(3,)->(n,3)", lambda x, y: ops.broadcast_to(x, y.shape),
     [(3,), (4, 3)], each(normal), [0], lambda x, y: np.broadcast_to(x, y.shape),
     symbolic=((3,), N3))  # y only gives its shape: n is bound by y's value
case("expand_dims", "symbolic", lambda x: ops.expand_dims(x, 1), [(4, 3)], each(normal), [0],
     lambda x: x[:, None], symbolic=(N3,))
case("concatenate", "symbolic,axis=1", lambda a, b: ops.concatenate([a, b], 1),
     [(4, 3), (4, 2)], each(normal), [0, 1], lambda a, b: np.hstack([a, b]),
     symbolic=(N3, ("n", 2)))
case("stack", "symbolic", lambda a, b: ops.stack([a, b], 1), [(4, 3), (4, 3)], each(normal),
     [0, 1], lambda a, b: np.stack([a, b], 1), symbolic=(N3, N3))
case("dim_size", "symbolic", lambda x: ops.dim_size(x, (0, 1)), [(5, 3)], each(normal), [],
     lambda x: np.float64(15), symbolic=(N3,))
case("sigmoid", "symbolic", ops.sigmoid, [(4, 3)], each(normal), [0], _sigmoid,
     symbolic=(N3,))
case("zeros", "symbolic", lambda x: ops.zeros(x.shape), [(4, 3)], each(normal), [],
     lambda x: np.zeros(x.shape), symbolic=(N3,))


# sorting: distinct values (spread), so the permutation is fixed within a difference step
case("sort", "last axis", ops.sort, [(3, 4)], each(spread), [0], lambda x: np.sort(x))
case("sort", "axis=0", lambda x: ops.sort(x, 0), [(3, 4)], each(spread), [0],
     lambda x: np.sort(x, 0))
case("sort", "axis=None", lambda x: ops.sort(x, None), [(2, 3)], each(spread), [0],
     lambda x: np.sort(x, None))
case("sort", "vector", ops.sort, [(5,)], each(spread), [0], np.sort)
case("sort", "symbolic", lambda x: ops.sort(x, 0), [(4, 3)], each(spread), [0],
     lambda x: np.sort(x, 0), symbolic=(N3,))
case("sort", "partition kth=1", lambda x: ops.partition(x, 1), [(3, 5)], each(spread), [0],
     lambda x: np.partition(x, 1))
case("sort", "partition kth=(0,-1),axis=0", lambda x: ops.partition(x, (0, -1), 0), [(4, 3)],
     each(spread), [0], lambda x: np.partition(x, (0, -1), 0))
case("argsort", "last axis", ops.argsort, [(3, 4)], each(spread), [],
     lambda x: np.argsort(x, kind="stable"))
case("argsort", "ties stable", lambda x: ops.argsort(x, 0), [(6, 2)],
     lambda rng, shapes: [rng.integers(0, 3, shapes[0]) * 1.0], [],
     lambda x: np.argsort(x, 0, kind="stable"))
case("argsort", "argpartition", lambda x: ops.argpartition(x, 2), [(2, 5)], each(spread), [],
     lambda x: np.argpartition(x, 2))


# Linear algebra (symdiff/ops/decompositions.py): well-conditioned samplers, SPD matrices
# for cholesky, eigenvalues and singular values kept apart (their vectors' derivatives
# divide by the gaps). Multi-output ops have a row per output.

def _orthogonal(rng: np.random.Generator, batch: Shape, n: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q


def well_conditioned(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """A random matrix plus 2 n I: eigenvalues far from 0."""
    return rng.standard_normal(shape) + 2 * shape[-1] * np.eye(shape[-1])


def spd(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Q diag(1, 2, ..., n) Q^T + a small non-symmetric part (its symmetric part matters
    only): SPD, eigenvalues about 1 apart."""
    n = shape[-1]
    q = _orthogonal(rng, shape[:-2], n)
    return (q * np.arange(1.0, n + 1)[..., None, :]) @ np.swapaxes(q, -1, -2) \
        + 0.05 * rng.standard_normal(shape)


def spread_singular(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """U diag(k, ..., 2, 1) V^T: singular values 1 apart."""
    m, n = shape[-2:]
    k = min(m, n)
    u = _orthogonal(rng, shape[:-2], m)[..., :k]
    v = _orthogonal(rng, shape[:-2], n)[..., :k]
    return (u * np.arange(k, 0, -1.0)[..., None, :]) @ np.swapaxes(v, -1, -2)


def _signed(v: np.ndarray) -> np.ndarray:
    """Columns with entries summing to >= 0 (symdiff's eigenvector and singular vector
    sign convention)."""
    return np.where(v.sum(axis=-2, keepdims=True) < 0, -v, v)


def _ref_svd(a: np.ndarray, k: int) -> np.ndarray:
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    flip = u.sum(axis=-2) < 0
    return [np.where(flip[..., None, :], -u, u), s, np.where(flip[..., :, None], -vh, vh)][k]


def _sym(a: np.ndarray) -> np.ndarray:
    return (a + np.swapaxes(a, -1, -2)) / 2


for shape_a, shape_b in [((3, 3), (3, 2)), ((2, 3, 3), (3, 1)), ((3, 3), (2, 3, 2))]:
    tag = f"{shape_a}x{shape_b}"
    case("solve", tag, sd.linalg.solve, [shape_a, shape_b], each(well_conditioned, normal),
         [0, 1], np.linalg.solve)
    case("solve_triangular", f"lower {tag}", sd.linalg.solve_triangular, [shape_a, shape_b],
         each(well_conditioned, normal), [0, 1], lambda a, b: np.linalg.solve(np.tril(a), b))
case("getitem", "solve vector", sd.linalg.solve, [(3, 3), (3,)], each(well_conditioned, normal),
     [0, 1], np.linalg.solve)
case("getitem", "solve_triangular upper vector",
     lambda a, b: sd.linalg.solve_triangular(a, b, lower=False), [(3, 3), (3,)],
     each(well_conditioned, normal), [0, 1], lambda a, b: np.linalg.solve(np.triu(a), b))
for shape in [(3, 3), (2, 3, 3)]:
    case("inv", f"{shape}", sd.linalg.inv, [shape], each(well_conditioned), [0],
         np.linalg.inv)
    case("det", f"{shape}", sd.linalg.det, [shape], each(spd), [0], np.linalg.det)
    case("slogdet", f"sign {shape}", lambda a: sd.linalg.slogdet(a)[0], [shape],
         each(well_conditioned), [], lambda a: np.linalg.slogdet(a)[0])
    case("slogdet", f"logabsdet {shape}", lambda a: sd.linalg.slogdet(a)[1], [shape],
         each(well_conditioned), [0], lambda a: np.linalg.slogdet(a)[1])
    case("cholesky", f"{shape}", sd.linalg.cholesky, [shape], each(spd), [0],
         lambda a: np.linalg.cholesky(_sym(a)))
    case("eigh", f"eigenvalues {shape}", lambda a: sd.linalg.eigh(a)[0], [shape], each(spd),
         [0], lambda a: np.linalg.eigh(_sym(a))[0])
    case("eigh", f"eigenvectors {shape}", lambda a: sd.linalg.eigh(a)[1], [shape], each(spd),
         [0], lambda a: _signed(np.linalg.eigh(_sym(a))[1]))
case("cholesky", "symbolic", sd.linalg.cholesky, [(4, 4)], each(spd), [0],
     lambda a: np.linalg.cholesky(_sym(a)), symbolic=(("n", "n"),))
case("solve_triangular", "symbolic", sd.linalg.solve_triangular, [(4, 4), (4, 2)],
     each(well_conditioned, normal), [0, 1], lambda a, b: np.linalg.solve(np.tril(a), b),
     symbolic=(("n", "n"), ("n", 2)))
case("eigh", "eigenvectors symbolic", lambda a: sd.linalg.eigh(a)[1], [(4, 4)], each(spd),
     [0], lambda a: _signed(np.linalg.eigh(_sym(a))[1]), symbolic=(("n", "n"),))
case("slogdet", "negative det", lambda a: sd.linalg.slogdet(a)[1], [(3, 3)],
     lambda rng, shapes: [well_conditioned(rng, (3, 3)) * np.array([[-1.0], [1], [1]])], [0],
     lambda a: np.linalg.slogdet(a)[1])
for shape in [(3, 3), (4, 2), (2, 4), (2, 3, 2)]:
    for k, part in enumerate(("U", "S", "Vh")):
        case("svd", f"{part} {shape}", lambda a, k=k: sd.linalg.svd(a)[k], [shape],
             each(spread_singular), [0], lambda a, k=k: _ref_svd(a, k))


def _scan_rnn(h, xs, u):
    """A tanh recurrence through scan: the final carry (its ys feed the loss below)."""
    return sd.scan(lambda c, x: (sd.tanh(c @ u + x), sd.sum(c)), h, xs)[0]


def _np_scan_rnn(h, xs, u):
    for x in xs:
        h = np.tanh(h @ u + x)
    return h


case("scan", "tanh recurrence", _scan_rnn, [(3,), (4, 3), (3, 3)], each(normal, normal,
     uniform(-0.5, 0.5)), [0, 1, 2], _np_scan_rnn)


# -- the walk ---------------------------------------------------------------------------------

def _instance(c: Case, rng: np.random.Generator) -> tuple[list[Node], Node, dict[Node, Any]]:
    """Input variables, the op's node, and a point in the op's domain."""
    var_shapes = c.symbolic or c.shapes
    inputs = [sd.var(f"x{i}", s, d) for i, (s, d) in enumerate(zip(var_shapes, c.input_dtypes(),
                                                                    strict=True))]
    values = [np.asarray(v).astype(d) for v, d in zip(c.sample(rng, c.shapes),
                                                      c.input_dtypes(), strict=True)]
    return inputs, c.build(*inputs), dict(zip(inputs, values, strict=True))


def test_table_covers_registry():
    tested = {c.op for c in CASES}
    missing = sorted(set(ops.library_ops()) - tested)
    assert not missing, f"ops without an entry in the op table: {missing}"
    unknown = sorted(tested - set(ops.library_ops()))
    assert not unknown, f"table entries for ops that are not registered: {unknown}"


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_builder_makes_its_op(c: Case, rng):
    """Each row builds the op it claims (so the coverage test means something)."""
    _, y, _ = _instance(c, rng)
    assert y.kind == "op" and y.op.name == c.op, f"{c.id} built {y!r}"


@pytest.mark.parametrize("c", [c for c in CASES if c.ref is not None], ids=lambda c: c.id)
def test_forward_matches_numpy(c: Case, rng):
    inputs, y, point = _instance(c, rng)
    got = sd.evaluate(y, point)
    want = np.asarray(c.ref(*[point[i] for i in inputs]))
    assert got.shape == want.shape, f"{c.id}: {got.shape} vs {want.shape}"
    assert all(d == g for d, g in zip(y.shape, got.shape, strict=True) if isinstance(d, int))
    assert got.dtype == np.dtype(y.dtype)
    if want.dtype == bool:
        assert np.array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12 if got.dtype == np.float64 else 1e-6,
                                   atol=1e-14)


DIFFERENTIABLE = [c for c in CASES if c.diff]


@pytest.mark.parametrize("c", DIFFERENTIABLE, ids=lambda c: c.id)
def test_first_order(c: Case, rng):
    """VJP and JVP against central differences, and against each other (transpose)."""
    inputs, y, point = _instance(c, rng)
    check_grads(y, [inputs[i] for i in c.diff], point, rng, order=1, rtol=c.rtol,
                step=c.step)


@pytest.mark.parametrize("c", DIFFERENTIABLE, ids=lambda c: c.id)
def test_second_order(c: Case, rng):
    """grad of <vjp(c), v> and jvp of vjp against central differences of the first
    derivative, for every pair of differentiable arguments."""
    inputs, y, point = _instance(c, rng)
    check_grads(y, [inputs[i] for i in c.diff], point, rng, order=2, rtol=c.rtol,
                step=c.step)


@pytest.mark.parametrize("c", [c for c in CASES if c.shapes and len(c.diff) < len(c.shapes)],
                         ids=lambda c: c.id)
def test_nondifferentiable_arguments_contribute_nothing(c: Case, rng):
    """A float argument the op is not differentiable in gets zeros from both modes."""
    inputs, y, point = _instance(c, rng)
    as_float = y if is_float(y.dtype) else sd.astype(y, "float64")
    for i, x in enumerate(inputs):
        if i in c.diff or not is_float(x.dtype):
            continue
        for out in {y, as_float}:
            ct = sd.var("ct", out.shape, out.dtype)
            t = sd.var("t", x.shape, x.dtype)
            c_value = random_like(rng, out, point)
            c_value = c_value > 0 if out.dtype == "bool" else c_value.astype(out.dtype)
            back, fwd = sd.evaluate([sd.vjp(out, x, ct), sd.jvp(out, x, t)],
                                    {**point, ct: c_value, t: random_like(rng, x, point)})
            assert back.shape == point[x].shape and not back.any(), f"{c.id}: vjp {back}"
            assert fwd.shape == c_value.shape and not fwd.any(), f"{c.id}: jvp {fwd}"


@pytest.mark.parametrize("make", [lambda: ops.zeros(("n", 2)), lambda: ops.eye(2)],
                         ids=["zeros", "eye"])
def test_constant_ops_have_no_inputs_and_contribute_nothing(make):
    z = make()
    assert z.inputs == () and z.op.vjp == () and z.op.jvp == ()
    x = sd.var("x", z.shape)
    cost = sd.sum(x * 3.0 + z)
    value, tangent = sd.evaluate([sd.grad(cost, x), sd.jvp(cost, x, x)], {x: np.ones((2, 2))})
    np.testing.assert_array_equal(value, np.full((2, 2), 3.0))
    assert tangent == 12.0

F32_CASES = [c for c in CASES if c.diff and c.op != "astype"]


@pytest.mark.parametrize("c", F32_CASES, ids=lambda c: c.id)
def test_float32_derivatives_stay_float32(c: Case, rng):
    """Built on float32 inputs, the op and every node of its first and second derivative
    graphs are float32 (no silent float64 promotion inside a rule), and evaluate agrees."""
    dtypes = tuple("float32" if d == "float64" else d for d in c.input_dtypes())
    c32 = Case(c.op, c.label, c.build, c.shapes, c.sample, c.diff, c.ref, dtypes=dtypes,
               symbolic=c.symbolic)
    inputs, y, point = _instance(c32, rng)
    assert y.dtype == "float32", f"{c.id}: {y!r}"
    wrt = [inputs[i] for i in c.diff]
    ct = sd.var("ct", y.shape, "float32")
    ts = [sd.var(f"t{i}", w.shape, "float32") for i, w in enumerate(wrt)]
    back = sd.vjp(y, wrt, ct)
    fwd = sd.jvp(y, wrt, ts)
    second = sd.grad(sd.sum(sd.sum(back[0] * back[0]) + fwd * fwd), wrt)
    outputs = [*back, fwd, *second]
    wide = [n for n in topo_order(outputs) if n.dtype == "float64"]
    assert not wide, f"{c.id}: float64 nodes in a float32 derivative graph: {wide[:3]}"
    values = {**point, ct: random_like(rng, y, point).astype(np.float32)}
    values |= {t: random_like(rng, w, point).astype(np.float32) for t, w in zip(ts, wrt)}
    for value in sd.evaluate(outputs, values):
        assert value.dtype == np.float32


def test_reductions_of_a_bool_array_have_numpys_dtype():
    """sum and prod of bools count in int64; max and min stay bool (they were promised
    int64, so evaluate refused the bool NumPy gives)."""
    b = sd.var("b", (2, 3), "bool")
    bv = np.array([[True, False, True], [True, True, True]])
    for fn in (ops.sum, ops.prod, ops.max, ops.min):
        out = fn(b, axis=-1)
        want = getattr(np, fn.__name__)(bv, axis=-1)
        assert out.dtype == want.dtype.name
        got = sd.evaluate(out, {b: bv})
        assert got.dtype == want.dtype and np.array_equal(got, want)
        assert np.array_equal(sd.function([b], out)(bv), want)


# -- float16: every op keeps float16 and stays accurate to float16 precision ------------------

# Every family; not astype (its rows convert to a fixed dtype) and not partition, whose
# order of the elements other than the kth NumPy leaves unspecified (it differs between
# float16 and float64, so the two graphs need not agree there).
# astype converts to another dtype; NumPy's linear algebra refuses float16 (as symdiff's)
F16_SKIP_OPS = {"astype", "solve", "solve_triangular", "inv", "det", "slogdet", "cholesky",
                "eigh", "svd"}
# Rows sampled near 800 or 1000: float16 spaces such numbers 0.5 apart, so the rounded
# output a rule reuses (exp(x - logsumexp)) is off by a quarter; float16 cannot do better.
F16_OUT_OF_RANGE = {"logaddexp-far apart", "logsumexp-large", "log_softmax-large",
                    "softmax-large"}
def _uses_linalg(c: Case) -> bool:
    """A row whose graph goes through linear algebra (a getitem of a solve, say)."""
    shapes = c.symbolic or c.shapes
    inputs = [sd.var(f"x{i}", s, d) for i, (s, d) in enumerate(zip(shapes, c.input_dtypes(),
                                                                    strict=True))]
    return any(n.op is not None and n.op.name in F16_SKIP_OPS - {"astype"}
               for n in topo_order([c.build(*inputs)]))


F16_CASES = [c for c in CASES if c.diff and c.op not in F16_SKIP_OPS and not _uses_linalg(c)
             and c.id not in F16_OUT_OF_RANGE and "partition" not in c.label]
F16_RTOL = 2e-2  # float16 has an 11-bit significand: about 3 decimal digits


def _as_dtype(c: Case, dtype: str) -> Case:
    dtypes = tuple(dtype if d == "float64" else d for d in c.input_dtypes())
    return Case(c.op, c.label, c.build, c.shapes, c.sample, c.diff, c.ref, dtypes=dtypes,
                symbolic=c.symbolic)


@pytest.mark.parametrize("c", F16_CASES, ids=lambda c: c.id)
def test_float16_value_and_first_derivative(c: Case, rng):
    """Built on float16 inputs, the op's value and its VJP and JVP are float16 and agree
    with the float64 graph at the same (float16-rounded) point to float16 accuracy."""
    inputs16, y16, point16 = _instance(_as_dtype(c, "float16"), rng)
    inputs64 = [sd.var(f"w{i}", x.shape, "float64" if x.dtype == "float16" else x.dtype)
                for i, x in enumerate(inputs16)]
    y64 = c.build(*inputs64)
    point64 = {w: point16[x].astype(w.dtype) for w, x in zip(inputs64, inputs16, strict=True)}
    assert y16.dtype == "float16", f"{c.id}: {y16!r}"
    wrt16, wrt64 = [inputs16[i] for i in c.diff], [inputs64[i] for i in c.diff]
    ct16 = sd.var("ct", y16.shape, "float16")
    ts16 = [sd.var(f"t{i}", w.shape, "float16") for i, w in enumerate(wrt16)]
    ct64 = sd.var("ct64", y64.shape)
    ts64 = [sd.var(f"s{i}", w.shape) for i, w in enumerate(wrt64)]
    ct = random_like(rng, y16, point16).astype(np.float16)
    ts = [random_like(rng, w, point16).astype(np.float16) for w in wrt16]
    got = sd.evaluate([y16, *sd.vjp(y16, wrt16, ct16), sd.jvp(y16, wrt16, ts16)],
                      {**point16, ct16: ct, **dict(zip(ts16, ts, strict=True))})
    want = sd.evaluate([y64, *sd.vjp(y64, wrt64, ct64), sd.jvp(y64, wrt64, ts64)],
                       {**point64, ct64: ct.astype(np.float64),
                        **{s: t.astype(np.float64) for s, t in zip(ts64, ts, strict=True)}})
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.dtype == np.float16, f"{c.id}: output {k} is {g.dtype}"
        assert_close(g, w, F16_RTOL, f"{c.id} float16 output {k}")


@pytest.mark.parametrize("c", [c for c in F16_CASES if ops.REGISTRY[c.op].accumulates],
                         ids=lambda c: c.id)
def test_float16_codegen_matches_evaluate(c: Case, rng):
    """Generated code computes an accumulating op on float16 the way evaluate does (in
    float32, cast back), so both give the same bits."""
    inputs, y, point = _instance(_as_dtype(c, "float16"), rng)
    got = sd.function(inputs, y)(*[point[x] for x in inputs])
    want = sd.evaluate(y, point)
    assert got.dtype == want.dtype == np.float16
    np.testing.assert_array_equal(got, want)
