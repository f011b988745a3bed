"""The op library. Each op is defined once, in the module of its family; this package
re-exports the public constructors."""

from .base import REGISTRY, Op, lift
from .elementwise import (
    abs,
    add,
    cos,
    div,
    equal,
    exp,
    expm1,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    not_equal,
    pow,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    square,
    sub,
    tan,
    tanh,
    where,
)
from .linalg import dot, einsum, matmul
from .reductions import (
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    sum,
    sum_to,
)
from .structure import (
    astype,
    broadcast_to,
    concatenate,
    dim_size,
    expand_dims,
    eye,
    getitem,
    reshape,
    stack,
    transpose,
    unindex,
    zeros,
)

__all__ = [
    "REGISTRY", "Op", "lift",
    "abs", "add", "cos", "div", "equal", "exp", "expm1", "greater", "greater_equal", "less",
    "less_equal", "log", "log1p", "maximum", "minimum", "mul", "neg", "not_equal", "pow",
    "relu", "sigmoid", "sign", "sin", "softplus", "sqrt", "square", "sub", "tan", "tanh",
    "where", "dot", "einsum", "matmul", "log_softmax", "logsumexp", "max", "mean", "min",
    "prod", "softmax", "sum", "sum_to", "astype", "broadcast_to", "concatenate", "dim_size",
    "expand_dims", "eye", "getitem", "reshape", "stack", "transpose", "unindex", "zeros",
]
