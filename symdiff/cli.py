"""The `symdiff` command: compile a model spec into a NumPy module, show its derivative
graph, or check its generated derivatives against finite differences.

Exit status: 0 on success, 1 when `check` finds a mismatch, 2 for a problem with the spec
or the command line (the message names the file, the key and the column).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from .atomic import write_atomic
from .errors import SymdiffError
from .ops import spec_functions
from .spec import Spec, load_spec
from .spec.compile import flatten, optimized_outputs

SHOW_FORMATS = ("text", "dot", "svg", "png", "latex", "html")

DESCRIPTION = """\
symdiff compiles a model spec (a TOML file naming inputs, parameters, definitions, and the
functions to generate) into a standalone NumPy module with one function per [outputs] and
[derivatives] entry. The generated module imports only numpy."""

EPILOG = """\
examples:
  symdiff compile examples/xor.toml -o xor_grad.py
  symdiff show examples/xor.toml --of loss_grad
  symdiff show examples/xor.toml --of loss_grad --format svg -o loss_grad.svg
  symdiff show examples/xor.toml --of loss_grad --format html -o loss_grad.html
  symdiff check examples/xor.toml

Run `symdiff COMMAND --help` for the options of each command."""


class UsageError(SymdiffError):
    """A command line that cannot be carried out as given (exit status 2)."""


def import_ops(names: Sequence[str]) -> list[ModuleType]:
    """The modules named by --ops, imported (the current directory first on the path, as
    for `python -m`); each must define at least one op with symdiff.define_op."""
    modules = []
    for name in names:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - any failure to import is the user's to fix
            raise UsageError(f"--ops {name}: cannot import the module: "
                             f"{type(err).__name__}: {err}") from None
        finally:
            sys.path.remove(os.getcwd())
        if not spec_functions([module]).keys() - spec_functions().keys():
            raise UsageError(f"--ops {name}: the module defines no op (use "
                             "symdiff.define_op at its top level)")
        modules.append(module)
    return modules


def _load(args: argparse.Namespace, *, needs_functions: bool = False) -> Spec:
    path = args.spec
    spec = load_spec(path, ops=import_ops(args.ops))
    if needs_functions and not spec.functions:
        raise UsageError(f"{path}: the spec has no [outputs] or [derivatives] entries, so "
                         "there is no function to generate")
    return spec


# -- compile --------------------------------------------------------------------------------

def run_compile(args: argparse.Namespace) -> int:
    """Write the generated module (or print it when no -o is given)."""
    from .spec.compile import compile_spec

    spec = _load(args, needs_functions=True)
    source = compile_spec(spec, optimize=not args.no_optimize, target=args.target)
    if args.output is None:
        sys.stdout.write(source)
        return 0
    out = Path(args.output)
    _write(out, source)
    print(f"wrote {out} ({len(spec.functions)} functions from {args.spec}):", file=sys.stderr)
    for plan in spec.functions:
        print(f"  {plan.signature}", file=sys.stderr)
    return 0


def _write(path: Path, text: str) -> None:
    """Write an output file atomically (a full disk leaves the old file whole)."""
    try:
        write_atomic(path, text)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {_reason(err)}") from None


def _reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "no such directory (create it first)"
    return err.strerror or str(err)


# -- show -------------------------------------------------------------------------------------

def _api(name: str, fmt: str):
    """An inspection function of the symdiff package, or a clear error if it is missing."""
    import symdiff

    fn = getattr(symdiff, name, None)
    if fn is None:
        raise UsageError(f"--format {fmt} is not available: this symdiff has no "
                         f"symdiff.{name} (formats: {', '.join(SHOW_FORMATS)})")
    return fn


def _shown_nodes(spec: Spec, name: str | None, optimize: bool) -> list:
    """The roots to show: one function's outputs, a [define] entry, or every function."""
    if name is None:
        return [leaf for plan in spec.functions for leaf in
                flatten(optimized_outputs(plan, optimize))]
    for plan in spec.functions:
        if plan.name == name:
            return flatten(optimized_outputs(plan, optimize))
    return flatten(spec.lookup(name))


def run_show(args: argparse.Namespace) -> int:
    """Print (or write) the graph of one function, one definition, or the whole spec."""
    spec = _load(args)
    nodes = _shown_nodes(spec, args.of, not args.no_optimize)
    fmt = args.format
    narrowed = {"--depth": args.depth, "--only": args.only, "--of-node": args.of_node}
    used = [flag for flag, value in narrowed.items() if value is not None]
    if used and fmt != "text":
        raise UsageError(f"{', '.join(used)} {'narrows' if len(used) == 1 else 'narrow'} the "
                         "text listing: use it with --format text")
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth must be a non-negative int, got {args.depth}")
    if fmt in ("svg", "png"):
        if args.output is None:
            raise UsageError(f"--format {fmt} draws a picture: give the file to write with "
                             f"-o, e.g. -o graph.{fmt}")
        try:
            written = _api("render", fmt)(nodes, args.output, format=fmt)
        except OSError as err:
            raise UsageError(f"cannot write {args.output}: {_reason(err)}") from None
        print(f"wrote {written}", file=sys.stderr)
        return 0
    if fmt == "html":
        if args.output is None:
            raise UsageError("--format html writes a page: give the file to write with -o, "
                             "e.g. -o graph.html")
        title = f"{Path(args.spec).name}: {args.of or 'every function'}"
        try:
            written = _api("to_html", fmt)(nodes, args.output, title=title)
        except OSError as err:
            raise UsageError(f"cannot write {args.output}: {_reason(err)}") from None
        print(f"wrote {written} (open it in a browser)", file=sys.stderr)
        return 0
    if fmt == "text":
        text = _api("show", fmt)(nodes, only=args.of_node, depth=args.depth, part=args.only)
    elif fmt == "dot":
        text = _api("to_dot", fmt)(nodes)
    else:
        latex = _api("latex", fmt)
        parts = []
        for i, node in enumerate(nodes):
            label = (args.of or node.display_name) if len(nodes) == 1 else \
                f"{args.of or 'output'}[{i}]"
            parts.append(f"% {label}\n{latex(node)}")
        text = "\n".join(parts)
    if not text.endswith("\n"):
        text += "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write(Path(args.output), text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


# -- check ------------------------------------------------------------------------------------

def _dims(pairs: Sequence[str], known: set[str]) -> dict[str, int]:
    """--dim NAME=SIZE pairs: each NAME a symbolic dim of the spec, each SIZE at least 1."""
    dims: dict[str, int] = {}
    for pair in pairs:
        name, eq, size = pair.partition("=")
        if not eq or not name or not size.isdigit() or int(size) < 1:
            raise UsageError(f"--dim expects NAME=SIZE with SIZE >= 1, e.g. --dim n=7; "
                             f"got {pair!r}")
        if name not in known:
            have = ", ".join(sorted(known)) or "none"
            raise UsageError(f"--dim {name}: the spec has no symbolic dim {name!r} "
                             f"(its symbolic dims: {have})")
        dims[name] = int(size)
    return dims


def run_check(args: argparse.Namespace) -> int:
    """Compare every generated function with finite differences / the interpreter."""
    from .spec.check import check_spec, format_table
    from .spec.compile import spec_module

    spec = _load(args, needs_functions=True)
    if args.size < 1:
        raise UsageError(f"--size must be at least 1, got {args.size}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative int, got {args.seed}")
    module = spec_module(spec, optimize=not args.no_optimize)
    known = {d for v in spec.symbols.values() for d in v.shape if isinstance(d, str)}
    rows = check_spec(spec, module, dims=_dims(args.dim, known), default_size=args.size,
                      seed=args.seed)
    print(format_table(rows))
    failed = [r for r in rows if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(rows)} checks FAILED", file=sys.stderr)
        return 1
    print(f"all {len(rows)} checks passed" if len(rows) != 1 else "the check passed",
          file=sys.stderr)
    return 0


# -- the parser -------------------------------------------------------------------------------

def _wrap(text: str) -> str:
    return textwrap.fill(text, 80)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of `symdiff` and its three commands."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="symdiff", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=formatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ops = argparse.ArgumentParser(add_help=False)
    ops.add_argument("--ops", action="append", default=[], metavar="MODULE",
                     help="a Python module whose ops (symdiff.define_op) the spec may call "
                          "(repeatable; without it specs import nothing)")

    p = commands.add_parser(
        "compile", parents=[ops], help="compile a spec into a generated NumPy module",
        formatter_class=formatter,
        description=_wrap("Compile a model spec into a Python module with one NumPy function "
                          "per [outputs] and [derivatives] entry."),
        epilog="example:\n  symdiff compile examples/xor.toml -o xor_grad.py\n"
               "  python3 -c \"import numpy as np, xor_grad; print(xor_grad.loss_grad."
               "__doc__)\"")
    p.add_argument("spec", metavar="SPEC", help="the model spec (.toml)")
    p.add_argument("-o", "--output", metavar="OUT.py",
                   help="the module file to write (default: print the source)")
    p.add_argument("--no-optimize", action="store_true",
                   help="skip the graph rewrites (CSE, folding, simplification)")
    p.add_argument("--target", choices=("numpy", "numba", "numba-parallel", "array-api"),
                   default="numpy",
                   help="numpy (default: the module needs NumPy alone), numba (fused loop "
                        "kernels compiled by numba, cached next to the module; needs the "
                        "numba extra), numba-parallel (the same, loops that do not sum along "
                        "their first axis split along it over numba's threads: "
                        "NUMBA_NUM_THREADS) or array-api (any array library "
                        "following the Python array API standard: PyTorch, JAX, Dask, ...; "
                        "needs array-api-compat)")
    p.set_defaults(run=run_compile)

    p = commands.add_parser(
        "show", parents=[ops], help="show the graph of a function or definition",
        formatter_class=formatter,
        description=_wrap("Show the (optimized) graph behind one generated function, a "
                          "[define] entry, or all functions: as a text listing, Graphviz "
                          "DOT, an SVG or PNG picture (needs Graphviz's dot), LaTeX "
                          "(elementwise graphs), or an interactive HTML page."),
        epilog="examples:\n  symdiff show examples/xor.toml --of loss_grad\n"
               "  symdiff show examples/xor.toml --of loss_grad --format svg -o grad.svg\n"
               "  symdiff show examples/xor.toml --of loss_grad --format html -o grad.html\n"
               "  symdiff show examples/xor.toml --of h --format dot > h.dot")
    p.add_argument("spec", metavar="SPEC", help="the model spec (.toml)")
    p.add_argument("--of", metavar="NAME",
                   help="a function ([outputs], [derivatives]) or [define] name "
                        "(default: every function)")
    p.add_argument("--format", choices=SHOW_FORMATS, default="text",
                   help="output format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (required for svg, png and html; default: stdout)")
    p.add_argument("--no-optimize", action="store_true",
                   help="show the graph as built, before the rewrites")
    p.add_argument("--depth", type=int, metavar="N",
                   help="text: list only the nodes at most N edges above the outputs")
    p.add_argument("--only", choices=("forward", "derivative"),
                   help="text: list only the forward or the derivative part")
    p.add_argument("--of-node", metavar="%N",
                   help="text: list only the nodes that feed node %%N of the full listing")
    p.set_defaults(run=run_show)

    p = commands.add_parser(
        "check", parents=[ops], help="check the generated derivatives against finite differences",
        formatter_class=formatter,
        description=_wrap("Compile the spec, call every generated function at random "
                          "arguments (float64 normal samples; symbolic dims of size --size), "
                          "and compare each derivative with central finite differences and "
                          "each value with the reference interpreter. Prints a table; exits "
                          "with status 1 on a mismatch."),
        epilog="examples:\n  symdiff check examples/xor.toml\n"
               "  symdiff check examples/mlp_tanh.toml --dim n=3 --seed 1")
    p.add_argument("spec", metavar="SPEC", help="the model spec (.toml)")
    p.add_argument("--size", type=int, default=5,
                   help="size given to every symbolic dim (default: 5)")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                   help="size of one symbolic dim (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-optimize", action="store_true",
                   help="check the module compiled without rewrites")
    p.set_defaults(run=run_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `symdiff` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SymdiffError as err:
        print(f"symdiff {args.command}: error: {err}", file=sys.stderr)
        return 2
    except MemoryError as err:  # e.g. `check` sampling a param of shape [10**9, 10**9]
        print(f"symdiff {args.command}: error: out of memory: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `symdiff compile spec.toml | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
