"""The unit the back end compiles: a named function from input variables to a pytree of
output nodes (a node, or a tuple or list of pytrees)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symdiff.graph import Node, topo_order
from symdiff.shapes import fmt_shape

Pytree = Node | tuple["Pytree", ...] | list["Pytree"]


def flatten(tree: Pytree) -> list[Node]:
    """The nodes of a pytree, depth first."""
    if isinstance(tree, Node):
        return [tree]
    if not isinstance(tree, (tuple, list)):
        raise TypeError(f"outputs must be symdiff nodes or tuples/lists of them, got "
                        f"{type(tree).__name__}")
    return [leaf for sub in tree for leaf in flatten(sub)]


def render(tree: Pytree, spell: Callable[[Node], str]) -> str:
    """Python source for the pytree, each node spelled by `spell` (leaves left to right)."""
    if isinstance(tree, Node):
        return spell(tree)
    inner = ", ".join(render(sub, spell) for sub in tree)
    if isinstance(tree, list):
        return f"[{inner}]"
    return f"({inner},)" if len(tree) == 1 else f"({inner})"


@dataclass(frozen=True, eq=False)
class Function:
    """One generated function: `name(*inputs) -> outputs`. Every input is an argument (an
    input the outputs do not use is still checked at entry); the result has the shape of
    `outputs` (a node gives one array, a tuple a tuple, a list a list)."""

    name: str
    inputs: Sequence[Node]
    outputs: Pytree
    doc: str = ""

    def __post_init__(self) -> None:
        inputs = tuple(self.inputs) if not isinstance(self.inputs, Node) else (self.inputs,)
        object.__setattr__(self, "inputs", inputs)
        if not isinstance(self.name, str):
            raise TypeError(f"a function name must be a str, got {type(self.name).__name__}")
        for v in inputs:
            if not isinstance(v, Node) or v.kind != "var":
                raise ValueError(f"function {self.name!r}: inputs must be variables "
                                 f"(symdiff.var), got {v!r}"[:300])
        if len(set(inputs)) != len(inputs):
            dup = next(v for v in inputs if inputs.count(v) > 1)
            raise ValueError(f"function {self.name!r}: variable {dup.name!r} is listed twice "
                             "among the inputs")
        leaves = flatten(self.outputs)
        given = set(inputs)
        below = topo_order(leaves)
        for node in below:
            if node.kind == "var" and node not in given:
                raise ValueError(f"function {self.name!r}: the outputs depend on variable "
                                 f"{node.name!r} {fmt_shape(node.shape)}, which is not "
                                 "among the inputs")
        bound = {d for v in inputs for d in v.shape if isinstance(d, str)}
        for node in below:
            for d in node.attrs.get("shape", ()) if node.kind == "op" else ():
                if isinstance(d, str) and d not in bound:
                    raise ValueError(f"function {self.name!r}: symbolic dim {d!r} (in "
                                     f"{node.op.name}) is not the size of any input")

    @property
    def leaves(self) -> list[Node]:
        return flatten(self.outputs)
