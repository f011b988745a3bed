"""symdiff's back end: lowering expression graphs to standalone NumPy source, and loading it.

    fn = codegen.Function("loss_grad", [X, W], (loss, dW))
    source = codegen.emit_module([fn], title="my model")
    module = codegen.load_module(source, "my_model")

The pipeline for each function: schedule (a memory-aware topological order), name
(sanitized, derived from the graph), plan buffers (in-place updates, `out=` into dead
buffers, `del` after the last use), print one statement per node from the op lowerings.
"""

from .function import Function, Pytree
from .loader import load_module
from .module import emit_module, write_module
from .naming import sanitize

__all__ = ["Function", "Pytree", "emit_module", "load_module", "sanitize", "write_module"]
