"""Ops that move, select or retype elements: transpose, reshape, broadcast_to, expand_dims,
concatenate, stack, basic indexing (and its adjoint, unindex), astype, zeros, dim_size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import (
    Shape,
    TensorType,
    broadcast_shapes,
    canonical_dtype,
    canonical_shape,
    float_of,
    fmt_shape,
    is_float,
    normalize_axes,
    promote,
)
from .base import define, lift, names, shape_mismatch

# -- transpose ------------------------------------------------------------------------------


def _transpose_rule(types: list[TensorType], inputs: list[Node], *, axes: tuple[int, ...]) \
        -> TensorType:
    (t,) = types
    if sorted(axes) != list(range(t.ndim)):
        raise shape_mismatch("transpose", inputs, f"axes {axes} are not a permutation of "
                                                  f"0..{t.ndim - 1}")
    return TensorType(tuple(t.shape[a] for a in axes), t.dtype)


def _inverse(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(axes))


def _lower_transpose(a: list[str], axes: tuple[int, ...]) -> str:
    if axes == tuple(reversed(range(len(axes)))):
        return f"{a[0]}.T"
    return f"{a[0]}.transpose({axes})"


transpose_op = define(
    "transpose", shape_rule=_transpose_rule,
    impl=lambda x, axes: np.transpose(x, axes),
    vjp=(lambda g, x, out, axes: transpose(g, _inverse(axes)),),
    jvp=(lambda t, x, out, axes: transpose(t, axes),),
    batch=lambda args, batched, out, axes: transpose(args[0], (0,) + tuple(a + 1 for a in axes)),
    lower=_lower_transpose, doc="Permute axes (default: reverse them).")


def transpose(x: object, axes: Sequence[int] | None = None) -> Node:
    """Permute axes as np.transpose; with no axes, reverse them."""
    x = lift(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(int(a) % max(x.ndim, 1)
                                                                     for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return transpose_op(x, axes=axes)


# -- reshape, broadcast_to, expand_dims ----------------------------------------------------

def _size_parts(shape: Shape) -> tuple[int, list[str]]:
    ints = math.prod(d for d in shape if isinstance(d, int))
    return ints, sorted(d for d in shape if isinstance(d, str))


def _reshape_target(x: Node, shape: Sequence[Any]) -> Shape:
    """The target shape with a single -1 resolved; sizes must agree, symbols included."""
    shape = list(shape)
    free = [i for i, d in enumerate(shape) if isinstance(d, int) and d == -1]
    if len(free) > 1:
        raise shape_mismatch("reshape", [x], f"more than one -1 in {tuple(shape)}")
    known = canonical_shape([d for d in shape if not (isinstance(d, int) and d == -1)])
    src_ints, src_syms = _size_parts(x.shape)
    dst_ints, dst_syms = _size_parts(known)
    if free:
        rest = list(src_syms)
        for s in dst_syms:
            if s not in rest:
                raise shape_mismatch("reshape", [x], f"cannot reshape to {tuple(shape)}")
            rest.remove(s)
        if src_ints % max(dst_ints, 1) or len(rest) > 1 or (rest and src_ints != dst_ints):
            raise shape_mismatch("reshape", [x], f"cannot infer -1 in {tuple(shape)}")
        shape[free[0]] = rest[0] if rest else src_ints // max(dst_ints, 1)
        return canonical_shape(shape)
    if src_ints != dst_ints or src_syms != dst_syms:
        raise shape_mismatch("reshape", [x], f"cannot reshape to {fmt_shape(known)}: sizes differ")
    return known


reshape_op = define(
    "reshape",
    shape_rule=lambda types, inputs, shape: TensorType(shape, types[0].dtype),
    impl=lambda x, shape: np.reshape(x, shape),
    vjp=(lambda g, x, out, shape: reshape(g, x.shape),),
    jvp=(lambda t, x, out, shape: reshape(t, shape),),
    batch=lambda args, batched, out, shape: reshape(args[0], args[0].shape[:1] + shape),
    lower=lambda a, shape: f"{a[0]}.reshape({shape!r})",
    doc="Reshape (C order); one entry may be -1; symbolic dims must balance.")


def reshape(x: object, shape: Sequence[int | str]) -> Node:
    """Reshape x to `shape` (C order), one entry may be -1."""
    x = lift(x)
    target = _reshape_target(x, shape)
    if target == x.shape:
        return x
    return reshape_op(x, shape=target)


def _broadcast_rule(types: list[TensorType], inputs: list[Node], *, shape: Shape) -> TensorType:
    (t,) = types
    result = broadcast_shapes([t.shape, shape], [inputs[0].display_name, "target"],
                              "broadcast_to")
    if result != shape:
        raise shape_mismatch("broadcast_to", inputs, f"cannot broadcast to {fmt_shape(shape)}")
    return TensorType(shape, t.dtype)


def _sum_to_rule(g: Node, x: Node, out: Node, shape: Shape) -> Node:
    from .reductions import sum_to  # reductions build on this module

    return sum_to(g, x.shape)


broadcast_to_op = define(
    "broadcast_to", shape_rule=_broadcast_rule,
    impl=lambda x, shape: np.broadcast_to(x, shape),
    vjp=(_sum_to_rule,),
    jvp=(lambda t, x, out, shape: broadcast_to(t, shape),),
    batch=lambda args, batched, out, shape:
        broadcast_to(batch_align(args[0], len(shape)), args[0].shape[:1] + shape),
    lower=lambda a, shape: f"np.broadcast_to({a[0]}, {shape!r})",
    doc="Broadcast to a shape, as np.broadcast_to; its VJP sums over the broadcast axes.")


def broadcast_to(x: object, shape: Sequence[int | str]) -> Node:
    """Broadcast x to `shape` with NumPy's rules."""
    x = lift(x)
    shape = canonical_shape(shape)
    if x.shape == shape:
        return x
    return broadcast_to_op(x, shape=shape)


def _expand_rule(types: list[TensorType], inputs: list[Node], *, axis: tuple[int, ...]) \
        -> TensorType:
    (t,) = types
    shape = list(t.shape)
    for a in axis:
        shape.insert(a, 1)
    return TensorType(tuple(shape), t.dtype)


def _new_axes_index(axis: tuple[int, ...]) -> str:
    """x[:, None] for expand_dims(x, 1): indexing is ~15x cheaper per call than np.expand_dims."""
    return ", ".join("None" if i in axis else ":" for i in range(max(axis) + 1))


expand_dims_op = define(
    "expand_dims", shape_rule=_expand_rule,
    impl=lambda x, axis: np.expand_dims(x, axis),
    vjp=(lambda g, x, out, axis: reshape(g, x.shape),),
    jvp=(lambda t, x, out, axis: expand_dims(t, axis),),
    batch=lambda args, batched, out, axis: expand_dims(args[0], tuple(a + 1 for a in axis)),
    lower=lambda a, axis: f"{a[0]}[{_new_axes_index(axis)}]",
    doc="Insert size-1 axes at the given positions of the result.")


def expand_dims(x: object, axis: int | Sequence[int]) -> Node:
    """Insert size-1 axes, as np.expand_dims."""
    x = lift(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = normalize_axes(axes, x.ndim + len(axes), "expand_dims")
    if not axes:
        return x
    return expand_dims_op(x, axis=axes)


def _dim_size_rule(types: list[TensorType], inputs: list[Node], *, axis: tuple[int, ...]) \
        -> TensorType:
    return TensorType((), float_of(types[0].dtype))


dim_size_op = define(
    "dim_size", shape_rule=_dim_size_rule,
    impl=lambda x, axis: np.asarray(math.prod(x.shape[a] for a in axis),
                                    dtype=float_of(canonical_dtype(x.dtype))),
    vjp=(None,), jvp=(None,),
    batch=lambda args, batched, out, axis:
        broadcast_to(dim_size(args[0], [a + 1 for a in axis]), args[0].shape[:1]),
    lower=lambda a, axis: "float(" + " * ".join(f"{a[0]}.shape[{i}]" for i in axis) + ")",
    doc="Number of elements along the given axes, as a float scalar (for means over "
        "symbolic dims).")


def dim_size(x: Node, axis: Sequence[int]) -> Node:
    """The product of x's sizes along `axis`, known only at run time for symbolic dims."""
    return dim_size_op(x, axis=tuple(axis))


def batch_align(x: Node, rank: int) -> Node:
    """A batched operand (batch axis first) padded with unit axes after the batch axis so
    that its other axes line up, by NumPy broadcasting, with a result of `rank` axes."""
    missing = rank - (x.ndim - 1)
    return expand_dims(x, tuple(range(1, 1 + missing))) if missing > 0 else x


def add_batch(x: Node, size: Any) -> Node:
    """An unbatched node repeated along a new leading axis (a broadcast, not a copy)."""
    return broadcast_to(expand_dims(x, 0), (size,) + x.shape)


def _all_batched(args: Sequence[Node], batched: Sequence[bool]) -> list[Node]:
    """Operands of a join with the batch axis given to the unbatched ones too."""
    size = next(a.shape[0] for a, b in zip(args, batched, strict=True) if b)
    return [a if b else add_batch(a, size) for a, b in zip(args, batched, strict=True)]


# -- concatenate and stack --------------------------------------------------------------------

def _join_rule(name: str, new_axis: bool):
    def rule(types: list[TensorType], inputs: list[Node], *, axis: int) -> TensorType:
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

    return rule


def _concat_vjp(g: Node, *xs: Node, out: Node, axis: int, index: int) -> Node:
    start = sum(x.shape[axis] for x in xs[:index])
    stop = start + xs[index].shape[axis]
    return getitem(g, (slice(None),) * axis + (slice(start, stop),))


def _joint_jvp(join):
    """Linear in all arguments together: join the tangents, zeros where one is missing."""
    def rule(tangents: list[Node | None], *xs: Node, out: Node, axis: int) -> Node:
        return join([t if t is not None else zeros(x.shape, out.dtype)
                     for t, x in zip(tangents, xs, strict=True)], axis)
    return rule


concatenate_op = define(
    "concatenate", shape_rule=_join_rule("concatenate", False),
    impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
    vjp=(_concat_vjp,), jvp=(_joint_jvp(lambda ts, axis: concatenate(ts, axis)),),
    batch=lambda args, batched, out, axis: concatenate(_all_batched(args, batched), axis + 1),
    lower=lambda a, axis: f"np.concatenate([{', '.join(a)}], axis={axis})",
    variadic=True, doc="Join along an existing axis.")

stack_op = define(
    "stack", shape_rule=_join_rule("stack", True),
    impl=lambda *xs, axis: np.stack(xs, axis=axis),
    vjp=(lambda g, *xs, out, axis, index: getitem(g, (slice(None),) * axis + (index,)),),
    jvp=(_joint_jvp(lambda ts, axis: stack(ts, axis)),),
    batch=lambda args, batched, out, axis: stack(_all_batched(args, batched), axis + 1),
    lower=lambda a, axis: f"np.stack([{', '.join(a)}], axis={axis})",
    variadic=True, doc="Join along a new axis.")


def concatenate(xs: Sequence[object], axis: int = 0) -> Node:
    """Join nodes along an existing axis."""
    nodes = [lift(x) for x in xs]
    if not nodes:
        raise ShapeError("concatenate: needs at least one operand")
    if len(nodes) == 1:
        return nodes[0]
    (axis,) = normalize_axes(axis, nodes[0].ndim, "concatenate")
    return concatenate_op(*nodes, axis=axis)


def stack(xs: Sequence[object], axis: int = 0) -> Node:
    """Join nodes along a new axis."""
    nodes = [lift(x) for x in xs]
    if not nodes:
        raise ShapeError("stack: needs at least one operand")
    (axis,) = normalize_axes(axis, nodes[0].ndim + 1, "stack")
    return stack_op(*nodes, axis=axis)


# -- basic indexing ---------------------------------------------------------------------------

Index = tuple[Any, ...]  # entries: int, None (new axis), or (start, stop, step)
_FULL = (None, None, None)


def _normalize_index(x: Node, index: Any) -> Index:
    """Basic index as a hashable tuple, Ellipsis expanded and trailing full slices dropped."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if isinstance(item, Node) or isinstance(item, (list, np.ndarray)) or isinstance(item, bool):
            raise ShapeError(f"indexing {x.display_name}: only basic indexing (ints, slices, "
                             f"None, ...) is supported, got {type(item).__name__}")
        if not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))):
            raise ShapeError(f"indexing {x.display_name}: unsupported index {item!r}")
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > x.ndim:
        raise ShapeError(f"indexing {x.display_name}: too many indices for shape "
                         f"{fmt_shape(x.shape)}")
    out: list[Any] = []
    for item in items:
        if item is Ellipsis:
            out.extend([(None, None, None)] * (x.ndim - consumed))
            consumed = x.ndim
        elif isinstance(item, slice):
            out.append((item.start, item.stop, item.step))
        elif item is None:
            out.append(None)
        else:
            out.append(int(item))
    while out and out[-1] == (None, None, None):
        out.pop()
    return tuple(out)


def _getitem_rule(types: list[TensorType], inputs: list[Node], *, index: Index) -> TensorType:
    (t,) = types
    shape: list[Any] = []
    dim = 0
    for item in index:
        if item is None:
            shape.append(1)
            continue
        size = t.shape[dim]
        if isinstance(item, int):
            if isinstance(size, int) and not -size <= item < size:
                raise shape_mismatch("getitem", inputs, f"index {item} is out of bounds for "
                                                        f"axis {dim} of size {size}")
        elif isinstance(size, int):
            shape.append(len(range(*slice(*item).indices(size))))
        elif item in ((None, None, None), (None, None, 1)):
            shape.append(size)
        else:
            raise shape_mismatch("getitem", inputs, f"axis {dim} has symbolic size {size}; "
                                                    "only a full slice ':' can take it")
        dim += 1
    shape.extend(t.shape[dim:])
    return TensorType(tuple(shape), t.dtype)


def index_source(index: Index) -> str:
    """The index as Python subscript text: (1, (None, 3, None), None) -> '1, :3, None'."""
    def one(item: Any) -> str:
        if item is None or isinstance(item, int):
            return str(item)
        start, stop, step = ("" if v is None else str(v) for v in item)
        return f"{start}:{stop}" + (f":{step}" if step else "")

    return ", ".join(one(i) for i in index)


def _to_python_index(index: Index) -> tuple:
    return tuple(slice(*i) if isinstance(i, tuple) else i for i in index)


getitem_op = define(
    "getitem", shape_rule=_getitem_rule,
    impl=lambda x, index: np.asarray(x[_to_python_index(index)]),
    vjp=(lambda g, x, out, index: unindex(g, index, x.shape),),
    jvp=(lambda t, x, out, index: getitem_op(t, index=index),),
    batch=lambda args, batched, out, index: getitem_op(args[0], index=(_FULL,) + index),
    lower=lambda a, index: f"{a[0]}[{index_source(index) or ':'}]",
    doc="Basic indexing: ints, slices, None and ...")


def getitem(x: object, index: Any) -> Node:
    """x[index] with basic indexing."""
    x = lift(x)
    norm = _normalize_index(x, index)
    if not norm:
        return x
    return getitem_op(x, index=norm)


def _unindex(g: np.ndarray, shape: tuple[int, ...], index: tuple) -> np.ndarray:
    """Zeros of `shape` with `g` written at `index`: the adjoint of basic indexing."""
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


unindex_op = define(
    "unindex",
    shape_rule=lambda types, inputs, index, shape: TensorType(shape, types[0].dtype),
    impl=lambda g, index, shape: _unindex(g, shape, _to_python_index(index)),
    vjp=(lambda g, x, out, index, shape: getitem_op(g, index=index),),
    jvp=(lambda t, x, out, index, shape: unindex(t, index, shape),),
    batch=lambda args, batched, out, index, shape:
        unindex(args[0], (_FULL,) + index, args[0].shape[:1] + shape),
    lower=lambda a, index, shape: f"_unindex({a[0]}, {shape!r}, np.s_[{index_source(index)}])",
    helpers=(_unindex,),
    doc="Zeros of `shape` with the operand placed at a basic index (adjoint of getitem).")


def unindex(g: Node, index: Index, shape: Shape) -> Node:
    return unindex_op(g, index=index, shape=shape)


# -- dtype and constants ----------------------------------------------------------------------

astype_op = define(
    "astype",
    shape_rule=lambda types, inputs, dtype: TensorType(types[0].shape, dtype),
    impl=lambda x, dtype: np.asarray(x).astype(dtype),
    # A derivative flows only from float to float: a bool or int result carries none.
    vjp=(lambda g, x, out, dtype: astype(g, x.dtype) if is_float(x.dtype) and is_float(dtype)
         else None,),
    jvp=(lambda t, x, out, dtype: astype(t, dtype) if is_float(x.dtype) and is_float(dtype)
         else None,),
    batch=lambda args, batched, out, dtype: astype(args[0], dtype),
    lower=lambda a, dtype: f"{a[0]}.astype(np.{dtype})",
    doc="Convert to another dtype.")


def astype(x: object, dtype: object) -> Node:
    """Convert x to dtype (bool, int64, float32, float64)."""
    x = lift(x)
    dtype = canonical_dtype(dtype)
    if dtype == x.dtype:
        return x
    return astype_op(x, dtype=dtype)


zeros_op = define(
    "zeros",
    shape_rule=lambda types, inputs, shape, dtype: TensorType(shape, dtype),
    impl=lambda shape, dtype: np.zeros(shape, dtype=dtype),
    vjp=(), jvp=(),
    lower=lambda a, shape, dtype: f"np.zeros({shape!r}, dtype=np.{dtype})",
    doc="A tensor of zeros; its shape may hold symbolic dims.")


def zeros(shape: Sequence[int | str], dtype: object = "float64") -> Node:
    """Zeros of a (possibly symbolic) shape."""
    return zeros_op(shape=canonical_shape(shape), dtype=canonical_dtype(dtype))


def _eye_rule(types: list[TensorType], inputs: list[Node], *, n: int, dtype: str) \
        -> TensorType:
    return TensorType((n, n), dtype)


eye_op = define(
    "eye", shape_rule=_eye_rule,
    impl=lambda n, dtype: np.eye(n, dtype=dtype),
    vjp=(), jvp=(),
    lower=lambda a, n, dtype: f"np.eye({n}, dtype=np.{dtype})",
    doc="The n x n identity: the basis that jacobian and hessian push through a graph.")


def eye(n: int, dtype: object = "float64") -> Node:
    """The identity matrix of size n, as an op so rewrites can see it (and no n*n constant
    is stored)."""
    return eye_op(n=int(n), dtype=canonical_dtype(dtype))
