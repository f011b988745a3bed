"""The op table through the numba target, in one generated module (no tests here).

Every row's value function and the gradient of a scalar built on it, each generated twice
(by default, and with every temporary in a scratch array), in ONE numba-target module, so
that a kernel many rows share is compiled once. Compiling its 300-odd kernels is most of
the cost, so `warm_up` (started in a second process by tests/conftest.py when the op-table
tests are collected) compiles them into numba's disk cache from the end of the table
backwards while the tests, going forwards, use the other core; each kernel is then
compiled by whichever process reaches it first and loaded from disk by the other.

    python3 tests/numba_op_table.py CACHE_DIR    # the warm-up, as conftest runs it
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import codegen  # noqa: E402
import symdiff as sd  # noqa: E402
from codegen import module as module_emitter  # noqa: E402
from tests.test_ops_table import CASES, Case, _instance  # noqa: E402

SEED = 0
# where the warm-up process caches the kernels (set by conftest when it starts one)
CACHE_KEY = pytest.StashKey[str]()


def gradient_outputs(c: Case, inputs: list, y) -> list:
    """The reverse-mode graph of sum(sin(y) + y * y), a cotangent that varies per element."""
    cost = sd.sum(sd.sin(y) + y * y)
    return [cost, *sd.grad(cost, [inputs[i] for i in c.diff])]


def build(cache_dir: str) -> tuple[ModuleType, list[tuple[str, list[np.ndarray]]], list]:
    """The module (loaded from `cache_dir`, where numba caches its kernels), the name and
    arguments of each of its functions in table order, and the rows' graphs (keep them
    alive: tests rebuilding a row then get the very same nodes)."""
    rng = np.random.default_rng(SEED)
    functions, calls, graphs = [], [], []
    for k, c in enumerate(CASES):
        inputs, y, point = _instance(c, rng)
        args = [np.asarray(point[v]) for v in inputs]
        graphs.append(y)
        kinds = [("value", (y,))]
        if c.diff:
            kinds.append(("gradient", tuple(gradient_outputs(c, inputs, y))))
        for kind, outputs in kinds:
            functions.append(codegen.Function(f"{kind}_{k}", inputs, outputs))
            calls.append((f"{kind}_{k}", args))
    scratch = [codegen.Function(f"scratch_{fn.name}", fn.inputs, fn.outputs)
               for fn in functions]
    real_emit = module_emitter.emit_function

    def emit(fn, state, name, **kwargs):  # the scratch_ copies: every temporary in scratch
        return real_emit(fn, state, name,
                         scratch_bytes=0 if name.startswith("scratch_") else None)

    saved = os.environ.get("SYMDIFF_CACHE_DIR")
    os.environ["SYMDIFF_CACHE_DIR"] = cache_dir
    module_emitter.emit_function = emit
    try:
        source = codegen.emit_module(functions + scratch, title="op table", target="numba")
        module = codegen.load_module(source, "op_table", compiled=True)
    finally:
        module_emitter.emit_function = real_emit
        if saved is None:
            del os.environ["SYMDIFF_CACHE_DIR"]
        else:
            os.environ["SYMDIFF_CACHE_DIR"] = saved
    return module, calls, graphs


def table(module: ModuleType) -> dict[tuple[str, str], tuple]:
    """(kind, row id) -> the row's (default, all-scratch) functions."""
    found = {}
    for k, c in enumerate(CASES):
        for kind in ("value", "gradient"):
            if hasattr(module, f"{kind}_{k}"):
                found[kind, c.id] = (getattr(module, f"{kind}_{k}"),
                                     getattr(module, f"scratch_{kind}_{k}"))
    return found


def warm_up(cache_dir: str) -> None:
    """Call every function once, gradients first and from the end of the table backwards
    (the opposite of the tests' order), so that numba compiles and caches each kernel."""
    module, calls, _ = build(cache_dir)
    for name, args in sorted(reversed(calls), key=lambda call: not call[0].startswith("g")):
        try:
            getattr(module, name)(*args)
        except Exception:  # noqa: BLE001 - the tests report failures; this only compiles
            pass


if __name__ == "__main__":
    warm_up(sys.argv[1])
