"""Line layout of generated statements: calls and `if` conditions longer than the line
width are wrapped at their top-level commas or `or`s, as a person would write them."""

from __future__ import annotations

import io
import tokenize

WIDTH = 100


def wrap(line: str, width: int = WIDTH) -> list[str]:
    """`line` (indented, one statement) as one or more physical lines within `width` where
    possible; a line that cannot be split is returned as it is."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    text = line.strip()
    if text.startswith("if ") and text.endswith(":"):
        return _wrap_condition(indent, text[3:-1], width)
    return _wrap_call(indent, text, width) or [line]


def _wrap_condition(indent: str, condition: str, width: int) -> list[str]:
    parts = condition.split(" or ")
    lines = [f"{indent}if ({parts[0]}"]
    for part in parts[1:]:
        candidate = f"{lines[-1]} or {part}"
        if len(candidate) <= width - 2:
            lines[-1] = candidate
        else:
            lines.append(f"{indent}        or {part}")
    lines[-1] += "):"
    return lines


def _wrap_call(indent: str, text: str, width: int) -> list[str] | None:
    """Break `prefix(a, b, c)` after the opening parenthesis of its outermost call."""
    tokens = _tokens(text)
    if tokens is None:
        return None
    opens = [t for t in tokens if t.string == "("]
    if not opens or not text.endswith(")"):
        return None
    start = opens[0].start[1]
    depth, commas = 0, []
    for t in tokens:
        col = t.start[1]
        if col < start or t.type != tokenize.OP:
            continue
        if t.string in "([{":
            depth += 1
        elif t.string in ")]}":
            depth -= 1
            if depth == 0 and col != len(text) - 1:
                return None  # the first call closes before the end of the line
        elif t.string == "," and depth == 1:
            commas.append(col)
    bounds = [start + 1, *[c + 1 for c in commas], len(text) - 1]
    args = [text[a:b].strip().rstrip(",") for a, b in zip(bounds, bounds[1:], strict=False)]
    args = [a for a in args if a]
    inner = indent + " " * 8
    lines = [f"{indent}{text[: start + 1]}"]
    current = inner
    for k, arg in enumerate(args):
        piece = arg + ("," if k < len(args) - 1 else ")")
        if current.strip() and len(current) + 1 + len(piece) > width:
            lines.append(current.rstrip())
            current = inner
        current = f"{current} {piece}" if current.strip() else current + piece
    lines.append(current)
    return lines


def _tokens(text: str) -> list[tokenize.TokenInfo] | None:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
