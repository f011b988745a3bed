"""SymPy in and out: to_sympy and latex of elementwise graphs (checked against sympy.diff),
from_sympy (checked against sympy.lambdify) and the round trip between them."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symdiff as sd
from symdiff.inspect.sympy_bridge import LATEX_TREE_LIMIT

# -- symdiff -> SymPy ----------------------------------------------------------------------


def test_latex_of_the_derivative_of_tanh_squared_is_sympys():
    x = sd.var("x")
    g = sd.grad(sd.tanh(x) ** 2, x)
    X = sd.to_sympy(x)
    ours = sd.to_sympy(g)
    expected = sympy.diff(sympy.tanh(X) ** 2, X)
    assert sympy.simplify(ours - expected) == 0
    assert sd.latex(g) == sympy.latex(ours)
    assert sd.latex(g) == r"2 \left(1 - \tanh^{2}{\left(x \right)}\right) \tanh{\left(x \right)}"
    assert g._repr_latex_() == f"${sympy.latex(ours)}$"


def test_variables_become_real_symbols_named_after_them():
    x = sd.var("x", (3,))
    assert sd.to_sympy(x) == sympy.Symbol("x", real=True)
    s = sympy.Symbol("s")
    assert sd.to_sympy(sd.exp(x), {x: s}) == sympy.exp(s)


UNARY = [
    ("exp", sd.exp, sympy.exp),
    ("log", sd.log, sympy.log),
    ("log1p", sd.log1p, lambda a: sympy.log(1 + a)),
    ("expm1", sd.expm1, lambda a: sympy.exp(a) - 1),
    ("sqrt", sd.sqrt, sympy.sqrt),
    ("square", sd.square, lambda a: a ** 2),
    ("abs", sd.abs, sympy.Abs),
    ("sign", sd.sign, sympy.sign),
    ("sin", sd.sin, sympy.sin),
    ("cos", sd.cos, sympy.cos),
    ("tan", sd.tan, sympy.tan),
    ("tanh", sd.tanh, sympy.tanh),
    ("sigmoid", sd.sigmoid, lambda a: 1 / (1 + sympy.exp(-a))),
    ("softplus", sd.softplus, lambda a: sympy.log(1 + sympy.exp(a))),
    ("relu", sd.relu, lambda a: sympy.Max(a, 0)),
    ("neg", lambda a: -a, lambda a: -a),
    ("sinh", sd.sinh, sympy.sinh),
    ("cosh", sd.cosh, sympy.cosh),
    ("arctan", sd.arctan, sympy.atan),
    ("log2", lambda a: sd.log2(sd.abs(a)), lambda a: sympy.log(sympy.Abs(a), 2)),
    ("log10", lambda a: sd.log10(sd.abs(a)), lambda a: sympy.log(sympy.Abs(a), 10)),
    ("floor", sd.floor, sympy.floor),
    ("ceil", sd.ceil, sympy.ceiling),
]


@pytest.mark.parametrize("name, op, expected", UNARY, ids=[u[0] for u in UNARY])
def test_each_unary_op_maps_to_its_sympy_function(name, op, expected, rng):
    x = sd.var("x", (7,))
    X = sd.to_sympy(x)
    expr = sd.to_sympy(op(x))
    assert expr == expected(X)
    values = rng.uniform(0.2, 1.4, size=7) * rng.choice([-1, 1], size=7)
    if name in ("log", "sqrt"):
        values = np.abs(values)
    ours = sd.evaluate(op(x), {x: values})
    theirs = sympy.lambdify(X, expr, "numpy")(values)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_binary_ops_comparisons_and_where():
    x, y = sd.var("x", (2,)), sd.var("y", (2,))
    X, Y = sd.to_sympy([x, y])
    assert sd.to_sympy(x - y / x) == X - Y / X
    assert sd.to_sympy(x ** y) == X ** Y
    assert sd.to_sympy(sd.maximum(x, y)) == sympy.Max(X, Y)
    assert sd.to_sympy(sd.minimum(x, y)) == sympy.Min(X, Y)
    assert sd.to_sympy(sd.where(x > y, x, 2 * y)) == sympy.Piecewise((X, X > Y), (2 * Y, True))
    assert sd.to_sympy(x * 0.5 + 3.0) == X / 2 + 3


def test_broadcasting_and_unit_axes_pass_through():
    x = sd.var("x", (3,))
    b = sd.var("b", ())
    y = sd.expand_dims(sd.broadcast_to(b, (3,)) * x, 0)
    X, B = sd.to_sympy([x, b])
    assert sd.to_sympy(y) == B * X
    assert sd.to_sympy(sd.sum(y, axis=0)) == B * X  # a sum over a unit axis


def test_relu_derivative_is_a_piecewise():
    x = sd.var("x")
    X = sd.to_sympy(x)
    d = sd.to_sympy(sd.grad(sd.relu(x) * 3.0, x))
    assert d == sympy.Piecewise((3, X > 0), (0, True))


@pytest.mark.parametrize("build, op, matrix", [
    (lambda x: x @ x, "matmul", r"x^\top x"),
    (lambda x: sd.sum(x), "sum", r"\mathbf{1}^\top x"),
    (lambda x: sd.softmax(x), "softmax", r"\operatorname{softmax}\left(x\right)"),
    (lambda x: x[0], "getitem", "{x}_{[0]}"),
    (lambda x: x * sd.const(np.arange(3.0)), "const",
     r"x \odot \begin{bmatrix} 0 & 1 & 2 \end{bmatrix}^\top"),
])
def test_non_elementwise_ops_are_named_in_the_error(build, op, matrix):
    """to_sympy names the op it cannot write elementwise; latex and the notebook display
    fall back to the matrix-calculus printer."""
    x = sd.var("x", (3,))
    y = build(x)
    with pytest.raises(sd.SymdiffError, match=f"'{op}'"):
        sd.to_sympy(y)
    assert sd.latex(y) == matrix
    assert y._repr_latex_() == f"${matrix}$"


def test_two_variables_with_one_name_need_explicit_symbols():
    a, b = sd.var("x"), sd.var("x")
    with pytest.raises(sd.SymdiffError, match="two different variables are named 'x'"):
        sd.to_sympy(a + b)
    s, t = sympy.symbols("s t")
    assert sd.to_sympy(a + b, {a: s, b: t}) == s + t


def test_latex_repr_is_skipped_for_formulas_too_large_to_read():
    x = sd.var("x")
    y = x
    for _ in range(12):  # shared in the graph, 2**12 leaves written out as a formula
        y = y * y + 1.0
    assert y._repr_latex_() is None
    assert LATEX_TREE_LIMIT < 2 ** 12


# -- SymPy -> symdiff ----------------------------------------------------------------------

a, b = sympy.symbols("a b", real=True)

CASES = [
    a - b, -a - b, a / b, 2 * a / b ** 2, 3 - a, a ** b, sympy.pi * a, -a,
    1 / (1 + sympy.exp(-a)), sympy.log(1 + sympy.exp(a)), sympy.exp(a) * sympy.sin(b),
    sympy.Piecewise((a, a > b), (b * 2, True)), sympy.Max(a, b, 0), sympy.Min(a, b),
    sympy.sqrt(a ** 2 + 1), 1 / sympy.sqrt(b), sympy.tanh(a) ** 3, sympy.Abs(a - b),
    sympy.sign(a - b), sympy.cosh(a) - sympy.sinh(b), sympy.Heaviside(a - b),
    sympy.log(a, 2), sympy.cos(a) / sympy.tan(b), sympy.Rational(1, 3) * a,
]


def _check_against_lambdify(expr: sympy.Expr, av: np.ndarray, bv: np.ndarray) -> None:
    A, B = sd.var("a", av.shape), sd.var("b", bv.shape)
    node = sd.from_sympy(expr, {a: A, b: B})
    ours = sd.evaluate(node, {A: av, B: bv})
    theirs = np.broadcast_to(sympy.lambdify((a, b), expr, "numpy")(av, bv), av.shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("expr", CASES, ids=[str(c) for c in CASES])
def test_from_sympy_evaluates_like_lambdify(expr, rng):
    _check_against_lambdify(expr, rng.uniform(0.1, 2.0, 8), rng.uniform(0.1, 2.0, 8))


def test_from_sympy_builds_the_ops_the_registry_names():
    """SymPy functions map to the op whose record names them (sinh is an op now, not a
    composition of exps)."""
    A, B = sd.var("a"), sd.var("b")
    for expr, name in [(sympy.sinh(a), "sinh"), (sympy.cosh(a), "cosh"), (sympy.erf(a), "erf"),
                       (sympy.atan(a), "arctan"), (sympy.asin(a), "arcsin"),
                       (sympy.floor(a), "floor"), (sympy.Mod(a, b), "mod")]:
        assert sd.from_sympy(expr, {a: A, b: B}).op.name == name, expr


def test_from_sympy_recognizes_the_stable_forms():
    A = sd.var("a")
    assert sd.from_sympy(1 / (1 + sympy.exp(-a)), {a: A}).op.name == "sigmoid"
    assert sd.from_sympy(sympy.log(1 + sympy.exp(a)), {a: A}).op.name == "softplus"
    assert sd.from_sympy(sympy.Max(a, 0), {a: A}).op.name == "relu"
    assert sd.from_sympy(a ** 2, {a: A}).op.name == "square"


def test_numbers_stay_weakly_typed():
    A = sd.var("a", (2,), "float32")
    assert sd.from_sympy(2 * a + sympy.Rational(1, 2), {a: A}).dtype == "float32"
    assert sd.from_sympy(sympy.Integer(3), {}).dtype == "float64"


UNARY_SYMPY = [sympy.exp, sympy.sin, sympy.cos, sympy.tanh, lambda e: sympy.log(1 + e ** 2),
               lambda e: sympy.sqrt(1 + e ** 2), lambda e: 1 / (1 + sympy.exp(-e)),
               lambda e: sympy.Max(e, 0), sympy.Abs]
BINARY_SYMPY = [lambda p, q: p + q, lambda p, q: p - q, lambda p, q: p * q,
                lambda p, q: p / (1 + q ** 2), lambda p, q: sympy.Max(p, q),
                lambda p, q: sympy.Piecewise((p, p > q), (q, True))]


def expressions() -> st.SearchStrategy:
    leaves = st.sampled_from([a, b, sympy.Integer(2), sympy.Rational(-3, 4), sympy.Float(0.3)])
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(UNARY_SYMPY), inner).map(lambda t: t[0](t[1])),
            st.tuples(st.sampled_from(BINARY_SYMPY), inner, inner).map(
                lambda t: t[0](t[1], t[2]))),
        max_leaves=8)


@settings(max_examples=40, deadline=None)
@given(expressions())
def test_random_expressions_evaluate_like_lambdify(expr):
    rng = np.random.default_rng(7)
    av, bv = rng.uniform(-1.5, 1.5, 6), rng.uniform(-1.5, 1.5, 6)
    with np.errstate(all="ignore"):
        _check_against_lambdify(expr, av, bv)


@settings(max_examples=40, deadline=None)
@given(expressions())
def test_to_sympy_of_from_sympy_is_the_same_expression(expr):
    A, B = sd.var("a", (3,)), sd.var("b", (3,))
    back = sd.to_sympy(sd.from_sympy(expr, {a: A, b: B}), {A: a, B: b})
    if back == expr:
        return
    # closed-form numbers such as exp(2) come back as floats: compare values
    points = np.random.default_rng(3).uniform(-1.5, 1.5, (2, 6))
    with np.errstate(all="ignore"):
        got = np.broadcast_to(sympy.lambdify((a, b), back, "numpy")(*points), (6,))
        want = np.broadcast_to(sympy.lambdify((a, b), expr, "numpy")(*points), (6,))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_round_trip_from_a_symdiff_graph():
    x, y = sd.var("x", (4,)), sd.var("y", (4,))
    f = sd.sigmoid(x * y) + sd.softplus(x) - sd.relu(y) / sd.exp(x)
    back = sd.from_sympy(sd.to_sympy(f), {"x": x, "y": y})
    point = {x: np.linspace(-2, 2, 4), y: np.linspace(1, -1, 4)}
    np.testing.assert_allclose(sd.evaluate(back, point), sd.evaluate(f, point), rtol=1e-12)


def test_from_sympy_refuses_strings_and_unknown_things():
    A = sd.var("a")
    with pytest.raises(sd.SymdiffError, match="not a string"):
        sd.from_sympy("a + 1", {a: A})
    with pytest.raises(sd.SymdiffError, match="no node given for symbol 'b'"):
        sd.from_sympy(a + b, {a: A})
    with pytest.raises(sd.SymdiffError, match="gamma"):
        sd.from_sympy(sympy.gamma(a), {a: A})
    with pytest.raises(sd.SymdiffError, match="not a real number"):
        sd.from_sympy(a + sympy.I, {a: A})
    with pytest.raises(sd.SymdiffError, match="otherwise branch"):
        sd.from_sympy(sympy.Piecewise((a, a > 0)), {a: A})


# -- matrix expressions (to_sympy(matrix=True)) ------------------------------------------------

def _matrix_value(expr, values):
    """Evaluate a SymPy matrix expression by putting explicit matrices (vectors as columns)
    and sizes in place of its symbols, as SymPy itself would, with no lambdify."""
    table = {sympy.Symbol("n", integer=True, positive=True): 4}
    for var, value in values.items():
        symbol = sd.to_sympy(var, matrix=True)
        table[symbol] = sympy.Float(float(value)) if value.ndim == 0 else \
            sympy.ImmutableMatrix(value.reshape(value.shape[0], -1))
    result = expr.xreplace(table).doit()
    return np.array(result.tolist() if hasattr(result, "tolist") else result, dtype=float)


def _ridge():
    X, y = sd.var("X", ("n", 3)), sd.var("y", ("n",))
    w, lam, A = sd.var("w", (3,)), sd.var("lam", ()), sd.var("A", (3, 3))
    r = X @ w - y
    loss = 0.5 * (r @ r) + lam * (w @ w)
    return X, y, w, lam, A, loss


@pytest.mark.parametrize("build", [
    lambda X, y, w, lam, A, loss: loss,
    lambda X, y, w, lam, A, loss: sd.grad(loss, w),
    lambda X, y, w, lam, A, loss: sd.optimize([sd.grad(loss, w)])[0],
    lambda X, y, w, lam, A, loss: sd.grad(w @ (A @ w), w),
    lambda X, y, w, lam, A, loss: sd.grad(loss, X),
    lambda X, y, w, lam, A, loss: X.T @ X / lam - A * A + (-A).T,
    lambda X, y, w, lam, A, loss: w @ A - 2.0 * w,
])
def test_matrix_expressions_evaluate_to_the_graphs_numbers(build):
    X, y, w, lam, A, loss = _ridge()
    node = build(X, y, w, lam, A, loss)
    expr = sd.to_sympy(node, matrix=True)
    assert isinstance(expr, sympy.Basic) and expr.free_symbols
    rng = np.random.default_rng(3)
    values = {X: rng.normal(size=(4, 3)), y: rng.normal(size=4), w: rng.normal(size=3),
              lam: np.array(0.7), A: rng.normal(size=(3, 3))}
    used = {v: values[v] for v in values if v in set(sd.graph.topo_order([node]))}
    want = sd.evaluate(node, used)
    np.testing.assert_allclose(_matrix_value(expr, used).reshape(want.shape), want,
                               rtol=1e-10, atol=1e-12)


def test_the_ridge_gradient_is_the_textbook_matrix_expression():
    X, y, w, lam, A, loss = _ridge()
    (grad,) = sd.optimize([sd.grad(loss, w)])
    Xs, ys, ws = (sd.to_sympy(v, matrix=True) for v in (X, y, w))
    assert isinstance(Xs, sympy.MatrixSymbol) and Xs.shape[1] == 3 and ws.shape == (3, 1)
    assert sd.to_sympy(grad, matrix=True) == 2 * sympy.Symbol("lam", real=True) * ws + \
        Xs.T * (Xs * ws - ys)


@pytest.mark.parametrize("build, op", [
    (lambda A, v: sd.relu(A), "relu"),
    (lambda A, v: A + v, "add"),
    (lambda A, v: sd.sum(A, axis=0), "sum"),
    (lambda A, v: A * sd.const(np.eye(3)), "an array constant"),
])
def test_matrix_expressions_name_what_sympy_cannot_write(build, op):
    A, v = sd.var("A", (3, 3)), sd.var("v", (3,))
    with pytest.raises(sd.SymdiffError, match=f"no matrix expression for '{op}'"):
        sd.to_sympy(build(A, v), matrix=True)
    with pytest.raises(sd.SymdiffError, match="at most 2"):
        sd.to_sympy(sd.var("T", (2, 2, 2)), matrix=True)
