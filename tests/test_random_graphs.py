"""Random composite graphs: hypothesis chains at least five ops from a pool of smooth ops
over scalars, vectors and matrices (with broadcasting, contractions, reductions and shape
changes), reduces the result to a scalar, and checks sd.grad, sd.jvp and sd.vjp against
central differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.graph import Node, topo_order
from tests.fd import check_grads

MAX_SIZE = 48  # elements; steps that would grow a tensor past this are not offered


@dataclass
class Builder:
    """A graph under construction: its variables with their values, and a trace."""

    rng: np.random.Generator
    point: dict[Node, np.ndarray] = field(default_factory=dict)
    trace: list[str] = field(default_factory=list)

    def leaf(self, shape: tuple[int, ...]) -> Node:
        v = sd.var(f"p{len(self.point)}", shape)
        self.point[v] = self.rng.uniform(-1.2, 1.2, shape)
        return v


Step = Callable[[st.DrawFn, Builder, Node], Node]

SMOOTH: dict[str, Callable[[Node], Node]] = {
    "tanh": sd.tanh,
    "sin": sd.sin,
    "cos": sd.cos,
    "sigmoid": sd.sigmoid,
    "softplus": sd.softplus,
    "exp(tanh)": lambda u: sd.exp(sd.tanh(u)),
    "log(1+u^2)": lambda u: sd.log(1 + u * u),
    "sqrt(1+u^2)": lambda u: sd.sqrt(1 + sd.square(u)),
    "log1p(u^2)/2": lambda u: sd.log1p(u ** 2) / 2,
    "expm1(tanh)": lambda u: sd.expm1(sd.tanh(u)),
    "-u": lambda u: -u,
}
COMBINE: dict[str, Callable[[Node, Node], Node]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/(1+b^2)": lambda a, b: a / (1 + b * b),
    "(1+sigmoid(a))**tanh(b)": lambda a, b: (1 + sd.sigmoid(a)) ** sd.tanh(b),
}


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape))


def unary(draw: st.DrawFn, b: Builder, e: Node) -> Node:
    name = draw(st.sampled_from(list(SMOOTH)))
    b.trace.append(name)
    return SMOOTH[name](e)


def combine(draw: st.DrawFn, b: Builder, e: Node) -> Node:
    """e with a new leaf of a broadcast-compatible shape, on either side."""
    shape = e.shape
    options = [tuple(1 if draw(st.booleans()) else d for d in shape), shape, (), shape[-1:]]
    if e.ndim < 3 and 2 * _size(shape) <= MAX_SIZE:
        options.insert(0, (2,) + tuple(shape))
    other = b.leaf(draw(st.sampled_from(options)))
    name = draw(st.sampled_from(list(COMBINE)))
    swap = draw(st.booleans())
    b.trace.append(f"{name} leaf{other.shape}{' (swapped)' if swap else ''}")
    return COMBINE[name](other, e) if swap else COMBINE[name](e, other)


def reduce(draw: st.DrawFn, b: Builder, e: Node) -> Node:
    axes = draw(st.sets(st.integers(0, e.ndim - 1), min_size=1))
    axis = tuple(sorted(axes)) if draw(st.booleans()) else None
    keepdims = draw(st.booleans())
    name = draw(st.sampled_from(["logsumexp", "sum", "mean"]))
    b.trace.append(f"{name}(axis={axis}, keepdims={keepdims})")
    return getattr(sd, name)(e, axis=axis, keepdims=keepdims)


def contract(draw: st.DrawFn, b: Builder, e: Node) -> Node:
    """matmul with a new leaf on the right (matrix or vector) or on the left, or einsum."""
    k = draw(st.sampled_from([2, 1, 3]))
    form = draw(st.sampled_from(["e @ M", "e @ v", "M @ e", "einsum"]))
    b.trace.append(f"{form} (k={k})")
    if form == "e @ M":
        return e @ b.leaf((e.shape[-1], k))
    if form == "e @ v":
        return e @ b.leaf((e.shape[-1],))
    if form == "M @ e":
        return b.leaf((k, e.shape[-2] if e.ndim >= 2 else e.shape[0])) @ e
    letters = "abcdef"[: e.ndim]
    other = b.leaf((e.shape[-1], k))
    return sd.einsum(f"{letters},{letters[-1]}z->{letters[:-1]}z", e, other)


def restructure(draw: st.DrawFn, b: Builder, e: Node) -> Node:
    """Shape changes: transpose, reshape, index, expand, broadcast, concatenate, stack."""
    choices = ["reshape(-1)"]
    if e.ndim < 3 and 2 * _size(e.shape) <= MAX_SIZE:
        choices = ["stack", "concatenate", "broadcast_to", "expand_dims"] + choices
    if e.ndim >= 2:
        choices.append("transpose")
    if e.shape[0] >= 2:
        choices.append("slice")
    if e.ndim >= 2 or e.shape[0] >= 2:
        choices.append("index")
    choice = draw(st.sampled_from(choices))
    b.trace.append(choice)
    if choice == "reshape(-1)":
        return sd.reshape(e, (-1,)) if e.ndim != 1 else sd.reshape(e, (1, -1))
    if choice == "expand_dims":
        return sd.expand_dims(e, draw(st.integers(0, e.ndim)))
    if choice == "stack":
        return sd.stack([e, sd.tanh(b.leaf(e.shape))], axis=draw(st.integers(0, e.ndim)))
    if choice == "transpose":
        return e.T
    if choice == "slice":
        return e[1:]
    if choice == "index":
        return e[..., 0] if e.ndim >= 2 else e[-1]
    if choice == "concatenate":
        return sd.concatenate([e, sd.sin(e)], axis=draw(st.integers(0, e.ndim - 1)))
    return sd.broadcast_to(e, (2,) + tuple(e.shape))


def normalize(draw: st.DrawFn, b: Builder, e: Node) -> Node:
    """softmax / log_softmax along an axis, or where with a fixed mask."""
    choice = draw(st.sampled_from(["where", "softmax", "log_softmax"]))
    b.trace.append(choice)
    if choice == "where":
        mask = sd.const(b.rng.random(e.shape) < 0.5)
        return sd.where(mask, e, sd.cos(e) * b.leaf(()))
    axis = draw(st.integers(-e.ndim, e.ndim - 1))
    return getattr(sd, choice)(e, axis=axis)


def _steps(e: Node) -> list[Step]:
    """Steps that apply to e; the first is what hypothesis draws most (and shrinks to)."""
    if e.ndim == 0:
        return [combine, unary]
    return [contract, combine, unary, restructure, normalize, reduce]


def _depth(root: Node) -> int:
    """Ops on the longest path from a variable to the root."""
    depth: dict[Node, int] = {}
    for n in topo_order([root]):
        depth[n] = 1 + max((depth[i] for i in n.inputs), default=-1) if n.kind == "op" else 0
    return depth[root]


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[Node, Builder]:
    b = Builder(np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))))
    e = b.leaf(draw(st.sampled_from([(2, 3), (3,), (), (3, 1), (4, 2)])))
    for _ in range(draw(st.integers(5, 8))):
        step = draw(st.sampled_from(_steps(e)))
        e = step(draw, b, e)
    weight = b.leaf(e.shape)
    b.trace.append("sum(e * w)")
    return sd.sum(e * weight), b


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(graph=random_graphs())
def test_random_graph_gradient_matches_finite_differences(graph):
    cost, b = graph
    assert cost.shape == () and _depth(cost) >= 6, b.trace
    wrt = list(b.point)
    grads = sd.grad(cost, wrt)
    assert [g.shape for g in grads] == [w.shape for w in wrt]
    try:
        check_grads(cost, wrt, b.point, b.rng, order=1)
    except AssertionError as err:
        raise AssertionError(f"graph: {' -> '.join(b.trace)}\n{err}") from None


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(graph=random_graphs())
def test_random_graph_second_order(graph):
    """grad of <grad, v> and jvp of grad against differences of the gradient."""
    cost, b = graph
    try:
        check_grads(cost, list(b.point)[:2], b.point, b.rng, order=2)
    except AssertionError as err:
        raise AssertionError(f"graph: {' -> '.join(b.trace)}\n{err}") from None
