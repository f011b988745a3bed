"""`symdiff.linalg`: the linear algebra namespace, as `numpy.linalg` (the same functions are
top-level `symdiff` names too, which is how a spec calls them: `solve(K, y)`,
`slogdet(K)[1]`, `eigh(S)[0]`). Rules and conventions: symdiff/ops/decompositions.py."""

from __future__ import annotations

from typing import Any

from .graph import Node
from .ops.base import lift
from .ops.decompositions import (
    cho_solve,
    cholesky,
    det,
    eigh,
    inv,
    matrix_norm,
    pinv,
    slogdet,
    solve,
    solve_triangular,
    svd,
)
from .ops.statistics import norm as _vector_norm

__all__ = ["cho_solve", "cholesky", "det", "eigh", "inv", "matrix_norm", "norm", "pinv",
           "slogdet", "solve", "solve_triangular", "svd"]


def norm(x: object, ord: Any = None, axis: int | None = None,  # noqa: A002
         keepdims: bool = False) -> Node:
    """np.linalg.norm: a matrix norm for ord 'fro', 'nuc', or 2 on a matrix (axis None), the
    Euclidean norm otherwise (of every element when axis is None, as NumPy's ord=None)."""
    x = lift(x)
    if ord in ("fro", "nuc") or (ord == 2 and axis is None and x.ndim == 2):
        if keepdims or axis is not None:
            raise ValueError("norm: matrix norms take no axis or keepdims here; use "
                             "matrix_norm on a stack of matrices")
        return matrix_norm(x, ord)
    return _vector_norm(x, ord, axis, keepdims)
