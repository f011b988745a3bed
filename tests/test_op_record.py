"""The op record itself: every op says, in its one definition, everything the passes ask
(family, memory class, lowering, flops, rules per argument), its rules are named
module-level functions, and graphs pickle back to the very same interned nodes."""

from __future__ import annotations

import functools
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from symdiff import ops
from symdiff.ops import lowering
from symdiff.ops.base import FAMILIES, MEMORY_CLASSES, STATIC_KINDS
from tests.test_ops_table import CASES, Case, _instance

ROOT = Path(__file__).resolve().parents[1]
EXPRESSIONS = (lowering.Call, lowering.Method, lowering.Infix, lowering.Prefix,
               lowering.Subscript, lowering.Attribute, lowering.Arg, lowering.ArgList,
               lowering.Name)


def _named(rule) -> bool:
    """A module-level named function (or a partial of one, or a callable object)."""
    fn = rule.func if isinstance(rule, functools.partial) else rule
    if not callable(fn):
        return False
    if not hasattr(fn, "__code__"):
        return True  # a callable object or a C function: named by its type
    return fn.__name__ != "<lambda>" and fn.__closure__ is None \
        and "<locals>" not in fn.__qualname__


@pytest.mark.parametrize("name", sorted(ops.REGISTRY))
def test_record_fields_are_named_rules(name):
    op = ops.REGISTRY[name]
    assert op.family in FAMILIES
    assert callable(op.memory) or op.memory in MEMORY_CLASSES
    for field in ("shape_rule", "impl", "lower", "batch", "taylor", "flops", "finite",
                  "axes_from"):
        value = getattr(op, field)
        assert value is None or _named(value), f"{name}.{field} is a lambda or a closure"
    for rule in op.vjp + op.jvp:
        assert rule is None or _named(rule), f"{name}: rule {rule} is a lambda or a closure"
    if op.elementwise and op.module is None:
        assert op.batch is not None and op.taylor is not None
    signature = getattr(op.public, "signature", None)
    if signature is not None:
        for param in signature.statics:
            assert param in STATIC_KINDS or signature.statics[param][0]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_record_answers_for_an_instance(c: Case, rng):
    """Each op node gets a memory class, a structured lowering, a flop count and one rule
    slot per argument from its record alone."""
    _, y, _ = _instance(c, rng)
    node = y if y.op is not None and y.op.name == c.op else \
        next(n for n in sd.graph.topo_order([y]) if n.op is not None and n.op.name == c.op)
    op = node.op
    assert op.memory_of(node) in MEMORY_CLASSES
    assert isinstance(op.lowered(node), EXPRESSIONS)
    coefficient, dims = op.flop_count(node)
    assert isinstance(coefficient, int) and coefficient >= 0 and isinstance(dims, tuple)
    if not op.variadic and node.inputs:
        assert len(op.vjp) == len(op.jvp) == len(node.inputs), name_of(op)
    for i in range(len(node.inputs)):
        op.vjp_rule(i), op.jvp_rule(i)  # reachable the same way for every op


def name_of(op) -> str:
    return f"op {op.name}: one VJP and one JVP slot per argument"


# -- pickling -----------------------------------------------------------------------------------

def _mlp():
    X = sd.var("X", ("n", 3))
    W = sd.var("W", (3, 2))
    y = sd.var("y", ("n",), "int64")
    h = sd.relu(X @ W).named("h")
    loss = sd.mean(sd.logsumexp(h, axis=1) - sd.sum(h, axis=1) * sd.astype(y, "float64"))
    return X, W, y, loss


def test_pickled_graph_is_the_same_node():
    X, W, _, loss = _mlp()
    g = sd.grad(loss, W)
    for node in (loss, g, X):
        assert pickle.loads(pickle.dumps(node)) is node
    both = pickle.loads(pickle.dumps([loss, g]))
    assert both[0] is loss and both[1] is g


def test_unpickled_graph_keeps_labels_provenance_and_values(tmp_path):
    """In a fresh process the graph is rebuilt: same structure, labels, provenance, values."""
    X, W, y, loss = _mlp()
    g = sd.grad(loss, W)
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps((X, W, y, g)))
    script = (
        "import pickle, sys, numpy as np\n"
        "import symdiff as sd\n"
        "X, W, y, g = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "rng = np.random.default_rng(0)\n"
        "v = sd.evaluate(g, {X: rng.standard_normal((4, 3)), W: rng.standard_normal((3, 2)),"
        " y: np.array([0, 1, 1, 0])})\n"
        "labels = sorted(n.label for n in sd.graph.topo_order([g]) if n.label)\n"
        "rules = sorted({n.provenance.rule for n in sd.graph.topo_order([g]) if n.provenance})\n"
        "print(repr(v.tolist()), labels, rules)\n")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout
    rng = np.random.default_rng(0)
    v = sd.evaluate(g, {X: rng.standard_normal((4, 3)), W: rng.standard_normal((3, 2)),
                        y: np.array([0, 1, 1, 0])})
    labels = sorted(n.label for n in sd.graph.topo_order([g]) if n.label)
    rules = sorted({n.provenance.rule for n in sd.graph.topo_order([g]) if n.provenance})
    assert out.strip() == f"{v.tolist()!r} {labels} {rules}"


def test_deep_graph_pickles_without_recursion():
    x = sd.var("x", (2,))
    y = x
    for _ in range(20_000):
        y = sd.tanh(y)
    assert pickle.loads(pickle.dumps(y)) is y


def test_unknown_op_is_a_clear_error():
    with pytest.raises(sd.ShapeError, match="no op named 'no_such_op'"):
        ops.base.op_named("no_such_op")
