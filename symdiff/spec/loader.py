"""Load a model spec (TOML) into graph nodes: symbols, named definitions, and one plan per
generated function (its arguments, in the contract's order, and its output nodes).

The format is the contract in DESIGN.md ("Model spec"). Every problem found here is a
SpecError naming the file, the section, the key and, for an expression, the column.
"""

from __future__ import annotations

import builtins
import collections
import difflib
import keyword
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..autodiff import grad
from ..errors import SymdiffError
from ..graph import Node, topo_order, var, variables
from ..higher import hessian, hvp
from ..ops import spec_functions
from ..shapes import DTYPES, fmt_shape, is_float
from .errors import SpecError
from .parser import (
    MAX_NDIM,
    Location,
    is_identifier,
    normalize_name,
    parse_expression,
    referenced_names,
)

SECTIONS = ("inputs", "params", "define", "outputs", "derivatives")
TOP_LEVEL = ("name", "description", "scan") + SECTIONS  # [scan.NAME]: spec/scans.py
KINDS = ("grad", "value_and_grad", "hessian", "hvp")
DERIVATIVE_KEYS = ("of", "wrt", "kind")
SYMBOL_KEYS = ("shape", "dtype")
HVP_ARGUMENT = "v"
RESERVED_NAMES = ("np", "numpy")
MAX_NAME_LENGTH = 40  # longer names are shortened in generated code
MAX_SIZE = 2**63 - 1  # elements of the largest array NumPy can describe

Pytree = Node | tuple  # a node, or a tuple of pytrees


@dataclass(frozen=True)
class FunctionPlan:
    """One function of the generated module: its arguments and its output pytree.

    kind is "output" for an [outputs] entry, else the derivative kind. For derivatives,
    `of` is the differentiated expression and `wrt` the symbols, `v` the hvp direction.
    """

    name: str
    kind: str
    args: tuple[Node, ...]
    outputs: Pytree
    doc: str
    expression: str
    of: Node | None = None
    wrt: tuple[Node, ...] = ()
    wrt_is_list: bool = False
    v: Node | None = None

    @property
    def signature(self) -> str:
        """'loss_grad(X, y, W, c, w, b)'."""
        return f"{self.name}({', '.join(a.name for a in self.args)})"


@dataclass
class Spec:
    """A loaded model spec. Mappings keep the file's declaration order."""

    name: str
    path: str | None
    description: str
    inputs: dict[str, Node]
    params: dict[str, Node]
    defines: dict[str, Node]
    functions: list[FunctionPlan] = field(default_factory=list)

    @property
    def symbols(self) -> dict[str, Node]:
        """Inputs then params: every argument a generated function may take."""
        return {**self.inputs, **self.params}

    def function(self, name: str) -> FunctionPlan:
        for plan in self.functions:
            if plan.name == name:
                return plan
        known = ", ".join(p.name for p in self.functions)
        raise SpecError(f"the spec has no function {name!r:.80} (functions: {known})",
                        file=self.path)

    def lookup(self, name: str) -> Pytree:
        """The nodes behind a function name, a [define] name or a symbol."""
        name = normalize_name(name)
        for plan in self.functions:
            if plan.name == name:
                return plan.outputs
        if name in self.defines:
            return self.defines[name]
        if name in self.symbols:
            return self.symbols[name]
        known = [p.name for p in self.functions] + list(self.defines)
        raise SpecError(f"{name!r:.80} is neither a function nor a [define] entry of the spec "
                        f"(known: {', '.join(known)})", file=self.path)


def load_spec(path: str | Path, ops: Sequence[ModuleType] = ()) -> Spec:
    """Read and load a spec file. Its expressions may call the library's functions and the
    user ops (symdiff.define_op) that the modules in `ops` define."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(f"cannot read the spec: {err.strerror or err}", file=str(path)) from None
    except UnicodeDecodeError as err:
        raise SpecError(f"the spec is not UTF-8 text ({err.reason})", file=str(path)) from None
    return loads_spec(text, file=str(path), ops=ops)


def loads_spec(text: str, file: str | None = None, ops: Sequence[ModuleType] = ()) -> Spec:
    """Load a spec from TOML text; `file` names it in error messages, `ops` as for
    load_spec."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(err, file) from None
    return _Loader(data, text, file, spec_functions(ops)).load()


def _toml_error(err: tomllib.TOMLDecodeError, file: str | None) -> SpecError:
    message = str(err)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    line = column = None
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[:match.start()]
    elif "(at end of document)" in message:
        message = message.replace(" (at end of document)", "") + " at the end of the file"
    return SpecError(f"TOML syntax error: {message}", file=file, line=line, column=column)


class _Loader:
    """One spec being loaded: holds the file text (to find key lines) and the nodes so far."""

    def __init__(self, data: dict[str, Any], text: str, file: str | None,
                 functions: dict[str, Any]) -> None:
        self.data = data
        self.functions = functions
        self.lines = text.splitlines()
        self.file = file
        self.key_lines: dict[tuple[str, str], int] | None = None  # built on first use
        self.inputs: dict[str, Node] = {}
        self.params: dict[str, Node] = {}
        self.defines: dict[str, Node] = {}
        self.where_defined: dict[str, tuple[str, str]] = {}  # name -> (section, raw key)

    # -- errors and locations ---------------------------------------------------------
    def line_of(self, section: str, key: str) -> int | None:
        """Best-effort line of `key` in `[section]` ("" for top level), for messages.
        The file is scanned once, into an index of (section, key) -> first line."""
        if self.key_lines is None:
            self.key_lines = _key_lines(self.lines)
        return self.key_lines.get((section, key))

    def where(self, section: str, key: str, field_name: str | None = None) -> Location:
        label = key if field_name is None else f"{key}.{field_name}"
        return Location(self.file, section, label, self.line_of(section, key))

    def error(self, message: str, section: str, key: str | None = None,
              field_name: str | None = None) -> SpecError:
        loc = self.where(section, key or "", field_name)
        return SpecError(message, file=self.file, section=section, key=loc.key or None,
                         line=loc.line if key else None)

    # -- the whole file ---------------------------------------------------------------
    def load(self) -> Spec:
        for key, value in self.data.items():
            if key not in TOP_LEVEL:
                close = difflib.get_close_matches(key, TOP_LEVEL, n=1)
                hint = f"; did you mean {close[0]!r:.80}?" if close else ""
                raise self.error(f"unknown top-level key {key!r:.80}{hint} (expected: "
                                 f"{', '.join(TOP_LEVEL)})", "", key)
            if key in SECTIONS and not isinstance(value, dict):
                raise self.error(f"{key} must be a table ([{key}] section)", "", key)
        name = self.data.get("name", Path(self.file).stem if self.file else "model")
        if not isinstance(name, str) or not name.strip():
            raise self.error("name must be a non-empty string", "", "name")
        description = self.data.get("description", "")
        if not isinstance(description, str):
            raise self.error("description must be a string", "", "description")
        for section, table in (("inputs", self.inputs), ("params", self.params)):
            for key, value in self.data.get(section, {}).items():
                table[normalize_name(key)] = self.symbol(section, key, value)
        from .scans import load_scans

        load_scans(self, self.data.get("scan", {}))
        self.load_defines(self.data.get("define", {}))
        functions: list[FunctionPlan] = []
        seen: dict[str, str] = {}
        for section in ("outputs", "derivatives"):
            for key, value in self.data.get(section, {}).items():
                self.check_function_name(section, key, seen)
                if section == "outputs":
                    functions.append(self.output(key, value))
                else:
                    functions.append(self.derivative(key, value))
        return Spec(name=name, path=self.file, description=description, inputs=self.inputs,
                    params=self.params, defines=self.defines, functions=functions)

    # -- symbols ----------------------------------------------------------------------
    def check_symbol_name(self, section: str, key: str) -> str:
        """The name `key` defines (NFKC-normalized), or a SpecError."""
        if not is_identifier(key):
            raise self.error(f"{key!r:.80} is not a valid name: use letters, digits and _ (not "
                             "starting with a digit, not a Python keyword)", section, key)
        problem = python_name_problem(key) if section in ("inputs", "params") else (
            "it is reserved for the generated module" if key.startswith("_")
            or key in RESERVED_NAMES else None)
        if problem:
            raise self.error(f"{key!r:.80} cannot be used as a name: {problem}; rename it",
                             section, key)
        name = normalize_name(key)
        if name in self.where_defined:
            first_section, first = self.where_defined[name]
            if first == key:
                raise self.error(f"{key!r:.80} is defined twice: in [{first_section}] and in "
                                 f"[{section}]; each name may be defined once", section, key)
            raise self.error(f"{first!r:.80} (in [{first_section}]) and {key!r:.80} (in "
                             f"[{section}]) are the same name {name!r:.80} as Python reads "
                             "names (Unicode NFKC normalization); rename one of them",
                             section, key)
        self.where_defined[name] = (section, key)
        return name

    def symbol(self, section: str, key: str, value: Any) -> Node:
        name = self.check_symbol_name(section, key)
        if not isinstance(value, dict):
            raise self.error(f"an entry of [{section}] must be a table such as "
                             f"{key} = {{ shape = [\"n\", 2] }}, not {_toml_type(value)}",
                             section, key)
        for field_name in value:
            if field_name not in SYMBOL_KEYS:
                raise self.error(f"unknown field {field_name!r:.80} (expected: shape, dtype)",
                                 section, key, field_name)
        shape = value.get("shape", [])
        if not isinstance(shape, list) or not all(
                (isinstance(d, int) and not isinstance(d, bool) and d >= 0)
                or (isinstance(d, str) and is_identifier(d)) for d in shape):
            raise self.error("shape must be a list of non-negative ints and symbolic dim "
                             f"names (identifiers), e.g. [\"n\", 2]; got {shape!r:.80}",
                             section, key, "shape")
        if len(shape) > MAX_NDIM:
            raise self.error(f"shape has {len(shape)} dims; NumPy arrays have at most "
                             f"{MAX_NDIM}", section, key, "shape")
        fixed = [d for d in shape if isinstance(d, int)]
        if math.prod(fixed) > MAX_SIZE:
            raise self.error(f"shape {fmt_shape(tuple(shape))} has more elements than any "
                             "NumPy array can (2**63 - 1)", section, key, "shape")
        dtype = value.get("dtype", "float64")
        if dtype not in DTYPES:
            raise self.error(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r:.80}",
                             section, key, "dtype")
        return var(name, [normalize_name(d) if isinstance(d, str) else d for d in shape],
                   dtype)

    # -- [define] ---------------------------------------------------------------------
    def load_defines(self, table: Mapping[str, Any]) -> None:
        texts: dict[str, str] = {}
        for key, value in table.items():
            name = self.check_symbol_name("define", key)
            if not isinstance(value, str):
                raise self.error(f"a [define] entry must be an expression string, such as "
                                 f"{key} = \"relu(X @ W + c)\", not {_toml_type(value)}",
                                 "define", key)
            texts[name] = value
        self.check_define_order(texts)
        for name, text in texts.items():
            node = self.expression(text, "define", self.where_defined[name][1])
            self.defines[name] = node.named(name)

    def check_define_order(self, texts: Mapping[str, str]) -> None:
        """Cycles and forward references, reported before building anything."""
        position = {key: i for i, key in enumerate(texts)}
        uses = {key: [(n, a) for n, a in referenced_names(text, self.where("define", key))
                      if n in texts] for key, text in texts.items()}
        for key in texts:
            for name, _ in uses[key]:
                if position[name] < position[key]:
                    continue  # a cycle has a use of a later entry (or of itself): not this
                cycle = self.cycle_through(key, name, uses)
                if cycle:
                    raise self.located_use(
                        key, name, texts, f"[define] has a cycle: {' -> '.join(cycle)}; "
                        "an expression cannot depend on itself")
                if position[name] > position[key]:
                    raise self.located_use(
                        key, name, texts, f"{name!r:.80} is used before it is defined; [define] "
                        f"entries are read in order, so move {name} above {key}")

    @staticmethod
    def cycle_through(start: str, first: str, uses: Mapping[str, list]) -> list[str] | None:
        """A path start -> first -> ... -> start, if there is one."""
        stack = [(first, [start, first])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            if node == start:
                return path
            if node in seen:
                continue
            seen.add(node)
            for name, _ in uses.get(node, []):
                stack.append((name, path + [name]))
        return None

    def located_use(self, key: str, name: str, texts: Mapping[str, str],
                    message: str) -> SpecError:
        where = self.where("define", key)
        for used, node in referenced_names(texts[key], where):
            if used == name:
                text = texts[key].strip("\n")
                line = text.split("\n")[node.lineno - 1].encode("utf-8")
                column = len(line[:node.col_offset].decode("utf-8", errors="replace")) + 1
                return SpecError(message, file=self.file, section="define", key=key,
                                 line=where.line, column=column, expression=text,
                                 expr_line=node.lineno)
        return self.error(message, "define", key)

    # -- expressions --------------------------------------------------------------------
    def visible(self) -> Mapping[str, Node]:
        """The symbols an expression may read: a view, not a copy per expression (a spec
        of thousands of entries would copy them all for each)."""
        return collections.ChainMap(self.defines, self.params, self.inputs)

    def expression(self, text: Any, section: str, key: str, field_name: str | None = None,
                   *, allow_tuple: bool = False) -> Any:
        if not isinstance(text, str):
            raise self.error(f"expected an expression string, not {_toml_type(text)}",
                             section, key, field_name)
        return parse_expression(text, self.visible(), self.where(section, key, field_name),
                                allow_tuple=allow_tuple, functions=self.functions)

    def arguments(self, roots: Sequence[Node], extra: Sequence[Node] = ()) -> tuple[Node, ...]:
        """The spec symbols the roots depend on, plus `extra`, in declaration order."""
        used = set(variables(list(roots))) | set(extra)
        return tuple(node for node in {**self.inputs, **self.params}.values() if node in used)

    def check_dims(self, section: str, key: str, roots: Sequence[Node],
                   args: Sequence[Node]) -> None:
        """Every symbolic dim a function's graph builds (broadcast_to(x, shape=('m', 3)))
        must be the size of one of its arguments, else the generated code cannot know it."""
        bound = {d for a in args for d in a.shape if isinstance(d, str)}
        for node in topo_order(list(roots)):
            for d in node.attrs.get("shape", ()) if node.kind == "op" else ():
                if isinstance(d, str) and d not in bound:
                    have = ", ".join(sorted(bound)) or "none"
                    raise self.error(f"symbolic dim {d!r:.80} (in {node.op.name}) is not the size "
                                     f"of any argument of {key}, so the generated function "
                                     f"cannot know it (the arguments' symbolic dims: {have}); "
                                     "use a fixed size or a dim of an input", section, key)

    # -- [outputs] and [derivatives] ----------------------------------------------------
    def check_function_name(self, section: str, key: str, seen: dict[str, str]) -> None:
        if not is_identifier(key):
            raise self.error(f"{key!r:.80} is not a valid function name: use letters, digits "
                             "and _ (not starting with a digit, not a Python keyword)",
                             section, key)
        problem = python_name_problem(key)
        if problem:
            raise self.error(f"{key!r:.80} cannot be used as a function name: {problem}; rename "
                             "it", section, key)
        if key in seen:
            raise self.error(f"function {key!r:.80} is defined twice: in [{seen[key]}] and in "
                             f"[{section}]; the generated module needs distinct names",
                             section, key)
        seen[key] = section

    def output(self, key: str, text: Any) -> FunctionPlan:
        if not isinstance(text, str):
            raise self.error(f"an [outputs] entry must be an expression string, such as "
                             f"{key} = \"yhat\", not {_toml_type(text)}", "outputs", key)
        result = self.expression(text, "outputs", key, allow_tuple=True)
        roots = list(result) if isinstance(result, tuple) else [result]
        self.check_dims("outputs", key, roots, self.arguments(roots))
        return FunctionPlan(name=key, kind="output", args=self.arguments(roots),
                            outputs=result, doc=f"The value of `{text.strip()}`.",
                            expression=text.strip())

    def derivative(self, key: str, entry: Any) -> FunctionPlan:
        section = "derivatives"
        if not isinstance(entry, dict):
            raise self.error("a [derivatives] entry must be a table such as "
                             f"{key} = {{ of = \"loss\", wrt = [\"W\", \"b\"] }}, not "
                             f"{_toml_type(entry)}", section, key)
        for field_name in entry:
            if field_name not in DERIVATIVE_KEYS:
                close = difflib.get_close_matches(field_name, DERIVATIVE_KEYS, n=1)
                hint = f"; did you mean {close[0]!r:.80}?" if close else ""
                raise self.error(f"unknown field {field_name!r:.80}{hint} (expected: "
                                 f"{', '.join(DERIVATIVE_KEYS)})", section, key, field_name)
        kind = entry.get("kind", "grad")
        if kind not in KINDS:
            close = difflib.get_close_matches(str(kind), KINDS, n=1)
            hint = f"; did you mean {close[0]!r:.80}?" if close else ""
            raise self.error(f"unknown kind {kind!r:.80}{hint} (kinds: {', '.join(KINDS)})",
                             section, key, "kind")
        if "of" not in entry:
            raise self.error("missing field 'of': the expression to differentiate, e.g. "
                             "of = \"loss\"", section, key)
        if "wrt" not in entry:
            raise self.error("missing field 'wrt': the inputs or params to differentiate "
                             "with respect to, e.g. wrt = [\"W\", \"b\"]", section, key)
        of_text = entry["of"]
        of = self.expression(of_text, section, key, "of")
        wrt, wrt_is_list = self.wrt_symbols(key, entry["wrt"], kind)
        if of.shape != () or not is_float(of.dtype):
            raise self.error(f"of = {of_text!r:.80} has shape {fmt_shape(of.shape)} and dtype "
                             f"{of.dtype}; a {kind} needs a float scalar (reduce it, e.g. "
                             "with sum(...) or mean(...))", section, key, "of")
        args = self.arguments([of], wrt)
        v = None
        try:
            outputs, doc, v = self.derivative_nodes(key, kind, of, of_text.strip(), wrt,
                                                    wrt_is_list)
        except SpecError:
            raise
        except SymdiffError as err:
            raise self.error(f"cannot take the {kind}: {err}", section, key) from None
        if v is not None:
            args = args + (v,)
        self.check_dims(section, key, flatten_pytree(outputs), args)
        return FunctionPlan(name=key, kind=kind, args=args, outputs=outputs, doc=doc,
                            expression=of_text.strip(), of=of, wrt=wrt,
                            wrt_is_list=wrt_is_list, v=v)

    def wrt_symbols(self, key: str, value: Any, kind: str) -> tuple[tuple[Node, ...], bool]:
        section = "derivatives"
        is_list = isinstance(value, list)
        names = value if is_list else [value]
        if not names or not all(isinstance(n, str) for n in names):
            raise self.error("wrt must be a symbol name or a non-empty list of them, e.g. "
                             f"wrt = [\"W\", \"b\"]; got {value!r:.80}", section, key, "wrt")
        if kind in ("hessian", "hvp") and is_list:
            raise self.error(f"a {kind} needs a single wrt, given as a string (wrt = "
                             f"\"{names[0]}\"), not a list", section, key, "wrt")
        symbols = {**self.inputs, **self.params}
        nodes = []
        for name in map(normalize_name, names):
            if name in self.defines:
                raise self.error(f"wrt names {name!r:.80}, a [define] entry; derivatives are taken "
                                 "with respect to [inputs] or [params] symbols",
                                 section, key, "wrt")
            if name not in symbols:
                close = difflib.get_close_matches(name, list(symbols), n=1)
                hint = f"; did you mean {close[0]!r:.80}?" if close else ""
                raise self.error(f"wrt names {name!r:.80}, which is not an input or param{hint} "
                                 f"(symbols: {', '.join(symbols) or 'none'})",
                                 section, key, "wrt")
            node = symbols[name]
            if kind == "hessian" and not all(isinstance(d, int) for d in node.shape):
                raise self.error(f"a hessian needs a wrt of fixed shape, but {name} has shape "
                                 f"{fmt_shape(node.shape)}; give it integer dims (or use "
                                 "kind = \"hvp\", which works with symbolic dims)",
                                 section, key, "wrt")
            if not is_float(node.dtype):
                raise self.error(f"wrt names {name!r:.80}, which has dtype {node.dtype}; "
                                 "derivatives need a float16, float32 or float64 symbol",
                                 section, key, "wrt")
            if node in nodes:
                raise self.error(f"wrt names {name!r:.80} twice", section, key, "wrt")
            nodes.append(node)
        return tuple(nodes), is_list

    def derivative_nodes(self, key: str, kind: str, of: Node, of_text: str,
                         wrt: tuple[Node, ...], wrt_is_list: bool) \
            -> tuple[Pytree, str, Node | None]:
        """(outputs, docstring, v) of one derivative function."""
        names = ", ".join(w.name for w in wrt)
        if kind in ("grad", "value_and_grad"):
            grads = grad(of, list(wrt))
            shaped = tuple(grads) if wrt_is_list else grads[0]
            if kind == "grad":
                return shaped, f"Gradient of `{of_text}` with respect to {names}.", None
            return (of, shaped), f"`{of_text}` and its gradient with respect to {names}.", None
        (w,) = wrt
        if kind == "hessian":
            return hessian(of, w), (f"Hessian of `{of_text}` with respect to {w.name}, "
                                       f"shape {fmt_shape(w.shape + w.shape)}."), None
        if HVP_ARGUMENT in {**self.inputs, **self.params}:
            raise self.error(f"kind 'hvp' adds an argument named {HVP_ARGUMENT!r} (the "
                             f"direction), but the spec already has a symbol "
                             f"{HVP_ARGUMENT!r}; rename that symbol", "derivatives", key)
        v = var(HVP_ARGUMENT, w.shape, w.dtype)
        return hvp(of, w, v), (f"Hessian of `{of_text}` with respect to {w.name}, times "
                                  f"the direction v (shaped like {w.name})."), v


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:([A-Za-z0-9_-]+)|"([^"]*)"|'([^']*)')\s*=""")


def _key_lines(lines: Sequence[str]) -> dict[tuple[str, str], int]:
    """(section, key) -> the first line defining it, with ("", name) for a [name] header:
    the lines that messages point at."""
    found: dict[tuple[str, str], int] = {}
    current = ""
    for number, line in enumerate(lines, 1):
        header = _HEADER.match(line)
        if header:
            current = header.group(1)
            found.setdefault(("", current), number)
            continue
        match = _KEY.match(line)
        if match:
            key = next(g for g in match.groups() if g is not None)
            found.setdefault((current, key), number)
    for (section, key), number in list(found.items()):  # a raw spelling wins over NFKC
        found.setdefault((section, normalize_name(key)), number)
    return found


def flatten_pytree(tree: Pytree) -> list[Node]:
    if isinstance(tree, Node):
        return [tree]
    return [leaf for sub in tree for leaf in flatten_pytree(sub)]


def python_name_problem(name: str) -> str | None:
    """Why `name` cannot appear unchanged in the generated module (as a function or an
    argument name that callers pass by keyword), or None if it can."""
    if not name.isascii():
        return "generated code uses ASCII names only"
    if name.startswith("_") or name in RESERVED_NAMES:
        return "it is reserved for the generated module"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "it is a Python keyword"
    if name in dir(builtins):
        return "it is a Python builtin"
    if name.endswith("_") or "__" in name:
        return "generated names have no trailing or doubled underscores"
    if len(name) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
    return None


def _toml_type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a float",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)
