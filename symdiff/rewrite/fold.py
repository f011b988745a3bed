"""Phase 2, fold: compute constant subgraphs once, at compile time, with each op's own
reference implementation.

A folded constant is never larger than the largest constant it came from: broadcasting a
scalar constant to a big shape stays a broadcast_to (a view at run time), so no large
array is materialized needlessly, nor written into generated code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..graph import Node, const
from .engine import Phase
from .match import static_size

fold = Phase("fold", "constant subgraphs computed once")

def _evaluated(node: Node, args: list[np.ndarray]) -> Node | None:
    with np.errstate(all="ignore"):
        value = node.op.compute(*args, **node.attrs)
        value = np.asarray(value[node.attrs["output"]] if node.op.outputs != 1 else value)
    if value.shape != node.shape or value.dtype != np.dtype(node.dtype):
        return None
    return const(value, node.dtype)


def _foldable(op: Any) -> bool:
    return op.foldable


# f(c1, c2) -> c, for constant inputs whose result is no larger than they are
@fold.rule(when=_foldable)
def constant_inputs(node: Node) -> Node | None:
    if not node.inputs or any(i.value is None for i in node.inputs):
        return None
    size = static_size(node.shape)
    if size is None or size > max(i.value.size for i in node.inputs):
        return None
    return _evaluated(node, [i.value for i in node.inputs])


# dim_size(x, axes) -> c, when those dims of x are known
@fold.rule("dim_size")
def static_dim_size(node: Node) -> Node | None:
    x = node.inputs[0]
    dims = [x.shape[a] for a in node.attrs["axis"]]
    if not all(isinstance(d, int) for d in dims):
        return None
    return const(float(math.prod(dims)), node.dtype)


# zeros(()) -> 0, zeros((1,)) -> [0]: a one-element zeros is a plain constant
@fold.rule("zeros")
def small_zeros(node: Node) -> Node | None:
    if static_size(node.shape) != 1:
        return None
    return const(np.zeros(node.shape, node.dtype), node.dtype)
