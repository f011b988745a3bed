"""Matrix-calculus LaTeX of any graph: `X^\\top`, products, `\\odot`, `\\mathbf{1}`, `[U > 0]`.

The printer walks the graph once and asks each op for its form (`Op.latex`, filled in
next to the op's definition; see ops/texforms.py), so it holds no table of op names.
Named intermediates (labels) keep their names, and a derivative is written in terms of
them, as course notes do: `X^\\top \\left(G \\odot \\left[U_{1} > 0\\right]\\right)`. A
labeled node, or an unlabeled one used more than once whose formula is not a mere symbol,
becomes one step of a numbered `aligned` block: forward ones `U_{1}, U_{2}, ...`,
derivative ones `G_{1}, G_{2}, ...`. No SymPy here: `import symdiff` stays light.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..graph import Node, topo_order
from ..ops.texforms import ATOM, POW, PROD, Tex, grouped, number, symbol
from .naming import as_roots

INLINE_LIMIT = 12  # a shared formula this short (X^\top, 2 n) is repeated, not named


SMALL_CONSTANT = 6  # array constants up to this many elements are written out


def _constant(node: Node) -> Tex | None:
    """A scalar as its number; an array whose elements agree as that number times ones; a
    small vector or matrix as a bmatrix (a vector as a column). None: a large array."""
    value = node.value
    flat = value.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        scalar = number(flat[0].item())
        if value.ndim == 0:
            return scalar
        if scalar.text in ("0", "1"):
            return Tex(rf"\mathbf{{{scalar.text}}}")
        return Tex(rf"{grouped(scalar, PROD)} \mathbf{{1}}", PROD)
    if value.ndim in (1, 2) and 0 < value.size <= SMALL_CONSTANT:
        rows = value.reshape(1, -1) if value.ndim == 1 else value
        body = r" \\ ".join(" & ".join(number(v.item()).text for v in row) for row in rows)
        matrix = rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"
        return Tex(matrix + r"^\top", POW) if value.ndim == 1 else Tex(matrix)
    return None


def _trivial(tex: Tex) -> bool:
    return tex.prec >= POW and len(tex.text) <= INLINE_LIMIT


def _derivative_name(node: Node) -> str | None:
    """`\\frac{\\partial loss}{\\partial W}` for a reverse-mode derivative node."""
    prov = node.provenance
    if prov is None or prov.kind not in ("vjp", "hessian"):
        return None
    of, target = _name_of(prov.of), _name_of(prov.target)
    if of is None or target is None:
        return None
    if prov.kind == "hessian":
        return rf"\frac{{\partial^2 {of}}}{{\partial {target}^2}}"
    return rf"\frac{{\partial {of}}}{{\partial {target}}}"


def _name_of(node: Node) -> str | None:
    name = node.name if node.name is not None else node.label
    return None if name is None else symbol(name)


def _written(node: Node) -> list[Node]:
    """The operands the node's formula writes out (dim_size writes a size, not its
    operand; a transparent op writes its operand as it is)."""
    marks = [Tex(f"\x00{k}\x00") for k in range(len(node.inputs))]
    text = node.op.latex(node, *marks).text
    return [i for i, mark in zip(node.inputs, marks, strict=True) if mark.text in text]


class _Printer:
    """One pass over the graph of `roots`: each node's formula, and the steps to name."""

    def __init__(self, roots: Sequence[Node]) -> None:
        self.roots = list(roots)
        self.order = topo_order(self.roots)
        self.uses = Counter(i for n in self.order if n.kind == "op" for i in _written(n))
        self.taken = {symbol(n.name) for n in self.order if n.kind == "var"}
        self.counters = {"U": 0, "G": 0, "C": 0}
        self.ref: dict[Node, Tex] = {}  # how a consumer refers to a node
        self.steps: list[tuple[str, Tex]] = []

    def _fresh(self, node: Node) -> str:
        base = _name_of(node)
        if base is not None and base not in self.taken:
            self.taken.add(base)
            return base
        return self._fresh_letter("G" if node.is_derivative else "U")

    def _fresh_letter(self, letter: str) -> str:
        while True:
            self.counters[letter] += 1
            name = f"{letter}_{{{self.counters[letter]}}}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def run(self) -> None:
        for node in self.order:
            if node.kind == "var":
                self.ref[node] = Tex(symbol(node.name))
                continue
            if node.kind == "const":
                self.ref[node] = _constant(node) or Tex(self._fresh_letter("C"))
                continue
            tex = node.op.latex(node, *[self.ref[i] for i in node.inputs])
            transparent = bool(node.inputs) and tex is self.ref[node.inputs[0]]
            named = self.uses[node] > 0 and (node.label is not None or
                                             (self.uses[node] > 1 and not _trivial(tex)))
            if node in self.roots or transparent or not named:
                self.ref[node] = tex
                continue
            name = self._fresh(node)
            self.steps.append((name, tex))
            self.ref[node] = Tex(name, ATOM)

    def text(self, root: Node) -> str:
        body = self.ref[root].text
        if not self.steps:
            return body
        lhs = _name_of(root) or _derivative_name(root) or r"\mathrm{result}"
        lines = [f"{name} &= {tex.text}" for name, tex in self.steps]
        lines.append(f"{lhs} &= {body}")
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def matrix_latex(node: Node) -> str:
    """LaTeX of any graph in matrix notation, one `aligned` step per named or shared
    intermediate, the node's own formula last."""
    (root,) = as_roots(node, "latex")
    printer = _Printer([root])
    printer.run()
    return printer.text(root)
