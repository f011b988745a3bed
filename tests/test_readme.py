"""The README's commands and code work as written: its shell lines run in a scratch copy of
the examples (pip installs skipped: the package is already installed), its Python block runs
as a script, its generated-module excerpt matches what `symdiff compile` writes."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.examples_support import ROOT, compiled_examples, run

README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = ('python3 -m pip install -e ".[test,examples,array-api,dask,numba,bench]" '
                '&& python3 -m pytest')
MAIN_JOB = ('python3 -m pip install -e ".[examples]" && symdiff compile examples/xor.toml '
            '-o xor_grad.py && python3 examples/xor_train.py')


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def shell_lines() -> list[str]:
    return [line for block in blocks("sh") for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A directory like the repository root, holding a copy of examples/."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def runnable(line: str) -> str:
    """The line without its `pip install` steps (the package under test is installed)."""
    steps = [s.strip() for s in line.split("&&")]
    return " && ".join(s for s in steps if not s.startswith("python3 -m pip install"))


def test_the_test_command_is_there_verbatim():
    assert TEST_COMMAND in shell_lines()


def test_the_main_job_is_one_line():
    assert MAIN_JOB in shell_lines()


@pytest.mark.parametrize("line", [s for s in shell_lines() if "pytest" not in s])
def test_shell_line_runs(line, scratch):
    if "mlp_digits" in line:
        pytest.importorskip("sklearn", reason="the examples extra is not installed")
    if "--format svg" in line or "--format png" in line:
        if shutil.which("dot") is None:
            pytest.skip("Graphviz's dot is not installed")
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = run(["bash", "-c", f"export PATH={env_path!r}; set -e; {runnable(line)}"],
                 scratch, timeout=300)
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    if line == MAIN_JOB:
        assert "learned XOR" in result.stdout
        assert "using the generated module xor_grad.py" in result.stderr


def test_python_tour_runs(scratch):
    (tour,) = [b for b in blocks("python") if b.startswith("import ")]
    (scratch / "tour.py").write_text(tour, encoding="utf-8")
    result = run([sys.executable, "tour.py"], scratch)
    assert result.returncode == 0, result.stderr
    assert "-- derivative --" in result.stdout and "Hessian of `loss`" in result.stdout


def test_adding_an_op_example_runs(scratch):
    (example,) = [b for b in blocks("python") if b.startswith("# my_ops.py")]
    (scratch / "my_ops.py").write_text(example, encoding="utf-8")
    result = run([sys.executable, "my_ops.py"], scratch)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(".") >= 3  # the printed gradient


def test_generated_module_excerpt_is_what_compile_writes():
    (excerpt,) = [b for b in blocks("python") if b.startswith("def ")]
    source = (compiled_examples() / "xor_grad.py").read_text(encoding="utf-8")
    source_lines = {line.rstrip() for line in source.splitlines()}
    shown = [line.rstrip() for line in excerpt.splitlines()
             if line.strip() and "..." not in line]
    missing = [line for line in shown if line not in source_lines]
    assert not missing, "README lines not in the generated xor_grad.py:\n" + "\n".join(missing)


def test_op_table_is_the_registrys():
    """The README's op table is what the registry generates (after adding a public
    function: python3 -m symdiff.ops.catalog README.md)."""
    from symdiff.ops.catalog import markdown_table

    found = re.search(r"<!-- op table: generated -->\n(.*?)<!-- end of op table -->", README,
                      flags=re.S)
    assert found, "the README lost its op table markers"
    assert found.group(1) == markdown_table()
    assert "`sd.variance`" in README and "x.var()" in README
