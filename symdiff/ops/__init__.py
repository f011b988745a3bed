"""The op library. Each op is defined once, in the module of its family, and registered in
REGISTRY; its public constructor is registered in PUBLIC (the names `symdiff` exports and
specs may call). This package also re-exports the internal constructors rules build with."""

from . import (
    arrays,
    custom,
    decompositions,
    elementwise,
    gather,
    joins,
    linalg,
    operators,
    reductions,
    sorting,
    special,
    statistics,
    structure,
)
from .base import PUBLIC, REGISTRY, Op, library_ops, lift, spec_functions
from .custom import define_op, stop_gradient
from .elementwise import add, div, mul, neg, pow, sub
from .gather import getitem
from .joins import concatenate, stack
from .reductions import add_batch, broadcast_to, dim_size, sum_to
from .structure import batch_align, unindex, zeros

globals().update(PUBLIC)  # every public constructor: ops.exp, ops.matmul, ...

__all__ = ["PUBLIC", "REGISTRY", "Op", "library_ops", "lift", "spec_functions", "define_op",
           "stop_gradient", "add", "div", "mul", "neg", "pow", "sub", "concatenate", "stack",
           "add_batch", "broadcast_to", "dim_size", "sum_to", "batch_align", "getitem",
           "unindex", "zeros", "arrays", "custom", "decompositions", "elementwise", "gather",
           "joins", "linalg", "operators", "reductions", "sorting", "special", "statistics",
           "structure"]
__all__ += [name for name in PUBLIC if name not in __all__]
