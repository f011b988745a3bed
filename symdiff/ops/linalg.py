"""Contractions: matmul (NumPy semantics, vectors and batches included), dot and einsum."""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import TensorType, broadcast_shapes, is_float, promote
from .base import Flops, define, export, lift, lift_pair, shape_mismatch
from .elementwise import equal
from .gather import arange
from .lowering import A0, A1, Arg, Call, Infix, kwargs
from .reductions import broadcast_to, sum_to
from .structure import astype, batch_align, expand_dims, eye, reshape, transpose
from .texforms import ATOM, PROD, Tex, grouped

# -- matmul ---------------------------------------------------------------------------------


def _matmul_rule(types: list[TensorType], inputs: list[Node]) -> TensorType:
    a, b = types
    if a.ndim == 0 or b.ndim == 0:
        raise shape_mismatch("matmul", inputs, "operands must have at least one dimension; "
                                               "use * for scalars")
    a_shape = (1,) + a.shape if a.ndim == 1 else a.shape
    b_shape = b.shape + (1,) if b.ndim == 1 else b.shape
    if a_shape[-1] != b_shape[-2]:
        raise shape_mismatch("matmul", inputs, f"contracted dims differ: {a_shape[-1]} "
                                               f"vs {b_shape[-2]}")
    batch = broadcast_shapes([a_shape[:-2], b_shape[:-2]],
                             [i.display_name for i in inputs], "matmul")
    shape = batch + (a_shape[-2],) * (a.ndim > 1) + (b_shape[-1],) * (b.ndim > 1)
    return TensorType(shape, promote(a.dtype, b.dtype))


def _swap_last(x: Node) -> Node:
    axes = list(range(x.ndim))
    axes[-2:] = axes[-1], axes[-2]
    return transpose(x, axes)


def _as_matrices(g: Node, a: Node, b: Node) -> tuple[Node, Node, Node]:
    """Vector operands as matrices ((k,) -> (1, k) on the left, (k, 1) on the right), and
    the cotangent with the matching unit axes, so one matrix rule covers every case."""
    mat_a = expand_dims(a, 0) if a.ndim == 1 else a
    mat_b = expand_dims(b, -1) if b.ndim == 1 else b
    if a.ndim == 1:
        g = expand_dims(g, g.ndim - (b.ndim > 1))
    if b.ndim == 1:
        g = expand_dims(g, g.ndim)
    return g, mat_a, mat_b


# The common cases get their textbook rules (outer products as broadcasting multiplies,
# matrix-vector products kept as such); batched and mixed cases take the general path.

def _matmul_vjp_a(g: Node, a: Node, b: Node, out: Node) -> Node:
    if a.ndim <= 2 and b.ndim <= 2:
        if b.ndim == 1:  # (m, k) @ (k,) or (k,) @ (k,): outer product / scaling
            return expand_dims(g, -1) * b if a.ndim == 2 else g * b
        return matmul(g, transpose(b))  # (m, k) @ (k, n) and (k,) @ (k, n)
    g, mat_a, mat_b = _as_matrices(g, a, b)
    return reshape(sum_to(matmul(g, _swap_last(mat_b)), mat_a.shape), a.shape)


def _matmul_vjp_b(g: Node, a: Node, b: Node, out: Node) -> Node:
    if a.ndim <= 2 and b.ndim <= 2:
        if a.ndim == 1:  # (k,) @ (k, n) or (k,) @ (k,)
            return expand_dims(a, -1) * g if b.ndim == 2 else g * a
        return matmul(transpose(a), g)  # (m, k) @ (k, n) and (m, k) @ (k,)
    g, mat_a, mat_b = _as_matrices(g, a, b)
    return reshape(sum_to(matmul(_swap_last(mat_a), g), mat_b.shape), b.shape)


def _matmul_batch(args: list[Node], batched: list[bool], out: Node) -> Node:
    """matmul over a batch. Batched vectors against a plain matrix become one matrix
    product (a GEMM, not a loop of GEMVs); other cases use matmul's own broadcasting."""
    a, b = args
    a0, b0 = (x.ndim for x in out.inputs)
    size = (a if batched[0] else b).shape[0]
    if batched == [True, False] and a0 == 1 and b0 == 2:  # rows a_i @ B
        return matmul(a, b)
    if batched == [False, True] and a0 == 2 and b0 == 1:  # A @ b_i = (b_i^T A^T)
        return matmul(b, transpose(a))
    if batched == [True, False] and a0 == 1 and b0 == 1:
        return matmul(a, b)
    if batched == [False, True] and a0 == 1 and b0 == 1:
        return matmul(b, a)
    # General case: matrices with the batch axis in front and unit axes for the vectors.
    mat_a = expand_dims(a, int(batched[0])) if a0 == 1 else a
    mat_b = expand_dims(b, b.ndim) if b0 == 1 else b
    rank = max(mat_a.ndim - batched[0], mat_b.ndim - batched[1])
    mat_a = batch_align(mat_a, rank) if batched[0] else mat_a
    mat_b = batch_align(mat_b, rank) if batched[1] else mat_b
    return reshape(matmul(mat_a, mat_b), (size,) + out.shape)


def _matmul_jvp_a(t: Node, a: Node, b: Node, out: Node) -> Node:
    return matmul(t, b)


def _matmul_jvp_b(t: Node, a: Node, b: Node, out: Node) -> Node:
    return matmul(a, t)


def _matmul_unit(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a @ b for matrices whose contracted dimension may be 1 (the weight gradient X.T @ d
    of a batch of one): then a product of one term, a * b (the same numbers, an outer
    product by broadcasting), which NumPy computes two to three times faster than matmul."""
    if a.shape[-1] == 1:
        return np.multiply(a, b, out=out)
    if a.ndim == b.ndim == 2:
        return np.dot(a, b, out=out)
    return np.matmul(a, b, out=out)


# A result smaller than this (in elements) is cheap however it is computed: a symbolic
# contracted dim then costs no run-time test (a helper call, noticeable on tiny networks).
_UNIT_TEST_SIZE = 4096


def _matmul_lower(a: Node, b: Node, out: Node) -> Any:
    """`a @ b`, as `np.dot` for vectors and matrices (the same BLAS call and numbers; a
    plain function, about a microsecond cheaper per call than matmul's ufunc machinery);
    for matrices (or stacks of them) contracting a dimension of 1, `a * b`; through
    `_matmul_unit` when that dimension is symbolic, so may be 1 at run time (for results of
    at least `_UNIT_TEST_SIZE` elements)."""
    if a.ndim >= 2 and b.ndim >= 2:
        if a.shape[-1] == 1:
            return Infix("*", A0, A1, "np.multiply")
        small = all(isinstance(d, int) for d in out.shape) \
            and math.prod(out.shape) < _UNIT_TEST_SIZE
        if isinstance(a.shape[-1], str) and not small:
            return Call(_matmul_unit, (A0, A1), out=True)
    if a.ndim <= 2 and b.ndim <= 2:
        return Call("np.dot", (A0, A1), out=True)
    return Infix("@", A0, A1, "np.matmul")


def _matmul_xp_lower(a: Node, b: Node, out: Node) -> Any:
    """`a @ b` on any array library (the unit-dimension shortcut is NumPy's concern)."""
    return Infix("@", A0, A1)


def _matmul_flops(node: Node) -> Flops:
    """2 * m * k * n per batch entry: one multiply and one add per product term."""
    return 2, node.shape + (node.inputs[0].shape[-1],)


def _matmul_latex(node: Node, a: Tex, b: Tex) -> Tex:
    """Juxtaposition, `X W`; a vector on the left is a row, `u^\\top v`, `u^\\top W`."""
    left = grouped(a, PROD)
    if node.inputs[0].ndim == 1:
        left = rf"{grouped(a, ATOM)}^\top"
    return Tex(f"{left} {grouped(b, PROD)}", PROD)


def _matmul_matrix(sp: Any, node: Node, a: Any, b: Any) -> Any:
    """Vectors are columns: v @ M is M^T v, u @ v the trace of u^T v; no batches."""
    x, y = node.inputs
    if x.ndim > 2 or y.ndim > 2:
        return None
    if x.ndim == 1 and y.ndim == 1:
        return sp.Trace(a.T @ b)
    return b.T @ a if x.ndim == 1 else a @ b


def _matmul_kernel(a: Node, b: Node, out: Node) -> Infix | None:
    """A product over a contracted axis of length 1 (an outer product `x.T @ d` at batch
    1) is the broadcast elementwise product a[..., i, 0] * b[..., 0, j]: fused kernels take
    it as one (no BLAS call for a rank-1 product); every other matmul stays a BLAS call."""
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1 and is_float(out.dtype):
        return Infix("*", A0, A1)
    return None


matmul_op = define(
    "matmul", family="contraction", shape_rule=_matmul_rule, impl=np.matmul,
    vjp=(_matmul_vjp_a, _matmul_vjp_b), jvp=(_matmul_jvp_a, _matmul_jvp_b),
    batch=_matmul_batch, lower=_matmul_lower, array_api=_matmul_xp_lower, flops=_matmul_flops,
    latex=_matmul_latex, to_sympy_matrix=_matmul_matrix, kernel=_matmul_kernel,
    doc="Matrix product with NumPy semantics: vectors, matrices, broadcast batches.")


@export(op=matmul_op)
def matmul(a: object, b: object) -> Node:
    """a @ b as np.matmul."""
    return matmul_op(*lift_pair(a, b))


@export
def dot(a: object, b: object) -> Node:
    """np.dot: scalars multiply, ranks up to 2 are matmul, and above that the sum over the
    last axis of a and the second-to-last of b (the last, for a 1-D b), as an einsum with
    a's other axes, then b's."""
    a, b = lift_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    j = max(b.ndim - 2, 0)
    if a.shape[-1] != b.shape[j]:
        raise shape_mismatch("dot", [a, b], f"the last axis of {a.display_name} has size "
                                            f"{a.shape[-1]} but axis {j} of {b.display_name} "
                                            f"has {b.shape[j]}")
    sa = string.ascii_letters[:a.ndim]
    sb = list(string.ascii_letters[a.ndim:a.ndim + b.ndim])
    sb[j] = sa[-1]
    rhs = sa[:-1] + "".join(c for i, c in enumerate(sb) if i != j)
    return einsum(f"{sa},{''.join(sb)}->{rhs}", a, b)


# -- einsum ---------------------------------------------------------------------------------

def _parse(subscripts: str, nargs: int) -> tuple[list[str], str]:
    """Split 'ij,jk->ik' into (['ij', 'jk'], 'ik'); implicit output as NumPy does it."""
    text = subscripts.replace(" ", "")
    if "." in text:
        raise ShapeError(f"einsum {subscripts!r}: an ellipsis is spelled out by "
                         "symdiff.einsum before the op is built")
    lhs, arrow, rhs = text.partition("->")
    ins = lhs.split(",")
    if len(ins) != nargs:
        raise ShapeError(f"einsum {subscripts!r}: {len(ins)} operand subscripts for "
                         f"{nargs} operands")
    letters = "".join(ins)
    if any(c not in string.ascii_letters for c in letters + rhs):
        raise ShapeError(f"einsum {subscripts!r}: subscripts must be letters")
    if not arrow:
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(rhs)) != len(rhs):
        raise ShapeError(f"einsum {subscripts!r}: output subscripts {rhs!r} repeat a letter")
    if set(rhs) - set(letters):
        raise ShapeError(f"einsum {subscripts!r}: output letters {rhs!r} not in the inputs")
    return ins, rhs


def _einsum_rule(types: list[TensorType], inputs: list[Node], *, subscripts: str) \
        -> TensorType:
    ins, rhs = _parse(subscripts, len(types))
    sizes: dict[str, Any] = {}
    for sub, t, node in zip(ins, types, inputs, strict=True):
        if len(sub) != t.ndim:
            raise shape_mismatch("einsum", inputs, f"subscripts {sub!r} for rank {t.ndim} "
                                                   f"operand {node.display_name}")
        for c, d in zip(sub, t.shape, strict=True):
            if sizes.setdefault(c, d) != d:
                raise shape_mismatch("einsum", inputs, f"axis {c!r} has sizes "
                                                       f"{sizes[c]} and {d}")
    return TensorType(tuple(sizes[c] for c in rhs), promote(*[t.dtype for t in types]))


def _einsum_vjp(g: Node, *xs: Node, out: Node, subscripts: str, index: int) -> Node:
    """Contract the cotangent with the other operands onto this operand's axes; axes that
    only this operand has come back by broadcasting."""
    ins, rhs = _parse(subscripts, len(xs))
    target = ins[index]
    distinct = "".join(dict.fromkeys(target))  # a repeated letter (a diagonal) once
    sizes = dict(zip(target, xs[index].shape, strict=True))
    others = [(s, x) for j, (s, x) in enumerate(zip(ins, xs, strict=True)) if j != index]
    present = set(rhs).union(*[set(s) for s, _ in others])
    kept = "".join(c for c in distinct if c in present)
    spec = ",".join([rhs] + [s for s, _ in others]) + "->" + kept
    result = einsum(spec, g, *[x for _, x in others])
    if kept != distinct:
        missing = [i for i, c in enumerate(distinct) if c not in present]
        result = broadcast_to(expand_dims(result, missing), tuple(sizes[c] for c in distinct))
    if distinct != target:
        result = _on_diagonals(result, distinct, target, sizes)
    return result


def _on_diagonals(x: Node, distinct: str, target: str, sizes: dict[str, Any]) -> Node:
    """x (axes `distinct`) placed on the diagonals of `target`, which repeats letters:
    each repeat gets a fresh letter tied to the first by an identity matrix."""
    free = iter(c for c in string.ascii_letters if c not in target)
    out, eyes = "", []
    for i, c in enumerate(target):
        if c in target[:i]:
            fresh = next(free)
            eyes.append((c + fresh, _identity(sizes[c], x.dtype)))
            out += fresh
        else:
            out += c
    spec = ",".join([distinct] + [s for s, _ in eyes]) + "->" + out
    return einsum(spec, x, *[e for _, e in eyes])


def _identity(n: Any, dtype: str) -> Node:
    """The n x n identity: eye for a static n; for a symbolic n, where the row and column
    indices (arange, which takes symbolic sizes) agree."""
    if isinstance(n, int):
        return eye(n, dtype)
    i = arange(n)
    return astype(equal(expand_dims(i, 1), expand_dims(i, 0)), dtype)


def _einsum_jvp(t: Node, *xs: Node, out: Node, subscripts: str, index: int) -> Node:
    """Linear in each operand: the same contraction with the tangent in its place."""
    return einsum(subscripts, *xs[:index], t, *xs[index + 1:])


def _einsum_batch(args: list[Node], batched: list[bool], out: Node, subscripts: str) -> Node:
    """einsum over a batch: batched operands and the result get one more letter in front."""
    ins, rhs = _parse(subscripts, len(args))
    letter = next(c for c in string.ascii_letters if c not in subscripts)
    spec = ",".join(letter + s if b else s for s, b in zip(ins, batched, strict=True))
    return einsum(f"{spec}->{letter}{rhs}", *args)


def _einsum_lower(*xs: Node, out: Node, subscripts: str) -> Call:
    ins, rhs = _parse(subscripts, len(xs))
    contracted = {c for c in set("".join(ins)) - set(rhs) if sum(c in s for s in ins) > 1}
    optimize = True if len(xs) > 2 or contracted else None
    return Call("np.einsum", (subscripts, *[Arg(i) for i in range(len(xs))]),
                kwargs(optimize=optimize))


def _einsum_memory(node: Node) -> str:
    """einsum of one operand can be a pure transpose (a view)."""
    return "view" if len(node.inputs) < 2 else "fresh"


def _einsum_flops(node: Node) -> Flops:
    """(number of operands) * the product of every index's size: one multiply per operand
    pair and one add per index point (2*m*k*n for a matrix product)."""
    ins = node.attrs["subscripts"].split("->")[0].split(",")
    sizes: dict[str, int | str] = {}
    for sub, x in zip(ins, node.inputs, strict=True):
        for letter, d in zip(sub, x.shape, strict=True):
            sizes.setdefault(letter, d)
    return len(node.inputs), tuple(sizes.values())


def _einsum_impl(*xs: np.ndarray, subscripts: str) -> np.ndarray:
    return np.asarray(np.einsum(subscripts, *xs, optimize=len(xs) > 2))


einsum_op = define(
    "einsum", family="contraction", shape_rule=_einsum_rule, impl=_einsum_impl,
    vjp=(_einsum_vjp,), jvp=(_einsum_jvp,), batch=_einsum_batch, lower=_einsum_lower,
    variadic=True, memory=_einsum_memory, flops=_einsum_flops,
    doc="Einstein summation with named axes; a letter repeated in one operand takes its "
        "diagonal.")


@export(op=einsum_op, statics=("subscripts",))
def einsum(subscripts: str, *operands: object) -> Node:
    """np.einsum over nodes: a letter repeated in one operand takes a diagonal, `...`
    stands for the leading (broadcast) axes, and an axis of size 1 broadcasts against the
    same letter's other size. The op stores explicit letters: 'ij,jk->ik'."""
    nodes = [lift(x) for x in operands]
    text = subscripts.replace(" ", "")
    if "." in text:
        text = _spell_ellipsis(text, nodes)
    ins, rhs = _parse(text, len(nodes))
    nodes = _broadcast_letters(ins, nodes, text)
    return einsum_op(*nodes, subscripts=",".join(ins) + "->" + rhs)


def _spell_ellipsis(text: str, nodes: list[Node]) -> str:
    """'...ij,jk->...ik' with the ellipsis written as fresh letters, right-aligned across
    operands as broadcasting aligns them; in implicit mode the output is NumPy's: the
    ellipsis axes, then the letters used once, sorted."""
    lhs, arrow, rhs = text.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(nodes):
        raise ShapeError(f"einsum {text!r}: {len(ins)} operand subscripts for "
                         f"{len(nodes)} operands")
    counts = []
    for sub, node in zip(ins, nodes, strict=True):
        if sub.count("...") > 1 or sub.replace("...", "").count("."):
            raise ShapeError(f"einsum {text!r}: a stray '.' in {sub!r}")
        named = len(sub.replace("...", ""))
        if "..." in sub and node.ndim < named:
            raise shape_mismatch("einsum", nodes, f"{sub!r} names {named} axes of the rank "
                                                  f"{node.ndim} operand {node.display_name}")
        counts.append(node.ndim - named if "..." in sub else 0)
    free = [c for c in string.ascii_letters if c not in text]
    width = max(counts)
    if len(free) < width:
        raise ShapeError(f"einsum {text!r}: too many axes under the ellipsis")
    letters = "".join(free[:width])
    spelled = [sub.replace("...", letters[width - n:]) for sub, n in zip(ins, counts,
                                                                       strict=True)]
    if arrow:
        if rhs.count("...") > 1 or rhs.replace("...", "").count("."):
            raise ShapeError(f"einsum {text!r}: a stray '.' in the output {rhs!r}")
        out = rhs.replace("...", letters)
    else:
        named = "".join(sub.replace("...", "") for sub in ins)
        out = letters + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    return ",".join(spelled) + "->" + out


def _broadcast_letters(ins: list[str], nodes: list[Node], text: str) -> list[Node]:
    """Operands whose axis has size 1 where another operand's has that letter's size n,
    broadcast to n (as np.einsum broadcasts them)."""
    sizes: dict[str, Any] = {}
    for sub, node in zip(ins, nodes, strict=True):
        if len(sub) != node.ndim:
            return nodes  # the shape rule reports it
        for c, d in zip(sub, node.shape, strict=True):
            if sizes.get(c, 1) == 1:
                sizes[c] = d
    result = []
    for sub, node in zip(ins, nodes, strict=True):
        target = tuple(sizes[c] if d == 1 else d for c, d in zip(sub, node.shape, strict=True))
        result.append(broadcast_to(node, target) if target != node.shape else node)
    return result
