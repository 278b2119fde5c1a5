"""Target rules: can the targets be met, and does something make the strategy act on them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from rebal.dsl.diagnostics import Diagnostic, Label, make

from .. import ir, words
from ..ranges import expr_range
from . import RuleContext, facts

_GREEK_MOVERS = frozenset({"option"})


def greek_not_hedgeable(cx: RuleContext) -> Iterator[Diagnostic]:
    """E501: no hedge instrument can move the target's greek.

    Only options have gamma, vega and theta; a delta is moved by anything but cash, and only
    by instruments on the target's own underlying.
    """
    s = cx.strategy
    for i, t in enumerate(s.targets):
        if not isinstance(t, ir.GreekTarget | ir.DeltaTarget) or not t.hedge:
            continue
        insts = [s.instrument(h) for h in t.hedge]
        if isinstance(t, ir.GreekTarget):
            movers = [x for x in insts if x.kind in _GREEK_MOVERS and x.underlying == t.asset]
            what = f"{t.greek}"
            hint = (f"only options have {t.greek}: hedge with an option on {t.asset} "
                    "(declare it, own it, and list it in `hedge with`)")
        else:
            movers = [x for x in insts if x.kind != "cash" and x.underlying == t.asset]
            what = f"{t.asset} delta"
            hint = (f"hedge with an instrument on {t.asset} that has delta: its spot, a perp, "
                    "a future or an option")
        if movers:
            continue
        kinds = ", ".join(f"`{x.name}` ({x.kind} {x.underlying})" for x in insts)
        yield make("E501", f"no hedge instrument can move the {what}: {kinds}",
                   cx.span(f"targets[{i}].hedge", f"targets[{i}]"), hint,
                   labels=[Label(cx.span(f"targets[{i}]"), "the target")])


def weights_not_100(cx: RuleContext) -> Iterator[Diagnostic]:
    """E502: funded weights that cover every owned funded instrument but do not add to 100%.

    Spot and cash legs are paid for out of equity, so when every owned spot and cash
    instrument has a weight, nothing is left to hold the rest: the funded weights must sum
    to 100%. Perpetuals, futures and options are held on margin; their weights are exposures
    and may sum to anything (60% + 40% of perps, or a long/short pair at 0%), bounded by
    `max leverage` instead.
    """
    s = cx.strategy
    funded_owned = {n for n in s.owns if s.instrument(n).kind in ("spot", "cash")}
    for i, t in enumerate(s.targets):
        if not isinstance(t, ir.WeightsTarget):
            continue
        funded = [leg for leg in t.legs if s.instrument(leg.instrument).kind in ("spot", "cash")]
        if not funded or {leg.instrument for leg in funded} != funded_owned:
            continue
        total = sum((leg.weight for leg in funded), Decimal(0))
        if total == 1:
            continue
        names = " + ".join(f"{words.pct(leg.weight)} {leg.instrument}" for leg in funded)
        rest = 1 - total
        fix = (f"add a cash leg for the remaining {words.pct(rest)}, or scale the weights"
               if rest > 0 else "lower the weights: spot and cash cannot hold more than equity")
        yield make("E502", f"the funded weights add up to {words.pct(total)}, not 100% ({names})",
                   cx.span(f"targets[{i}]"), fix,
                   notes=["every owned spot and cash instrument has a weight, so nothing "
                          "else can hold the difference"])


def breach_without_band(cx: RuleContext) -> Iterator[Diagnostic]:
    """E503: `on breach` when no target has a band (it would trade at every tick)."""
    s = cx.strategy
    if any(facts.has_band(t) for t in s.targets):
        return
    keys = (["trigger.on_breach"] if s.trigger.on_breach else []) + [
        f"modes[{m.name}].trigger.on_breach" for m in s.modes if m.trigger.on_breach]
    for key in keys:
        yield make("E503", "`on breach` is used, but no target has a band to breach",
                   cx.span(key), "add a `band` to a target, or trade on a clock with `every`")


def band_excludes_target(cx: RuleContext) -> Iterator[Diagnostic]:
    """E504: an asymmetric band (`band LO to HI`) whose edges can leave the target outside."""
    s = cx.strategy
    for i, t in enumerate(s.targets):
        checks: list[tuple[str, ir.Band, Decimal, str]] = []
        if isinstance(t, ir.DeltaTarget | ir.LeverageTarget) and t.band is not None:
            unit = "x" if isinstance(t, ir.LeverageTarget) else f" {t.unit}"
            checks.append((f"targets[{i}].band", t.band, t.value, unit))
        elif isinstance(t, ir.WeightsTarget):
            checks += [(f"targets[{i}].legs[{leg.instrument}].band", leg.band, leg.weight, "%")
                       for leg in t.legs if leg.band is not None]
        for key, band, value, unit in checks:
            if not isinstance(band, ir.AsymmetricBand):
                continue
            lo, hi = expr_range(band.lower), expr_range(band.upper)
            v = float(value)
            if lo.hi <= v <= hi.lo:
                continue
            shown = words.pct(v) if unit == "%" else f"{words.num(v)}{unit}"
            side = "lower" if lo.hi > v else "upper"
            yield make("E504", f"the band does not contain the target {shown}: its {side} "
                       f"edge can be {'above' if side == 'lower' else 'below'} it",
                       cx.span(key), "write the band so that LO <= target <= HI",
                       labels=[Label(cx.span(f"targets[{i}]"), "the target")])


def _band_width(cx: RuleContext, i: int, t: facts.TargetT, key: str, band: ir.Band,
                center: float) -> tuple[float, str] | None:
    """The narrowest full width of a band as an amount of an asset, when it can be known."""
    half = facts.half_width_lo(band, center)
    if half is None:
        return None
    width = 2 * half
    if isinstance(t, ir.DeltaTarget):
        return width, t.unit
    cap = cx.strategy.capital
    if cap is None:
        return None
    return width * float(cap.value), cap.asset  # bands of equity fractions


def min_trade_exceeds_band(cx: RuleContext) -> Iterator[Diagnostic]:
    """E505: `min trade` wider than a band's whole width, so every trade overshoots it.

    The band's narrowest full width (twice the smallest half-width, or HI - LO) is compared
    with `min trade` in the band's unit: equity fractions are turned into money with
    `capital`, and other assets converted at the sim venue's spot. Optimal bands depend on
    the book's gamma and are not compared.
    """
    s = cx.strategy
    clauses = [("costs.min_trade", s.costs.min_trade)] + [
        (f"modes[{m.name}].costs.min_trade", m.costs.min_trade) for m in s.modes]
    for key, mt in clauses:
        if mt is None:
            continue
        narrow: list[tuple[str, str]] = []
        for i, t in enumerate(s.targets):
            for bkey, band in facts.bands(i, t):
                center = _center(t, bkey)
                w = _band_width(cx, i, t, bkey, band, center)
                if w is None:
                    continue
                size = facts.convert(float(mt.value), mt.asset, w[1], s)
                if size is not None and size > w[0]:
                    narrow.append((bkey, f"this band is {facts.amount(w[0], w[1])} wide"))
        if narrow:
            yield make("E505", f"`min trade {facts.amount(mt.value, mt.asset)}` is wider than "
                       "a whole band, so every trade would overshoot to the other side",
                       cx.span(key), "lower `min trade` below the band's width, or widen the band",
                       labels=[Label(cx.span(k), text) for k, text in narrow])


def _center(t: facts.TargetT, band_key: str) -> float:
    if isinstance(t, ir.WeightsTarget):
        for leg in t.legs:
            if band_key.endswith(f"legs[{leg.instrument}].band"):
                return float(leg.weight)
    if isinstance(t, ir.DeltaTarget | ir.LeverageTarget):
        return float(t.value)
    return 0.0


def split_exceeds_position(cx: RuleContext) -> Iterator[Diagnostic]:
    """E506: a `split` child order larger than the `max position` of an instrument it trades."""
    s = cx.strategy
    clauses = [("costs.split", s.costs.split)] + [
        (f"modes[{m.name}].costs.split", m.costs.split) for m in s.modes]
    for key, sp in clauses:
        if sp is None:
            continue
        over = [p for p in s.risk.max_position
                if p.instrument in s.owns and p.limit.asset == sp.size.asset
                and sp.size.value > p.limit.value]
        if over:
            tight = min(over, key=lambda p: p.limit.value)
            yield make("E506", f"a child order of {facts.amount(sp.size.value, sp.size.asset)} is "
                       f"larger than `max position {tight.instrument} "
                       f"{facts.amount(tight.limit.value, tight.limit.asset)}`",
                       cx.span(key), "make the split size at most the smallest position limit",
                       labels=[Label(cx.span(f"risk.max_position[{p.instrument}]"),
                                     "limit set here") for p in over])


def _acts(t: ir.Trigger | ir.TriggerOverride) -> bool:
    return bool(t.on_breach) or t.every is not None


def no_trigger(cx: RuleContext) -> Iterator[Diagnostic]:
    """E507: neither `on breach` nor `every`, in the trigger or any mode: it never acts."""
    s = cx.strategy
    if _acts(s.trigger) or any(_acts(m.trigger) for m in s.modes):
        return
    yield make("E507", "nothing ever makes this strategy trade: there is no `on breach` and no "
               "`every`", cx.span("trigger", "strategy"),
               "add `trigger { on breach }` (with bands) or `trigger { every 1d }`")


def no_band_no_clock(cx: RuleContext) -> Iterator[Diagnostic]:
    """E508: a target without a band is restored only on a clock, so it needs `every`."""
    s = cx.strategy
    acts = _acts(s.trigger) or any(_acts(m.trigger) for m in s.modes)
    if s.trigger.every is not None or not acts:
        return  # with no trigger at all, E507 says it once
    for i, t in enumerate(s.targets):
        if facts.has_band(t):
            continue
        yield make("E508", f"{facts.target_words(t)} has no band, so nothing says when it has "
                   "drifted; it needs an `every` trigger",
                   cx.span(f"targets[{i}]"), "add `every 1d` (or another period) to `trigger`, "
                   "or give the target a `band`")


RULES = (greek_not_hedgeable, weights_not_100, breach_without_band, band_excludes_target,
         min_trade_exceeds_band, split_exceeds_position, no_trigger, no_band_no_clock)
