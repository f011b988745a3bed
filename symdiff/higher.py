"""Higher-order derivatives built from grad, vjp, jvp and the batching transformation.

- hvp: forward over reverse, jvp(grad(f, x), x, v): a small constant times the gradient.
- jacobian, hessian: one vjp (or jvp) graph with a placeholder cotangent (tangent), then
  batched over the identity basis. The graph's size does not depend on the number of
  elements; the basis is an `eye` op, which the rewrites can fold into the matrix
  products it meets (eye @ A -> A), so the Hessian of logistic regression comes out as
  X^T diag(p(1-p)) X.
- derivative: Taylor mode for scalar or elementwise functions (O(k^2) nodes per op, so
  polynomial growth in k), repeated grad or jacobian otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .autodiff import _as_list, _check_wrt, grad, jvp, single_node, vjp
from .batching import vmap
from .errors import GradError
from .graph import Node, Provenance, derivative_context, nodes_between, var
from .ops import eye, reshape, sum, transpose  # noqa: A004
from .shapes import fmt_shape
from .taylor import NoTaylorRule, taylor_derivative


def hvp(y: Node, x: Node | Sequence[Node], v: object | Sequence[object]) -> Node | list[Node]:
    """Hessian-vector product H(y, x) @ v by forward-over-reverse; never forms H."""
    _require_scalar(y, "hvp")
    return jvp(grad(y, x), x, v)


def _require_scalar(y: Node, what: str) -> None:
    y = single_node(y, f"the expression given to {what}")
    if y.shape != ():
        raise GradError(f"{what} needs a scalar expression, but {y.display_name} has shape "
                        f"{fmt_shape(y.shape)}")


def _size(node: Node, role: str) -> int:
    if not all(isinstance(d, int) for d in node.shape):
        raise GradError(f"jacobian/hessian need concrete shapes, but {role} "
                        f"{node.display_name} has shape {fmt_shape(node.shape)}; build the "
                        "graph with integer dims")
    return math.prod(node.shape)


def _basis(n: int, shape: tuple, dtype: str) -> Node:
    """The n unit tensors of `shape`, stacked along a new leading axis."""
    return reshape(eye(n, dtype), (n,) + shape)


def _jacobian_one(y: Node, x: Node, mode: str, what: Provenance | None = None,
                  symmetric: bool = False) -> Node:
    """The Jacobian of y by x; its nodes are marked as part of `what` (default: this
    Jacobian). `symmetric`: the Jacobian equals its transpose (y is a gradient by x), so the
    forward mode's stacked columns are its rows as they stand, and no transpose is needed
    (which would return a non-contiguous view, or cost a copy)."""
    m, n = _size(y, "the output"), _size(x, "wrt")
    if mode == "auto":
        mode = "rev" if m <= n else "fwd"
    if mode not in ("rev", "fwd"):
        raise GradError(f"jacobian mode must be 'auto', 'rev' or 'fwd', not {mode!r}")
    what = what or Provenance("jacobian", f"jacobian ({mode}, batched)", y, y, x)
    with derivative_context(what):
        if mode == "rev":
            cotangent = var("cotangent", y.shape, y.dtype)
            (rows,) = vmap([vjp(y, x, cotangent)], {cotangent: _basis(m, y.shape, y.dtype)})
            return reshape(rows, y.shape + x.shape)
        tangent = var("tangent", x.shape, x.dtype)
        (cols,) = vmap([jvp(y, x, tangent)], {tangent: _basis(n, x.shape, x.dtype)})
        # cols[j] = dy/dx_j: put the basis axis last, then split it into x's axes. A
        # Hessian is symmetric (Schwarz), so there cols[j] is row j as well.
        if symmetric:
            if cols.op is not None and cols.provenance is not None:
                cols.provenance = what  # the stacked products are the Hessian itself
        else:
            cols = transpose(cols, tuple(range(1, y.ndim + 1)) + (0,))
        return reshape(cols, y.shape + x.shape)


def jacobian(y: Node, x: Node | Sequence[Node], *, mode: str = "auto") -> Node | list[Node]:
    """Full Jacobian, shape y.shape + x.shape, as one batched graph. mode: 'rev' pushes the
    basis of y's cotangents through vjp, 'fwd' the basis of x's tangents through jvp, 'auto'
    takes the smaller basis."""
    y = single_node(y, "the differentiated expression")
    xs, single = _as_list(x, "wrt")
    _check_wrt(xs)
    results = [_jacobian_one(y, xi, mode) for xi in xs]
    return results[0] if single else results


def hessian(y: Node, x: Node, *, mode: str = "fwd") -> Node:
    """Full Hessian of scalar y, shape x.shape + x.shape: the Jacobian of the gradient
    (forward over reverse by default, which the rewrites simplify best)."""
    _require_scalar(y, "hessian")
    x = single_node(x, "wrt")
    _check_wrt([x])
    what = Provenance("hessian", f"hessian ({mode} over reverse, batched)", y, y, x)
    return _jacobian_one(grad(y, x), x, mode, what, symmetric=True)


def _elementwise_between(x: Node, y: Node) -> bool:
    """Every op between x and y is elementwise, so y[i] depends on x[i] alone and the
    derivative of sum(y) is y's elementwise derivative."""
    return all(n.op is None or n.op.elementwise for n in nodes_between([x], [y]) if n is not x)


def derivative(y: Node, x: Node, order: int = 1) -> Node:
    """The order-k derivative of y with respect to x. For scalar y and scalar x, or for an
    elementwise y (y.shape == x.shape, y[i] depending on x[i] only), it has y's shape and
    comes from Taylor mode; for scalar y and tensor x it is the tensor of k-th partials,
    shape x.shape * k, from grad and repeated jacobian."""
    y = single_node(y, "the differentiated expression")
    x = single_node(x, "wrt")
    _check_wrt([x])
    if not isinstance(order, int) or isinstance(order, bool) or order < 0:
        raise GradError(f"derivative order must be a non-negative int, not {order!r}")
    if order == 0:
        return y
    if y.shape == x.shape:
        try:
            return taylor_derivative(y, x, order)
        except NoTaylorRule as missing:
            if x.ndim and not _elementwise_between(x, y):
                # grad of sum(y) would silently mix the elements
                raise GradError(
                    f"derivative of {y.display_name} needs it elementwise in "
                    f"{x.display_name}, but {missing.args[0]} lies between them; use "
                    "jacobian (or hessian) for the full derivative") from None
            for _ in range(order):  # elementwise ops without a Taylor rule (users' ops),
                y = grad(sum(y) if y.ndim else y, x)  # or a scalar function of a scalar
            return y
    if y.shape != ():
        raise GradError(f"derivative handles scalar or elementwise functions; "
                        f"{y.display_name} has shape {fmt_shape(y.shape)} and wrt "
                        f"{x.display_name} {fmt_shape(x.shape)}: use jacobian")
    result = grad(y, x)
    for _ in range(order - 1):
        result = jacobian(result, x)
    return result
