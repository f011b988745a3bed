"""Graph rewrites: small named rules in phases run in a fixed order by one pipeline.

    canonicalize  one normal form per expression (canonicalize.py)
    fold          constant subgraphs computed once (fold.py)
    simplify      algebraic identities (simplify.py)
    stabilize     numerically stable equivalents (stabilize.py)
    merge         one node per value; dead code is never rebuilt (merge.py)

`optimize(nodes)` runs them (pipeline.py); engine.py holds the rule record and the pass.
"""

from .engine import Phase, RewriteError, Rule, rewrite_pass
from .pipeline import PHASES, OptimizeReport, optimize

__all__ = ["PHASES", "OptimizeReport", "Phase", "RewriteError", "Rule", "optimize",
           "rewrite_pass"]
