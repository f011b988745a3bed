"""Convolution and pooling through im2col: `unfold` copies every sliding window of an
array's trailing axes into a contiguous block, `fold` adds such windows back (col2im, the
adjoint of unfold). conv1d/conv2d are an einsum of unfold(x) with the kernel, and pooling a
max or mean over the window axes, so their derivatives are the einsum's, the reductions'
and unfold's (a fold), and unfold's and fold's are each other: every derivative, of every
order, is more unfolds, folds and einsums. The forward windows are one node, which the
weight gradient shares, as a hand-written im2col keeps its columns for the backward pass.

Semantics are PyTorch's F.conv1d/F.conv2d (cross-correlation, NCW/NCHW inputs, OIW/OIHW
kernels) and F.max_pool2d/F.avg_pool2d (avg counts the padding, count_include_pad=True).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..graph import Node
from ..shapes import TensorType, fmt_shape
from .base import define, export, input_flops, lift, no_flops, require_float, shape_mismatch
from .linalg import einsum
from .lowering import A0, XP, Call, kwargs
from .reductions import max, mean  # noqa: A004
from .structure import reshape, transpose

Pairs = tuple[tuple[int, int], ...]

# -- the NumPy helpers (copied into generated modules: NumPy and the standard library only) --


def _unfold(x, kernel, stride, padding, dilation, fill="zeros", out=None):
    """Every window of x's last len(kernel) axes (im2col): (..., C, *size) ->
    (..., *positions, C, *kernel), a contiguous copy; padding reads `fill` (0 or -inf)."""
    nd = len(kernel)
    lead = x.ndim - nd
    if any(lo or hi for lo, hi in padding):
        value = -np.inf if fill == "-inf" else 0
        x = np.pad(x, [(0, 0)] * lead + [tuple(p) for p in padding], constant_values=value)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    view = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(lead, x.ndim)))
    view = view[(slice(None),) * lead + tuple(slice(None, None, s) for s in stride)
                + tuple(slice(None, None, d) for d in dilation)]
    channel = lead - 1
    view = view.transpose(*range(channel), *range(lead, lead + nd), channel,
                          *range(lead + nd, lead + 2 * nd))
    if out is None:
        return view.copy()
    np.copyto(out, view)
    return out


def _fold(cols, size, kernel, stride, padding, dilation, out=None):
    """The adjoint of _unfold (col2im): (..., *positions, C, *kernel) -> (..., C, *size),
    each window's values added back where _unfold read them; one strided add per kernel
    tap, each over the whole batch."""
    nd = len(kernel)
    lead = cols.ndim - 2 * nd - 1
    positions = cols.shape[lead:lead + nd]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size[1:], padding, strict=True))
    acc = np.zeros(cols.shape[:lead] + (size[0],) + padded, dtype=cols.dtype)
    cols = np.moveaxis(cols, lead + nd, lead)
    for tap in itertools.product(*[range(k) for k in kernel]):
        window = tuple(slice(t * d, t * d + s * (p - 1) + 1, s)
                       for t, d, s, p in zip(tap, dilation, stride, positions, strict=True))
        acc[(Ellipsis,) + window] += cols[(Ellipsis,) + tap]
    inside = tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, size[1:], strict=True))
    result = acc[(Ellipsis,) + inside]
    if out is None:
        return result
    np.copyto(out, result)
    return out


def _unfold_xp(xp, x, kernel, stride, padding, dilation, fill="zeros"):
    """_unfold with the array API's standard calls (no sliding windows there): one strided
    slice per kernel tap, stacked; padding by concatenation."""
    import math

    nd = len(kernel)
    lead = x.ndim - nd
    value = -math.inf if fill == "-inf" else 0
    for axis, (lo, hi) in zip(range(lead, x.ndim), padding, strict=True):
        if lo or hi:
            shape = list(x.shape)
            shape[axis] = lo
            before = xp.full(tuple(shape), value, dtype=x.dtype)
            shape[axis] = hi
            x = xp.concat([before, x, xp.full(tuple(shape), value, dtype=x.dtype)], axis=axis)
    positions = [(x.shape[lead + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(nd)]
    taps = []
    for tap in itertools.product(*[range(k) for k in kernel]):
        window = tuple(slice(t * d, t * d + s * (p - 1) + 1, s)
                       for t, d, s, p in zip(tap, dilation, stride, positions, strict=True))
        taps.append(x[(Ellipsis,) + window])
    cols = xp.stack(taps, axis=-1)
    cols = xp.reshape(cols, tuple(cols.shape[:-1]) + tuple(kernel))
    channel = lead - 1
    return xp.permute_dims(cols, (*range(channel), *range(lead, lead + nd), channel,
                                  *range(lead + nd, lead + 2 * nd)))


def _fold_xp(xp, cols, size, kernel, stride, padding, dilation):
    """_fold with the array API's standard calls and no writes: each tap's values spread
    to their strided places (zeros interleaved, then padded by concatenation) and summed."""
    nd = len(kernel)
    lead = cols.ndim - 2 * nd - 1
    positions = cols.shape[lead:lead + nd]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size[1:], padding, strict=True))
    order = (*range(lead), lead + nd, *range(lead, lead + nd), *range(lead + nd + 1, cols.ndim))
    cols = xp.permute_dims(cols, order)  # (..., C, *positions, *kernel)
    total = None
    for tap in itertools.product(*[range(k) for k in kernel]):
        part = cols[(Ellipsis,) + tap]
        for i in range(nd):
            axis = lead + 1 + i
            if stride[i] > 1:  # interleave stride - 1 zeros after each value
                part = xp.stack([part] + [xp.zeros_like(part)] * (stride[i] - 1), axis=axis + 1)
                shape = list(part.shape[:axis]) + [positions[i] * stride[i]] + \
                    list(part.shape[axis + 2:])
                part = xp.reshape(part, tuple(shape))[(slice(None),) * axis + (
                    slice(0, stride[i] * (positions[i] - 1) + 1), Ellipsis)]
            start = tap[i] * dilation[i]
            shape = list(part.shape)
            pieces = []
            for n in (start, padded[i] - start - part.shape[axis]):
                shape[axis] = n
                pieces.append(xp.zeros(tuple(shape), dtype=part.dtype))
            part = xp.concat([pieces[0], part, pieces[1]], axis=axis)
        total = part if total is None else total + part
    inside = tuple(slice(lo, lo + n) for (lo, _), n in zip(padding, size[1:], strict=True))
    return total[(Ellipsis,) + inside]


# -- unfold and fold -------------------------------------------------------------------------

def _positions(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
               padding: Pairs, dilation: Sequence[int]) -> tuple[int, ...] | None:
    """Window positions along each axis, or None when a window is larger than the padded
    input."""
    found = []
    for n, k, s, (lo, hi), d in zip(size, kernel, stride, padding, dilation, strict=True):
        room = n + lo + hi - (d * (k - 1) + 1)
        if room < 0:
            return None
        found.append(room // s + 1)
    return tuple(found)


def _unfold_rule(types: list[TensorType], inputs: list[Node], *, kernel: tuple[int, ...],
                 stride: tuple[int, ...], padding: Pairs, dilation: tuple[int, ...],
                 fill: str = "zeros") -> TensorType:
    (t,) = types
    nd = len(kernel)
    if t.ndim < nd + 1:
        raise shape_mismatch("unfold", inputs, f"{nd} window axes and a channel axis need "
                                               f"rank {nd + 1} or more")
    size = t.shape[-nd:]
    if not all(isinstance(n, int) for n in size):
        raise shape_mismatch("unfold", inputs, "the window axes need static sizes")
    places = _positions(size, kernel, stride, padding, dilation)
    if places is None:
        raise shape_mismatch("unfold", inputs, f"a window of {kernel} (dilation {dilation}) "
                                               f"is larger than the padded input")
    return TensorType(t.shape[:-nd - 1] + places + (t.shape[-nd - 1],) + tuple(kernel), t.dtype)


def _fold_rule(types: list[TensorType], inputs: list[Node], *, size: tuple[int, ...],
               kernel: tuple[int, ...], stride: tuple[int, ...], padding: Pairs,
               dilation: tuple[int, ...]) -> TensorType:
    (t,) = types
    nd = len(kernel)
    places = _positions(size[1:], kernel, stride, padding, dilation)
    tail = (places or ()) + (size[0],) + tuple(kernel)
    if places is None or t.ndim < len(tail) or t.shape[t.ndim - len(tail):] != tail:
        raise shape_mismatch("fold", inputs, f"windows of shape {fmt_shape(tail)} are needed "
                                             f"to fold into {fmt_shape(size)}")
    return TensorType(t.shape[:t.ndim - 2 * nd - 1] + tuple(size), t.dtype)


def _unfold_impl(x: np.ndarray, **attrs: Any) -> np.ndarray:
    return _unfold(x, **attrs)


def _fold_impl(cols: np.ndarray, **attrs: Any) -> np.ndarray:
    return np.ascontiguousarray(_fold(cols, **attrs))


def _geometry(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs[k] for k in ("kernel", "stride", "padding", "dilation")}


def _unfold_vjp(g: Node, x: Node, out: Node, **attrs: Any) -> Node:
    nd = len(attrs["kernel"])
    return fold_op(g, size=x.shape[-nd - 1:], **_geometry(attrs))


def _unfold_jvp(t: Node, x: Node, out: Node, **attrs: Any) -> Node:
    return unfold_op(t, **_geometry(attrs), fill="zeros")  # padding is constant


def _fold_vjp(g: Node, cols: Node, out: Node, **attrs: Any) -> Node:
    return unfold_op(g, **_geometry(attrs), fill="zeros")


def _fold_jvp(t: Node, cols: Node, out: Node, **attrs: Any) -> Node:
    return fold_op(t, size=attrs["size"], **_geometry(attrs))


def _leading_batch(args: list[Node], batched: list[bool], out: Node, **attrs: Any) -> Node:
    """Both ops take any leading axes: the batch axis is one more."""
    return out.op(args[0], **attrs)


def _unfold_lower(x: Node, out: Node, **attrs: Any) -> Call:
    fill = attrs.get("fill", "zeros")
    return Call(_unfold, (A0,), kwargs(**_geometry(attrs),
                                       fill=None if fill == "zeros" else fill), out=True)


def _fold_lower(cols: Node, out: Node, **attrs: Any) -> Call:
    return Call(_fold, (A0,), kwargs(size=attrs["size"], **_geometry(attrs)), out=True)


def _unfold_xp_lower(x: Node, out: Node, **attrs: Any) -> Call:
    fill = attrs.get("fill", "zeros")
    return Call(_unfold_xp, (XP, A0), kwargs(**_geometry(attrs),
                                             fill=None if fill == "zeros" else fill))


def _fold_xp_lower(cols: Node, out: Node, **attrs: Any) -> Call:
    return Call(_fold_xp, (XP, A0), kwargs(size=attrs["size"], **_geometry(attrs)))


unfold_op = define(
    "unfold", shape_rule=_unfold_rule, impl=_unfold_impl, vjp=(_unfold_vjp,),
    jvp=(_unfold_jvp,), batch=_leading_batch, lower=_unfold_lower, array_api=_unfold_xp_lower,
    flops=no_flops,
    doc="im2col: the sliding windows of the trailing axes, (..., C, *size) -> "
        "(..., *positions, C, *kernel), padded with zeros (or -inf for max pooling).")

fold_op = define(
    "fold", shape_rule=_fold_rule, impl=_fold_impl, vjp=(_fold_vjp,), jvp=(_fold_jvp,),
    batch=_leading_batch, lower=_fold_lower, array_api=_fold_xp_lower,
    flops=input_flops,  # one add per window entry
    doc="col2im, the adjoint of unfold: windows (..., *positions, C, *kernel) added back "
        "into (..., C, *size).")


# -- argument checking ----------------------------------------------------------------------

def _tuple(value: object, nd: int, what: str, op: str, operands: Sequence[Node]) \
        -> tuple[int, ...]:
    """An int or nd ints as a tuple of nd ints, each at least 1."""
    items = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value)  # type: ignore
    if len(items) != nd or not all(isinstance(i, (int, np.integer)) for i in items):
        raise shape_mismatch(op, operands, f"{what} must be an int or {nd} ints, not {value!r}")
    if any(i < 1 for i in items):
        raise shape_mismatch(op, operands, f"{what} must be at least 1, not {value!r}")
    return tuple(int(i) for i in items)


def _padding(value: object, kernel: Sequence[int], dilation: Sequence[int],
             stride: Sequence[int], op: str, operands: Sequence[Node]) -> Pairs:
    """PyTorch's padding: an int or nd ints (both sides), 'valid' (none) or 'same' (the
    output keeps the input's size; stride 1 only; an odd total puts the extra on the end)."""
    nd = len(kernel)
    if isinstance(value, str):
        if value == "valid":
            return ((0, 0),) * nd
        if value != "same":
            raise shape_mismatch(op, operands, f"unknown padding {value!r}: an int, {nd} "
                                               "ints, 'same' or 'valid'")
        if any(s != 1 for s in stride):
            raise shape_mismatch(op, operands, "padding='same' needs stride 1")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return tuple((t // 2, t - t // 2) for t in totals)
    items = (value,) * nd if isinstance(value, (int, np.integer)) else tuple(value)  # type: ignore
    if len(items) != nd or not all(isinstance(i, (int, np.integer)) and i >= 0 for i in items):
        raise shape_mismatch(op, operands, f"padding must be a non-negative int, {nd} such "
                                           f"ints, 'same' or 'valid', not {value!r}")
    return tuple((int(p), int(p)) for p in items)


def _check_fits(x: Node, kernel: Sequence[int], stride: Sequence[int], padding: Pairs,
                dilation: Sequence[int], op: str, operands: Sequence[Node]) -> None:
    nd = len(kernel)
    size = x.shape[-nd:]
    if not all(isinstance(n, int) for n in size):
        raise shape_mismatch(op, operands, "the spatial axes need static sizes")
    if _positions(size, kernel, stride, padding, dilation) is None:
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding, strict=True))
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
        raise shape_mismatch(op, operands, f"the kernel spans {span} but the padded input "
                                           f"is only {padded}")


# -- convolution -----------------------------------------------------------------------------

def _conv(op: str, nd: int, x: object, w: object, stride: object, padding: object,
          dilation: object, groups: int) -> Node:
    x, w = lift(x), lift(w)
    operands = [x, w]
    require_float(op, operands)
    if x.ndim != nd + 2 or w.ndim != nd + 2:
        layout = "NCW and OIW" if nd == 1 else "NCHW and OIHW"
        raise shape_mismatch(op, operands, f"x and w must be rank {nd + 2} ({layout})")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise shape_mismatch(op, operands, f"groups must be an int of at least 1, not "
                                           f"{groups!r}")
    groups = int(groups)
    c, o, cg = x.shape[1], w.shape[0], w.shape[1]
    if not all(isinstance(d, int) for d in (c, o, cg) + w.shape[2:]):
        raise shape_mismatch(op, operands, "channels and kernel sizes must be static")
    if c % groups or o % groups:
        raise shape_mismatch(op, operands, f"groups={groups} must divide the {c} input and "
                                           f"{o} output channels")
    if cg * groups != c:
        raise shape_mismatch(op, operands, f"x has {c} channels but w expects {cg} per group "
                                           f"times {groups} groups = {cg * groups}")
    kernel = tuple(w.shape[2:])
    stride_t = _tuple(stride, nd, "stride", op, operands)
    dilation_t = _tuple(dilation, nd, "dilation", op, operands)
    pads = _padding(padding, kernel, dilation_t, stride_t, op, operands)
    _check_fits(x, kernel, stride_t, pads, dilation_t, op, operands)
    cols = unfold_op(x, kernel=kernel, stride=stride_t, padding=pads, dilation=dilation_t)
    p, k = "yx"[-nd:], "kl"[:nd]  # letters of the window positions and the kernel taps
    if groups == 1:
        return einsum(f"n{p}c{k},oc{k}->no{p}", cols, w)
    places = cols.shape[1:1 + nd]
    cols = reshape(cols, (-1, *places, groups, cg) + kernel)
    w = reshape(w, (groups, o // groups, cg) + kernel)
    y = einsum(f"n{p}gc{k},goc{k}->ngo{p}", cols, w)
    return reshape(y, (-1, o) + places)


CONV_STATICS = {
    "stride": ("an int or a tuple of ints", False),
    "padding": ("an int, a tuple of ints, 'same' or 'valid'", True),
    "dilation": ("an int or a tuple of ints", False),
    "groups": ("an int", False),
}


@export(statics=CONV_STATICS, numpy=())
def conv1d(x: object, w: object, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] | str = 0, dilation: int | Sequence[int] = 1,
           groups: int = 1) -> Node:
    """PyTorch's F.conv1d: x (N, C, W) cross-correlated with w (O, C/groups, K) ->
    (N, O, W'); an einsum of unfold(x) with w."""
    return _conv("conv1d", 1, x, w, stride, padding, dilation, groups)


@export(statics=CONV_STATICS, numpy=())
def conv2d(x: object, w: object, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] | str = 0, dilation: int | Sequence[int] = 1,
           groups: int = 1) -> Node:
    """PyTorch's F.conv2d: x (N, C, H, W) cross-correlated with w (O, C/groups, KH, KW) ->
    (N, O, H', W'); an einsum of unfold(x) (im2col) with w."""
    return _conv("conv2d", 2, x, w, stride, padding, dilation, groups)


# -- pooling ---------------------------------------------------------------------------------

def _pool_windows(op: str, x: object, kernel: object, stride: object, padding: object,
                  fill: str) -> Node:
    """unfold(x) for 2-d pooling: x (..., C, H, W) -> (..., H', W', C, KH, KW)."""
    x = lift(x)
    require_float(op, [x])
    if x.ndim < 3:
        raise shape_mismatch(op, [x], "x must be (C, H, W) or (N, C, H, W)")
    kernel_t = _tuple(kernel, 2, "kernel", op, [x])
    stride_t = kernel_t if stride is None else _tuple(stride, 2, "stride", op, [x])
    pads = _padding(padding, kernel_t, (1, 1), stride_t, op, [x])
    if any(2 * lo > k for (lo, _), k in zip(pads, kernel_t, strict=True)):
        raise shape_mismatch(op, [x], f"padding {padding!r} is more than half the kernel "
                                      f"{kernel_t}")
    _check_fits(x, kernel_t, stride_t, pads, (1, 1), op, [x])
    return unfold_op(x, kernel=kernel_t, stride=stride_t, padding=pads, dilation=(1, 1),
                     fill=fill)


def _channels_back(y: Node) -> Node:
    """(..., H', W', C) -> (..., C, H', W')."""
    lead = list(range(y.ndim - 3))
    return transpose(y, lead + [y.ndim - 1, y.ndim - 3, y.ndim - 2])


POOL_STATICS = {
    "kernel": ("an int or a pair of ints", False),
    "stride": ("an int, a pair of ints or None", False),
    "padding": ("an int or a pair of ints", False),
}


@export(statics=POOL_STATICS, numpy=())
def max_pool2d(x: object, kernel: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0) -> Node:
    """PyTorch's F.max_pool2d over x (..., C, H, W); stride defaults to the kernel, padding
    reads -inf. Ties: the elements of a window that attain its max share its derivative
    evenly (the rule of sd.max), so the gradient is the average of the one-hot choices."""
    windows = _pool_windows("max_pool2d", x, kernel, stride, padding, "-inf")
    return _channels_back(max(windows, axis=(-2, -1)))


@export(statics=POOL_STATICS, numpy=())
def avg_pool2d(x: object, kernel: int | Sequence[int], stride: int | Sequence[int] | None = None,
               padding: int | Sequence[int] = 0) -> Node:
    """PyTorch's F.avg_pool2d over x (..., C, H, W); stride defaults to the kernel; padded
    zeros count in the mean (count_include_pad=True)."""
    windows = _pool_windows("avg_pool2d", x, kernel, stride, padding, "zeros")
    return _channels_back(mean(windows, axis=(-2, -1)))
