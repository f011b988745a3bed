"""Ops that move, select or retype elements: transpose, reshape, expand_dims, basic
indexing (and its adjoint, unindex), astype, zeros, eye. broadcast_to lives with its
adjoint, sum, and with dim_size in ops/reductions.py; concatenate and stack in ops/joins.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..graph import Node
from ..indexing import FULL, Index, normalize_index, python_index
from ..shapes import (
    Shape,
    TensorType,
    canonical_dtype,
    canonical_shape,
    fmt_shape,
    is_float,
    normalize_axes,
)
from .base import (
    define,
    export,
    lift,
    no_flops,
    pass_through_sympy,
    same_axes_from,
    shape_mismatch,
)
from .lowering import A0, XP, Attribute, Call, Method, Name, Subscript, kwargs
from .texforms import ATOM, POW, Tex, escape, grouped

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


def _transpose_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.transpose(x, axes)


def _transpose_vjp(g: Node, x: Node, out: Node, axes: tuple[int, ...]) -> Node:
    return transpose(g, _inverse(axes))


def _transpose_jvp(t: Node, x: Node, out: Node, axes: tuple[int, ...]) -> Node:
    return transpose(t, axes)


def _transpose_batch(args: list[Node], batched: list[bool], out: Node,
                     axes: tuple[int, ...]) -> Node:
    return transpose(args[0], (0,) + tuple(a + 1 for a in axes))


def _transpose_lower(x: Node, out: Node, axes: tuple[int, ...]) -> Any:
    if axes == tuple(reversed(range(len(axes)))):
        return Attribute(A0, "T")
    return Method(A0, "transpose", (axes,))


def _transpose_axes_from(node: Node, axes: tuple[int, ...]) -> tuple[Node, tuple[int, ...]]:
    return node.inputs[0], tuple(sorted(node.attrs["axes"][a] for a in axes))


def _transpose_latex(node: Node, x: Tex) -> Tex:
    """`X^\\top` for a matrix; other permutations name their axes."""
    axes = node.attrs["axes"]
    if len(axes) == 2 and axes == (1, 0):
        return Tex(rf"{grouped(x, ATOM)}^\top", POW)
    if len(axes) < 2 or axes == tuple(range(len(axes))):
        return x
    return Tex(rf"\operatorname{{transpose}}_{{{''.join(map(str, axes))}}}\left({x.text}\right)")


def _transpose_matrix(sp: Any, node: Node, x: Any) -> Any:
    axes = node.attrs["axes"]
    if axes == (1, 0):
        return x.T
    return x if axes == tuple(range(len(axes))) else None


transpose_op = define(
    "transpose", family="movement", shape_rule=_transpose_rule, impl=_transpose_impl,
    vjp=(_transpose_vjp,), jvp=(_transpose_jvp,), batch=_transpose_batch,
    lower=_transpose_lower, axes_from=_transpose_axes_from, latex=_transpose_latex,
    to_sympy_matrix=_transpose_matrix,
    doc="Permute axes (default: reverse them).")


@export(op=transpose_op, statics=("axes",))
def transpose(x: object, axes: Sequence[int] | None = None) -> Node:
    """Permute axes as np.transpose; with no axes, reverse them."""
    x = lift(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(int(a) % max(x.ndim, 1)
                                                                     for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return transpose_op(x, axes=axes)


# -- reshape, expand_dims ----------------------------------------------------------------------

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


def _reshape_rule(types: list[TensorType], inputs: list[Node], *, shape: Shape) -> TensorType:
    return TensorType(shape, types[0].dtype)


def _reshape_impl(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.reshape(x, shape)


def _reshape_vjp(g: Node, x: Node, out: Node, shape: Shape) -> Node:
    return reshape(g, x.shape)


def _reshape_jvp(t: Node, x: Node, out: Node, shape: Shape) -> Node:
    return reshape(t, shape)


def _reshape_batch(args: list[Node], batched: list[bool], out: Node, shape: Shape) -> Node:
    return reshape(args[0], args[0].shape[:1] + shape)


def _reshape_lower(x: Node, out: Node, shape: Shape) -> Any:
    return Method(A0, "reshape", (shape,))


def _reshape_sympy(sp: Any, node: Node, x: Any) -> Any:
    """Shapes that differ only by unit axes keep every element in place."""
    same = [d for d in node.inputs[0].shape if d != 1] == [d for d in node.shape if d != 1]
    return x if same else None


reshape_op = define(
    "reshape", family="movement", shape_rule=_reshape_rule, impl=_reshape_impl,
    vjp=(_reshape_vjp,), jvp=(_reshape_jvp,), batch=_reshape_batch, lower=_reshape_lower,
    to_sympy=_reshape_sympy,
    doc="Reshape (C order); one entry may be -1; symbolic dims must balance.")


@export(op=reshape_op, statics=("shape",))
def reshape(x: object, shape: Sequence[int | str]) -> Node:
    """Reshape x to `shape` (C order), one entry may be -1."""
    x = lift(x)
    target = _reshape_target(x, shape)
    if target == x.shape:
        return x
    return reshape_op(x, shape=target)


def _expand_rule(types: list[TensorType], inputs: list[Node], *, axis: tuple[int, ...]) \
        -> TensorType:
    (t,) = types
    shape = list(t.shape)
    for a in axis:
        shape.insert(a, 1)
    return TensorType(tuple(shape), t.dtype)


def _expand_impl(x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    return np.expand_dims(x, axis)


def _expand_vjp(g: Node, x: Node, out: Node, axis: tuple[int, ...]) -> Node:
    return reshape(g, x.shape)


def _expand_jvp(t: Node, x: Node, out: Node, axis: tuple[int, ...]) -> Node:
    return expand_dims(t, axis)


def _expand_batch(args: list[Node], batched: list[bool], out: Node,
                  axis: tuple[int, ...]) -> Node:
    return expand_dims(args[0], tuple(a + 1 for a in axis))


def _expand_lower(x: Node, out: Node, axis: tuple[int, ...]) -> Any:
    """x[:, None] for expand_dims(x, 1): indexing is ~15x cheaper per call than np.expand_dims."""
    return Subscript(A0, tuple(None if i in axis else FULL for i in range(max(axis) + 1)))


def _expand_matrix(sp: Any, node: Node, x: Any) -> Any:
    """A vector (a column already) as a column, or as a row."""
    if node.inputs[0].ndim != 1:
        return None
    return x if node.attrs["axis"] == (1,) else x.T


expand_dims_op = define(
    "expand_dims", family="movement", shape_rule=_expand_rule, impl=_expand_impl,
    vjp=(_expand_vjp,), jvp=(_expand_jvp,), batch=_expand_batch, lower=_expand_lower,
    to_sympy=pass_through_sympy, to_sympy_matrix=_expand_matrix,
    doc="Insert size-1 axes at the given positions of the result.")


@export(op=expand_dims_op, statics=("axis",))
def expand_dims(x: object, axis: int | Sequence[int]) -> Node:
    """Insert size-1 axes, as np.expand_dims."""
    x = lift(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = normalize_axes(axes, x.ndim + len(axes), "expand_dims")
    if not axes:
        return x
    return expand_dims_op(x, axis=axes)


def batch_align(x: Node, rank: int) -> Node:
    """A batched operand (batch axis first) padded with unit axes after the batch axis so
    that its other axes line up, by NumPy broadcasting, with a result of `rank` axes."""
    missing = rank - (x.ndim - 1)
    return expand_dims(x, tuple(range(1, 1 + missing))) if missing > 0 else x


# -- basic indexing ---------------------------------------------------------------------------

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
        elif item in (FULL, (None, None, 1)):
            shape.append(size)
        else:
            raise shape_mismatch("getitem", inputs, f"axis {dim} has symbolic size {size}; "
                                                    "only a full slice ':' can take it")
        dim += 1
    shape.extend(t.shape[dim:])
    return TensorType(tuple(shape), t.dtype)


def _getitem_impl(x: np.ndarray, index: Index) -> np.ndarray:
    return np.asarray(x[python_index(index)])


def _getitem_vjp(g: Node, x: Node, out: Node, index: Index) -> Node:
    return unindex(g, index, x.shape)


def _getitem_jvp(t: Node, x: Node, out: Node, index: Index) -> Node:
    return getitem_op(t, index=index)


def _getitem_batch(args: list[Node], batched: list[bool], out: Node, index: Index) -> Node:
    return getitem_op(args[0], index=(FULL,) + index)


def _getitem_lower(x: Node, out: Node, index: Index) -> Any:
    return Subscript(A0, index)


def _getitem_latex(node: Node, x: Tex) -> Tex:
    """`{X}_{[0, 1:3]}`: the index as NumPy writes it, as a subscript."""
    from ..indexing import index_source

    return Tex(f"{{{x.text}}}_{{[{escape(index_source(node.attrs['index']))}]}}")


getitem_op = define(
    "getitem", family="movement", shape_rule=_getitem_rule, impl=_getitem_impl,
    vjp=(_getitem_vjp,), jvp=(_getitem_jvp,), batch=_getitem_batch, lower=_getitem_lower,
    latex=_getitem_latex,
    doc="Basic indexing: ints, slices, None and ...")


def getitem(x: object, index: Any) -> Node:
    """x[index] with basic indexing."""
    x = lift(x)
    norm = normalize_index(x.display_name, x.ndim, x.shape, index)
    if not norm:
        return x
    return getitem_op(x, index=norm)


def _unindex(g: np.ndarray, shape: tuple[int, ...], index: tuple) -> np.ndarray:
    """Zeros of `shape` with `g` written at `index`: the adjoint of basic indexing."""
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


def _unindex_xp(xp, g, shape, index):
    """_unindex with the standard's calls (no writes into an array): g placed at the
    normalized basic `index` (ints, None, (start, stop, step)) by padding each indexed axis
    with zeros, strided slices by interleaving zeros first."""
    placed = []  # (axis, first position, step, count), steps made positive
    axis = 0
    for item in index:
        if item is None:  # a new axis of the view: drop it again
            g = xp.squeeze(g, axis=axis)
            continue
        size = shape[axis]
        if isinstance(item, int):
            g = xp.expand_dims(g, axis=axis)
            placed.append((axis, item + size if item < 0 else item, 1, 1))
        else:
            begin, stop, step = slice(*item).indices(size)
            count = len(range(begin, stop, step))
            if step < 0 and count:
                g = xp.flip(g, axis=axis)
                begin, step = begin + (count - 1) * step, -step
            placed.append((axis, begin, step, count))
        axis += 1
    for axis, begin, step, count in placed:
        if count == 0:
            return xp.zeros(tuple(shape), dtype=g.dtype)
        if step > 1:  # step - 1 zeros after each element, the trailing ones cut off
            g = xp.stack([g] + [xp.zeros_like(g)] * (step - 1), axis=axis + 1)
            g = xp.reshape(g, (*g.shape[:axis], count * step, *g.shape[axis + 2:]))
            g = g[(slice(None),) * axis + (slice(0, (count - 1) * step + 1), ...)]
        after = shape[axis] - begin - g.shape[axis]
        before = [xp.zeros((*g.shape[:axis], begin, *g.shape[axis + 1:]), dtype=g.dtype)]
        behind = [xp.zeros((*g.shape[:axis], after, *g.shape[axis + 1:]), dtype=g.dtype)]
        if begin or after:
            g = xp.concat(before[:bool(begin)] + [g] + behind[:bool(after)], axis=axis)
    return g


def _unindex_rule(types: list[TensorType], inputs: list[Node], *, index: Index,
                  shape: Shape) -> TensorType:
    return TensorType(shape, types[0].dtype)


def _unindex_impl(g: np.ndarray, index: Index, shape: tuple[int, ...]) -> np.ndarray:
    return _unindex(g, shape, python_index(index))


def _unindex_vjp(g: Node, x: Node, out: Node, index: Index, shape: Shape) -> Node:
    return getitem_op(g, index=index)


def _unindex_jvp(t: Node, x: Node, out: Node, index: Index, shape: Shape) -> Node:
    return unindex(t, index, shape)


def _unindex_batch(args: list[Node], batched: list[bool], out: Node, index: Index,
                   shape: Shape) -> Node:
    return unindex(args[0], (FULL,) + index, args[0].shape[:1] + shape)


def _unindex_lower(g: Node, out: Node, index: Index, shape: Shape) -> Any:
    return Call(_unindex, (A0, shape, Subscript(Name("np.s_"), index)))


def _unindex_xp_lower(g: Node, out: Node, index: Index, shape: Shape) -> Any:
    return Call(_unindex_xp, (XP, A0, shape, index))


unindex_op = define(
    "unindex", shape_rule=_unindex_rule, impl=_unindex_impl, vjp=(_unindex_vjp,),
    jvp=(_unindex_jvp,), batch=_unindex_batch, lower=_unindex_lower, flops=no_flops,
    array_api=_unindex_xp_lower,
    doc="Zeros of `shape` with the operand placed at a basic index (adjoint of getitem).")


def unindex(g: Node, index: Index, shape: Shape) -> Node:
    return unindex_op(g, index=index, shape=shape)


# -- dtype and constants ----------------------------------------------------------------------

def _astype_rule(types: list[TensorType], inputs: list[Node], *, dtype: str) -> TensorType:
    return TensorType(types[0].shape, dtype)


def _astype_impl(x: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(x).astype(dtype)


def _astype_vjp(g: Node, x: Node, out: Node, dtype: str) -> Node | None:
    """A derivative flows only from float to float: a bool or int result carries none."""
    return astype(g, x.dtype) if is_float(x.dtype) and is_float(dtype) else None


def _astype_jvp(t: Node, x: Node, out: Node, dtype: str) -> Node | None:
    return astype(t, dtype) if is_float(x.dtype) and is_float(dtype) else None


def _astype_batch(args: list[Node], batched: list[bool], out: Node, dtype: str) -> Node:
    return astype(args[0], dtype)


def _astype_lower(x: Node, out: Node, dtype: str) -> Any:
    return Method(A0, "astype", (Name(f"np.{dtype}"),))


def _astype_finite(node: Node, finite: Any) -> bool:
    return node.inputs[0].dtype in ("bool", "int64")


def _astype_sympy(sp: Any, node: Node, x: Any) -> Any:
    if isinstance(x, sp.logic.boolalg.Boolean) and node.attrs["dtype"] != "bool":
        return sp.Piecewise((1, x), (0, True))
    return x


astype_op = define(
    "astype", shape_rule=_astype_rule, impl=_astype_impl, vjp=(_astype_vjp,),
    jvp=(_astype_jvp,), batch=_astype_batch, lower=_astype_lower, flops=no_flops,
    finite=_astype_finite, axes_from=same_axes_from,
    to_sympy=_astype_sympy, doc="Convert to another dtype.")


@export(op=astype_op, statics=("dtype",))
def astype(x: object, dtype: object) -> Node:
    """Convert x to dtype (bool, int64, float32, float64)."""
    x = lift(x)
    dtype = canonical_dtype(dtype)
    if dtype == x.dtype:
        return x
    return astype_op(x, dtype=dtype)


def _zeros_rule(types: list[TensorType], inputs: list[Node], *, shape: Shape,
                dtype: str) -> TensorType:
    return TensorType(shape, dtype)


def _zeros_impl(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def _zeros_lower(out: Node, shape: Shape, dtype: str) -> Any:
    return Call("np.zeros", (shape,), kwargs(dtype=Name(f"np.{dtype}")))


zeros_op = define(
    "zeros", family="source", shape_rule=_zeros_rule, impl=_zeros_impl, vjp=(), jvp=(),
    lower=_zeros_lower, latex=lambda node: Tex(r"\mathbf{0}"),
    doc="A tensor of zeros; its shape may hold symbolic dims.")


@export(op=zeros_op, spec=False)
def zeros(shape: Sequence[int | str], dtype: object = "float64") -> Node:
    """Zeros of a (possibly symbolic) shape."""
    return zeros_op(shape=canonical_shape(shape), dtype=canonical_dtype(dtype))


def _eye_rule(types: list[TensorType], inputs: list[Node], *, n: int, dtype: str) \
        -> TensorType:
    return TensorType((n, n), dtype)


def _eye_impl(n: int, dtype: str) -> np.ndarray:
    return np.eye(n, dtype=dtype)


def _eye_lower(out: Node, n: int, dtype: str) -> Any:
    return Call("np.eye", (n,), kwargs(dtype=Name(f"np.{dtype}")))


eye_op = define(
    "eye", family="source", shape_rule=_eye_rule, impl=_eye_impl, vjp=(), jvp=(),
    lower=_eye_lower, latex=lambda node: Tex("I"),
    doc="The n x n identity: the basis that jacobian and hessian push through a graph.")


@export(op=eye_op, spec=False)
def eye(n: int, dtype: object = "float64") -> Node:
    """The identity matrix of size n, as an op so rewrites can see it (and no n*n constant
    is stored)."""
    return eye_op(n=int(n), dtype=canonical_dtype(dtype))
