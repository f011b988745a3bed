"""Shared helpers of the codegen tests (no tests here): compile nodes through the back end
and compare the generated function with the reference interpreter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import codegen
import symdiff as sd
from symdiff.graph import Node


def compile_nodes(inputs: Sequence[Node], outputs: Sequence[Node], name: str = "f") -> Any:
    """The generated function computing `outputs` (as a tuple) from `inputs`."""
    fn = codegen.Function(name, list(inputs), tuple(outputs))
    module = codegen.load_module(codegen.emit_module([fn], title="test"), "codegen_test")
    return getattr(module, codegen.sanitize(name))


def assert_matches_evaluate(inputs: Sequence[Node], outputs: Sequence[Node],
                            point: Mapping[Node, Any], rtol: float = 1e-12) -> None:
    """Generated outputs equal sd.evaluate's: same shapes, same dtypes, values to `rtol`
    (float32 results to 1e-6), booleans and integers exactly; arguments left untouched."""
    f = compile_nodes(inputs, outputs)
    args = [np.array(point[v], copy=True) for v in inputs]
    got = f(*args)
    for before, after in zip([point[v] for v in inputs], args, strict=True):
        np.testing.assert_array_equal(np.asarray(before), after,
                                      err_msg="the generated code modified an argument")
    want = sd.evaluate(list(outputs), dict(point))
    assert isinstance(got, tuple) and len(got) == len(outputs)
    for node, g, w in zip(outputs, got, want, strict=True):
        g = np.asarray(g)
        assert g.shape == w.shape, f"{node!r}: shape {g.shape}, evaluate gives {w.shape}"
        assert g.dtype == w.dtype == np.dtype(node.dtype), \
            f"{node!r}: dtype {g.dtype}, evaluate gives {w.dtype}"
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=repr(node))
        else:
            tol = rtol if w.dtype == np.float64 else max(rtol, 1e-6)
            np.testing.assert_allclose(g, w, rtol=tol, atol=0, equal_nan=True,
                                       err_msg=repr(node))
