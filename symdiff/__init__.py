"""symdiff: symbol-to-symbol differentiation compiled to standalone NumPy code.

Build a graph with `var`, `const` and the op functions; `grad`/`vjp`/`jvp` add derivative
nodes to that same graph; `evaluate` runs it with the reference interpreter.
"""

from .autodiff import grad, jvp, vjp
from .errors import BindingError, GradError, ShapeError, SymdiffError
from .evaluate import evaluate
from .graph import Node, const, var
from .ops import (
    abs,
    astype,
    broadcast_to,
    concatenate,
    cos,
    dot,
    einsum,
    equal,
    exp,
    expand_dims,
    expm1,
    eye,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    not_equal,
    prod,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    softplus,
    sqrt,
    square,
    stack,
    sum,
    tan,
    tanh,
    transpose,
    where,
    zeros,
)

# -- higher-order derivatives (symdiff/higher.py) ---------------------------------------------
from .higher import derivative, hessian, hvp, jacobian
# -- rewrites (symdiff/rewrite/) -------------------------------------------------------------
from .rewrite import optimize
# -- inspection (symdiff/inspect/) -----------------------------------------------------------
from .inspect import (
    GraphvizNotFoundError,
    Stats,
    from_sympy,
    latex,
    render,
    show,
    stats,
    to_dot,
    to_networkx,
    to_sympy,
)
# -- compiled functions (symdiff/function.py, backed by codegen/) ----------------------------
from .function import CompiledFunction, function
# -- specs (symdiff/spec/) -------------------------------------------------------------------
from .spec import Spec, SpecError, compile_spec, load_spec, spec_module

__all__ = [
    "grad", "jvp", "vjp", "derivative", "hessian", "hvp", "jacobian", "eye", "evaluate",
    "Node", "const", "var",
    "BindingError", "GradError", "ShapeError", "SymdiffError",
    "abs", "astype", "broadcast_to", "concatenate", "cos", "dot", "einsum", "equal", "exp",
    "expand_dims", "expm1", "greater", "greater_equal", "less", "less_equal", "log", "log1p",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum",
    "not_equal", "prod", "relu", "reshape", "sigmoid", "sign", "sin", "softmax", "softplus",
    "sqrt", "square", "stack", "sum", "tan", "tanh", "transpose", "where", "zeros",
    "show", "to_dot", "to_networkx", "render", "to_sympy", "latex", "from_sympy", "stats",
    "Stats", "GraphvizNotFoundError",
    "optimize",
    "function", "CompiledFunction",
    "Spec", "SpecError", "compile_spec", "load_spec", "spec_module",
]
