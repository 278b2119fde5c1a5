"""Warnings a trader wants to see: bands that churn, unbounded slippage, clocks without bands.

W901's criterion, in price terms: a band tolerates an error of at most its half-width. As a
fraction of the exposure it guards (the hedge a delta band sits on, a weight, a leverage, the
CPPI's risky share), that is the relative price move that carries the position from its
target to the band's edge. When that move is smaller than one round trip of trading costs,
2 x (fee + slippage) at the costliest sim venue, price noise within the bid-ask cost alone
crosses the band: every trade is followed by one that undoes it, and the costs are sure
while the protection is not. Optimal bands size themselves from costs and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction

from rebal.dsl.diagnostics import Diagnostic, Label, make

from .. import ir, words
from ..intervals import Iv
from . import RuleContext, facts


def _guarded(s: ir.Strategy, t: facts.TargetT, center: float) -> tuple[float, str] | None:
    """The exposure a band guards, in the band's unit, and words for it."""
    if isinstance(t, ir.DeltaTarget):
        px = facts.price(s, t.asset, t.unit)
        if px is None:
            return None
        hedge = Iv.point(center / px) - facts.book_delta(s, t.asset)
        units = max(abs(hedge.lo), abs(hedge.hi))
        return units * px, f"the hedge of up to {facts.amount(units * px, t.unit)}"
    if isinstance(t, ir.CppiTarget):
        share = min(1.0, float(t.multiplier) * (1 - float(t.floor)))
        return share, f"the risky share of {words.pct(share)}"
    if isinstance(t, ir.LeverageTarget):
        return abs(center), f"the leverage of {words.mult(center)}"
    return abs(center), f"the weight of {words.pct(center)}"


def _center(t: facts.TargetT, key: str) -> float:
    if isinstance(t, ir.WeightsTarget):
        return next(float(leg.weight) for leg in t.legs
                    if key.endswith(f"legs[{leg.instrument}].band"))
    if isinstance(t, ir.DeltaTarget | ir.LeverageTarget):
        return float(t.value)
    return 0.0


def band_churns(cx: RuleContext) -> Iterator[Diagnostic]:
    """W901: a band narrower, in price terms, than one round trip of fees and slippage."""
    s = cx.strategy
    cost = facts.round_trip_cost(s)
    if cost is None or cost[0] <= 0:
        return
    for i, t in enumerate(s.targets):
        for key, band in facts.bands(i, t):
            center = _center(t, key)
            edges = facts.band_edges(band, center)
            if edges is None:
                continue
            tolerance = min(center - edges[0].hi, edges[1].lo - center)
            guarded = _guarded(s, t, center)
            if guarded is None or guarded[0] <= 0 or tolerance <= 0:
                continue
            move = tolerance / guarded[0]
            if move >= cost[0]:
                continue
            yield make("W901", f"this band lets {guarded[1]} drift only {words.pct(move)} before "
                       f"trading, less than one round trip of costs ({words.pct(cost[0])} at "
                       f"venue {cost[1]}): it will churn", cx.span(key),
                       f"widen the band at least {cost[0] / move:.3g} times, or use "
                       "`band optimal(risk_aversion R)` for a delta target",
                       labels=[Label(cx.span(f"venues[{cost[1]}].fee", f"venues[{cost[1]}]"),
                                     "costs of this venue")])


def no_max_slippage(cx: RuleContext) -> Iterator[Diagnostic]:
    """W902: no `max slippage`: orders may fill at any price."""
    if cx.strategy.costs.max_slippage is None:
        yield make("W902", "no `max slippage`: orders may fill at any price",
                   cx.span("costs", "strategy"),
                   "add `max slippage 20 bps` (or your limit) to `costs`; orders then go out "
                   "as limit/IOC at that price")


def clock_without_band(cx: RuleContext) -> Iterator[Diagnostic]:
    """W903: an `every` trigger while no target has a band: it trades every period."""
    s = cx.strategy
    if s.trigger.every is None or any(facts.has_band(t) for t in s.targets):
        return
    yield make("W903", "no target has a band, so every period trades back to the exact target, "
               "however small the drift", cx.span("trigger.every"),
               "give the targets a `band` so small drifts are left alone, or accept the cost of "
               "trading every period")


def _periods(s: ir.Strategy) -> Iterator[tuple[str, str, Decimal]]:
    """(span key, words, seconds) of every constant period a clock or TWAP runs on."""
    trig: list[tuple[str, ir.Trigger | ir.TriggerOverride]] = [("trigger", s.trigger)]
    trig += [(f"modes[{m.name}].trigger", m.trigger) for m in s.modes]
    for prefix, t in trig:
        if isinstance(t.every, ir.Const):
            yield f"{prefix}.every", "every", t.every.value
        if t.cooldown_s:
            yield f"{prefix}.cooldown", "cooldown", t.cooldown_s
    splits: list[tuple[str, ir.Split | None]] = [("costs.split", s.costs.split)]
    splits += [(f"modes[{m.name}].costs.split", m.costs.split) for m in s.modes]
    for key, sp in splits:
        if sp is not None and sp.every_s:
            yield key, "split ... every", sp.every_s


def _multiple(a: Decimal, b: Decimal) -> bool:
    """Is ``a`` a whole multiple of ``b``? Exact for any size (Decimal % can overflow)."""
    return b != 0 and (Fraction(a) / Fraction(b)).denominator == 1


def period_not_on_grid(cx: RuleContext) -> Iterator[Diagnostic]:
    """W904: a period that is not a multiple of a sim venue's step (the sim acts on its grid)."""
    s = cx.strategy
    for v, cfg in facts.sim_configs(s):
        step = cfg.step_s
        for key, what, secs in _periods(s):
            if _multiple(secs, step) or (what.startswith("split") and _multiple(step, secs)):
                continue  # a split period dividing the step fits step/period children per step
            yield make("W904", f"`{what} {words.dur(secs)}` is not a multiple of venue "
                       f"{v.name}'s step of {words.dur(step)}, so the simulation acts on "
                       f"its {words.dur(step)} grid instead", cx.span(key),
                       f"use a multiple of {words.dur(step)}, or a smaller `step` in venue "
                       f"{v.name}",
                       labels=[Label(cx.span(f"venues[{v.name}].step", f"venues[{v.name}]"),
                                     "the step")])


RULES = (band_churns, no_max_slippage, clock_without_band, period_not_on_grid)
