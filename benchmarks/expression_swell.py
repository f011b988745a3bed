"""Expression swell: node count of the k-th derivative of tanh(tanh(tanh(x))), by
symdiff's Taylor mode (sd.derivative) and by nested reverse mode (grad of grad ...),
each raw and after sd.optimize (when the rewrites are there), beside sympy.count_ops of
sympy.diff of the same expression. Usage: python3 benchmarks/expression_swell.py"""

from __future__ import annotations

import sympy

import symdiff as sd
from symdiff.graph import topo_order


def count(node, optimize=None) -> int | str:
    if optimize is None:
        return len(topo_order([node]))
    return len(topo_order([optimize(node)]))


def main(max_order: int = 6) -> None:
    x = sd.var("x")
    y = sd.tanh(sd.tanh(sd.tanh(x)))
    xs = sympy.Symbol("x")
    ys = sympy.tanh(sympy.tanh(sympy.tanh(xs)))
    opt = getattr(sd, "optimize", None)
    print(f"{'k':>2} {'taylor':>7} {'taylor opt':>11} {'nested grad':>12} {'nested opt':>11} "
          f"{'sympy count_ops':>16}")
    nested, ds = y, ys
    for k in range(1, max_order + 1):
        nested, ds = sd.grad(nested, x), sympy.diff(ds, xs)
        taylor = sd.derivative(y, x, k)
        row = [count(taylor), count(taylor, opt) if opt else "-", count(nested),
               count(nested, opt) if opt else "-"]
        print(f"{k:>2} {row[0]:>7} {row[1]!s:>11} {row[2]:>12} {row[3]!s:>11} "
              f"{sympy.count_ops(ds):>16}")


if __name__ == "__main__":
    main()
