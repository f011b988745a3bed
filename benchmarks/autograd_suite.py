"""HIPS autograd's gradient checks, translated to symdiff: an outside measure of coverage.

    python3 benchmarks/autograd_suite.py            # counts by category
    python3 benchmarks/autograd_suite.py --verbose  # one line per case, with the reason

The cases follow autograd's tests/test_scalar_ops.py, tests/test_numpy.py,
tests/test_systematic.py (with its numpy_utils.py combinations) and tests/test_linalg.py
(https://github.com/HIPS/autograd), one case per test function, rewritten here as a table:
the function (written with NumPy, which dispatches to symdiff on nodes), the arguments, the
arguments to differentiate and the order. A case is run for every combination of its
arguments and keywords, as autograd's combo_check does:

- the graph is built by calling the function on symdiff variables; if that raises, the case
  cannot be written in symdiff today ("not expressible", with the error);
- the value through sd.evaluate must equal NumPy's own on arrays;
- first order: the VJP <t, vjp(c)> and the JVP <c, jvp(t)> (random c, t) against a central
  difference of NumPy's function; second order: the gradient of <t, vjp(c)> against a
  central difference of that scalar (as check_grads(order=2) does).

Complex-valued cases are out of scope (symdiff is real valued) and counted apart, as are
linear algebra cases (sd.linalg is being added). Not a test: nothing here runs in pytest.
"""

from __future__ import annotations

import argparse
import itertools
import operator as op
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import symdiff as sd  # noqa: E402

EPS = 1e-6
TOL = 1e-5


class NotExpressible(Exception):
    """Building the graph failed: symdiff has no way to write this today."""


class Mismatch(Exception):
    """Wrong numbers: a value or a derivative disagrees with NumPy / finite differences."""


@dataclass
class Case:
    category: str
    name: str
    fun: Callable[..., Any]
    args: Sequence[Sequence[Any]]  # one list of alternatives per positional argument
    argnums: tuple[int, ...] = (0,)
    order: int = 2
    kwargs: dict[str, Sequence[Any]] = field(default_factory=dict)  # alternatives each
    zipped: bool = False  # the alternatives go together (zip), not in every combination
    note: str = ""


CASES: list[Case] = []
rng = np.random.default_rng(0)


def R(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def U(lo: float, hi: float, *shape: int) -> np.ndarray:
    return lo + (hi - lo) * rng.random(shape)


def case(category: str, name: str, fun: Callable[..., Any], *args: Sequence[Any],
         argnums: tuple[int, ...] = (0,), order: int = 2, zipped: bool = False,
         **kwargs: Sequence[Any]) -> None:
    CASES.append(Case(category, name, fun, [list(a) for a in args], argnums, order,
                      {k: list(v) for k, v in kwargs.items()}, zipped))


def unsupported(category: str, name: str, why: str) -> None:
    """A case whose inputs themselves are outside symdiff (complex numbers)."""
    CASES.append(Case(category, name, None, [], note=why))  # type: ignore[arg-type]


# -- running one combination ----------------------------------------------------------------

def _inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def _close(got: float, want: float, what: str) -> None:
    if not (abs(got - want) <= TOL * max(1.0, abs(got), abs(want))):
        raise Mismatch(f"{what}: symdiff {got!r}, finite differences {want!r}")


def run_combo(fun: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
              argnums: tuple[int, ...], order: int) -> None:
    arrays = list(args)
    for i in argnums:
        arrays[i] = np.asarray(arrays[i], np.float64)
    xs = [sd.var(f"a{i}", arrays[i].shape) for i in argnums]
    call = list(arrays)
    for i, x in zip(argnums, xs, strict=True):
        call[i] = x
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fun(*call, **kwargs)
        if not isinstance(out, sd.Node):
            out = sd.ops.lift(out) if not isinstance(out, (list, tuple)) else \
                sd.stack(list(out), 0)
        if out.dtype != "float64":
            out = sd.astype(out, "float64")
    except Exception as err:  # noqa: BLE001 - any failure to build is the finding
        raise NotExpressible(f"{type(err).__name__}: {err}".splitlines()[0][:150]) from None
    point = {x: arrays[i] for x, i in zip(xs, argnums, strict=True)}

    def numpy_fun(moved: dict[int, np.ndarray]) -> np.ndarray:
        values = [moved.get(i, a) for i, a in enumerate(arrays)]
        result = fun(*values, **kwargs)
        if isinstance(result, (list, tuple)):
            result = np.stack(result, 0)
        return np.asarray(result, np.float64)

    want = numpy_fun({})
    got = np.asarray(sd.evaluate(out, point), np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-9, atol=1e-12,
                                                  equal_nan=True):
        raise Mismatch(f"value: symdiff {got.shape} {got.ravel()[:4]}, NumPy {want.shape} "
                       f"{want.ravel()[:4]}")
    c = rng.standard_normal(want.shape)
    ts = [rng.standard_normal(arrays[i].shape) for i in argnums]

    def moved(eps: float) -> dict[int, np.ndarray]:
        return {i: arrays[i] + eps * t for i, t in zip(argnums, ts, strict=True)}

    fd = (_inner(c, numpy_fun(moved(EPS / 2))) - _inner(c, numpy_fun(moved(-EPS / 2)))) / EPS
    back = sd.vjp(out, xs, sd.const(c))
    back_vals = sd.evaluate(back, point)
    _close(sum(_inner(t, b) for t, b in zip(ts, back_vals, strict=True)), fd, "vjp")
    fwd = sd.evaluate(sd.jvp(out, xs, [sd.const(t) for t in ts]), point)
    _close(_inner(c, fwd), fd, "jvp")
    if order < 2:
        return
    # second order: the gradient of s(x) = <t, vjp(c)(x)> against central differences of s
    s = sd.ops.lift(0.0)
    for t, b in zip(ts, back, strict=True):
        s = s + sd.sum(b * sd.const(t))
    second = sd.grad(s, xs)
    us = [rng.standard_normal(arrays[i].shape) for i in argnums]
    exact = sum(_inner(u, g) for u, g in zip(us, sd.evaluate(second, point), strict=True))

    def s_at(eps: float) -> float:
        return float(sd.evaluate(s, {x: arrays[i] + eps * u for x, i, u in
                                     zip(xs, argnums, us, strict=True)}))

    _close(exact, (s_at(EPS / 2) - s_at(-EPS / 2)) / EPS, "second order")


def run_case(c: Case) -> tuple[str, str]:
    """('pass' | 'fail' | 'not expressible' | 'complex', detail)."""
    if c.fun is None:
        return "complex", c.note
    keys = list(c.kwargs)
    positional = zip(*c.args, strict=True) if c.zipped else itertools.product(*c.args)
    combos = itertools.product(positional, itertools.product(*[c.kwargs[k] for k in keys]))
    worst, detail, count = "pass", "", 0
    for args, kw in combos:
        count += 1
        try:
            run_combo(c.fun, list(args), dict(zip(keys, kw, strict=True)), c.argnums, c.order)
        except NotExpressible as err:
            if worst == "pass":
                worst, detail = "not expressible", str(err)
        except Mismatch as err:
            worst, detail = "fail", str(err)
            break
        except Exception as err:  # noqa: BLE001 - a crash while checking is a failure
            worst = "fail"
            detail = f"{type(err).__name__}: {err}".splitlines()[0][:150]
            if "--trace" in sys.argv:
                traceback.print_exc()
            break
    return worst, detail if worst != "pass" else f"{count} combinations"


# -- tests/test_scalar_ops.py ------------------------------------------------------------------

S = "scalar ops"
for name, f, x in [
    ("abs", lambda x: 3.0 * np.abs(x), [1.1, -1.1]),
    ("absolute", lambda x: 3.0 * np.absolute(x), [1.1, -1.1]),
    ("sin", lambda x: 3.0 * np.sin(x), [R()]),
    ("sign", lambda x: 3.0 * np.sign(x), [1.1, -1.1]),
    ("exp", lambda x: 3.0 * np.exp(x), [R()]),
    ("log", lambda x: 3.0 * np.log(x), [abs(R())]),
    ("log2", lambda x: 3.0 * np.log2(x), [abs(R())]),
    ("log10", lambda x: 3.0 * np.log10(x), [abs(R())]),
    ("log1p", lambda x: 3.0 * np.log1p(x), [abs(R())]),
    ("expm1", lambda x: 3.0 * np.expm1(x), [abs(R())]),
    ("exp2", lambda x: 3.0 * np.exp2(x), [abs(R())]),
    ("neg", lambda x: 3.0 * -x, [R()]),
    ("cos", lambda x: 3.0 * np.cos(x), [R()]),
    ("tan", lambda x: 3.0 * np.tan(x), [R()]),
    ("cosh", lambda x: 3.0 * np.cosh(x), [R()]),
    ("sinh", lambda x: 3.0 * np.sinh(x), [R()]),
    ("tanh", lambda x: 3.0 * np.tanh(x), [R()]),
    ("arccos", lambda x: 3.0 * np.arccos(x), [0.1]),
    ("arcsin", lambda x: 3.0 * np.arcsin(x), [0.1]),
    ("arctan", lambda x: 3.0 * np.arctan(x), [0.2]),
    ("arccosh", lambda x: 3.0 * np.arccosh(x), [R() ** 2 + 1.2]),
    ("arcsinh", lambda x: 3.0 * np.arcsinh(x), [R()]),
    ("arctanh", lambda x: 3.0 * np.arctanh(x), [0.2]),
    ("sqrt", lambda x: 3.0 * np.sqrt(x), [10.0 * rng.random()]),
    ("reciprocal", np.reciprocal, [rng.random() + 0.1]),
    ("negative", np.negative, [rng.random()]),
    ("rad2deg", lambda x: 3.0 * np.rad2deg(x), [10.0 * rng.random()]),
    ("deg2rad", lambda x: 3.0 * np.deg2rad(x), [10.0 * rng.random()]),
    ("radians", lambda x: 3.0 * np.radians(x), [10.0 * rng.random()]),
    ("degrees", lambda x: 3.0 * np.degrees(x), [10.0 * rng.random()]),
    ("sinc", lambda x: 3.0 * np.sinc(x), [10.0 * rng.random()]),
]:
    case(S, name, f, x)
_y = R() ** 2 + 1.0
case(S, "power_arg0", lambda x: np.power(x, _y), [rng.random() ** 2 + 1.0])
case(S, "power_arg0 at y = 0, x = 0", lambda x: np.power(x, 0.0), [0.0])
_x = R() ** 2
case(S, "power_arg1", lambda y: np.power(_x, y), [rng.random() ** 2])
case(S, "power_arg1_zero", lambda y: np.power(0.0, y), [rng.random() ** 2])
for name, f in [("mod", np.mod), ("divide", np.divide), ("multiply", np.multiply),
                ("true_divide", np.true_divide)]:
    for arg in (0, 1):
        case(S, f"{name}_arg{arg}", f, [rng.random() + 0.05], [rng.random() + 0.05],
             argnums=(arg,))

def _array(rows: Any) -> Any:
    """np.array of nested lists of nodes and numbers, written with stack."""
    if isinstance(rows, (list, tuple)):
        items = [_array(r) for r in rows]
        if not any(isinstance(i, sd.Node) for i in items):
            return np.array(items)
        return sd.stack([sd.ops.lift(i) if not isinstance(i, sd.Node) else i
                         for i in items], 0)
    return rows


def _append(a: Any, b: Any) -> Any:
    """np.append without axis: both raveled, then joined."""
    return np.concatenate([np.reshape(a, (-1,)), np.reshape(b, (-1,))], 0)


# -- tests/test_numpy.py ------------------------------------------------------------------------

N = "numpy"
_m1, _m2, _v1, _v2, _v3 = R(10, 11), R(10, 11), R(10), R(11), R(11)
case(N, "dot", np.dot, [_m1, _m1, _v1, _v2], [_v2, _m2.T, _m1, _v3], argnums=(0, 1),
     zipped=True)
_f = R()
case(N, "dot_with_floats", np.dot, [_m1, _f, _v1, _f], [_f, _m1, _f, _v1], argnums=(0, 1),
     zipped=True)
case(N, "outer", np.outer, [_v2], [_v3], argnums=(0, 1))
_cube = R(3, 4, 5)
case(N, "max", np.max, [R(10, 11)])
case(N, "max_axis", lambda x: np.max(x, axis=1), [_cube])
case(N, "max_axis_keepdims", lambda x: np.max(x, axis=1, keepdims=True), [_cube])
case(N, "min", np.min, [R(10, 11)])
case(N, "min_axis", lambda x: np.min(x, axis=1), [_cube])
case(N, "min_axis_keepdims", lambda x: np.min(x, axis=1, keepdims=True), [_cube])
case(N, "sum_1", np.sum, [R(10, 11)])
case(N, "sum_2", lambda x: np.sum(x, axis=0), [R(10, 11)])
case(N, "sum_3", lambda x: np.sum(x, axis=0, keepdims=True), [R(10, 11)])
case(N, "sum_with_axis_tuple", lambda x: np.sum(x, axis=(1, 2)), [R(10, 11, 7)])
_base = np.abs(R(5)) + 0.5
case(N, "plain_numpy_reductions_on_box",
     lambda a: np.sum(np.exp(a) * _base) + np.prod(np.exp(a) * _base)
     + np.max(np.exp(a) * _base) + np.min(np.exp(a) * _base), [0.7])
case(N, "flipud", lambda x: np.flip(x, 0), [R(10, 11)])
case(N, "fliplr", lambda x: np.flip(x, 1), [R(10, 11)])
case(N, "rot90", lambda x: np.flip(x, 1).T, [R(10, 11)])
case(N, "cumsum_axis0", lambda x: np.cumsum(x, axis=0), [R(10, 11)])
case(N, "cumsum_axis1", lambda x: np.cumsum(x, axis=1), [R(10, 11)])
case(N, "cumsum_1d", np.cumsum, [R(10)])
case(N, "cumsum_no_axis", np.cumsum, [R(10, 11)])
case(N, "non_numpy_sum", lambda x, y: sum([x, y]), [R(10, 11)], [R(10, 11)], argnums=(0, 1))
case(N, "mean_1", np.mean, [R(10, 11)])
case(N, "mean_2", lambda x: np.mean(x, axis=0), [R(10, 11)])
case(N, "mean_3", lambda x: np.mean(x, axis=0, keepdims=True), [R(10, 11)])
case(N, "mean_list_of_boxes", lambda x: np.mean(np.stack([x, x + 2])), [0.0])
case(N, "std_list_of_boxes", lambda x: np.std(np.stack([x, x + 2])), [0.0])
case(N, "var_list_of_boxes", lambda x: np.var(np.stack([x, x + 2])), [0.0])
_A = R(5, 6, 4)
case(N, "index_ints", lambda x: x[3, 0, 1], [_A])
case(N, "index_slice", lambda x: x[::-1, 2:4, :], [_A])
case(N, "index_lists", lambda x: x[[0, 1, 2], :, :], [_A])
# NumPy puts the index axis first when a slice separates the indices
case(N, "index_mixed", lambda x: x[3][2:][:, [1, 3]].T, [_A])
case(N, "vector_slice", lambda x: x[2:4], [R(5)])
case(N, "index_slice_fanout", lambda x: x[::-1, 2:4, :] + x[::-1, 3:5, :], [_A])
case(N, "index_multiple_slices", lambda x: x[2:6][1:3], [R(7)])
case(N, "reshape_method", lambda x: x.reshape((20, 6)), [_A])
case(N, "reshape_call", lambda x: np.reshape(x, (20, 6)), [_A])
case(N, "reshape_method_nolist", lambda x: x.reshape(20, 6), [_A])
case(N, "ravel_method", lambda x: x.ravel(), [_A])
case(N, "ravel_call", lambda x: np.reshape(x, (-1,)), [_A])
case(N, "flatten_method", lambda x: x.flatten(), [_A])
case(N, "simple_append_list", _append, [[1.0, 2.0, 3.0]], [4.0], argnums=(0, 1))
case(N, "simple_append_arr", _append, [np.array([1.0, 2.0, 3.0])], [4.0], argnums=(0, 1))
case(N, "simple_append_list_2D", lambda a, b: np.concatenate([a, b], axis=0),
     [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]], [[[7.0, 8.0, 9.0]]], argnums=(0, 1))
_B5, _B4 = R(5, 6, 4), R(4, 6, 4)
case(N, "simple_concatenate", lambda x: np.concatenate((_B5, x)), [_B4])
case(N, "concatenate_axis_0", lambda x: np.concatenate((_B5, x, _B5)), [_A])
case(N, "concatenate_axis_1", lambda x: np.concatenate((_B5, x, _B5), axis=1), [_A])
case(N, "concatenate_axis_1_unnamed", lambda x: np.concatenate((_B5, x, _B5), 1), [_A])
case(N, "trace", lambda x: np.trace(x, offset=3), [R(10, 11)])
case(N, "trace2", lambda x: np.trace(x, offset=-4), [R(11, 10)])
case(N, "trace_extradims", lambda x: np.trace(x, offset=2), [R(5, 6, 4, 3)])
case(N, "diag", np.diag, [R(10, 10)])
case(N, "transpose", lambda x: x.T, [R(8, 8)])
case(N, "roll", lambda x: np.concatenate([x[:, -2:], x[:, :-2]], 1), [R(4, 5)])
case(N, "roll_no_axis", lambda x: np.concatenate([x[:, -2:], x[:, :-2]], 1), [R(4, 5)])
case(N, "triu", lambda x: x * np.triu(np.ones((5, 5)), k=2), [R(5, 5)])
case(N, "tril", lambda x: x * np.tril(np.ones((5, 5)), k=2), [R(5, 5)])
_clip_x = R(5, 5)
_clip_x[np.abs(_clip_x - 0.1) < 0.01] += 0.05
_clip_x[np.abs(_clip_x - 1.1) < 0.01] += 0.05
case(N, "clip", lambda x: np.clip(x, 0.1, 1.1), [_clip_x])
case(N, "prod_1", np.prod, [R(2, 3) ** 2 / 10.0 + 0.1])
case(N, "prod_2", lambda x: np.prod(x, axis=0), [R(2, 3) ** 2 + 0.1])
case(N, "prod_3", lambda x: np.prod(x, axis=0, keepdims=True), [R(2, 3) ** 2 + 0.1])
case(N, "prod_4", np.prod, [R(7) ** 2 + 0.1])
case(N, "1d_array", lambda x: _array([x, x * 1.0, x + 2.5]), [3.0])
case(N, "2d_array", lambda x: _array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]]), [3.0])
case(N, "1d_array_fanout", lambda x: (lambda a: a + a)(_array([x, x * 1.0, x + 2.5])),
     [3.0])
case(N, "2d_array_fanout", lambda x: (lambda a: a + a)(
    _array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]])), [3.0])
case(N, "array_from_scalar", lambda x: x, [3.0])  # np.array(node) is the node
case(N, "scalar_array_box_attributes",
     lambda x: x ** 2 if (x.shape, x.ndim, x.size) == ((), 0, 1) else None, [3.0])
case(N, "array_from_arrays", lambda x: _array([x, x]), [R(3, 2)])
case(N, "array_from_arrays_2", lambda x: _array([[2 * x, x + 1], [x, x]]), [R(3, 2)])
case(N, "len", lambda x: x if len(x) == 3 else None, [R(3, 2)])
_c32 = R(3, 2)
# np.r_ joins 2-d arrays on axis 0, np.c_ on axis 1
case(N, "r_basic", lambda x: np.concatenate([x], 0), [R(3, 2)])
case(N, "r_double", lambda x: np.concatenate([x, x], 0), [R(3, 2)])
case(N, "no_relation", lambda x: _c32 + 0 * x, [R(3, 2)])
case(N, "r_no_relation", lambda x: np.concatenate([_c32], 0) + 0 * x, [R(3, 2)])
case(N, "r_node_and_const", lambda x: np.concatenate([x, _c32], 0), [R(3, 2)])
case(N, "r_mixed", lambda x: np.concatenate([x, _c32, x], 0), [R(3, 2)])
_c10 = R(10)
case(N, "r_slicing", lambda x: np.concatenate([x, _c10, np.arange(1.0, 10.0)], 0), [R(10)])
case(N, "c_", lambda x: np.concatenate([x, _c32, x], 1), [R(3, 2)])
case(N, "c_mixed", lambda x: np.concatenate([x, _c32, x], 1), [R(3, 2)])
case(N, "var_ddof", lambda x, axis, keepdims, ddof: np.var(x, axis=axis, keepdims=keepdims,
                                                           ddof=ddof),
     [R(3), R(3, 4), R(1, 3)], [None], [True, False], [0, 1])
case(N, "std_ddof", lambda x, axis, keepdims, ddof: np.std(x, axis=axis, keepdims=keepdims,
                                                           ddof=ddof),
     [R(3), R(3, 4), R(1, 3)], [None], [True, False], [0, 1])
_mask = R(4, 5) > 0
case(N, "where", lambda x, y: np.where(_mask, x, y), [R(4, 5)], [R(4, 5)], argnums=(0, 1))
case(N, "squeeze_func", np.squeeze, [R(5, 1, 4)])
case(N, "squeeze_method", lambda x: x.squeeze(), [R(5, 1, 4)])
case(N, "repeat", lambda x: np.repeat(x, 2, axis=1), [R(5, 3, 4)])
case(N, "repeat_axis1_rep1", lambda x: np.repeat(x, 1, axis=1), [R(5, 3, 4)])
case(N, "repeat_axis0", lambda x: np.repeat(x, 2, axis=0), [R(5, 3)])
case(N, "repeat_1d_axis0", lambda x: np.repeat(x, 2, axis=0), [R(5)])
case(N, "repeat_axis0_rep1", lambda x: np.repeat(x, 1, axis=0), [R(5, 1)])
case(N, "expand_dims", lambda x: np.expand_dims(x, 2), [R(5, 1, 4)])
case(N, "tensordot_kwargs_by_position",
     lambda x: np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2), [1.0], order=1)
case(N, "multi_index", lambda x: np.sum(x[[0, 0]]), [R(3)])
case(N, "multi_index2", lambda x: np.sum(x[[0, 1, 0]]), [R(3)])
case(N, "index_dot_slices", lambda x: np.dot(x[:2], x[2:]), [R(4)])
case(N, "cast_to_int", lambda W: W[:, :-1][np.ones(5, np.int64)].sum(), [R(5, 10)])
case(N, "make_diagonal", lambda d: d[..., :, None] * np.eye(d.shape[-1]), [R(4), R(3, 4)])
CASES[-1].note = "autograd's own np.make_diagonal, written with broadcasting"
case(N, "diagonal", lambda d: np.einsum("...ii->...i", d), [R(4, 4), R(3, 4, 4)])
_nan = np.array([0.0, np.nan, np.inf, -np.inf])
case(N, "nan_to_num", lambda x: np.sum(np.sin(np.nan_to_num(x + _nan))), [R(4)])
case(N, "max_equal_values", lambda x: np.max(_array([x, x])), [1.0])
case(N, "max_equal_values_2d", lambda x: np.max(_array([[x, x], [x, 0.5]]), axis=1),
     [1.0, -1.0])
case(N, "min_3_way_equality", lambda x: np.min(_array(
    [[x, x, x], [x, 0.5, 0.5], [0.5, 0.5, 0.5], [x, x, 0.5]]), axis=0), [1.0, -1.0])
case(N, "maximum_equal_values", lambda x: np.maximum(x, x), [1.0])
case(N, "maximum_equal_values_2d", lambda x: np.maximum(
    _array([x, x, 0.5]), _array([[x, 0.5, x], [x, x, 0.5]])), [1.0, -1.0, 2.0])
case(N, "linspace", lambda x, y, num: x + (y - x) * np.linspace(0.0, 1.0, num), [1.2],
     [3.4, -3.4], [0, 1, 5],
     argnums=(0, 1))
case(N, "astype", lambda x: np.sum(np.sin(x.astype("float64"))), [np.arange(3.0)])
case(N, "gradient", np.gradient, [R(10), R(10, 10), R(10, 10, 10)])

# -- tests/test_systematic.py (its numpy_utils.py combinations, real inputs) -----------------

Y = "systematic"


def _stat_args() -> list[tuple[list[Any], dict[str, list[Any]]]]:
    return [([3.5, R()], {}),
            ([R(3), R(2, 3), R(1, 3)], {"axis": [None, 0], "keepdims": [True, False]}),
            ([R(2, 3), R(1, 3)], {"axis": [None, 0, 1], "keepdims": [True, False]})]


def _diff(x: Any, n: int, axis: int) -> Any:
    """np.diff: n rounds of neighbour differences along axis, with slices."""
    for _ in range(n):
        hi = [slice(None)] * x.ndim
        lo = [slice(None)] * x.ndim
        hi[axis], lo[axis] = slice(1, None), slice(None, -1)
        x = x[tuple(hi)] - x[tuple(lo)]
    return x


def _atleast(x: Any, d: int) -> Any:
    """np.atleast_1d / 2d / 3d with reshape (3d puts a 1-d array in the middle)."""
    shape = tuple(np.shape(x))
    if len(shape) >= d:
        return x
    new = {1: {0: (1,)}, 2: {0: (1, 1), 1: (1,) + shape},
           3: {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}}[d][len(shape)]
    return np.reshape(x, new)


def _vstack(xs: Sequence[Any]) -> Any:
    return np.stack(xs, 0) if np.ndim(xs[0]) == 1 else np.concatenate(xs, 0)


def _hstack(xs: Sequence[Any]) -> Any:
    return np.concatenate(xs, 0 if np.ndim(xs[0]) == 1 else 1)


def _select(conds: Sequence[np.ndarray], choices: Sequence[Any], default: float) -> Any:
    """np.select as nested where: the first true condition wins."""
    out: Any = default
    for cond, choice in zip(reversed(conds), reversed(choices), strict=True):
        out = np.where(cond, choice, out)
    return out


def stat(name: str, fun: Callable[..., Any]) -> None:
    for k, (xs, kw) in enumerate(_stat_args()):
        case(Y, f"{name}" if k == 0 else f"{name} (set {k + 1})", fun, xs, **kw)


def _lim(lims: Sequence[float], x: Any) -> Any:
    return np.asarray(x) * (lims[1] - lims[0]) + lims[0]


def unary(name: str, fun: Callable[..., Any], lims: Sequence[float] = (-2, 2)) -> None:
    case(Y, name, fun, [_lim(lims, 0.4), _lim(lims, rng.random(2)),
                        _lim(lims, rng.random((3, 2))), _lim(lims, rng.random((1, 2)))])


def binary(name: str, fun: Callable[..., Any], lims_a: Sequence[float] = (-2, 2),
           lims_b: Sequence[float] = (-2, 2), same: bool = True) -> None:
    """autograd's binary_ufunc_check (every pairing of a scalar, a vector and two matrices);
    `same=False`: its _no_same_args variant, with different draws for the two operands."""
    draws = [0.6, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
    other = draws if same else [0.7, rng.random(2), rng.random((3, 2)), rng.random((1, 2))]
    case(Y, name, fun, [_lim(lims_a, d) for d in draws], [_lim(lims_b, d) for d in other],
         argnums=(0, 1))


for _name, _f in [("max", np.max), ("mean", np.mean), ("min", np.min), ("sum", np.sum),
                  ("prod", np.prod), ("var", np.var), ("std", np.std)]:
    stat(_name, _f)
for _name, _f, _lims in [
    ("sin", np.sin, None), ("abs", np.abs, (0.1, 4.0)), ("absolute", np.absolute, (0.1, 4.0)),
    ("arccosh", np.arccosh, (1.1, 4.0)), ("arcsinh", np.arcsinh, (-0.9, 0.9)),
    ("arctanh", np.arctanh, (-0.9, 0.9)), ("ceil", np.ceil, (-1.5, 1.5)),
    ("cos", np.cos, None), ("cosh", np.cosh, None), ("deg2rad", np.deg2rad, None),
    ("degrees", lambda x: np.degrees(x) / 50.0, None), ("exp", np.exp, None),
    ("exp2", np.exp2, None), ("expm1", np.expm1, None), ("fabs", np.abs, None),
    ("floor", np.floor, (-1.5, 1.5)), ("log", np.log, (0.2, 2.0)),
    ("log10", np.log10, (0.2, 2.0)), ("log1p", np.log1p, (0.2, 2.0)),
    ("log2", np.log2, (0.2, 2.0)), ("rad2deg", lambda x: np.rad2deg(x) / 50.0, None),
    ("radians", np.radians, None), ("sign", np.sign, None), ("sinh", np.sinh, None),
    ("sqrt", np.sqrt, (1.0, 3.0)), ("square", np.square, None), ("tan", np.tan, (-1.1, 1.1)),
    ("tanh", np.tanh, None),
]:
    unary(_name, _f, _lims or (-2, 2))
for _name in ("real", "real_if_close", "imag", "conj", "conjugate", "angle"):
    unsupported("complex", _name, "a complex-number function (autograd checks it on "
                                  "complex inputs)")
binary("add", np.add)
binary("logaddexp", np.logaddexp)
binary("logaddexp2", np.logaddexp2)
binary("remainder", np.remainder, (-0.9, 0.9), (0.7, 1.9), same=False)
binary("true_divide", np.true_divide, lims_b=(0.8, 1.2))
binary("mod", np.mod, lims_b=(0.8, 2.1), same=False)
binary("true_divide_neg", np.true_divide, lims_b=(-0.3, -2.0))
binary("mod_neg", np.mod, lims_b=(-0.3, -2.0), same=False)
binary("op_mul", op.mul)
binary("op_add", op.add)
binary("op_sub", op.sub)
binary("op_mod", op.mod, lims_b=(0.3, 2.0), same=False)
binary("op_mod_neg", op.mod, lims_b=(-0.3, -2.0), same=False)

case(Y, "transpose", lambda x, axes: np.transpose(x, axes), [R(2, 3, 4)],
     [None, [0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]])
case(Y, "moveaxis", np.moveaxis, [R(2, 3, 4)], [0, 1, 2], [0, 1, 2])
case(Y, "repeat", lambda x, repeats, axis: np.repeat(x, repeats, axis), [R(2, 3, 4), R(3, 1)],
     [0, 1, 2], [None, 0, 1])
case(Y, "diff", _diff, [R(5, 5), R(5, 5, 5)], [1, 2], [0, 1])
case(Y, "gradient", lambda x, axis: np.gradient(x, axis=axis), [R(5, 5), R(5, 5, 5)],
     [None, 0, 1, -1])
case(Y, "tile", np.tile, [R(1, 2)], [(1, 2), (2, 3), (3, 2, 1)])
case(Y, "kron", np.kron, [R(5, 5), R(4, 4), R(5), R(5, 1), R(1, 5), R()],
     [R(3, 3), R(2, 2), R(3), R(1, 3), R(3, 1), R()], argnums=(0, 1))
case(Y, "inner", np.inner, [1.5, R(3), R(2, 3)], [0.3, R(3), R(4, 3)], argnums=(0, 1))
_dot_ok = [(1.5, 0.3), (1.5, R(3)), (R(3), R(3)), (R(2, 3), R(3)), (R(2, 3), R(3, 4)),
           (R(2, 2, 3), R(3, 4)), (R(2, 2, 3), R(2, 3, 4)), (R(3), R(3, 4))]
case(Y, "dot", np.dot, [a for a, _ in _dot_ok], [b for _, b in _dot_ok], argnums=(0, 1),
     order=3, zipped=True)
case(Y, "outer", np.outer, [R(3)], [R(3)], argnums=(0, 1), order=3)
_mm = [(R(3), R(3)), (R(3), R(3, 4)), (R(2, 3), R(3)), (R(2, 3), R(3, 4)),
       (R(2, 2, 3), R(3, 4)), (R(2, 2, 3), R(2, 3, 4)), (R(3), R(2, 3, 4))]
case(Y, "matmul", np.matmul, [a for a, _ in _mm], [b for _, b in _mm], argnums=(0, 1),
     zipped=True)
case(Y, "matmul_broadcast", np.matmul, [R(1, 2, 2)], [R(3, 2, 1)], argnums=(0, 1))
for _k, (_a, _b, _axes) in enumerate([
    ([R(1, 3), R(2, 3, 2)], [R(3), R(3, 1), R(3, 4, 2)], [[(1,), (0,)]]),
    ([R(3), R(3, 1), R(3, 4, 2)], [R(1, 3), R(2, 3, 2)], [[(0,), (1,)]]),
    ([R(2, 3), R(2, 3, 4)], [R(1, 2, 3), R(2, 2, 3, 4)], [[(0, 1), (1, 2)], [(1, 0), (2, 1)]]),
    ([R(2, 2), R(4, 2, 2)], [R(2, 2), R(2, 2, 4)], [1, 2]),
    ([R(4)], [R()], [0]),
    ([R(2, 6)], [R(6, 3)], [[[-1], [0]]]),
    ([R(2, 6)], [R(6, 3)], [[-1, 0]]),
    ([R(2)], [R(2, 2)], [[0, 1]]),
]):
    case(Y, f"tensordot_{_k + 1}", lambda a, b, axes: np.tensordot(a, b, axes), _a, _b, _axes,
         argnums=(0, 1), order=3)
_pairs = [R(1), R(1, 4), R(3, 4)]
# fmax and fmin differ from maximum and minimum only at NaNs
for _name, _f in [("maximum", np.maximum), ("fmax", np.maximum), ("minimum", np.minimum),
                  ("fmin", np.minimum)]:
    case(Y, _name, _f, _pairs, [R(1), R(1, 4), R(3, 4)], argnums=(0, 1))
case(Y, "sort", np.sort, [R(1), R(7)])
case(Y, "partition", lambda x, kth: np.partition(x, kth), [R(7), R(14)], [0, 3, 6])
for _d in (1, 2, 3):
    case(Y, f"atleast_{_d}d", lambda x, d=_d: _atleast(x, d),
         [1.2, R(1), R(7), R(1, 4), R(2, 4), R(2, 4, 5)])
case(Y, "einsum_transpose", lambda x: np.einsum("ij->ji", x), [R(1, 1), R(4, 4), R(3, 4)])
case(Y, "einsum_matmult", lambda a, b: np.einsum("ij,jk->ik", a, b), [R(2, 3)], [R(3, 4)],
     argnums=(0, 1))
case(Y, "einsum_matmult_broadcast", lambda a, b: np.einsum("...ij,...jk->...ik", a, b),
     [R(2, 3), R(2, 2, 3)], [R(3, 4), R(2, 3, 4)], argnums=(0, 1))
case(Y, "einsum_matmult_broadcast_leadzero",
     lambda a, b: np.einsum("...ij,...jk->...ik", a, b), [R(0, 2, 3)], [R(0, 3, 4)],
     argnums=(0, 1))
case(Y, "einsum_covsum", lambda a, b: np.einsum("ijk,lji->lki", a, b), [R(3, 4, 4)],
     [R(4, 4, 3)], argnums=(0, 1))
case(Y, "einsum_ellipses", lambda s, a, b: np.einsum(s, a, b),
     ["...jk,...lj->...lk", "...,...->..."], [R(4, 4), R(3, 4, 4)], [R(4, 4), R(3, 4, 4)],
     argnums=(1, 2))
case(Y, "einsum_ellipses_tail", lambda a, b: np.einsum("jk...,lj...->lk...", a, b),
     [R(3, 2), R(3, 2, 4)], [R(2, 3), R(2, 3, 4)], argnums=(0, 1))
case(Y, "einsum_ellipses_center", lambda a, b: np.einsum("j...k,lj...->lk...", a, b),
     [R(2, 2), R(2, 2, 2)], [R(2, 2), R(2, 2, 2)], argnums=(0, 1))
case(Y, "einsum_three_args", lambda a, b, c: np.einsum("ijk,lji,lli->lki", a, b, c),
     [R(3, 4, 4)], [R(4, 4, 3)], [R(4, 4, 3)], argnums=(0, 1))
# einsum's interleaved form (operand, axis numbers, ...) spelled as subscripts
case(Y, "einsum2_transpose", lambda x: np.einsum("ab->ba", x), [R(1, 1), R(4, 4), R(3, 4)])
case(Y, "einsum2_matmult", lambda a, b: np.einsum("ab,bc->ac", a, b), [R(2, 3)],
     [R(3, 4)], argnums=(0, 1))
case(Y, "einsum2_matmult_broadcast", lambda a, b: np.einsum("...ab,...bc->...ac", a, b),
     [R(2, 3), R(2, 2, 3)], [R(3, 4), R(2, 3, 4)], argnums=(0, 1))
case(Y, "einsum2_covsum", lambda a, b: np.einsum("abc,dba->dca", a, b),
     [R(3, 4, 4)], [R(4, 4, 3)], argnums=(0, 1))
case(Y, "einsum2_three_args", lambda a, b, c: np.einsum("abc,dba,dda->dca", a, b, c),
     [R(3, 4, 4)], [R(4, 4, 3)], [R(4, 4, 3)], argnums=(0, 1))
case(Y, "einsum_naked_sum", lambda a, b: np.einsum("k,nk->", a, b), [R(5)], [R(10, 5)],
     argnums=(0, 1))
case(Y, "einsum_naked_sum2", lambda x: np.einsum("abcd->bd", x), [R(3, 2, 3, 2)])
case(Y, "einsum_naked_sum_ellipsis", lambda a, b: np.einsum("...k,...nk->...", a, b),
     [R(3, 5)], [R(3, 10, 5)], argnums=(0, 1))
case(Y, "einsum_no_output_indices", lambda a, b: np.einsum("ij,k", a, b), [R(3, 4)], [R(3)],
     argnums=(0, 1))
case(Y, "trace", lambda x, offset: np.trace(x, offset), [R(5, 5), R(4, 5), R(5, 4),
                                                         R(3, 4, 5)], [-1, 0, 1])
case(Y, "diag", lambda x, k: np.diag(x, k), [R(5, 5)], [-1, 0, 1])
case(Y, "diag_flat", lambda x, k: np.diag(x, k), [R(5)], [-1, 0, 1])
# tril and triu as a product with the constant mask np.tril / np.triu of ones
case(Y, "tril", lambda x, k: x * np.tril(np.ones(x.shape), k), [R(5, 5)], [-1, 0, 1])
case(Y, "triu", lambda x, k: x * np.triu(np.ones(x.shape), k), [R(5, 5)], [-1, 0, 1])
case(Y, "tril_3d", lambda x, k: x * np.tril(np.ones(x.shape), k), [R(5, 5, 4)], [-1, 0, 1])
case(Y, "triu_3d", lambda x, k: x * np.triu(np.ones(x.shape), k), [R(5, 5, 4)], [-1, 0, 1])
case(Y, "swapaxes", np.swapaxes, [R(3, 4, 5)], [0, 1, 2], [0, 1, 2])
case(Y, "rollaxis", lambda x, axis, start: np.moveaxis(x, axis, start - (start > axis)),
     [R(2, 3, 4)], [0, 1, 2], [0, 1, 2])
case(Y, "cross", lambda a, b, axisa, axisb, axisc: np.cross(a, b, axisa, axisb, axisc),
     [R(3, 3)], [R(3, 3)], [-1, 0, 1], [-1, 0, 1], [-1, 0, 1], argnums=(0, 1))
for _name, _f, _xs, _ind in [
    ("vsplit_2d", 0, [R(4, 8)], [4, [1, 2]]),
    ("vsplit_3d", 0, [R(4, 4, 4)], [2, [1, 2]]),
    ("hsplit_2d", 1, [R(4, 8)], [4, [1, 2]]),
    ("hsplit_3d", 1, [R(4, 4, 4)], [2, [1, 2]]),
    ("dsplit_3d", 2, [R(4, 4, 4)], [2, [1, 2]]),
]:  # vsplit, hsplit, dsplit: np.split on axis 0, 1, 2; the pieces raveled and joined
    case(Y, _name, lambda x, i, a=_f: np.concatenate([p.ravel() for p in np.split(x, i, a)]),
         _xs, _ind)
for _name, _f, _xs, _ind, _axes in [
    ("split_1d", np.split, [R(1), R(7)], [1], [0]),
    ("split_2d", np.split, [R(4, 8)], [4, [1, 2]], [0, 1]),
    ("split_3d", np.split, [R(4, 4, 4)], [2, [1, 2]], [0, 1, 2]),
    ("array_split_1d", np.array_split, [R(1), R(7)], [1, 3], [0]),
    ("array_split_2d", np.array_split, [R(7, 7)], [4, [3, 5]], [0, 1]),
    ("array_split_3d", np.array_split, [R(7, 7, 7)], [4, [3, 5]], [0, 1, 2]),
]:
    case(Y, _name, lambda x, i, axis, f=_f: np.concatenate([p.ravel() for p in f(x, i, axis)]),
         _xs, _ind, _axes)
case(Y, "concatenate_1ist", lambda a, b: np.concatenate((a, b), axis=0), [R(1)], [R(3)],
     argnums=(0, 1))
case(Y, "concatenate_tuple", lambda a, b: np.concatenate([a, b], axis=0), [R(1)], [R(3)],
     argnums=(0, 1))
case(Y, "concatenate_2d", lambda a, b, axis: np.concatenate((a, b), axis), [R(2, 2)],
     [R(2, 2)], [0, 1], argnums=(0, 1))
case(Y, "concatenate_3d", lambda a, b, axis: np.concatenate((a, b), axis), [R(2, 2, 2)],
     [R(2, 2, 2)], [0, 1, 2], argnums=(0, 1))
for _name, _f, _xs in [
    ("vstack_1d", _vstack, [R(2), R(2)]), ("vstack_2d", _vstack, [R(2, 4), R(1, 4)]),
    ("vstack_3d", _vstack, [R(2, 3, 4), R(5, 3, 4)]),
    ("hstack_1d", _hstack, [R(2), R(2)]), ("hstack_2d", _hstack, [R(3, 4), R(3, 5)]),
    ("hstack_3d", _hstack, [R(2, 1, 4), R(2, 5, 4)]),
    ("stack_1d", lambda xs: np.stack(xs, axis=1), [R(2), R(2)]),
    ("row_stack_1d", _vstack, [R(2), R(2)]), ("row_stack_2d", _vstack, [R(2, 4), R(1, 4)]),
    ("column_stack_1d", lambda xs: np.stack(xs, axis=1), [R(2), R(2)]),
    ("column_stack_2d", lambda xs: np.concatenate(xs, axis=1), [R(2, 2), R(2, 2)]),
]:
    case(Y, _name, lambda a, b, f=_f: f((a, b)), [_xs[0]], [_xs[1]], argnums=(0, 1))
_conds = [R(3, 4, 5) > 0 for _ in range(3)]
case(Y, "select", lambda a, b, c, default: _select(_conds, [a, b, c], default), [R(3, 4, 5)],
     [R(3, 4, 5)], [R(3, 4, 5)], [0.0, 1.1], argnums=(0, 1, 2))
case(Y, "pad", lambda x, w: np.pad(x, w, "constant"), [R(2, 2)],
     [0, 3, (3,), (3, 2), ((3, 2),), ((1, 2), (3, 4)), ((0, 0), (0, 0))])

# -- tests/test_linalg.py (counted apart: sd.linalg is being added) ----------------------------

L = "linalg"


def _spd(*shape: int) -> np.ndarray:
    """Symmetric positive definite matrices of size shape[-1], batched by shape[:-1]."""
    a = R(*shape, shape[-1])
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


case(L, "inv", np.linalg.inv, [R(8, 8) + 8 * np.eye(8)])
case(L, "pinv", np.linalg.pinv, [R(5, 3)])
case(L, "inv_3d", np.linalg.inv, [R(3, 4, 4) + 4 * np.eye(4)])
case(L, "solve_arg1", np.linalg.solve, [R(8, 8) + 8 * np.eye(8)], [R(8, 3)], argnums=(0,))
case(L, "solve_arg1_1d", np.linalg.solve, [R(8, 8) + 8 * np.eye(8)], [R(8)])
case(L, "solve_arg2", np.linalg.solve, [R(8, 8) + 8 * np.eye(8)], [R(8, 3)], argnums=(1,))
case(L, "solve_arg1_3d", np.linalg.solve, [R(2, 3, 3) + 3 * np.eye(3)], [R(2, 3, 2)],
     argnums=(0, 1))
case(L, "solve_arg1_3d_3d", np.linalg.solve, [R(2, 3, 3) + 3 * np.eye(3)], [R(3, 2)],
     argnums=(0, 1))
case(L, "det", np.linalg.det, [R(5, 5)])
case(L, "det_3d", np.linalg.det, [R(3, 4, 4)])
case(L, "slogdet", lambda x: np.linalg.slogdet(x)[1], [_spd(5)])
case(L, "slogdet_3d", lambda x: np.linalg.slogdet(x)[1], [_spd(3, 4)])
case(L, "vector_2norm", np.linalg.norm, [R(6)])
case(L, "norm_list_of_boxes", lambda x: np.linalg.norm(np.stack([x, x + 1.0])), [1.0])
case(L, "frobenius_norm", np.linalg.norm, [R(6, 5)])
case(L, "frobenius_norm_axis", lambda x: np.linalg.norm(x, axis=(0, 1)), [R(6, 5, 4)])
for _size, _ord in itertools.product([6], [2.1, 2.5, 3.0, np.inf, 1, 0.5, -np.inf]):
    case(L, f"vector_norm_ord {_ord}", lambda x, o=_ord: np.linalg.norm(x, ord=o),
         [R(_size) + 0.1 * np.sign(R(_size))])
for _shape, _axis in [((3, 4), 0), ((3, 4), 1), ((5, 4, 3), (1, 2)), ((5, 4, 3), (0, 2))]:
    case(L, f"norm_axis {_shape} {_axis}", lambda x, a=_axis: np.linalg.norm(x, axis=a),
         [R(*_shape)])
case(L, "norm_nuclear", lambda x: np.linalg.norm(x, ord="nuc"), [R(6, 5)])
case(L, "norm_nuclear_axis", lambda x: np.linalg.norm(x, ord="nuc", axis=(0, 1)),
     [R(6, 5, 4)])
for _name, _uplo, _shape in [("eigvalh_lower", "L", (5, 5)), ("eigvalh_upper", "U", (5, 5)),
                             ("eigvalh_lower_broadcasting", "L", (2, 3, 5, 5)),
                             ("eigvalh_upper_broadcasting", "U", (2, 3, 5, 5))]:
    case(L, _name, lambda x, u=_uplo: np.linalg.eigh(x, u)[0], [R(*_shape)])
case(L, "eig_real", lambda x: np.linalg.eigvals(x).real, [R(5, 5)])
case(L, "eig_batched", lambda x: np.linalg.eigvals(x).real, [R(2, 3, 5, 5)])
# autograd checks cholesky along symmetric directions only (its symmetric-matrix grads):
# the same here, through the symmetric part, which is what both libraries read


def _sym(x):
    return (x + np.swapaxes(x, -1, -2)) / 2


case(L, "cholesky", lambda x: np.linalg.cholesky(_sym(x)), [_spd(5)])
case(L, "cholesky_broadcast", lambda x: np.linalg.cholesky(_sym(x)), [_spd(3, 5)])
case(L, "cholesky_reparameterization_trick",
     lambda x: np.sum(np.linalg.cholesky(_sym(x)) @ np.ones(5)), [_spd(5)])
for _shape in [(3, 5), (2, 3, 5), (5, 5), (2, 5, 5), (5, 3), (2, 5, 3)]:
    case(L, f"svd {_shape}", lambda x: np.linalg.svd(x, full_matrices=False)[1], [R(*_shape)])
for _shape in [(3, 5), (2, 3, 5)]:
    case(L, f"svd_only_s {_shape}", lambda x: np.linalg.svd(x, compute_uv=False), [R(*_shape)])
for _name in ["vector_2norm_complex", "frobenius_norm_complex", "frobenius_norm_axis_complex",
              "vector_norm_ord_complex", "norm_axis_complex", "norm_nuclear_complex",
              "norm_nuclear_axis_complex", "eigvalh_lower_complex", "eigvalh_upper_complex",
              "eig_complex", "svd_wide_2d_complex", "svd_wide_3d_complex",
              "svd_square_2d_complex", "svd_square_3d_complex", "svd_tall_2d_complex",
              "svd_tall_3d_complex", "svd_only_s_2d_complex", "svd_only_s_3d_complex"]:
    unsupported("complex", f"linalg {_name}", "complex inputs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    parser.add_argument("--trace", action="store_true", help="tracebacks of crashes")
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    counts: dict[str, Counter] = {}
    for c in CASES:
        if args.k and args.k not in c.name:
            continue
        verdict, detail = run_case(c)
        counts.setdefault(c.category, Counter())[verdict] += 1
        if args.verbose or (verdict == "fail"):
            print(f"{verdict:16} {c.category:11} {c.name:36} {detail}")
    columns = ("pass", "fail", "not expressible", "complex")
    print(f"\n{'category':12}" + "".join(f"{h:>17}" for h in columns) + f"{'total':>8}")
    total: Counter = Counter()
    for category in ("scalar ops", "numpy", "systematic", "linalg", "complex"):
        row = counts.get(category, Counter())
        total += row
        print(f"{category:12}" + "".join(f"{row[h]:>17}" for h in columns)
              + f"{sum(row.values()):>8}")
    print(f"{'all':12}" + "".join(f"{total[h]:>17}" for h in columns)
          + f"{sum(total.values()):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
