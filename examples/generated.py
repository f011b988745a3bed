"""Load the generated module of an example spec: the file `symdiff compile` wrote in the
current directory if there is one, else compile the spec now (this needs symdiff)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parent


def gradient_module(spec_name: str) -> ModuleType:
    """./<spec_name>_grad.py if it exists (it needs only NumPy), else examples/<spec_name>.toml
    compiled in memory."""
    path = Path.cwd() / f"{spec_name}_grad.py"
    if path.exists():
        spec = importlib.util.spec_from_file_location(f"{spec_name}_grad", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"using the generated module {path.name}", file=sys.stderr)
        return module
    import symdiff as sd

    print(f"compiling examples/{spec_name}.toml (no ./{path.name} found)", file=sys.stderr)
    return sd.spec_module(EXAMPLES / f"{spec_name}.toml")
