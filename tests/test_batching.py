"""The batching transformation: for every op, vmap over each operand (and all of them)
equals evaluating the op once per slice and stacking the results."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.batching import vmap
from symdiff.ops import REGISTRY

B = 3  # batch size

# op name -> list of (builder over input nodes, input shapes)
CASES: dict[str, list] = {
    **{name: [(getattr(sd, name), [(2, 3)])] for name in (
        "exp", "log", "log1p", "expm1", "sqrt", "square", "abs", "sign", "sin", "cos", "tan",
        "tanh", "sigmoid", "softplus", "relu")},
    "neg": [(lambda x: -x, [(2, 3)])],
    **{name: [(getattr(sd.ops, name), [(2, 3), (3,)]), (getattr(sd.ops, name), [(), (2, 1)])]
       for name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "less",
                    "less_equal", "greater", "greater_equal", "equal", "not_equal")},
    "where": [(lambda c, x, y: sd.where(c > 1.0, x, y), [(2, 3), (3,), (2, 1)])],
    **{name: [(lambda x, f=getattr(sd, name): f(x, axis=1), [(2, 3, 2)]),
              (lambda x, f=getattr(sd, name): f(x), [(2, 3)]),
              (lambda x, f=getattr(sd, name): f(x, axis=(0, 2), keepdims=True), [(2, 3, 2)])]
       for name in ("sum", "mean", "max", "min", "prod", "logsumexp")},
    "softmax": [(lambda x: sd.softmax(x, axis=0), [(2, 3)])],
    "log_softmax": [(lambda x: sd.log_softmax(x), [(2, 3)])],
    "matmul": [(sd.matmul, [(2, 3), (3, 4)]), (sd.matmul, [(3,), (3, 4)]),
               (sd.matmul, [(2, 3), (3,)]), (sd.matmul, [(3,), (3,)]),
               (sd.matmul, [(2, 2, 3), (3, 4)]), (sd.matmul, [(3,), (2, 3, 4)])],
    "einsum": [(lambda a, b: sd.einsum("ij,jk->ki", a, b), [(2, 3), (3, 4)]),
               (lambda a, b, c: sd.einsum("i,ij,j->", a, b, c), [(2,), (2, 3), (3,)])],
    "transpose": [(lambda x: sd.transpose(x, (2, 0, 1)), [(2, 3, 4)])],
    "reshape": [(lambda x: sd.reshape(x, (3, 2)), [(2, 3)])],
    "broadcast_to": [(lambda x: sd.broadcast_to(x, (2, 4, 3)), [(4, 1)])],
    "expand_dims": [(lambda x: sd.expand_dims(x, (0, 2)), [(2, 3)])],
    "concatenate": [(lambda a, b: sd.concatenate([a, b], axis=1), [(2, 3), (2, 1)])],
    "stack": [(lambda a, b: sd.stack([a, b], axis=1), [(2, 3), (2, 3)])],
    "getitem": [(lambda x: x[1:, None, ::2], [(3, 4)]), (lambda x: x[..., 0], [(3, 4)])],
    "unindex": [(lambda x: sd.ops.unindex(x, ((0, 2, None),), (4, 3)), [(2, 3)])],
    "astype": [(lambda x: sd.astype(x, "float32"), [(2, 3)])],
    "dim_size": [(lambda x: sd.ops.dim_size(x, (0, 1)), [(2, 3)])],
}
STRUCTURAL = {"zeros", "eye"}  # no operands, so nothing to batch


def test_every_op_has_a_case():
    assert set(REGISTRY) - STRUCTURAL - set(CASES) == set()


def _cases():
    for name, cases in CASES.items():
        for k, (build, shapes) in enumerate(cases):
            subsets = [[i] for i in range(len(shapes))]
            if len(shapes) > 1:
                subsets.append(list(range(len(shapes))))
            for subset in subsets:
                yield pytest.param(build, shapes, subset, id=f"{name}-{k}-batch{subset}")


@pytest.mark.parametrize("build,shapes,batched", list(_cases()))
def test_vmap_equals_stacked_slices(build, shapes, batched):
    rng = np.random.default_rng(0)
    xs = [sd.var(f"x{i}", s) for i, s in enumerate(shapes)]
    out = build(*xs)
    values = [rng.uniform(0.5, 1.5, size=s) for s in shapes]
    stacked = {i: rng.uniform(0.5, 1.5, size=(B,) + s) for i, s in enumerate(shapes)
               if i in batched}
    holders = {i: sd.var(f"b{i}", (B,) + s) for i, s in enumerate(shapes) if i in batched}
    (result,) = vmap([out], {xs[i]: holders[i] for i in batched})
    bindings = {x: v for i, (x, v) in enumerate(zip(xs, values)) if i not in batched}
    bindings.update({holders[i]: stacked[i] for i in batched})
    got = sd.evaluate(result, bindings)
    want = []
    for b in range(B):
        one = {x: (stacked[i][b] if i in batched else values[i]) for i, x in enumerate(xs)}
        want.append(sd.evaluate(out, one))
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-12, atol=1e-14)
    assert result.shape == (B,) + out.shape
