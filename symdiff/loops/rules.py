"""The derivative and batching rules of `scan` (loops/op.py), each a new scan built from a
body derived from the original one, with graph ops, so that it differentiates again.

- VJP (back-propagation through time): a reverse scan whose carry is the cotangent of the
  carry plus running sums of the closed-over operands' cotangents, and whose ys are the
  cotangents of the x slices. Its body is the body's VJP reading the stored residuals;
  what it needs and was not stored is recomputed from the stored carry.
- VJP with `checkpoint=k`: a reverse scan over segments of k steps; each segment reruns
  the forward loop from its stored carry (an inner scan storing that segment's
  residuals) and then runs the segment's reverse scan. A last, shorter segment is done
  first, outside that loop.
- JVP: one scan over (carry, tangent of the carry), with the tangents of the sequences and
  closed-over values as more operands.
- batching: a scan of the batched body; sequences batched along axis 0 are moved to axis 1
  (the loop runs over axis 0), and stacked outputs moved back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..autodiff import backprop, jvp
from ..batching import vmap
from ..graph import Node, const, var
from ..ops import add_batch, broadcast_to, concatenate, reshape
from ..ops.arrays import moveaxis
from ..ops.base import group_member
from ..shapes import is_float
from .body import Body, name_of, segments, substitute
from .op import RULES, _count_of, assemble, scan_members


def _zeros_like(node: Node) -> Node:
    return broadcast_to(const(0, node.dtype), node.shape)


def _floats(nodes: Sequence[Node]) -> list[int]:
    return [i for i, n in enumerate(nodes) if is_float(n.dtype)]


# -- reverse mode ---------------------------------------------------------------------------

def scan_vjp(cts: list[Node | None], inputs: Sequence[Node], out: Node, body: Body,
             length: Any, reverse: bool, checkpoint: int | None) -> list[Node | None]:
    """Cotangents of every operand of the scan node `out` belongs to, given the cotangents
    of its outputs (None: no cotangent)."""
    nc, nx = len(body.carry), len(body.xs)
    ny = len(body.ys)
    init, xs, closed = inputs[:nc], inputs[nc:nc + nx], inputs[nc + nx:]
    members = [group_member(out, k) for k in range(_count_of(body, checkpoint))]
    ct_final, ct_ys, ct_stored = cts[:nc], cts[nc:nc + ny], cts[nc + ny:]
    if checkpoint:
        c_init, c_xs, c_closed = _checkpoint_reverse(body, init, xs, closed, members[nc + ny:],
                                                     list(ct_final), list(ct_ys),
                                                     list(ct_stored), length, checkpoint)
    else:
        c_init, c_xs, c_closed = reverse_pass(body, xs, closed, members[nc:],
                                              list(ct_final), list(ct_ys) + list(ct_stored),
                                              length, reverse)
    return list(c_init) + list(c_xs) + list(c_closed)


def reverse_pass(body: Body, xs: Sequence[Node], closed: Sequence[Node],
                 stacked: Sequence[Node], ct_final: list[Node | None],
                 ct_seq: list[Node | None], length: Any, reverse: bool) \
        -> tuple[list[Node | None], list[Node | None], list[Node | None]]:
    """(cotangents of init, of xs, of closed) by a reverse scan over the stored values
    `stacked` (the forward scan's ys, then its residuals); `ct_seq` has one entry per
    stacked output."""

    fc, fx, fk = _floats(body.carry), _floats(body.xs), _floats(body.closed)
    seq_nodes = list(body.ys) + list(body.residuals)
    if not fc and not any(c is not None for c in ct_seq):
        return [None] * len(body.carry), [None] * len(xs), [None] * len(closed)
    name = f"{body.name}_vjp"
    ct_c = [var(f"d_{body.carry[i].name}", body.carry[i].shape, body.carry[i].dtype)
            for i in fc]
    acc = [var(f"d_{body.closed[j].name}", body.closed[j].shape, body.closed[j].dtype)
           for j in fk]
    # a step's incoming carry is `h_in`, another stored value `tanh_stored`
    res_ph = [var(f"{name_of(r)}_{'in' if r in body.carry else 'stored'}", r.shape, r.dtype)
              for r in body.needed]
    ny = len(body.ys)
    stored = [stacked[body.ys.index(n)] if n in body.ys else
              stacked[ny + body.residuals.index(n)] for n in body.needed]
    seq_with = [j for j, c in enumerate(ct_seq) if c is not None]
    ct_s = [var(f"d_{name_of(seq_nodes[j])}", seq_nodes[j].shape, seq_nodes[j].dtype)
            for j in seq_with]
    outs = [body.carry_out[i] for i in fc] + [seq_nodes[j] for j in seq_with]
    wrt = [body.placeholders[i] for i in _floats(body.placeholders)]
    adjoint = backprop(outs, ct_c + ct_s, wrt) if outs and wrt else {}

    keys = [w for w in wrt if w in adjoint]
    grads = dict(zip(keys, substitute([adjoint[w] for w in keys],
                                       dict(zip(body.needed, res_ph, strict=True))),
                     strict=True))

    def grad_of(p: Node) -> Node:
        return grads[p] if p in grads else _zeros_like(p)

    carry_out = [grad_of(body.carry[i]) for i in fc] + \
        [a + grads[body.closed[j]] if body.closed[j] in grads else a
         for a, j in zip(acc, fk, strict=True)]
    ys = [grad_of(body.xs[i]) for i in fx]
    init = [ct_final[i] if ct_final[i] is not None else _zeros_like(body.carry[i])
            for i in fc] + [_zeros_like(body.closed[j]) for j in fk]
    members = assemble(name, ct_c + acc, init,
                       res_ph + list(body.xs) + ct_s,
                       list(stored) + list(xs) + [ct_seq[j] for j in seq_with],
                       body.closed, closed, carry_out, ys, length, not reverse, None)
    c_init: list[Node | None] = [None] * len(body.carry)
    c_closed: list[Node | None] = [None] * len(closed)
    c_xs: list[Node | None] = [None] * len(xs)
    for k, i in enumerate(fc):
        c_init[i] = members[k]
    for k, j in enumerate(fk):
        c_closed[j] = members[len(fc) + k]
    n_final = len(fc) + len(fk)
    for k, i in enumerate(fx):
        c_xs[i] = members[n_final + k]
    return c_init, c_xs, c_closed


def _checkpoint_reverse(body: Body, init: Sequence[Node], xs: Sequence[Node],
                        closed: Sequence[Node], kept: Sequence[Node],
                        ct_final: list[Node | None], ct_ys: list[Node | None],
                        ct_kept: list[Node | None], length: int, k: int) \
        -> tuple[list, list, list]:
    """The reverse pass of a loop that stored only every k-th carry (`kept`). `ct_kept`:
    cotangents of those stored carries (a second reverse pass reads them), each added to
    the carry's cotangent where its segment starts."""

    nc, nr = len(body.carry), len(body.residuals)
    full, tail = divmod(length, k)
    count = segments(length, k)
    ct_c: list[Node | None] = list(ct_final)
    ct_closed_tail: list[Node | None] = [None] * len(closed)
    ct_xs_tail: list[Node | None] = [None] * len(xs)
    if tail:  # the last, shorter segment: rerun it from its stored carry, then reverse it
        start = [c[count - 1] for c in kept]
        xs_tail = [x[full * k:] for x in xs]
        inner = scan_members(body, start, xs_tail, closed, tail, False, None)
        ct_c, ct_xs_tail, ct_closed_tail = reverse_pass(
            body, xs_tail, closed, inner[nc:], ct_c,
            [c[full * k:] if c is not None else None for c in ct_ys] + [None] * nr, tail,
            False)
        for i, c in enumerate(ct_kept):
            if c is not None:
                ct_c[i] = c[count - 1] if ct_c[i] is None else ct_c[i] + c[count - 1]
    if not full:
        return ct_c, ct_xs_tail, ct_closed_tail
    fc, fx, fk = _floats(body.carry), _floats(body.xs), _floats(body.closed)
    c_ph = [var(c.name, c.shape, c.dtype) for c in body.carry]
    x_ph = [var(f"{x.name}_segment", (k,) + tuple(x.shape), x.dtype) for x in body.xs]
    ys_with = [j for j, c in enumerate(ct_ys) if c is not None]
    y_ph = [var(f"d_{name_of(body.ys[j])}_segment", (k,) + tuple(body.ys[j].shape),
                body.ys[j].dtype) for j in ys_with]
    d_c = [var(f"d_{body.carry[i].name}", body.carry[i].shape, body.carry[i].dtype)
           for i in fc]
    acc = [var(f"d_{body.closed[j].name}", body.closed[j].shape, body.closed[j].dtype)
           for j in fk]
    kept_with = [i for i in fc if ct_kept[i] is not None]
    dk_ph = [var(f"d_{body.carry[i].name}_kept", body.carry[i].shape, body.carry[i].dtype)
             for i in kept_with]
    inner = scan_members(body, c_ph, x_ph, body.closed, k, False, None)
    seg_ct_final: list[Node | None] = [None] * nc
    for p, i in zip(d_c, fc, strict=True):
        seg_ct_final[i] = p
    seg_ct_seq: list[Node | None] = [None] * (len(body.ys) + nr)
    for p, j in zip(y_ph, ys_with, strict=True):
        seg_ct_seq[j] = p
    s_init, s_xs, s_closed = reverse_pass(body, x_ph, body.closed, inner[nc:],
                                          seg_ct_final, seg_ct_seq, k, False)
    for p, i in zip(dk_ph, kept_with, strict=True):
        s_init[i] = p if s_init[i] is None else s_init[i] + p
    carry_out = [s_init[i] if s_init[i] is not None else _zeros_like(body.carry[i])
                 for i in fc] + [a + s_closed[j] if s_closed[j] is not None else a
                                 for a, j in zip(acc, fk, strict=True)]
    seg_ys = [s_xs[i] if s_xs[i] is not None else _zeros_like(x_ph[i]) for i in fx]
    outer_init = [ct_c[i] if ct_c[i] is not None else _zeros_like(body.carry[i]) for i in fc] \
        + [ct_closed_tail[j] if ct_closed_tail[j] is not None else _zeros_like(body.closed[j])
           for j in fk]

    def segmented(node: Node) -> Node:
        head = node[:full * k] if tail else node
        return reshape(head, (full, k) + tuple(node.shape[1:]))

    def first(node: Node) -> Node:
        return node[:full] if count != full else node

    outer_xs = [first(c) for c in kept] + [segmented(x) for x in xs] + \
        [segmented(ct_ys[j]) for j in ys_with] + [first(ct_kept[i]) for i in kept_with]
    members = assemble(f"{body.name}_checkpoint_vjp", d_c + acc, outer_init,
                       c_ph + x_ph + y_ph + dk_ph, outer_xs, body.closed, closed, carry_out,
                       seg_ys, full, True, None)
    c_init: list[Node | None] = [None] * nc
    c_closed: list[Node | None] = [None] * len(closed)
    c_xs: list[Node | None] = [None] * len(xs)
    for n, i in enumerate(fc):
        c_init[i] = members[n]
    for n, j in enumerate(fk):
        c_closed[j] = members[len(fc) + n]
    n_final = len(fc) + len(fk)
    for n, i in enumerate(fx):
        stacked = members[n_final + n]
        flat = reshape(stacked, (full * k,) + tuple(xs[i].shape[1:]))
        if tail:
            rest = ct_xs_tail[i] if ct_xs_tail[i] is not None else \
                _zeros_like(xs[i][full * k:])
            flat = concatenate([flat, rest])
        c_xs[i] = flat
    return c_init, c_xs, c_closed


# -- forward mode ----------------------------------------------------------------------------

def scan_jvp(tangents: list[Node | None], inputs: Sequence[Node], out: Node, body: Body,
             length: Any, reverse: bool, checkpoint: int | None, output: int) -> Node | None:
    """The tangent of output `output`: one scan over the carry and its tangent (shared by
    every output of the node)."""
    key = ("jvp", tuple(inputs), tuple(tangents))
    members, where = body.derived(key, lambda: _jvp_scan(tangents, inputs, body, length,
                                                         reverse))
    nc, ny = len(body.carry), len(body.ys)
    if checkpoint and output >= nc + ny:
        i = output - nc - ny
        index = where.get(("trace", i))
        if index is None:
            return None
        return members[index][::checkpoint]
    index = where.get(output)
    return None if index is None else members[index]


def _jvp_scan(tangents: list[Node | None], inputs: Sequence[Node], body: Body, length: Any,
              reverse: bool) -> tuple[list[Node], dict]:

    nc, nx = len(body.carry), len(body.xs)
    init, xs, closed = inputs[:nc], inputs[nc:nc + nx], inputs[nc + nx:]
    fc = _floats(body.carry)
    with_t = [i for i, t in enumerate(tangents) if t is not None and
              is_float(body.placeholders[i].dtype)]
    tx = [i - nc for i in with_t if nc <= i < nc + nx]
    tk = [i - nc - nx for i in with_t if i >= nc + nx]
    dc = [var(f"t_{body.carry[i].name}", body.carry[i].shape, body.carry[i].dtype) for i in fc]
    dx = [var(f"t_{body.xs[i].name}", body.xs[i].shape, body.xs[i].dtype) for i in tx]
    dk = [var(f"t_{body.closed[j].name}", body.closed[j].shape, body.closed[j].dtype)
          for j in tk]
    wrt = [body.carry[i] for i in fc] + [body.xs[i] for i in tx] + [body.closed[j] for j in tk]
    stacked = list(body.ys) + list(body.residuals)
    fy = _floats(stacked)
    outs = [body.carry_out[i] for i in fc] + [stacked[j] for j in fy]
    tans = jvp(outs, wrt, dc + dx + dk) if outs and wrt else []
    t_init = [tangents[i] if tangents[i] is not None else _zeros_like(init[i]) for i in fc]
    members = assemble(f"{body.name}_jvp", list(body.carry) + dc, list(init) + t_init,
                       list(body.xs) + dx, list(xs) + [tangents[nc + i] for i in tx],
                       list(body.closed) + dk,
                       list(closed) + [tangents[nc + nx + j] for j in tk],
                       list(body.carry_out) + tans[:len(fc)], stacked + tans[len(fc):],
                       length, reverse, None)
    where: dict[Any, int] = {}
    n_carry = nc + len(fc)
    for k, i in enumerate(fc):
        where[i] = nc + k
    for k, j in enumerate(fy):  # ys, then residuals: the node's own numbering
        where[nc + j] = n_carry + len(stacked) + k
    for i in fc:  # each carry's stacked values (all of them are needed), for checkpoints
        j = stacked.index(body.carry[i])
        where[("trace", i)] = n_carry + len(stacked) + fy.index(j)
    return members, where


# -- batching ---------------------------------------------------------------------------------

def scan_batch(args: list[Node], batched: list[bool], out: Node, body: Body, length: Any,
               reverse: bool, checkpoint: int | None, output: int) -> Node:
    """Output `output` of the scan over the batched body (batch axis first, as vmap
    wants)."""
    key = ("batch", tuple(args), tuple(batched))
    members = body.derived(key, lambda: _batched_scan(args, batched, body, length, reverse,
                                                      checkpoint))
    node = members[output]
    nc = len(body.carry)
    if output < nc:
        return node

    return moveaxis(node, 0, 1)  # (steps, batch, ...) -> (batch, steps, ...)


def _batched_scan(args: list[Node], batched: list[bool], body: Body, length: Any,
                  reverse: bool, checkpoint: int | None) -> list[Node]:

    nc, nx = len(body.carry), len(body.xs)
    size = next(a.shape[0] for a, b in zip(args, batched, strict=True) if b)
    subs: dict[Node, Node] = {}
    operands: list[Node] = []
    for k, (p, a, b) in enumerate(zip(body.placeholders, args, batched, strict=True)):
        if k < nc or b:
            subs[p] = var(p.name, (size,) + tuple(p.shape), p.dtype)
        if k < nc:
            operands.append(a if b else add_batch(a, size))
        elif k < nc + nx:
            operands.append(moveaxis(a, 0, 1) if b else a)
        else:
            operands.append(a)
    outs = vmap(list(body.carry_out) + list(body.ys) + list(body.residuals), subs)
    placeholders = [subs.get(p, p) for p in body.placeholders]
    stacked = outs[nc:]
    members = assemble(f"{body.name}_batched", placeholders[:nc], operands[:nc],
                       placeholders[nc:nc + nx], operands[nc:nc + nx],
                       placeholders[nc + nx:], operands[nc + nx:], outs[:nc], stacked,
                       length, reverse, checkpoint)
    if checkpoint:  # the node's outputs: finals, ys, then the batched kept carries
        ny = len(body.ys)
        return members[:nc + ny] + members[nc + len(stacked):]
    return members


RULES.update(vjp=scan_vjp, jvp=scan_jvp, batch=scan_batch)
