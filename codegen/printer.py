"""Source text for one node: its op's lowering, with literals, symbolic dims and `out=`.

The expression always comes from the op definition (`op.lower(args, **attrs)`). This
module adds what the op cannot know: how an operand that is a scalar constant is spelled
(an inline literal only where NumPy's weak typing of Python scalars gives exactly the
graph's dtype, else a typed module-level constant), how a symbolic dim in a `shape`
attribute is spelled (the local bound at entry), and how to write the result into an
existing buffer (`out=`, or an augmented assignment such as `a += b`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from symdiff.graph import Node
from symdiff.shapes import is_float

# ufunc name -> augmented assignment operator (a op= b is ufunc(a, b, out=a) for arrays).
AUGMENTED = {"add": "+=", "subtract": "-=", "multiply": "*=", "divide": "/=",
             "power": "**="}
COMMUTATIVE = frozenset({"add", "multiply"})

_NP_CALL = re.compile(r"np\.[A-Za-z_][A-Za-z0-9_]*\((.*)\)", re.DOTALL)


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
    dtype_args = op_node.inputs[1:] if op_node.op.name == "where" else op_node.inputs
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


# -- writing into an existing buffer --------------------------------------------------------

def ufunc_name(node: Node) -> str | None:
    """The NumPy ufunc behind the node's op, when its implementation is one."""
    impl = node.op.impl
    return impl.__name__ if isinstance(impl, np.ufunc) else None


def out_call(node: Node, args: list[str], attrs: Mapping[str, Any], target: str) -> str | None:
    """The node's computation written into `target` (`np.f(..., out=target)`), or None
    when the lowering cannot take `out=`."""
    name = ufunc_name(node)
    if name is not None:
        return f"np.{name}({', '.join(args)}, out={target})"
    if node.op.ufunc:
        text = node.op.lower(args, **attrs)
        if _NP_CALL.fullmatch(text) and _balanced(text[text.index("(") + 1:-1]):
            return f"{text[:-1]}, out={target})"
    return None


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def select_zero(node: Node) -> tuple[int, bool] | None:
    """For where(c, x, 0.0) or where(c, 0.0, x) with x a float array of the result's shape
    and type: (index of x, whether x is taken where c holds). Codegen prints these with the
    branch-free helper `_where_zero`, which can also write into a buffer."""
    if node.op.name != "where" or not node.shape or not is_float(node.dtype):
        return None
    cond, a, b = node.inputs
    if cond.kind == "const" or cond.shape != node.shape:
        return None
    for k, (x, zero) in ((1, (a, b)), (2, (b, a))):
        if x.kind != "const" and x.shape == node.shape and x.dtype == node.dtype \
                and _is_scalar_const(zero) and zero.value == 0 and not np.signbit(zero.value):
            return k, k == 1
    return None


def out_capable(node: Node) -> bool:
    """Whether the node's lowering can write its result into a given buffer (`out=`)."""
    if select_zero(node) is not None:
        return True
    args = [f"a{i}" for i in range(len(node.inputs))]
    attrs = render_attrs(node.attrs, {d: d for d in node.shape if isinstance(d, str)}
                         | {d: d for d in node.attrs.get("shape", ()) if isinstance(d, str)})
    return out_call(node, args, attrs, "out") is not None


def augmented(node: Node, args: list[str], target_index: int) -> str | None:
    """`a += b` for a binary ufunc writing into operand `target_index`, if there is one."""
    name = ufunc_name(node)
    if name not in AUGMENTED or len(args) != 2:
        return None
    if target_index == 0:
        return f"{args[0]} {AUGMENTED[name]} {args[1]}"
    if name in COMMUTATIVE:
        return f"{args[1]} {AUGMENTED[name]} {args[0]}"
    return None
