"""Risk rules: what the targets alone require against the risk limits, checked statically.

The figures come from :mod:`.exposure` (sim prices, `capital`, band edges). Each is a
lower bound of what the strategy will need: a part that cannot be known statically is left
out, so a finding here is a real conflict, never a guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from rebal.dsl.diagnostics import Diagnostic, Label, make

from .. import ir, words
from . import RuleContext, exposure, facts


def _leverage_needed(s: ir.Strategy) -> tuple[float, list[exposure.Need], float | None]:
    """Total gross leverage the targets (and the book) hold at most, lower bound."""
    ns = [n for n in exposure.needs(s) if n.leverage is not None]
    book = exposure.book_leverage(s)
    total = sum(n.leverage or 0.0 for n in ns) + (book or 0.0)
    return total, ns, book


def target_breaches_leverage(cx: RuleContext) -> Iterator[Diagnostic]:
    """E601: the targets hold more gross leverage than `max leverage` allows."""
    s = cx.strategy
    limit = s.risk.max_leverage
    if limit is None:
        return
    total, ns, book = _leverage_needed(s)
    if total <= float(limit) + 1e-12 or not ns:
        return
    top = max(ns, key=lambda n: n.leverage or 0.0)
    parts = [f"{words.mult(n.leverage or 0.0)} from {facts.target_words(s.targets[n.index])} "
             f"({n.why})" for n in ns]
    if book:
        parts.append(f"{words.mult(book)} from the book")
    yield make("E601", f"the targets need up to {words.mult(total)} gross leverage, above "
               f"`max leverage {words.mult(limit)}`",
               cx.span(top.span_key),
               "hold less (a narrower band, a smaller target or book), or raise `max leverage`",
               labels=[Label(cx.span("risk.max_leverage"), "limit set here")],
               notes=["; ".join(parts) + (" at the sim venue's prices" if book else "")])


def target_breaches_position(cx: RuleContext) -> Iterator[Diagnostic]:
    """E602: a target needs a larger position in an instrument than `max position` allows."""
    s = cx.strategy
    ns = exposure.needs(s)
    for lim in s.risk.max_position:
        found = [(n, n.positions[lim.instrument]) for n in ns if lim.instrument in n.positions]
        if not found:
            continue
        n, units = max(found, key=lambda x: x[1])
        if units <= float(lim.limit.value) + 1e-12:
            continue
        limit = facts.amount(lim.limit.value, lim.limit.asset)
        need = facts.amount(units, lim.limit.asset)
        yield make("E602", f"{facts.target_words(s.targets[n.index])} needs up to {need} of "
                   f"{lim.instrument} ({n.position_why}), above "
                   f"`max position {lim.instrument} {limit}`",
                   cx.span(n.span_key), "raise the position limit, or narrow what the target asks",
                   labels=[Label(cx.span(f"risk.max_position[{lim.instrument}]"),
                                 "limit set here")],
                   notes=["at the sim venue's prices and `capital`"])


def target_breaches_notional(cx: RuleContext) -> Iterator[Diagnostic]:
    """E603: the gross notional of the traded positions exceeds `max notional`."""
    s = cx.strategy
    lim = s.risk.max_notional
    if lim is None:
        return
    total, parts = 0.0, []
    for n in exposure.needs(s):
        if n.notional is None:
            continue
        v = facts.convert(n.notional[0], n.notional[1], lim.asset, s)
        if v is None:
            continue
        total += v
        parts.append(n)
    if not parts or total <= float(lim.value) + 1e-9:
        return
    top = max(parts, key=lambda n: n.notional[0] if n.notional else 0.0)
    yield make("E603", f"the targets hold up to {facts.amount(total, lim.asset)} gross notional, "
               f"above `max notional {facts.amount(lim.value, lim.asset)}`",
               cx.span(top.span_key), "raise `max notional`, or lower the targets or `capital`",
               labels=[Label(cx.span("risk.max_notional"), "limit set here")],
               notes=["notional of the positions the strategy trades, at the sim venue's prices"])


def buffer_unreachable(cx: RuleContext) -> Iterator[Diagnostic]:
    """E604: at the leverage a target holds, a smaller move than the buffer liquidates it."""
    s = cx.strategy
    buf = s.risk.liquidation_buffer
    if buf is None:
        return
    mm, mm_venue = facts.maintenance_margin(s)
    for n in exposure.needs(s):
        if n.margined is None:
            continue
        lev, side = n.margined
        d = exposure.liquidation_distance(lev, side, mm)
        if float(buf) <= d + 1e-12:
            continue
        move = "fall" if side > 0 else "rise"
        margin = (f" with {words.pct(mm)} maintenance margin (venue {mm_venue})" if mm_venue
                  else " (no maintenance margin stated)")
        yield make("E604", f"at {words.mult(lev)} ({n.why}) a {move} of {words.pct(d)} "
                   f"liquidates the position{margin}, less than the {words.pct(buf)} "
                   "`liquidation buffer`", cx.span(n.span_key),
                   f"lower the leverage below {words.mult(_max_leverage(float(buf), side, mm))} "
                   "or the buffer",
                   labels=[Label(cx.span("risk.liquidation_buffer"), "buffer set here")])


def _max_leverage(buf: float, side: int, mm: float) -> float:
    """The largest leverage whose liquidation distance is at least ``buf``."""
    # (1 - m·L) / (L·k) >= b  <=>  L <= 1 / (b·k + m), k = 1 - m (long) or 1 + m (short).
    k = 1 - mm if side > 0 else 1 + mm
    return 1 / (buf * k + mm)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def expired_instrument(cx: RuleContext) -> Iterator[Diagnostic]:
    """E406 (W907 without `start`): an instrument expires on or before a sim venue's start.

    With `start` written the finding is certain (E406). Without it the simulation starts
    today, so the spec was fine when written and only time made it stale: a warning (W907),
    so checking a spec never starts failing on a date.
    """
    s = cx.strategy
    for v, cfg in facts.sim_configs(s):
        start = cfg.start or _today()
        for inst in s.instruments:
            if inst.expiry is None or inst.expiry > start:
                continue
            if cfg.start is not None:
                yield make("E406", f"`{inst.name}` expires on {inst.expiry}, on or before venue "
                           f"{v.name} starts ({start})", cx.span(f"instruments[{inst.name}]"),
                           "move `start` earlier, or use an instrument that is still trading",
                           labels=[Label(cx.span(f"venues[{v.name}].start_date"),
                                         "start set here")])
            else:
                yield make("W907", f"`{inst.name}` expired on {inst.expiry}, and venue {v.name} "
                           "starts today (it has no `start`)", cx.span(f"instruments[{inst.name}]"),
                           f"write `start {_before(inst.expiry)}` (or another date before "
                           "expiry) in the sim venue, or roll to a later expiry")


def _before(day: dt.date) -> dt.date:
    """A month before ``day``, for a suggested `start` (never before year 1)."""
    return day - dt.timedelta(days=min(30, (day - dt.date.min).days))


def _funding_per_year(r: ir.Rate | None) -> float | None:
    return None if r is None else float(r.value) * 365 * 86400 / float(r.per_s)


def mode_loosens_risk(cx: RuleContext) -> Iterator[Diagnostic]:
    """E605: a mode raises `max funding` above the base limit.

    A mode may loosen how hard the strategy tries to trade (slippage, fees, gas, budget,
    split, min trade): paying more to get risk down is what an emergency tier is for. It
    must not loosen `max funding`, which decides whether the strategy may *open* exposure.
    """
    s = cx.strategy
    base = _funding_per_year(s.costs.max_funding)
    if base is None:
        return
    for m in s.modes:
        mf = _funding_per_year(m.costs.max_funding)
        if mf is not None and mf > base + 1e-12:
            yield make("E605", f"mode `{m.name}` raises `max funding` to {words.pct(mf)} a year, "
                       f"above the base {words.pct(base)}",
                       cx.span(f"modes[{m.name}].costs.max_funding"),
                       "a mode may pay more to trade, not open exposure the strategy would "
                       "refuse; keep the mode's `max funding` at or below the base",
                       labels=[Label(cx.span("costs.max_funding"), "base limit")])


_EQUITY_NAMES = frozenset({"leverage", "drawdown", "equity"})


def needs_capital(cx: RuleContext) -> Iterator[Diagnostic]:
    """E606: leverage, drawdown, a liquidation buffer or an equity target without `capital`."""
    s = cx.strategy
    if s.capital is not None:
        return
    uses: list[tuple[str, str]] = []
    if s.risk.max_leverage is not None:
        uses.append(("risk.max_leverage", "`max leverage` is measured against equity"))
    if s.risk.liquidation_buffer is not None:
        uses.append(("risk.liquidation_buffer", "the liquidation buffer depends on equity"))
    for key, e in facts.expressions(s):
        found = facts.names_in(e) & _EQUITY_NAMES
        if found:
            uses.append((key, f"`{sorted(found)[0]}` is measured against equity"))
    for i, t in enumerate(s.targets):
        if isinstance(t, ir.WeightsTarget | ir.LeverageTarget | ir.CppiTarget):
            uses.append((f"targets[{i}]", f"{facts.target_words(t)} is a fraction of equity"))
    if not uses:
        return
    uses.sort(key=lambda u: (cx.span(u[0]).line, cx.span(u[0]).col))
    key, why = uses[0]
    yield make("E606", f"{why}, but the strategy states no `capital`", cx.span(key),
               "add `capital 100000 USD` (the starting equity) after the description",
               labels=[Label(cx.span(k), w) for k, w in uses[1:]],
               notes=["simulation and these checks start from `capital`; live backends read "
                      "equity from the venue"])


RULES = (target_breaches_leverage, target_breaches_position, target_breaches_notional,
         buffer_unreachable, expired_instrument, mode_loosens_risk, needs_capital)
