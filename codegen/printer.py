"""Source text for one node: its op's lowering, with literals, symbolic dims and `out=`.

The expression always comes from the op definition: a structured lowering
(symdiff/ops/lowering.py) that this module prints. It adds what the op cannot know: how
an operand that is a scalar constant is spelled
(an inline literal only where NumPy's weak typing of Python scalars gives exactly the
graph's dtype, else a typed module-level constant), how a symbolic dim in a `shape`
attribute is spelled (the local bound at entry), and how to write the result into an
existing buffer (`out=`, or an augmented assignment such as `a += b`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symdiff.graph import Node
from symdiff.indexing import index_source
from symdiff.ops.lowering import (
    A0,
    A1,
    Arg,
    ArgList,
    Attribute,
    Call,
    Infix,
    Method,
    Name,
    Prefix,
    Subscript,
    Value,
    writes_into,
)
from symdiff.shapes import is_float


class DimRef:
    """A symbolic dim inside a `shape` attribute; its repr is the local name bound to it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def render_attrs(attrs: Mapping[str, Any], dims: Mapping[str, str]) -> dict[str, Any]:
    """The node's attributes with symbolic dims of `shape` replaced by their locals."""
    out = dict(attrs)
    if "shape" in out:
        out["shape"] = tuple(DimRef(dims[d]) if isinstance(d, str) else d
                             for d in out["shape"])
    return out


# -- scalar constants -----------------------------------------------------------------------

def _float_text(value: float, dtype: str) -> str:
    """Exact text of a float of `dtype`: the shortest float32 form when it round-trips."""
    if np.isnan(value):
        return "np.nan"
    if np.isinf(value):
        return "np.inf" if value > 0 else "-np.inf"
    if dtype == "float32":
        short = str(np.float32(value))
        if np.float32(float(short)) == np.float32(value):
            return short
    return repr(float(value))


def scalar_text(value: np.ndarray, dtype: str) -> str:
    """A Python literal for a scalar of `dtype` (as it would be read in a `dtype` context)."""
    if dtype == "bool":
        return repr(bool(value))
    if dtype == "int64":
        return repr(int(value))
    return _float_text(float(value), dtype)


def literal(node: Node, compute_dtype: str) -> str:
    """An inline literal for a scalar constant, parenthesized when negative."""
    text = scalar_text(node.value, compute_dtype if is_float(compute_dtype)
                       and is_float(node.dtype) else node.dtype)
    return f"({text})" if text.startswith("-") else text


def typed_scalar(node: Node) -> str:
    """A typed NumPy scalar for a module-level constant: np.float32(0.5)."""
    return f"np.{node.dtype}({scalar_text(node.value, node.dtype)})" \
        if node.dtype != "bool" else f"np.bool_({scalar_text(node.value, 'bool')})"


def _python_value(node: Node) -> object:
    return node.value.item()


def literal_ok(op_node: Node, operand: Node) -> bool:
    """True when `operand` (a scalar constant) may be spelled as a Python literal inside
    `op_node`: an elementwise op with some other, typed operand, and NumPy's weak typing of
    the literal gives the same computation dtype as the typed constant would."""
    if not op_node.op.elementwise:
        return False
    promotes = op_node.op.promotes
    dtype_args = op_node.inputs if promotes is None else [op_node.inputs[i] for i in promotes]
    if operand not in dtype_args:
        return False  # the condition of where: a bool literal there is fine only typed
    typed = [i for i in dtype_args if not _is_scalar_const(i)]
    if not typed:
        return False
    weak = [np.dtype(i.dtype) for i in typed] + [_python_value(c) for c in dtype_args
                                                 if _is_scalar_const(c)]
    strong = [np.dtype(i.dtype) for i in dtype_args]
    try:
        return np.result_type(*weak) == np.result_type(*strong)
    except (TypeError, OverflowError):
        return False


def _is_scalar_const(node: Node) -> bool:
    return node.kind == "const" and node.value.ndim == 0


# -- array constants ------------------------------------------------------------------------

SMALL_ARRAY = 64


def array_text(value: np.ndarray, dtype: str) -> str:
    """Source building an array constant exactly: nested lists for small ones, the raw
    little-endian bytes for larger ones."""
    np_dtype = "bool_" if dtype == "bool" else dtype
    if value.size <= SMALL_ARRAY:
        def nest(a: np.ndarray) -> str:
            if a.ndim == 0:
                text = scalar_text(a, dtype if dtype != "float32" else "float64")
                return text
            return "[" + ", ".join(nest(x) for x in a) + ("," if len(a) == 1 else "") + "]"
        if value.size == 0:
            return f"np.zeros({value.shape!r}, dtype=np.{np_dtype})"
        return f"np.array({nest(value)}, dtype=np.{np_dtype})"
    code = np.dtype(dtype).newbyteorder("<").str
    raw = np.ascontiguousarray(value).astype(code).tobytes()
    return (f"np.frombuffer(bytes.fromhex({raw.hex()!r}), dtype={code!r})"
            f".astype(np.{np_dtype}).reshape({value.shape!r})")


# -- structured lowerings --------------------------------------------------------------------

def render(expr: Value, args: list[str], out: str | None = None) -> str:
    """Source of a lowering with the operands spelled `args`; with `out`, the form that
    writes into that array (only for lowerings that can, see `writes_into`)."""
    if out is not None:
        if isinstance(expr, Call):
            return _call(expr, args, f"out={out}")
        ufunc = expr.ufunc
        operands = [expr.left, expr.right] if isinstance(expr, Infix) else [expr.operand]
        return f"{ufunc}({', '.join(_text(v, args) for v in operands)}, out={out})"
    return _text(expr, args)


def _text(value: Value, args: list[str], nested: bool = False) -> str:
    if isinstance(value, Arg):
        return args[value.index]
    if isinstance(value, ArgList):
        return f"[{', '.join(args)}]"
    if isinstance(value, Name):
        return value.text
    if isinstance(value, Call):
        return _call(value, args)
    if isinstance(value, Method):
        parts = [_text(v, args) for v in value.args] + \
            [f"{k}={_text(v, args)}" for k, v in value.kwargs]
        return f"{_text(value.obj, args, True)}.{value.name}({', '.join(parts)})"
    if isinstance(value, Infix):
        text = f"{_text(value.left, args, True)} {value.symbol} {_text(value.right, args, True)}"
        return f"({text})" if nested else text
    if isinstance(value, Prefix):
        return f"{value.symbol}{_text(value.operand, args, True)}"
    if isinstance(value, Subscript):
        index = value.index if isinstance(value.index, int) else \
            index_source(value.index) or ":"
        return f"{_text(value.obj, args, True)}[{index}]"
    if isinstance(value, Attribute):
        return f"{_text(value.obj, args, True)}.{value.name}"
    return repr(value)


def _call(call: Call, args: list[str], extra: str | None = None) -> str:
    fn = call.fn if isinstance(call.fn, str) else call.fn.__name__
    if extra is None and call.fresh_out is not None:
        extra = f"out={_text(call.fresh_out, args)}"
    parts = [_text(v, args) for v in call.args] + \
        [f"{k}={_text(v, args)}" for k, v in call.kwargs] + ([extra] if extra else [])
    return f"{fn}({', '.join(parts)})"


def lowered(node: Node, dims: Mapping[str, str] | None = None) -> Value:
    """The node's lowering, its symbolic dims spelled by the locals in `dims` (default:
    their own names)."""
    if dims is None:
        dims = {d: d for d in node.shape if isinstance(d, str)} \
            | {d: d for d in node.attrs.get("shape", ()) if isinstance(d, str)}
    return node.op.lowered(node, render_attrs(node.attrs, dims))


def returns_out(expr: Value) -> bool:
    """Whether writing into `out=` is sure to fill that array (a NumPy ufunc does; a helper
    may return a new array instead, so its result must be assigned)."""
    return not (isinstance(expr, Call) and callable(expr.fn))


def out_capable(node: Node, expr: Value | None = None) -> bool:
    """Whether the node's lowering (`expr` if already made) can write its result into a
    given buffer (`out=`)."""
    if node.op is not None and node.op.multi_output:
        return False  # the call returns a tuple: never written into
    return writes_into(lowered(node) if expr is None else expr)


# Python's augmented assignments for the arithmetic operators (a op= b is the ufunc with
# out=a for arrays).
AUGMENTED = frozenset({"+", "-", "*", "/", "**"})


def augmented(node: Node, expr: Value, args: list[str], target_index: int) -> str | None:
    """`a += b` for a binary operator writing into operand `target_index`, if there is one."""
    if not isinstance(expr, Infix) or expr.symbol not in AUGMENTED or len(args) != 2 \
            or (expr.left, expr.right) != (A0, A1):
        return None
    if target_index == 0:
        return f"{args[0]} {expr.symbol}= {args[1]}"
    if node.op.commutative:
        return f"{args[1]} {expr.symbol}= {args[0]}"
    return None
