"""A whole generated module: header, `import numpy as np`, shared constants and helpers,
then one function per `Function`. The same input gives byte-identical text."""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence

from symdiff.atomic import write_atomic
from symdiff.gcpause import gc_paused
from symdiff.graph import Node
from symdiff.ops.lowering import helper_modules

from . import runtime
from .emit import ModuleState, docstring, emit_function, hoisted_block
from .function import Function
from .naming import Namer
from .printer import array_text, typed_scalar

RUNTIME_HELPERS = (runtime._as_array, runtime._shape_error)


TARGETS = ("numpy", "numba", "numba-parallel", "array-api")
# the targets whose modules hold numba kernels (loaded with `load_module(compiled=True)`)
NUMBA_TARGETS = ("numba", "numba-parallel")


@gc_paused
def emit_module(functions: Sequence[Function], *, title: str,
                statements: dict[Node, str] | None = None, target: str = "numpy",
                whole: bool | None = None) -> str:
    """The source text of a module defining one NumPy function per `Function`. A dict
    given as `statements` receives the statement computing each node that has one (before
    line wrapping, in body order; views written inline and constants have none). `target`
    picks the back end: "numpy" (this module); "numba", where clusters of elementwise ops
    and reductions become fused `@numba.njit` kernels (codegen/kernels.py) that the
    functions call; "numba-parallel", the same with the kernels whose iterations are
    independent along their first axis run on numba's threads (`numba.prange`); "array-api"
    (codegen/array_api.py). `whole` (serial numba target): whether a small function runs as
    one compiled call (codegen/whole.py); by default when the module has at most
    `whole.MAX_FUNCTIONS` functions.
    """
    functions = list(functions)
    for fn in functions:
        if not isinstance(fn, Function):
            raise TypeError(f"emit_module takes codegen.Function records, got "
                            f"{type(fn).__name__}")
    if target not in TARGETS:
        raise ValueError(f"unknown code generation target {target!r} (one of {TARGETS})")
    if target == "array-api":
        from . import array_api

        return array_api.emit_module(functions, title=title, statements=statements)
    kernels = None
    one_call = [False] * len(functions)  # runs as one compiled call (codegen/whole.py)
    if target in NUMBA_TARGETS:
        from . import whole as whole_kernels
        from .kernels import KernelState, fuse_function

        kernels = KernelState(parallel=target == "numba-parallel")
        if whole is None:  # threads are for big arrays, whole-function kernels for small
            whole = len(functions) <= whole_kernels.MAX_FUNCTIONS and not kernels.parallel
        one_call = [whole and whole_kernels.eligible(fn) for fn in functions]
        functions = [fuse_function(fn, kernels, whole=w)
                     for fn, w in zip(functions, one_call, strict=True)]
    state = ModuleState()
    namer = Namer()
    names = [namer.fresh(fn.name, "f") for fn in functions]
    bodies = [whole_kernels.emit_whole(fn, kernels, state, name) if w else
              emit_function(fn, state, name)
              for fn, name, w in zip(functions, names, one_call, strict=True)]
    helpers = _helpers(state)
    if statements is not None:  # in module order: constants computed on import first
        statements.update(state.hoisted_lines)
        statements.update(state.statements)
    modules = {"threading": "threading"} if state.scratch_caches else {}
    for helper in helpers:
        modules.update(helper_modules(helper))
    if kernels is not None and kernels.sources:
        modules["numba"] = "numba"
        modules.update({m: m for m in kernels.modules if m != "np"})
        for helper in kernels.helpers.values():  # they may call each other (vecmath)
            modules.update(helper_modules(helper, alongside=kernels.helpers))
    imports = "".join(f"import {module}\n" if alias == module else
                      f"import {module} as {alias}\n"
                      for alias, module in sorted(modules.items()) if alias != "np")
    parts = [_header(title, names, kernels is not None and bool(kernels.sources)),
             f"from __future__ import annotations\n\n{imports + chr(10) if imports else ''}"
             "import numpy as np\n\n" + _globals(state)]
    for helper in helpers:
        parts.append(inspect.getsource(helper))
    if kernels is not None:
        from .kernels import helper_source

        parts.extend(helper_source(h) for _, h in sorted(kernels.helpers.items()))
        parts.extend(kernels.sources)
    if state.hoisted:
        parts.append(hoisted_block(state))
    parts.extend(state.loop_sources)  # loops and their bodies (scan), before their callers
    parts.extend(bodies)
    return "\n\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def write_module(path: str | os.PathLike, functions: Sequence[Function], *, title: str,
                 target: str = "numpy") -> None:
    """Write the generated module to `path`, atomically (temp file and rename)."""
    write_atomic(path, emit_module(functions, title=title, target=target))


def _header(title: str, names: list[str], numba: bool = False) -> str:
    needs = ("Needs NumPy and numba (fused kernels, compiled on first call and cached on "
             "disk next to this file)" if numba else "Needs only NumPy")
    text = (f"{title.strip() or 'Generated functions'}\n\n"
            "Generated by symdiff's code generator (codegen); edit the model, not this file.\n"
            f"{needs}. Functions: " + ", ".join(names) + ".")
    return docstring(text, "")


def _globals(state: ModuleState) -> str:
    lines = ["_ndarray = np.ndarray"]
    for dtype in sorted(state.dtypes):
        lines.append(f"_{dtype} = np.dtype({dtype!r})")
    for node, name in state.constants.items():
        lines.extend(_constant_lines(node, name))
    for cache in state.scratch_caches:
        lines.append(f"{cache} = threading.local()")
    return "\n".join(lines) + "\n"


def _constant_lines(node: Node, name: str) -> list[str]:
    if node.value.ndim == 0:
        return [f"{name} = {typed_scalar(node)}"]
    return [f"{name} = {array_text(node.value, node.dtype)}",
            f"{name}.flags.writeable = False"]


def _helpers(state: ModuleState) -> list:
    """The helpers the functions call, runtime ones first, each once, by name."""
    found: dict[str, object] = {h.__name__: h for h in RUNTIME_HELPERS}
    for name in sorted(state.helpers):
        helper = state.helpers[name]
        if name in found and found[name] is not helper:
            raise ValueError(f"two different helpers are both named {name!r}")
        found[name] = helper
    return list(found.values())
