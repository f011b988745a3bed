"""Basic indexing as data: a hashable normalized index, its Python source text and its
Python value. Shared by the indexing ops, the listing and the code printer."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ShapeError
from .graph import Node
from .shapes import Shape, fmt_shape

Index = tuple[Any, ...]  # entries: int, None (new axis), or (start, stop, step)
FULL = (None, None, None)


def normalize_index(name: str, ndim: int, shape: Shape, index: Any) -> Index:
    """Basic index as a hashable tuple, Ellipsis expanded and trailing full slices dropped;
    `name` is the indexed node's name for errors."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if isinstance(item, (Node, list, np.ndarray, bool)):
            raise ShapeError(f"indexing {name}: only basic indexing (ints, slices, None, ...) "
                             f"is supported, got {type(item).__name__}")
        if not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))):
            raise ShapeError(f"indexing {name}: unsupported index {item!r}")
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > ndim:
        raise ShapeError(f"indexing {name}: too many indices for shape {fmt_shape(shape)}")
    out: list[Any] = []
    for item in items:
        if item is Ellipsis:
            out.extend([FULL] * (ndim - consumed))
            consumed = ndim
        elif isinstance(item, slice):
            out.append((item.start, item.stop, item.step))
        elif item is None:
            out.append(None)
        else:
            out.append(int(item))
    while out and out[-1] == FULL:
        out.pop()
    return tuple(out)


def index_source(index: Index) -> str:
    """The index as Python subscript text: (1, (None, 3, None), None) -> '1, :3, None'."""
    def one(item: Any) -> str:
        if item is None or isinstance(item, int):
            return str(item)
        start, stop, step = ("" if v is None else str(v) for v in item)
        return f"{start}:{stop}" + (f":{step}" if step else "")

    return ", ".join(one(i) for i in index)


def python_index(index: Index) -> tuple:
    """The index as a Python value usable on an ndarray."""
    return tuple(slice(*i) if isinstance(i, tuple) else i for i in index)
