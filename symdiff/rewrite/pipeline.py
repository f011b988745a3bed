"""The rewrite pipeline: `optimize` runs the phases in their fixed order and reports what
it did.

    canonicalize, fold, simplify, stabilize   (one bottom-up pass, repeated until no rule fires)
    merge -> dead code                         (once, on the final graph)

The phases' rules run together in one bottom-up pass over the graph (see engine.py): at
each node, whose inputs are already in normal form, the rules are tried in phase order,
canonical forms first. So what a rule builds is put in normal form at once, and a rewrite
near the bottom of a deep graph rebuilds what is above it once, not once per phase. The
whole pipeline costs a few linear passes: no pass compares every node with every other.
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import overload

from ..errors import SymdiffError
from ..gcpause import gc_paused
from ..graph import Node, topo_order
from .canonicalize import canonicalize
from .engine import Phase, rewrite_pass
from .fold import fold
from .merge import live_nodes, merge
from .simplify import simplify
from .stabilize import stabilize

PHASES: tuple[Phase, ...] = (canonicalize, fold, simplify, stabilize)
MAX_ROUNDS = 16


def _all_rules(phases: Sequence[Phase]) -> Phase:
    """One pass with the rules of every phase, in phase order."""
    combined = Phase("optimize", "the rules of every phase, in phase order")
    for phase in phases:
        for rule in phase.rules:
            combined.add(rule)
    return combined


_PASS = _all_rules(PHASES)


@dataclass
class OptimizeReport:
    """What `optimize` did: rules fired (by name, with counts), node counts, time taken."""

    fired: Counter[str] = field(default_factory=Counter)
    nodes_before: int = 0
    nodes_after: int = 0
    ops_before: int = 0
    ops_after: int = 0
    rounds: int = 0
    converged: bool = True
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"optimize: {self.nodes_before} -> {self.nodes_after} nodes "
                 f"({self.ops_before} -> {self.ops_after} ops) in "
                 f"{self.seconds * 1000:.1f} ms, {self.rounds} rounds"
                 + ("" if self.converged else " (stopped before a fixed point)")]
        if self.fired:
            width = max(len(name) for name in self.fired)
            lines.append(f"  {'rule':<{width}}  fired")
            for name, count in sorted(self.fired.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {name:<{width}}  {count:>5}")
        else:
            lines.append("  no rule fired")
        return "\n".join(lines)


def _count(nodes: list[Node]) -> tuple[int, int]:
    return len(nodes), sum(1 for n in nodes if n.kind == "op")


# The fixed points found so far, kept from run to run (weakly: they go with their graphs).
# Rules look only at a node and what is below it, so a fixed point stays one; optimizing
# an optimized graph (as sd.function does with sd.optimize's result) then visits only what
# merge built, not the whole graph again.
_SETTLED: weakref.WeakSet[Node] = weakref.WeakSet()
# The outputs of each run, by run: outputs of one run (or some of them) are the pipeline's
# fixed point as they are, merged together, so optimizing them again returns them at once.
_OUTPUT_OF: weakref.WeakKeyDictionary[Node, int] = weakref.WeakKeyDictionary()
_runs = itertools.count()


@gc_paused
def run(roots: list[Node]) -> tuple[list[Node], OptimizeReport]:
    """The pipeline on a list of output nodes: the rewritten outputs and the report."""
    start = time.perf_counter()
    report = OptimizeReport()
    report.nodes_before, report.ops_before = _count(topo_order(roots))
    runs = {_OUTPUT_OF.get(r) for r in roots}
    if len(runs) == 1 and None not in runs:  # already optimized, together
        report.rounds = 0
        report.nodes_after, report.ops_after = report.nodes_before, report.ops_before
        return roots, report
    for _ in range(MAX_ROUNDS):
        report.rounds += 1
        before = sum(report.fired.values())
        roots = rewrite_pass(roots, _PASS, report.fired, _SETTLED)
        if sum(report.fired.values()) == before:
            break
    else:
        report.converged = False  # still correct, only perhaps not as small as it could be
    roots = merge(roots, report.fired)
    report.nodes_after, report.ops_after = _count(live_nodes(roots))
    run_id = next(_runs)
    for r in roots:
        _OUTPUT_OF[r] = run_id
    report.seconds = time.perf_counter() - start
    return roots, report


@overload
def optimize(nodes: Node, report: bool = False) -> Node: ...
@overload
def optimize(nodes: Sequence[Node], report: bool = False) -> list[Node] | tuple[Node, ...]: ...


def optimize(nodes, report=False):
    """Rewrite the graph below `nodes` into a smaller, numerically stable equivalent.

    `nodes` is a node, a list or a tuple of nodes; the result has the same structure. With
    `report=True` the result is `(nodes, OptimizeReport)`. Variables stay the same objects,
    and a replaced node passes its label and provenance to its replacement.
    """
    if isinstance(nodes, Node):
        roots = [nodes]
    elif isinstance(nodes, (list, tuple)) and all(isinstance(n, Node) for n in nodes):
        roots = list(nodes)
    else:
        raise SymdiffError(f"optimize takes a node or a list or tuple of nodes, got "
                           f"{type(nodes).__name__}: {nodes!r}"[:300])
    new_roots, rep = run(roots)
    if isinstance(nodes, Node):
        result = new_roots[0]
    elif isinstance(nodes, tuple):
        result = tuple(new_roots)
    else:
        result = new_roots
    return (result, rep) if report else result
