"""Integer indexing: gather (x[:, i, j] with index arrays on consecutive axes) and its
adjoint scatter_add, arange, and what users build from them: x[idx], take,
take_along_axis, one_hot (cross-entropy from integer labels: logp[arange(n), labels])."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node, const
from ..shapes import (
    Shape,
    TensorType,
    broadcast_shapes,
    canonical_dtype,
    canonical_shape,
    fmt_shape,
    normalize_axes,
)
from .base import define, export, lift, names, no_flops, shape_mismatch
from .elementwise import equal
from .lowering import A0, XP, Arg, Call, kwargs
from .structure import astype, expand_dims, reshape
from .structure import getitem as basic_getitem

# -- gather and scatter_add ----------------------------------------------------------------


def _gather(x, *indices, start=0, names=()):
    """x[:, ..., i0, i1, ...]: integer index arrays on consecutive axes from `start`, with
    an IndexError naming the index whose values are out of range."""
    for k, idx in enumerate(indices):
        size = x.shape[start + k]
        if idx.size and (idx.max() >= size or idx.min() < -size):
            name = names[k] if k < len(names) and names[k] else f"#{k}"
            raise IndexError(f"index {name} has values outside [-{size}, {size}) for axis "
                             f"{start + k} of an array of shape {x.shape}")
    return x[(slice(None),) * start + tuple(indices)]


def _scatter_add(g, *indices, start=0, shape=()):
    """Zeros of `shape` with g added at x[:, ..., i0, i1, ...] (repeats accumulate): the
    adjoint of _gather."""
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, (slice(None),) * start + tuple(indices), g)
    return out


def _check_indices(op: str, indices: Sequence[TensorType], inputs: Sequence[Node]) -> Shape:
    for t, node in zip(indices, inputs, strict=True):
        if t.dtype != "int64":
            raise ShapeError(f"{op}: index {node.display_name} has dtype {t.dtype}; integer "
                             "indices are needed (bool masks give data-dependent shapes)")
    return broadcast_shapes([t.shape for t in indices], names(inputs), op)


def _gather_rule(types: list[TensorType], inputs: list[Node], *, start: int,
                 names: tuple[str, ...] = ()) -> TensorType:
    x, indices = types[0], types[1:]
    if not indices or start + len(indices) > x.ndim:
        raise shape_mismatch("gather", inputs, f"{len(indices)} index arrays from axis "
                                               f"{start} of a rank-{x.ndim} operand")
    shape = _check_indices("gather", indices, inputs[1:])
    return TensorType(x.shape[:start] + shape + x.shape[start + len(indices):], x.dtype)


def _gather_impl(x: np.ndarray, *indices: np.ndarray, start: int,
                 names: tuple[str, ...] = ()) -> np.ndarray:
    return np.asarray(_gather(x, *indices, start=start, names=names))


def _gather_vjp(g: Node, *xs: Node, out: Node, start: int, names: tuple[str, ...] = (),
                index: int) -> Node | None:
    if index > 0:
        return None  # integer indices carry no derivative
    return scatter_add_op(g, *xs[1:], start=start, shape=xs[0].shape)


def _gather_jvp(t: Node, *xs: Node, out: Node, start: int, names: tuple[str, ...] = (),
                index: int) -> Node | None:
    return gather_op(t, *xs[1:], start=start, names=names) if index == 0 else None


def _no_batched_indices(op: str, batched: Sequence[bool]) -> None:
    if any(batched[1:]):
        raise ShapeError(f"{op}: integer indices cannot carry a batch axis (jacobian and "
                         "hessian batch float values only)")


def _gather_batch(args: list[Node], batched: list[bool], out: Node, start: int,
                  names: tuple[str, ...] = ()) -> Node:
    _no_batched_indices("gather", batched)
    return gather_op(*args, start=start + 1, names=names)


def _gather_xp(xp, x, *indices, start=0, names=()):
    """_gather with the standard's calls: the indexed axes merged into one, read with
    xp.take at each index's flat position. Dask arrays skip the range check, which would
    compute the indices (an out-of-range index fails when the result is computed)."""
    k = len(indices)
    sizes = tuple(x.shape[start:start + k])
    lazy = type(x).__module__.split(".")[0] == "dask"
    flat = 0
    for j, idx in enumerate(indices):
        size = sizes[j]
        if not lazy and bool(xp.any((idx >= size) | (idx < -size))):
            name = names[j] if j < len(names) and names[j] else f"#{j}"
            raise IndexError(f"index {name} has values outside [-{size}, {size}) for axis "
                             f"{start + j} of an array of shape {tuple(x.shape)}")
        flat = flat * size + xp.where(idx < 0, idx + size, idx)
    block = 1
    for size in sizes:
        block *= size
    pre, post = tuple(x.shape[:start]), tuple(x.shape[start + k:])
    taken = xp.take(xp.reshape(x, (*pre, block, *post)), xp.reshape(flat, (-1,)), axis=start)
    return xp.reshape(taken, (*pre, *flat.shape, *post))


def _gather_xp_lower(x: Node, *indices: Node, out: Node, start: int,
                     names: tuple[str, ...] = ()) -> Call:
    args = (XP, A0, *[Arg(i + 1) for i in range(len(indices))])
    return Call(_gather_xp, args, kwargs(start=start or None, names=names or None))


def _gather_lower(x: Node, *indices: Node, out: Node, start: int,
                  names: tuple[str, ...] = ()) -> Call:
    args = (A0, *[Arg(i + 1) for i in range(len(indices))])
    return Call(_gather, args, kwargs(start=start or None, names=names or None))


gather_op = define(
    "gather", shape_rule=_gather_rule, impl=_gather_impl, vjp=(_gather_vjp,),
    jvp=(_gather_jvp,), batch=_gather_batch, lower=_gather_lower, variadic=True,
    array_api=_gather_xp_lower,
    flops=no_flops,
    doc="x[:, ..., i0, i1, ...]: integer index arrays (broadcast together) on consecutive "
        "axes from `start`; out-of-range values raise an IndexError naming the index.")


def _scatter_rule(types: list[TensorType], inputs: list[Node], *, start: int,
                  shape: Shape) -> TensorType:
    g, indices = types[0], types[1:]
    index_shape = _check_indices("scatter_add", indices, inputs[1:])
    want = shape[:start] + index_shape + shape[start + len(indices):]
    if g.shape != want:
        raise shape_mismatch("scatter_add", inputs, f"values of shape {fmt_shape(g.shape)} "
                                                    f"for places of shape {fmt_shape(want)}")
    return TensorType(shape, g.dtype)


def _scatter_impl(g: np.ndarray, *indices: np.ndarray, start: int,
                  shape: tuple[int, ...]) -> np.ndarray:
    return _scatter_add(g, *indices, start=start, shape=shape)


def _scatter_vjp(g: Node, *xs: Node, out: Node, start: int, shape: Shape,
                 index: int) -> Node | None:
    return gather_op(g, *xs[1:], start=start) if index == 0 else None


def _scatter_jvp(t: Node, *xs: Node, out: Node, start: int, shape: Shape,
                 index: int) -> Node | None:
    return scatter_add_op(t, *xs[1:], start=start, shape=shape) if index == 0 else None


def _scatter_batch(args: list[Node], batched: list[bool], out: Node, start: int,
                   shape: Shape) -> Node:
    _no_batched_indices("scatter_add", batched)
    return scatter_add_op(*args, start=start + 1, shape=args[0].shape[:1] + shape)


def _scatter_add_xp(xp, g, *indices, start=0, shape=()):
    """_scatter_add with the standard's calls (no writes into an array): a one-hot matrix
    of the flat positions, contracted with g over the index axis, so repeats add up."""
    k = len(indices)
    sizes = tuple(shape[start:start + k])
    flat = 0
    for j, idx in enumerate(indices):
        flat = flat * sizes[j] + xp.where(idx < 0, idx + sizes[j], idx)
    pre, post = tuple(shape[:start]), tuple(shape[start + k:])
    spread = tuple(g.shape[start:g.ndim - len(post)])
    flat = xp.reshape(xp.broadcast_to(flat, spread), (-1, 1))
    block = 1
    for size in sizes:
        block *= size
    onehot = xp.astype(flat == xp.arange(block, dtype=flat.dtype), g.dtype)
    summed = xp.tensordot(onehot, xp.reshape(g, (*pre, flat.shape[0], *post)),
                          axes=([0], [start]))
    order = (*range(1, 1 + len(pre)), 0, *range(1 + len(pre), summed.ndim))
    return xp.reshape(xp.permute_dims(summed, order), tuple(shape))


def _scatter_xp_lower(g: Node, *indices: Node, out: Node, start: int, shape: Shape) -> Call:
    args = (XP, A0, *[Arg(i + 1) for i in range(len(indices))])
    return Call(_scatter_add_xp, args, kwargs(start=start or None, shape=shape))


def _scatter_lower(g: Node, *indices: Node, out: Node, start: int, shape: Shape) -> Call:
    args = (A0, *[Arg(i + 1) for i in range(len(indices))])
    return Call(_scatter_add, args, kwargs(start=start or None, shape=shape))


scatter_add_op = define(
    "scatter_add", shape_rule=_scatter_rule, impl=_scatter_impl, vjp=(_scatter_vjp,),
    jvp=(_scatter_jvp,), batch=_scatter_batch, lower=_scatter_lower, variadic=True,
    array_api=_scatter_xp_lower,
    doc="Zeros of `shape` with the values added where gather would read them (repeated "
        "indices accumulate): the adjoint of gather.")


# -- arange --------------------------------------------------------------------------------

def _arange_rule(types: list[TensorType], inputs: list[Node], *, shape: Shape) -> TensorType:
    return TensorType(shape, "int64")


def _arange_impl(shape: tuple[int]) -> np.ndarray:
    return np.arange(shape[0], dtype=np.int64)


def _arange_lower(out: Node, shape: Shape) -> Call:
    return Call("np.arange", (shape[0],))


arange_op = define(
    "arange", family="source", shape_rule=_arange_rule, impl=_arange_impl, vjp=(), jvp=(),
    lower=_arange_lower, doc="0, 1, ..., n - 1 as int64; n may be a symbolic dim.")


@export(op=arange_op, statics={"n": ("an int or a symbolic dim name such as 'n'", True)})
def arange(n: int | str) -> Node:
    """The indices 0 .. n - 1 (int64); n may be a symbolic dim, as the rows of a batch."""
    (size,) = canonical_shape([n])
    return arange_op(shape=(size,))


# -- what users call -------------------------------------------------------------------------

def _index_node(value: object, owner: Node) -> Node:
    """An index as an int64 node: a node, or a list or array of ints."""
    node = value if isinstance(value, Node) else const(np.asarray(value))
    if node.dtype == "bool":
        raise ShapeError(f"indexing {owner.display_name} with the boolean {node.display_name}"
                         ": a mask gives a data-dependent shape; use where() instead")
    if node.dtype != "int64":
        raise ShapeError(f"indexing {owner.display_name}: index {node.display_name} has dtype "
                         f"{node.dtype}; indices must be integers")
    return node


def _full_slice(item: object) -> bool:
    """`:` (compared only as a slice: `==` on an index array would be elementwise)."""
    return isinstance(item, slice) and item == slice(None)


def _is_advanced(item: object) -> bool:
    return isinstance(item, (Node, list, np.ndarray)) and not isinstance(item, bool)


def gather(x: Node, indices: Sequence[Node], start: int = 0) -> Node:
    """x[:, ..., i0, i1, ...] with the index arrays on the axes from `start`."""
    names_ = tuple(i.name or i.label or "" for i in indices)
    return gather_op(x, *indices, start=start, names=names_ if any(names_) else ())


@export(spec=False, integer=("index",))
def getitem(x: object, index: Any) -> Node:
    """x[index]: basic indexing (ints, slices, None, ...), or integer arrays (nodes, lists,
    arrays) on consecutive axes, possibly after full slices (`x[:, idx]`, `x[i, j]`), with
    NumPy's semantics; negative indices count from the end."""
    x = lift(x)
    items = index if isinstance(index, tuple) else (index,)
    if not any(_is_advanced(i) for i in items):
        return basic_getitem(x, index)
    start = 0
    while start < len(items) and _full_slice(items[start]):
        start += 1
    end = start
    while end < len(items) and (_is_advanced(items[end])
                                or isinstance(items[end], (int, np.integer))):
        end += 1
    if any(not (_full_slice(i) or i is Ellipsis) for i in items[end:]):
        raise ShapeError(f"indexing {x.display_name}: integer arrays must sit on consecutive "
                         "axes, after full slices only (x[:, idx] or x[i, j]); use take or "
                         "take_along_axis for other forms")
    indices = [_index_node(i if _is_advanced(i) else np.int64(i), x) for i in items[start:end]]
    if start + len(indices) > x.ndim:
        raise ShapeError(f"indexing {x.display_name}: too many indices for shape "
                         f"{fmt_shape(x.shape)}")
    return gather(x, indices, start)


@export(statics=("axis",), integer=("indices",))
def take(x: object, indices: object, axis: int = 0) -> Node:
    """np.take: the elements of x at integer `indices` along `axis`."""
    x = lift(x)
    (axis,) = normalize_axes(axis, x.ndim, "take")
    return gather(x, [_index_node(indices, x)], axis)


@export(statics=("axis",), integer=("indices",))
def take_along_axis(x: object, indices: object, axis: int) -> Node:
    """np.take_along_axis: x[..., indices[...], ...] along `axis`, indices with x's rank
    (the cross-entropy of integer labels: take_along_axis(logp, labels[:, None], 1))."""
    x = lift(x)
    idx = _index_node(indices, x)
    (axis,) = normalize_axes(axis, x.ndim, "take_along_axis")
    if idx.ndim != x.ndim:
        raise shape_mismatch("take_along_axis", [x, idx], "indices need the rank of x")
    return gather(x, along_axis_grids(x.shape, idx, axis), 0)


def along_axis_grids(shape: Shape, idx: Node, axis: int) -> list[Node]:
    """The index arrays of x[..., idx, ...] along `axis` for an x of `shape`: idx there, and
    aranges shaped to broadcast against it on every other axis (np.take_along_axis)."""
    grids = []
    for j in range(len(shape)):
        if j == axis:
            grids.append(idx)
            continue
        unit = [1] * len(shape)
        unit[j] = shape[j]
        grids.append(reshape(arange(shape[j]), tuple(unit)))
    return grids


@export(statics={"k": ("an int", False), "dtype": ("a dtype name such as 'float32'", True)},
        integer=("labels",))
def one_hot(labels: object, k: int, dtype: object = "float64") -> Node:
    """Rows of the k x k identity picked by integer labels: shape labels.shape + (k,)."""
    labels = lift(labels)
    if labels.dtype != "int64":
        raise ShapeError(f"one_hot: labels {labels.display_name} have dtype {labels.dtype}; "
                         "integer labels are needed")
    return astype(equal(expand_dims(labels, labels.ndim), arange(int(k))),
                  canonical_dtype(dtype))
