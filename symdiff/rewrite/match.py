"""Small pattern helpers the rules share: op tests, known constant values, looking through
movement ops, and fitting a replacement to the type of the node it replaces."""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node, apply
from ..ops import astype, broadcast_to, expand_dims
from ..shapes import Shape, broadcast_shapes


def elementwise(op: Any) -> bool:
    return op.elementwise


def commutative(op: Any) -> bool:
    return op.commutative


def is_op(node: Node, *names: str) -> bool:
    return node.op is not None and node.op.name in names


def is_movement(node: Node) -> bool:
    """Only moves or replicates elements (an elementwise f commutes with it)."""
    return node.op is not None and node.op.movement


def is_scalar(node: Node) -> bool:
    """A 0-d node: a factor that may move freely through products and sums."""
    return node.ndim == 0


def static_size(shape: Shape) -> int | None:
    return math.prod(shape) if all(isinstance(d, int) for d in shape) else None


_uniform_cache: weakref.WeakKeyDictionary[Node, float | None] = weakref.WeakKeyDictionary()


def _const_uniform(node: Node) -> float | None:
    if node not in _uniform_cache:
        value = node.value
        first = value.flat[0] if value.size else None
        same = first is not None and bool(np.all(value == first))
        _uniform_cache[node] = first.item() if same else None
    return _uniform_cache[node]


def uniform_value(node: Node) -> float | None:
    """The one value every element of `node` has, when it is known before running: a
    constant with equal elements, zeros, or such a value moved or broadcast."""
    while is_movement(node):
        node = node.inputs[0]
    if node.value is not None:
        return _const_uniform(node)
    if is_op(node, "zeros"):
        return 0
    return None


def has_value(node: Node, value: float) -> bool:
    v = uniform_value(node)
    return v is not None and v == value


def is_const(node: Node) -> bool:
    """Known before running: a constant, or a constant broadcast."""
    return node.value is not None or (is_op(node, "broadcast_to") and is_const(node.inputs[0]))


def fit(replacement: Node, like: Node) -> Node:
    """`replacement` cast and broadcast to the type of the node it replaces."""
    if replacement.dtype != like.dtype:
        replacement = astype(replacement, like.dtype)
    if replacement.shape != like.shape:
        replacement = broadcast_to(replacement, like.shape)
    return replacement


def broadcasts(*nodes: Node) -> Shape | None:
    """The broadcast shape of the nodes, or None when they do not broadcast together."""
    try:
        return broadcast_shapes([n.shape for n in nodes], [""] * len(nodes), "rewrite")
    except ShapeError:
        return None


def align(node: Node, ndim: int) -> Node:
    """`node` with leading size-1 axes so that it has `ndim` axes (as broadcasting does)."""
    extra = ndim - node.ndim
    return expand_dims(node, tuple(range(extra))) if extra > 0 else node


def peel(node: Node) -> tuple[Node, list[Node]]:
    """Look through movement ops: (the node below them, the movement nodes outermost first)."""
    chain: list[Node] = []
    while is_movement(node):
        chain.append(node)
        node = node.inputs[0]
    return node, chain


def replay(chain: list[Node], core: Node) -> Node:
    """Apply the movement ops of `chain` (from `peel`) to a new core of the same shape."""
    for mover in reversed(chain):
        core = apply(mover.op, (core,), **mover.attrs)
    return core


def product(factors: list[Node]) -> Node | None:
    """The product of the factors, left to right, or None for no factors."""
    if not factors:
        return None
    total = factors[0]
    for f in factors[1:]:
        total = total * f
    return total


def factors_of(node: Node, depth: int = 3) -> list[Node]:
    """The factors of a product tree of mul nodes, down to `depth` levels."""
    if depth == 0 or not is_op(node, "mul"):
        return [node]
    return factors_of(node.inputs[0], depth - 1) + factors_of(node.inputs[1], depth - 1)

