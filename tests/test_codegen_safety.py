"""Safety of the generated source: hostile variable names, labels, dims, function names and
docs come out as inert, distinct identifiers (or escaped docstring text), and a saved
module runs with NumPy alone, in an isolated interpreter that cannot import symdiff."""

from __future__ import annotations

import ast
import builtins
import keyword
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import codegen
import symdiff as sd
from codegen.naming import sanitize

HOSTILE = ["x; import os", '__import__("os")', "lambda", "class", "a name with spaces",
           "ñandú", "αβ", "x", "x", "np", "_where_zero", "print", "None", "1st", "", "__",
           "f", "x_2", "os.system('rm -rf /')", "\"\"\"", "\\", "a\nb", "é" * 80, "中文"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gen"))


def hostile_module():
    names = [n or "_" for n in HOSTILE]
    variables = [sd.var(n, (2,)) for n in names]
    total = variables[0]
    for v in variables[1:]:
        total = total + v
    h = sd.tanh(total).named('h"""; import os #')
    dim_var = sd.var("X", ("n; import os", 2))
    y = sd.sum(dim_var @ h).named("lambda")
    loss = sd.sum(h * h) + y
    grads = sd.grad(loss, variables[:3])
    fn = codegen.Function('loss"; import os', variables + [dim_var], (loss, tuple(grads)),
                          doc='Doc with """ quotes, a \\ backslash and \x00 a NUL.')
    other = codegen.Function("loss; import os", [variables[0]], sd.exp(variables[0]))
    return variables, dim_var, fn, other


def test_sanitize_gives_safe_identifiers():
    seen = set()
    for text in HOSTILE:
        name = sanitize(text)
        assert name.isidentifier() and name.isascii(), (text, name)
        assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
        assert name not in dir(builtins) and name != "np" and not name.startswith("_")
        seen.add(name)
    assert sanitize("ñandú") == "nandu" and sanitize("αβ") == "alpha_beta"


def test_hostile_names_parse_run_and_never_reach_the_source():
    variables, dim_var, fn, other = hostile_module()
    source = codegen.emit_module([fn, other], title='title """ with\nnewline')
    tree = ast.parse(source)
    for raw in HOSTILE + ['h"""; import os #', "n; import os", 'loss"; import os']:
        if re.search(r"[^A-Za-z0-9_]", raw) and raw not in ("\\", '"""'):
            assert raw not in source, f"{raw!r} reached the source unsanitized"
    # the only imports are ours; no call reaches eval, exec or __import__
    imports = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in n.names}
    assert imports <= {"numpy", "annotations", "threading"}
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}
    assert not called & {"eval", "exec", "__import__", "compile", "open", "getattr"}
    f = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("loss"))
    args = [a.arg for a in f.args.args]
    assert len(set(args)) == len(args) == len(variables) + 1
    for a in args:
        assert a.isidentifier() and not keyword.iskeyword(a) and not a.startswith("_")
        assert a not in dir(builtins) and a != "np"
    # every name the function body binds is a sanitized or generator-owned identifier
    bound = {n.id for n in ast.walk(f) if isinstance(n, ast.Name) and isinstance(n.ctx,
                                                                              ast.Store)}
    for name in bound:
        assert name.isascii() and (name.startswith("_") or name == sanitize(name)), name
    module = codegen.load_module(source, "hostile")
    fn_name = f.name
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(2) for _ in variables] + [rng.standard_normal((3, 2))]
    got = getattr(module, fn_name)(**dict(zip(args, values, strict=True)))
    want = sd.evaluate([fn.outputs[0], *fn.outputs[1]],
                       dict(zip([*variables, dim_var], values, strict=True)))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1][2], want[3], rtol=1e-12)
    assert getattr(module, fn_name).__doc__.startswith('Doc with """ quotes, a \\ backslash')


def test_saved_module_runs_with_numpy_alone(tmp_path):
    """`python -I`, a sys.path without the project, and symdiff/codegen made unimportable:
    the generated module still imports and gives the right numbers."""
    X = sd.var("X", ("n", 3))
    W = sd.var("W", (3, 2))
    c = sd.const(np.array([[0.5, -1.0]]))
    h = sd.softmax(sd.sigmoid(X @ W) + c, axis=1)
    loss = sd.logsumexp(h * 3.0) + sd.sum(sd.relu(X))
    outputs = (loss, *sd.grad(loss, [X, W]))
    fn = codegen.Function("loss_and_grad", [X, W], outputs)
    codegen.write_module(tmp_path / "standalone_grad.py", [fn], title="standalone")
    rng = np.random.default_rng(1)
    X_val, W_val = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    np.savez(tmp_path / "data.npz", X=X_val, W=W_val)
    want = sd.evaluate(list(outputs), {X: X_val, W: W_val})
    script = textwrap.dedent("""
        import sys
        project = sys.argv[2]
        inside = lambda p: (p == project or p.startswith(project.rstrip("/") + "/")) \
            and "site-packages" not in p  # (a venv may sit in the project folder)
        sys.path = [p for p in sys.path if not inside(p) and p not in ("", ".")]
        sys.path.insert(0, sys.argv[1])
        sys.modules["symdiff"] = None     # any import of symdiff or codegen now fails
        sys.modules["codegen"] = None
        import numpy as np
        import standalone_grad
        data = np.load(sys.argv[1] + "/data.npz")
        out = standalone_grad.loss_and_grad(data["X"], data["W"])
        np.savez(sys.argv[1] + "/out.npz", *out)
        assert "symdiff" not in {m.split(".")[0] for m in sys.modules if sys.modules[m]}
    """)
    project = str(__import__("pathlib").Path(codegen.__file__).resolve().parent.parent)
    run = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path), project],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got = np.load(tmp_path / "out.npz")
    for k, w in enumerate(want):
        np.testing.assert_allclose(got[f"arr_{k}"], w, rtol=1e-12)


def test_module_cache_keeps_only_the_newest_modules(tmp_path, monkeypatch):
    from codegen import loader

    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(loader, "MAX_CACHED", 3)
    modules = [loader.load_module(f"VALUE = {k}\n", "cached") for k in range(5)]
    assert [m.VALUE for m in modules] == list(range(5))
    assert len(list(tmp_path.glob("*.py"))) == 3


def test_every_returned_array_is_the_callers_own(target):
    """Writing into a result never changes an argument, a constant of the module, another
    result or the next call's results (a broadcast result is writable too)."""
    x = sd.var("x", (3,))
    y = sd.exp(x)
    outputs = [y, y, x, x[1:], sd.const(np.ones(3)) * 2, sd.grad(sd.sum(x), x)]
    f = sd.function([x], outputs, target=target)
    xv = np.arange(3.0)
    first = f(xv)
    for out in first:
        out[...] = 7.0
    np.testing.assert_array_equal(xv, np.arange(3.0))
    again = f(xv)
    np.testing.assert_allclose(again[0], np.exp(xv))
    np.testing.assert_array_equal(again[4], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(again[5], [1.0, 1.0, 1.0])
    assert again[0] is not again[1]


def test_a_result_that_views_another_result_is_its_own_array(target):
    """`h` and `h[1:]`, `h.T` or `reshape(h)` returned together are separate arrays, in
    either order: writing into one leaves the others alone."""
    a = sd.var("a", (2, 3))
    h = sd.exp(a)
    f = sd.function([a], [h[1:], h, h.T, sd.reshape(h, (6,))], target=target)
    results = f(np.zeros((2, 3)))
    for i, out in enumerate(results):
        for other in results[i + 1:]:
            assert not np.shares_memory(out, other)
    results[1][...] = 7.0
    np.testing.assert_array_equal(results[0], np.ones((1, 3)))


def _compile_many(folder: str, worker: int, count: int) -> list[str]:
    """A process loading `count` distinct modules into a shared cache of 4 (a helper of the
    concurrency test below: returns the errors it met)."""
    import os

    from codegen import loader

    os.environ["SYMDIFF_CACHE_DIR"] = folder
    loader.MAX_CACHED = 4
    errors = []
    for k in range(count):
        try:
            module = loader.load_module(f"VALUE = ({worker}, {k})\n", f"w{worker}")
            if module.VALUE != (worker, k):
                errors.append(f"wrong module for {(worker, k)}: {module.VALUE}")
        except Exception as err:  # noqa: BLE001 - every failure is what the test counts
            errors.append(f"{type(err).__name__}: {err}")
    return errors


def test_module_cache_is_safe_for_concurrent_processes(tmp_path):
    """Several processes compiling into one cache, each pruning it: none crashes or loads a
    wrong module, and files symdiff did not write are never deleted (issue 16)."""
    import multiprocessing

    from codegen import loader

    foreign = ["notes.py", "other_0123456789abcdef.py", "symdiff-mine.py"]
    for name in foreign:
        (tmp_path / name).write_text("# mine\n")
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with context.Pool(6) as pool:
        results = pool.starmap(_compile_many, [(str(tmp_path), w, 40) for w in range(6)])
    assert [e for errors in results for e in errors] == []
    for name in foreign:
        assert (tmp_path / name).read_text() == "# mine\n"
    own = [p for p in tmp_path.glob("*.py") if loader._OWN_FILE.fullmatch(p.name)]
    assert 1 <= len(own) <= 4 * 6  # each process keeps its newest; all prune to 4 at rest
    assert not list(tmp_path.glob(f"*{__import__('symdiff.atomic').atomic.TEMP_SUFFIX}"))


def test_module_cache_prunes_bytecode_with_its_modules(tmp_path, monkeypatch):
    from codegen import loader

    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(loader, "MAX_CACHED", 2)
    for k in range(6):
        loader.load_module(f"VALUE = {k}\n", "cached")
    modules = sorted(p.stem for p in tmp_path.glob("*.py"))
    cached = sorted(p.name.split(".")[0] for p in (tmp_path / "__pycache__").glob("*.pyc"))
    assert len(modules) == 2 and set(cached) <= set(modules)


def test_module_cache_removes_stale_temp_files_only(tmp_path, monkeypatch):
    import os

    from codegen import loader
    from symdiff.atomic import TEMP_SUFFIX

    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(tmp_path))
    stale = tmp_path / f".symdiff-crashed{TEMP_SUFFIX}"
    fresh = tmp_path / f".symdiff-writing{TEMP_SUFFIX}"
    other = tmp_path / f".mine{TEMP_SUFFIX}"
    for p in (stale, fresh, other):
        p.write_text("partial")
    old = os.stat(stale).st_mtime - 2 * loader.STALE_TEMP_SECONDS
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    loader.load_module("VALUE = 1\n", "cached")
    assert not stale.exists() and fresh.exists() and other.exists()
