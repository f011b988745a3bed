"""Whole-function kernels of the numba target (codegen/whole.py): a small graph runs as one
compiled call, with the NumPy target's results (to a few ulps), argument checks, error
messages and result types; what compiled code cannot compute keeps the per-node body.

Compiled functions are shared through module-scoped fixtures (numba compiles are slow)."""

from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest

import symdiff as sd

numba = pytest.importorskip("numba", reason="the numba target needs the numba extra")


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """One compile cache for the module (see tests/test_numba_target.py)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "numba-whole"))
    yield
    mp.undo()


def _xor_net():
    """The 2-8-1 tanh net of benchmarks/mlp.py: value and gradient of a squared loss."""
    X, y = sd.var("X", ("n", 2)), sd.var("y", ("n",))
    W1, b1, w2, b2 = sd.var("W1", (2, 8)), sd.var("b1", (8,)), sd.var("w2", (8,)), \
        sd.var("b2", ())
    h = sd.tanh(X @ W1 + b1)
    loss = sd.mean((h @ w2 + b2 - y) ** 2)
    params = [W1, b1, w2, b2]
    return [X, y, *params], [loss, sd.grad(loss, params)]


def _xor_point(rng, n: int = 4):
    return [rng.standard_normal((n, 2)), rng.standard_normal(n), rng.standard_normal((2, 8)),
            rng.standard_normal(8), rng.standard_normal(8), np.float64(0.1)]


@pytest.fixture(scope="module")
def xor_pair():
    inputs, outputs = _xor_net()
    return sd.function(inputs, outputs), sd.function(inputs, outputs, target="numba")


def _assert_same(got, want, rtol=1e-13, atol=1e-15):
    """Same nesting, types (NumPy scalars stay NumPy scalars), dtypes, shapes and values."""
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w, rtol, atol)
        return
    assert type(got) is type(want)
    assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _compiled_body(source: str) -> str:
    """The source of the whole-function kernel of f."""
    start = source.index("def _f_compiled(")
    return source[start:source.index("\ndef f(", start)]


def _python_body(source: str) -> str:
    return source[source.index("\ndef f("):]


@pytest.mark.parametrize("batch", [1, 4, 37])
def test_small_net_is_one_compiled_call(xor_pair, rng, batch):
    f_numpy, f_numba = xor_pair
    body = _python_body(f_numba.source)
    assert body.count("_f_compiled(") == 1 and "_kernel" not in body
    assert "_kernel1(" in _compiled_body(f_numba.source)
    point = _xor_point(rng, batch)
    _assert_same(f_numba(*point), f_numpy(*point))


def test_scalar_arguments_take_every_form_the_numpy_target_takes(xor_pair, rng):
    """A scalar argument as a NumPy number (the fast path), a Python number, a 0-d array,
    an int or a float32: converted as the NumPy target converts it."""
    f_numpy, f_numba = xor_pair
    point = _xor_point(rng)
    for b2 in (np.float64(0.3), 0.3, np.array(0.3), 2, np.float32(0.3), np.array([0.3])[0]):
        args = [*point[:-1], b2]
        _assert_same(f_numba(*args), f_numpy(*args))
    lists = [p.tolist() if isinstance(p, np.ndarray) else p for p in point]
    _assert_same(f_numba(*lists), f_numpy(*point))


@pytest.mark.parametrize("k, bad", [
    (5, np.zeros(2)),                     # a scalar argument given as a vector
    (5, "x"),                             # not a number
    (0, np.zeros((4, 3))),                # a wrong static dim
    (1, np.zeros(5)),                     # a symbolic dim bound by X differs
    (2, np.zeros((2, 8), complex)),       # a dtype that is not converted
    (0, np.zeros(4)),                     # wrong ndim
])
def test_bad_arguments_raise_the_numpy_targets_errors(xor_pair, rng, k, bad):
    f_numpy, f_numba = xor_pair
    point = _xor_point(rng)
    point[k] = bad
    with pytest.raises(ValueError) as want:
        f_numpy(*point)
    with pytest.raises(ValueError) as got:
        f_numba(*point)
    assert str(got.value) == str(want.value)


def test_non_contiguous_arguments(xor_pair, rng):
    """Strided arrays are computed on as they are (numba compiles a version for them)."""
    f_numpy, f_numba = xor_pair
    point = _xor_point(rng)
    wide = rng.standard_normal((4, 4))
    point[0] = wide[:, ::2]
    point[2] = rng.standard_normal((8, 2)).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        _assert_same(f_numba(*point), f_numpy(*point))


def test_float32_scalars_and_arrays_stay_float32(rng):
    x, w = sd.var("x", ("n", 3), "float32"), sd.var("w", (3,), "float32")
    c = sd.var("c", (), "float32")
    y = sd.sigmoid(x * w + c) * 2.5 - sd.exp(-x)
    total = sd.sum(y) * c + 1.0
    outs = [y, total, sd.grad(total, [w, c])]
    f = sd.function([x, w, c], outs, target="numba")
    assert "_f_compiled(" in f.source
    args = [rng.standard_normal((6, 3)).astype(np.float32),
            rng.standard_normal(3).astype(np.float32), np.float32(0.7)]
    got, want = f(*args), sd.function([x, w, c], outs)(*args)
    _assert_same(got, want, rtol=3e-6, atol=5e-7)  # y cancels: a float32 ulp of 2.5


def test_integer_and_boolean_values(rng):
    """int64 arguments (a scalar one among them) and comparisons, in one compiled call."""
    x, k = sd.var("x", ("n",)), sd.var("k", ("n",), "int64")
    m = sd.var("m", (), "int64")
    y = sd.where(k > m, x * 2.0, -x) + k
    outs = [y, sd.sum(y * y), sd.greater(x, 0.0)]
    f = sd.function([x, k, m], outs, target="numba")
    assert "_f_compiled(" in f.source
    args = [rng.standard_normal(9), rng.integers(-3, 3, 9), np.int64(0)]
    _assert_same(f(*args), sd.function([x, k, m], outs)(*args))
    args[2] = 1  # a Python int is converted as by the NumPy target
    _assert_same(f(*args), sd.function([x, k, m], outs)(*args))


def test_outer_product_is_a_loop_inside_the_compiled_call(rng):
    """Batch 1: x.T @ d + 2 lam W stays one loop, now called from compiled code."""
    x, d, W = sd.var("x", (1, 5)), sd.var("d", (1, 4)), sd.var("W", (5, 4))
    g = x.T @ d + 2e-4 * W
    f = sd.function([x, d, W], g, target="numba")
    assert "@" not in _compiled_body(f.source).replace("@numba", "")
    args = [rng.standard_normal((1, 5)), rng.standard_normal((1, 4)), rng.standard_normal((5, 4))]
    _assert_same(f(*args), sd.function([x, d, W], g)(*args))


def test_reshape_of_a_strided_argument(rng):
    """The weight decay's sum of squares reshapes a weight: a strided one is copied first
    (numba reshapes contiguous arrays only)."""
    W = sd.var("W", (3, 4))
    decay = sd.sum(W * W) * 0.5
    outs = [decay, sd.tanh(W) * 2.0]
    f = sd.function([W], outs, target="numba")
    assert "_f_compiled(" in f.source
    Wv = rng.standard_normal((4, 3)).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        _assert_same(f(Wv), sd.function([W], outs)(Wv))


@pytest.mark.parametrize("case", ["helper", "view", "repeat", "float16", "input", "matmul"])
def test_what_compiled_code_cannot_compute_keeps_the_per_node_body(rng, case):
    x = sd.var("x", (3, 4), "float16" if case == "float16" else "float64")
    W = sd.var("W", (4, 200))
    if case == "helper":  # log_softmax is a NumPy helper function
        outs = [sd.log_softmax(sd.tanh(x) * 2.0, axis=1)]
    elif case == "view":  # a returned view of an argument is copied by the Python body
        outs = [sd.tanh(x) + 1.0, sd.transpose(x)]
    elif case == "repeat":  # the same array twice: the second is a copy
        y = sd.tanh(x) * 3.0
        outs = [y, y]
    elif case == "float16":
        outs = [sd.exp(x) * 2 + x]
    elif case == "matmul":  # 4 x 200 multiply-adds per row: BLAS, from Python
        outs = [sd.tanh(x @ W + 1.0)]
    else:
        outs = [sd.tanh(x), x]
    inputs = [x, W] if case == "matmul" else [x]
    f = sd.function(inputs, outs, target="numba")
    assert "_f_compiled" not in f.source
    args = [rng.standard_normal((3, 4)).astype("float16" if case == "float16" else "float64")]
    if case == "matmul":
        args.append(rng.standard_normal((4, 200)))
    got, want = f(*args), sd.function(inputs, outs)(*args)
    _assert_same(got, want, rtol=0 if case == "float16" else 1e-13)
    if case == "repeat":
        assert not np.shares_memory(got[0], got[1])


def test_views_of_scalars_and_scalar_results(rng):
    """A scalar argument reshaped into an array stays a NumPy statement (numbers are not
    arrays in compiled code); scalar arithmetic on reductions runs compiled."""
    x, c = sd.var("x", ("n",)), sd.var("c", ())
    outs = [sd.tanh(x) + sd.reshape(c, (1,)), sd.mean(x) * c - 1.0]
    f = sd.function([x, c], outs, optimize=False, target="numba")
    assert "_f_compiled" not in f.source and ".reshape(" in f.source
    args = [rng.standard_normal(6), np.float64(0.5)]
    _assert_same(f(*args), sd.function([x, c], outs, optimize=False)(*args))
    outs = [sd.mean(x) * c - 1.0, sd.tanh(x) * c]
    f = sd.function([x, c], outs, target="numba")
    assert "_f_compiled(" in f.source
    _assert_same(f(*args), sd.function([x, c], outs)(*args))


def test_dead_arrays_are_written_into_again(rng):
    """A chain of layers whose arrays die one after another: kernels write into the dead
    ones (as the NumPy target's buffer plan does), and the results are still the NumPy
    target's (an array read later is never overwritten)."""
    x = sd.var("x", ("n",))
    y = x
    for _ in range(4):
        t = sd.tanh(y) * 2.0
        y = t * sd.mean(t) + x
    outs = [y, sd.grad(sd.sum(y), x)]
    f = sd.function([x], outs, target="numba")
    tree = ast.parse(f.source)
    outputs = {d.name: sum(a.arg == "out" or a.arg.endswith("_out") for a in d.args.args)
               for d in tree.body if isinstance(d, ast.FunctionDef)}
    (body,) = [d for d in tree.body if isinstance(d, ast.FunctionDef)
               and d.name == "_f_compiled"]
    given = [arg for call in ast.walk(body) if isinstance(call, ast.Call)
             and isinstance(call.func, ast.Name) and call.func.id.startswith("_kernel")
             for arg in call.args[len(call.args) - outputs[call.func.id]:]]
    assert sum(isinstance(arg, ast.Name) for arg in given) >= 2  # arrays dead by then
    args = [np.linspace(-2, 2, 301)]
    _assert_same(f(*args), sd.function([x], outs)(*args), rtol=1e-11)


def test_scalar_ops_calling_helpers(rng):
    """A scalar op whose form calls a helper (the vecmath tanh, exp, logaddexp) brings it
    into the module, as a kernel's would."""
    x, c = sd.var("x", ("n",)), sd.var("c", ())
    outs = [sd.tanh(sd.mean(x)) + sd.exp(c), sd.logaddexp(sd.sum(x), c)]
    f = sd.function([x, c], outs, target="numba")
    assert "_f_compiled(" in f.source
    args = [rng.standard_normal(7), np.float64(0.3)]
    _assert_same(f(*args), sd.function([x, c], outs)(*args))


def test_deterministic_source():
    inputs, outputs = _xor_net()
    first = sd.function(inputs, outputs, target="numba").source
    inputs, outputs = _xor_net()
    assert sd.function(inputs, outputs, target="numba").source == first


def test_modules_of_several_functions(rng, monkeypatch):
    """Each small function of a module gets its own compiled call (sharing the loop
    helpers); `whole=False`, or more functions than `MAX_FUNCTIONS`, keeps per-node bodies
    whose kernels the functions share."""
    import codegen
    import codegen.whole

    x, W = sd.var("x", ("n", 3)), sd.var("W", (3, 2))
    fns = [codegen.Function("first", [x, W], sd.tanh(x @ W) * 2.0),
           codegen.Function("second", [x, W], [sd.sum(sd.exp(x @ W)), x @ W + 1.0])]
    source = codegen.emit_module(fns, title="two", target="numba")
    assert "def _first_compiled(" in source and "def _second_compiled(" in source
    assert source.count("def _matmul22(") == 1
    module = codegen.load_module(source, "two_functions", compiled=True)
    args = [rng.standard_normal((5, 3)), rng.standard_normal((3, 2))]
    plain = codegen.load_module(codegen.emit_module(fns, title="two"), "two_plain")
    for name in ("first", "second"):
        _assert_same(getattr(module, name)(*args), getattr(plain, name)(*args))
    assert "_compiled" not in codegen.emit_module(fns, title="two", target="numba",
                                                  whole=False)
    monkeypatch.setattr(codegen.whole, "MAX_FUNCTIONS", 1)
    assert "_compiled" not in codegen.emit_module(fns, title="two", target="numba")
