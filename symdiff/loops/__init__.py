"""Loops in the graph: `scan` (api.py), the op record (op.py), the body sub-graph
(body.py), and the derivative and batching rules (rules.py), which register themselves
with the op when this package is imported."""

from . import rules  # noqa: F401 - registers the scan op's derivative and batching rules
from .api import scan
from .body import Body, LoopCall

__all__ = ["Body", "LoopCall", "scan"]
