"""Completion: the keywords the parser accepts at the cursor, and the names that fit there."""

from __future__ import annotations

from dataclasses import dataclass

from rebal.compiler.expressions import FUNCTIONS, REFS
from rebal.compiler.units import DURATION_UNITS, GAS_UNITS, RATIO_UNITS
from rebal.dsl.grammar import accepted_terminals, keywords_among

from .analysis import Checked
from .navigation import assets, describe_instrument, instruments
from .reference import lookup
from .text import Pos


@dataclass(frozen=True)
class Item:
    """One completion: the text, its kind (keyword, instrument, asset, unit, backend,
    function, name) and a one-line detail."""

    label: str
    kind: str
    detail: str


def _meaning(word: str) -> str:
    entry = lookup(word)
    return entry.meaning if entry else ""


def complete(checked: Checked, at: Pos, backends: list[str]) -> list[Item]:
    """What may be written at ``at``; the word being typed is the prefix editors filter by."""
    word = checked.lines.word_at(at)
    start = Pos(at.line, word[1].start.col) if word is not None else at
    before = checked.lines.before(start).rstrip()
    offset = checked.lines.offset(start)
    if before and (before[-1].isdigit() or before.endswith(".")):
        units = sorted({*RATIO_UNITS, *DURATION_UNITS, *GAS_UNITS})
        return ([Item(u, "unit", _meaning(u)) for u in units]
                + [Item(a, "asset", "an asset of this strategy") for a in assets(checked)])
    if before.split()[-1:] == ["via"]:
        return [Item(b, "backend", f"venue backend `{b}`") for b in backends]
    terminals = accepted_terminals(checked.text, offset)
    items = [Item(k, "keyword", _meaning(k)) for k in keywords_among(terminals)]
    if "NAME" in terminals:
        items += [Item(i.name.text, "instrument", describe_instrument(i).split(": ", 1)[1])
                  for i in instruments(checked)]
        items += [Item(a, "asset", "an asset of this strategy") for a in assets(checked)]
        items += [Item(r, "name", _meaning(r)) for r in REFS]
        items += [Item(f, "function", FUNCTIONS[f]) for f in FUNCTIONS]
    seen: set[str] = set()
    unique = []
    for it in items:
        if it.label not in seen:
            seen.add(it.label)
            unique.append(it)
    return unique


__all__ = ["Item", "complete"]
