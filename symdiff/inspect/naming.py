"""Deterministic names for a graph under inspection: short ids, references, sections.

Every printer (the text listing, networkx, DOT) numbers nodes the same way, so `%7` in
`sd.show` is `%7` in the picture. Numbers come from the listing order, never from the
global node ids, so the same graph always prints the same text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SymdiffError
from ..graph import Node, topo_order
from ..shapes import fmt_shape

SECTION_NAMES = ("forward", "derivative")


def as_roots(nodes: Node | Sequence[Node], what: str = "nodes") -> list[Node]:
    """A node or a sequence of nodes as a list, with a clear error for anything else."""
    items = [nodes] if isinstance(nodes, Node) else list(nodes)
    for item in items:
        if not isinstance(item, Node):
            raise SymdiffError(f"{what} must be symdiff nodes, got {type(item).__name__}: "
                               f"{item!r}"[:200])
    if not items:
        raise SymdiffError(f"{what}: nothing to inspect (an empty list)")
    return items


def is_scalar_constant(node: Node) -> bool:
    """A 0-d constant: printed inline by value instead of on a line of its own."""
    return node.kind == "const" and node.value is not None and node.value.ndim == 0


def is_simple_name(text: str) -> bool:
    """A name that can stand for a node in the listing without quoting."""
    return text.isidentifier()


def phases(order: Sequence[Node]) -> dict[Node, int]:
    """Section index of each node: even = forward, odd = derivative, never decreasing along
    an edge, so listing by (phase, topological position) is still a valid schedule."""
    phase: dict[Node, int] = {}
    for node in order:
        p = max((phase[i] for i in node.inputs), default=0)
        wanted = 1 if node.is_derivative else 0
        if p % 2 != wanted:
            p += 1
        phase[node] = p
    return phase


def schedule(order: Sequence[Node], phase: Mapping[Node, int]) -> list[Node]:
    """A topological order regrouped into sections: leaves (variables, constants) first,
    then forward nodes, then derivative nodes (more sections only when forward nodes use
    derivatives, as in a gradient penalty)."""
    position = {n: i for i, n in enumerate(order)}

    def key(node: Node) -> tuple[int, int]:
        leaf = node.kind != "op"
        return (-1 if leaf else phase[node], position[node])

    return sorted(order, key=key)


def section_of(node: Node, phase: Mapping[Node, int]) -> str:
    """'inputs', 'forward' or 'derivative'."""
    if node.kind != "op":
        return "inputs"
    return SECTION_NAMES[phase[node] % 2]


def scalar_text(value: np.ndarray) -> str:
    """A 0-d value as Python writes it: 2.0, -1, True, nan."""
    item = value.item()
    return repr(item)


def constant_summary(value: np.ndarray) -> str:
    """Compact text for an array constant: a few values in full, else a summary."""
    if value.ndim == 0:
        return scalar_text(value)
    if value.size <= 6:
        return np.array2string(value, separator=", ", precision=6).replace("\n", "")
    flat = value.reshape(-1)
    if value.dtype != bool and np.all(flat == flat[0]):
        return f"full({scalar_text(flat[0])})"
    if value.dtype == bool:
        return f"{int(flat.sum())} of {value.size} true"
    return (f"min {flat.min():.4g}, max {flat.max():.4g}, mean {flat.mean():.4g}")


def format_attr(key: str, value: Any) -> str:
    """One attribute as `key=value`, with shapes and indices written as people write them."""
    if key == "shape":
        return f"shape={fmt_shape(value)}"
    if key == "index":
        from ..indexing import index_source

        return f"index=[{index_source(value)}]"
    if key == "axis" and isinstance(value, tuple) and len(value) == 1:
        return f"axis={value[0]}"
    if isinstance(value, str) and key == "dtype":
        return f"dtype={value}"
    return f"{key}={value!r}"


def format_attrs(attrs: Mapping[str, Any]) -> list[str]:
    """Attributes in the node's order; keepdims=False (the default) is left out."""
    return [format_attr(k, v) for k, v in attrs.items() if not (k == "keepdims" and v is False)]


@dataclass
class Numbering:
    """Short ids (%0, %1, ...) and reference texts for the nodes of one inspected graph."""

    roots: list[Node]
    order: list[Node]  # listing order: schedule(roots), scalar constants last
    ids: dict[Node, str]
    phase: dict[Node, int]
    var_free: set[Node]
    _names: dict[str, int]

    def ref(self, node: Node) -> str:
        """How the node is written where it is used: a scalar constant by value, a node with
        a simple unique name by that name, anything else by its short id."""
        if is_scalar_constant(node):
            return scalar_text(node.value)
        name = node.name if node.name is not None else node.label
        if name is not None and is_simple_name(name) and self._names.get(name, 0) == 1:
            return name
        if node in self.ids:
            return self.ids[node]
        return outside_text(node)

    def name_of(self, node: Node) -> str:
        """The node's variable name or label as shown next to its id ('' when none)."""
        name = node.name if node.name is not None else node.label
        if name is None:
            return ""
        return name if is_simple_name(name) else repr(name)

    def what(self, node: Node) -> str:
        """The derivative a node is part of: '∂loss/∂h' (reverse, or a whole jacobian) or
        '∂y/∂x·t' (forward)."""
        prov = node.provenance
        if node in self.var_free:
            return "constant"
        if prov.kind == "jvp":
            return f"∂{self.ref(prov.target)}/∂{self.ref(prov.of)}·t"
        if prov.kind == "hessian":
            return f"∂²{self.ref(prov.of)}/∂{self.ref(prov.target)}²"
        return f"∂{self.ref(prov.of)}/∂{self.ref(prov.target)}"

    def describe(self, node: Node) -> str:
        """What a derivative node is and where it came from, in listing names:
        '∂loss/∂h, via matmul.vjp[arg 0] at %6'.

        A derivative node that depends on no variable (2.0 - 1.0 from the rule of x**2,
        say) is interned and shared by every graph that builds it, so its record belongs to
        whichever graph built it first: it is shown only as 'constant'."""
        prov = node.provenance
        if node in self.var_free:
            return "constant"
        return f"{self.what(node)}, via {prov.rule} at {self.ref(prov.forward)}"


def outside_text(node: Node) -> str:
    """A node that is not part of the inspected graph (say, the loss seen from its gradient):
    its name if it has one, else its op written as `sum(…)`."""
    if node.name is not None:
        return node.name
    if node.label is not None:
        return node.label
    if node.op is None:
        return "const"
    return f"{node.op.name}(…)"


def number(roots: Node | Sequence[Node]) -> Numbering:
    """Number the graph below `roots`: listed nodes %0.. in listing order, then the scalar
    constants (printed inline, so numbered last to keep the listed ids contiguous)."""
    root_list = as_roots(roots)
    order_in_graph = topo_order(root_list)
    phase = phases(order_in_graph)
    scheduled = schedule(order_in_graph, phase)
    rootset = set(root_list)
    listed = [n for n in scheduled if not is_scalar_constant(n) or n in rootset]
    inline = [n for n in scheduled if is_scalar_constant(n) and n not in rootset]
    order = listed + inline
    ids = {n: f"%{i}" for i, n in enumerate(order)}
    free = var_free(order_in_graph)
    named = set(order)
    for node in order:
        prov = node.provenance
        if prov is not None and node not in free:  # a shared constant's record is not shown
            named.update((prov.of, prov.target, prov.forward))
    names: dict[str, int] = {}
    for node in named:
        name = node.name if node.name is not None else node.label
        if name is not None:
            names[name] = names.get(name, 0) + 1
    return Numbering(root_list, order, ids, phase, free, names)


def var_free(order: Sequence[Node]) -> set[Node]:
    """Nodes of a topological order that depend on no variable (constant subexpressions)."""
    free: set[Node] = set()
    for node in order:
        if node.kind == "const" or (node.kind == "op" and all(i in free for i in node.inputs)):
            free.add(node)
    return free
