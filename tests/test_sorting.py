"""sort, partition, argsort, argpartition: the tie rule, errors naming operands, specs and
NumPy dispatch (values and derivatives at distinct values are in the op table)."""

from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.spec import loads_spec, spec_module
from symdiff.spec.check import check_spec


def test_ties_follow_the_stable_order(target):
    """Equal elements keep their order, so the first of them (in x) takes the first sorted
    place and its cotangent: the weights 0, 1, 2 go to the 2.0s in order of position."""
    x = sd.var("x", (4,))
    w = sd.const(np.array([0.0, 1.0, 2.0, 3.0]))
    y = sd.sum(sd.sort(x) * w)
    value = np.array([2.0, 5.0, 2.0, 2.0])
    want = np.array([0.0, 3.0, 1.0, 2.0])
    np.testing.assert_array_equal(sd.evaluate(sd.grad(y, x), {x: value}), want)
    np.testing.assert_array_equal(sd.function([x], sd.grad(y, x), target=target)(value), want)
    tangent = sd.evaluate(sd.jvp(sd.sort(x), x, np.array([10.0, 20.0, 30.0, 40.0])),
                          {x: value})
    np.testing.assert_array_equal(tangent, [10.0, 30.0, 40.0, 20.0])


def test_partition_value_and_gradient_follow_one_permutation():
    rng = np.random.default_rng(0)
    x = sd.var("x", (3, 7))
    value = rng.standard_normal((3, 7))
    p = sd.partition(x, 2, axis=1)
    got = sd.evaluate(p, {x: value})
    np.testing.assert_array_equal(got[:, 2], np.sort(value, axis=1)[:, 2])
    assert np.all(got[:, :2] <= got[:, 2:3]) and np.all(got[:, 3:] >= got[:, 2:3])
    # the gradient of the kth smallest picks the place it came from
    g = sd.evaluate(sd.grad(sd.sum(p[:, 2]), x), {x: value})
    want = (value == np.sort(value, axis=1)[:, 2:3]).astype(float)
    np.testing.assert_array_equal(g, want)


def test_hessian_through_sort(target):
    x = sd.var("x", (3,))
    y = sd.sum(sd.sort(x) ** 3 * sd.const(np.array([1.0, 2.0, 3.0])))
    value = np.array([0.3, -1.0, 2.0])
    H = sd.function([x], sd.hessian(y, x), target=target)(value)
    # sorted: -1.0 (weight 1), 0.3 (weight 2), 2.0 (weight 3); d2/dx2 of w x^3 is 6 w x
    np.testing.assert_allclose(H, np.diag([6 * 2 * 0.3, 6 * 1 * -1.0, 6 * 3 * 2.0]))


def test_errors_name_the_operand():
    x = sd.var("x", (3, 4))
    with pytest.raises(sd.ShapeError, match=r"partition: kth 4 is out of range .* x \(3, 4\)"):
        sd.partition(x, 4)
    with pytest.raises(sd.ShapeError, match=r"argpartition: kth -5 .* x"):
        sd.argpartition(x, -5)
    with pytest.raises(sd.ShapeError, match="sort: axis 2 is out of range"):
        sd.sort(x, 2)
    with pytest.raises(sd.ShapeError, match="kth must be an int"):
        sd.partition(x, 1.5)


def test_numpy_functions_dispatch():
    x = sd.var("x", (3, 4))
    assert np.sort(x).op.name == "sort" and np.partition(x, 1).op.name == "sort"
    assert np.argsort(x).dtype == "int64" and np.argpartition(x, 1).op.name == "argsort"


SPEC = '''
name = "trimmed"
[inputs]
X = { shape = ["n", 6] }
[params]
w = { shape = [6] }
[define]
s = "sort(X * w, axis=1)"
kept = "partition(s, (1, 4), axis=1)[:, 1:5]"
loss = "mean(kept ** 2) + sum(take_along_axis(X, argsort(X, axis=1), 1)[:, 0] * w[0])"
[outputs]
loss = "loss"
[derivatives]
loss_grad = { of = "loss", wrt = "w" }
'''


def test_specs_call_sort_partition_and_argsort():
    spec = loads_spec(SPEC)
    module = spec_module(spec)
    rows = check_spec(spec, module)
    assert rows and all(r.ok for r in rows), rows


def test_index_arrays_as_first_and_later_items():
    """An ndarray index in any place (it used to be compared with `:` elementwise, an
    ambiguous truth value): x[idx], x[idx, :], x[:, idx], as NumPy does."""
    x = sd.var("x", (5, 3))
    value = np.arange(15.0).reshape(5, 3)
    idx = np.array([1, 1, 4])
    for build, want in [(lambda a: a[idx], value[idx]), (lambda a: a[idx, :], value[idx, :]),
                        (lambda a: a[:, np.array([2, 0])], value[:, [2, 0]])]:
        np.testing.assert_array_equal(sd.evaluate(build(x), {x: value}), want)
    g = sd.evaluate(sd.grad(sd.sum(x[idx]), x), {x: value})
    np.testing.assert_array_equal(g[:, 0], [0, 2, 0, 0, 1])
