"""`symdiff.linalg`: the linear algebra namespace, as `numpy.linalg` (the same functions are
top-level `symdiff` names too, which is how a spec calls them: `solve(K, y)`,
`slogdet(K)[1]`, `eigh(S)[0]`). Rules and conventions: symdiff/ops/decompositions.py."""

from __future__ import annotations

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
from .ops.statistics import norm

__all__ = ["cho_solve", "cholesky", "det", "eigh", "inv", "matrix_norm", "norm", "pinv",
           "slogdet", "solve", "solve_triangular", "svd"]
