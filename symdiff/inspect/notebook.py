"""Notebook displays of nodes (`_repr_html_`, `_repr_svg_`, `_repr_latex_`), attached to
Node from here so that the graph module does not depend on inspection; the libraries they
need load on use."""

from __future__ import annotations

from ..graph import Node


def _repr_svg_(self: Node) -> str | None:
    """A picture when Graphviz is there; None tells IPython to skip this format."""
    from .dot import repr_svg

    return repr_svg(self)


def _repr_latex_(self: Node) -> str | None:
    """A formula for scalar and elementwise graphs of a readable size, else None."""
    from .sympy_bridge import repr_latex

    return repr_latex(self)


def _repr_html_(self: Node) -> str | None:
    """A one-line summary and the interactive graph page, inline (see html.repr_html)."""
    from .html import repr_html

    return repr_html(self)


def install() -> None:
    Node._repr_html_ = _repr_html_  # type: ignore[attr-defined]
    Node._repr_svg_ = _repr_svg_  # type: ignore[attr-defined]
    Node._repr_latex_ = _repr_latex_  # type: ignore[attr-defined]
