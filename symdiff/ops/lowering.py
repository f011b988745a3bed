"""Structured lowerings: what an op's NumPy code is, as a small expression tree that each
code generation target prints in its own way (never a string that a later pass edits).

A lowering is `lower(*inputs, out=node, **attrs) -> Expr`. Operands appear as `Arg(i)`;
attribute values appear as plain Python values (printed with repr: ints, tuples, strings,
None, and the target's references to symbolic dims); `Name` is verbatim source for a
module-level name such as `np.float32`. A `Call` whose function is a Python function (a
helper) tells the target to copy that function's source into the generated module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

Value = Any  # an Expr, or a Python value printed with repr


@dataclass(frozen=True)
class Arg:
    """Operand `index` of the node."""

    index: int


@dataclass(frozen=True)
class ArgList:
    """Every operand, as a Python list `[a, b, ...]` (concatenate, stack)."""


@dataclass(frozen=True)
class Name:
    """Verbatim source of a module-level name: `np.float32`, `np.s_`."""

    text: str


@dataclass(frozen=True)
class Call:
    """`fn(*args, **kwargs)`; `fn` is dotted source (`np.exp`) or a helper function whose
    source is copied into the module. With `out`, the call accepts `out=buffer`;
    `fresh_out`, when given, is the new array passed as `out=` where no buffer is (a fused
    kernel, which writes into the array it is given and allocates none)."""

    fn: str | Callable
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()
    out: bool = False
    fresh_out: Value = None


@dataclass(frozen=True)
class Method:
    """`obj.name(*args, **kwargs)`."""

    obj: Value
    name: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class Infix:
    """`left symbol right`; `ufunc` is the equivalent NumPy call that accepts `out=`."""

    symbol: str
    left: Value
    right: Value
    ufunc: str | None = None


@dataclass(frozen=True)
class Prefix:
    """`symbol operand` (unary minus); `ufunc` as for Infix."""

    symbol: str
    operand: Value
    ufunc: str | None = None


@dataclass(frozen=True)
class Subscript:
    """`obj[index]`, the index a normalized basic index (see symdiff.indexing) or an int."""

    obj: Value
    index: Any


@dataclass(frozen=True)
class Attribute:
    """`obj.name`."""

    obj: Value
    name: str


@dataclass(frozen=True)
class Choose:
    """`then if cond else other` on one element: how a fused kernel (the numba target)
    writes `where`; array targets never see it."""

    cond: Value
    then: Value
    other: Value


@dataclass(frozen=True)
class Reduce:
    """A reduction in a fused kernel: the accumulator starts at `init`, takes each element
    by `step` (Arg(0) the accumulator, Arg(1) the element), and with `mean` is divided by
    the number of elements reduced at the end (np.mean's own arithmetic)."""

    init: Value
    step: Value
    mean: bool = False


Expr = Call | Method | Infix | Prefix | Subscript | Attribute | Arg | ArgList | Name | Choose

A0 = Arg(0)
A1 = Arg(1)
XP = Name("xp")  # the array-API target's namespace (an op's `array_api` lowering passes it
#                  to its helpers, which take it as their first argument)
NP = Name("np")  # NumPy, for a helper written in standard calls (the array-API target passes xp)


def kwargs(**items: Value) -> tuple[tuple[str, Value], ...]:
    """Keyword arguments in the order given, dropping those that are None."""
    return tuple((k, v) for k, v in items.items() if v is not None)


def is_postfix(expr: Expr) -> bool:
    """A view of operand 0 written after it (`x.T`, `x[:, None]`, `x.reshape(...)`): it
    reads well, and binds correctly, inside another statement."""
    return isinstance(expr, (Attribute, Method, Subscript)) and expr.obj == A0


def writes_into(expr: Expr) -> bool:
    """Whether the expression can write its result into a given array (`out=`)."""
    if isinstance(expr, Call):
        return expr.out
    return isinstance(expr, (Infix, Prefix)) and expr.ufunc is not None


def subexpressions(value: Value) -> Iterator[Value]:
    """`value` and every expression inside it, outermost first: the one traversal of a
    lowering that the passes reading it (helpers, kernels' imports) share."""
    stack = [value]
    while stack:
        value = stack.pop()
        yield value
        stack.extend(reversed(_children(value)))  # popped left to right


def _children(value: Value) -> tuple[Value, ...]:
    if isinstance(value, Call):
        return (*value.args, *(v for _, v in value.kwargs), value.fresh_out)
    if isinstance(value, Method):
        return (value.obj, *value.args, *(v for _, v in value.kwargs))
    if isinstance(value, Infix):
        return value.left, value.right
    if isinstance(value, Prefix):
        return (value.operand,)
    if isinstance(value, (Subscript, Attribute)):
        return (value.obj,)
    if isinstance(value, Choose):
        return value.cond, value.then, value.other
    if isinstance(value, Reduce):
        return value.init, value.step
    return value if isinstance(value, tuple) else ()


def helpers(expr: Value) -> list[Callable]:
    """The helper functions an expression calls (their source goes into the module)."""
    return [v.fn for v in subexpressions(expr) if isinstance(v, Call) and callable(v.fn)]


@dataclass(frozen=True)
class Fixed:
    """A lowering that does not depend on the node: `Fixed(Call("np.exp", (A0,), out=True))`."""

    expr: Expr

    def __call__(self, *inputs: Any, out: Any, **attrs: Any) -> Expr:
        return self.expr


def helper_modules(fn: Callable, alongside: Collection[str] = ()) -> dict[str, str]:
    """The modules a helper's source refers to, as {name in the source: module name}: what
    a generated module must import before the helper's copied source. Only NumPy and the
    standard library may appear, since generated modules need nothing else; anything else
    the helper reads from its module's globals cannot be copied and raises ValueError,
    except the helpers named in `alongside` (copied into the same module)."""
    import dis
    import sys
    import types

    found: dict[str, str] = {}
    codes = [fn.__code__]
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(i.argval for i in dis.get_instructions(code)
                     if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    for name in sorted(names):
        if name not in fn.__globals__:
            continue  # a builtin, or an attribute name
        value = fn.__globals__[name]
        if isinstance(value, types.ModuleType):
            root = value.__name__.split(".")[0]
            if root != "numpy" and root not in sys.stdlib_module_names:
                raise ValueError(f"{fn.__name__} uses module {value.__name__!r} (as {name!r}); "
                                 "generated modules may import only NumPy and the standard "
                                 "library")
            found[name] = value.__name__
        elif value is not fn and not (name in alongside and callable(value)):
            raise ValueError(f"{fn.__name__} reads the global {name!r} of its module, which "
                             "a generated module would not have; use only NumPy and the "
                             "standard library inside it (or pass lower=)")
    return found


# -- float16 accumulation ---------------------------------------------------------------------

def _widen_args(value: Value, wide: frozenset[int]) -> Value:
    """`value` with each Arg(i), i in `wide`, read as `arg.astype(np.float32)`."""
    if isinstance(value, Arg):
        return Method(value, "astype", (Name("np.float32"),)) if value.index in wide else value
    if isinstance(value, tuple):
        return tuple(_widen_args(v, wide) for v in value)
    if isinstance(value, (Call, Method, Infix, Prefix, Subscript, Attribute)):
        changes = {f: _widen_args(getattr(value, f), wide) for f in value.__dataclass_fields__
                   if f not in ("fn", "name", "symbol", "ufunc", "index")}
        if isinstance(value, Call):
            changes["out"] = False  # the cast back makes a new array anyway
        return dataclasses.replace(value, **changes)
    return value


def widened(expr: Expr, inputs: Any, out: Any) -> Expr:
    """`expr` accumulating float16 in float32: its float16 operands read as float32 and the
    result cast back, `np.sum(x.astype(np.float32)).astype(np.float16)`. An expression
    with any other result dtype is returned unchanged."""
    if out.dtype != "float16":
        return expr
    wide = frozenset(i for i, node in enumerate(inputs) if node.dtype == "float16")
    return Method(_widen_args(expr, wide), "astype", (Name("np.float16"),))


def run_widened(impl: Callable[..., Any], args: Any, attrs: Any) -> Any:
    """`impl(*args, **attrs)` doing what `widened` prints: when the operands make a float16
    result, they are computed in float32 and the result is cast back to float16."""
    arrays = [a.dtype for a in args if isinstance(a, np.ndarray)]
    if not arrays or np.result_type(*arrays) != np.float16:
        return impl(*args, **attrs)
    wide = [a.astype(np.float32) if getattr(a, "dtype", None) == np.float16 else a
            for a in args]
    return np.asarray(impl(*wide, **attrs)).astype(np.float16)
