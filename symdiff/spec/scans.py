"""The `[scan.NAME]` tables of a model spec: loops built with symdiff.scan.

    [scan.rnn]
    carry = { h = "h0" }                          # carry name = its initial value
    xs = { x = "X" }                              # slice name = sequence (scanned on axis 0)
    body = { h = "tanh(x @ W + h @ U + b)" }      # equations in order; defines each carry
    ys = { H = "h" }                              # new name = body value stacked over steps
    final = { hT = "h" }                          # new name = carry after the last step
    # optional: length = 10 (without xs), checkpoint = 10, reverse = true

A body reads its carry and slice names, its earlier equations, the inputs and params, and
the results of earlier scans; `[define]` entries read a scan's `ys` and `final` names.
Every error names `[scan.NAME]` and the key (and the column inside an expression).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from ..errors import ShapeError
from ..graph import Node
from ..loops.api import scan
from .errors import SpecError
from .parser import normalize_name, parse_expression

SCAN_KEYS = ("carry", "xs", "body", "ys", "final", "length", "checkpoint", "reverse")


def load_scans(loader: Any, tables: Any) -> None:
    """Build each `[scan.NAME]` table in file order, adding its results to the loader's
    defines."""
    if not isinstance(tables, dict):
        raise loader.error("scan must hold tables such as [scan.rnn]", "", "scan")
    for name, table in tables.items():
        _load_one(loader, name, table)


def _table(loader: Any, section: str, table: Mapping[str, Any], key: str,
           required: bool = False) -> dict[str, Any]:
    value = table.get(key, {} if not required else None)
    if value is None:
        raise loader.error(f"{key} is required: a table such as {key} = {{ h = \"h0\" }}",
                           section, key)
    if not isinstance(value, dict):
        raise loader.error(f"{key} must be a table of name = expression entries", section, key)
    return value


def _load_one(loader: Any, name: str, table: Any) -> None:
    section = f"scan.{name}"
    if not isinstance(table, dict):
        raise loader.error(f"[{section}] must be a table", "", "scan")
    for key in table:
        if key not in SCAN_KEYS:
            raise loader.error(f"unknown key {key!r:.80} in [{section}] (expected: "
                               f"{', '.join(SCAN_KEYS)})", section, key)
    carry = _table(loader, section, table, "carry", required=True)
    xs = _table(loader, section, table, "xs")
    body = _table(loader, section, table, "body", required=True)
    ys, final = _table(loader, section, table, "ys"), _table(loader, section, table, "final")
    for key in ("length", "checkpoint"):
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise loader.error(f"{key} must be an int, got {value!r:.80}", section, key)
    reverse = table.get("reverse", False)
    if not isinstance(reverse, bool):
        raise loader.error("reverse must be true or false", section, "reverse")
    visible = loader.visible()
    inits = [_expr(loader, visible, text, section, "carry", k) for k, text in carry.items()]
    seqs = [_expr(loader, visible, text, section, "xs", k) for k, text in xs.items()]
    carry_names = [normalize_name(k) for k in carry]
    slice_names = [normalize_name(k) for k in xs]
    for k in body:
        if not isinstance(body[k], str):
            raise loader.error("a body equation must be an expression string", section,
                               "body", k)
    missing = [k for k in carry_names if k not in {normalize_name(b) for b in body}]
    if missing:
        raise loader.error(f"the body never gives the next value of carry {missing[0]!r:.80}; "
                           f"add {missing[0]} = \"...\" to body", section, "body")
    for new, old in list(ys.items()) + list(final.items()):
        if not isinstance(old, str):
            raise loader.error("must name a body value (a string)", section, new)
    for k, old in ys.items():
        if normalize_name(old) not in {normalize_name(b) for b in body} | set(slice_names) \
                | set(carry_names):
            raise loader.error(f"ys entry {k!r:.80} names {old!r:.80}, which is not a body "
                               "equation, carry or slice", section, "ys", k)
    for k, old in final.items():
        if normalize_name(old) not in carry_names:
            raise loader.error(f"final entry {k!r:.80} names {old!r:.80}, which is not a carry "
                               f"(carries: {', '.join(carry_names)})", section, "final", k)

    def step(c: tuple, x: tuple | None) -> tuple:
        local: dict[str, Node] = dict(zip(carry_names, c, strict=True))
        local.update(zip(slice_names, x or (), strict=True))
        names = collections.ChainMap(local, visible)
        for k, text in body.items():
            node = parse_expression(text, names, loader.where(section, "body", k),
                                    functions=loader.functions)
            local[normalize_name(k)] = node.named(normalize_name(k)) \
                if node.label is None else node
        return (tuple(local[k] for k in carry_names),
                tuple(local[normalize_name(v)] for v in ys.values()))

    try:
        finals, stacked = scan(step, tuple(inits), tuple(seqs) if seqs else None,
                               length=table.get("length"), checkpoint=table.get("checkpoint"),
                               reverse=reverse, name=normalize_name(name),
                               carry_names=carry_names, x_names=slice_names)
    except ShapeError as err:
        raise loader.error(str(err), section, "body") from None
    except SpecError:
        raise
    by_carry = dict(zip(carry_names, finals, strict=True))
    for new, node in list(zip(ys, stacked, strict=True)) + \
            [(k, by_carry[normalize_name(v)]) for k, v in final.items()]:
        result = loader.check_symbol_name(section, new)
        loader.defines[result] = node.named(result)


def _expr(loader: Any, visible: Mapping[str, Node], text: Any, section: str, key: str,
          field: str) -> Node:
    if not isinstance(text, str):
        raise loader.error("expected an expression string", section, key, field)
    return parse_expression(text, visible, loader.where(section, key, field),
                            functions=loader.functions)
