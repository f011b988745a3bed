"""`symdiff check`: run every generated function at random arguments and compare it with an
independent answer: derivatives with central finite differences of the reference
interpreter, plain outputs with the reference interpreter itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..autodiff import grad
from ..evaluate import evaluate
from ..graph import Node
from ..shapes import fmt_shape
from .compile import flatten
from .errors import SpecError
from .loader import MAX_NDIM, FunctionPlan, Spec

MAX_ELEMENTWISE = 256  # larger wrt symbols are probed along random directions instead
PROBES = 16
# (finite-difference step, tolerance vs finite differences, tolerance vs the interpreter)
TOLERANCES = {"float64": (1e-6, 1e-5, 1e-9), "float32": (1e-2, 3e-2, 1e-4),
              "float16": (1e-1, 1.5e-1, 1e-2)}


@dataclass(frozen=True)
class CheckRow:
    """One comparison: a function's output (for one wrt symbol) against a reference."""

    function: str
    wrt: str  # the wrt symbol, or "" for a value
    against: str  # "finite differences" or "interpreter"
    max_abs: float
    max_rel: float
    ok: bool


def sample_arguments(spec: Spec, rng: np.random.Generator, dims: Mapping[str, int],
                     default_size: int, positive: bool = False) -> dict[Node, np.ndarray]:
    """Random arrays for every symbol: normal floats (or uniform in [0.5, 1.5] when
    `positive`, for specs taking logs or square roots of their inputs), small ints, bools."""
    values: dict[Node, np.ndarray] = {}
    for node in spec.symbols.values():
        shape = tuple(d if isinstance(d, int) else dims.get(d, default_size) for d in node.shape)
        problem = array_problem(shape, node.dtype)
        if problem:
            section = "inputs" if node.name in spec.inputs else "params"
            raise SpecError(f"cannot sample {node.name} of shape {fmt_shape(shape)} to check "
                            f"the spec: {problem}", file=spec.path, section=section,
                            key=f"{node.name}.shape")
        if node.dtype == "bool":
            values[node] = rng.random(shape) < 0.5
        elif node.dtype == "int64":
            values[node] = rng.integers(0, default_size, shape)
        else:
            sample = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape)
            values[node] = np.asarray(sample, dtype=node.dtype)
    return values


def _finite(values: list[np.ndarray]) -> bool:
    return all(np.all(np.isfinite(v)) for v in values if v.dtype.kind == "f")


def fd_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, eps: float,
                directions: list[np.ndarray] | None) -> np.ndarray:
    """Central differences of f at x: the full Jacobian (f.shape + x.shape), or, given
    directions, the directional derivatives stacked on a leading axis."""
    def diff(u: np.ndarray) -> np.ndarray:
        step = (eps * u).astype(x.dtype)
        return (np.asarray(f(x + step), np.float64) - np.asarray(f(x - step), np.float64)) \
            / (2 * eps)

    if directions is not None:
        return np.stack([diff(u) for u in directions])
    columns = []
    for i in range(x.size):
        unit = np.zeros(x.size)
        unit[i] = 1.0
        columns.append(diff(unit.reshape(x.shape)))
    out_shape = np.shape(f(x))
    jac = np.stack(columns, axis=-1) if columns else np.zeros(out_shape + (0,))
    return jac.reshape(out_shape + x.shape)


def _compare(function: str, wrt: str, against: str, got: np.ndarray, want: np.ndarray,
             tol: float) -> CheckRow:
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return CheckRow(function, wrt, against, float("inf"), float("inf"), False)
    if got.size == 0:
        return CheckRow(function, wrt, against, 0.0, 0.0, True)
    max_abs = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want)))
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    ok = bool(np.isfinite(max_abs) and max_abs <= tol * max(1.0, scale))
    return CheckRow(function, wrt, against, max_abs, max_rel, ok)


MAX_SAMPLE_BYTES = 1 << 32  # `check` refuses to sample an argument larger than this


def array_problem(shape: tuple[int, ...], dtype: str) -> str | None:
    """Why NumPy cannot hold (or `check` should not sample) an array of this shape, if so."""
    if len(shape) > MAX_NDIM:
        return f"it has {len(shape)} dims, and NumPy arrays have at most {MAX_NDIM}"
    size = math.prod(shape)
    nbytes = size * np.dtype(dtype).itemsize
    if nbytes > MAX_SAMPLE_BYTES:
        return (f"it would take about 2**{nbytes.bit_length() - 1} bytes (the limit is "
                f"2**{MAX_SAMPLE_BYTES.bit_length() - 1}); a check needs small arrays (size "
                "symbolic dims with --dim or --size)")
    return None


def check_spec(spec: Spec, module: ModuleType, *, dims: Mapping[str, int] | None = None,
               default_size: int = 5, seed: int = 0) -> list[CheckRow]:
    """Compare every function of the generated module with the reference answers."""
    dims = dict(dims or {})
    rng = np.random.default_rng(seed)
    values = sample_arguments(spec, rng, dims, default_size)
    roots = [p.of if p.of is not None else p.outputs for p in spec.functions]
    plain = [leaf for root in roots for leaf in flatten(root)]
    if plain and not _finite(evaluate(plain, values)):
        values = sample_arguments(spec, rng, dims, default_size, positive=True)
    rows: list[CheckRow] = []
    for plan in spec.functions:
        rows.extend(check_function(plan, module, values, rng))
    return rows


def check_function(plan: FunctionPlan, module: ModuleType, values: Mapping[Node, np.ndarray],
                   rng: np.random.Generator) -> list[CheckRow]:
    """The rows for one generated function."""
    bindings = dict(values)
    if plan.v is not None:
        bindings[plan.v] = rng.standard_normal(
            np.shape(values[plan.wrt[0]])).astype(plan.v.dtype)
    kwargs = {arg.name: bindings[arg] for arg in plan.args}
    result = getattr(module, plan.name)(**kwargs)
    floats = [a.dtype for a in plan.args if a.dtype in TOLERANCES]
    dtype = min(floats, key=lambda d: np.dtype(d).itemsize, default="float64")  # least precise
    eps, fd_tol, ref_tol = TOLERANCES[dtype]
    if plan.kind == "output":
        leaves = flatten(plan.outputs)
        got = list(result) if isinstance(plan.outputs, tuple) else [result]
        want = evaluate(leaves, bindings)
        return [_compare(plan.name, "", "interpreter", g, w, ref_tol)
                for g, w in zip(_flat_values(got), want, strict=True)]
    assert plan.of is not None
    rows: list[CheckRow] = []
    if plan.kind == "value_and_grad":
        value, result = result
        rows.append(_compare(plan.name, "", "interpreter", value,
                             evaluate(plan.of, bindings), ref_tol))
    if plan.kind in ("grad", "value_and_grad"):
        grads = result if plan.wrt_is_list else (result,)
        for w, g in zip(plan.wrt, grads, strict=True):
            rows.append(_check_derivative(plan, w, g, plan.of, bindings, eps, fd_tol, rng))
        return rows
    (w,) = plan.wrt
    gradient = grad(plan.of, w)  # the gradient the Hessian is a Jacobian of
    if plan.kind == "hessian":
        rows.append(_check_derivative(plan, w, result, gradient, bindings, eps, fd_tol, rng))
    else:
        direction = bindings[plan.v]
        fd = fd_jacobian(_evaluator(gradient, w, bindings), bindings[w], eps, [direction])[0]
        rows.append(_compare(plan.name, w.name, "finite differences", result, fd, fd_tol))
    return rows


def _flat_values(values: list) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for v in values:
        if isinstance(v, tuple):
            out.extend(_flat_values(list(v)))
        else:
            out.append(v)
    return out


def _evaluator(node: Node, w: Node, bindings: Mapping[Node, np.ndarray]) \
        -> Callable[[np.ndarray], np.ndarray]:
    def f(x: np.ndarray) -> np.ndarray:
        return evaluate(node, {**bindings, w: x})
    return f


def _check_derivative(plan: FunctionPlan, w: Node, got: np.ndarray, of: Node,
                      bindings: Mapping[Node, np.ndarray], eps: float, tol: float,
                      rng: np.random.Generator) -> CheckRow:
    """d(of)/d(w) from the module (shape of.shape + w.shape) against central differences."""
    x = bindings[w]
    f = _evaluator(of, w, bindings)
    if x.size <= MAX_ELEMENTWISE:
        return _compare(plan.name, w.name, "finite differences", got,
                        fd_jacobian(f, x, eps, None), tol)
    directions = [u / np.linalg.norm(u) for u in
                  (rng.standard_normal(x.shape) for _ in range(PROBES))]
    projected = np.stack([np.tensordot(np.asarray(got, np.float64), u, axes=x.ndim)
                          for u in directions])
    return _compare(plan.name, w.name, "finite differences (random directions)", projected,
                    fd_jacobian(f, x, eps, directions), tol)


def format_table(rows: list[CheckRow]) -> str:
    """The check results as an aligned text table."""
    header = ("function", "wrt", "against", "max abs error", "max rel error", "ok")
    body = [(r.function, r.wrt or "-", r.against, f"{r.max_abs:.2e}", f"{r.max_rel:.2e}",
             "ok" if r.ok else "MISMATCH") for r in rows]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             .rstrip() for row in [header] + body]
    return "\n".join(lines)
