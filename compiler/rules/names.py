"""Name rules: every instrument the strategy trades or reads has a venue symbol; none unused.

A sim venue maps every instrument implicitly (it simulates them by name), so it needs no
symbol map. Every other venue must map each instrument the strategy trades (owned), holds
in its book (live backends read the actual book positions from the venue) or reads market
data of (`implied_vol(I)`, `funding(I)`, `weight(I)`).
"""

from __future__ import annotations

from collections.abc import Iterator

from rebal.dsl.diagnostics import Diagnostic, Label, make

from . import RuleContext, facts


def _unmapped_everywhere(cx: RuleContext) -> set[str]:
    """Owned instruments no venue can trade: none maps them and there is no sim venue."""
    s = cx.strategy
    if facts.sim_configs(s):
        return set()
    return {n for n in s.owns if not any(n in v.symbols for v in s.venues)}


def owned_not_mapped(cx: RuleContext) -> Iterator[Diagnostic]:
    """E203: an owned instrument that no venue maps."""
    s = cx.strategy
    missing = _unmapped_everywhere(cx)
    for name in s.owns:
        if name not in missing:
            continue
        if not s.venues:
            msg = f"`{name}` is owned, but the strategy declares no venue to trade it on"
            hint = "add a venue, e.g. `venue paper via sim { ... }` to simulate it"
        else:
            msg = f"`{name}` is owned, but no venue maps it to a symbol"
            hint = (f"add `{name} = \"SYMBOL\"` to venue {s.venues[0].name}, or add a sim "
                    "venue (a sim venue simulates every instrument by name)")
        yield make("E203", msg, cx.span(f"owns[{name}]"), hint,
                   labels=[Label(cx.span(f"venues[{v.name}]"), "this venue has no symbol for it")
                           for v in s.venues])


def _unsupported_kind(cx: RuleContext, backend: str, kind: str) -> bool:
    caps = cx.capabilities.get(backend) if cx.capabilities is not None else None
    return caps is not None and caps.of(f"instrument.{kind}") == "unsupported"


def venue_missing_symbol(cx: RuleContext) -> Iterator[Diagnostic]:
    """E212: a live venue does not map an instrument the strategy trades, holds or reads.

    Instruments already reported by E203, and instruments of a kind the venue's backend
    cannot carry at all (E801 says so), are not reported again.
    """
    s = cx.strategy
    skip = _unmapped_everywhere(cx)
    needs = facts.venue_needs(s)
    for v in facts.live_venues(s):
        for name, why in needs.items():
            if name in v.symbols or name in skip:
                continue
            if _unsupported_kind(cx, v.backend, s.instrument(name).kind):
                continue
            yield make(
                "E212", f"venue `{v.name}` has no symbol for `{name}`, which the strategy {why}",
                cx.span(f"venues[{v.name}]"),
                f"add `{name} = \"SYMBOL\"` to venue {v.name} (the venue's own name for it)",
                labels=[Label(cx.span(f"instruments[{name}]"), f"`{name}` is declared here")])


def unused_instrument(cx: RuleContext) -> Iterator[Diagnostic]:
    """W905: an instrument that is neither owned, nor in the book, nor read anywhere."""
    s = cx.strategy
    used = set(facts.venue_needs(s))
    for inst in s.instruments:
        if inst.name not in used:
            yield make("W905", f"`{inst.name}` is declared but never used",
                       cx.span(f"instruments[{inst.name}]"),
                       "hold it in `book`, trade it through `owns`, or remove the line")


RULES = (owned_not_mapped, venue_missing_symbol, unused_instrument)
