"""SpecError: a problem in a model spec, located by file, section, key and column."""

from __future__ import annotations

from ..errors import SymdiffError


class SpecError(SymdiffError, ValueError):
    """A model spec that cannot be loaded, with where the problem is.

    Fields (None when unknown): `file`; `section` ("define", "derivatives", ...; "" for a
    top-level key); `key` (the entry's name, or "loss_grad.wrt" for a field of an entry);
    `line` (1-based, in the file); `column` (1-based, inside the expression string, or in
    the file for a TOML syntax error); `expression` (the expression text, shown with a
    caret under the column); `message` (what is wrong and what to do).
    """

    def __init__(self, message: str, *, file: str | None = None, section: str | None = None,
                 key: str | None = None, line: int | None = None, column: int | None = None,
                 expression: str | None = None, expr_line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.section = section
        self.key = key
        self.line = line
        self.column = column
        self.expression = expression
        self.expr_line = expr_line  # line inside a multi-line expression
        super().__init__(str(self))

    def located(self, **where: object) -> SpecError:
        """A copy with missing location fields filled in from `where`."""
        fields = {name: getattr(self, name) for name in
                  ("file", "section", "key", "line", "column", "expression", "expr_line")}
        for name, value in where.items():
            if fields.get(name) is None:
                fields[name] = value
        return SpecError(self.message, **fields)  # type: ignore[arg-type]

    @property
    def location(self) -> str:
        """'model.toml:7: [define] h, column 9 of the expression' (the parts that are known)."""
        parts = []
        if self.file is not None:
            parts.append(self.file + (f":{self.line}" if self.line else ""))
        where = ""
        if self.section:
            where = f"[{self.section}]"
        if self.key:
            key = self.key if len(self.key) <= 80 else self.key[:77] + "..."
            where = f"{where} {key}".strip()
        if where:
            parts.append(where)
        if self.column is not None:
            if self.expression is None:
                parts.append(f"column {self.column}")
            elif self.expr_line and self.expression.count("\n"):
                parts.append(f"line {self.expr_line}, column {self.column} of the expression")
            else:
                parts.append(f"column {self.column} of the expression")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.expression is not None and self.column is not None:
            lines = self.expression.split("\n")
            row = lines[(self.expr_line or 1) - 1] if len(lines) >= (self.expr_line or 1) else ""
            row, caret = _window(row, self.column)
            text += f"\n    {row}\n    {' ' * (caret - 1)}^"
        return text


ECHO_WIDTH = 100  # characters of an expression line echoed under a message, at most


def _window(row: str, column: int) -> tuple[str, int]:
    """The part of a long expression line around `column` (1-based), marked with '...'
    where cut, and the column of the caret in it."""
    if len(row) <= ECHO_WIDTH:
        return row, column
    half = ECHO_WIDTH // 2
    start = max(0, min(column - 1 - half, len(row) - ECHO_WIDTH))
    stop = start + ECHO_WIDTH
    head = "..." if start > 0 else ""
    tail = "..." if stop < len(row) else ""
    return head + row[start:stop] + tail, column - start + len(head)
