"""symdiff: symbol-to-symbol differentiation compiled to standalone NumPy code.

Build a graph with `var`, `const` and the op functions; `grad`/`vjp`/`jvp` add derivative
nodes to that same graph; `evaluate` runs it with the reference interpreter. Importing
symdiff loads NumPy and symdiff alone: SymPy, networkx, pydot and the code generator are
imported by the functions that need them.
"""

from .autodiff import grad, jvp, vjp
from .errors import BindingError, GradError, ShapeError, SymdiffError
from .evaluate import evaluate
from .graph import Node, const, var
from .ops import PUBLIC as _PUBLIC
from .ops import define_op, stop_gradient

globals().update(_PUBLIC)  # the op library's public constructors: exp, matmul, sum, ...

# -- loops (symdiff/loops/): sd.scan, differentiated as a reverse loop --------------------------
from .loops import scan
# -- higher-order derivatives (symdiff/higher.py) ---------------------------------------------
from .higher import derivative, hessian, hvp, jacobian
from . import linalg  # the namespace sd.linalg
# -- rewrites (symdiff/rewrite/) -------------------------------------------------------------
from .rewrite import optimize
# -- inspection (symdiff/inspect/): heavy libraries load on first use --------------------------
from .inspect import (
    GraphvizNotFoundError,
    Stats,
    from_sympy,
    latex,
    render,
    show,
    stats,
    to_dot,
    to_html,
    to_networkx,
    to_sympy,
)
# -- compiled functions (symdiff/function.py, backed by codegen/) ----------------------------
from .function import CompiledFunction, function
# -- specs (symdiff/spec/) -------------------------------------------------------------------
from .spec import Spec, SpecError, compile_spec, load_spec, spec_module

__all__ = [
    "grad", "jvp", "vjp", "scan", "derivative", "hessian", "hvp", "jacobian", "evaluate",
    "Node", "const", "var", "define_op", "stop_gradient",
    "BindingError", "GradError", "ShapeError", "SymdiffError",
    *_PUBLIC,
    "show", "to_dot", "to_html", "to_networkx", "render", "to_sympy", "latex", "from_sympy",
    "stats",
    "Stats", "GraphvizNotFoundError",
    "optimize", "linalg",
    "function", "CompiledFunction",
    "Spec", "SpecError", "compile_spec", "load_spec", "spec_module",
]
