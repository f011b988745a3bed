"""The op record: everything about one op in one place, plus the shape-rule factories.

An op has a name, a shape-and-dtype rule, a NumPy reference implementation, one VJP and
one JVP rule per argument (written with graph ops so they can be differentiated again), a
structured NumPy lowering (symdiff/ops/lowering.py), and every property a pass asks about
(memory class, foldable, commutative, finite or positive results, flops, SymPy mapping),
with defaults from its family. Passes read these fields; none keeps a table of op names.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..graph import Node, apply, const
from ..shapes import (
    Shape,
    TensorType,
    broadcast_shapes,
    float_of,
    fmt_shape,
    is_float,
    normalize_axes,
    promote,
    reduced_shape,
)
from .lowering import Expr, run_widened, widened
from .texforms import Tex, default_form

# A VJP rule maps (cotangent of the output, *inputs, out=node, **attrs) to the cotangent of
# one argument, or None for "no contribution". A JVP rule maps (tangent of one argument,
# *inputs, out=node, **attrs) to that argument's contribution to the output's tangent. The
# one rule of a variadic op also takes `index=`, the argument.
Rule = Callable[..., Node | None]
ShapeRule = Callable[..., TensorType]
Lowering = Callable[..., Expr]
Flops = tuple[int, Shape]  # coefficient times the product of these dims

REGISTRY: dict[str, Op] = {}

FAMILIES = ("elementwise", "reduction", "normalizer", "movement", "contraction", "join",
            "source", "other")
# How a node's value relates to memory: "fresh" (a new array or a scalar), "view" (may
# share memory with operand 0), "readonly" (a read-only view of operand 0 that may repeat
# elements, as np.broadcast_to gives), "alias" (may share memory with any operand).
MEMORY_CLASSES = ("fresh", "view", "readonly", "alias")


@dataclass(frozen=True, eq=False)
class Op:
    """One op of the library: its rules, its lowering and the properties passes read.

    Fields with family defaults (filled by `define`): `memory` (a class above, or a
    function of the node giving one); `flops(node) -> (coefficient, dims)`; `finite(node,
    finite) -> bool`, whether the result is finite whenever `finite(operand)` holds for the
    operands it looks at (None: not known to be); `axes_from(node, axes)`, an operand that
    has the node's dims at `axes` and where they sit in it (None: no such operand).
    `promotes`: the operands whose dtypes make the result's (None: all). `accumulates`:
    a float16 result is computed in float32 and cast back (sums, contractions, softmax),
    in the reference implementation and in generated code alike (`compute`, `lowered`).
    `unit_identity`: a reduction over size-1 axes only is the identity (sum, max; not a
    variance). `to_sympy`: the name of a SymPy function (`"exp"`) or `fn(sympy, node,
    *args)`; None: no formula. `latex(node, *operands) -> Tex`: its matrix-calculus LaTeX
    from its operands' (ops/texforms.py; default from the family, `\\operatorname{name}(x)`).
    `to_sympy_matrix(sympy, node, *args)`: the op on SymPy matrix expressions (MatrixSymbol;
    a vector is a column), None where SymPy has no such expression (`to_sympy(matrix=True)`).
    `batch(args, batched, out, **attrs)` rebuilds the op over operands of which those
    flagged carry an extra leading axis (jacobian and hessian); `taylor(series, out,
    **attrs)` maps the inputs' truncated Taylor series to the output's (ops/series.py).
    `array_api`: the lowering for the array-API target (codegen/array_api.py), for an op whose
    NumPy lowering calls a NumPy-only helper; None: the NumPy lowering translated to standard
    calls. `public` is the constructor users call, `module` the module that defined a user's op.
    `kernel(*inputs, out=node, **attrs) -> Expr | None`: the op on one element, for fused
    kernels (the numba target; Arg(i) is then operand i's element); None (the field, or
    what it returns for a node) means "not expressible per element", and the target falls
    back to the NumPy lowering. Elementwise ops whose NumPy lowering is made of ufunc calls
    and operators need none: that lowering reads the same on scalars.

    `outputs` > 1: a multi-output op (eigh, svd, slogdet). Its impl returns that many
    arrays; each output is its own node, the same inputs and attributes plus `output=i`,
    whose shape rule, VJP, JVP and batch rules see `output` and answer for output i. The
    lowering (given `output` too) is the call returning the whole tuple: the generated code
    and `evaluate` run it once per group of outputs (see `group_key`). `outputs` may be a
    function of the attributes (a scan's count depends on its body).

    `joint_vjp(cotangents, *inputs, out=member, **shared attrs) -> [cotangent per input]`:
    a multi-output op whose outputs' cotangents are better pulled back together (one
    reverse loop for all of a scan's outputs) gives this instead of per-argument `vjp`;
    `joint_jvp(tangents, *inputs, out=node, **attrs)`: the tangent of `out` from the
    tangents of all inputs at once (None where an input has none).
    """

    name: str
    shape_rule: ShapeRule
    impl: Callable[..., np.ndarray]
    vjp: tuple[Rule | None, ...]
    jvp: tuple[Rule | None, ...]
    lower: Lowering
    family: str = "other"
    variadic: bool = False
    batch: Callable[..., Node] | None = None
    taylor: Callable[..., list] | None = None
    memory: str | Callable[[Node], str] = "fresh"
    foldable: bool = True
    commutative: bool = False
    positive: bool = False
    finite: Callable[[Node, Callable[[Node], bool]], bool] | None = None
    flops: Callable[[Node], Flops] | None = None
    axes_from: Callable[[Node, tuple[int, ...]], tuple[Node, tuple[int, ...]] | None] | None \
        = None
    promotes: tuple[int, ...] | None = None
    unit_identity: bool = False
    accumulates: bool = False
    to_sympy: str | Callable[..., Any] | None = None
    latex: Callable[..., Tex] | None = None
    array_api: Lowering | None = None
    to_sympy_matrix: Callable[..., Any] | None = None
    doc: str = ""
    module: str | None = None
    public: Callable[..., Node] | None = field(default=None, compare=False)
    outputs: int | Callable[[Any], int] = 1
    kernel: Lowering | None = None
    joint_vjp: Callable[..., list[Node | None]] | None = None
    joint_jvp: Callable[..., Node | None] | None = None

    def __call__(self, *inputs: Node, **attrs: Any) -> Node:
        return apply(self, inputs, **attrs)

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    def __reduce__(self) -> tuple:
        return op_named, (self.name,)

    @property
    def elementwise(self) -> bool:
        return self.family == "elementwise"

    @property
    def movement(self) -> bool:
        """Only moves or replicates elements: an elementwise op commutes with it."""
        return self.family == "movement"

    def vjp_rule(self, index: int) -> Rule | None:
        """The VJP rule for argument `index` (the same call for every op)."""
        return _for_argument(self.vjp, self.variadic, index)

    def jvp_rule(self, index: int) -> Rule | None:
        """The JVP rule for argument `index` (the same call for every op)."""
        return _for_argument(self.jvp, self.variadic, index)

    @property
    def multi_output(self) -> bool:
        return self.outputs != 1

    def output_count(self, attrs: Any) -> int:
        """How many outputs the computation with these attributes has (a loop's number
        of outputs depends on its body)."""
        return self.outputs(attrs) if callable(self.outputs) else self.outputs

    def memory_of(self, node: Node) -> str:
        return self.memory(node) if callable(self.memory) else self.memory

    def flop_count(self, node: Node) -> Flops:
        return self.flops(node) if self.flops is not None else (1, node.shape)

    def lowered(self, node: Node, attrs: dict[str, Any] | None = None) -> Expr:
        """The node's lowering, with `attrs` (default: the node's own) as printed."""
        expr = self.lower(*node.inputs, out=node, **(node.attrs if attrs is None else attrs))
        return widened(expr, node.inputs, node) if self.accumulates else expr

    def compute(self, *args: np.ndarray, **attrs: Any) -> Any:
        """The reference implementation on arrays, as `lowered` computes it: an op that
        accumulates computes float16 in float32; a multi-output op gives the tuple of all
        its outputs (the caller picks piece `output`, computing the group once)."""
        if self.outputs != 1:
            return self.impl(*args, **shared_attrs(attrs))
        return run_widened(self.impl, args, attrs) if self.accumulates else \
            self.impl(*args, **attrs)


def shared_attrs(attrs: Any) -> dict[str, Any]:
    """A multi-output node's attributes without `output`: what its impl takes."""
    return {k: v for k, v in attrs.items() if k != "output"}


def group_key(node: Node) -> tuple:
    """What the outputs of one multi-output computation share: op, inputs, attributes
    other than `output` (one call computes them all)."""
    return node.op, node.inputs, tuple(sorted(shared_attrs(node.attrs).items()))


def group_member(node: Node, output: int) -> Node:
    """Output `output` of the multi-output computation `node` is one output of."""
    return apply(node.op, node.inputs, **{**shared_attrs(node.attrs), "output": output})


def _for_argument(rules: tuple[Rule | None, ...], variadic: bool, index: int) -> Rule | None:
    if not variadic:
        return rules[index] if index < len(rules) else None
    rule = rules[0] if rules else None
    return None if rule is None else functools.partial(rule, index=index)


def library_ops() -> dict[str, Op]:
    """The library's own ops (without those users defined with symdiff.define_op)."""
    return {name: op for name, op in REGISTRY.items() if op.module is None}


def op_named(name: str) -> Op:
    """The registered op called `name` (how ops, and so graphs, are unpickled)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ShapeError(f"no op named {name!r} is defined in this process (import the "
                         "module that defines it first)") from None


# -- family defaults --------------------------------------------------------------------------

def output_flops(node: Node) -> Flops:
    """One flop per output element (elementwise ops)."""
    return 1, node.shape


def input_flops(node: Node) -> Flops:
    """One flop per input element (reductions, softmax)."""
    return 1, node.inputs[0].shape


def no_flops(node: Node) -> Flops:
    """Moves data without arithmetic."""
    return 0, ()


def pass_through_sympy(sp: Any, node: Node, x: Any) -> Any:
    """The element's formula is the operand's (an op that only adds unit axes or
    broadcasts)."""
    return x


def always_finite(node: Node, finite: Callable[[Node], bool]) -> bool:
    return True


def finite_if_operands(node: Node, finite: Callable[[Node], bool]) -> bool:
    """Finite when the operands that make the value (see `promotes`) are."""
    chosen = node.op.promotes
    operands = node.inputs if chosen is None else [node.inputs[i] for i in chosen]
    return all(finite(i) for i in operands)


def broadcast_axes_from(node: Node, axes: tuple[int, ...]) \
        -> tuple[Node, tuple[int, ...]] | None:
    """Elementwise ops: an operand that is not broadcast along `axes`."""
    for i in node.inputs:
        off = node.ndim - i.ndim
        if all(a >= off and i.shape[a - off] == node.shape[a] for a in axes):
            return i, tuple(a - off for a in axes)
    return None


def reduced_axes_from(node: Node, axes: tuple[int, ...]) -> tuple[Node, tuple[int, ...]]:
    """Reductions: the kept axes of the operand."""
    src = node.inputs[0]
    if node.attrs["keepdims"]:
        return src, axes
    reduced = range(src.ndim) if node.attrs["axis"] is None else node.attrs["axis"]
    kept = [i for i in range(src.ndim) if i not in reduced]
    return src, tuple(sorted(kept[a] for a in axes))


def same_axes_from(node: Node, axes: tuple[int, ...]) -> tuple[Node, tuple[int, ...]]:
    """Ops whose result has operand 0's shape."""
    return node.inputs[0], axes


_DEFAULTS: dict[str, dict[str, Any]] = {
    "elementwise": {"flops": output_flops, "axes_from": broadcast_axes_from},
    "reduction": {"flops": input_flops, "axes_from": reduced_axes_from, "accumulates": True},
    "normalizer": {"flops": input_flops, "axes_from": same_axes_from, "accumulates": True},
    "contraction": {"accumulates": True},
    "movement": {"flops": no_flops, "memory": "view", "finite": finite_if_operands},
    "join": {"flops": no_flops},
    "source": {"flops": no_flops, "finite": always_finite},
}


def define(name: str, **fields: Any) -> Op:
    """Create and register an op, filling unset properties from its family; names are
    unique across the library."""
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is defined twice")
    family = fields.get("family", "other")
    if family not in FAMILIES:
        raise ValueError(f"op {name!r}: unknown family {family!r} (one of {FAMILIES})")
    for key, value in _DEFAULTS.get(family, {}).items():
        fields.setdefault(key, value)
    if fields.get("latex") is None:
        fields["latex"] = default_form(name, family)
    memory = fields.get("memory", "fresh")
    if not callable(memory) and memory not in MEMORY_CLASSES:
        raise ValueError(f"op {name!r}: unknown memory class {memory!r}")
    op = Op(name=name, **fields)
    REGISTRY[name] = op
    return op


# -- public constructors and how a spec calls them ----------------------------------------------

# The static (literal) parameter kinds a spec can write, by parameter name: what fits, and
# whether string literals are allowed there.
STATIC_KINDS: dict[str, tuple[str, bool]] = {
    "axis": ("an int, a tuple of ints or None", False),
    "axes": ("a tuple of ints or None", False),
    "keepdims": ("True or False", False),
    "shape": ("a tuple of ints and symbolic dim names", True),
    "subscripts": ("a string such as 'ij,jk->ik'", True),
    "dtype": ("a dtype name such as 'float32'", True),
}


@dataclass(frozen=True)
class Signature:
    """How a spec calls a public function: `lists` are lists of tensor expressions,
    `statics` literal parameters (name -> (what fits, strings allowed)), every other
    parameter a tensor expression. `integer`: tensor parameters that take integer data
    (indices, labels), through which no derivative flows."""

    lists: tuple[str, ...] = ()
    statics: dict[str, tuple[str, bool]] = field(default_factory=dict)
    spec: bool = True
    integer: tuple[str, ...] = ()

    def kind(self, param: str) -> str:
        if param in self.statics:
            return "static"
        return "list" if param in self.lists else "tensor"


PUBLIC: dict[str, Callable[..., Node]] = {}  # name -> public constructor, with .signature
# NumPy function or ufunc name ("exp", "absolute", "linalg.norm") -> the public constructor
# that does the same on nodes (what np.exp(node) and np.sum(node) dispatch to).
NUMPY: dict[str, Callable[..., Node]] = {}


def export(fn: Callable[..., Node] | None = None, *, name: str | None = None,
           lists: Sequence[str] = (), statics: Sequence[str] | dict[str, tuple[str, bool]] = (),
           spec: bool = True, op: Op | None = None, numpy: Sequence[str] | None = None,
           integer: Sequence[str] = ()) -> Any:
    """Register a public constructor (symdiff.<name>), with how a spec calls it. Static
    parameters named in STATIC_KINDS need no description. `numpy`: the NumPy functions
    (names in the numpy namespace, "linalg.norm" for submodules) it computes, which then
    dispatch to it on nodes; by default its own name when NumPy has a function by that
    name (give () when that function means something else)."""

    def register(f: Callable[..., Node]) -> Callable[..., Node]:
        public = name or f.__name__
        mirrors = numpy if numpy is not None else [public] if hasattr(np, public) else []
        for numpy_name in mirrors:
            if NUMPY.get(numpy_name, f) is not f:
                raise ValueError(f"np.{numpy_name} already dispatches to "
                                 f"{NUMPY[numpy_name].__name__}")
            NUMPY[numpy_name] = f
        kinds = statics if isinstance(statics, dict) else {s: STATIC_KINDS[s] for s in statics}
        f.signature = Signature(tuple(lists), dict(kinds), spec,  # type: ignore[attr-defined]
                                tuple(integer))
        if op is not None:
            f.op = op  # type: ignore[attr-defined]
            object.__setattr__(op, "public", f)
        if public in PUBLIC and PUBLIC[public] is not f:
            raise ValueError(f"the public name {public!r} is taken")
        PUBLIC[public] = f
        return f

    return register(fn) if fn is not None else register


def spec_functions(modules: Sequence[Any] = ()) -> dict[str, Callable[..., Node]]:
    """The functions a spec may call: the library's, and the user ops that the given
    modules define (a spec sees a user's op only when its module is named)."""
    table = {n: f for n, f in PUBLIC.items() if f.signature.spec and _builtin(f)}
    for module in modules:
        for value in vars(module).values():
            op = getattr(value, "op", None)
            if isinstance(op, Op) and op.module is not None and op.public is value:
                table[op.name] = value
    return table


def _builtin(fn: Callable[..., Node]) -> bool:
    op = getattr(fn, "op", None)
    return not (isinstance(op, Op) and op.module is not None)


# -- lifting Python values into the graph ----------------------------------------------

def lift(value: object, like: Node | None = None) -> Node:
    """A node for `value`. Python scalars are weakly typed: they take `like`'s float dtype,
    so `x32 * 2` stays float32 as in NumPy."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        if like is not None and is_float(like.dtype) and not isinstance(value, bool):
            return const(value, like.dtype)
        if isinstance(value, float):
            return const(value, "float64")
        if isinstance(value, bool):
            return const(value, "bool")
        return const(value, like.dtype if like is not None and like.dtype == "int64" else "int64")
    return const(value)


def lift_pair(a: object, b: object) -> tuple[Node, Node]:
    a_node = a if isinstance(a, Node) else None
    b_node = b if isinstance(b, Node) else None
    return lift(a, b_node), lift(b, a_node)


def names(inputs: Sequence[Node]) -> list[str]:
    return [n.display_name for n in inputs]


# -- shape-rule factories --------------------------------------------------------------

def broadcasting_rule(name: str, result: str = "promote",
                      promotes: tuple[int, ...] | None = None) -> ShapeRule:
    """Elementwise op over broadcast operands. result: 'promote' (common dtype of the
    operands in `promotes`, default all), 'float' (that made float), 'bool' (comparisons)."""
    return functools.partial(_broadcasting, name=name, result=result, promotes=promotes)


def _broadcasting(types: Sequence[TensorType], inputs: Sequence[Node], *, name: str,
                  result: str, promotes: tuple[int, ...] | None, **attrs: Any) -> TensorType:
    shapes = [t.shape for t in types]
    first = shapes[0] if shapes else ()
    if all(s == first for s in shapes):  # the usual case: no broadcasting, no names needed
        shape = first
    else:
        shape = broadcast_shapes(shapes, names(inputs), name)
    operands = types if promotes is None else [types[i] for i in promotes]
    dtype = promote(*[t.dtype for t in operands])
    if result == "float":
        dtype = float_of(dtype)
    elif result == "bool":
        dtype = "bool"
    return TensorType(shape, dtype)


def reduction_rule(name: str, float_result: bool = False, bool_counts: bool = False) \
        -> ShapeRule:
    """Reduction over `axis` (int, tuple or None) with `keepdims` (other attributes, such
    as a variance's ddof, leave the type alone). With `bool_counts`, a bool operand gives
    int64 (sum and prod, as NumPy; max and min stay bool)."""
    return functools.partial(_reduction, name=name, float_result=float_result,
                             bool_counts=bool_counts)


def _reduction(types: Sequence[TensorType], inputs: Sequence[Node], *, name: str,
               float_result: bool, bool_counts: bool, axis: Any, keepdims: bool,
               **attrs: Any) -> TensorType:
    (t,) = types
    axes = normalize_axes(axis, t.ndim, name)
    dtype = float_of(t.dtype) if float_result else t.dtype
    if t.dtype == "bool" and bool_counts:
        dtype = "int64"
    return TensorType(reduced_shape(t.shape, axes, keepdims), dtype)


def same_type_rule(name: str, float_result: bool = True) -> ShapeRule:
    """Output has the input's shape (softmax along an axis, for example)."""
    return functools.partial(_same_type, name=name, float_result=float_result)


def _same_type(types: Sequence[TensorType], inputs: Sequence[Node], *, name: str,
               float_result: bool, **attrs: Any) -> TensorType:
    (t,) = types
    if "axis" in attrs:
        normalize_axes(attrs["axis"], t.ndim, name)
    return TensorType(t.shape, float_of(t.dtype) if float_result else t.dtype)


def require_float(name: str, inputs: Sequence[Node]) -> None:
    for node in inputs:
        if not is_float(node.dtype):
            raise ShapeError(f"{name}: operand {node.display_name} has dtype {node.dtype}; "
                             "a float dtype is needed")


def refuse_bool(name: str, inputs: Sequence[Node]) -> None:
    for node in inputs:
        if node.dtype == "bool":
            raise ShapeError(f"{name}: operand {node.display_name} has dtype bool; convert it "
                             "with astype first")


def shape_mismatch(name: str, inputs: Sequence[Node], why: str) -> ShapeError:
    parts = ", ".join(f"{n.display_name} {fmt_shape(n.shape)}" for n in inputs)
    return ShapeError(f"{name}: {why} (operands {parts})")


