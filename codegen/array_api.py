"""The array-API target: the same schedule and names as the NumPy target, printed as calls of
the Python array API standard on a namespace `xp` that each call finds from its arguments
(`array_api_compat.array_namespace`), so one generated module runs on NumPy, PyTorch, JAX,
array_api_strict and Dask arrays (lazily: nothing is computed that the caller did not ask for).

Each node's lowering comes from its op record: the op's `array_api` lowering where it has one
(ops whose NumPy lowering calls a NumPy-only helper), else its NumPy lowering translated here
call by call to the standard's names (`np.concatenate` -> `xp.concat`, `x.sum(axis=0)` ->
`xp.sum(x, axis=0)`, `x.astype(np.float32)` -> `xp.astype(x, xp.float32)`). Nothing is
written in place and nothing takes `out=`: every statement binds a new array.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from symdiff.errors import SymdiffError
from symdiff.graph import Node
from symdiff.ops.lowering import (
    NP,
    XP,
    Arg,
    Attribute,
    Call,
    Infix,
    Method,
    Name,
    Prefix,
    Subscript,
    Value,
    helper_modules,
    kwargs,
)
from symdiff.shapes import fmt_shape

from . import runtime
from .emit import (
    INDENT,
    ModuleState,
    Scope,
    _body,
    _doc,
    _fresh_root,
    _tuple_text,
    docstring,
    named_plan,
    returned_names,
)
from .function import Function, render
from .layout import wrap
from .naming import Namer
from .printer import render_attrs, scalar_text
from .schedule import schedule

# NumPy functions whose standard counterpart has the same name and signature.
SAME_NAME = frozenset("""
    abs acos acosh asin asinh atan atan2 atanh ceil copysign cos cosh divide equal exp expm1
    floor floor_divide greater greater_equal hypot isfinite isinf isnan less less_equal log
    log1p log2 log10 logaddexp logical_and logical_not logical_or maximum minimum multiply
    negative not_equal positive pow remainder round sign sin sinh sqrt square subtract tan tanh
    trunc add where broadcast_to flip stack zeros ones eye tril triu expand_dims squeeze
    matmul tensordot roll
""".split())
# NumPy spellings whose standard name differs.
RENAMED = {"arccos": "acos", "arcsin": "asin", "arctan": "atan", "arctan2": "atan2",
           "arccosh": "acosh", "arcsinh": "asinh", "arctanh": "atanh", "power": "pow",
           "absolute": "abs", "mod": "remainder", "true_divide": "divide",
           "concatenate": "concat", "transpose": "permute_dims"}
DTYPES = {"float64", "float32", "float16", "int64", "int32", "bool", "bool_", "complex128"}
REDUCTIONS = frozenset({"sum", "prod", "max", "min", "mean", "std", "all", "any"})
LINALG = frozenset({"solve", "inv", "det", "slogdet", "cholesky", "eigh", "svd", "qr"})


class NoLowering(SymdiffError, ValueError):
    """An op (or a NumPy call inside its lowering) the array-API target cannot print."""


def lowering(node: Node, dims: Mapping[str, str] | None = None) -> Value:
    """The node's array-API lowering, its symbolic dims spelled by the locals in `dims`."""
    if dims is None:
        dims = {d: d for d in node.shape if isinstance(d, str)} \
            | {d: d for d in node.attrs.get("shape", ()) if isinstance(d, str)}
    attrs = render_attrs(node.attrs, dims)
    op = node.op
    if op.array_api is not None:
        return op.array_api(*node.inputs, out=node, **attrs)
    try:
        return translate(op.lower(*node.inputs, out=node, **attrs), node)
    except NoLowering as err:
        raise NoLowering(f"op {op.name!r} has no array-API lowering: {err} (give the op an "
                         "array_api= lowering)") from None


def translate(value: Value, node: Node) -> Value:
    """A NumPy lowering of `node` rewritten, node by node of its expression tree, into
    standard calls on `xp`; raises NoLowering for anything the standard lacks."""
    if isinstance(value, Call):
        return _call(value, node)
    if isinstance(value, Method):
        return _method(value, node)
    if isinstance(value, Name):
        return _name(value.text)
    if isinstance(value, Infix):
        return Infix(value.symbol, translate(value.left, node), translate(value.right, node))
    if isinstance(value, Prefix):
        return Prefix(value.symbol, translate(value.operand, node))
    if isinstance(value, Subscript):
        return Subscript(translate(value.obj, node), _full_index(value, node))
    if isinstance(value, Attribute):
        if value.name == "T" and isinstance(value.obj, Arg) \
                and len(node.inputs[value.obj.index].shape) != 2:  # .T is for matrices only
            ndim = len(node.inputs[value.obj.index].shape)
            return Call("xp.permute_dims", (value.obj, tuple(reversed(range(ndim)))))
        if value.name == "size":  # a method in PyTorch: the standard's size through compat
            return Call("array_api_compat.size", (translate(value.obj, node),))
        return Attribute(translate(value.obj, node), value.name)
    if isinstance(value, tuple):
        return tuple(translate(v, node) for v in value)
    return value  # Arg, ArgList, and Python values


def _full_index(sub: Subscript, node: Node) -> Any:
    """A basic index of an operand spelled out to every axis (`x[None, :]`, not `x[None]`):
    the standard leaves the axes an index does not mention unspecified."""
    if not isinstance(sub.index, tuple) or not isinstance(sub.obj, Arg):
        return sub.index
    ndim = len(node.inputs[sub.obj.index].shape)
    used = sum(1 for item in sub.index if item is not None)
    return sub.index + ((None, None, None),) * (ndim - used)


def _kw(call: Call | Method, node: Node) -> dict[str, Value]:
    return {k: translate(v, node) for k, v in call.kwargs}


def _name(text: str) -> Name:
    """`np.float32` -> `xp.float32`; `np.inf` -> `float('inf')`."""
    short = text.removeprefix("np.")
    if short in DTYPES:
        return Name(f"xp.{'bool' if short == 'bool_' else short}")
    if short == "inf":
        return Name("float('inf')")
    raise NoLowering(f"the NumPy name {text!r} has no standard counterpart")


def _call(call: Call, node: Node) -> Value:
    if callable(call.fn) and call.args[:1] == (NP,):  # a helper in standard calls: give it xp
        return Call(call.fn, (XP, *translate(call.args[1:], node)), tuple(_kw(call, node).items()))
    if callable(call.fn):
        raise NoLowering(f"its NumPy lowering calls the NumPy helper {call.fn.__name__}")
    if not isinstance(call.fn, str):  # a loop (scan): its body would need this target too
        raise NoLowering("loops (sd.scan) are generated for the NumPy and numba targets only")
    if not call.fn.startswith("np."):
        raise NoLowering(f"it calls {call.fn}, which is not a NumPy function")
    name = call.fn.removeprefix("np.")
    args = translate(call.args, node)
    kw = _kw(call, node)
    if name.startswith("linalg."):
        return _linalg(name.removeprefix("linalg."), args, kw)
    if name in DTYPES:  # np.float64(size): a 0-d array of that dtype
        return Call("xp.asarray", args, kwargs(dtype=_name(name)))
    if name in SAME_NAME or name in RENAMED:
        return Call(f"xp.{RENAMED.get(name, name)}", args, tuple(kw.items()))
    if name == "arange":
        return Call("xp.arange", args, kwargs(dtype=Name("xp.int64")))
    if name == "clip":  # min and max may be arrays; maximum/minimum take them everywhere
        return Call("xp.minimum", (Call("xp.maximum", args[:2]), args[2]))
    if name in ("sort", "argsort"):
        kw.pop("kind", None)
        return Call(f"xp.{name}", args, kwargs(**kw, stable=True))
    if name == "argpartition":  # a full stable sort is one valid partition
        return Call("xp.argsort", args[:1], kwargs(**kw, stable=True))
    if name == "einsum":
        kw.pop("optimize", None)
        return Call(_einsum, (XP, *args))
    raise NoLowering(f"NumPy's {call.fn} has no standard counterpart")


def _linalg(name: str, args: tuple, kw: dict[str, Value]) -> Value:
    if name in LINALG:
        return Call(f"xp.linalg.{name}", args, tuple(kw.items()))
    if name == "norm":  # vector norms over an axis (or all), matrix norms over two
        axis = kw.get("axis")
        fn = "matrix_norm" if isinstance(axis, tuple) and len(axis) == 2 else "vector_norm"
        if fn == "vector_norm" and "ord" in kw and kw["ord"] is None:
            kw.pop("ord")
        if fn == "matrix_norm":
            kw.pop("axis")
            kw.setdefault("ord", "fro")
        return Call(f"xp.linalg.{fn}", args, tuple(kw.items()))
    raise NoLowering(f"np.linalg.{name} has no standard counterpart")


def _method(m: Method, node: Node) -> Value:
    obj = translate(m.obj, node)
    args = translate(m.args, node)
    kw = _kw(m, node)
    if m.name in ("sum", "prod", "cumsum") and node.inputs[0].dtype == "bool":
        obj = Call("xp.astype", (obj, Name(f"xp.{node.dtype}")))  # the standard counts no bools
    if m.name in REDUCTIONS:
        return Call(f"xp.{m.name}", (obj, *args), tuple(kw.items()))
    if m.name == "var":
        ddof = kw.pop("ddof", None)
        return Call("xp.var", (obj,), kwargs(**kw, correction=ddof))
    if m.name == "cumsum":
        if kw.get("axis") is None:  # NumPy flattens first
            return Call("xp.cumulative_sum", (Call("xp.reshape", (obj, (-1,))),))
        return Call("xp.cumulative_sum", (obj,), tuple(kw.items()))
    if m.name == "reshape":
        return Call("xp.reshape", (obj, *args))
    if m.name == "transpose":
        return Call("xp.permute_dims", (obj, *args))
    if m.name == "astype":
        return Call("xp.astype", (obj, *args))
    raise NoLowering(f"the array method .{m.name}() has no standard counterpart")


def _einsum(xp, subscripts, *operands):
    """NumPy's einsum(subscripts, *operands) with standard calls only: a letter repeated within
    one operand takes the diagonal (a product with the identity, summed); letters that no
    other operand and not the output use are summed first; operands are then contracted
    left to right, each pair by one matmul over their shared letters with the letters that
    stay in the result as batch axes."""
    inputs, _, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if "->" not in subscripts:  # NumPy's implicit output: the letters used once, sorted
        output = "".join(sorted(c for c in set(inputs) - {","} if inputs.count(c) == 1))
    pending = list(zip(terms, operands, strict=True))

    def sizes(term, x):
        return dict(zip(term, x.shape, strict=True))

    def diagonal(term, x):
        while len(set(term)) < len(term):
            letter = next(c for c in term if term.count(c) > 1)
            i = term.index(letter)
            j = term.index(letter, i + 1)
            rest = [k for k in range(len(term)) if k not in (i, j)]
            x = xp.permute_dims(x, (*rest, i, j))
            x = xp.sum(x * xp.eye(x.shape[-1], dtype=x.dtype), axis=-1)
            term = "".join(term[k] for k in rest) + letter
        return term, x

    def sum_out(term, x, keep):
        gone = tuple(k for k, c in enumerate(term) if c not in keep)
        if gone:
            x = xp.sum(x, axis=gone)
            term = "".join(c for c in term if c in keep)
        return term, x

    def needed(rest):
        return set(output).union(*[set(t) for t, _ in rest])

    term, acc = diagonal(*pending[0])
    for k in range(1, len(pending) + 1):
        later = needed(pending[k:])
        if k == len(pending):
            term, acc = sum_out(term, acc, later)
            break
        other, x = diagonal(*pending[k])
        term, acc = sum_out(term, acc, later | set(other))
        other, x = sum_out(other, x, later | set(term))
        size = sizes(term, acc) | sizes(other, x)
        batch = [c for c in term if c in other and c in later]
        shared = [c for c in term if c in other and c not in later]
        left = [c for c in term if c not in other]
        right = [c for c in other if c not in term]

        def block(letters, size=size):
            n = 1
            for c in letters:
                n *= size[c]
            return n

        a = xp.permute_dims(acc, tuple(term.index(c) for c in batch + left + shared))
        b = xp.permute_dims(x, tuple(other.index(c) for c in batch + shared + right))
        batch_shape = tuple(size[c] for c in batch)
        a = xp.reshape(a, (*batch_shape, block(left), block(shared)))
        b = xp.reshape(b, (*batch_shape, block(shared), block(right)))
        acc = xp.reshape(a @ b, (*batch_shape, *[size[c] for c in left + right]))
        term = "".join(batch + left + right)
    if term == output:
        return acc
    return xp.permute_dims(acc, tuple(term.index(c) for c in output))


# -- the generated module ------------------------------------------------------------------

def emit_module(functions: Sequence[Function], *, title: str,
                statements: dict[Node, str] | None = None) -> str:
    """The source of a module defining one array-API function per `Function`: each finds its
    namespace from its arguments and calls only the standard's functions on it."""
    state = ModuleState()
    namer = Namer()
    names = [namer.fresh(fn.name, "f") for fn in functions]
    bodies = [emit_function(fn, state, name) for fn, name in zip(functions, names, strict=True)]
    if statements is not None:
        statements.update(state.statements)
    helpers = [state.helpers[name] for name in sorted(state.helpers)]
    modules: dict[str, str] = {}
    for helper in helpers:
        used = helper_modules(helper)
        if any(module.split(".")[0] == "numpy" for module in used.values()):
            raise NoLowering(f"{helper.__name__}, called by an array_api lowering, uses NumPy; "
                             "an array-API helper takes the namespace `xp` and calls only it")
        modules.update(used)
    imports = "".join(f"import {module}\n" if alias == module else
                      f"import {module} as {alias}\n" for alias, module in sorted(modules.items()))
    text = (f"{title.strip() or 'Generated functions'}\n\n"
            "Generated by symdiff's code generator (codegen, array-API target); edit the model, "
            "not this file.\nNeeds array-api-compat and arrays of any library following the "
            "Python array API standard\n(NumPy, PyTorch, JAX, Dask, ...). Functions: "
            + ", ".join(names) + ".")
    parts = [docstring(text, ""),
             f"from __future__ import annotations\n\n{imports}import array_api_compat"]
    for helper in (*RUNTIME_HELPERS, *helpers):
        parts.append(inspect.getsource(helper))
    parts.extend(bodies)
    return "\n\n\n".join(p.rstrip("\n") for p in parts) + "\n"


@dataclasses.dataclass
class ArrayApiScope(Scope):
    """The NumPy target's scope with this target's lowerings."""

    def arg(self, node: Node, user: Node) -> str:
        text = super().arg(node, user)
        return NON_FINITE.get(text, text) if node.kind == "const" else text

    def lowered(self, node: Node) -> object:
        if "shape" in node.attrs:
            return lowering(node, self.dim_names)
        return self.lowerings[node]


def emit_function(fn: Function, state: ModuleState, name: str) -> str:
    """The source of one generated array-API function called `name`."""
    outputs = fn.leaves
    order = schedule(outputs)
    lowerings = {n: lowering(n) for n in order}
    _, names, dim_names, inlined, buffer_plan = named_plan(fn, order, lowerings, None,
                                                           lambda n: False)
    scope = ArrayApiScope(names, buffer_plan.variable, dim_names, inlined, state, lowerings)
    body = _body(buffer_plan, scope)
    text = returned_names(outputs, names, buffer_plan, state)
    used = {i for n in order for i in n.inputs if i.kind == "const"} | \
        {n for n in outputs if n.kind == "const"}
    constants = [f"{INDENT}{state.constants[c]} = {constant_text(c)}"
                 for c in state.constants if c in used]

    lines = [f"def {name}({', '.join(names[v] for v in fn.inputs)}):",
             docstring(_doc(fn, names, dim_names), INDENT)]
    lines.extend(_entry_checks(fn, names, dim_names))
    lines.extend(constants)
    lines.extend(body)
    lines.append(f"{INDENT}return {render(fn.outputs, _caller_owned(text))}")
    laid_out = [lines[0], lines[1]] + [w for line in lines[2:] for w in wrap(line)]
    return "\n".join(laid_out) + "\n"


# The NumPy target's spellings of non-finite literals, in Python alone.
NON_FINITE = {"np.nan": "float('nan')", "np.inf": "float('inf')", "-np.inf": "-float('inf')",
              "(-np.inf)": "(-float('inf'))"}


def constant_text(node: Node) -> str:
    """`xp.asarray(<value as Python literals>, dtype=xp.<dtype>)`: exact, library-neutral."""
    dtype = "bool" if node.dtype == "bool" else node.dtype

    def nest(a: np.ndarray) -> str:
        if a.ndim == 0:
            text = scalar_text(a, node.dtype if node.dtype != "float32" else "float64")
            return NON_FINITE.get(text, text)
        return "[" + ", ".join(nest(x) for x in a) + "]"

    value = np.asarray(node.value)
    if value.size == 0:
        return f"xp.zeros({value.shape!r}, dtype=xp.{dtype})"
    return f"xp.asarray({nest(value)}, dtype=xp.{dtype})"


def _caller_owned(text: dict[Node, str]):
    """As the NumPy target: a returned argument, constant, or memory an earlier result holds
    is copied (`xp.asarray(v, copy=True)`), so that results never alias."""
    claimed: set[Node] = set()

    def spell(node: Node) -> str:
        root = _fresh_root(node, {})  # nothing is hoisted in this target
        copy = root is None or root in claimed
        if root is not None:
            claimed.add(root)
        return f"xp.asarray({text[node]}, copy=True)" if copy else text[node]

    return spell


def _entry_checks(fn: Function, names: dict[Node, str], dim_names: dict[str, str]) -> list[str]:
    """Find the namespace, then convert and check each argument (dtype, rank, known sizes),
    binding each symbolic dim from the first argument that has it."""
    lines = [f"{INDENT}xp = _namespace({', '.join(names[v] for v in fn.inputs)})"]
    origin: dict[str, str] = {}
    for v in fn.inputs:
        a = names[v]
        shape = tuple(dim_names[d] if isinstance(d, str) else d for d in v.shape)
        shape_text = fmt_shape(shape)
        lines.append(f"{INDENT}{a} = _argument(xp, {a}, {a!r}, {v.dtype!r}, {len(shape)}, "
                     f"{shape_text!r})")
        new_dims = [(axis, s) for axis, s in enumerate(shape)
                    if isinstance(v.shape[axis], str) and s not in origin
                    and shape.index(s) == axis]
        for axis, s in new_dims:
            origin[s] = a
            lines.append(f"{INDENT}{s} = {a}.shape[{axis}]")
        if len(new_dims) < len(shape):
            used = list(dict.fromkeys(s for s in shape if isinstance(s, str)))
            dims_map = "{" + ", ".join(f"{s!r}: {s}" for s in used) + "}"
            origin_map = "{" + ", ".join(f"{s!r}: {origin[s]!r}" for s in used) + "}"
            lines.append(f"{INDENT}if tuple({a}.shape) != {_tuple_text(shape)}:")
            lines.append(f"{INDENT * 2}raise _shape_error({a!r}, tuple({a}.shape), "
                         f"{shape_text!r}, {dims_map}, {origin_map})")
    return lines


# -- helpers copied into every array-API module -----------------------------------------------

def _namespace(*args):
    """The array API namespace of the arguments that are arrays (Python scalars and lists
    are converted later), or a TypeError saying why there is none."""
    arrays = [a for a in args if hasattr(a, "shape") and hasattr(a, "dtype")]
    if not arrays:  # no array to take the library from: NumPy's, as the NumPy target's
        from array_api_compat import numpy as numpy_namespace

        return numpy_namespace
    try:
        return array_api_compat.array_namespace(*arrays)  # noqa: F821 - the module imports it
    except TypeError as err:
        kinds = sorted({f"{type(a).__module__}.{type(a).__name__}" for a in arrays})
        raise TypeError(f"the array arguments must all come from one array API library, got "
                        f"{', '.join(kinds)}: {err}") from None


def _argument(xp, value, name, dtype, ndim, shape):
    """An argument as an array of `dtype` (converting numbers, lists and safely castable
    dtypes as the NumPy target does), or a ValueError naming it. Every size must be known:
    a lazy array whose size depends on its data cannot be planned for."""
    want = getattr(xp, "bool" if dtype == "bool" else dtype, None)
    if want is None:
        raise TypeError(f"argument {name!r} must be {dtype}, which {xp.__name__} lacks")
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        try:
            value = xp.asarray(value)
        except Exception as err:  # noqa: BLE001 - any failure means "not an array"
            raise ValueError(f"argument {name!r} must be a {dtype} array of shape {shape}, "
                             f"got a {type(value).__name__} that {xp.__name__} cannot "
                             "convert") from err
    if value.dtype != want:
        kinds = {"bool": ("bool",), "int64": ("integral", "bool")}.get(
            dtype, ("real floating", "integral", "bool"))
        if not xp.isdtype(value.dtype, kinds):
            raise ValueError(f"argument {name!r} must be a {dtype} array of shape {shape}, "
                             f"got dtype {value.dtype}")
        value = xp.astype(value, want)
    if value.ndim != ndim:
        raise ValueError(f"argument {name!r} must be a {dtype} array of shape {shape}, got "
                         f"shape {tuple(value.shape)}")
    for axis, size in enumerate(value.shape):
        if size is None or size != size:  # None, or NaN as Dask gives
            raise ValueError(f"argument {name!r} has an unknown, data-dependent size on axis "
                             f"{axis} (shape {tuple(value.shape)}); the generated function "
                             "needs every size before it runs, so it cannot stay lazy on "
                             "it: give the array known sizes first (for Dask: "
                             "x.compute_chunk_sizes())")
    return value


RUNTIME_HELPERS: tuple[Any, ...] = (_namespace, _argument, runtime._shape_error)
