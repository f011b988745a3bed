"""symdiff's back end: lowering expression graphs to standalone NumPy source, and loading it.

    fn = codegen.Function("loss_grad", [X, W], (loss, dW))
    source = codegen.emit_module([fn], title="my model")
    module = codegen.load_module(source, "my_model")

The pipeline for each function, one module per step: schedule (a memory-aware
topological order), naming (sanitized identifiers derived from the graph), memory (in-place
updates, `out=` into dead buffers, scratch arrays kept across calls for large temporaries,
`del` after the last use), printer and emit (one statement per node from the op lowerings,
entry checks, docstrings), layout (line wrapping), module (header, constants, helpers),
loader (through a real file). `runtime` holds the helpers copied into generated modules.
"""

from .function import Function, Pytree
from .loader import load_module
from .module import NUMBA_TARGETS, TARGETS, emit_module, write_module
from .naming import sanitize

__all__ = ["NUMBA_TARGETS", "TARGETS", "Function", "Pytree", "emit_module", "load_module",
           "sanitize", "write_module"]
