"""Loops in the graph: `scan(fn, init, xs)` with the semantics of `jax.lax.scan`.

    (carry, ys) = scan(fn, init, xs)   # for t: carry, ys[t] = fn(carry, xs[t])

`fn` is called once, on placeholder variables, to build the loop's *body*: a sub-graph
held by the scan node as a static attribute (`Body`). Outer nodes the body reads (the
parameters of an RNN) become explicit operands of the scan node, so derivatives reach them.
One scan node is a multi-output op: its outputs are the final carries, the stacked ys, and
hidden stacked *residuals*, the body values its reverse pass reads (the carry at each step
and what the body's VJP needs), which code generation stores only when something reads them.

Derivatives are graph too, so they differentiate again:
- reverse mode (back-propagation through time) is a reverse scan whose body is the body's
  own VJP, reading the residuals; its carry is the carry's cotangent plus running sums of
  the cotangents of the closed-over operands;
- forward mode is a scan over the carry and its tangent;
- batching (for jacobian and hessian) is a scan whose body is the batched body;
- `checkpoint=k` stores only every k-th carry: the reverse pass is a reverse scan over
  segments of k steps, each of which recomputes its residuals with an inner forward scan
  (course notes 6.5.3: store or recompute).

Modules: api.py (`scan`, build-time checks), op.py (the op record, evaluation, `assemble`),
body.py (the body sub-graph and what its reverse pass reads), rules.py (derivative and
batching rules, which register themselves with the op when this package is imported).
"""

from . import rules  # noqa: F401 - registers the scan op's derivative and batching rules
from .api import scan
from .body import Body, LoopCall

__all__ = ["Body", "LoopCall", "scan"]
