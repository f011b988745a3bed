"""The scan op record: a loop over a body sub-graph as one multi-output graph node.

Its outputs are the final carries, the stacked ys and the hidden stacked residuals (what
the reverse pass reads); with `checkpoint=k`, the carries at every k-th step instead of the
residuals. Its derivative and batching rules (loops/rules.py) register themselves in
`RULES`, as JAX fills its per-primitive registries next to each rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..evaluate import evaluate
from ..graph import Node, topo_order, var
from ..ops.base import define, group_member
from ..ops.lowering import Arg, Call
from ..ops.texforms import Tex
from ..rewrite import optimize
from ..shapes import TensorType, resolve_shape
from .body import Body, LoopCall, name_of, segments, substitute

# "vjp", "jvp", "batch": filled by loops/rules.py
RULES: dict[str, Callable[..., Any]] = {}


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
            hoisted[n] = _placeholder(name_of(n), n)

    for n in order:
        if n in inner and n.op is not None:
            for i in n.inputs:
                hoist(i)
    for o in outs:
        hoist(o)
    if hoisted:
        outs = substitute(outs, hoisted)
        closed_ph += list(hoisted.values())
        closed += list(hoisted)
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


def _scan_lower(*inputs: Node, out: Node, **attrs: Any) -> Call:
    return Call(LoopCall(attrs["body"]), tuple(Arg(i) for i in range(len(inputs))))


def _scan_latex(node: Node, *operands: Tex) -> Tex:
    return Tex(r"\operatorname{scan}_{" + node.attrs["body"].name.replace("_", r"\_") + "}("
               + ", ".join(o.text for o in operands) + ")")


def _scan_vjp(cotangents: list[Node | None], *inputs: Node, out: Node, body: Body,
              length: Any, reverse: bool, checkpoint: int | None) -> list[Node | None]:
    return RULES["vjp"](cotangents, inputs, out, body, length, reverse, checkpoint)


def _scan_jvp(tangents: list[Node | None], *inputs: Node, out: Node, body: Body,
              length: Any, reverse: bool, checkpoint: int | None, output: int) -> Node | None:
    return RULES["jvp"](tangents, inputs, out, body, length, reverse, checkpoint, output)


def _scan_batch(args: list[Node], batched: list[bool], out: Node, *, body: Body, length: Any,
                reverse: bool, checkpoint: int | None, output: int) -> Node:
    return RULES["batch"](args, batched, out, body, length, reverse, checkpoint, output)


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
