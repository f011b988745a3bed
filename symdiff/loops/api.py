"""`symdiff.scan`: loops in the graph with the semantics of `jax.lax.scan`.

    (carry, ys) = scan(fn, init, xs)   # for t: carry, ys[t] = fn(carry, xs[t])

`fn` is called once, on placeholder variables, to build the loop's body; outer nodes it
reads become operands of the scan node. A body whose carry changes shape or dtype,
sequences of different lengths, or a body not returning a (carry, y) pair are errors here,
when the loop is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ShapeError
from ..graph import Node
from ..ops.base import export, lift
from ..shapes import fmt_shape
from .op import _placeholder, assemble

Tree = Node | tuple | list | None


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
    if checkpoint is not None and reverse:
        raise ShapeError(f"scan {name}: checkpoint= works for forward loops only (not with "
                         "reverse=True); reverse the sequences instead")
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
