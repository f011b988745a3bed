"""The expression graph: immutable, hash-consed tensor nodes and the queries over them.

A node is a variable, a constant, or an op applied to input nodes with static attributes.
Building the same op on the same inputs with the same attributes twice returns the same
node, so common subexpressions are shared from the start.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SymdiffError
from .shapes import Shape, TensorType, canonical_dtype, canonical_shape, fmt_shape

if TYPE_CHECKING:
    import networkx as nx

    from .ops.base import Op


@dataclass(frozen=True)
class Provenance:
    """Where a derivative node came from: the forward node, the rule, and d(of)/d(target)."""

    kind: str  # "vjp" (reverse), "jvp" (forward), "jacobian" or "hessian" (batched, whole)
    rule: str  # e.g. "matmul.vjp[arg 0]" or "accumulate"
    forward: Node  # the forward node whose rule produced this node
    of: Node  # the differentiated output (cost for vjp, the wrt node for jvp)
    target: Node  # the node whose derivative this is part of

    def describe(self) -> str:
        if self.kind == "jvp":
            what = f"∂{self.target.display_name}/∂{self.of.display_name}·t"
        elif self.kind == "hessian":
            what = f"∂²{self.of.display_name}/∂{self.target.display_name}²"
        else:
            what = f"∂{self.of.display_name}/∂{self.target.display_name}"
        return f"{what}, via {self.rule}"


_provenance: contextvars.ContextVar[Provenance | None] = contextvars.ContextVar(
    "symdiff_provenance", default=None
)


@contextlib.contextmanager
def derivative_context(prov: Provenance) -> Iterator[None]:
    """Nodes created inside this block are marked as produced by `prov`."""
    token = _provenance.set(prov)
    try:
        yield
    finally:
        _provenance.reset(token)


_serial = itertools.count()
_interned: weakref.WeakValueDictionary[tuple, Node] = weakref.WeakValueDictionary()


class Node:
    """One tensor-valued node of the graph. Build nodes with the `symdiff` functions.

    The NumPy operator syntax (+ - * / ** @, x.T, x[...]) is attached by the op library
    (symdiff/ops/operators.py) and notebook displays by symdiff/inspect, so that this
    module depends on neither."""

    __slots__ = ("op", "inputs", "attrs", "type", "name", "value", "id", "label",
                 "provenance", "is_constant", "uid", "__weakref__")

    op: Op | None
    inputs: tuple[Node, ...]
    attrs: Mapping[str, Any]
    type: TensorType
    name: str | None
    value: np.ndarray | None
    id: int
    label: str | None
    provenance: Provenance | None
    is_constant: bool  # depends on no variable

    def __init__(self) -> None:  # pragma: no cover - nodes come from the factories below
        raise TypeError("build nodes with symdiff.var, symdiff.const or the op functions")

    # -- structure -------------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    @property
    def kind(self) -> str:
        """'var', 'const' or 'op'."""
        if self.op is not None:
            return "op"
        return "var" if self.value is None else "const"

    @property
    def is_derivative(self) -> bool:
        return self.provenance is not None

    @property
    def display_name(self) -> str:
        """A short human name: the variable's or label's name, else op and id."""
        if self.name is not None:
            return self.name
        if self.label is not None:
            return self.label
        if self.value is not None and self.value.ndim == 0:
            return repr(self.value.item())
        return f"{self.op.name if self.op else 'const'}#{self.id}"

    def named(self, label: str) -> Node:
        """Give this node a label used by printers and codegen; returns the node itself."""
        if self.kind == "op":
            self.label = label
        return self

    def __repr__(self) -> str:
        if self.kind == "var":
            return f"var({self.name!r}, {fmt_shape(self.shape)}, {self.dtype})"
        if self.kind == "const":
            return f"const#{self.id}: {self.type}"
        args = ", ".join(i.display_name for i in self.inputs)
        attrs = "".join(f", {k}={v!r}" for k, v in self.attrs.items())
        return f"{self.display_name} = {self.op.name}({args}{attrs}): {self.type}"

    # Identity: nodes are interned, and keeping == as identity keeps them usable as dict
    # keys (object's own C slots, so hashing costs no Python call). Elementwise equality is
    # symdiff.equal(a, b).
    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def __bool__(self) -> bool:
        raise SymdiffError(
            f"the truth value of symbolic node {self.display_name} is unknown until it is "
            "evaluated; use symdiff.where for a branch"
        )

    __array_priority__ = 1000  # so that ndarray + node gives node.__radd__

    def __reduce__(self) -> tuple:
        """Pickle as the graph below this node, flat (no recursion, so any depth works);
        unpickling rebuilds it through interning, so it is the same node again wherever
        that node still exists, labels and provenance included."""
        return _unpickle, (_flatten(self),)

    def __iter__(self):
        raise TypeError("a symdiff node is not iterable; index it explicitly, e.g. x[0]")


def _new(op: Op | None, inputs: tuple[Node, ...], attrs: Mapping[str, Any], ttype: TensorType,
         name: str | None = None, value: np.ndarray | None = None) -> Node:
    node = object.__new__(Node)
    node.op = op
    node.inputs = inputs
    node.attrs = MappingProxyType(dict(attrs))
    node.type = ttype
    node.name = name
    node.value = value
    node.id = next(_serial)
    node.label = None
    node.provenance = _provenance.get()
    node.is_constant = value is not None or (op is not None and all(i.is_constant
                                                                     for i in inputs))
    node.uid = None
    return node


def var(name: str, shape: Sequence[int | str] = (), dtype: object = "float64") -> Node:
    """A symbolic input. Two calls give two distinct variables, even with one name."""
    if not isinstance(name, str) or not name:
        raise SymdiffError(f"a variable needs a non-empty str name, got {name!r}")
    ttype = TensorType(canonical_shape(shape), canonical_dtype(dtype))
    return _new(None, (), {}, ttype, name=name)


def const(value: object, dtype: object | None = None) -> Node:
    """A constant tensor; equal constants (same dtype, shape and bytes) are one node."""
    if isinstance(value, Node):
        return value
    arr = np.asarray(value)
    if dtype is None and isinstance(value, float):
        dtype = "float64"
    dt = canonical_dtype(dtype if dtype is not None else arr.dtype)
    arr = np.array(arr, dtype=dt, order="C")
    arr.setflags(write=False)
    key = ("const", dt, arr.shape, arr.tobytes())
    node = _interned.get(key)
    if node is None:
        node = _new(None, (), {}, TensorType(arr.shape, dt), value=arr)
        node.provenance = None  # a constant is shared; it never belongs to one derivative
        _interned[key] = node
    return node


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def apply(op: Op, inputs: Sequence[Node], **attrs: Any) -> Node:
    """Apply `op` to nodes: checks types, then returns the interned node."""
    inputs = tuple(inputs)
    attrs = {k: _freeze(v) for k, v in attrs.items()}
    key = (op.name, inputs, tuple(sorted(attrs.items())))
    node = _interned.get(key)
    if node is None:
        ttype = op.shape_rule([i.type for i in inputs], inputs, **attrs)
        node = _new(op, inputs, attrs, ttype)
        if node.is_constant:
            node.provenance = None  # built from constants alone: shared by any graph
        _interned[key] = node
    return node


# -- graph queries -------------------------------------------------------------------------

def topo_order(roots: Iterable[Node]) -> list[Node]:
    """Every ancestor of `roots` (roots included), inputs before users, deterministic."""
    order: list[Node] = []
    seen: set[Node] = set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        # depth first, each node's inputs in order; an iterator per open node resumes
        # where its scan stopped, so each edge is looked at once
        stack: list[tuple[Node, Iterator[Node]]] = [(root, iter(root.inputs))]
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def to_digraph(roots: Iterable[Node]) -> nx.MultiDiGraph:
    """The graph below `roots` as a networkx MultiDiGraph; edges carry the argument index."""
    import networkx as nx

    g = nx.MultiDiGraph()
    for node in topo_order(roots):
        g.add_node(node)
        for i, inp in enumerate(node.inputs):
            g.add_edge(inp, node, arg=i)
    return g


def nodes_between(sources: Iterable[Node], roots: Iterable[Node]) -> set[Node]:
    """Nodes that lie on a path from some source to some root (both ends included): one
    sweep in topological order, linear in the graph whatever the number of sources."""
    below = set(sources)
    for node in topo_order(roots):
        if node not in below and any(i in below for i in node.inputs):
            below.add(node)
    return below


def variables(roots: Iterable[Node]) -> list[Node]:
    """The variables the roots depend on, in first-use order."""
    return [n for n in topo_order(roots) if n.kind == "var"]


# -- pickling --------------------------------------------------------------------------------

_variables: weakref.WeakValueDictionary[str, Node] = weakref.WeakValueDictionary()


def _uid(node: Node) -> str:
    """A variable's identity across pickling: made on first use, unique across processes."""
    if node.uid is None:
        import uuid

        node.uid = uuid.uuid4().hex
        _variables[node.uid] = node
    return node.uid


def _flatten(root: Node) -> list[tuple]:
    """The graph below `root` as records in topological order, inputs by position."""
    order = topo_order([root])
    position = {n: i for i, n in enumerate(order)}
    records: list[tuple] = []
    for n in order:
        if n.kind == "var":
            records.append(("var", n.name, n.shape, n.dtype, _uid(n)))
        elif n.kind == "const":
            records.append(("const", n.value, n.dtype))
        else:
            records.append(("op", n.op, tuple(position[i] for i in n.inputs), dict(n.attrs),
                            n.label, n.provenance))
    return records


def _unpickle(records: list[tuple]) -> Node:
    built: list[Node] = []
    for record in records:
        if record[0] == "var":
            _, name, shape, dtype, uid = record
            node = _variables.get(uid)
            if node is None:
                node = var(name, shape, dtype)
                node.uid = uid
                _variables[uid] = node
        elif record[0] == "const":
            node = const(record[1], record[2])
        else:
            _, op, positions, attrs, label, provenance = record
            with derivative_context(provenance):
                node = apply(op, [built[i] for i in positions], **attrs)
            if label is not None and node.label is None:
                node.label = label
        built.append(node)
    return built[-1]
