"""SymPy in and out: `to_sympy` / `latex` for scalar and elementwise graphs (`latex` hands
any other graph to the matrix-calculus printer, inspect/latex.py), `to_sympy(matrix=True)`
for SymPy matrix expressions of linear-algebra graphs, and `from_sympy` to bring a SymPy
expression into the graph.

Both directions walk trees with a table per op (no strings are ever parsed: a SymPy
expression is walked by its classes, never sympified or evaluated).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from .. import ops
from ..errors import SymdiffError
from ..graph import Node, const, topo_order
from ..ops.base import REGISTRY, lift
from .naming import as_roots

LATEX_TREE_LIMIT = 400  # notebooks show LaTeX for expression trees up to this many nodes

# -- symdiff -> SymPy ----------------------------------------------------------------------
# Each op's record gives its formula (`Op.to_sympy`): the name of a SymPy function, or a
# function of the sympy module, the node and the operands' expressions (None where the op
# mixes elements).


def number(value: Any) -> sympy.Expr:
    """A constant as SymPy writes it: exact integers and short binary fractions become
    Integer / Rational (2.0 -> 2, 0.5 -> 1/2), other floats stay Float; bools are true/false."""
    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    value = float(value)
    if np.isnan(value):
        return sympy.nan
    if np.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    if value.is_integer():
        return sympy.Integer(int(value))
    frac = Fraction(value)
    if frac.denominator <= 1024:
        return sympy.Rational(frac.numerator, frac.denominator)
    return sympy.Float(value)


def _symbol_table(order: Sequence[Node], symbols: Mapping[Node, sympy.Symbol] | None) \
        -> dict[Node, sympy.Basic]:
    table: dict[Node, sympy.Basic] = dict(symbols or {})
    by_name: dict[str, Node] = {}
    for node in order:
        if node.kind != "var" or node in table:
            continue
        if node.name in by_name:
            raise SymdiffError(f"to_sympy: two different variables are named {node.name!r}; "
                               "pass symbols={node: sympy.Symbol(...)} to tell them apart")
        by_name[node.name] = node
        table[node] = sympy.Symbol(node.name, real=True)
    return table


def _not_elementwise(node: Node, why: str) -> SymdiffError:
    return SymdiffError(f"to_sympy handles scalar and elementwise graphs only; op "
                        f"{node.op.name if node.op else node.kind!r} ({node!r}) {why}")


def _convert(node: Node, args: list[sympy.Basic]) -> sympy.Basic:
    rule = node.op.to_sympy
    result = None
    if isinstance(rule, str):
        result = getattr(sympy, rule)(*args)
    elif rule is not None:
        result = rule(sympy, node, *args)
    if result is None:
        raise _not_elementwise(node, "is not elementwise")
    return result


def to_sympy(nodes: Node | Sequence[Node], symbols: Mapping[Node, sympy.Symbol] | None = None,
             matrix: bool = False) -> sympy.Basic | list[sympy.Basic]:
    """The SymPy expression of a scalar or elementwise graph (one element's formula).

    Variables become real Symbols named after them (or the ones given in `symbols`);
    constants become exact numbers where they are (2.0 -> 2); sigmoid is 1/(1+exp(-x)),
    softplus log(1+exp(x)), relu Max(x, 0), where a Piecewise. A matmul, a reduction over
    real axes or any other op that mixes elements raises an error naming it.

    With `matrix=True`, the whole arrays instead, as SymPy matrix expressions: a matrix
    variable is a MatrixSymbol (symbolic dims become positive integer Symbols), a vector a
    column MatrixSymbol, a scalar a Symbol; matmul, transpose, +, -, negation, scalar
    factors and divisors, Hadamard products of equal shapes, and any op on scalars only
    (see `Op.to_sympy_matrix`). Anything else raises an error naming the op.
    """
    if matrix:
        return _to_sympy_matrix(nodes, symbols)
    roots = as_roots(nodes, "to_sympy")
    order = topo_order(roots)
    table = _symbol_table(order, symbols)
    for node in order:
        if node in table:
            continue
        if node.kind == "const":
            flat = node.value.reshape(-1)
            if flat.size == 0 or not np.all(flat == flat[0]):
                raise _not_elementwise(node, "is an array constant with differing elements")
            table[node] = number(flat[0].item())
        else:
            table[node] = _convert(node, [table[i] for i in node.inputs])
    results = [table[r] for r in roots]
    return results[0] if isinstance(nodes, Node) else results


def _dim(d: int | str) -> sympy.Expr:
    return sympy.Integer(d) if isinstance(d, int) else sympy.Symbol(d, integer=True,
                                                                    positive=True)


def matrix_symbol(node: Node) -> sympy.Basic:
    """A variable as SymPy's matrix algebra sees it: a Symbol, a column, a matrix."""
    if node.ndim == 0:
        return sympy.Symbol(node.name, real=True)
    if node.ndim > 2:
        raise SymdiffError(f"to_sympy(matrix=True): variable {node.name!r} has "
                           f"{node.ndim} axes; matrix expressions have at most 2")
    rows, cols = (node.shape[0], 1) if node.ndim == 1 else node.shape
    return sympy.MatrixSymbol(node.name, _dim(rows), _dim(cols))


def _to_sympy_matrix(nodes: Node | Sequence[Node],
                     symbols: Mapping[Node, sympy.Basic] | None) -> Any:
    roots = as_roots(nodes, "to_sympy")
    table: dict[Node, sympy.Basic] = dict(symbols or {})
    for node in topo_order(roots):
        if node in table:
            continue
        if node.kind == "var":
            table[node] = matrix_symbol(node)
        elif node.kind == "const" and node.ndim == 0:
            table[node] = number(node.value.item())
        elif node.kind == "op" and node.ndim == 0 and all(i.ndim == 0 for i in node.inputs):
            table[node] = _convert(node, [table[i] for i in node.inputs])
        else:
            rule = node.op.to_sympy_matrix if node.kind == "op" else None
            result = None if rule is None else rule(sympy, node, *[table[i] for i in
                                                                   node.inputs])
            if result is None:
                what = node.op.name if node.op else "an array constant"
                raise SymdiffError(f"to_sympy(matrix=True): SymPy has no matrix expression "
                                   f"for {what!r} ({node!r})")
            table[node] = result
    results = [table[r] for r in roots]
    return results[0] if isinstance(nodes, Node) else results


def latex(node: Node, symbols: Mapping[Node, sympy.Symbol] | None = None) -> str:
    """LaTeX of a graph: sympy.latex of to_sympy(node) for a scalar or elementwise graph,
    else (a matrix product, a reduction, a softmax ...) the matrix-calculus printer."""
    try:
        expr = to_sympy(node, symbols)
    except SymdiffError:
        if symbols:
            raise
        from .latex import matrix_latex

        return matrix_latex(node)
    return sympy.latex(expr)


def tree_size(node: Node, limit: int) -> int:
    """Size of the graph written out as a tree (shared nodes counted once per use), capped
    at limit + 1: printing a DAG as a formula can grow exponentially."""
    size: dict[Node, int] = {}
    for n in topo_order([node]):
        size[n] = min(limit + 1, 1 + sum(size[i] for i in n.inputs))
    return size[node]


def repr_latex(node: Node) -> str | None:
    """LaTeX for a notebook's display of a node, or None where it does not fit (not
    elementwise, or a formula too large to read)."""
    if tree_size(node, LATEX_TREE_LIMIT) > LATEX_TREE_LIMIT:
        return None
    try:
        return f"${latex(node)}$"
    except SymdiffError:
        return None


# -- SymPy -> symdiff ----------------------------------------------------------------------


def _unary(fn: Callable[[Node], Node]) -> Callable[[list[Node]], Node]:
    def build(args: list[Node]) -> Node:
        (x,) = args
        return fn(x)

    return build


def _fold(fn: Callable[[Node, Node], Node]) -> Callable[[list[Node]], Node]:
    def build(args: list[Node]) -> Node:
        total = args[0]
        for a in args[1:]:
            total = fn(total, a)
        return total

    return build


def _heaviside(args: list[Node]) -> Node:
    x = args[0]
    at_zero = args[1] if len(args) > 1 else lift(0.5, x)
    return ops.where(x > 0, lift(1.0, x), ops.where(ops.equal(x, lift(0, x)), at_zero,
                                                     lift(0.0, x)))


@functools.cache
def _from_sympy_table() -> dict[type, Callable[[list[Node]], Node]]:
    """SymPy classes -> builders: every op whose record names a SymPy function, folded over
    the arguments (Max(a, b, c), Eq(a, b)), and SymPy's own compositions of them."""
    table: dict[type, Callable[[list[Node]], Node]] = {}
    for op in REGISTRY.values():
        cls = getattr(sympy, op.to_sympy, None) if isinstance(op.to_sympy, str) else None
        if isinstance(cls, type) and op.public is not None and op.module is None:
            table[cls] = _fold(op.public) if len(inspect.signature(op.public).parameters) > 1 \
                else _unary(op.public)
    compositions = {  # SymPy functions without an op of their own
        sympy.Heaviside: _heaviside,
        sympy.And: _fold(lambda p, q: ops.where(p, q, False)),
        sympy.Or: _fold(lambda p, q: ops.where(p, True, q)),
        sympy.Not: _unary(lambda p: ops.where(p, False, True)),
        sympy.ITE: lambda args: ops.where(*args),
    }
    for cls, builder in compositions.items():
        table.setdefault(cls, builder)  # an op for it, when there is one, comes first
    return table


Value = Node | float | bool  # numbers stay Python scalars, so they stay weakly typed


class _Builder:
    """Walks a SymPy expression bottom-up, one node per distinct subexpression."""

    def __init__(self, mapping: Mapping[sympy.Symbol | str, Node]) -> None:
        self.by_symbol: dict[sympy.Symbol, Node] = {}
        self.by_name: dict[str, Node] = {}
        for key, node in mapping.items():
            if not isinstance(node, Node):
                raise SymdiffError(f"from_sympy: {key!r} maps to {type(node).__name__}, "
                                   "not a symdiff node")
            if isinstance(key, sympy.Symbol):
                self.by_symbol[key] = node
            elif isinstance(key, str):
                self.by_name[key] = node  # matched against Symbol.name, never parsed
            else:
                raise SymdiffError(f"from_sympy: mapping keys must be sympy Symbols (or "
                                   f"their names), got {type(key).__name__}")
        self.memo: dict[sympy.Basic, Value] = {}

    def build(self, expr: sympy.Basic) -> Value:
        """The value of `expr`, building each distinct subexpression once (an explicit
        stack, so deep expressions do not hit the recursion limit)."""
        stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
        while stack:
            sub, ready = stack.pop()
            if sub in self.memo:
                continue
            if ready:
                self.memo[sub] = self._one(sub)
                continue
            stack.append((sub, True))
            stack.extend((c, False) for c in _children(sub) if c not in self.memo)
        return self.memo[expr]

    def _one(self, expr: sympy.Basic) -> Value:
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr)
        if expr is sympy.true or expr is sympy.false:
            return bool(expr)
        if not expr.free_symbols:
            return _number(expr)
        if isinstance(expr, sympy.Add):
            return self._add(expr)
        if isinstance(expr, sympy.Mul):
            return self._mul(expr)
        if isinstance(expr, sympy.Pow):
            return self._pow(expr)
        if isinstance(expr, sympy.Piecewise):
            return self._piecewise(expr)
        if isinstance(expr, sympy.log) and _is_one_plus_exp(expr.args[0]):
            return ops.softplus(self.build(_exp_argument(expr.args[0])))
        if isinstance(expr, sympy.Max) and sympy.S.Zero in expr.args:
            # Max(a, 0) -> relu(a); Max(a, b, 0) -> relu(maximum(a, b))
            rest = [self.build(x) for x in expr.args if x != 0]
            return ops.relu(_fold(ops.maximum)(rest))
        builder = _from_sympy_table().get(type(expr))
        if builder is None:
            raise SymdiffError(f"from_sympy: {type(expr).__name__} ({expr}) has no symdiff "
                               "counterpart; supported: +, *, **, numbers, symbols, "
                               "Piecewise, comparisons and "
                               + ", ".join(sorted(f.__name__ for f in _from_sympy_table())))
        return builder([self.build(a) for a in expr.args])

    def _symbol(self, expr: sympy.Symbol) -> Node:
        node = self.by_symbol.get(expr)
        if node is None:
            node = self.by_name.get(expr.name)
        if node is None:
            raise SymdiffError(f"from_sympy: no node given for symbol {expr.name!r}; pass it "
                               "in the mapping {symbol: node}")
        return node

    def _add(self, expr: sympy.Add) -> Value:
        # x - y arrives as Add(x, Mul(-1, y)): subtract such terms instead of adding -y
        plus = [a for a in expr.args if not _negated(a)]
        minus = [a for a in expr.args if _negated(a)]
        total = self.build(plus[0]) if plus else -self.build(-minus.pop(0))
        for a in plus[1:]:
            total = total + self.build(a)
        for a in minus:
            total = total - self.build(-a)
        return total

    def _mul(self, expr: sympy.Mul) -> Value:
        # x / y arrives as Mul(x, Pow(y, -1)): divide by such factors; a -1 coefficient
        # becomes a negation. Numbers fold into the coefficient, so a factor is left.
        coeff, factors = expr.as_coeff_mul()
        product: Value | None = None
        for f in factors:
            if not _reciprocal(f):
                product = self.build(f) if product is None else product * self.build(f)
        for f in factors:
            if _reciprocal(f):
                product = (1.0 if product is None else product) / self.build(1 / f)
        if coeff == 1:
            return product
        if coeff == -1:
            return -product
        return _number(coeff) * product

    def _pow(self, expr: sympy.Pow) -> Value:
        base, exponent = expr.args
        if _is_one_plus_exp(base) and exponent == -1:
            return ops.sigmoid(self.build(-_exp_argument(base)))
        x = self.build(base)
        if exponent == sympy.Rational(1, 2):
            return ops.sqrt(x)
        if exponent == -1:
            return 1.0 / x
        if exponent == sympy.Rational(-1, 2):
            return 1.0 / ops.sqrt(x)
        if exponent == 2:
            return ops.square(x)
        return ops.pow(x, self.build(exponent))

    def _piecewise(self, expr: sympy.Piecewise) -> Value:
        pieces = list(expr.args)
        last_value, last_cond = pieces.pop()
        if last_cond is not sympy.true:
            raise SymdiffError(f"from_sympy: Piecewise {expr} has no otherwise branch "
                               "(a last condition True)")
        result = self.build(last_value)
        for value, cond in reversed(pieces):
            result = ops.where(self.build(cond), self.build(value), result)
        return result


def _children(expr: sympy.Basic) -> tuple[sympy.Basic, ...]:
    """The subexpressions `_one` reads: none for symbols and closed-form numbers, values
    and conditions for a Piecewise, the arguments otherwise."""
    if isinstance(expr, sympy.Symbol) or not expr.free_symbols:
        return ()
    if isinstance(expr, sympy.Piecewise):
        return tuple(part for pair in expr.args for part in pair)
    return expr.args


def _number(expr: sympy.Basic) -> float:
    """A closed-form real number (2, 1/2, pi, sqrt(2)) as a Python float."""
    try:
        value = complex(expr)
    except TypeError:
        raise SymdiffError(f"from_sympy: {expr} is not a number") from None
    if value.imag != 0 or np.isnan(value.real):
        raise SymdiffError(f"from_sympy: {expr} is not a real number")
    return value.real


def _negated(term: sympy.Basic) -> bool:
    """A term with a negative numeric coefficient, -2*x say."""
    return isinstance(term, sympy.Mul) and term.args[0].is_number and term.args[0] < 0


def _reciprocal(factor: sympy.Basic) -> bool:
    """A factor y**-k with k a positive number, so the product divides by y**k."""
    return isinstance(factor, sympy.Pow) and factor.exp.is_number and factor.exp < 0


def _is_one_plus_exp(expr: sympy.Basic) -> bool:
    """expr is 1 + exp(a), the denominator of a sigmoid and the argument of a softplus."""
    return (isinstance(expr, sympy.Add) and len(expr.args) == 2 and sympy.S.One in expr.args
            and any(isinstance(a, sympy.exp) for a in expr.args))


def _exp_argument(expr: sympy.Add) -> sympy.Basic:
    return next(a for a in expr.args if isinstance(a, sympy.exp)).args[0]


def from_sympy(expr: sympy.Basic, mapping: Mapping[sympy.Symbol | str, Node]) -> Node:
    """A graph node computing the SymPy expression `expr`, with each free symbol replaced
    by the node `mapping` gives for it (keyed by Symbol, or by the symbol's name).

    The expression tree is walked by its classes: + * ** numbers, exp log sin cos tan tanh
    sinh cosh Abs sign Max Min Heaviside, comparisons and Piecewise. 1/(1+exp(-a)) becomes
    sigmoid(a) and log(1+exp(a)) softplus(a), so to_sympy round-trips stably. Strings are
    refused: nothing is ever parsed or evaluated.
    """
    if isinstance(expr, str):
        raise SymdiffError("from_sympy takes a SymPy expression, not a string (strings are "
                           "never parsed); build it from sympy.Symbol objects")
    if isinstance(expr, (int, float, np.number)) and not isinstance(expr, bool):
        return const(float(expr))
    if not isinstance(expr, sympy.Basic):
        raise SymdiffError(f"from_sympy takes a SymPy expression, got {type(expr).__name__}")
    result = _Builder(mapping).build(expr)
    return result if isinstance(result, Node) else const(result)
