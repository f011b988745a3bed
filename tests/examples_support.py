"""Shared by the example, CLI and README tests: the example specs, compiled once per test
session by the real `symdiff compile` command (one subprocess per spec, run in parallel)."""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES = ("xor", "mlp_tanh", "deep_mlp", "mlp_relu_xent", "mlp_digits_labels",
            "logreg_newton", "gp_regression", "cnn_digits", "attention", "rnn")

_workdirs: list[tempfile.TemporaryDirectory] = []  # removed when the session ends


def symdiff_command(*args: str) -> list[str]:
    """The argv running the `symdiff` command with this interpreter."""
    return [sys.executable, "-m", "symdiff", *args]


def run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; the environment is the test's own."""
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)


@functools.cache
def compiled_examples() -> Path:
    """A temporary directory holding <name>_grad.py for every example spec."""
    workdir = tempfile.TemporaryDirectory(prefix="symdiff-examples-")
    _workdirs.append(workdir)
    out = Path(workdir.name)
    procs = {name: subprocess.Popen(
        symdiff_command("compile", str(EXAMPLES_DIR / f"{name}.toml"), "-o", f"{name}_grad.py"),
        cwd=out, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in EXAMPLES}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise AssertionError(f"symdiff compile {name}.toml failed ({proc.returncode}):\n"
                                 f"{stderr}")
    return out


def import_file(path: Path) -> ModuleType:
    """Import a generated module from its file, as a user would."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
