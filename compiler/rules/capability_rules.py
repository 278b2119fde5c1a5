"""Backend capabilities: every venue can carry out everything the strategy asks of it.

Each venue is checked against its backend's declaration (:mod:`..capabilities`, handed in
by the caller from the backend registry). A feature the backend cannot carry out is an error
at the venue's `via BACKEND` (E801), never a silent drop; a feature it only emulates is one
warning per venue (W906) listing what is emulated and how.

What a venue is asked for: the kinds of the instruments it trades (owned) or reads (the
book, which live backends read from the venue, and instruments whose market data an
expression reads; a sim venue simulates the book itself), the target kinds, optimal bands,
`split`, `budget`, gas limits, `max funding`, `max orders`, `oracle_deviation` and modes.
"""

from __future__ import annotations

from collections.abc import Iterator

from rebal.dsl.diagnostics import Diagnostic, Label, make

from .. import ir
from ..capabilities import FEATURES, Capabilities
from . import RuleContext, facts


def _used(s: ir.Strategy, v: ir.Venue) -> dict[str, list[str]]:
    """Feature -> span keys of what asks for it, for one venue."""
    out: dict[str, list[str]] = {}

    def add(feature: str, key: str) -> None:
        out.setdefault(feature, []).append(key)

    needs = facts.venue_needs(s)
    live = not isinstance(v.config, ir.SimConfig)
    for name, why in needs.items():
        if why == "trades" or live:
            key = f"owns[{name}]" if why == "trades" else f"book[{name}]" \
                if why.startswith("holds") else f"instruments[{name}]"
            add(f"instrument.{s.instrument(name).kind}", key)
    for i, t in enumerate(s.targets):
        kind = "greek" if isinstance(t, ir.GreekTarget) else t.kind
        add(f"target.{kind}", f"targets[{i}]")
        for key, band in facts.bands(i, t):
            if isinstance(band, ir.OptimalBand):
                add("band.optimal", key)
    costs: list[tuple[str, ir.Costs]] = [("costs", s.costs)]
    costs += [(f"modes[{m.name}].costs", m.costs) for m in s.modes]
    for prefix, c in costs:
        if c.split is not None:
            add("costs.split", f"{prefix}.split")
        if c.budget is not None:
            add("costs.budget", f"{prefix}.budget")
        if c.max_gas_gwei is not None:
            add("costs.max_gas", f"{prefix}.max_gas")
        if c.max_gas_cost is not None:
            add("costs.max_gas", f"{prefix}.max_gas_cost")
        if c.max_funding is not None:
            add("costs.max_funding", f"{prefix}.max_funding")
    if s.risk.max_orders is not None:
        add("risk.max_orders", "risk.max_orders")
    for key, e in facts.expressions(s):
        if "oracle_deviation" in facts.names_in(e):
            add("risk.oracle", key)
    for m in s.modes:
        add("modes", f"modes[{m.name}]")
    return out


def _what(s: ir.Strategy, feature: str, keys: list[str]) -> str:
    if feature.startswith("instrument."):
        names = sorted({k[k.index("[") + 1:k.index("]")] for k in keys})
        return f"{FEATURES[feature]} ({', '.join(f'`{n}`' for n in names)})"
    return FEATURES[feature]


def backend_capabilities(cx: RuleContext) -> Iterator[Diagnostic]:
    """E801 for each unsupported feature a venue is asked for; one W906 per venue for emulated."""
    if cx.capabilities is None:
        return
    s = cx.strategy
    for v in s.venues:
        caps: Capabilities | None = cx.capabilities.get(v.backend)
        if caps is None:
            continue  # an unknown backend is reported by lowering (E205/E201)
        at = cx.span(f"venues[{v.name}].backend", f"venues[{v.name}]")
        emulated: list[tuple[str, list[str]]] = []
        for feature, keys in _used(s, v).items():
            support = caps.of(feature)
            if support == "native":
                continue
            if support == "emulated":
                emulated.append((feature, keys))
                continue
            why = caps.notes.get(feature)
            yield make("E801", f"venue `{v.name}` via {v.backend} cannot carry out "
                       f"{_what(s, feature, keys)}", at,
                       f"{why}; use a backend that supports it (`rebal backends` lists them)"
                       if why else "use a backend that supports it (`rebal backends` lists them)",
                       labels=[Label(cx.span(k), "asked for here") for k in keys])
        if emulated:
            names = ", ".join(FEATURES[f] for f, _ in emulated)
            yield make("W906", f"venue `{v.name}` via {v.backend} emulates {names}", at,
                       "check the notes below; `rebal backends` shows native support",
                       labels=[Label(cx.span(k), "emulated") for _, keys in emulated for k in keys],
                       notes=[f"{FEATURES[f]}: {caps.notes[f]}" for f, _ in emulated
                              if f in caps.notes])


RULES = (backend_capabilities,)
