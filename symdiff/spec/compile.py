"""From a loaded spec to a generated NumPy module: optimize each function's graph (unless
asked not to), then hand the functions to the back end (codegen)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from ..graph import Node
from .errors import SpecError
from .loader import FunctionPlan, Pytree, Spec, load_spec


def flatten(tree: Pytree) -> list[Node]:
    """The nodes of a pytree, depth first."""
    if isinstance(tree, Node):
        return [tree]
    return [leaf for sub in tree for leaf in flatten(sub)]


def unflatten(tree: Pytree, leaves: list[Node]) -> Pytree:
    """A pytree shaped like `tree` holding `leaves` (consumed from the front)."""
    if isinstance(tree, Node):
        return leaves.pop(0)
    return tuple(unflatten(sub, leaves) for sub in tree)


def optimized_outputs(plan: FunctionPlan, optimize: bool = True) -> Pytree:
    """The function's outputs, rewritten by symdiff.rewrite.optimize when asked."""
    if not optimize:
        return plan.outputs
    from ..rewrite import optimize as rewrite

    leaves = list(rewrite(flatten(plan.outputs)))
    return unflatten(plan.outputs, leaves)


def module_title(spec: Spec) -> str:
    """The generated module's title line: the spec's name and file."""
    origin = f" (from {Path(spec.path).name})" if spec.path else ""
    text = f"{spec.name}{origin}"
    if spec.description:
        text += f": {spec.description.strip()}"
    return text


def codegen_functions(spec: Spec, *, optimize: bool = True) -> list[Any]:
    """One codegen.Function per [outputs] and [derivatives] entry, in file order."""
    import codegen

    for plan in spec.functions:  # the loader's name rules should make this never fire
        for name in [plan.name] + [arg.name for arg in plan.args]:
            if codegen.sanitize(name) != name:
                raise SpecError(f"{name!r} would be renamed to {codegen.sanitize(name)!r} in "
                                "the generated module; rename it", file=spec.path,
                                key=plan.name)
    return [codegen.Function(plan.name, list(plan.args), optimized_outputs(plan, optimize),
                             doc=plan.doc)
            for plan in spec.functions]


def _as_spec(spec: Spec | str | os.PathLike) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec)


def compile_spec(spec: Spec | str | os.PathLike, *, optimize: bool = True,
                 target: str = "numpy") -> str:
    """The source text of the generated module for a spec (a loaded Spec or a file path),
    for the code generation `target` (symdiff.function's targets)."""
    import codegen

    from ..function import check_target

    check_target(target)
    spec = _as_spec(spec)
    return codegen.emit_module(codegen_functions(spec, optimize=optimize),
                               title=module_title(spec), target=target)


def spec_module(spec: Spec | str | os.PathLike, *, optimize: bool = True,
                target: str = "numpy") -> ModuleType:
    """The generated module for a spec, compiled and loaded without writing a file."""
    import codegen

    spec = _as_spec(spec)
    name = re.sub(r"\W", "_", spec.name)
    return codegen.load_module(compile_spec(spec, optimize=optimize, target=target),
                               f"{name}_grad", compiled=target in codegen.NUMBA_TARGETS)
