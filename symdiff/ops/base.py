"""The op record: everything about one op in one place, plus the shape-rule factories.

An op has a name, a shape-and-dtype rule, a NumPy reference implementation, one VJP and
one JVP rule per argument (written with graph ops so they can be differentiated again),
and a NumPy lowering for code generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node, apply, const
from ..shapes import (
    TensorType,
    broadcast_shapes,
    float_of,
    fmt_shape,
    is_float,
    normalize_axes,
    promote,
    reduced_shape,
)

# A VJP rule maps (cotangent of the output, *inputs, out=node, **attrs) to the cotangent of
# one argument, or None for "no contribution". A JVP rule maps (tangent of one argument,
# *inputs, out=node, **attrs) to that argument's contribution to the output's tangent.
Rule = Callable[..., Node | None]
ShapeRule = Callable[..., TensorType]
Lowering = Callable[..., str]

REGISTRY: dict[str, Op] = {}


@dataclass(frozen=True, eq=False)
class Op:
    """One op of the library.

    `vjp`/`jvp` hold a rule per argument (None: not differentiable in that argument). A
    `variadic` op has one VJP rule, called with `index=` the argument, and one JVP rule
    taking the list of tangents (None where absent). `batch(args, batched, out, **attrs)`
    rebuilds the op over operands of which those flagged in `batched` carry an extra
    leading axis, and returns the result with that axis in front (the batching transform
    behind jacobian and hessian); elementwise ops and reductions get it from their family
    (symdiff/batching.py). `taylor(series, out, **attrs)` maps the inputs' truncated
    Taylor series to the output's (see ops/series.py; elementwise ops only, for
    `derivative`). `lower(args, **attrs)` gives the NumPy expression for codegen;
    `ufunc` says it is one NumPy ufunc call, so codegen may add `out=`. `helpers` are
    module-level functions the lowering calls (codegen copies their source into the
    generated module, and `impl` is usually one of them)."""

    name: str
    shape_rule: ShapeRule
    impl: Callable[..., np.ndarray]
    vjp: tuple[Rule | None, ...]
    jvp: tuple[Rule | None, ...]
    lower: Lowering
    ufunc: bool = False
    elementwise: bool = False
    helpers: tuple[Callable, ...] = ()
    variadic: bool = False
    reduction: bool = False
    batch: Callable[..., Node] | None = None
    taylor: Callable[..., list] | None = None
    doc: str = ""

    def __call__(self, *inputs: Node, **attrs: Any) -> Node:
        return apply(self, inputs, **attrs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def define(name: str, **fields: Any) -> Op:
    """Create and register an op; names are unique across the library."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is defined twice")
    op = Op(name=name, **fields)
    REGISTRY[name] = op
    return op


# -- lifting Python values into the graph ----------------------------------------------

def lift(value: object, like: Node | None = None) -> Node:
    """A node for `value`. Python scalars are weakly typed: they take `like`'s float dtype,
    so `x32 * 2` stays float32 as in NumPy."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        if like is not None and is_float(like.dtype) and not isinstance(value, bool):
            return const(value, like.dtype)
        if isinstance(value, float):
            return const(value, "float64")
        if isinstance(value, bool):
            return const(value, "bool")
        return const(value, like.dtype if like is not None and like.dtype == "int64" else "int64")
    return const(value)


def lift_pair(a: object, b: object) -> tuple[Node, Node]:
    a_node = a if isinstance(a, Node) else None
    b_node = b if isinstance(b, Node) else None
    return lift(a, b_node), lift(b, a_node)


def names(inputs: Sequence[Node]) -> list[str]:
    return [n.display_name for n in inputs]


# -- shape-rule factories --------------------------------------------------------------

def broadcasting_rule(name: str, result: str = "promote") -> ShapeRule:
    """Elementwise op over broadcast operands. result: 'promote' (common dtype), 'float'
    (common dtype made float), 'bool' (comparisons)."""

    def rule(types: Sequence[TensorType], inputs: Sequence[Node], **_: Any) -> TensorType:
        shape = broadcast_shapes([t.shape for t in types], names(inputs), name)
        operands = types[1:] if name == "where" else types
        dtype = promote(*[t.dtype for t in operands])
        if result == "float":
            dtype = float_of(dtype)
        elif result == "bool":
            dtype = "bool"
        return TensorType(shape, dtype)

    return rule


def reduction_rule(name: str, float_result: bool = False) -> ShapeRule:
    """Reduction over `axis` (int, tuple or None) with `keepdims`."""

    def rule(types: Sequence[TensorType], inputs: Sequence[Node], *, axis: Any,
             keepdims: bool) -> TensorType:
        (t,) = types
        axes = normalize_axes(axis, t.ndim, name)
        dtype = float_of(t.dtype) if float_result else t.dtype
        if t.dtype == "bool" and name in ("sum", "prod"):  # as NumPy; max and min stay bool
            dtype = "int64"
        return TensorType(reduced_shape(t.shape, axes, keepdims), dtype)

    return rule


def same_type_rule(name: str, float_result: bool = True) -> ShapeRule:
    """Output has the input's shape (softmax along an axis, for example)."""

    def rule(types: Sequence[TensorType], inputs: Sequence[Node], **attrs: Any) -> TensorType:
        (t,) = types
        if "axis" in attrs:
            normalize_axes(attrs["axis"], t.ndim, name)
        return TensorType(t.shape, float_of(t.dtype) if float_result else t.dtype)

    return rule


def require_float(name: str, inputs: Sequence[Node]) -> None:
    for node in inputs:
        if not is_float(node.dtype):
            raise ShapeError(f"{name}: operand {node.display_name} has dtype {node.dtype}; "
                             "a float dtype is needed")


def refuse_bool(name: str, inputs: Sequence[Node]) -> None:
    for node in inputs:
        if node.dtype == "bool":
            raise ShapeError(f"{name}: operand {node.display_name} has dtype bool; convert it "
                             "with astype first")


def shape_mismatch(name: str, inputs: Sequence[Node], why: str) -> ShapeError:
    parts = ", ".join(f"{n.display_name} {fmt_shape(n.shape)}" for n in inputs)
    return ShapeError(f"{name}: {why} (operands {parts})")


# -- lowering helpers ------------------------------------------------------------------

def call(fn: str) -> Lowering:
    """Lowering as a plain call `fn(a, b, ...)`."""
    return lambda args, **_: f"{fn}({', '.join(args)})"


def infix(symbol: str) -> Lowering:
    return lambda args, **_: f"{args[0]} {symbol} {args[1]}"


def reduce_args(axis: Any, keepdims: bool) -> str:
    text = "" if axis is None else f", axis={axis[0] if len(axis) == 1 else axis}"
    return text + (", keepdims=True" if keepdims else "")
