"""The rewrite engine: named pattern-and-replacement rules grouped in phases, and one
bottom-up pass that applies a phase's rules to a whole graph.

A rule is a small function `rule(node) -> Node | None`: given a node whose inputs are
already rewritten, it returns an equivalent node of the same type, or None when its
pattern does not match. A pass rebuilds the graph bottom-up through the interning `apply`
(so equal structure merges as it is rebuilt) and re-visits every replacement until no
rule of the phase matches it, so one pass reaches the phase's local fixed point in time
linear in the size of the graph.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SymdiffError
from ..graph import Node, _provenance, apply

RuleFn = Callable[[Node], "Node | None"]


class RewriteError(SymdiffError):
    """A rewrite rule broke its contract (changed a node's type, or rewrote forever)."""


@dataclass(frozen=True)
class Rule:
    """One identity, applied where its pattern matches: to nodes of the ops named in `ops`,
    and of every op for which `when(op)` holds (a family: `when=lambda op: op.elementwise`),
    so that ops defined later, users' ops included, are covered too."""

    name: str
    phase: str
    ops: tuple[str, ...]
    fn: RuleFn
    when: Callable[[Any], bool] | None = None

    @property
    def qualname(self) -> str:
        return f"{self.phase}.{self.name}"

    def applies_to(self, op: Any) -> bool:
        return op.name in self.ops or (self.when is not None and self.when(op))


@dataclass
class Phase:
    """A named, ordered table of rules; rules for one op are tried in definition order."""

    name: str
    doc: str = ""
    rules: list[Rule] = field(default_factory=list)
    _by_op: dict[Any, list[Rule]] = field(default_factory=dict)

    def rule(self, *ops: str, when: Callable[[Any], bool] | None = None) \
            -> Callable[[RuleFn], RuleFn]:
        """Register the decorated function as a rule for nodes of the given ops (or of the
        ops `when` accepts)."""
        if not ops and when is None:
            raise ValueError(f"a rule of phase {self.name!r} needs at least one op name, or when=")

        def register(fn: RuleFn) -> RuleFn:
            self.add(Rule(fn.__name__, self.name, tuple(ops), fn, when))
            return fn

        return register

    def add(self, rule: Rule) -> None:
        """Append a rule (possibly one of another phase, which keeps its own name)."""
        self.rules.append(rule)
        self._by_op.clear()

    def rules_for(self, node: Node) -> Sequence[Rule]:
        op = node.op
        if op is None:
            return ()
        found = self._by_op.get(op)
        if found is None:
            found = self._by_op[op] = [r for r in self.rules if r.applies_to(op)]
        return found


def _rebuild(node: Node, memo: dict[Node, Node]) -> Node:
    """`node` over its rewritten inputs; new nodes inherit the node's provenance."""
    if not node.inputs:
        return node
    inputs = tuple(memo[i] for i in node.inputs)
    if all(a is b for a, b in zip(inputs, node.inputs, strict=True)):
        return node
    token = _provenance.set(node.provenance)  # derivative_context, minus a generator per node
    try:
        return apply(node.op, inputs, **node.attrs)
    finally:
        _provenance.reset(token)


def _first_match(node: Node, phase: Phase) -> tuple[Rule, Node] | None:
    """The first rule of `phase` that rewrites `node`, and its replacement."""
    rules = phase.rules_for(node)
    if not rules:
        return None
    # Nodes a rule builds belong to the derivative (or forward) computation it replaces
    # (derivative_context, set by hand: this runs for most nodes of every pass).
    token = _provenance.set(node.provenance)
    try:
        for rule in rules:
            replacement = rule.fn(node)
            if replacement is None or replacement is node:
                continue
            if replacement.type != node.type:
                raise RewriteError(f"rule {rule.qualname} rewrote {node!r} into "
                                   f"{replacement!r}: the type changed from {node.type} to "
                                   f"{replacement.type}")
            return rule, replacement
    finally:
        _provenance.reset(token)
    return None


def keep_names(old: Node, new: Node) -> None:
    """A replacement inherits the label of the node it replaces, if it has none itself.
    Nodes built from constants alone are shared by every graph (interning), so they get no
    label from one of them."""
    if old is new or old.label is None or new.label is not None or new.kind != "op":
        return
    if all(i.kind == "const" for i in new.inputs):
        return
    new.label = old.label


def _give_up(phase: Phase, node: Node, fired: Counter[str]) -> None:
    busiest = ", ".join(f"{name} ({n})" for name, n in fired.most_common(3))
    raise RewriteError(f"phase {phase.name!r} does not terminate near {node!r}; the rules "
                       f"that fired most: {busiest}")


def rewrite_pass(roots: Iterable[Node], phase: Phase, fired: Counter[str],
                 settled: set[Node] | None = None) -> list[Node]:
    """Rewrite the graph below `roots` with `phase` to its local fixed point, bottom-up.

    `fired` counts the rules that matched. `settled` holds nodes known to be fixed points
    of this phase, with all of their inputs (rules look only at a node and what is below
    it, so that stays true); the pass skips them and adds the fixed points it finds.
    Iterative (graphs are thousands of nodes deep), and linear: each node is rebuilt
    once, each replacement visited once.
    """
    roots = list(roots)
    memo: dict[Node, Node] = {}  # node -> its fully rewritten form
    # `settled` is consulted lazily, node by node: it may hold far more than this graph
    # (the pipeline keeps it from run to run), so it is never copied into the memo
    known = settled if settled is not None else ()
    fixed: list[Node] = []  # the fixed points this pass finds
    waiting: dict[Node, tuple[Node, Node]] = {}  # node -> (its rebuilt form, replacement)
    iterations = 0

    def settle(node: Node, final: Node) -> None:
        memo[node] = final
        keep_names(node, final)

    for root in roots:
        stack = [root]
        while stack:
            iterations += 1
            if iterations > 100_000 + 64 * len(memo):
                _give_up(phase, stack[-1], fired)
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            if node in known:
                memo[node] = node
                stack.pop()
                continue
            if node in waiting:
                rebuilt, target = waiting[node]
                if target in memo:
                    del waiting[node]
                    settle(rebuilt, memo[target])
                    settle(node, memo[target])
                    stack.pop()
                else:
                    stack.append(target)
                continue
            missing = [i for i in node.inputs if i not in memo]
            if missing:
                stack.extend(reversed(missing))
                continue
            rebuilt = _rebuild(node, memo)
            if rebuilt is not node and rebuilt in memo:
                settle(node, memo[rebuilt])
                stack.pop()
                continue
            match = _first_match(rebuilt, phase)
            if match is None:
                memo[rebuilt] = rebuilt
                fixed.append(rebuilt)
                settle(node, rebuilt)
                stack.pop()
                continue
            rule, replacement = match
            fired[rule.qualname] += 1
            waiting[node] = (rebuilt, replacement)
            stack.append(replacement)
    if settled is not None:
        settled.update(fixed)  # every memo value is one of these or was known already
    return [memo[r] for r in roots]
