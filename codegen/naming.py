"""Safe, readable, deterministic identifiers for generated code.

Every name that reaches the generated source passes through `sanitize`: user text (variable
names, labels, spec keys, symbolic dims) becomes an ASCII identifier that is not a keyword,
not a builtin, not `np`, and never starts with an underscore. Names that start with an
underscore are reserved for the generator's own module-level helpers and constants, so a
user name can never shadow them. `Namer` hands out unique names within one scope.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

from symdiff.graph import Node

MAX_LENGTH = 40

RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) \
    | {"np", "numpy", "xp", "array_api_compat"}


def _ascii_of(ch: str) -> str:
    """ASCII letters for one non-ASCII character: its decomposition (é -> e) or, for a letter
    without one, the last word of its Unicode name (α -> alpha); '_' otherwise."""
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch)
                         if c.isascii() and c.isalnum())
    if decomposed:
        return decomposed
    if unicodedata.category(ch).startswith("L"):
        word = unicodedata.name(ch, "").split(" ")[-1].lower()
        word = re.sub(r"[^a-z0-9]+", "_", word)
        if word:
            return f"_{word}_"
    return "_"


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")


def sanitize(text: str, fallback: str = "v") -> str:
    """A safe Python identifier resembling `text`: ASCII letters, digits and single
    underscores, no leading underscore or digit, not a keyword, builtin or `np`."""
    if isinstance(text, str) and len(text) <= MAX_LENGTH and _PLAIN.fullmatch(text) \
            and text not in RESERVED:
        return text  # already such an identifier (most names): the rules below keep it
    parts = []
    for ch in str(text):
        if ch.isascii():
            parts.append(ch if ch.isalnum() or ch == "_" else "_")
        else:
            parts.append(_ascii_of(ch))
    name = re.sub(r"_+", "_", "".join(parts)).strip("_")[:MAX_LENGTH].rstrip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    if name in RESERVED:
        name += "_"
    return name


class Namer:
    """Unique names in one scope: the first request for a base gets it, later ones get
    `base_2`, `base_3`, ..."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = set(taken or ())
        self.last: dict[str, int] = {}  # base -> the last count tried for it

    def fresh(self, text: str, fallback: str = "v") -> str:
        base = sanitize(text, fallback)
        name = base
        if name in self.taken:
            # names are never released, so the first free count only grows: resume from
            # the last one (thousands of nodes sharing a label cost linear, not quadratic)
            k = self.last.get(base, 1)
            while name in self.taken:
                k += 1
                name = f"{base.rstrip('_')}_{k}"  # lambda_ -> lambda_2: still not reserved
            self.last[base] = k
        self.taken.add(name)
        return name


def base_name(node: Node) -> str:
    """The raw (unsanitized) human name of a node: variable name or label, else op name."""
    if node.name is not None:
        return node.name
    if node.label is not None:
        return node.label
    if node.op is not None:
        return node.op.name
    return "const"


def node_names(args: list[Node], dims: list[str], schedule: list[Node],
               outputs: list[Node], taken: set[str] | None = None) \
        -> tuple[dict[Node, str], dict[str, str]]:
    """Names for the arguments, symbolic dims and scheduled nodes of one function.

    Arguments get their variable names, then dims theirs, then the scheduled forward nodes
    in order, then the derivative nodes: a label if set; for a derivative node that is the
    whole derivative of its target, `d_loss_d_h1` (or `tangent_h1` in forward mode);
    otherwise its op name and a per-op count (`matmul_3`). Numbering follows the schedule,
    so names never depend on node ids."""
    namer = Namer(taken)
    names: dict[Node, str] = {}
    for v in args:
        names[v] = namer.fresh(v.name or "arg", "arg")
    dim_names = {d: namer.fresh(d, "dim") for d in dims}
    consumers: dict[Node, list[Node]] = {}
    for node in schedule:
        for i in node.inputs:
            consumers.setdefault(i, []).append(node)
    output_set = set(outputs)
    counts: dict[str, int] = {}

    def short(node: Node) -> str:
        if node in names:
            return names[node]
        return sanitize(base_name(node), "t")

    def by_op(node: Node) -> str:
        op = sanitize(node.op.name, "t")
        counts[op] = counts.get(op, 0) + 1
        return namer.fresh(f"{op}_{counts[op]}", "t")

    # forward nodes first, so that derivative names can mention them
    for node in schedule:
        if node.label is not None:
            names[node] = namer.fresh(node.label, "t")
        elif node.provenance is None:
            names[node] = by_op(node)
    for node in schedule:
        if node in names:
            continue
        prov = node.provenance
        if _is_whole_derivative(node, consumers.get(node, []), output_set):
            if prov.kind == "jvp":
                text = f"tangent_{short(prov.target)}"
            elif prov.kind == "hessian":
                text = f"d2_{short(prov.of)}_d_{short(prov.target)}2"
            else:  # reverse mode, or a whole jacobian
                text = f"d_{short(prov.of)}_d_{short(prov.target)}"
            names[node] = namer.fresh(text, "d")
        else:
            names[node] = by_op(node)
    return names, dim_names


def _is_whole_derivative(node: Node, users: list[Node], outputs: set[Node]) -> bool:
    """True when `node` is the full derivative of its provenance target: a returned result,
    or a value shaped like the target that no other part of the same target's derivative
    consumes (not a term of an accumulation, not an intermediate of a rule) and that
    something else does."""
    prov = node.provenance
    if node in outputs:
        return True
    if node.shape != prov.target.shape or not users:
        return False
    if any(u.provenance is not None and u.provenance.target is prov.target
           and u.provenance.kind == prov.kind for u in users):
        return False
    if prov.kind == "jvp" or prov.rule == "accumulate":
        return True
    return any(u.provenance is not None and u.provenance.forward is prov.target
               for u in users)
