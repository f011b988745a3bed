"""Joins: concatenate (along an existing axis) and stack (along a new one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import TensorType, fmt_shape, normalize_axes, promote
from .base import define, export, lift, names, shape_mismatch
from .lowering import ArgList, Call, kwargs
from .reductions import all_batched
from .structure import getitem, zeros


def _join_rule(types: list[TensorType], inputs: list[Node], *, axis: int, name: str,
               new_axis: bool) -> TensorType:
    first = types[0]
    dtype = promote(*[t.dtype for t in types])
    for t in types[1:]:
        same = t.ndim == first.ndim and all(
            a == b for i, (a, b) in enumerate(zip(t.shape, first.shape, strict=True))
            if new_axis or i != axis)
        if not same:
            parts = ", ".join(f"{n} {fmt_shape(ty.shape)}"
                              for n, ty in zip(names(inputs), types, strict=True))
            raise ShapeError(f"{name}: operand shapes do not match along the other axes: "
                             f"{parts}")
    shape = list(first.shape)
    if new_axis:
        shape.insert(axis, len(types))
    else:
        sizes = [t.shape[axis] for t in types]
        if not all(isinstance(s, int) for s in sizes):
            raise shape_mismatch(name, inputs, f"axis {axis} has a symbolic size")
        shape[axis] = sum(sizes)
    return TensorType(tuple(shape), dtype)


def _concatenate_rule(types: list[TensorType], inputs: list[Node], *, axis: int) -> TensorType:
    return _join_rule(types, inputs, axis=axis, name="concatenate", new_axis=False)


def _stack_rule(types: list[TensorType], inputs: list[Node], *, axis: int) -> TensorType:
    return _join_rule(types, inputs, axis=axis, name="stack", new_axis=True)


def _join_batch(args: list[Node], batched: list[bool], out: Node, axis: int) -> Node:
    return out.op(*all_batched(args, batched), axis=axis + 1)


def _join_lower(*xs: Node, out: Node, axis: int) -> Any:
    return Call(f"np.{out.op.name}", (ArgList(),), kwargs(axis=axis))


def _join_jvp(t: Node, *xs: Node, out: Node, axis: int, index: int) -> Node:
    """Linear in each argument: the tangent joined with zeros for the other operands."""
    parts = [t if j == index else zeros(x.shape, out.dtype) for j, x in enumerate(xs)]
    return out.op(*parts, axis=axis)


def _concatenate_impl(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=axis)


def _concatenate_vjp(g: Node, *xs: Node, out: Node, axis: int, index: int) -> Node:
    start = sum(x.shape[axis] for x in xs[:index])
    stop = start + xs[index].shape[axis]
    return getitem(g, (slice(None),) * axis + (slice(start, stop),))


def _stack_impl(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.stack(xs, axis=axis)


def _stack_vjp(g: Node, *xs: Node, out: Node, axis: int, index: int) -> Node:
    return getitem(g, (slice(None),) * axis + (index,))


concatenate_op = define(
    "concatenate", family="join", shape_rule=_concatenate_rule, impl=_concatenate_impl,
    vjp=(_concatenate_vjp,), jvp=(_join_jvp,), batch=_join_batch, lower=_join_lower,
    variadic=True, doc="Join along an existing axis.")
stack_op = define(
    "stack", family="join", shape_rule=_stack_rule, impl=_stack_impl, vjp=(_stack_vjp,),
    jvp=(_join_jvp,), batch=_join_batch, lower=_join_lower, variadic=True,
    doc="Join along a new axis.")


@export(op=concatenate_op, lists=("xs",), statics=("axis",))
def concatenate(xs: Sequence[object], axis: int = 0) -> Node:
    """Join nodes along an existing axis."""
    nodes = [lift(x) for x in xs]
    if not nodes:
        raise ShapeError("concatenate: needs at least one operand")
    if len(nodes) == 1:
        return nodes[0]
    (axis,) = normalize_axes(axis, nodes[0].ndim, "concatenate")
    return concatenate_op(*nodes, axis=axis)


@export(op=stack_op, lists=("xs",), statics=("axis",))
def stack(xs: Sequence[object], axis: int = 0) -> Node:
    """Join nodes along a new axis."""
    nodes = [lift(x) for x in xs]
    if not nodes:
        raise ShapeError("stack: needs at least one operand")
    (axis,) = normalize_axes(axis, nodes[0].ndim + 1, "stack")
    return stack_op(*nodes, axis=axis)
