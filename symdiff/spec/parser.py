"""The safe expression parser of model specs: Python syntax read with `ast`, never eval'd.

An expression is walked node by node against a whitelist (names of spec symbols, numeric
literals, the operators + - * / ** @ and comparisons, unary -, `.T`, basic subscripts, and
calls of the symdiff functions below with literal keyword arguments such as axis=1).
Each accepted node is built through the public API, so shapes are checked as the
expression is read, and any error points at the column of the sub-expression at fault.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import keyword
import sys
import threading
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError, SymdiffError
from ..graph import Node, const
from ..ops import spec_functions
from ..shapes import fmt_shape, is_float
from .errors import SpecError

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
           ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%"}
_COMPARE = {ast.Lt: ("<", "less"), ast.LtE: ("<=", "less_equal"), ast.Gt: (">", "greater"),
            ast.GtE: (">=", "greater_equal"), ast.Eq: ("==", "equal"),
            ast.NotEq: ("!=", "not_equal")}
_UNSUPPORTED_BINARY = {ast.LShift: "<<", ast.RShift: ">>",
                       ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^"}

# Friendly names for syntax a spec may not use.
_DISALLOWED = {
    ast.Lambda: "a lambda", ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension", ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression", ast.Dict: "a dict", ast.Set: "a set",
    ast.JoinedStr: "an f-string", ast.NamedExpr: "an assignment expression (:=)",
    ast.Starred: "a starred argument", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.FormattedValue: "an f-string",
}


Position = tuple[int, int]  # (1-based line in the expression, byte offset in that line)


@dataclass(frozen=True)
class Location:
    """Where an expression comes from: file, section and key (and the file line if known)."""

    file: str | None
    section: str
    key: str
    line: int | None = None


def _newlines(text: str) -> str:
    """The text with Python's other line breaks (\\r\\n, \\r) made \\n, so that AST line
    numbers index `text.split("\\n")`."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _syntax_tree(text: str, where: Location) -> ast.expr:
    """The expression's AST, or a SpecError at the column Python's parser points at."""
    text = _newlines(text)
    if not text.strip():
        raise SpecError("the expression is empty", file=where.file, section=where.section,
                        key=where.key, line=where.line)
    try:
        with warnings.catch_warnings():  # e.g. "1if": the error or the value is the answer
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = _parse_deep(text.strip("\n"))
    except (RecursionError, MemoryError):
        raise SpecError("the expression is nested too deeply; split it into [define] entries",
                        file=where.file, section=where.section, key=where.key,
                        line=where.line) from None
    except SyntaxError as err:
        lines = text.strip("\n").split("\n")
        row = min(err.lineno or 1, len(lines))
        message = err.msg
        col = err.offset or 0  # Python counts this one in characters, 1-based
        if not 1 <= col <= len(lines[row - 1]):
            row, message = len(lines), f"{message} (the expression ends too early)"
            col = len(lines[-1]) + 1
        raise SpecError(f"invalid syntax: {message}", file=where.file, section=where.section,
                        key=where.key, line=where.line, column=col,
                        expression=text.strip("\n"), expr_line=row) from None
    return tree.body


# Python turns its parse tree into `ast` objects recursively, within the recursion limit
# (times 3); a sum of thousands of terms is that deep. On the main thread (whose stack is
# the process's, 8 MB on Linux and macOS) the limit is raised for the parse alone, by the
# length of the text, up to this bound (checked safe on an 8 MB stack). Other threads may
# have far smaller stacks and keep Python's limit.
MAX_PARSE_DEPTH = 60_000


def _parse_deep(text: str) -> ast.Expression:
    old = sys.getrecursionlimit()
    wanted = min(len(text) // 3, MAX_PARSE_DEPTH // 3) + 1000
    if wanted <= old or threading.current_thread() is not threading.main_thread():
        return ast.parse(text, mode="eval")
    sys.setrecursionlimit(wanted)
    try:
        return ast.parse(text, mode="eval")
    finally:
        sys.setrecursionlimit(old)


def referenced_names(text: str, where: Location) -> list[tuple[str, ast.AST]]:
    """The names an expression reads (not the functions it calls), with their AST nodes."""
    body = _syntax_tree(text, where)
    called = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
    return [(n.id, n) for n in ast.walk(body)
            if isinstance(n, ast.Name) and id(n) not in called]


def parse_expression(text: str, names: Mapping[str, Node], where: Location, *,
                     allow_tuple: bool = False,
                     functions: Mapping[str, Callable[..., Node]] | None = None) \
        -> Node | tuple[Node, ...]:
    """Build the graph of one spec expression; names are the symbols visible to it and
    `functions` the functions it may call (default: the library's, `spec_functions()`).
    With allow_tuple, a top-level tuple `(a, b)` gives a tuple of nodes."""
    text = _newlines(text)
    body = _syntax_tree(text, where)
    builder = _Builder(text.strip("\n"), names, where,
                       spec_functions() if functions is None else functions)
    try:
        if allow_tuple and isinstance(body, ast.Tuple):
            if not body.elts:
                raise builder.error(body, "an empty tuple is not an expression")
            return tuple(builder.node(e) for e in body.elts)
        return builder.node(body)
    except RecursionError:
        raise SpecError("the expression is nested too deeply; split it into [define] entries",
                        file=where.file, section=where.section, key=where.key,
                        line=where.line) from None


class _Builder:
    """Walks one expression's AST, building nodes through the API."""

    def __init__(self, text: str, names: Mapping[str, Node], where: Location,
                 functions: Mapping[str, Callable[..., Node]]) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.names = names
        self.where = where
        self.functions = functions

    # -- errors ---------------------------------------------------------------------
    def column(self, node: ast.AST, at: Position | None = None) -> tuple[int, int]:
        """(line, 1-based column in characters) of an AST node (or of the position `at`)
        inside the expression."""
        row, offset = at if at is not None else (getattr(node, "lineno", 1),
                                                  getattr(node, "col_offset", 0))
        line = self.lines[row - 1].encode("utf-8")
        return row, len(line[:offset].decode("utf-8", errors="replace")) + 1

    def error(self, node: ast.AST, message: str, at: Position | None = None) -> SpecError:
        row, col = self.column(node, at)
        return SpecError(message, file=self.where.file, section=self.where.section,
                         key=self.where.key, line=self.where.line, column=col,
                         expression=self.text, expr_line=row)

    def source(self, node: ast.AST) -> str:
        """The text of a sub-expression, for a message: cut short when long (the echo
        under the message shows where it is)."""
        text = ast.get_source_segment(self.text, node)
        if text is None:
            try:
                text = ast.unparse(node)
            except RecursionError:
                text = "..."
        return _clip(" ".join(text.split()))

    def build(self, node: ast.AST, action: Callable[[], Any], at: Position | None = None,
              operands: Sequence[tuple[ast.AST, Any]] = ()) -> Any:
        """Run an API call; a symdiff error (shape mismatch, bad axis ...) points at `node`
        and gives the shapes of its tensor operands."""
        try:
            return action()
        except SpecError:
            raise
        except (SymdiffError, TypeError, ValueError, OverflowError) as err:
            shapes = [f"`{self.source(a)}` has shape {fmt_shape(v.shape)}"
                      for a, v in operands if isinstance(v, Node)]
            detail = f" ({', '.join(shapes)})" if shapes and isinstance(err, ShapeError) else ""
            raise self.error(node, f"in `{self.source(node)}`{detail}: {err}", at) from None

    # -- dispatch -------------------------------------------------------------------
    def node(self, node: ast.AST) -> Node:
        """A tensor-valued sub-expression, as a Node."""
        value = self.tensor(node)
        if isinstance(value, Node):
            return value
        value = self.fit(node, value, None)
        return self.build(node, lambda: const(value))

    def fit(self, node: ast.AST, value: Any, like: Sequence[Any]) -> Any:
        """A Python number about to meet tensors (`like`, the other operands; None for a
        literal that becomes a constant itself): unchanged if it fits the dtype it will take
        (the float dtype of a float operand, else int64 or float64), else a SpecError at it.
        Literal arithmetic before that point is exact, as in Python."""
        if isinstance(value, Node) or isinstance(value, bool):
            return value
        floats = [v.dtype for v in like or () if isinstance(v, Node) and is_float(v.dtype)]
        dtype = floats[0] if floats else ("int64" if isinstance(value, int) else "float64")
        if dtype == "int64":
            if -2**63 <= value < 2**63:
                return value
            problem = f"is {_describe(value)}, outside the int64 range"
        else:
            try:
                with np.errstate(over="ignore"):
                    converted = np.array(float(value), dtype=dtype)
                if np.isfinite(converted) or not np.isfinite(value):
                    return value
            except OverflowError:
                pass
            problem = f"is {_describe(value)}, too large for {dtype}"
        raise self.error(node, f"the literal value `{self.source(node)}` {problem}; "
                               f"it cannot be converted to the {dtype} it meets here")

    def tensor(self, node: ast.AST, pieces: bool = False) -> Node | int | float | bool:
        """A tensor-valued sub-expression; a literal stays a Python number (weakly typed).
        A call giving several nodes (split) is allowed only with `pieces`, where a
        subscript picks one."""
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            what = _DISALLOWED.get(type(node), f"`{self.source(node)}`")
            raise self.error(node, f"{what} is not allowed in a spec expression")
        value = method(node)
        if isinstance(value, tuple) and not pieces:
            raise self.error(node, f"`{self.source(node)}` gives {len(value)} pieces; pick one "
                                   "by its number, e.g. split(x, 2)[0]")
        return value

    # -- leaves ---------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> Node:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.functions:
            raise self.error(node, f"{node.id} is a function; call it, e.g. {node.id}(x)")
        known = sorted(self.names)
        close = difflib.get_close_matches(node.id, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known[:20]) if known else "none"
        if len(known) > 20:
            listing += f", ... ({len(known)} in all)"
        raise self.error(node, f"unknown name {node.id!r}{hint} (known names: {listing})")

    def visit_Constant(self, node: ast.Constant) -> int | float | bool:
        value = node.value
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            raise self.error(node, "a string literal is not allowed here (strings are only "
                                   "for einsum subscripts, shape entries and dtype names)")
        if value is None or value is Ellipsis:
            raise self.error(node, f"{value!r} is not a tensor; it is only allowed inside a "
                                   "subscript or as a function's literal argument")
        raise self.error(node, f"a {type(value).__name__} literal is not allowed")

    def visit_List(self, node: ast.List | ast.Tuple) -> Node:
        """A nested list of numeric literals is a constant tensor."""
        if not _is_literal(node):
            kind = "tuple" if isinstance(node, ast.Tuple) else "list"
            raise self.error(node, f"a {kind} of expressions is not allowed here; join "
                                   "tensors with stack([a, b]) or concatenate([a, b])")
        value = self.literal(node, "a constant tensor", allow_str=False)
        try:
            arr = np.asarray(value)
        except ValueError:
            raise self.error(node, "a list of lists must be rectangular to be a constant "
                                   "tensor") from None
        if arr.dtype.kind not in "biuf":
            raise self.error(node, "a constant tensor must hold numbers")
        return self.build(node, lambda: const(arr))

    visit_Tuple = visit_List

    # -- operators ------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> Node | int | float:
        op = type(node.op)
        if op in _UNSUPPORTED_BINARY:
            raise self.error(node, f"the operator {_UNSUPPORTED_BINARY[op]} is not supported "
                                   "(use + - * / ** @)", self.operator_offset(node))
        left, right = self.operands(node)
        return self.combine(node, left, right)

    def operands(self, node: ast.BinOp) -> tuple[Any, Any]:
        """The two operands of a binary operator. A left-deep chain (`a + b + c + ...`, as
        a sum of thousands of terms reads) is walked iteratively, not by recursion."""
        chain = [node]
        while isinstance(chain[-1].left, ast.BinOp) and \
                type(chain[-1].left.op) not in _UNSUPPORTED_BINARY:
            chain.append(chain[-1].left)
        if len(chain) > 1:
            value = self.tensor(chain[-1])
            for inner in reversed(chain[1:-1]):
                value = self.combine(inner, value, self.tensor(inner.right))
            return value, self.tensor(node.right)
        return self.tensor(node.left), self.tensor(node.right)

    def combine(self, node: ast.BinOp, left: Any, right: Any) -> Any:
        """`left <op> right` for already evaluated operands of `node`."""
        symbol = _BINARY[type(node.op)]
        if not isinstance(left, Node) and not isinstance(right, Node):
            return self.fold(node, symbol, left, right)
        left = self.fit(node.left, left, [right])
        right = self.fit(node.right, right, [left])
        action = {
            "+": lambda: left + right, "-": lambda: left - right,
            "*": lambda: left * right, "/": lambda: left / right,
            "**": lambda: left ** right, "@": lambda: left @ right,
            "//": lambda: left // right, "%": lambda: left % right,
        }[symbol]
        operands = ((node.left, left), (node.right, right))
        return self.build(node, action, self.operator_offset(node), operands)

    def fold(self, node: ast.BinOp, symbol: str, left: Any, right: Any) -> int | float:
        """Literal arithmetic, exact as in Python (ints of any size); a result too large
        to be worth computing (an exponent tower) is refused by its estimated size first."""
        at = self.operator_offset(node)
        if symbol == "@":
            raise self.error(node, "@ needs tensor operands, not two numbers", at)
        bits = _result_bits(symbol, left, right)
        if bits > MAX_LITERAL_BITS:
            raise self.error(node, f"`{self.source(node)}` would be an integer of more "
                                   f"than {MAX_LITERAL_BITS} bits; literal arithmetic is "
                                   "limited to that size", at)
        try:
            if symbol == "+":
                value = left + right
            elif symbol == "-":
                value = left - right
            elif symbol == "*":
                value = left * right
            elif symbol == "/":
                value = left / right
            elif symbol == "//":
                value = left // right
            elif symbol == "%":
                value = left % right
            else:
                value = left ** right
        except ZeroDivisionError:
            raise self.error(node, f"`{self.source(node)}` divides by zero", at) \
                from None
        except OverflowError:
            raise self.error(node, f"`{self.source(node)}` overflows a float64", at) \
                from None
        if isinstance(value, complex):
            raise self.error(node, f"`{self.source(node)}` is a complex number", at)
        if isinstance(value, bool):
            value = int(value)
        return value

    def operator_offset(self, node: ast.BinOp | ast.Compare) -> Position | None:
        """(line, byte offset) of the operator between two operands, for the error column:
        the first character after the left operand that is not a space or a ')'."""
        left = node.left
        row, offset = left.end_lineno or 1, left.end_col_offset or 0
        while row <= len(self.lines):
            line = self.lines[row - 1].encode("utf-8")
            rest = line[offset:]
            skipped = len(rest) - len(rest.lstrip(b" \t)"))
            if skipped < len(rest):
                return row, offset + skipped
            row, offset = row + 1, 0
        return None

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Node | int | float:
        if isinstance(node.op, ast.USub):
            value = self.tensor(node.operand)
            if not isinstance(value, Node):
                return -int(value) if isinstance(value, bool) else -value  # exact, as Python
            return self.build(node, lambda: -value)
        if isinstance(node.op, ast.UAdd):
            return self.tensor(node.operand)
        if isinstance(node.op, ast.Not):
            raise self.error(node, "`not` is not allowed; compare explicitly or use where(...)")
        raise self.error(node, "the operator ~ is not supported")

    def visit_Compare(self, node: ast.Compare) -> Node:
        if len(node.ops) > 1:
            raise self.error(node, "chained comparisons (a < b < c) are not supported; "
                                   "compare two operands at a time")
        op = type(node.ops[0])
        if op not in _COMPARE:
            raise self.error(node, "only < <= > >= == != comparisons are allowed",
                             self.operator_offset(node))
        symbol, name = _COMPARE[op]
        left, right = self.tensor(node.left), self.tensor(node.comparators[0])
        left = self.fit(node.left, left, [right])
        right = self.fit(node.comparators[0], right, [left])
        fn = self.functions[name]
        operands = ((node.left, left), (node.comparators[0], right))
        return self.build(node, lambda: fn(left, right), self.operator_offset(node), operands)

    def visit_BoolOp(self, node: ast.BoolOp) -> Node:
        word = "and" if isinstance(node.op, ast.And) else "or"
        raise self.error(node, f"`{word}` is not allowed; use where(cond, a, b) or "
                               "minimum/maximum of comparisons")

    def visit_IfExp(self, node: ast.IfExp) -> Node:
        raise self.error(node, "`a if c else b` is not allowed; use where(c, a, b)")

    # -- attributes, subscripts ------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> Node:
        if node.attr != "T":
            raise self.error(node, f"attribute access .{node.attr} is not allowed (only .T "
                                   "is); call the function instead, e.g. sum(x, axis=0)")
        value = self.node(node.value)
        return self.build(node, lambda: value.T)

    def visit_Subscript(self, node: ast.Subscript) -> Node:
        if isinstance(node.value, ast.Call):
            pieces = self.tensor(node.value, pieces=True)
            if isinstance(pieces, tuple):  # a function giving several nodes: split
                k = self.int_literal(node.slice, "the number of a piece")
                if not -len(pieces) <= k < len(pieces):
                    raise self.error(node.slice, f"`{self.source(node.value)}` gives "
                                                 f"{len(pieces)} pieces; there is no piece {k}")
                return pieces[k]
            value = pieces if isinstance(pieces, Node) else \
                self.build(node.value, lambda: const(pieces))
        else:
            value = self.node(node.value)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = tuple(self.index_item(item) for item in items)
        operands = [(node.value, value)] + [(a, i) for a, i in zip(items, index, strict=True)
                                            if isinstance(i, Node)]
        return self.build(node, lambda: value[index if len(index) != 1 else index[0]],
                          operands=operands)

    def index_item(self, item: ast.AST) -> Any:
        """One entry of an index: an int, a slice of ints, None, `...`, a list of ints, or
        an integer tensor expression (`logp[arange('n'), labels]`)."""
        if isinstance(item, ast.Slice):
            parts = [None if p is None else self.int_literal(p, "a slice bound")
                     for p in (item.lower, item.upper, item.step)]
            return slice(*parts)
        if isinstance(item, ast.Constant) and (item.value is None or item.value is Ellipsis):
            return item.value
        if isinstance(item, (ast.List, ast.Tuple)) and _is_literal(item):
            values = self.literal(item, "an index list", allow_str=False)
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise self.error(item, "an index list must hold integers")
            return list(values)
        if _is_literal(item):
            return self.int_literal(item, "an index")
        return self.tensor(item)

    def int_literal(self, node: ast.AST, what: str) -> int:
        value = self.literal(node, what, allow_str=False)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(node, f"{what} must be an integer literal (only basic indexing: "
                                   "ints, slices, None and ...)")
        if not -2**63 <= value < 2**63:
            raise self.error(node, f"{what} {_describe(value)} is outside the int64 range "
                                   "that NumPy indexes with")
        return value

    # -- literals -------------------------------------------------------------------
    def literal(self, node: ast.AST, what: str, *, allow_str: bool) -> Any:
        """A static literal: number, bool, None, string (if allowed), or a tuple of them."""
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str) and not allow_str:
                raise self.error(node, f"a string literal is not allowed as {what}")
            if value is None or isinstance(value, (bool, int, float, str)):
                return value
            raise self.error(node, f"{value!r} is not allowed as {what}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = node.operand
            if isinstance(inner, ast.Constant) and type(inner.value) in (int, float):
                return -inner.value if isinstance(node.op, ast.USub) else inner.value
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.literal(e, what, allow_str=allow_str) for e in node.elts)
        raise self.error(node, f"{what} must be a literal (a number, True/False, None, or a "
                               f"tuple of them), not `{self.source(node)}`")

    # -- calls ----------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.error(node, f"method calls (.{node.func.attr}(...)) are not "
                                       "allowed; call the function, e.g. sum(x, axis=0)")
            if type(node.func) in _DISALLOWED:
                raise self.error(node.func, f"{_DISALLOWED[type(node.func)]} is not allowed "
                                            "in a spec expression")
            raise self.error(node, f"only calls of symdiff functions are allowed, not "
                                   f"`{self.source(node.func)}(...)`")
        name = node.func.id
        fn = self.functions.get(name)
        if fn is None:
            known = sorted(self.functions)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]}()?" if close else ""
            what = f"{name!r} is a symbol, not a function" if name in self.names else \
                f"unknown function {name}(){hint}"
            raise self.error(node, f"{what} (functions: {', '.join(known)})")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(kw.value, "**keyword unpacking is not allowed")
        try:
            bound = inspect.signature(fn).bind(*node.args,
                                               **{kw.arg: kw.value for kw in node.keywords})
        except TypeError as err:
            raise self.error(node, f"bad arguments to {name}(): {err}") from None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        tensor_asts: list[ast.AST] = []
        by_keyword: list[tuple[ast.AST, Any]] = []
        order = list(inspect.signature(fn).parameters)
        params: list[str] = []  # the parameter of each positional argument
        for param, value in bound.arguments.items():
            kind = inspect.signature(fn).parameters[param].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                args.extend(self.argument(fn, param, v) for v in value)
                tensor_asts.extend(value)
                params.extend([param] * len(value))
            elif kind is inspect.Parameter.KEYWORD_ONLY or order.index(param) != len(args):
                # by keyword, also when an earlier parameter was left to its default
                kwargs[param] = self.argument(fn, param, value)
                by_keyword.append((value, kwargs[param]))
            else:
                args.append(self.argument(fn, param, value))
                tensor_asts.append(value)
                params.append(param)
        tensors = list(args)  # Python numbers passed as tensors must fit what they meet
        args = [self.fit(value, arg, tensors) if isinstance(arg, (int, float)) and
                fn.signature.kind(params[k]) == "tensor" else arg
                for k, (value, arg) in enumerate(zip(tensor_asts, args, strict=True))]
        operands = [(value, arg) for value, arg in zip(tensor_asts, args, strict=False)]
        operands += by_keyword
        return self.build(node, lambda: fn(*args, **kwargs), operands=operands)

    def argument(self, fn: Callable[..., Node], param: str, value: ast.AST) -> Any:
        """One argument of an API call, read as the function's signature says."""
        fname = fn.__name__
        signature = fn.signature
        kind = signature.kind(param)
        if kind == "tensor":
            return self.tensor(value)
        if kind == "list":
            if not isinstance(value, (ast.List, ast.Tuple)):
                raise self.error(value, f"{fname}() takes a list of expressions, e.g. "
                                        f"{fname}([a, b], axis=0)")
            return [self.tensor(e) for e in value.elts]
        what, strings = signature.statics[param]
        result = self.literal(value, f"{param}= ({what})", allow_str=strings)
        if param == "keepdims" and not isinstance(result, bool):
            raise self.error(value, "keepdims= must be True or False")
        if param == "shape" and not isinstance(result, tuple):
            result = (result,)
        if param == "shape":  # dim names match as names do: NFKC-normalized
            result = tuple(normalize_name(d) if isinstance(d, str) else d for d in result)
            problem = _shape_problem(result)
            if problem:
                raise self.error(value, f"shape= {problem}")
        return result


MAX_NDIM = 64 if int(np.__version__.split(".")[0]) >= 2 else 32  # NumPy's array rank limit


def _shape_problem(shape: tuple) -> str | None:
    """Why NumPy can hold no array of this (literal) shape, if so."""
    if len(shape) > MAX_NDIM:
        return f"has {len(shape)} dims; NumPy arrays have at most {MAX_NDIM}"
    fixed = [abs(d) for d in shape if isinstance(d, int) and not isinstance(d, bool)]
    size = 1  # (a -1 of reshape is left to the API)
    for d in fixed:
        size *= d
        if size >= 2**63:
            return f"{_clip(repr(shape))} has more elements than any NumPy array can (2**63 - 1)"
    return None


MAX_LITERAL_BITS = 1 << 16  # integer literal arithmetic beyond this is refused, unevaluated


def _result_bits(symbol: str, left: Any, right: Any) -> int:
    """An upper estimate of the bit length of an integer result of literal arithmetic
    (0 when the result is a float, whose size is bounded anyway)."""
    if not isinstance(left, int) or not isinstance(right, int):
        return 0
    a, b = abs(int(left)).bit_length(), abs(int(right)).bit_length()
    if symbol in "+-":
        return max(a, b) + 1
    if symbol == "*":
        return a + b
    if symbol == "**" and right > 1:
        return a * right if a > 1 else a
    return 0


def _describe(value: int | float) -> str:
    """A number for a message: in full when short, else its magnitude (a huge int is not
    even printable beyond 4300 digits)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits (about 2**{value.bit_length() - 1})"
    return repr(value)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_literal(node: ast.AST) -> bool:
    """A number (possibly negated), or a list or tuple of such literals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_literal(e) for e in node.elts)
    return False


def normalize_name(name: str) -> str:
    """A name as Python reads it in an expression: NFKC-normalized, so that look-alike
    characters (fullwidth 'ｘ', ligatures, ...) name the same symbol, as in Python code."""
    return unicodedata.normalize("NFKC", name)


def is_identifier(name: str) -> bool:
    """A name usable as a spec symbol and as a Python argument name."""
    return name.isidentifier() and not keyword.iskeyword(name)
