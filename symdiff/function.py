"""`symdiff.function`: compile a graph to generated NumPy code and call it.

    f = sd.function([x, W], [y, g])   # a list of outputs gives a tuple
    y_val, g_val = f(x_val, W_val)
    print(f.source)                    # the generated module

The work is done by the back end (the top-level `codegen` package), imported here and
not at package import, so that `import symdiff` stays light.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from . import rewrite
from .atomic import write_atomic
from .errors import SymdiffError
from .gcpause import gc_paused
from .graph import Node

FUNCTION_NAME = "f"


class CompiledFunction:
    """A callable running generated NumPy code. `source` is the module text, `save(path)`
    writes it (the file runs with NumPy alone), `module` is the loaded module."""

    def __init__(self, source: str, module: Any, inputs: tuple[Node, ...],
                 outputs: Node | tuple[Node, ...]) -> None:
        self.source = source
        self.module = module
        self.inputs = inputs
        self.outputs = outputs
        self._fn = getattr(module, FUNCTION_NAME)
        self.__wrapped__ = self._fn  # so inspect.signature shows the argument names
        self.__doc__ = self._fn.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def save(self, path: str | os.PathLike) -> None:
        """Write the generated module to `path` (atomically: a failed write leaves an
        existing file whole)."""
        write_atomic(path, self.source)

    def __repr__(self) -> str:
        args = ", ".join(v.name for v in self.inputs)
        return f"<symdiff compiled function ({args})>"


@gc_paused
def function(inputs: Node | Sequence[Node], outputs: Node | Sequence[Node],
             optimize: bool = True, target: str = "numpy") -> CompiledFunction:
    """Compile `outputs` as a function of the variables `inputs`, through generated NumPy
    code. A single output node gives one array per call; a list or tuple of outputs gives a
    tuple (nested lists give nested tuples, as for `[loss, sd.grad(loss, params)]`). With
    `optimize`, the graph is first simplified by symdiff.rewrite.optimize. `target`:
    "numpy" (the default); "numba" for fused loop kernels (needs the numba extra);
    "numba-parallel", the same with the loops that do not sum along their first axis split
    along it over numba's threads; or
    "array-api", code for any array library following the Python array API standard
    (PyTorch, JAX, Dask, ...; needs array-api-compat)."""
    import codegen

    check_target(target)

    tree = _as_tuples(outputs)
    leaves = codegen.function.flatten(tree)
    ins = (inputs,) if isinstance(inputs, Node) else tuple(inputs)
    if optimize:
        leaves = rewrite.optimize(leaves)
    tree = _unflatten(tree, iter(leaves))
    try:
        fn = codegen.Function(FUNCTION_NAME, ins, tree)
    except ValueError as err:
        raise SymdiffError(str(err)) from None
    source = codegen.emit_module([fn], title="Compiled by symdiff.function", target=target)
    module = codegen.load_module(source, "symdiff_function",
                                 compiled=target in codegen.NUMBA_TARGETS)
    return CompiledFunction(source, module, ins, tree)


# The library each target's generated modules import, and the extra that installs it.
_TARGET_NEEDS = {"numba": ("numba", "numba"), "numba-parallel": ("numba", "numba"),
                 "array-api": ("array_api_compat", "array-api")}


def check_target(target: str) -> None:
    """Refuse an unknown target, or one whose library is not installed (with the command
    that installs it)."""
    import codegen

    if target not in codegen.TARGETS:
        raise SymdiffError(f"unknown target {target!r}: one of {', '.join(codegen.TARGETS)}")
    if target in _TARGET_NEEDS:
        import importlib.util

        module, extra = _TARGET_NEEDS[target]
        if importlib.util.find_spec(module) is None:
            raise SymdiffError(f'target "{target}" needs {module}, which is not installed; '
                               f'install it with: pip install "symdiff[{extra}]"')


def _as_tuples(tree: Any) -> Any:
    """Outputs with every list made a tuple; anything but nodes and sequences is an error."""
    if isinstance(tree, Node):
        return tree
    if isinstance(tree, (list, tuple)):
        return tuple(_as_tuples(sub) for sub in tree)
    raise SymdiffError(f"symdiff.function outputs must be nodes or lists of nodes, got "
                       f"{type(tree).__name__}: {tree!r}"[:300])


def _unflatten(tree: Any, leaves: Any) -> Any:
    if isinstance(tree, Node):
        return next(leaves)
    return tuple(_unflatten(sub, leaves) for sub in tree)
