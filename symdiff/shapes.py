"""Tensor types: shapes with int or symbolic (str) dims, dtypes, and NumPy broadcasting on them."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ShapeError

Dim = int | str
Shape = tuple[Dim, ...]

DTYPES = ("bool", "int64", "float16", "float32", "float64")
FLOAT_DTYPES = ("float16", "float32", "float64")


@dataclass(frozen=True)
class TensorType:
    """The static type of a node: its shape (ints or symbolic names) and dtype name."""

    shape: Shape
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


def canonical_dtype(dtype: object) -> str:
    """Map anything NumPy understands as a dtype onto one of symdiff's dtype names."""
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return "bool"
    if dt.kind in "iu":
        return "int64"
    if dt == np.float16:
        return "float16"
    if dt == np.float32:
        return "float32"
    if dt == np.float64:
        return "float64"
    raise ShapeError(f"unsupported dtype {dt}; symdiff supports {', '.join(DTYPES)}")


def canonical_shape(shape: Iterable[object]) -> Shape:
    """Validate a user-given shape: each entry a non-negative int or a non-empty str."""
    out: list[Dim] = []
    for d in shape:
        if isinstance(d, bool):
            raise ShapeError(f"shape entry {d!r} is a bool; use an int or a symbolic name")
        if isinstance(d, (int, np.integer)):
            if d < 0:
                raise ShapeError(f"shape entry {d} is negative")
            out.append(int(d))
        elif isinstance(d, str) and d:
            out.append(d)
        else:
            raise ShapeError(f"shape entry {d!r} must be an int or a symbolic name (str)")
    return tuple(out)


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


@functools.lru_cache(maxsize=1024)
def promote(*dtypes: str) -> str:
    """NumPy's type promotion restricted to symdiff's dtypes (cached: every op built
    promotes its operands' dtypes, and there are few distinct combinations)."""
    return canonical_dtype(np.result_type(*[np.dtype(d) for d in dtypes]))


def float_of(dtype: str) -> str:
    """The float dtype an op such as exp gives for an input of this dtype."""
    return dtype if is_float(dtype) else "float64"


def broadcast_shapes(shapes: Sequence[Shape], names: Sequence[str], op: str) -> Shape:
    """NumPy broadcasting of shapes; a symbolic dim broadcasts only with 1 or itself."""
    ndim = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for axis in range(ndim):
        dims = {s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0}
        dims.discard(1)
        if len(dims) > 1:
            parts = ", ".join(f"{n} {fmt_shape(s)}" for n, s in zip(names, shapes, strict=True))
            raise ShapeError(f"{op}: operands cannot be broadcast together: {parts}")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def fmt_shape(shape: Shape) -> str:
    """Shape as people write it: (3,), ('n', 2) -> (n, 2)."""
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Axis argument of a reduction as a sorted tuple of non-negative axes (None: all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of range for an operand of rank {ndim}")
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(result))


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def resolve_shape(shape: Shape, dims: dict[str, int]) -> tuple[int, ...]:
    """Concrete shape once symbolic dims are bound."""
    return tuple(d if isinstance(d, int) else dims[d] for d in shape)
