"""Loops in the graph: `scan(fn, init, xs)` with the semantics of `jax.lax.scan`.

    (carry, ys) = scan(fn, init, xs)   # for t: carry, ys[t] = fn(carry, xs[t])

`fn` is called once, on placeholder variables, to build the loop's *body*: a sub-graph
held by the scan node as a static attribute (`Body`). Outer nodes the body reads (the
parameters of an RNN) become explicit operands of the scan node, so derivatives reach them.
One scan node is a multi-output op: its outputs are the final carries, the stacked ys, and
hidden stacked *residuals*, the body values its reverse pass reads (the carry at each step
and what the body's VJP needs), which code generation stores only when something reads them.

Derivatives are graph too, so they differentiate again:
- reverse mode (back-propagation through time) is a reverse scan whose body is the body's
  own VJP, reading the residuals; its carry is the carry's cotangent plus running sums of
  the cotangents of the closed-over operands;
- forward mode is a scan over the carry and its tangent;
- batching (for jacobian and hessian) is a scan whose body is the batched body;
- `checkpoint=k` stores only every k-th carry: the reverse pass is a reverse scan over
  segments of k steps, each of which recomputes its residuals with an inner forward scan
  (course notes 6.5.3: store or recompute).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node, derivative_context, topo_order, var
from ..shapes import TensorType, fmt_shape, is_float, resolve_shape
from .base import define, export, group_member, lift
from .lowering import Arg, Call
from .texforms import Tex

Tree = Node | tuple | list | None


class Body:
    """The body of a loop: placeholder variables for the carry, the slices of the scanned
    sequences and the closed-over values, the nodes computing the next carry and the
    step's ys, and the residuals its reverse pass reads (plus caches of derived bodies).
    Hashed by identity: each scan builds its own body."""

    def __init__(self, name: str, carry: Sequence[Node], xs: Sequence[Node],
                 closed: Sequence[Node], carry_out: Sequence[Node], ys: Sequence[Node]) -> None:
        self.name = name
        self.carry = tuple(carry)
        self.xs = tuple(xs)
        self.closed = tuple(closed)
        self.carry_out = tuple(carry_out)
        self.ys = tuple(ys)
        # what the reverse pass reads, and what of it the loop must store besides its ys
        self.needed = _needed(self)
        ys = set(self.ys)
        self.residuals = tuple(n for n in self.needed if n not in ys)
        self._derived: dict[tuple, Any] = {}

    @property
    def placeholders(self) -> tuple[Node, ...]:
        return self.carry + self.xs + self.closed

    @property
    def outputs(self) -> tuple[Node, ...]:
        """Every node the loop stacks or carries: next carries, ys, residuals."""
        return self.carry_out + self.ys + self.residuals

    def derived(self, key: tuple, make: Callable[[], Any]) -> Any:
        """A body derived from this one (reverse, tangent, batched), built once per key so
        that the scan nodes using it are interned once too."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def __repr__(self) -> str:
        return f"<body {self.name}>"

    def __reduce__(self) -> tuple:
        return Body, (self.name, self.carry, self.xs, self.closed, self.carry_out, self.ys)


def _needed(body: Body) -> tuple[Node, ...]:
    """The body values the reverse pass reads: every carry (so a segment or a higher
    derivative can recompute anything) and the values the body's VJP reads that depend on
    the step (a tanh's output, say), not the x slices (the sequences are operands already)
    nor what depends only on closed-over values (recomputed). Those that are not ys are the
    residuals the forward loop stacks."""
    from ..autodiff import backprop
    from ..graph import nodes_between

    outs = [o for o in body.carry_out + body.ys if is_float(o.dtype)]
    wrt = [p for p in body.placeholders if is_float(p.dtype)]
    carries = [c for c in body.carry if is_float(c.dtype)]
    if not outs or not wrt:
        return tuple(carries)
    cts = [var(f"ct_{i}", o.shape, o.dtype) for i, o in enumerate(outs)]
    adjoint = backprop(outs, cts, wrt)
    grads = [adjoint[w] for w in wrt if w in adjoint]
    varying = nodes_between(body.carry + body.xs, body.carry_out + body.ys)
    varying.update(body.carry + body.xs)
    forward = set(topo_order(body.carry_out + body.ys))
    stepwise = varying & forward
    found: dict[Node, None] = dict.fromkeys(carries)
    for n in topo_order(grads):
        if n in stepwise:
            continue
        for i in n.inputs:
            if i in stepwise:
                found[i] = None
    for g in grads:
        if g in stepwise:
            found[g] = None
    xs = set(body.xs)
    return tuple(n for n in found if n not in xs)


# -- building a scan -------------------------------------------------------------------------

def _leaves(tree: Tree, what: str) -> tuple[list[Node], Callable[[list[Node]], Tree]]:
    """The nodes of a node / tuple / list (None: no nodes) and a function rebuilding the
    same structure from new nodes."""
    if tree is None:
        return [], lambda nodes: None
    if isinstance(tree, Node):
        return [tree], lambda nodes: nodes[0]
    if isinstance(tree, (tuple, list)):
        parts = [_leaves(t, what) for t in tree]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(nodes: list[Node]) -> Tree:
            out, k = [], 0
            for ls, re in parts:
                out.append(re(nodes[k:k + len(ls)]))
                k += len(ls)
            return type(tree)(out) if isinstance(tree, tuple) else out

        return leaves, rebuild
    try:
        return [lift(tree)], lambda nodes: nodes[0]
    except Exception:  # noqa: BLE001 - anything not liftable is reported below
        raise ShapeError(f"scan: {what} must be a node, an array or a tuple of them, got "
                         f"{type(tree).__name__}") from None


def _substitute(roots: Sequence[Node], mapping: dict[Node, Node]) -> list[Node]:
    """`roots` rebuilt with each key of `mapping` replaced by its value (labels and
    provenance kept); nodes below a key are not visited."""
    new: dict[Node, Node] = dict(mapping)
    order: list[Node] = []
    seen: set[Node] = set(mapping)
    stack = [(r, False) for r in reversed(list(roots))]
    while stack:  # iterative post-order that stops at mapped nodes
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((i, False) for i in reversed(node.inputs) if i not in seen)
    from ..graph import apply

    for n in order:
        if n.op is None or not any(new.get(i, i) is not i for i in n.inputs):
            new.setdefault(n, n)
            continue
        with derivative_context(n.provenance):
            built = apply(n.op, [new.get(i, i) for i in n.inputs], **n.attrs)
        if built.label is None and n.label is not None:
            built.label = n.label
        new[n] = built
    return [new.get(r, r) for r in roots]


def _placeholder(name: str, node: Node, drop: int = 0) -> Node:
    """A placeholder variable typed like `node` without its first `drop` axes."""
    return var(name, tuple(node.shape[drop:]), node.dtype)


def assemble(name: str, carry: Sequence[Node], init: Sequence[Node], xs_ph: Sequence[Node],
             xs: Sequence[Node], closed_ph: Sequence[Node], closed: Sequence[Node],
             carry_out: Sequence[Node], ys: Sequence[Node], length: int | str,
             reverse: bool = False, checkpoint: int | None = None) -> list[Node]:
    """A scan node (all its output members) from a body given as placeholders and output
    nodes: outer nodes the outputs read become closed-over operands, the body is optimized,
    and unused sequences and closed-over values are dropped."""
    carry, xs_ph, closed_ph = list(carry), list(xs_ph), list(closed_ph)
    init, xs, closed = list(init), list(xs), list(closed)
    outs = list(carry_out) + list(ys)
    inner: set[Node] = set(carry + xs_ph + closed_ph)
    order = topo_order(outs)
    for n in order:
        if n not in inner and any(i in inner for i in n.inputs):
            inner.add(n)
    hoisted: dict[Node, Node] = {}

    def hoist(n: Node) -> None:
        if n not in inner and not n.is_constant and n not in hoisted:
            hoisted[n] = _placeholder(_name_of(n), n)

    for n in order:
        if n in inner and n.op is not None:
            for i in n.inputs:
                hoist(i)
    for o in outs:
        hoist(o)
    if hoisted:
        outs = _substitute(outs, hoisted)
        closed_ph += list(hoisted.values())
        closed += list(hoisted)
    from ..rewrite import optimize

    outs = list(optimize(outs))
    used = set(topo_order(outs))
    keep_x = [i for i, p in enumerate(xs_ph) if p in used]
    if not keep_x and xs_ph and not isinstance(length, int):
        keep_x = [0]  # the sequence that tells the loop its (symbolic) length
    xs_ph, xs = [xs_ph[i] for i in keep_x], [xs[i] for i in keep_x]
    keep_k = [i for i, p in enumerate(closed_ph) if p in used]
    closed_ph, closed = [closed_ph[i] for i in keep_k], [closed[i] for i in keep_k]
    nc = len(carry)
    body = Body(name, carry, xs_ph, closed_ph, outs[:nc], outs[nc:])
    return scan_members(body, init, xs, closed, length, reverse, checkpoint)


def _name_of(node: Node) -> str:
    return node.name or node.label or (node.op.name if node.op is not None else "const")


def scan_members(body: Body, init: Sequence[Node], xs: Sequence[Node],
                 closed: Sequence[Node], length: int | str, reverse: bool,
                 checkpoint: int | None) -> list[Node]:
    """Every output of the scan node running `body` (finals, ys, residuals)."""
    operands = list(init) + list(xs) + list(closed)
    first = scan_op(*operands, body=body, length=length, reverse=reverse,
                    checkpoint=checkpoint, output=0) if _count_of(body, checkpoint) else None
    if first is None:
        return []
    return [group_member(first, k) for k in range(_count_of(body, checkpoint))]


def _count_of(body: Body, checkpoint: int | None) -> int:
    stored = len(body.carry) if checkpoint else len(body.residuals)
    return len(body.carry) + len(body.ys) + stored


def _output_count(attrs: Any) -> int:
    return _count_of(attrs["body"], attrs.get("checkpoint"))


def segments(length: int, checkpoint: int) -> int:
    """How many carries a checkpointed loop stores: one per started segment."""
    return -(-length // checkpoint)


# -- the op record ----------------------------------------------------------------------------

def _scan_rule(types: list[TensorType], inputs: list[Node], *, body: Body, length: Any,
               reverse: bool, checkpoint: int | None, output: int) -> TensorType:
    nc, ny = len(body.carry), len(body.ys)
    if output < nc:
        node = body.carry[output]
        return TensorType(node.shape, node.dtype)
    if output < nc + ny:
        y = body.ys[output - nc]
        return TensorType((length,) + tuple(y.shape), y.dtype)
    k = output - nc - ny
    if checkpoint:
        c = body.carry[k]
        return TensorType((segments(length, checkpoint),) + tuple(c.shape), c.dtype)
    r = body.residuals[k]
    return TensorType((length,) + tuple(r.shape), r.dtype)


def _bind_dims(body: Body, args: Sequence[np.ndarray]) -> dict[str, int]:
    dims: dict[str, int] = {}
    nc, nx = len(body.carry), len(body.xs)
    for k, (p, a) in enumerate(zip(body.placeholders, args, strict=True)):
        shape = a.shape[1:] if nc <= k < nc + nx else a.shape
        for d, n in zip(p.shape, shape, strict=True):
            if isinstance(d, str):
                dims.setdefault(d, n)
    return dims


def _scan_impl(*args: np.ndarray, body: Body, length: Any, reverse: bool,
               checkpoint: int | None) -> tuple:
    """The reference loop: the body run by the interpreter at each step."""
    from ..evaluate import evaluate

    nc, nx = len(body.carry), len(body.xs)
    init, xs, closed = args[:nc], args[nc:nc + nx], args[nc + nx:]
    steps = xs[0].shape[0] if nx else int(length)
    dims = _bind_dims(body, args) | ({length: steps} if isinstance(length, str) else {})
    carry = [np.array(c) for c in init]
    stacked = list(body.ys) + ([] if checkpoint else list(body.residuals))
    stacks = [np.empty((steps,) + resolve_shape(n.shape, dims), n.dtype) for n in stacked]
    kept = [np.empty((segments(steps, checkpoint),) + c.shape, c.dtype) for c in carry] \
        if checkpoint else []
    nodes = list(body.carry_out) + stacked
    fixed = dict(zip(body.closed, closed, strict=True))
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        if checkpoint and t % checkpoint == 0:
            for store, c in zip(kept, carry, strict=True):
                store[t // checkpoint] = c
        bindings = dict(fixed)
        bindings.update(zip(body.carry, carry, strict=True))
        bindings.update((p, x[t]) for p, x in zip(body.xs, xs, strict=True))
        values = evaluate(nodes, bindings) if nodes else []
        carry = [np.array(v) for v in values[:nc]]
        for store, v in zip(stacks, values[nc:], strict=True):
            store[t] = v
    return tuple(carry) + tuple(stacks) + tuple(kept)


class LoopCall:
    """The callee of a scan's lowering: a loop function that each target generates from
    the body (codegen/loops.py), not a helper copied from source."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def __repr__(self) -> str:
        return f"<loop of {self.body.name}>"


def _scan_lower(*inputs: Node, out: Node, **attrs: Any) -> Call:
    return Call(LoopCall(attrs["body"]), tuple(Arg(i) for i in range(len(inputs))))


def _scan_latex(node: Node, *operands: Tex) -> Tex:
    return Tex(r"\operatorname{scan}_{" + node.attrs["body"].name.replace("_", r"\_") + "}("
               + ", ".join(o.text for o in operands) + ")")


def _scan_vjp(cotangents: list[Node | None], *inputs: Node, out: Node, body: Body,
              length: Any, reverse: bool, checkpoint: int | None) -> list[Node | None]:
    from .scan_rules import scan_vjp

    return scan_vjp(cotangents, inputs, out, body, length, reverse, checkpoint)


def _scan_jvp(tangents: list[Node | None], *inputs: Node, out: Node, body: Body,
              length: Any, reverse: bool, checkpoint: int | None, output: int) -> Node | None:
    from .scan_rules import scan_jvp

    return scan_jvp(tangents, inputs, out, body, length, reverse, checkpoint, output)


def _scan_batch(args: list[Node], batched: list[bool], out: Node, *, body: Body, length: Any,
                reverse: bool, checkpoint: int | None, output: int) -> Node:
    from .scan_rules import scan_batch

    return scan_batch(args, batched, out, body, length, reverse, checkpoint, output)


def _scan_flops(node: Node) -> tuple[int, tuple]:
    length = node.attrs["length"]
    ops = [n for n in topo_order(node.attrs["body"].outputs) if n.op is not None]
    per_step = 0
    for n in ops:
        coef, dims = n.op.flop_count(n)
        per_step += coef * math.prod(d if isinstance(d, int) else 1 for d in dims)
    return per_step, (length,)


scan_op = define(
    "scan", family="other", shape_rule=_scan_rule, impl=_scan_impl, outputs=_output_count,
    vjp=(), jvp=(), joint_vjp=_scan_vjp, joint_jvp=_scan_jvp, batch=_scan_batch,
    lower=_scan_lower, foldable=False, flops=_scan_flops, latex=_scan_latex, variadic=True,
    doc="A loop over a body sub-graph (jax.lax.scan): final carries, stacked ys and the "
        "residuals its reverse pass reads.")


# -- the public constructor -------------------------------------------------------------------

def _check_carry(name: str, init: list[Node], out: list[Node]) -> None:
    if len(out) != len(init):
        raise ShapeError(f"scan {name}: the body returned {len(out)} carry values for "
                         f"{len(init)} in init; the carry must keep its structure")
    for k, (a, b) in enumerate(zip(init, out, strict=True)):
        if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
            which = f" {k}" if len(init) > 1 else ""
            raise ShapeError(f"scan {name}: carry{which} changes type in the body: init "
                             f"{a.display_name} is {a.dtype} {fmt_shape(a.shape)} but the "
                             f"body returns {b.display_name} {b.dtype} {fmt_shape(b.shape)}; "
                             "the carry must keep its shape and dtype")


def _length_of(name: str, xs: list[Node], length: int | str | None) -> int | str:
    lengths = []
    for x in xs:
        if x.ndim == 0:
            raise ShapeError(f"scan {name}: sequence {x.display_name} is a scalar; xs are "
                             "scanned along axis 0")
        lengths.append(x.shape[0])
    if lengths and any(n != lengths[0] for n in lengths):
        parts = ", ".join(f"{x.display_name} {fmt_shape(x.shape)}" for x in xs)
        raise ShapeError(f"scan {name}: the sequences have different lengths along axis 0 "
                         f"({parts})")
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, (int, str)) or \
                (isinstance(length, int) and length < 0):
            raise ShapeError(f"scan {name}: length must be a non-negative int or a symbolic "
                             f"dim name, got {length!r}")
        if lengths and lengths[0] != length:
            raise ShapeError(f"scan {name}: length={length!r} but the sequences have length "
                             f"{lengths[0]!r}")
        return length
    if not lengths:
        raise ShapeError(f"scan {name}: give xs or length (with no sequences the loop "
                         "cannot know how many steps to run)")
    return lengths[0]


def _pair(name: str, result: Any) -> tuple[Any, Any]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = f"a {type(result).__name__}" + (f" of length {len(result)}"
                                              if isinstance(result, (tuple, list)) else "")
        raise ShapeError(f"scan {name}: the body must return a pair (carry, y), got {got}")
    return result[0], result[1]


_STATICS = {"fn": ("a Python function (carry, x) -> (carry, y)", False),
            "length": ("an int or a symbolic dim name", True),
            "checkpoint": ("a positive int or None", False),
            "reverse": ("True or False", False), "name": ("a string", True),
            "carry_names": ("a list of strings", True), "x_names": ("a list of strings", True)}


@export(spec=False, statics=_STATICS)
def scan(fn: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | str | None = None, checkpoint: int | None = None, *,
         reverse: bool = False, name: str = "scan", carry_names: Sequence[str] = (),
         x_names: Sequence[str] = ()) -> tuple[Any, Any]:
    """Loop `fn(carry, x) -> (carry, y)` over the leading axis of `xs`, as jax.lax.scan:
    returns (final carry, ys stacked along a new axis 0). `init`/carry and `xs`/y may be a
    node or a tuple of nodes; `fn` is called once, on placeholders, and may read outer
    nodes (parameters). `checkpoint=k` stores every k-th carry for the reverse pass and
    recomputes the rest. `reverse=True` runs from the last step to the first. `name`,
    `carry_names` and `x_names` name the loop and its placeholders in listings and code."""
    init_nodes, rebuild_carry = _leaves(init, "init")
    xs_nodes, _ = _leaves(xs, "xs")
    steps = _length_of(name, xs_nodes, length)
    if checkpoint is not None and (isinstance(checkpoint, bool) or not isinstance(checkpoint, int)
                                   or checkpoint < 1):
        raise ShapeError(f"scan {name}: checkpoint must be a positive int, got {checkpoint!r}")
    if checkpoint is not None and not isinstance(steps, int):
        raise ShapeError(f"scan {name}: checkpoint needs an int length, but the length is "
                         f"the symbolic dim {steps!r}")
    carry_names = list(carry_names) + [
        "carry" if len(init_nodes) == 1 else f"carry{k}" for k in range(len(init_nodes))]
    x_names = list(x_names) + ["x" if len(xs_nodes) == 1 else f"x{k}"
                               for k in range(len(xs_nodes))]
    carry = [_placeholder(carry_names[k], c) for k, c in enumerate(init_nodes)]
    xs_ph = [_placeholder(x_names[k], x, 1) for k, x in enumerate(xs_nodes)]
    _, rebuild_x = _leaves(xs, "xs")
    try:
        result = fn(rebuild_carry(carry), rebuild_x(xs_ph) if xs is not None else None)
    except ShapeError as err:
        raise ShapeError(f"scan {name}: building the body: {err}") from None
    new_carry, y = _pair(name, result)
    out_nodes, _ = _leaves(new_carry, "the carry the body returns")
    ys_nodes, rebuild_y = _leaves(y, "the y the body returns")
    _check_carry(name, init_nodes, out_nodes)
    members = assemble(name, carry, init_nodes, xs_ph, xs_nodes, [], [], out_nodes, ys_nodes,
                       steps, reverse, checkpoint)
    nc, ny = len(carry), len(ys_nodes)
    if not members:  # no carry and no ys: nothing to compute
        return rebuild_carry([]), rebuild_y([])
    finals = [m.named(f"{name}_{c.display_name}") for m, c in zip(members[:nc], carry,
                                                                   strict=True)]
    return rebuild_carry(finals), rebuild_y(members[nc:nc + ny])
