"""Layers point one way: no import cycle among symdiff's and codegen's modules, not even
through imports inside functions; the graph module depends on neither the op library nor
inspection; and `import symdiff` loads NumPy and symdiff alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("symdiff", "codegen")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _walk_runtime(tree: ast.AST):
    """The AST nodes that run (imports under `if TYPE_CHECKING:` do not)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) \
                    and child.test.id == "TYPE_CHECKING":
                stack.extend(child.orelse)
            else:
                stack.append(child)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in its body (functions included); a
    package's __init__ that runs only as the parent of a module is not counted."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk_runtime(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return found


def import_graph() -> nx.DiGraph:
    modules = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        for target in _imports(path, name, set(modules)):
            if target in modules and target != name:
                g.add_edge(name, target)
    return g


def test_no_import_cycle():
    g = import_graph()
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_graph_module_depends_on_neither_ops_nor_inspection():
    reached = nx.descendants(import_graph(), "symdiff.graph")
    assert not {m for m in reached if m.startswith(("symdiff.ops", "symdiff.inspect"))}


def test_spec_uses_modules_not_the_package_root():
    g = import_graph()
    for name in g:
        if name.startswith("symdiff.spec"):
            assert "symdiff" not in g.successors(name), name


def test_import_symdiff_loads_only_numpy():
    script = ("import sys, symdiff\n"
              "heavy = ['sympy', 'networkx', 'pydot', 'codegen', 'scipy']\n"
              "print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
