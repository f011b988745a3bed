"""Inspecting a graph and its derivative: the text listing, networkx and Graphviz, SymPy
and LaTeX, cost figures. All printers share one numbering, so `%7` in `show` is `%7` in
the picture and in the networkx graph. SymPy, networkx and pydot are imported by the
functions that use them, not here, so that `import symdiff` stays light."""

from __future__ import annotations

from typing import Any

from .dot import GraphvizNotFoundError, render, to_dot, to_networkx
from .listing import show
from .notebook import install as _install_notebook_reprs
from .stats import Stats, stats

# The SymPy bridge loads SymPy, so it is imported on first use.

def to_sympy(nodes: Any, symbols: Any = None, matrix: bool = False) -> Any:
    """The SymPy expression of a scalar or elementwise graph, or with `matrix=True` a
    SymPy matrix expression (MatrixSymbol) of a linear-algebra graph (see
    sympy_bridge.to_sympy)."""
    from .sympy_bridge import to_sympy

    return to_sympy(nodes, symbols, matrix)


def latex(node: Any, symbols: Any = None, matrix: bool = False) -> str:
    """LaTeX of a graph: through SymPy for a scalar or elementwise graph (see
    sympy_bridge.latex), else, or with `matrix=True`, in matrix-calculus notation with
    named steps (see latex.matrix_latex; SymPy is not imported then)."""
    if matrix:
        from .latex import matrix_latex

        return matrix_latex(node)
    from .sympy_bridge import latex

    return latex(node, symbols)


def to_html(nodes: Any, path: Any = None, *, title: str | None = None,
            layout: str = "auto") -> Any:
    """The interactive graph page, written to `path` or returned (see html.to_html)."""
    from .html import to_html

    return to_html(nodes, path, title=title, layout=layout)


def from_sympy(expr: Any, mapping: Any) -> Any:
    """A graph node computing a SymPy expression (see sympy_bridge.from_sympy)."""
    from .sympy_bridge import from_sympy

    return from_sympy(expr, mapping)

_install_notebook_reprs()

__all__ = [
    "GraphvizNotFoundError", "Stats", "from_sympy", "latex", "render", "show", "stats",
    "to_dot", "to_html", "to_networkx", "to_sympy",
]
