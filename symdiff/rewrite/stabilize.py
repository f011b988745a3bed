"""Phase 4, stabilize: numerically fragile patterns replaced by stable equivalents.

Forward patterns (log of a softmax, of a sigmoid, of one plus an exponential, of a sum of
exponentials, exp(x) - 1, ...) become the ops that the library computes stably. Patterns
look through the movement ops between their parts: log(reshape(sigmoid(x))) becomes
reshape(-softplus(-x)).

Derivative patterns: the rules of log, softmax and sigmoid build `g / a` and then multiply
by `a`, where `a` (exp, softmax, sigmoid, softplus, 1 - sigmoid) is positive but rounds to
0 or overflows for large inputs, so the quotient is inf and the product NaN. Cancelling
`a` gives the true value; it is what turns the gradient of softmax cross-entropy into
`softmax(x) * sum(y) - y`, scaled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ..graph import Node, apply, const
from ..ops import REGISTRY, astype, exp, expm1, log1p, neg, sigmoid, softplus
from .engine import Phase, rewrite_pass
from .match import factors_of, fit, has_value, is_op, peel, product, replay, uniform_value

stabilize = Phase("stabilize", "numerically stable equivalents")


def stabilized(nodes: Sequence[Node]) -> list[Node]:
    """`nodes` with their numerically fragile patterns replaced by stable equivalents (this
    phase alone). Derivatives are taken of this form (symdiff.autodiff), so that a gradient
    is as stable as the library's ops wherever the pattern sits, not only where it would
    survive into the derivative graph (log(sigmoid(x)) differentiates as -softplus(-x))."""
    return rewrite_pass(list(nodes), stabilize, Counter())

_log_softmax = REGISTRY["log_softmax"]
_logsumexp = REGISTRY["logsumexp"]


def _one_plus(node: Node) -> Node | None:
    """x for a node 1 + x (or x + 1), else None."""
    if is_op(node, "add"):
        a, b = node.inputs
        if has_value(a, 1):
            return b
        if has_value(b, 1):
            return a
    return None


def _positive(node: Node) -> bool:
    """Positive in exact arithmetic, yet 0 or inf in floating point for large inputs."""
    if node.op is not None and node.op.positive:
        return True
    if is_op(node, "sub"):
        return has_value(node.inputs[0], 1) and is_op(node.inputs[1], "sigmoid")
    if is_op(node, "add"):
        a, b = node.inputs
        va, vb = uniform_value(a), uniform_value(b)
        return (va is not None and va > 0 and _positive(b)) or \
            (vb is not None and vb > 0 and _positive(a))
    return False


# -- forward patterns ------------------------------------------------------------------------

# log(softmax(x)) -> log_softmax(x)
@stabilize.rule("log")
def log_of_softmax(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    if not is_op(core, "softmax"):
        return None
    return replay(chain, _log_softmax(core.inputs[0], axis=core.attrs["axis"]))


# log(sigmoid(x)) -> -softplus(-x)
@stabilize.rule("log")
def log_of_sigmoid(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    if not is_op(core, "sigmoid"):
        return None
    return replay(chain, neg(softplus(neg(core.inputs[0]))))


# log(1 - sigmoid(x)) -> -softplus(x)
@stabilize.rule("log")
def log_of_one_minus_sigmoid(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    if not (is_op(core, "sub") and has_value(core.inputs[0], 1)):
        return None
    s, inner = peel(core.inputs[1])
    if not is_op(s, "sigmoid"):
        return None
    stable = fit(replay(inner, neg(softplus(s.inputs[0]))), core)
    return replay(chain, stable)


# log(1 + exp(x)) -> softplus(x), log1p(exp(x)) -> softplus(x)
@stabilize.rule("log", "log1p")
def log_of_one_plus_exp(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    if is_op(node, "log1p"):
        rest, sum_node = core, None
    else:
        rest, sum_node = _one_plus(core), core
    if rest is None:
        return None
    e, inner = peel(rest)
    if not is_op(e, "exp"):
        return None
    stable = replay(inner, softplus(e.inputs[0]))
    return replay(chain, fit(stable, sum_node) if sum_node is not None else stable)


# log(sum(exp(x))) -> logsumexp(x)
@stabilize.rule("log")
def log_of_sum_of_exp(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    if not is_op(core, "sum"):
        return None
    e, inner = peel(core.inputs[0])
    if not is_op(e, "exp"):
        return None
    x = replay(inner, e.inputs[0])
    return replay(chain, _logsumexp(x, **core.attrs))


# log(exp(x)) -> x
@stabilize.rule("log")
def log_of_exp(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    return replay(chain, core.inputs[0]) if is_op(core, "exp") else None


# log(1 + x) -> log1p(x), log(1 - x) -> log1p(-x)
@stabilize.rule("log")
def log_of_one_plus(node: Node) -> Node | None:
    core, chain = peel(node.inputs[0])
    rest = _one_plus(core)
    minus = rest is None and is_op(core, "sub") and has_value(core.inputs[0], 1)
    if minus:
        rest = core.inputs[1]
    if rest is None:
        return None
    if rest.dtype != core.dtype:  # log(1.0 + k) of an int k: log1p needs the float k
        rest = astype(rest, core.dtype)
    return replay(chain, fit(log1p(neg(rest) if minus else rest), core))


# exp(x) - 1 -> expm1(x), -1 + exp(x) -> expm1(x)
@stabilize.rule("sub", "add")
def exp_minus_one(node: Node) -> Node | None:
    a, b = node.inputs
    if is_op(node, "sub") and has_value(b, 1):
        rest = a
    elif is_op(node, "add") and has_value(a, -1):
        rest = b
    elif is_op(node, "add") and has_value(b, -1):
        rest = a
    else:
        return None
    e, chain = peel(rest)
    if not is_op(e, "exp"):
        return None
    return fit(replay(chain, expm1(e.inputs[0])), node)


# 1 / (1 + exp(-x)) -> sigmoid(x), exp(x) / (1 + exp(x)) -> sigmoid(x)
@stabilize.rule("div")
def sigmoid_from_exp(node: Node) -> Node | None:
    num, den = node.inputs
    e = _one_plus(den)
    if e is None or not is_op(e, "exp"):
        return None
    if num is e:
        return fit(sigmoid(e.inputs[0]), node)
    if has_value(num, 1) and is_op(e.inputs[0], "neg"):
        return fit(sigmoid(e.inputs[0].inputs[0]), node)
    return None


# exp(x) / sum(exp(x), axis, keepdims=True) -> softmax(x, axis): a softmax written out,
# which overflows at logits near 1e3 (and log of it then becomes log_softmax)
@stabilize.rule("div")
def softmax_by_hand(node: Node) -> Node | None:
    num, den = node.inputs
    total, _ = peel(den)
    if not (is_op(num, "exp") and is_op(total, "sum") and total.inputs[0] is num):
        return None
    axis = total.attrs["axis"]
    axes = tuple(range(num.ndim)) if axis is None else axis
    if total.shape != tuple(1 if a in axes else d for a, d in enumerate(num.shape)) \
            and not (axis is None and total.ndim == 0):
        return None
    return fit(apply(REGISTRY["softmax"], (num.inputs[0],), axis=axes), node)


# -- derivative patterns ---------------------------------------------------------------------

def _replace_factors(node: Node, factors: list[Node], changes: dict[int, Node | None]) -> Node:
    """The product `node` with factors replaced (None: dropped), fitted to its type."""
    kept = [changes[k] if k in changes else f for k, f in enumerate(factors)]
    kept = [f for f in kept if f is not None and not has_value(f, 1)]
    total = product(kept)
    return fit(total if total is not None else const(1, node.dtype), node)


# (b / a) * a -> b, also inside longer products, for a positive a that may round to 0
@stabilize.rule("mul")
def cancel_positive_factor(node: Node) -> Node | None:
    factors = factors_of(node)
    for i, f in enumerate(factors):
        if not (is_op(f, "div") and _positive(f.inputs[1])):
            continue
        for j, g in enumerate(factors):
            if j != i and g is f.inputs[1]:
                return _replace_factors(node, factors, {i: f.inputs[0], j: None})
    return None


# (b / (1 + exp(x))) * exp(x) -> b * sigmoid(x)
@stabilize.rule("mul")
def exp_over_one_plus_exp(node: Node) -> Node | None:
    factors = factors_of(node)
    for i, f in enumerate(factors):
        if not is_op(f, "div"):
            continue
        e = _one_plus(f.inputs[1])
        if e is None or not is_op(e, "exp"):
            continue
        for j, g in enumerate(factors):
            if j != i and g is e:
                return _replace_factors(node, factors, {i: f.inputs[0], j: sigmoid(e.inputs[0])})
    return None


# (b / sum(exp(x))) * exp(x) -> b * exp(x - logsumexp(x)): a ratio of overflowing values
@stabilize.rule("mul")
def exp_over_sum_of_exp(node: Node) -> Node | None:
    factors = factors_of(node)
    for i, f in enumerate(factors):
        core, chain = peel(f)
        if not (is_op(core, "div") and is_op(core.inputs[1], "sum")):
            continue
        b, total = core.inputs
        e = total.inputs[0]
        if not is_op(e, "exp"):
            continue
        for j, g in enumerate(factors):
            if j != i and g is e:
                lse = replay(chain, fit(_logsumexp(e.inputs[0], **total.attrs), core))
                return _replace_factors(node, factors, {i: replay(chain, fit(b, core)),
                                                        j: exp(e.inputs[0] - lse)})
    return None


# (b / a - c) * (a * d) -> b * (a * d) / a - c * (a * d), so that a cancels, for positive a:
# a product distributes over a sum or difference one of whose terms it divides exactly
@stabilize.rule("mul")
def distribute_over_cancelling_quotient(node: Node) -> Node | None:
    x, y = node.inputs
    for f, s in ((x, y), (y, x)):
        if not is_op(s, "add", "sub"):
            continue
        if cancels_in_sum(f, s):
            return fit(apply(s.op, (s.inputs[0] * f, s.inputs[1] * f)), node)
    return None


def cancels_in_sum(f: Node, s: Node) -> bool:
    """Whether `f` times a term of the sum `s` cancels a positive divisor of that term
    (as far down as cancel_positive_factor looks, so that distributing does cancel)."""
    present = factors_of(f, depth=2)
    return any(is_op(t, "div") and _positive(t.inputs[1]) and any(t.inputs[1] is p for p in present)
               for t in s.inputs)
