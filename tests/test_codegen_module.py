"""The generated module as a whole: structure of the returned values, entry checks,
determinism, loading through a real file, float32 kept end to end, several functions per
module, thread safety of the scratch arrays."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import codegen
import symdiff as sd
from tests.test_codegen_helpers import scratch_threshold

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def load(functions, title="test"):
    return codegen.load_module(codegen.emit_module(functions, title=title), "module_test")


def small_model():
    X = sd.var("X", ("n", 3))
    W = sd.var("W", (3, 2))
    b = sd.var("b", (2,))
    h = sd.tanh(X @ W + b).named("h")
    loss = sd.mean(h * h).named("loss")
    dW, db = sd.grad(loss, [W, b])
    return [X, W, b], loss, (dW, db)


def small_values(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)


# -- the returned structure ---------------------------------------------------------------------

def test_return_structure_follows_the_outputs():
    inputs, loss, (dW, db) = small_model()
    m = load([codegen.Function("single", inputs, loss),
              codegen.Function("pair", inputs, (loss, (dW, db))),
              codegen.Function("listed", inputs, [dW, [db]]),
              codegen.Function("one", inputs, (db,))])
    args = small_values()
    want_loss, want_dW, want_db = sd.evaluate([loss, dW, db], dict(zip(inputs, args,
                                                                        strict=True)))
    assert np.asarray(m.single(*args)).shape == ()
    got_loss, (got_dW, got_db) = m.pair(*args)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(got_dW, want_dW, rtol=1e-12)
    listed = m.listed(*args)
    assert isinstance(listed, list) and isinstance(listed[1], list)
    np.testing.assert_allclose(listed[1][0], want_db, rtol=1e-12)
    one = m.one(*args)
    assert isinstance(one, tuple) and len(one) == 1


def test_outputs_may_be_inputs_constants_or_repeated():
    x = sd.var("x", (3,))
    c = sd.const(np.array([1.0, 2.0, 3.0]))
    y = sd.exp(x)
    m = load([codegen.Function("f", [x], (x, c, y, y, sd.const(2.5)))])
    xv = np.array([0.1, 0.2, 0.3])
    got_x, got_c, y1, y2, two = m.f(xv)
    np.testing.assert_array_equal(got_x, xv)
    np.testing.assert_array_equal(got_c, [1.0, 2.0, 3.0])
    assert got_c.flags.writeable and got_x is not xv, "results are the caller's own arrays"
    assert y1 is not y2 and np.array_equal(y1, y2)
    assert two == 2.5 and np.asarray(two).dtype == np.float64


def test_unused_input_is_still_a_checked_argument():
    x, unused = sd.var("x", (2,)), sd.var("unused", (5,))
    m = load([codegen.Function("f", [x, unused], sd.sum(x))])
    assert list(inspect.signature(m.f).parameters) == ["x", "unused"]
    assert m.f(np.ones(2), np.zeros(5)) == 2.0
    with pytest.raises(ValueError, match="'unused'"):
        m.f(np.ones(2), np.zeros(4))


def test_arguments_can_be_passed_by_keyword():
    inputs, loss, _ = small_model()
    m = load([codegen.Function("f", inputs, loss)])
    X, W, b = small_values()
    assert m.f(b=b, W=W, X=X) == m.f(X, W, b)


# -- entry checks ---------------------------------------------------------------------------------

def test_entry_checks_name_the_argument():
    inputs, loss, grads = small_model()
    m = load([codegen.Function("f", inputs, (loss, grads))])
    X, W, b = small_values()
    with pytest.raises(ValueError, match=r"argument 'W' must have shape \(3, 2\), got shape "
                                         r"\(2, 3\)"):
        m.f(X, W.T, b)
    with pytest.raises(ValueError, match=r"argument 'b' must be a float64 array of shape "
                                         r"\(2,\), got shape \(2, 1\)"):
        m.f(X, W, b[:, None])
    with pytest.raises(ValueError, match="argument 'X' must be a float64 array .* got dtype "
                                         "complex128"):
        m.f(X + 1j, W, b)
    with pytest.raises(ValueError, match="argument 'b' .* got dtype <U1"):
        m.f(X, W, np.array(["a", "b"]))


def test_inconsistent_symbolic_dim_names_both_arguments():
    X = sd.var("X", ("n", 3))
    y = sd.var("y", ("n",))
    m = load([codegen.Function("f", [X, y], sd.sum(X, 1) - y)])
    with pytest.raises(ValueError, match=r"argument 'y' must have shape \(n,\), got shape "
                                         r"\(5,\); n = 4 \(set by argument 'X'\)"):
        m.f(np.ones((4, 3)), np.ones(5))
    np.testing.assert_array_equal(m.f(np.ones((4, 3)), np.ones(4)), np.full(4, 2.0))


def test_repeated_symbolic_dim_within_one_argument():
    A = sd.var("A", ("k", "k"))
    m = load([codegen.Function("f", [A], A @ A)])
    with pytest.raises(ValueError, match=r"argument 'A' must have shape \(k, k\), got shape "
                                         r"\(2, 3\)"):
        m.f(np.ones((2, 3)))
    np.testing.assert_allclose(m.f(np.eye(3) * 2), np.eye(3) * 4)


def test_entry_converts_what_evaluate_accepts():
    """Lists, Python scalars and integer arrays for float arguments are converted, as
    symdiff.evaluate does; bool arguments take only booleans, int64 ones no floats."""
    x, s = sd.var("x", (3,)), sd.var("s", ())
    k, c = sd.var("k", (3,), "int64"), sd.var("c", (3,), "bool")
    m = load([codegen.Function("f", [x, s, k, c], sd.where(c, x * s, sd.astype(k, "float64")))])
    got = m.f([1, 2, 3], 2, np.array([7, 8, 9]), [True, False, True])
    np.testing.assert_array_equal(got, [2.0, 8.0, 6.0])
    with pytest.raises(ValueError, match="argument 'k' .* got dtype float64"):
        m.f([1, 2, 3], 2.0, np.array([7.0, 8, 9]), [True, False, True])
    with pytest.raises(ValueError, match="argument 'c' .* got dtype int64"):
        m.f([1, 2, 3], 2.0, np.array([7, 8, 9]), [1, 0, 1])
    with pytest.raises(ValueError, match="argument 'x' .* cannot convert"):
        m.f([1, [2]], 2.0, np.array([7, 8, 9]), [True, False, True])


# -- determinism ----------------------------------------------------------------------------------

def _model_source() -> str:
    inputs, loss, grads = small_model()
    return codegen.emit_module([codegen.Function("loss_and_grad", inputs, (loss, grads))],
                               title="small model")


def test_same_graph_gives_identical_source():
    first = _model_source()
    for _ in range(7):  # shift node ids and interning state
        sd.var("noise", (2,)) + 1.0
    assert _model_source() == first


def test_identical_source_in_a_fresh_process():
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from tests.test_codegen_module import _model_source
        sys.stdout.write(_model_source())
    """)
    out = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert out == _model_source()


# -- the module text ------------------------------------------------------------------------------

def test_module_header_imports_and_docstring():
    inputs, loss, grads = small_model()
    source = codegen.emit_module([codegen.Function("loss_and_grad", inputs, (loss, grads),
                                                   doc="Loss and gradient of a tanh layer.")],
                                 title="small model")
    tree = ast.parse(source)
    header = ast.get_docstring(tree)
    assert header.startswith("small model") and "symdiff" in header
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert {a.name for n in imports for a in n.names} <= {"numpy", "annotations", "threading"}
    assert source.count("import numpy as np") == 1
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name ==
              "loss_and_grad")
    doc = ast.get_docstring(fn)
    assert doc.startswith("Loss and gradient of a tanh layer.")
    assert "X: float64 array of shape (n, 3)" in doc and "b: float64 array of shape (2,)" in doc
    assert "# d(loss)/d(" in source


def test_loaded_through_a_real_file():
    inputs, loss, _ = small_model()
    source = codegen.emit_module([codegen.Function("f", inputs, loss)], title="t")
    m = codegen.load_module(source, "file_test")
    assert Path(m.__file__).read_text(encoding="utf-8") == source
    assert inspect.getsource(m.f) in source
    with pytest.raises(ValueError) as info:
        m.f(np.ones((2, 2)), np.ones((3, 2)), np.ones(2))
    assert any(frame.filename == m.__file__ for frame in
               __import__("traceback").extract_tb(info.value.__traceback__))


def test_write_module(tmp_path):
    inputs, loss, grads = small_model()
    fns = [codegen.Function("f", inputs, (loss, grads))]
    path = tmp_path / "model_grad.py"
    codegen.write_module(path, fns, title="written")
    assert path.read_text(encoding="utf-8") == codegen.emit_module(fns, title="written")


def test_functions_share_constants_and_get_distinct_names():
    x = sd.var("x", (3,))
    c = sd.const(np.array([0.5, 1.5, 2.5]))
    source = codegen.emit_module([codegen.Function("f", [x], x * c),
                                  codegen.Function("f", [x], x + c)], title="two")
    m = codegen.load_module(source, "two")
    assert source.count("np.array([0.5, 1.5, 2.5]") == 1
    np.testing.assert_allclose(m.f(np.ones(3)), [0.5, 1.5, 2.5])
    np.testing.assert_allclose(m.f_2(np.ones(3)), [1.5, 2.5, 3.5])


def test_large_array_constant_round_trips_exactly():
    x = sd.var("x", (200,))
    values = np.random.default_rng(3).standard_normal(200)
    m = load([codegen.Function("f", [x], x * sd.const(values))])
    np.testing.assert_array_equal(m.f(np.ones(200)), values)


def test_float32_stays_float32():
    X = sd.var("X", ("n", 3), "float32")
    W = sd.var("W", (3, 2), "float32")
    h = sd.sigmoid(X @ W) * 0.5 + 1e-3
    loss = sd.mean(sd.log(h)) - sd.mean(h ** 2.0)
    outputs = (loss, *sd.grad(loss, [X, W]))
    source = codegen.emit_module([codegen.Function("f", [X, W], outputs)], title="f32")
    m = codegen.load_module(source, "f32")
    rng = np.random.default_rng(0)
    args = rng.standard_normal((5, 3)).astype(np.float32), \
        rng.standard_normal((3, 2)).astype(np.float32)
    got = m.f(*args)
    assert all(np.asarray(g).dtype == np.float32 for g in got)
    assert "float64" not in source.split("def f(")[1]
    want = sd.evaluate(list(outputs), dict(zip([X, W], args, strict=True)))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_function_validates_its_inputs():
    x, y = sd.var("x", (2,)), sd.var("y", (2,))
    with pytest.raises(ValueError, match="depend on variable 'y'"):
        codegen.Function("f", [x], x + y)
    with pytest.raises(ValueError, match="listed twice"):
        codegen.Function("f", [x, x], x)
    with pytest.raises(ValueError, match="inputs must be variables"):
        codegen.Function("f", [x + 1.0], x)
    with pytest.raises(ValueError, match="symbolic dim 'm'"):
        codegen.Function("f", [x], sd.zeros(("m",)) + 1.0)
    with pytest.raises(TypeError, match="outputs must be symdiff nodes"):
        codegen.Function("f", [x], (x, 3.0))


# -- scratch arrays and threads -------------------------------------------------------------------

def test_scratch_arrays_are_per_thread():
    inputs, loss, grads = small_model()
    with scratch_threshold(0):
        source = codegen.emit_module([codegen.Function("f", inputs, (loss, grads))], title="t")
    assert "_scratch(" in source and "threading.local()" in source
    m = codegen.load_module(source, "threads")
    cases = [small_values(n, seed) for n, seed in [(50, 1), (80, 2), (50, 3), (7, 4)]]
    want = [m.f(*args) for args in cases]
    errors = []

    def work(k):
        for _ in range(200):
            got = m.f(*cases[k])
            if not (np.array_equal(got[0], want[k][0])
                    and np.array_equal(got[1][0], want[k][1][0])):
                errors.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_scratch_follows_symbolic_dims():
    inputs, loss, grads = small_model()
    with scratch_threshold(0):
        m = load([codegen.Function("f", inputs, (loss, grads))])
    for n in [3, 9, 3, 1, 12, 6, 3]:
        args = small_values(n, n)
        want = sd.evaluate([loss, *grads], dict(zip(inputs, args, strict=True)))
        got = m.f(*args)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1][0], want[1], rtol=1e-12)
