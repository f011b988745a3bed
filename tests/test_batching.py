"""The batching transformation: for every row of the op table, vmap over each operand (and
all of them) equals evaluating the op once per slice and stacking the results."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.batching import vmap
from tests.test_ops_table import CASES, Case

B = 3  # batch size



def _cases():
    """Every row of the op table with operands, batched over each operand and over all."""
    for c in CASES:
        if not c.shapes:
            continue
        # integer operands (indices, labels) never carry a batch axis: jacobian and
        # hessian batch float values and what is computed from them
        batchable = [i for i, d in enumerate(c.input_dtypes()) if d != "int64"]
        subsets = [[i] for i in batchable]
        if len(batchable) > 1:
            subsets.append(batchable)
        for subset in subsets:
            yield pytest.param(c, subset, id=f"{c.id}-batch{subset}")


@pytest.mark.parametrize("c,batched", list(_cases()))
def test_vmap_equals_stacked_slices(c: Case, batched):
    rng = np.random.default_rng(0)
    shapes, dtypes = c.shapes, c.input_dtypes()
    var_shapes = c.symbolic or shapes
    xs = [sd.var(f"x{i}", s, d) for i, (s, d) in enumerate(zip(var_shapes, dtypes))]
    out = c.build(*xs)
    samples = [c.sample(rng, shapes) for _ in range(B + 1)]
    values = [np.asarray(v).astype(d) for v, d in zip(samples[0], dtypes)]
    stacked = {i: np.stack([np.asarray(samples[b + 1][i]).astype(dtypes[i]) for b in range(B)])
               for i in batched}
    holders = {i: sd.var(f"b{i}", (B,) + var_shapes[i], dtypes[i]) for i in batched}
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
