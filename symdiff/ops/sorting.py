"""Sorting: sort and partition (NumPy semantics) and the permutations behind them, argsort
and argpartition.

sort(x) is x gathered through its stable argsort, so its derivative moves each cotangent
back to where its element came from (a scatter through the same permutation) and its
tangent is the tangent gathered the same way. Ties follow the stable order: among equal
elements the one earlier in x comes first and receives the earlier cotangent, so the
derivative is one of the one-sided derivatives of a piecewise-linear function (as in NumPy,
JAX and PyTorch). partition uses argpartition's permutation, computed once by the same
NumPy call in the value and in the derivative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import TensorType, fmt_shape, normalize_axes
from .base import define, export, finite_if_operands, lift
from .gather import along_axis_grids, gather, scatter_add_op
from .lowering import A0, Call, kwargs
from .structure import reshape

Kth = int | tuple[int, ...] | None


def _partition(x, kth, axis=-1):
    """np.partition through argpartition, so the order of the non-kth elements is exactly
    the permutation the derivative uses."""
    return np.take_along_axis(x, np.argpartition(x, kth, axis=axis), axis=axis)


def _check(name: str, t: TensorType, node: Node, axis: int, kth: Kth) -> None:
    normalize_axes(axis, t.ndim, name)
    size = t.shape[axis]
    if kth is None or not isinstance(size, int):
        return
    for k in (kth,) if isinstance(kth, int) else kth:
        if not -size <= k < size:
            raise ShapeError(f"{name}: kth {k} is out of range for axis {axis} of "
                             f"{node.display_name} {fmt_shape(t.shape)} (size {size})")


# -- argsort and argpartition: the permutations, integer valued ---------------------------------

def _argsort_rule(types: list[TensorType], inputs: list[Node], *, axis: int,
                  kth: Kth) -> TensorType:
    (t,) = types
    _check("argpartition" if kth is not None else "argsort", t, inputs[0], axis, kth)
    return TensorType(t.shape, "int64")


def _argsort_impl(x: np.ndarray, axis: int, kth: Kth) -> np.ndarray:
    if kth is None:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    return np.argpartition(x, kth, axis=axis).astype(np.int64, copy=False)


def _argsort_batch(args: list[Node], batched: list[bool], out: Node, axis: int,
                   kth: Kth) -> Node:
    return argsort_op(args[0], axis=axis + 1, kth=kth)


def _argsort_lower(x: Node, out: Node, axis: int, kth: Kth) -> Call:
    if kth is None:
        return Call("np.argsort", (A0,), kwargs(axis=axis, kind="stable"))
    return Call("np.argpartition", (A0, kth), kwargs(axis=axis))


argsort_op = define(
    "argsort", shape_rule=_argsort_rule, impl=_argsort_impl, vjp=(None,), jvp=(None,),
    batch=_argsort_batch, lower=_argsort_lower,
    doc="The stable sorting permutation along `axis` (int64), or with `kth` the one "
        "np.argpartition gives; integer valued, so no derivative flows through it.")


@export(op=argsort_op, statics={"axis": ("an int", False)})
def argsort(x: object, axis: int = -1) -> Node:
    """np.argsort with kind="stable": indices that sort x along axis, ties in order."""
    x = lift(x)
    (axis,) = normalize_axes(axis, x.ndim, "argsort")
    return argsort_op(x, axis=axis, kth=None)


@export(statics={"kth": ("an int or a tuple of ints", False), "axis": ("an int", False)})
def argpartition(x: object, kth: int | Sequence[int], axis: int = -1) -> Node:
    """np.argpartition: indices that put the kth element of x in its sorted place."""
    x = lift(x)
    (axis,) = normalize_axes(axis, x.ndim, "argpartition")
    return argsort_op(x, axis=axis, kth=_kth(kth))


# -- sort and partition ---------------------------------------------------------------------

def _sort_rule(types: list[TensorType], inputs: list[Node], *, axis: int,
               kth: Kth) -> TensorType:
    (t,) = types
    _check("partition" if kth is not None else "sort", t, inputs[0], axis, kth)
    return t


def _sort_impl(x: np.ndarray, axis: int, kth: Kth) -> np.ndarray:
    if kth is None:
        return np.sort(x, axis=axis, kind="stable")
    return _partition(x, kth, axis)


def _sort_vjp(g: Node, x: Node, out: Node, axis: int, kth: Kth) -> Node:
    """Each cotangent goes back to the place its element came from."""
    perm = argsort_op(x, axis=axis, kth=kth)
    return scatter_add_op(g, *along_axis_grids(x.shape, perm, axis), start=0, shape=x.shape)


def _sort_jvp(t: Node, x: Node, out: Node, axis: int, kth: Kth) -> Node:
    """The tangent moves with its element."""
    return gather(t, along_axis_grids(x.shape, argsort_op(x, axis=axis, kth=kth), axis), 0)


def _sort_batch(args: list[Node], batched: list[bool], out: Node, axis: int,
                kth: Kth) -> Node:
    return sort_op(args[0], axis=axis + 1, kth=kth)


def _sort_lower(x: Node, out: Node, axis: int, kth: Kth) -> Call:
    if kth is None:
        return Call("np.sort", (A0,), kwargs(axis=axis, kind="stable"))
    return Call(_partition, (A0, kth), kwargs(axis=axis))


sort_op = define(
    "sort", shape_rule=_sort_rule, impl=_sort_impl, vjp=(_sort_vjp,), jvp=(_sort_jvp,),
    batch=_sort_batch, lower=_sort_lower, finite=finite_if_operands,
    # a full stable sort is one valid partition, the one argsort's array-API lowering gives
    array_api=lambda x, out, axis, kth: Call("xp.sort", (A0,), kwargs(axis=axis, stable=True)),
    doc="x sorted along `axis` (stable: ties keep their order), or with `kth` partitioned "
        "as np.partition; derivatives move through the same permutation (argsort).")


def _kth(kth: Any) -> int | tuple[int, ...]:
    if isinstance(kth, (int, np.integer)) and not isinstance(kth, bool):
        return int(kth)
    if isinstance(kth, (tuple, list)) and kth and all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in kth):
        return tuple(int(k) for k in kth)
    raise ShapeError(f"partition: kth must be an int or a non-empty tuple of ints, not {kth!r}")


def _flat(x: Node, axis: int | None, name: str) -> tuple[Node, int]:
    if axis is None:
        return reshape(x, (-1,)), 0
    (axis,) = normalize_axes(axis, x.ndim, name)
    return x, axis


@export(op=sort_op, statics={"axis": ("an int or None", False)})
def sort(x: object, axis: int | None = -1) -> Node:
    """np.sort along axis (None: of the flattened x), stable: equal elements keep their
    order, and the first of them gets the first cotangent."""
    x = lift(x)
    x, axis = _flat(x, axis, "sort")
    return sort_op(x, axis=axis, kth=None)


@export(statics={"kth": ("an int or a tuple of ints", False),
                 "axis": ("an int or None", False)})
def partition(x: object, kth: int | Sequence[int], axis: int | None = -1) -> Node:
    """np.partition: the kth element (each of a tuple of kth) in its sorted place, smaller
    ones before it and larger ones after, in argpartition's order."""
    x = lift(x)
    x, axis = _flat(x, axis, "partition")
    return sort_op(x, axis=axis, kth=_kth(kth))


# partition and argpartition build the same ops as sort and argsort (whose public
# constructors those ops keep): say so, for the op catalog.
partition.op = sort_op  # type: ignore[attr-defined]
argpartition.op = argsort_op  # type: ignore[attr-defined]
