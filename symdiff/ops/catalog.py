"""The op set as a table, read from the registries (PUBLIC, NUMPY and each op's rules):
what the README lists, so that the README cannot drift from the library."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..graph import Node
from .base import NUMPY, PUBLIC, Op


def differentiable_in(fn: Callable[..., Node]) -> list[str]:
    """The tensor parameters a derivative flows through: those with a VJP rule when the
    function builds one op of its own, every tensor parameter when it composes others."""
    signature = fn.signature  # type: ignore[attr-defined]
    params = [p for p in inspect.signature(fn).parameters
              if signature.kind(p) in ("tensor", "list") and p not in signature.integer]
    op: Op | None = getattr(fn, "op", None)
    if op is None:
        return params
    if op.variadic or len(op.vjp) != len(params):
        return params if any(rule is not None for rule in op.vjp) else []
    return [p for p, rule in zip(params, op.vjp, strict=True) if rule is not None]


def rows() -> list[tuple[str, str, str]]:
    """(symdiff function, NumPy equivalents, differentiable in) for every public function."""
    table = []
    for name in sorted(PUBLIC):
        fn = PUBLIC[name]
        if getattr(getattr(fn, "op", None), "module", None) is not None:
            continue  # a user's op (symdiff.define_op), not the library's
        mirrors = [numpy_name for numpy_name, f in NUMPY.items() if f is fn]
        table.append((f"`{name}`", ", ".join(f"`np.{m}`" for m in sorted(mirrors)) or "—",
                      ", ".join(differentiable_in(fn)) or "—"))
    return table


def markdown_table() -> str:
    lines = ["| symdiff | NumPy | differentiable in |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows()]
    return "\n".join(lines) + "\n"


MARKERS = ("<!-- op table: generated -->\n", "<!-- end of op table -->")


def readme_with_table(text: str) -> str:
    """`text` (the README) with the table between its markers made anew."""
    start, end = MARKERS
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError("the README has no op table markers")
    return head + start + markdown_table() + end + rest.partition(end)[2]


if __name__ == "__main__":  # python3 -m symdiff.ops.catalog README.md: rewrite its table
    import sys
    from pathlib import Path

    for name in sys.argv[1:]:
        path = Path(name)
        path.write_text(readme_with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
