"""NumPy's array-manipulation functions on nodes. One op of its own, flip; the rest are
built from existing ops, so their derivatives, batching and lowering come from those:
squeeze (reshape), swapaxes and moveaxis (transpose), tile and repeat (expand_dims,
broadcast_to, reshape), pad (concatenate with broadcast constants), split (basic slices),
outer (a broadcasting multiply), inner, tensordot, diag and trace (einsum).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import TensorType, normalize_axes
from .base import define, export, lift, same_axes_from, shape_mismatch
from .joins import concatenate
from .linalg import einsum
from .lowering import A0, Call, kwargs
from .reductions import _axis_value, broadcast_to
from .structure import expand_dims, eye, getitem, reshape, transpose

# -- flip -----------------------------------------------------------------------------------


def _flip_rule(types: list[TensorType], inputs: list[Node], *, axis: tuple[int, ...]) \
        -> TensorType:
    return types[0]


def _flip_impl(x: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    return np.flip(x, axis)


def _flip_vjp(g: Node, x: Node, out: Node, axis: tuple[int, ...]) -> Node:
    return flip_op(g, axis=axis)


def _flip_batch(args: list[Node], batched: list[bool], out: Node,
                axis: tuple[int, ...]) -> Node:
    return flip_op(args[0], axis=tuple(a + 1 for a in axis))


def _flip_lower(x: Node, out: Node, axis: tuple[int, ...]) -> Any:
    return Call("np.flip", (A0,), kwargs(axis=_axis_value(axis)))


flip_op = define(
    "flip", family="movement", shape_rule=_flip_rule, impl=_flip_impl, vjp=(_flip_vjp,),
    jvp=(_flip_vjp,), batch=_flip_batch, lower=_flip_lower, axes_from=same_axes_from,
    doc="Reverse the order of elements along axes (a view, as np.flip).")


@export(op=flip_op, statics=("axis",))
def flip(x: object, axis: int | Sequence[int] | None = None) -> Node:
    """np.flip: reverse along axis (None: every axis)."""
    x = lift(x)
    axes = normalize_axes(axis, x.ndim, "flip")
    return flip_op(x, axis=axes) if axes else x


# -- reshapes and permutations -------------------------------------------------------------

@export(statics=("axis",))
def squeeze(x: object, axis: int | Sequence[int] | None = None) -> Node:
    """np.squeeze: drop size-1 axes (those given, which must have size 1, or all)."""
    x = lift(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
        wide = [a for a in axes if x.shape[a] != 1]
        if wide:
            raise shape_mismatch("squeeze", [x], f"axis {wide[0]} has size "
                                                 f"{x.shape[wide[0]]}, not 1")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


@export(statics={"axis1": ("an int", False), "axis2": ("an int", False)})
def swapaxes(x: object, axis1: int, axis2: int) -> Node:
    """np.swapaxes: exchange two axes."""
    x = lift(x)
    (a,) = normalize_axes(axis1, x.ndim, "swapaxes")
    (b,) = normalize_axes(axis2, x.ndim, "swapaxes")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def _axis_list(axis: int | Sequence[int], ndim: int, name: str) -> list[int]:
    """Axes in the order given (normalize_axes sorts them)."""
    items = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    result = [normalize_axes(a, ndim, name)[0] for a in items]
    if len(set(result)) != len(result):
        raise ShapeError(f"{name}: repeated axis in {axis}")
    return result


@export(statics={"source": ("an int or a tuple of ints", False),
                 "destination": ("an int or a tuple of ints", False)})
def moveaxis(x: object, source: int | Sequence[int], destination: int | Sequence[int]) -> Node:
    """np.moveaxis: move axes to new positions, the others keeping their order."""
    x = lift(x)
    src = _axis_list(source, x.ndim, "moveaxis")
    dst = _axis_list(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise shape_mismatch("moveaxis", [x], f"{len(src)} source axes but {len(dst)} "
                                              "destinations")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(x, order)


# -- replication: tile, repeat, pad ---------------------------------------------------------

def _replicate(x: Node, counts: Sequence[int], name: str, before: bool) -> Node:
    """Each axis i of x replicated counts[i] times: as whole blocks (tile: a new axis
    before it) or element by element (repeat: a new axis after it)."""
    shape: list[Any] = []
    wide: list[Any] = []
    axes: list[int] = []
    for i, (d, r) in enumerate(zip(x.shape, counts, strict=True)):
        if r == 1:
            shape.append(d)
            wide.append(d)
            continue
        if not isinstance(d, int):
            raise shape_mismatch(name, [x], f"axis {i} has symbolic size {d}; it can be "
                                            "replicated only once")
        axes.append(len(wide) + (0 if before else 1))
        wide.extend([r, d] if before else [d, r])
        shape.append(d * r)
    if not axes:
        return x
    return reshape(broadcast_to(expand_dims(x, axes), tuple(wide)), tuple(shape))


def _count_of(value: Any, name: str, what: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ShapeError(f"{name}: {what} must be non-negative ints, got {value!r}")
    return int(value)


@export(statics={"reps": ("an int or a tuple of ints", False)})
def tile(x: object, reps: int | Sequence[int]) -> Node:
    """np.tile: x repeated as a whole `reps` times along each axis."""
    x = lift(x)
    counts = [reps] if isinstance(reps, (int, np.integer)) else list(reps)
    counts = [_count_of(r, "tile", "reps") for r in counts]
    ndim = max(len(counts), x.ndim)
    x = reshape(x, (1,) * (ndim - x.ndim) + x.shape)
    return _replicate(x, [1] * (ndim - len(counts)) + counts, "tile", before=True)


@export(statics={"repeats": ("an int or a tuple of ints", False),
                 "axis": ("an int or None", False)})
def repeat(x: object, repeats: int | Sequence[int], axis: int | None = None) -> Node:
    """np.repeat: each element `repeats` times along axis (None: of the flattened
    operand); a sequence of counts, one per element along the axis, repeats each its own
    number of times (literal counts: the result's size is fixed when the graph is built)."""
    x = lift(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    (axis,) = normalize_axes(axis, x.ndim, "repeat")
    if not isinstance(repeats, (list, tuple)):
        count = _count_of(repeats, "repeat", "repeats")
        return _replicate(x, [count if i == axis else 1 for i in range(x.ndim)], "repeat",
                          before=False)
    counts = [_count_of(r, "repeat", "repeats") for r in repeats]
    if len(counts) != x.shape[axis]:
        raise shape_mismatch("repeat", [x], f"{len(counts)} counts for axis {axis} of size "
                                            f"{x.shape[axis]}")
    lead = (slice(None),) * axis
    pieces = [repeat(getitem(x, lead + (slice(i, i + 1),)), c, axis)
              for i, c in enumerate(counts) if c]
    if not pieces:
        return getitem(x, lead + (slice(0, 0),))
    return concatenate(pieces, axis)


def _pad_widths(pad_width: Any, x: Node) -> list[tuple[int, int]]:
    """np.pad's pad_width forms: n, (n,), (before, after), ((b0, a0), (b1, a1), ...)."""
    widths = np.asarray(pad_width, dtype=object)
    try:
        pairs = np.broadcast_to(widths, (x.ndim, 2)) if widths.ndim <= 2 else None
    except ValueError:
        pairs = None
    if pairs is None:
        raise shape_mismatch("pad", [x], f"pad_width {pad_width!r} does not fit {x.ndim} axes")
    return [(_count_of(b, "pad", "pad widths"), _count_of(a, "pad", "pad widths"))
            for b, a in pairs]


@export(statics={"pad_width": ("an int or a tuple of (before, after) pairs", False),
                 "mode": ("'constant'", True), "constant_values": ("a number", False)})
def pad(x: object, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Node:
    """np.pad in constant mode: `constant_values` added before and after each axis."""
    x = lift(x)
    if mode != "constant":
        raise shape_mismatch("pad", [x], f"mode={mode!r} is not supported (only 'constant')")
    if not isinstance(constant_values, (int, float, np.number)):
        raise shape_mismatch("pad", [x], "constant_values must be one number")
    fill = lift(constant_values, x)
    for axis, (before, after) in enumerate(_pad_widths(pad_width, x)):
        parts = []
        for width in (before, None, after):
            if width is None:
                parts.append(x)
            elif width:
                shape = x.shape[:axis] + (width,) + x.shape[axis + 1:]
                parts.append(broadcast_to(fill, shape))
        x = concatenate(parts, axis)
    return x


# -- split ------------------------------------------------------------------------------

@export(statics={"indices_or_sections": ("an int or a tuple of ints", False),
                 "axis": ("an int", False)})
def split(x: object, indices_or_sections: int | Sequence[int], axis: int = 0) \
        -> tuple[Node, ...]:
    """np.split: a tuple of nodes, equal sections or the pieces between the given
    indices, each a slice of x (so only the pieces used take part in a derivative)."""
    x = lift(x)
    (axis,) = normalize_axes(axis, x.ndim, "split")
    size = x.shape[axis]
    if not isinstance(size, int):
        raise shape_mismatch("split", [x], f"axis {axis} has symbolic size {size}")
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or size % sections:
            raise shape_mismatch("split", [x], f"{sections} sections do not divide axis "
                                               f"{axis} of size {size} equally")
        bounds = [size // sections * i for i in range(sections + 1)]
    else:
        bounds = [0] + [min(max(int(i) + size * (int(i) < 0), 0), size)
                        for i in indices_or_sections] + [size]
    lead = (slice(None),) * axis
    return tuple(getitem(x, lead + (slice(lo, max(lo, hi)),))
                 for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))


# -- products: outer, inner, tensordot ------------------------------------------------------

@export
def outer(a: object, b: object) -> Node:
    """np.outer: a.ravel()[i] * b.ravel()[j], as a broadcasting multiply."""
    a, b = lift(a), lift(b)
    return expand_dims(reshape(a, (-1,)), 1) * expand_dims(reshape(b, (-1,)), 0)


def _letters(n: int, skip: str = "") -> str:
    return "".join(c for c in string.ascii_letters if c not in skip)[:n]


def _contract(name: str, a: Node, b: Node, a_axes: list[int], b_axes: list[int]) -> Node:
    """einsum contracting a's a_axes with b's b_axes (pairwise); the result has a's free
    axes, then b's, as np.tensordot."""
    for i, j in zip(a_axes, b_axes, strict=True):
        if a.shape[i] != b.shape[j]:
            raise shape_mismatch(name, [a, b], f"axis {i} of {a.display_name} has size "
                                               f"{a.shape[i]} but axis {j} of "
                                               f"{b.display_name} has {b.shape[j]}")
    letters = _letters(a.ndim + b.ndim)
    sa = list(letters[:a.ndim])
    sb = list(letters[a.ndim:])
    for i, j in zip(a_axes, b_axes, strict=True):
        sb[j] = sa[i]
    free = [c for i, c in enumerate(sa) if i not in a_axes]
    free += [c for j, c in enumerate(sb) if j not in b_axes]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(free)}", a, b)


@export(statics={"axes": ("an int or a pair of axis lists", False)})
def tensordot(a: object, b: object, axes: int | Sequence[Any] = 2) -> Node:
    """np.tensordot: the sum over a's `axes[0]` paired with b's `axes[1]` (an int n: a's
    last n axes with b's first n)."""
    a, b = lift(a), lift(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise shape_mismatch("tensordot", [a, b], f"axes={n} does not fit the ranks")
        a_axes, b_axes = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        first, second = axes
        a_axes = _axis_list(first, a.ndim, "tensordot")
        b_axes = _axis_list(second, b.ndim, "tensordot")
        if len(a_axes) != len(b_axes):
            raise shape_mismatch("tensordot", [a, b], f"{len(a_axes)} axes of "
                                                      f"{a.display_name} against "
                                                      f"{len(b_axes)} of {b.display_name}")
    return _contract("tensordot", a, b, a_axes, b_axes)


@export
def inner(a: object, b: object) -> Node:
    """np.inner: the sum over the last axes of a and b (a product for scalars)."""
    a, b = lift(a), lift(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return _contract("inner", a, b, [a.ndim - 1], [b.ndim - 1])


# -- diagonals: diag and trace ----------------------------------------------------------------

@export(statics={"k": ("an int", False)})
def diag(x: object, k: int = 0) -> Node:
    """np.diag: a 1-D operand gives the 2-D matrix with it on diagonal k; a 2-D operand
    gives its diagonal k."""
    x = lift(x)
    k = int(k)
    if x.ndim == 1:
        n = x.shape[0]
        if not isinstance(n, int):
            raise shape_mismatch("diag", [x], f"symbolic length {n}")
        square = expand_dims(x, 1) * eye(n, x.dtype)
        return pad(square, ((max(-k, 0), max(k, 0)), (max(k, 0), max(-k, 0))))
    if x.ndim != 2:
        raise shape_mismatch("diag", [x], f"operand of rank {x.ndim}; diag takes 1-D or 2-D")
    return einsum("ii->i", _square_block(x, k, "diag"))


def _square_block(x: Node, k: int, name: str) -> Node:
    """The largest square block whose main diagonal is diagonal k of the last two axes."""
    rows, cols = x.shape[-2:]
    if not (isinstance(rows, int) and isinstance(cols, int)) and (k or rows != cols):
        raise shape_mismatch(name, [x], "symbolic sizes: only the main diagonal of a square "
                                        "matrix")
    if rows == cols and k == 0:
        return x
    row0, col0 = max(-k, 0), max(k, 0)
    n = max(min(rows - row0, cols - col0), 0)
    return x[..., row0:row0 + n, col0:col0 + n]


@export(statics={"offset": ("an int", False), "axis1": ("an int", False),
                 "axis2": ("an int", False)})
def trace(x: object, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Node:
    """np.trace: the sum of diagonal `offset` over axes axis1 and axis2 (the others kept)."""
    x = lift(x)
    if x.ndim < 2:
        raise shape_mismatch("trace", [x], f"operand of rank {x.ndim}; trace needs 2 axes")
    x = _square_block(moveaxis(x, (axis1, axis2), (-2, -1)), int(offset), "trace")
    rest = _letters(x.ndim - 2, "z")
    return einsum(f"{rest}zz->{rest}", x)
