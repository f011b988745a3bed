"""Taylor mode: push a truncated Taylor series through an elementwise graph.

With x(t) = x + t (every element moving at unit speed), the k-th coefficient of y(t) is
y^(k)(x) / k! for an elementwise (or scalar) y. Each op's `taylor` rule costs O(k^2)
nodes, so high-order derivatives grow polynomially in k, where nested reverse mode
roughly doubles the graph with every order.
"""

from __future__ import annotations

import math

from .graph import Node, Provenance, derivative_context, nodes_between, topo_order
from .ops import broadcast_to, lift
from .rewrite.stabilize import stabilized


class NoTaylorRule(Exception):
    """An op on the path has no Taylor rule (it is not elementwise)."""


def taylor_coefficients(y: Node, x: Node, order: int) -> list[Node | None]:
    """[y, y_1, ..., y_order]: Taylor coefficients of y along x + t (None: exactly zero)."""
    (y,) = stabilized([y])  # as grad does: the stable form of fragile patterns
    relevant = nodes_between([x], [y])
    series: dict[Node, list] = {x: [x, lift(1.0, x)] + [None] * (order - 1)}
    for node in topo_order([y]):
        if node not in relevant or node in series or node.op is None:
            continue
        if node.op.taylor is None:
            raise NoTaylorRule(node.op.name)
        args = [series.get(i) or [i] + [None] * order for i in node.inputs]
        with derivative_context(Provenance("jvp", f"{node.op.name}.taylor", node, x, node)):
            series[node] = node.op.taylor(args, node, **node.attrs)
    return series.get(y, [y] + [None] * order)


def taylor_derivative(y: Node, x: Node, order: int) -> Node:
    """The order-k derivative of an elementwise y by Taylor mode: k! * y_k."""
    coefficient = taylor_coefficients(y, x, order)[order]
    if coefficient is None:
        return broadcast_to(lift(0.0, y), y.shape)
    with derivative_context(Provenance("jvp", "taylor", y, x, y)):
        result = coefficient * lift(float(math.factorial(order)), coefficient)
        return broadcast_to(result, y.shape)
