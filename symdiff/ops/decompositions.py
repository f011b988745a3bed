"""Linear algebra on the last two axes (leading axes are a batch, broadcast as NumPy does):
solve, solve_triangular, inv, det, slogdet, cholesky, eigh, svd, with the matrix-calculus
derivative rules (Giles 2008; Murray 2016 for Cholesky; Seeger et al. 2017 for eigh and
svd), never differentiation through an unrolled algorithm.

Multi-output ops (`outputs=k` on the record): eigh gives (w, V), svd (U, S, Vh), slogdet
(sign, logabsdet); each output is a node with attribute `output=i`, the rules answer per
output (cotangents of some outputs only just work: the contributions sum), and evaluate and
generated code run the decomposition once per group.

Conventions. cholesky and eigh read the symmetric part (A + A^T) / 2 (as JAX does), so their
gradients are symmetric. eigh's eigenvectors and svd's singular vectors get a deterministic
sign (each eigenvector / left singular vector sums to >= 0). svd is the reduced one. The
eigh and svd derivatives use F_ij = 1 / (l_j - l_i) off the diagonal (l the eigenvalues, or
the squared singular values): where two of them coincide the derivative of the vectors is
inf/NaN, a known limitation shared with JAX and PyTorch (derivatives of the eigenvalues and
singular values alone stay finite); svd of a non-square matrix also divides by the singular
values. NumPy has no triangular solver, so solve_triangular runs np.linalg.solve on the
triangle (the same O(n^3); the other triangle is never read).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import TensorType, broadcast_shapes, float_of, promote
from .base import Flops, define, export, group_member, lift, names, shape_mismatch
from .elementwise import equal, greater, less, where
from .gather import arange
from .linalg import _swap_last as mT
from .linalg import matmul
from .lowering import A0, A1, XP, Call, Fixed, kwargs
from .reductions import max as max_
from .reductions import sum as sum_
from .structure import astype, batch_align, expand_dims
from .texforms import ATOM, PROD, Tex, function, grouped, superscript

# -- shape rules ---------------------------------------------------------------------------

def _float(inputs: list[Node], dtype: str) -> str:
    """The result dtype: float32 or float64 (NumPy's linalg has no float16)."""
    if dtype == "float16":
        names = ", ".join(i.display_name for i in inputs)
        raise ShapeError(f"linear algebra needs float32 or float64 operands, as NumPy's "
                         f"linalg does ({names}: float16); convert with astype first")
    return float_of(dtype)



def _square(op: str, t: TensorType, inputs: list[Node]) -> None:
    """Operand 0 must be a square matrix or a stack of them (the error names every
    operand's shape)."""
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise shape_mismatch(op, inputs, f"{inputs[0].display_name} must be a square matrix "
                                         "(or a stack of them)")


def _square_type(name: str, types: list[TensorType], inputs: list[Node]) -> TensorType:
    (t,) = types
    _square(name, t, inputs)
    return TensorType(t.shape, _float(inputs, t.dtype))


def _inv_rule(types: list[TensorType], inputs: list[Node]) -> TensorType:
    return _square_type("inv", types, inputs)


def _cholesky_rule(types: list[TensorType], inputs: list[Node]) -> TensorType:
    return _square_type("cholesky", types, inputs)


def _solve_type(name: str, types: list[TensorType], inputs: list[Node]) -> TensorType:
    """a (..., n, n) and b (..., n, k): the batch dims broadcast."""
    a, b = types
    _square(name, a, inputs)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise shape_mismatch(name, inputs, f"the right-hand side needs {a.shape[-1]} rows")
    try:
        batch = broadcast_shapes([a.shape[:-2], b.shape[:-2]], names(inputs), name)
    except ShapeError:
        raise shape_mismatch(name, inputs, "batch dims do not broadcast") from None
    return TensorType(batch + b.shape[-2:], _float(inputs, promote(a.dtype, b.dtype)))


def _solve_rule(types: list[TensorType], inputs: list[Node]) -> TensorType:
    return _solve_type("solve", types, inputs)


def _solve_triangular_rule(types: list[TensorType], inputs: list[Node], *,
                           lower: bool) -> TensorType:
    return _solve_type("solve_triangular", types, inputs)


def _det_rule(types: list[TensorType], inputs: list[Node]) -> TensorType:
    (t,) = types
    _square("det", t, inputs)
    return TensorType(t.shape[:-2], _float(inputs, t.dtype))


def _eigh_rule(types: list[TensorType], inputs: list[Node], *, output: int) -> TensorType:
    (t,) = types
    _square("eigh", t, inputs)
    shape = t.shape[:-1] if output == 0 else t.shape
    return TensorType(shape, _float(inputs, t.dtype))


def _svd_rule(types: list[TensorType], inputs: list[Node], *, output: int) -> TensorType:
    (t,) = types
    if t.ndim < 2:
        raise shape_mismatch("svd", inputs, "a matrix (or a stack of them) is needed")
    m, n = t.shape[-2:]
    k = m if m == n or (isinstance(m, int) and isinstance(n, int) and m < n) else n
    if m != n and not (isinstance(m, int) and isinstance(n, int)):
        raise shape_mismatch("svd", inputs, "a non-square matrix needs int dims (which is "
                                            "smaller decides the shapes)")
    shapes = [t.shape[:-1] + (k,), t.shape[:-2] + (k,), t.shape[:-2] + (k, n)]
    return TensorType(shapes[output], _float(inputs, t.dtype))


def _slogdet_rule(types: list[TensorType], inputs: list[Node], *, output: int) -> TensorType:
    (t,) = types
    _square("slogdet", t, inputs)
    return TensorType(t.shape[:-2], _float(inputs, t.dtype))


# -- implementations (copied into generated modules: NumPy only) ---------------------------

def _cholesky(a):
    """The lower Cholesky factor of the symmetric part of a."""
    return np.linalg.cholesky((a + np.swapaxes(a, -1, -2)) / 2)


def _solve_triangular(a, b, lower):
    """a^-1 b reading only a's lower (upper) triangle."""
    return np.linalg.solve(np.tril(a) if lower else np.triu(a), b)


def _cholesky_xp(xp, a):
    """_cholesky with the standard's calls (the array-API target). Dask's own cholesky
    gives the upper factor unless asked (array-api-compat 1.16 passes that on unchanged)."""
    if type(a).__module__.split(".")[0] == "dask":
        return xp.linalg.cholesky((a + xp.matrix_transpose(a)) / 2, lower=True)
    return xp.linalg.cholesky((a + xp.matrix_transpose(a)) / 2)


def _solve_triangular_xp(xp, a, b, lower):
    """_solve_triangular with the standard's calls (the array-API target)."""
    return xp.linalg.solve(xp.tril(a) if lower else xp.triu(a), b)


def _eigh_xp(xp, a):
    """_eigh with the standard's calls (the array-API target)."""
    w, v = xp.linalg.eigh((a + xp.matrix_transpose(a)) / 2)
    return w, xp.where(xp.sum(v, axis=-2, keepdims=True) < 0, -v, v)


def _svd_xp(xp, a):
    """_svd with the standard's calls (the array-API target)."""
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    flip = xp.sum(u, axis=-2) < 0
    return (xp.where(flip[..., None, :], -u, u), s, xp.where(flip[..., :, None], -vh, vh))


def _eigh(a):
    """Eigenvalues (ascending) and eigenvectors of the symmetric part of a, each
    eigenvector signed so that its entries sum to >= 0."""
    w, v = np.linalg.eigh((a + np.swapaxes(a, -1, -2)) / 2)
    return w, np.where(v.sum(axis=-2, keepdims=True) < 0, -v, v)


def _svd(a):
    """Reduced SVD, each left singular vector signed to sum to >= 0 (its right one too)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    flip = u.sum(axis=-2) < 0
    return (np.where(flip[..., None, :], -u, u), s,
            np.where(flip[..., :, None], -vh, vh))


def _slogdet(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return sign, logabsdet


# -- graph helpers for the rules -----------------------------------------------------------

def _grid(n: Any) -> tuple[Node, Node]:
    return expand_dims(arange(n), 1), arange(n)


def _mask(x: Node, kind: str) -> Node:
    """x's dtype: 'eye', 'lower' (strictly below the diagonal) or 'upper' ones of x's
    matrix size."""
    i, j = _grid(x.shape[-1])
    test = {"eye": equal, "lower": greater, "upper": less}[kind]
    return astype(test(i, j), x.dtype)


def _triangle(x: Node, lower: bool) -> Node:
    """tril(x) or triu(x)."""
    return x * (_mask(x, "lower" if lower else "upper") + _mask(x, "eye"))


def _phi(x: Node) -> Node:
    """The lower triangle of x with its diagonal halved (Murray 2016)."""
    return x * (_mask(x, "lower") + _mask(x, "eye") * 0.5)


def _sym(x: Node) -> Node:
    return (x + mT(x)) * 0.5


def _diagonal(x: Node) -> Node:
    return sum_(x * _mask(x, "eye"), axis=-1)


def _trace(x: Node) -> Node:
    return sum_(_diagonal(x), axis=-1)


def _as_matrix(x: Node) -> Node:
    """A batch of scalars as a batch of 1 x 1 matrices."""
    return expand_dims(x, (-2, -1)) if x.ndim else expand_dims(x, (0, 1))


def _gap(values: Node) -> Node:
    """F_ij = 1 / (l_j - l_i) off the diagonal, 0 on it."""
    row, col = expand_dims(values, -2), expand_dims(values, -1)
    diff = row - col
    eye = _mask(diff, "eye")
    return (1.0 - eye) / (diff + eye)


def _unary_batch(args: list[Node], batched: list[bool], out: Node, **attrs: Any) -> Node:
    """The batch axis is one more leading axis of the stack."""
    return out.op(args[0], **attrs)


def _binary_batch(args: list[Node], batched: list[bool], out: Node, **attrs: Any) -> Node:
    a, b = args
    rank = max(x.ndim - f for x, f in zip(args, batched, strict=True))
    a = batch_align(a, rank) if batched[0] else a
    b = batch_align(b, rank) if batched[1] else b
    return out.op(a, b, **attrs)


def _cubic(node: Node) -> Flops:
    n = node.inputs[0].shape[-1]
    return 1, node.inputs[0].shape[:-2] + (n, n, n)


def _decomposition_flops(node: Node) -> Flops:
    """An iterative decomposition: about ten times n^3 (n the last dim)."""
    return 10, _cubic(node)[1]


def _cubic_rhs(node: Node) -> Flops:
    a, b = node.inputs
    return 1, node.shape + (a.shape[-1],)


# -- solve ---------------------------------------------------------------------------------

def _solve_vjp_a(g: Node, a: Node, b: Node, out: Node) -> Node:
    return -matmul(solve_op(mT(a), g), mT(out))


def _solve_vjp_b(g: Node, a: Node, b: Node, out: Node) -> Node:
    return solve_op(mT(a), g)


def _solve_jvp_a(t: Node, a: Node, b: Node, out: Node) -> Node:
    return -solve_op(a, matmul(t, out))


def _solve_jvp_b(t: Node, a: Node, b: Node, out: Node) -> Node:
    return solve_op(a, t)


solve_op = define(
    "solve", shape_rule=_solve_rule, impl=np.linalg.solve,
    vjp=(_solve_vjp_a, _solve_vjp_b), jvp=(_solve_jvp_a, _solve_jvp_b), batch=_binary_batch,
    lower=Fixed(Call("np.linalg.solve", (A0, A1))), flops=_cubic_rhs,
    latex=lambda node, a, b: Tex(f"{grouped(a, ATOM)}^{{-1}} {grouped(b, PROD)}", PROD),
    doc="a^-1 b for square a (..., n, n) and b (..., n, k); a singular a raises LinAlgError.")


# -- solve_triangular ----------------------------------------------------------------------

def _tri_vjp_a(g: Node, a: Node, b: Node, out: Node, lower: bool) -> Node:
    return -_triangle(matmul(_tri_vjp_b(g, a, b, out, lower), mT(out)), lower)


def _tri_vjp_b(g: Node, a: Node, b: Node, out: Node, lower: bool) -> Node:
    return solve_triangular_op(mT(a), g, lower=not lower)


def _tri_jvp_a(t: Node, a: Node, b: Node, out: Node, lower: bool) -> Node:
    return -solve_triangular_op(a, matmul(_triangle(t, lower), out), lower=lower)


def _tri_jvp_b(t: Node, a: Node, b: Node, out: Node, lower: bool) -> Node:
    return solve_triangular_op(a, t, lower=lower)


def _tri_lower(a: Node, b: Node, out: Node, lower: bool) -> Call:
    return Call(_solve_triangular, (A0, A1), kwargs(lower=lower))


solve_triangular_op = define(
    "solve_triangular", shape_rule=_solve_triangular_rule,
    impl=_solve_triangular, vjp=(_tri_vjp_a, _tri_vjp_b), jvp=(_tri_jvp_a, _tri_jvp_b),
    batch=_binary_batch, lower=_tri_lower, flops=_cubic_rhs,
    array_api=lambda a, b, out, lower: Call(_solve_triangular_xp, (XP, A0, A1),
                                            kwargs(lower=lower)),
    doc="a^-1 b reading only the lower (lower=True) or upper triangle of a.")


# -- inv, det, slogdet ---------------------------------------------------------------------

def _inv_vjp(g: Node, a: Node, out: Node) -> Node:
    return -matmul(matmul(mT(out), g), mT(out))


def _inv_jvp(t: Node, a: Node, out: Node) -> Node:
    return -matmul(matmul(out, t), out)


inv_op = define(
    "inv", shape_rule=_inv_rule, impl=np.linalg.inv, vjp=(_inv_vjp,),
    jvp=(_inv_jvp,), batch=_unary_batch, lower=Fixed(Call("np.linalg.inv", (A0,))),
    latex=superscript("-1"),
    flops=_cubic, doc="The inverse of a square matrix; a singular one raises LinAlgError.")


def _det_vjp(g: Node, a: Node, out: Node) -> Node:
    return _as_matrix(g * out) * mT(inv_op(a))


def _det_jvp(t: Node, a: Node, out: Node) -> Node:
    return out * _trace(solve_op(a, t))


det_op = define(
    "det", shape_rule=_det_rule, impl=np.linalg.det, vjp=(_det_vjp,), jvp=(_det_jvp,),
    batch=_unary_batch, lower=Fixed(Call("np.linalg.det", (A0,))), flops=_cubic,
    latex=function(r"\det"),
    doc="The determinant (for a log-determinant, use slogdet: it neither over- nor "
        "underflows).")


def _slogdet_vjp(g: Node, a: Node, out: Node, output: int) -> Node | None:
    if output == 0:
        return None  # the sign is piecewise constant
    return _as_matrix(g) * mT(inv_op(a))


def _slogdet_jvp(t: Node, a: Node, out: Node, output: int) -> Node | None:
    return None if output == 0 else _trace(solve_op(a, t))


slogdet_op = define(
    "slogdet", shape_rule=_slogdet_rule, impl=_slogdet, outputs=2, vjp=(_slogdet_vjp,),
    jvp=(_slogdet_jvp,), batch=_unary_batch,
    lower=Fixed(Call("np.linalg.slogdet", (A0,))), flops=_cubic,
    doc="(sign, log|det|): output 0 the sign (zero derivative), output 1 log|det a|.")


# -- cholesky ------------------------------------------------------------------------------

def _cholesky_vjp(g: Node, a: Node, out: Node) -> Node:
    """A_bar = sym(L^-T phi(L^T L_bar) L^-1)."""
    lt = mT(out)
    x = solve_triangular_op(lt, _phi(matmul(lt, g)), lower=False)  # L^-T P
    s = mT(solve_triangular_op(lt, mT(x), lower=False))             # L^-T P L^-1
    return _sym(s)


def _cholesky_jvp(t: Node, a: Node, out: Node) -> Node:
    """dL = L phi(L^-1 sym(dA) L^-T)."""
    y = solve_triangular_op(out, _sym(t), lower=True)
    z = mT(solve_triangular_op(out, mT(y), lower=True))
    return matmul(out, _phi(z))


cholesky_op = define(
    "cholesky", shape_rule=_cholesky_rule, impl=_cholesky, vjp=(_cholesky_vjp,),
    jvp=(_cholesky_jvp,), batch=_unary_batch,
    lower=Fixed(Call(_cholesky, (A0,))), array_api=Fixed(Call(_cholesky_xp, (XP, A0))),
    flops=_cubic,
    doc="The lower Cholesky factor of (a + a^T) / 2; not positive definite raises "
        "LinAlgError.")


# -- eigh ----------------------------------------------------------------------------------

def _eigh_vjp(g: Node, a: Node, out: Node, output: int) -> Node:
    w, v = group_member(out, 0), group_member(out, 1)
    if output == 0:  # V diag(g) V^T
        return matmul(v * expand_dims(g, -2), mT(v))
    return _sym(matmul(matmul(v, _gap(w) * matmul(mT(v), g)), mT(v)))


def _eigh_jvp(t: Node, a: Node, out: Node, output: int) -> Node:
    w, v = group_member(out, 0), group_member(out, 1)
    m = matmul(matmul(mT(v), _sym(t)), v)
    return _diagonal(m) if output == 0 else matmul(v, _gap(w) * m)


eigh_op = define(
    "eigh", shape_rule=_eigh_rule, impl=_eigh, outputs=2, vjp=(_eigh_vjp,), jvp=(_eigh_jvp,),
    batch=_unary_batch, lower=Fixed(Call(_eigh, (A0,))),
    array_api=Fixed(Call(_eigh_xp, (XP, A0))),
    flops=_decomposition_flops,
    doc="(w, V) of (a + a^T) / 2: ascending eigenvalues, eigenvectors as columns.")


# -- svd -----------------------------------------------------------------------------------

def _may_exceed(m: Any, n: Any) -> bool:
    """Whether m > n is possible (the projection term then is not zero)."""
    return m != n and not (isinstance(m, int) and isinstance(n, int) and m < n)


def _svd_vjp(g: Node, a: Node, out: Node, output: int) -> Node:
    u, s, vh = (group_member(out, k) for k in range(3))
    row, col = expand_dims(s, -2), expand_dims(s, -1)  # s_j and s_i
    f = _gap(s * s)
    m, n = a.shape[-2:]
    if output == 1:  # U diag(g) Vh
        return matmul(u * expand_dims(g, -2), vh)
    if output == 0:
        k = f * matmul(mT(u), g)
        grad = matmul(matmul(u, (k + mT(k)) * row), vh)
        if _may_exceed(m, n):
            grad = grad + matmul((g - matmul(u, matmul(mT(u), g))) / row, vh)
        return grad
    vbar = mT(g)
    k = f * matmul(vh, vbar)
    grad = matmul(matmul(u, col * (k + mT(k))), vh)
    if _may_exceed(n, m):
        v = mT(vh)
        grad = grad + matmul(u, mT((vbar - matmul(v, matmul(vh, vbar))) / row))
    return grad


def _svd_jvp(t: Node, a: Node, out: Node, output: int) -> Node:
    u, s, vh = (group_member(out, k) for k in range(3))
    row, col = expand_dims(s, -2), expand_dims(s, -1)
    v = mT(vh)
    ds = matmul(matmul(mT(u), t), v)
    m, n = a.shape[-2:]
    if output == 1:
        return _diagonal(ds)
    f = _gap(s * s)
    if output == 0:
        du = matmul(u, f * (ds * row + col * mT(ds)))
        if _may_exceed(m, n):
            tv = matmul(t, v)
            du = du + (tv - matmul(u, matmul(mT(u), tv))) / row
        return du
    dv = matmul(v, f * (col * ds + mT(ds) * row))
    if _may_exceed(n, m):
        tu = matmul(mT(t), u)
        dv = dv + (tu - matmul(v, matmul(vh, tu))) / row
    return mT(dv)


svd_op = define(
    "svd", shape_rule=_svd_rule, impl=_svd, outputs=3, vjp=(_svd_vjp,), jvp=(_svd_jvp,),
    batch=_unary_batch, lower=Fixed(Call(_svd, (A0,))),
    array_api=Fixed(Call(_svd_xp, (XP, A0))),
    flops=_decomposition_flops,
    doc="The reduced SVD (U, S, Vh) with k = min(m, n) singular values, descending.")


# -- what users call -----------------------------------------------------------------------

def _rhs(b: Node, name: str, a: Node) -> tuple[Node, bool]:
    """b as a matrix: a 1-D b is a vector (NumPy 2's rule), returned as (n, 1)."""
    if b.ndim == 0:
        raise shape_mismatch(name, [a, b], "the right-hand side must be a vector or matrix")
    if b.ndim == 1:  # checked here, so the error names b, not the matrix made of it
        _square(name, a.type, [a, b])
        if a.shape[-1] != b.shape[0]:
            raise shape_mismatch(name, [a, b], f"the right-hand side needs {a.shape[-1]} rows")
    return (expand_dims(b, -1), True) if b.ndim == 1 else (b, False)


@export(op=solve_op, statics={"assume_a": ("'gen' or 'pos'", True)},
        numpy=("linalg.solve",))
def solve(a: object, b: object, assume_a: str = "gen") -> Node:
    """np.linalg.solve: x with a @ x = b; a 1-D b is one vector, else b is (..., n, k).
    assume_a='pos' (as SciPy's): a is symmetric positive definite, solved through its
    Cholesky factor (two triangular solves; derivatives through the Cholesky rules)."""
    a, b = lift(a), lift(b)
    if assume_a == "pos":
        return cho_solve(cholesky(a), b)
    if assume_a != "gen":
        raise ValueError(f"solve: assume_a must be 'gen' or 'pos', not {assume_a!r}")
    rhs, vector = _rhs(b, "solve", a)
    x = solve_op(a, rhs)
    return x[..., 0] if vector else x


@export(op=solve_triangular_op, statics={"lower": ("True or False", False)}, numpy=())
def solve_triangular(a: object, b: object, lower: bool = True) -> Node:
    """x with tri(a) @ x = b, tri the lower (default) or upper triangle of a (the other is
    never read); b a vector or (..., n, k) as for solve."""
    a, b = lift(a), lift(b)
    rhs, vector = _rhs(b, "solve_triangular", a)
    x = solve_triangular_op(a, rhs, lower=bool(lower))
    return x[..., 0] if vector else x


@export(numpy=())
def cho_solve(factor: object, b: object) -> Node:
    """x with A @ x = b given A's lower Cholesky factor L = cholesky(A): two triangular
    solves, L y = b then L^T x = y."""
    factor = lift(factor)
    return solve_triangular(mT(factor), solve_triangular(factor, b), lower=False)


@export(op=inv_op, numpy=("linalg.inv",))
def inv(a: object) -> Node:
    """np.linalg.inv of a square matrix (or a stack). To apply an inverse, solve is both
    cheaper and more accurate."""
    return inv_op(lift(a))


@export(op=det_op, numpy=("linalg.det",))
def det(a: object) -> Node:
    """np.linalg.det of a square matrix (or a stack)."""
    return det_op(lift(a))


@export(op=slogdet_op, numpy=("linalg.slogdet",))
def slogdet(a: object) -> tuple[Node, Node]:
    """(sign, log|det a|), as np.linalg.slogdet; in a spec, slogdet(a)[1]."""
    a = lift(a)
    return slogdet_op(a, output=0), slogdet_op(a, output=1)


@export(op=cholesky_op, numpy=("linalg.cholesky",))
def cholesky(a: object) -> Node:
    """The lower Cholesky factor L (L @ L.T = a) of the symmetric part of a."""
    return cholesky_op(lift(a))


@export(op=eigh_op, numpy=())
def eigh(a: object) -> tuple[Node, Node]:
    """(w, V): eigenvalues ascending and unit eigenvectors (columns) of the symmetric part
    of a; in a spec, eigh(a)[0]."""
    a = lift(a)
    return eigh_op(a, output=0), eigh_op(a, output=1)


@export(op=svd_op, numpy=())
def svd(a: object) -> tuple[Node, Node, Node]:
    """The reduced SVD (U, S, Vh), a = U @ (S[..., None] * Vh), as
    np.linalg.svd(a, full_matrices=False)."""
    a = lift(a)
    return tuple(svd_op(a, output=k) for k in range(3))  # type: ignore[return-value]


@export(statics={"rcond": ("a float", False)}, numpy=("linalg.pinv",))
def pinv(a: object, rcond: float = 1e-15) -> Node:
    """The pseudo-inverse through the SVD, singular values below rcond * max(s) dropped
    (as np.linalg.pinv)."""
    u, s, vh = svd(a)
    keep = greater(s, expand_dims(max_(s, axis=-1), -1) * float(rcond))
    s_inv = where(keep, 1.0 / where(keep, s, 1.0), 0.0)
    return matmul(mT(vh) * expand_dims(s_inv, -2), mT(u))


@export(statics={"ord": ("'fro', 'nuc' or 2", True)}, numpy=())
def matrix_norm(a: object, ord: Any = "fro") -> Node:  # noqa: A002
    """The norm of a matrix (or each of a stack): 'fro' (Frobenius), 'nuc' (nuclear: the
    sum of singular values), 2 (spectral: the largest)."""
    a = lift(a)
    if ord == "fro":
        return sum_(a * a, axis=(-2, -1)) ** 0.5
    if ord in ("nuc", 2):
        s = svd(a)[1]
        return sum_(s, axis=-1) if ord == "nuc" else max_(s, axis=-1)
    raise ValueError(f"matrix_norm: ord must be 'fro', 'nuc' or 2, not {ord!r}")
