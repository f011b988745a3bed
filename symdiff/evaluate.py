"""The reference interpreter: runs each op's NumPy implementation over the graph.

It is the oracle that generated code and rewrites are tested against, so it checks
everything it can: argument dtypes and shapes, consistent symbolic dims, and that every
op produced the shape and dtype its rule promised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import BindingError, SymdiffError
from .graph import Node, topo_order, variables
from .ops.base import group_key
from .shapes import fmt_shape, resolve_shape

_ACCEPTS = {"float64": "fiub", "float32": "fiub", "float16": "fiub", "int64": "iub",
            "bool": "b"}


def bind_inputs(vars_: Sequence[Node], values: Mapping[Node, Any]) -> tuple[dict, dict]:
    """Check and convert argument arrays; bind symbolic dims. Returns (arrays, dims)."""
    arrays: dict[Node, np.ndarray] = {}
    dims: dict[str, int] = {}
    bound_by: dict[str, str] = {}
    for v in vars_:
        if v not in values:
            raise BindingError(f"no value given for variable {v.name!r} "
                               f"(shape {fmt_shape(v.shape)}, {v.dtype})")
        arr = np.asarray(values[v])
        if arr.dtype.kind not in _ACCEPTS[v.dtype]:
            raise BindingError(f"variable {v.name!r} expects {v.dtype}, got an array of "
                               f"dtype {arr.dtype}")
        arr = arr.astype(v.dtype, copy=False)
        if arr.ndim != len(v.shape):
            raise BindingError(f"variable {v.name!r} expects shape {fmt_shape(v.shape)}, "
                               f"got {arr.shape}")
        for axis, (want, got) in enumerate(zip(v.shape, arr.shape, strict=True)):
            if isinstance(want, int):
                if want != got:
                    raise BindingError(f"variable {v.name!r} expects shape "
                                       f"{fmt_shape(v.shape)}, got {arr.shape}")
            elif dims.setdefault(want, got) != got:
                raise BindingError(f"symbolic dim {want!r} is {dims[want]} in "
                                   f"{bound_by[want]} but {got} in {v.name!r} (axis {axis})")
            else:
                bound_by.setdefault(want, repr(v.name))
        arrays[v] = arr
    return arrays, dims


def _lookup(bindings: Mapping[Any, Any], vars_: list[Node]) -> dict[Node, Any]:
    """Accept bindings keyed by variable node, or by name where names are unique."""
    by_node = {k: v for k, v in bindings.items() if isinstance(k, Node)}
    by_name = {k: v for k, v in bindings.items() if isinstance(k, str)}
    for v in vars_:
        if v not in by_node and v.name in by_name:
            if sum(1 for w in vars_ if w.name == v.name) > 1:
                raise BindingError(f"two variables are named {v.name!r}; bind them by node")
            by_node[v] = by_name[v.name]
    return by_node


def _resolved(attrs: Mapping[str, Any], dims: dict[str, int]) -> dict[str, Any]:
    if "shape" not in attrs:
        return dict(attrs)
    out = dict(attrs)
    try:
        out["shape"] = resolve_shape(attrs["shape"], dims)
    except KeyError as err:
        raise BindingError(f"symbolic dim {err.args[0]!r} is not bound by any input") from None
    return out


def _run(node: Node, args: list[np.ndarray], attrs: dict[str, Any],
         groups: dict[tuple, Any]) -> Any:
    """The node's value; a multi-output op's impl runs once for all its output nodes."""
    if node.op.outputs == 1:
        return node.op.compute(*args, **attrs)
    key = group_key(node)
    if key not in groups:
        groups[key] = node.op.compute(*args, **attrs)
    return groups[key][attrs["output"]]


def evaluate(nodes: Node | Sequence[Node], bindings: Mapping[Any, Any]) \
        -> np.ndarray | list[np.ndarray]:
    """Values of `nodes` given arrays for the variables they depend on (each node once)."""
    single = isinstance(nodes, Node)
    outputs = [nodes] if single else list(nodes)
    vars_ = variables(outputs)
    # A derivative graph may lose its variables but keep their symbolic dims (grad of
    # sum(x) is broadcast_to(1, x.shape)), so variables bound by node bind dims too.
    reached = set(vars_)
    unreached = [k for k in bindings if isinstance(k, Node) and k.kind == "var"
                 and k not in reached]
    arrays, dims = bind_inputs(vars_ + unreached, _lookup(bindings, vars_))
    values: dict[Node, np.ndarray] = dict(arrays)
    groups: dict[tuple, Any] = {}  # multi-output computations, run once per group
    for node in topo_order(outputs):
        if node in values:
            continue
        if node.value is not None:
            values[node] = node.value
            continue
        args = [values[i] for i in node.inputs]
        try:
            with np.errstate(all="ignore"):
                result = np.asarray(_run(node, args, _resolved(node.attrs, dims), groups))
        except (IndexError, np.linalg.LinAlgError) as err:  # bad data: name the node
            raise type(err)(f"{node.op.name} at {node.display_name}: {err}") from None
        want = resolve_shape(node.shape, dims) if all(
            isinstance(d, int) or d in dims for d in node.shape) else result.shape
        if result.shape != want or result.dtype != np.dtype(node.dtype):
            raise SymdiffError(f"internal: op {node.op.name} at {node.display_name} gave "
                               f"{result.dtype}{result.shape}, its rule promised "
                               f"{node.dtype}{want}")
        values[node] = result
    results = [values[n] for n in outputs]
    return results[0] if single else results
