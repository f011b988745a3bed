"""Cost figures of a graph (`sd.stats`): node counts and a flop estimate for the forward
part and the derivative part, and how much the derivative adds.

Each op record gives its flop count as a function of the shapes; the defaults per family
(sizes are element counts):
- elementwise ops (arithmetic, math functions, comparisons, where): size of the output;
- matmul: 2 * size(output) * k, k the contracted dim (2*m*k*n per batch entry);
- einsum: (number of operands) * the product of every index's size (one multiply per
  operand pair and one add per index point; 2*m*k*n for a matrix product);
- reductions (sum mean max min prod logsumexp) and softmax, log_softmax: size of the input;
- structure ops (transpose reshape broadcast_to expand_dims getitem unindex concatenate
  stack astype zeros dim_size): 0, they move data but do no arithmetic.
Symbolic dims take their size from `dims=`, else DEFAULT_DIM (reported as assumed). The
formulas are kept as SymPy polynomials in the dims, so the record also says `12*n + 8`.

The Baur–Strassen theorem bounds the cost of a function together with its gradient by
about 5 times the cost of the function alone; `ratio` is that quotient,
(forward + derivative) / forward.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import SymdiffError
from ..graph import Node, topo_order
from .naming import as_roots, var_free

if TYPE_CHECKING:
    import sympy

DEFAULT_DIM = 100


def _dim(d: int | str) -> sympy.Expr:
    import sympy

    return sympy.Integer(d) if isinstance(d, int) else sympy.Symbol(d, positive=True,
                                                                    integer=True)


def flops(node: Node) -> sympy.Expr:
    """The flop estimate of one node: its op record's count (see the module docstring)."""
    import sympy

    if node.op is None:
        return sympy.Integer(0)
    coefficient, dims = node.op.flop_count(node)
    return coefficient * sympy.Mul(*[_dim(d) for d in dims])


def _terms(nodes: list[Node]) -> list[sympy.Expr]:
    """The flops of each node, the outputs of one multi-output computation (eigh's w and
    V) counted once, at the first: one call computes them all."""
    import sympy

    from ..ops.base import group_key

    seen: set[tuple] = set()
    terms = []
    for n in nodes:
        if n.op.multi_output:
            key = group_key(n)
            if key in seen:
                terms.append(sympy.Integer(0))
                continue
            seen.add(key)
        terms.append(flops(n))
    return terms


@dataclass(frozen=True)
class Stats:
    """Node counts and flop estimates of a graph, split into forward and derivative."""

    variables: int
    constants: int
    forward_nodes: int
    derivative_nodes: int
    forward_flops: int
    derivative_flops: int
    forward_formula: sympy.Expr
    derivative_formula: sympy.Expr
    dims: Mapping[str, int]
    assumed_dims: tuple[str, ...]
    forward_by_op: Mapping[str, int] = field(default_factory=dict)
    derivative_by_op: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_flops(self) -> int:
        return self.forward_flops + self.derivative_flops

    @property
    def ratio(self) -> float:
        """(forward + derivative) / forward flops: the quotient Baur–Strassen bounds by ~5."""
        if self.forward_flops == 0:
            return math.inf if self.derivative_flops else 1.0
        return self.total_flops / self.forward_flops

    @property
    def derivative_ratio(self) -> float:
        """derivative / forward flops: what the derivative adds, per flop of the function."""
        if self.forward_flops == 0:
            return math.inf if self.derivative_flops else 0.0
        return self.derivative_flops / self.forward_flops

    def __str__(self) -> str:
        import sympy

        rows = [("forward", self.forward_nodes, self.forward_flops, self.forward_formula),
                ("derivative", self.derivative_nodes, self.derivative_flops,
                 self.derivative_formula),
                ("total", self.forward_nodes + self.derivative_nodes, self.total_flops,
                 self.forward_formula + self.derivative_formula)]
        symbolic = bool((self.forward_formula + self.derivative_formula).free_symbols)
        lines = [f"{'':<11}{'op nodes':>9}{'flops':>16}" + ("   formula" if symbolic else "")]
        for label, count, value, formula in rows:
            text = f"   {sympy.sstr(sympy.expand(formula))}" if symbolic else ""
            lines.append(f"{label:<11}{count:>9}{value:>16,}{text}")
        lines.append(f"(forward + derivative) / forward = {self.ratio:.2f}   "
                     "(Baur–Strassen: at most about 5 for a gradient)")
        lines.append(f"inputs: {_count(self.variables, 'variable')}, "
                     f"{_count(self.constants, 'constant')}")
        if self.dims:
            dims = ", ".join(f"{k}={v}" + (" (assumed)" if k in self.assumed_dims else "")
                             for k, v in sorted(self.dims.items()))
            lines.append(f"dims: {dims}")
        for label, by_op in (("forward", self.forward_by_op),
                             ("derivative", self.derivative_by_op)):
            top = ", ".join(f"{op} {n:,}" for op, n in
                            sorted(by_op.items(), key=lambda kv: (-kv[1], kv[0]))[:5] if n)
            if top:
                lines.append(f"{label} flops by op: {top}")
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _function_roots(order: Sequence[Node]) -> list[Node]:
    """The forward nodes a derivative refers to: its cost (`of`) and the forward nodes whose
    rules produced it, so the forward part is the whole function even where the gradient
    does not need all of it (a gradient never needs the loss value itself)."""
    free = var_free(order)  # shared constant subexpressions may carry another graph's record
    roots: list[Node] = []
    for node in order:
        prov = node.provenance
        if prov is not None and node not in free:
            roots.extend((prov.of, prov.forward))
    return roots


def stats(nodes: Node | Sequence[Node], dims: Mapping[str, int] | None = None, *,
          default_dim: int = DEFAULT_DIM) -> Stats:
    """Node counts and flop estimates of the graph below `nodes`.

    The derivative part is the derivative nodes below `nodes`; the forward part is every
    forward node below `nodes` or below the outputs they are derivatives of, so
    `stats(sd.grad(loss, params))` compares the gradient with the whole loss.
    """
    import sympy

    roots = as_roots(nodes, "stats")
    dims = dict(dims or {})
    for key, value in dims.items():
        if not isinstance(key, str) or not isinstance(value, int) or value < 0:
            raise SymdiffError(f"stats: dims must map symbolic dim names to non-negative "
                               f"ints, got {key!r}: {value!r}")
    evaluated = topo_order(roots)
    derivative = [n for n in evaluated if n.kind == "op" and n.is_derivative]
    extended = topo_order(roots + _function_roots(evaluated))
    # op nodes over constants alone are folded before any code runs: not counted
    forward = [n for n in extended if n.kind == "op" and not n.is_derivative
               and not n.is_constant]
    leaves = [n for n in extended if n.kind != "op"]

    fwd_by_op: Counter[str] = Counter()
    der_by_op: Counter[str] = Counter()
    fwd_terms = _terms(forward)
    der_terms = _terms(derivative)
    fwd_formula = sympy.Add(*fwd_terms)
    der_formula = sympy.Add(*der_terms)
    symbols = (fwd_formula + der_formula).free_symbols
    assumed = tuple(sorted(s.name for s in symbols if s.name not in dims))
    used = {s.name: dims.get(s.name, default_dim) for s in symbols}
    subs = {s: used[s.name] for s in symbols}

    def value(expr: sympy.Expr) -> int:
        return int(expr.subs(subs)) if subs else int(expr)

    for n, term in zip(forward, fwd_terms, strict=True):
        fwd_by_op[n.op.name] += value(term)
    for n, term in zip(derivative, der_terms, strict=True):
        der_by_op[n.op.name] += value(term)
    return Stats(
        variables=sum(1 for n in leaves if n.kind == "var"),
        constants=sum(1 for n in leaves if n.kind == "const"),
        forward_nodes=len(forward),
        derivative_nodes=len(derivative),
        forward_flops=sum(fwd_by_op.values()),
        derivative_flops=sum(der_by_op.values()),
        forward_formula=fwd_formula,
        derivative_formula=der_formula,
        dims=used,
        assumed_dims=assumed,
        forward_by_op=dict(fwd_by_op),
        derivative_by_op=dict(der_by_op),
    )
