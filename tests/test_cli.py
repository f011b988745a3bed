"""The `symdiff` command: compile, show, check, their help, and exit status 2 with a located
message (never a traceback) for every kind of spec mistake.

Most tests call `symdiff.cli.main` in-process (the same code the console script runs); a
few run the real command in a subprocess to pin down exit statuses and output streams."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from symdiff import cli
from symdiff.spec import compile_spec, load_spec, spec_module
from symdiff.spec.check import check_spec
from tests.examples_support import (
    EXAMPLES,
    EXAMPLES_DIR,
    compiled_examples,
    import_file,
    run,
    symdiff_command,
)

XOR = str(EXAMPLES_DIR / "xor.toml")


def main(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# -- compile --------------------------------------------------------------------------------

def test_compile_writes_a_module_with_one_function_per_entry():
    source = (compiled_examples() / "xor_grad.py").read_text()
    module = import_file(compiled_examples() / "xor_grad.py")
    for name in ("predict", "loss", "loss_grad", "loss_and_grad", "loss_hess_w", "loss_hvp_w"):
        assert callable(getattr(module, name)), name
        assert f"def {name}(" in source
    assert "def loss_hvp_w(X, y, W, c, w, b, v):" in source
    assert "h = " in source and "yhat = " in source  # [define] names reach the code


def test_compile_is_deterministic_and_matches_the_library(capsys):
    status, out, _ = main(capsys, "compile", XOR)
    assert status == 0
    assert out == (compiled_examples() / "xor_grad.py").read_text()
    assert out == compile_spec(load_spec(XOR))


def test_compile_no_optimize_gives_a_different_but_equal_module(capsys, tmp_path, rng):
    target = tmp_path / "plain.py"
    status, _, err = main(capsys, "compile", XOR, "-o", str(target), "--no-optimize")
    assert status == 0 and f"wrote {target}" in err and "loss_hvp_w(X, y, W, c, w, b, v)" in err
    plain, optimized = import_file(target), import_file(compiled_examples() / "xor_grad.py")
    assert target.read_text() != (compiled_examples() / "xor_grad.py").read_text()
    args = dict(X=rng.standard_normal((5, 2)), y=rng.standard_normal(5),
                W=rng.standard_normal((2, 2)), c=rng.standard_normal(2),
                w=rng.standard_normal(2), b=np.array(0.3))
    for got, want in zip(plain.loss_grad(**args), optimized.loss_grad(**args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_compile_to_an_unwritable_path_is_exit_2(capsys, tmp_path):
    status, _, err = main(capsys, "compile", XOR, "-o", str(tmp_path / "no" / "such.py"))
    assert status == 2 and "cannot write" in err


# -- show -------------------------------------------------------------------------------------

def test_show_text_lists_the_derivative_graph(capsys):
    status, out, _ = main(capsys, "show", XOR, "--of", "loss_grad")
    assert status == 0
    assert "-- derivative --" in out and "∂loss/∂W" in out and " h " in out


def test_show_a_define_and_dot(capsys, tmp_path):
    status, out, _ = main(capsys, "show", XOR, "--of", "h", "--format", "dot")
    assert status == 0 and out.startswith("digraph")
    target = tmp_path / "h.dot"
    assert main(capsys, "show", XOR, "--of", "h", "--format", "dot", "-o", str(target))[0] == 0
    assert target.read_text().startswith("digraph")


def test_show_latex_of_an_elementwise_graph_and_of_a_matrix_gradient(capsys, tmp_path):
    spec = tmp_path / "scalar.toml"
    spec.write_text('[inputs]\nx = { shape = [] }\n[define]\nf = "sigmoid(x) * x"\n'
                    '[derivatives]\ndf = { of = "f", wrt = "x" }\n')
    status, out, _ = main(capsys, "show", str(spec), "--of", "df", "--format", "latex")
    assert status == 0 and "x" in out and "\\" in out
    status, out, err = main(capsys, "show", XOR, "--of", "loss_grad", "--format", "latex")
    assert status == 0 and err == ""
    assert "\\frac{\\partial \\mathrm{loss}}{\\partial W} &= X^\\top" in out
    assert out.count("\\begin{aligned}") == 4 == out.count("\\end{aligned}")


def test_show_pictures_need_an_output_file(capsys):
    status, _, err = main(capsys, "show", XOR, "--format", "png")
    assert status == 2 and "give the file to write with -o" in err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_show_svg(capsys, tmp_path):
    target = tmp_path / "grad.svg"
    status, _, _ = main(capsys, "show", XOR, "--of", "loss_grad", "--format", "svg",
                        "-o", str(target))
    assert status == 0 and "<svg" in target.read_text()


def test_show_an_unknown_name_is_exit_2(capsys):
    status, _, err = main(capsys, "show", XOR, "--of", "nope")
    assert status == 2 and "'nope' is neither a function nor a [define] entry" in err


# -- check ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLES)
def test_check_passes_on_every_example(capsys, name):
    status, out, err = main(capsys, "check", str(EXAMPLES_DIR / f"{name}.toml"))
    assert status == 0, out + err
    header = out.splitlines()[0].split()
    assert header[:3] == ["function", "wrt", "against"] and header[-1] == "ok"
    assert "MISMATCH" not in out and "checks passed" in err


def test_check_table_rows(capsys):
    _, out, _ = main(capsys, "check", XOR, "--dim", "n=4", "--seed", "3")
    rows = {tuple(line.split()[:3]) for line in out.splitlines()[1:]}
    assert ("loss_grad", "W", "finite") in rows and ("loss_hess_w", "w", "finite") in rows
    assert ("loss_hvp_w", "w", "finite") in rows and ("predict", "-", "interpreter") in rows


def test_check_finds_a_wrong_derivative(monkeypatch, capsys):
    """A generated module whose loss_grad is off by 1e-3 in one entry must fail the check,
    and the command must exit with status 1."""
    module = spec_module(XOR)
    right = module.loss_grad

    def wrong(**kwargs):
        dW, dc, dw, db = right(**kwargs)
        dc = dc.copy()
        dc[1] += 1e-3
        return dW, dc, dw, db

    monkeypatch.setattr(module, "loss_grad", wrong)
    rows = check_spec(load_spec(XOR), module)
    failed = {(r.function, r.wrt) for r in rows if not r.ok}
    assert failed == {("loss_grad", "c")}
    monkeypatch.setattr("symdiff.spec.compile.spec_module", lambda spec, **kw: module)
    status, out, err = main(capsys, "check", XOR)
    assert status == 1 and "MISMATCH" in out and "1 of 13 checks FAILED" in err


def test_check_bad_dim_option_is_exit_2(capsys):
    status, _, err = main(capsys, "check", XOR, "--dim", "n")
    assert status == 2 and "--dim expects NAME=SIZE" in err
    status, _, err = main(capsys, "check", XOR, "--dim", "n=0")
    assert status == 2 and "SIZE >= 1" in err
    status, _, err = main(capsys, "check", XOR, "--dim", "q=3")
    assert status == 2 and "no symbolic dim 'q' (its symbolic dims: n)" in err


def test_check_negative_seed_is_exit_2(capsys):
    status, _, err = main(capsys, "check", XOR, "--seed", "-1")
    assert status == 2 and "--seed must be a non-negative int" in err


def test_check_of_a_spec_too_large_to_sample_is_exit_2(capsys, tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text('name = "huge"\n[params]\nW = { shape = [99999999999999999] }\n'
                    '[outputs]\nout = "W"\n')
    status, _, err = main(capsys, "check", str(spec))
    assert status == 2 and "[params] W.shape: cannot sample W" in err


@pytest.mark.parametrize("shape, fragment", [
    ("[9223372036854775807]", "cannot sample x"),
    ("[" + ", ".join(["1"] * 70) + "]", "NumPy arrays have at most"),
    ("[4611686018427387904, 4]", "more elements than any NumPy array"),
])
def test_check_of_huge_or_many_dimensional_shapes_is_exit_2(capsys, tmp_path, shape, fragment):
    spec = tmp_path / "huge.toml"
    spec.write_text(f'[inputs]\nx = {{ shape = {shape} }}\n[outputs]\nout = "sum(x)"\n')
    status, _, err = main(capsys, "check", str(spec))
    assert status == 2 and fragment in err and "huge.toml" in err and "x.shape" in err
    assert "Traceback" not in err


def test_check_with_a_huge_dim_option_is_exit_2(capsys):
    status, _, err = main(capsys, "check", XOR, "--dim", "n=100000000000000000000")
    assert status == 2 and "cannot sample X" in err


@pytest.mark.parametrize("command", ["compile", "check", "show"])
def test_a_symbolic_dim_no_argument_carries_is_exit_2(capsys, tmp_path, command):
    spec = tmp_path / "bt.toml"
    spec.write_text('[inputs]\nx = { shape = [3] }\n[outputs]\n'
                    'f = "broadcast_to(x, shape=(\'m\', 3))"\n')
    status, _, err = main(capsys, command, str(spec))
    assert status == 2
    assert "bt.toml:4, [outputs] f: symbolic dim 'm' (in broadcast_to)" in err


@pytest.mark.parametrize("fmt", ["text", "dot", "svg"])
def test_show_into_a_missing_folder_is_exit_2(capsys, tmp_path, fmt):
    if fmt == "svg" and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    target = tmp_path / "missing" / "dir" / f"g.{fmt}"
    status, _, err = main(capsys, "show", XOR, "--format", fmt, "-o", str(target))
    assert status == 2 and f"cannot write {target}: no such directory" in err


def test_compile_output_is_replaced_atomically(capsys, tmp_path, monkeypatch):
    """A failed write (disk full) leaves the previous module whole, and no temp file."""
    import os

    out = tmp_path / "model_grad.py"
    out.write_text("GOOD = 1\n")
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    status, _, err = main(capsys, "compile", XOR, "-o", str(out))
    assert status == 2 and "No space left on device" in err
    assert out.read_text() == "GOOD = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_grad.py"]
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert main(capsys, "compile", XOR, "-o", str(out))[0] == 0
    assert "def loss_grad(" in out.read_text()


@pytest.mark.parametrize("kind", ["file", "under_a_file", "read_only"])
def test_unusable_cache_dir_is_exit_2(capsys, tmp_path, monkeypatch, kind):
    import os

    target = tmp_path / "cache"
    if kind == "file":
        target.write_text("not a folder")
    elif kind == "under_a_file":
        (tmp_path / "f").write_text("")
        target = tmp_path / "f" / "cache"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        target.mkdir(mode=0o500)
    monkeypatch.setenv("SYMDIFF_CACHE_DIR", str(target))
    status, _, err = main(capsys, "check", XOR)
    assert status == 2 and str(target) in err and "SYMDIFF_CACHE_DIR" in err


# -- help -------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["compile"], ["show"], ["check"]])
def test_help_has_an_example(capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: symdiff" in out and "example" in out and "examples/xor.toml" in out


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


# -- errors: exit status 2 and a message naming the file, the key and the column -------------

HEAD = """\
[inputs]
X = { shape = ["n", 2] }
k = { shape = ["n"], dtype = "int64" }
[params]
W = { shape = [2, 3] }
w = { shape = [2] }
"""

# id, spec text, the message (from "error: " on) must contain each of these fragments
CLI_ERRORS = [
    ("toml syntax", HEAD + "[define]\nh = relu(X)\n", ["model.toml:8, column 5",
                                                       "TOML syntax error"]),
    ("unknown name", HEAD + "[define]\nh = \"X @ Wx\"\n",
     ["model.toml:8, [define] h, column 5 of the expression", "unknown name 'Wx'"]),
    ("unknown function", HEAD + "[define]\nh = \"relu(X) + rellu(X)\"\n",
     ["[define] h, column 11 of the expression", "unknown function rellu()"]),
    ("disallowed syntax", HEAD + "[define]\nh = \"X.__class__\"\n",
     ["[define] h, column 1 of the expression", "attribute access .__class__ is not allowed"]),
    ("shape mismatch", HEAD + "[define]\nh = \"exp(X @ W) * w\"\n",
     ["[define] h, column 12 of the expression", "`exp(X @ W)` has shape (n, 3)"]),
    ("cycle", HEAD + "[define]\na = \"exp(b)\"\nb = \"a + 1\"\n",
     ["[define] a, column 5 of the expression", "cycle: a -> b -> a"]),
    ("forward reference", HEAD + "[define]\na = \"X * b\"\nb = \"X + 1\"\n",
     ["[define] a, column 5 of the expression", "'b' is used before it is defined"]),
    ("wrt names nothing", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = \"q\" }\n",
     ["model.toml:8, [derivatives] g.wrt", "wrt names 'q'"]),
    ("wrt integer input", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = \"k\" }\n",
     ["[derivatives] g.wrt", "dtype int64"]),
    ("duplicate name", HEAD + "[define]\nX = \"w + 1\"\n",
     ["model.toml:8, [define] X", "'X' is defined twice"]),
    ("unknown kind", HEAD + "[derivatives]\ng = { of = \"sum(X @ w)\", wrt = \"w\", "
     "kind = \"jacobian\" }\n", ["[derivatives] g.kind", "unknown kind 'jacobian'"]),
    ("missing of", HEAD + "[derivatives]\ng = { wrt = \"w\" }\n",
     ["[derivatives] g", "missing field 'of'"]),
]


@pytest.mark.parametrize("text, fragments", [row[1:] for row in CLI_ERRORS],
                         ids=[row[0] for row in CLI_ERRORS])
@pytest.mark.parametrize("command", ["compile", "check", "show"])
def test_spec_error_exits_2_with_a_located_message(capsys, tmp_path, monkeypatch, command,
                                                   text, fragments):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.toml").write_text(text)
    status, out, err = main(capsys, command, "model.toml")
    assert status == 2 and out == ""
    assert err.startswith(f"symdiff {command}: error: model.toml:")
    for fragment in fragments:
        assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["compile", "check"])
def test_a_spec_without_functions_exits_2(capsys, tmp_path, command):
    spec = tmp_path / "empty.toml"
    spec.write_text('[inputs]\nx = { shape = [] }\n[define]\ny = "x * 2"\n')
    status, _, err = main(capsys, command, str(spec))
    assert status == 2 and "no [outputs] or [derivatives] entries" in err


def test_missing_spec_file_exits_2(capsys, tmp_path):
    status, _, err = main(capsys, "compile", str(tmp_path / "nope.toml"))
    assert status == 2 and "nope.toml: cannot read the spec" in err


# -- the real command, in a subprocess ---------------------------------------------------------

def test_real_command_reports_a_spec_error_with_status_2(tmp_path):
    (tmp_path / "model.toml").write_text(HEAD + "[define]\nh = \"exp(X @ W) * w\"\n")
    result = run(symdiff_command("compile", "model.toml", "-o", "out.py"), tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    first, expression, caret = result.stderr.splitlines()
    assert first.startswith(
        "symdiff compile: error: model.toml:8, [define] h, column 12 of the expression: in "
        "`exp(X @ W) * w` (`exp(X @ W)` has shape (n, 3), `w` has shape (2,)): mul: ")
    assert (expression, caret) == ("    exp(X @ W) * w", "               ^")
    assert not (tmp_path / "out.py").exists()


def test_real_console_script_is_installed():
    script = shutil.which("symdiff", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the symdiff console script is not next to this interpreter")
    result = run([script, "check", XOR, "--size", "2"], EXAMPLES_DIR)
    assert result.returncode == 0, result.stderr
    assert "all 13 checks passed" in result.stderr


def test_show_text_filters(capsys):
    status, out, _ = main(capsys, "show", XOR, "--of", "loss_grad", "--only", "derivative",
                          "--depth", "2")
    assert status == 0 and "-- derivative --" in out and "-- forward --" not in out
    status, _, err = main(capsys, "show", XOR, "--of", "loss_grad", "--of-node", "%999")
    assert status == 2 and "no node %999" in err
    status, _, err = main(capsys, "show", XOR, "--format", "dot", "--depth", "1")
    assert status == 2 and "--format text" in err
