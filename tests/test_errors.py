"""Every error the core promises is raised, with a message naming what is at fault."""

from __future__ import annotations

import re

import numpy as np
import pytest

import symdiff as sd


def _raises(kind: type[Exception], *fragments: str):
    """pytest.raises that checks each fragment appears (literally) in the message."""
    return pytest.raises(kind, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


# -- grad, vjp, jvp ---------------------------------------------------------------------------

def test_grad_of_non_scalar_cost_names_its_shape():
    x = sd.var("x", (3, 2))
    y = (x * 2).named("y")
    with _raises(sd.GradError, "scalar cost", "y", "(3, 2)"):
        sd.grad(y, x)
    with _raises(sd.GradError, "scalar cost", "(3,)"):
        sd.grad(sd.sum(x, axis=1), x)


def test_grad_of_non_float_cost():
    x = sd.var("x", ())
    with _raises(sd.GradError, "float cost", "bool"):
        sd.grad(x > 0, x)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_integer_or_bool_wrt(dtype):
    n = sd.var("n", (3,), dtype)
    x = sd.var("x", (3,))
    cost = sd.sum(x * sd.astype(n, "float64"))
    for call in (lambda: sd.grad(cost, n), lambda: sd.grad(cost, [x, n]),
                 lambda: sd.vjp(cost, n, 1.0), lambda: sd.jvp(cost, n, np.ones(3))):
        with _raises(sd.GradError, "n", dtype, "float16, float32 or float64"):
            call()


@pytest.mark.parametrize("bad, type_name", [(np.ones(3), "ndarray"), ("x", "str"),
                                            (3.0, "float"), (None, "NoneType")])
def test_wrt_that_is_not_a_node(bad, type_name):
    x = sd.var("x", (3,))
    cost = sd.sum(x)
    with _raises(sd.GradError, "wrt must be a symdiff node", f"got {type_name}"):
        sd.grad(cost, bad)
    with _raises(sd.GradError, "wrt must be a symdiff node", f"got {type_name}"):
        sd.grad(cost, [x, bad])
    with _raises(sd.GradError, "wrt must be a symdiff node", f"got {type_name}"):
        sd.jvp(x * 2, bad, np.ones(3))


def test_cost_that_is_not_a_node():
    x = sd.var("x", (3,))
    with _raises(sd.GradError, "cost must be a symdiff node", "got ndarray"):
        sd.grad(np.ones(()), x)


def test_disconnected_wrt_gives_zeros_of_its_shape_by_default():
    x = sd.var("x", (3,))
    W = sd.var("W", (2, 4))
    n = sd.var("n", ("k", 2))
    cost = sd.sum(sd.exp(x))
    gx, gW, gn = sd.grad(cost, [x, W, n])
    assert gW.shape == (2, 4) and gW.dtype == "float64"
    assert gn.shape == ("k", 2)
    vx, vW, vn = sd.evaluate([gx, gW, gn], {x: np.zeros(3), W: np.ones((2, 4)),
                                            n: np.ones((5, 2))})
    np.testing.assert_array_equal(vx, np.ones(3))
    np.testing.assert_array_equal(vW, np.zeros((2, 4)))
    np.testing.assert_array_equal(vn, np.zeros((5, 2)))
    w32 = sd.var("w32", (2,), "float32")
    assert sd.grad(cost, w32).dtype == "float32"
    # jvp of an output that does not depend on the wrt node: zeros of the output's shape
    t = sd.var("t", (2, 4))
    np.testing.assert_array_equal(sd.evaluate(sd.jvp(x * 2, W, t), {x: np.ones(3),
                                                                  t: np.ones((2, 4))}),
                                  np.zeros(3))


def test_disconnected_wrt_raises_when_asked():
    x = sd.var("x", (3,))
    W = sd.var("W", (2, 4))
    cost = sd.sum(sd.exp(x)).named("cost")
    with _raises(sd.GradError, "cost", "does not depend on W", "disconnected='raise'"):
        sd.grad(cost, [x, W], disconnected="raise")
    with _raises(sd.GradError, "does not depend on W"):
        sd.vjp(sd.exp(x), W, np.ones(3), disconnected="raise")
    sd.grad(cost, x, disconnected="raise")  # connected: no error


def test_cotangent_and_tangent_shapes_are_checked():
    x = sd.var("x", (3,))
    y = (x * 2).named("y")
    with _raises(sd.GradError, "cotangent", "(4,)", "y", "(3,)"):
        sd.vjp(y, x, np.ones(4))
    with _raises(sd.GradError, "tangent", "x", "(4,)", "(3,)"):
        sd.jvp(y, x, np.ones(4))
    with _raises(sd.GradError, "2 tangents", "1 wrt"):
        sd.jvp(y, [x], [np.ones(3), np.ones(3)])


# -- shape rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [sd.maximum, lambda a, b: a + b, lambda a, b: a * b,
                                lambda a, b: a / b, lambda a, b: a ** b, lambda a, b: a < b])
def test_broadcasting_mismatch_names_both_operands_and_shapes(op):
    a = sd.var("a", (3, 2))
    b = sd.var("b", (4,))
    with _raises(sd.ShapeError, "cannot be broadcast", "a (3, 2)", "b (4,)"):
        op(a, b)


def test_broadcasting_mismatch_with_symbolic_dims():
    a = sd.var("a", ("n", 2))
    b = sd.var("b", ("m", 2))
    with _raises(sd.ShapeError, "a (n, 2)", "b (m, 2)"):
        a + b
    assert (a + sd.var("c", (1, 2))).shape == ("n", 2)


def test_where_mismatch_names_every_operand():
    c = sd.var("c", (2,), "bool")
    x = sd.var("x", (3,))
    with _raises(sd.ShapeError, "where", "c (2,)", "x (3,)"):
        sd.where(c, x, 0.0)
    with _raises(sd.ShapeError, "where", "f (2,)", "x (3,)"):
        sd.where(sd.var("f", (2,)), x, 0.0)  # a float cond is compared with 0 first


@pytest.mark.parametrize("sa, sb, dims", [((3, 4), (5, 2), "4 vs 5"), ((4,), (3,), "4 vs 3"),
                                          ((2, 3, 4), (2, 5, 6), "4 vs 5"),
                                          (("n", 4), ("m", 2), "4 vs m")])
def test_matmul_contracted_dim_mismatch(sa, sb, dims):
    A = sd.var("A", sa)
    B = sd.var("B", sb)
    with _raises(sd.ShapeError, "matmul", "contracted dims differ", dims, "A", "B"):
        A @ B


def test_matmul_of_a_scalar():
    with _raises(sd.ShapeError, "matmul", "at least one dimension", "s ()"):
        sd.var("x", (3,)) @ sd.var("s", ())


def test_other_shape_errors_name_the_operand():
    x = sd.var("x", (3,))
    with _raises(sd.ShapeError, "sum", "axis 1", "rank 1"):
        sd.sum(x, axis=1)
    with _raises(sd.ShapeError, "reshape", "(2, 2)", "x (3,)"):
        sd.reshape(x, (2, 2))
    with _raises(sd.ShapeError, "concatenate", "a (2, 3)", "b (2, 4)"):
        sd.concatenate([sd.var("a", (2, 3)), sd.var("b", (2, 4))])
    with _raises(sd.ShapeError, "indexing x", "too many indices", "(3,)"):
        x[1, 2]
    with _raises(sd.ShapeError, "getitem", "out of bounds", "size 3"):
        x[3]
    with _raises(sd.ShapeError, "log", "k", "int64", "float"):
        sd.log(sd.var("k", (3,), "int64"))
    with _raises(sd.ShapeError, "einsum", "'j'", "4 and 5", "A (3, 4)", "B (5, 2)"):
        sd.einsum("ij,jk->ik", sd.var("A", (3, 4)), sd.var("B", (5, 2)))
    with _raises(sd.ShapeError, "broadcast_to", "x (3,)", "(4, 2)"):
        sd.broadcast_to(x, (4, 2))


# -- evaluate ---------------------------------------------------------------------------------

def test_symbolic_dim_bound_to_two_sizes_names_both_inputs():
    X = sd.var("X", ("n", 2))
    y = sd.var("y", ("n",))
    cost = sd.sum(X @ sd.const(np.ones(2)) - y)
    with _raises(sd.BindingError, "'n'", "3 in 'X'", "4 in 'y'"):
        sd.evaluate(cost, {X: np.ones((3, 2)), y: np.ones(4)})
    assert sd.evaluate(cost, {X: np.ones((3, 2)), y: np.ones(3)}) == 3.0


def test_missing_binding_names_the_variable():
    x = sd.var("x", (3,))
    w = sd.var("weights", ("n", 3))
    with _raises(sd.BindingError, "no value", "'weights'", "(n, 3)"):
        sd.evaluate(w @ x, {x: np.ones(3)})


@pytest.mark.parametrize("dtype, value, got", [
    ("float64", np.array(["a", "b", "c"]), "<U1"),
    ("float64", np.ones(3) * 1j, "complex128"),
    ("int64", np.ones(3), "float64"),
    ("bool", np.arange(3), "int64"),
])
def test_wrong_dtype_names_variable_and_dtypes(dtype, value, got):
    x = sd.var("x", (3,), dtype)
    with _raises(sd.BindingError, "'x'", f"expects {dtype}", got):
        sd.evaluate(sd.astype(x, "float64") * 2, {x: value})


@pytest.mark.parametrize("value", [np.ones((3, 1)), np.ones(()), np.ones((1, 3, 1))])
def test_wrong_rank_names_variable_and_shapes(value):
    x = sd.var("x", (3,))
    with _raises(sd.BindingError, "'x'", "(3,)", str(value.shape)):
        sd.evaluate(x * 2, {x: value})


def test_wrong_size_names_variable_and_shapes():
    x = sd.var("x", (3, "n"))
    with _raises(sd.BindingError, "'x'", "(3, n)", "(4, 2)"):
        sd.evaluate(x * 2, {x: np.ones((4, 2))})


def test_bindings_by_name():
    x = sd.var("x", (3,))
    np.testing.assert_array_equal(sd.evaluate(x * 2, {"x": np.ones(3)}), np.full(3, 2.0))
    with _raises(sd.BindingError, "no value", "'x'"):
        sd.evaluate(x * 2, {"y": np.ones(3)})


def test_node_truth_value_is_an_error():
    x = sd.var("x", ())
    with _raises(sd.SymdiffError, "truth value", "where"):
        if x > 0:
            pass


@pytest.mark.parametrize("build", [lambda b: -b, lambda b: b - b, lambda b: sd.sign(b),
                                   lambda b: sd.square(b), lambda b: b ** b])
def test_arithmetic_numpy_has_no_bool_form_of_is_refused_when_built(build):
    b = sd.var("b", (3,), "bool")
    with pytest.raises(sd.ShapeError, match="dtype bool; convert it with astype"):
        build(b)


def test_bool_arithmetic_numpy_does_have_keeps_its_dtype():
    b, i = sd.var("b", (3,), "bool"), sd.var("i", (3,), "int64")
    values = {b: np.array([True, False, True]), i: np.array([1, 2, 3])}
    for node, want in [(b + b, [True, False, True]), (b * b, [True, False, True]),
                       (sd.abs(b), [True, False, True]), (b - i, [0, -2, -2])]:
        np.testing.assert_array_equal(sd.evaluate(node, values), want)
