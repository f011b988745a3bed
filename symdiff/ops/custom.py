"""The public extension API: `define_op` gives symdiff a user's function with its
derivative, through the same op record as the library's own ops; `stop_gradient` is the
identity with a zero derivative of every order."""

from __future__ import annotations

import functools
import inspect
import keyword
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node
from ..shapes import TensorType, canonical_dtype, promote
from .base import (
    PUBLIC,
    REGISTRY,
    Op,
    broadcasting_rule,
    define,
    export,
    finite_if_operands,
    lift,
    pass_through_sympy,
)
from .elementwise import constant_series, elementwise_batch, over_series
from .lowering import A0, Arg, Call, helper_modules

# -- stop_gradient -----------------------------------------------------------------------------


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _identity_lower(x: Node, out: Node) -> Arg:
    return A0


stop_gradient_op = define(
    "stop_gradient", family="elementwise", memory="view", shape_rule=broadcasting_rule(
        "stop_gradient"), impl=_identity, vjp=(None,), jvp=(None,), lower=_identity_lower,
    batch=elementwise_batch, taylor=functools.partial(over_series, rule=constant_series),
    finite=finite_if_operands,
    to_sympy=pass_through_sympy,
    doc="The value of x, with a zero derivative of every order.")


@export(op=stop_gradient_op)
def stop_gradient(x: object) -> Node:
    """x itself in value; derivatives (of any order) do not flow through it."""
    return stop_gradient_op(lift(x))


# -- define_op ---------------------------------------------------------------------------------

class OpDefinitionError(ShapeError):
    """A user's op definition that cannot work, named at definition time."""


def define_op(name: str, impl: Callable[..., np.ndarray], *,
              vjp: Callable | Sequence[Callable | None],
              jvp: Callable | Sequence[Callable | None] | None = None,
              shape: Callable[..., Any] | None = None, lower: Callable[..., Any] | None = None,
              batch: Callable[..., Node] | None = None, doc: str | None = None,
              array_api: Callable[..., Any] | None = None) -> Callable[..., Node]:
    """Define a new op and return the function that builds its nodes.

    `impl(*operands, **attrs)` computes it on NumPy arrays: its positional parameters are
    the operands, its keyword parameters (with defaults) static attributes. By default the
    op is elementwise (operands broadcast; the result has their promoted dtype), its JVP
    follows from its VJP, and generated code calls `impl`, whose source is copied into the
    module (so it must be a module-level function using only NumPy and the standard
    library). `vjp` holds one rule per operand (None: not differentiable there), each
    `rule(g, *operands, out=node, **attrs)` returning the cotangent of its operand built
    with symdiff ops, so derivatives of any order work. A non-elementwise op gives
    `shape(*operands, **attrs)` (the result's shape, or (shape, dtype)) and `jvp` rules
    `rule(t, *operands, out=node, **attrs)`; `batch` makes jacobian and hessian work
    through it; `lower(*operands, out=node, **attrs)` returns a symdiff.ops.lowering
    expression in place of a call of impl; `array_api(...)` likewise for the array-API
    target (calls on the namespace `xp`, symdiff.ops.lowering.XP), where a call of a NumPy
    impl cannot run."""
    _check_name(name)
    arity, statics = _parameters(name, impl)
    vjps = _rules(name, "vjp", vjp, arity)
    elementwise = shape is None
    if jvp is None:
        if not elementwise:
            raise OpDefinitionError(f"define_op {name!r}: an op with a shape rule is not "
                                    "elementwise, so its JVP does not follow from its VJP; "
                                    "give jvp= (one rule per operand)")
        jvps = vjps  # an elementwise derivative is diagonal: its own transpose
    else:
        jvps = _rules(name, "jvp", jvp, arity)
    if lower is None:
        lower = _call_lowering(name, impl)
    fields: dict[str, Any] = {}
    if elementwise:
        fields.update(family="elementwise", batch=batch or elementwise_batch,
                      shape_rule=broadcasting_rule(name))
    else:
        fields.update(shape_rule=_ShapeRule(name, shape), batch=batch)
    memory = "fresh" if isinstance(impl, np.ufunc) else "alias"
    module = sys._getframe(1).f_globals.get("__name__", "__main__")
    op = define(name, impl=impl, vjp=vjps, jvp=jvps, lower=lower, array_api=array_api,
                memory=memory,
                doc=doc or (impl.__doc__ or "").strip().split("\n")[0], module=module,
                **fields)
    return _constructor(op, arity, statics)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise OpDefinitionError(f"define_op: the name must be a Python identifier, got "
                                f"{name!r}")
    if name in REGISTRY or name in PUBLIC:
        raise OpDefinitionError(f"define_op: an op named {name!r} is already defined")


def _parameters(name: str, impl: Callable) -> tuple[int, tuple[str, ...]]:
    """(number of operands, names of the static attributes) of impl."""
    if isinstance(impl, np.ufunc):
        return impl.nin, ()
    if not callable(impl):
        raise OpDefinitionError(f"define_op {name!r}: impl must be a function, got "
                                f"{type(impl).__name__}")
    try:
        params = list(inspect.signature(impl).parameters.values())
    except (TypeError, ValueError):
        raise OpDefinitionError(f"define_op {name!r}: the signature of impl cannot be read; "
                                "wrap it in a module-level function") from None
    operands = [p for p in params if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    statics = tuple(p.name for p in params if p not in operands
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    if not operands:
        raise OpDefinitionError(f"define_op {name!r}: impl takes no operand (its positional "
                                "parameters without defaults are the operands)")
    return len(operands), statics


def _rules(name: str, what: str, rules: Any, arity: int) -> tuple:
    if callable(rules):
        rules = (rules,)
    if not isinstance(rules, (list, tuple)):
        raise OpDefinitionError(f"define_op {name!r}: {what} must be a rule or a list of "
                                f"rules, got {type(rules).__name__}")
    if len(rules) != arity:
        raise OpDefinitionError(f"define_op {name!r}: {what} has {len(rules)} rule(s) but "
                                f"impl takes {arity} operand(s); give one per operand "
                                "(None where it is not differentiable)")
    for rule in rules:
        if rule is not None and not callable(rule):
            raise OpDefinitionError(f"define_op {name!r}: a {what} rule must be callable, "
                                    f"got {type(rule).__name__}")
    return tuple(rules)


def _call_lowering(name: str, impl: Callable) -> Callable[..., Call]:
    """Generated code calls impl: a NumPy ufunc by name, a function through its source."""
    if isinstance(impl, np.ufunc):
        fn: Any = f"np.{impl.__name__}"
        if getattr(np, impl.__name__, None) is not impl:
            raise OpDefinitionError(f"define_op {name!r}: ufunc {impl.__name__} is not "
                                    "numpy's own; pass lower=")
    else:
        _check_copyable(name, impl)
        fn = impl
    return _CallLowering(fn, isinstance(impl, np.ufunc))


def _check_copyable(name: str, impl: Callable) -> None:
    why = None
    if not inspect.isfunction(impl):
        why = "it is not a Python function (a C function or a callable object)"
    elif impl.__name__ == "<lambda>":
        why = "it is a lambda"
    elif impl.__closure__ or "<locals>" in impl.__qualname__:
        why = "it is a closure (defined inside another function)"
    else:
        module = sys.modules.get(impl.__module__)
        if module is None or getattr(module, impl.__name__, None) is not impl:
            why = "it is not a module-level function of its module"
        else:
            try:
                inspect.getsource(impl)
            except (OSError, TypeError):
                why = "its source cannot be read"
    if why is None:
        try:
            helper_modules(impl)
        except ValueError as err:
            why = str(err)
    if why is not None:
        raise OpDefinitionError(f"define_op {name!r}: generated code copies impl's source, "
                                f"but {why}; define impl at module level with NumPy, or "
                                "pass lower=")


class _CallLowering:
    """impl(*operands, **attrs) as a call, writing into a buffer when impl is a ufunc."""

    def __init__(self, fn: Any, ufunc: bool) -> None:
        self.fn = fn
        self.ufunc = ufunc

    def __call__(self, *inputs: Node, out: Node, **attrs: Any) -> Call:
        return Call(self.fn, tuple(Arg(i) for i in range(len(inputs))),
                    tuple(attrs.items()), out=self.ufunc)


class _ShapeRule:
    """A user's shape function as a shape rule: shape or (shape, dtype) from the operands."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self.fn = fn

    def __call__(self, types: list[TensorType], inputs: list[Node], **attrs: Any) \
            -> TensorType:
        result = self.fn(*inputs, **attrs)
        dtype = promote(*[t.dtype for t in types])
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            result, dtype = result[0], canonical_dtype(result[1])
        try:
            return TensorType(tuple(result), dtype)
        except TypeError:
            raise OpDefinitionError(f"op {self.name}: its shape function returned "
                                    f"{result!r}, not a shape") from None


def _constructor(op: Op, arity: int, statics: tuple[str, ...]) -> Callable[..., Node]:
    """The function users call to build nodes of `op`."""

    def build(*operands: object, **attrs: Any) -> Node:
        if len(operands) != arity:
            raise OpDefinitionError(f"{op.name} takes {arity} operand(s), got {len(operands)}")
        unknown = sorted(set(attrs) - set(statics))
        if unknown:
            raise OpDefinitionError(f"{op.name}: unknown attribute(s) {unknown} (it takes "
                                    f"{list(statics) or 'none'})")
        like = next((o for o in operands if isinstance(o, Node)), None)
        return op(*[lift(o, like) for o in operands], **attrs)

    build.__name__ = build.__qualname__ = op.name
    build.__doc__ = op.doc
    build.__module__ = op.module or __name__
    params = [inspect.Parameter(f"x{i}" if arity > 1 else "x",
                                inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(arity)]
    params += [inspect.Parameter(s, inspect.Parameter.KEYWORD_ONLY, default=None)
               for s in statics]
    build.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return export(build, op=op, statics={s: ("a literal", True) for s in statics}, numpy=())
