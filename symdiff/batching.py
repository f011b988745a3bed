"""The batching transformation: rebuild a graph so that some nodes carry an extra leading
axis, as if the whole graph had been evaluated once per slice along that axis.

It is what lets `jacobian` and `hessian` push a whole basis of tangents or cotangents
through the derivative rules at once, so their graphs do not grow with the number of
elements. Each op says how it batches (`Op.batch`); elementwise ops and reductions share
their family's rule (ops/elementwise.py, ops/reductions.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import SymdiffError
from .graph import Node, derivative_context, topo_order
from .ops import add_batch
from .ops.base import Op


def batch_rule(op: Op) -> Any:
    """The op's batching rule (each family's default is set where the family is defined)."""
    if op.batch is None:
        raise SymdiffError(f"op {op.name} has no batching rule, so jacobian and hessian "
                           "cannot pass through it")
    return op.batch


def vmap(outputs: Sequence[Node], substitutions: Mapping[Node, Node]) -> list[Node]:
    """Rebuild `outputs` with each key of `substitutions` replaced by its value, a node of
    the same type plus one leading (batch) axis. Every result has the batch axis."""
    new: dict[Node, Node] = {}
    size = None
    for node, value in substitutions.items():
        if value.shape[1:] != node.shape:
            raise SymdiffError(f"vmap: {node.display_name} has shape {node.shape}; its "
                               f"batched value must have shape (batch,) + that, not "
                               f"{value.shape}")
        size = value.shape[0]
    for node in topo_order(outputs):
        if node in substitutions:
            new[node] = substitutions[node]
            continue
        if node.op is None or not any(i in new for i in node.inputs):
            continue
        args = [new.get(i, i) for i in node.inputs]
        flags = [i in new for i in node.inputs]
        rule = batch_rule(node.op)
        if node.provenance is not None:
            with derivative_context(node.provenance):
                new[node] = rule(args, flags, node, **node.attrs)
        else:
            new[node] = rule(args, flags, node, **node.attrs)
    return [new[o] if o in new else add_batch(o, size) for o in outputs]
