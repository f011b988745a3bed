"""Inspecting a graph and its derivative: the text listing, networkx and Graphviz, SymPy
and LaTeX, cost figures. All printers share one numbering, so `%7` in `show` is `%7` in
the picture and in the networkx graph."""

from .dot import GraphvizNotFoundError, render, to_dot, to_networkx
from .listing import show
from .stats import Stats, stats
from .sympy_bridge import from_sympy, latex, to_sympy

__all__ = [
    "GraphvizNotFoundError", "Stats", "from_sympy", "latex", "render", "show", "stats",
    "to_dot", "to_networkx", "to_sympy",
]
