"""What each target alone requires: leverage, notional, positions, liquidation exposure.

Two rules of thumb make these static figures sound and simple:

* quantities that drift with prices between trades (leverage, notional) are taken at the
  *outer edge* of the target's band: the strategy accepts every state inside its band;
* quantities that change only when it trades (a position in units) are taken where a trade
  *lands*: the target for `rebalance to center`, the band edge for `to edge`, and in between
  for `recenter P%`.

Prices are the sim venue's (`ETH spot 3000 USD`), equity is `capital`. A figure that needs a
price or the capital the spec does not state is left out (None), never guessed. Greek
targets need option prices and volatilities, so their hedge sizes are not bounded here; the
pre-trade gate checks them when the strategy runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir, words
from ..intervals import Iv
from ..riskmath import liquidation_move
from . import facts


@dataclass
class Need:
    """What one target requires at most (None: not known statically)."""

    index: int
    span_key: str
    why: str
    leverage: float | None = None
    notional: tuple[float, str] | None = None
    positions: dict[str, float] = field(default_factory=dict)
    #: (gross leverage, +1 long / -1 short) of one-directional exposure held on margin.
    margined: tuple[float, int] | None = None
    #: Where the positions are taken (words for messages).
    position_why: str = ""


def _landing(t: ir.Rebalance, center: float, edge: float) -> float:
    if t.to == "center":
        return center
    if t.to == "edge":
        return edge
    return center + (1 - float(t.fraction)) * (edge - center)


def _landing_words(t: ir.Rebalance) -> str:
    if t.to == "center":
        return "where trades land: the target"
    if t.to == "edge":
        return "where trades land: the band edge"
    return f"where trades land: {words.pct(t.fraction)} of the way back from the band edge"


def _span_key(i: int, t: facts.TargetT) -> str:
    if not isinstance(t, ir.WeightsTarget | ir.GreekTarget) and t.band is not None:
        return f"targets[{i}].band"
    return f"targets[{i}]"


def _weights(s: ir.Strategy, i: int, t: ir.WeightsTarget) -> Need:
    need = Need(i, _span_key(i, t), "the band edges of the weights",
                position_why=_landing_words(t.rebalance))
    cap = s.capital
    lev = 0.0
    signs: set[int] = set()
    margined = 0.0
    only_margined = True
    for leg in t.legs:
        inst = s.instrument(leg.instrument)
        w = float(leg.weight)
        edges = facts.band_edges(leg.band, w)
        if inst.kind not in facts.LINEAR or edges is None:
            continue
        out = facts.outer(edges)
        lev += out
        if inst.kind in facts.MARGINED:
            margined += out
            signs.add(1 if w >= 0 else -1)
        else:
            only_margined = False
        if cap is not None:
            px = facts.price(s, inst.underlying, cap.asset)
            land = _landing(t.rebalance, abs(w), out)
            if px is not None:
                need.positions[leg.instrument] = land * float(cap.value) / px
    need.leverage = lev
    if cap is not None:
        need.notional = (lev * float(cap.value), cap.asset)
    if margined and only_margined and len(signs) == 1:
        need.margined = (margined, signs.pop())
    return need


def _leverage(s: ir.Strategy, i: int, t: ir.LeverageTarget) -> Need:
    v = float(t.value)
    edges = facts.band_edges(t.band, v)
    what = "the band's outer edge" if t.band is not None else "the target"
    need = Need(i, _span_key(i, t), what, position_why=_landing_words(t.rebalance))
    if edges is None:
        return need
    out = facts.outer(edges)
    need.leverage = out
    cap = s.capital
    if cap is not None:
        need.notional = (out * float(cap.value), cap.asset)
        if len(t.hedge) == 1:
            inst = s.instrument(t.hedge[0])
            px = facts.price(s, inst.underlying, cap.asset)
            if px is not None:
                land = _landing(t.rebalance, abs(v), out)
                need.positions[t.hedge[0]] = land * float(cap.value) / px
    kinds = {s.instrument(h).kind for h in t.hedge}
    if kinds and kinds <= facts.MARGINED and v != 0:
        need.margined = (out, 1 if v > 0 else -1)
    return need


def _cppi(s: ir.Strategy, i: int, t: ir.CppiTarget) -> Need:
    need = Need(i, _span_key(i, t), "the risky leg at most equal to equity",
                position_why="the risky leg at most equal to equity")
    inst = s.instrument(t.risky)
    if inst.kind not in facts.LINEAR:
        return need
    frac = min(1.0, float(t.multiplier))
    need.leverage = frac
    cap = s.capital
    if cap is not None:
        need.notional = (frac * float(cap.value), cap.asset)
        px = facts.price(s, inst.underlying, cap.asset)
        if px is not None:
            need.positions[t.risky] = frac * float(cap.value) / px
    if inst.kind in facts.MARGINED:
        need.margined = (frac, 1)
    return need


def _delta(s: ir.Strategy, i: int, t: ir.DeltaTarget) -> Need:
    need = Need(i, _span_key(i, t), "the hedge that neutralises the book",
                position_why="the hedge that neutralises the book")
    px_unit = facts.price(s, t.asset, t.unit)
    if px_unit is None:
        return need
    v = float(t.value) / px_unit  # the target in units of the underlying
    edges = facts.band_edges(t.band, v)
    lo, hi = (v, v) if edges is None or t.rebalance.to == "center" else (
        _landing(t.rebalance, v, edges[0].lo), _landing(t.rebalance, v, edges[1].hi))
    hedge = Iv(lo, hi) - facts.book_delta(s, t.asset)
    units = max(abs(hedge.lo), abs(hedge.hi))
    if len(t.hedge) == 1:
        need.positions[t.hedge[0]] = units
    cap = s.capital
    quote = cap.asset if cap is not None else t.unit
    px = facts.price(s, t.asset, quote)
    if px is not None:
        need.notional = (units * px, quote)
        if cap is not None:
            need.leverage = units * px / float(cap.value)
    return need


def needs(s: ir.Strategy) -> list[Need]:
    """One :class:`Need` per target (greek targets give an empty one)."""
    out: list[Need] = []
    for i, t in enumerate(s.targets):
        if isinstance(t, ir.WeightsTarget):
            out.append(_weights(s, i, t))
        elif isinstance(t, ir.LeverageTarget):
            out.append(_leverage(s, i, t))
        elif isinstance(t, ir.CppiTarget):
            out.append(_cppi(s, i, t))
        elif isinstance(t, ir.DeltaTarget):
            out.append(_delta(s, i, t))
        else:
            out.append(Need(i, f"targets[{i}]", "a greek range"))
    return out


def book_leverage(s: ir.Strategy) -> float | None:
    """Most gross leverage of the book alone (|delta| of an option at most 1 per unit)."""
    if s.capital is None or not s.book:
        return None if s.book else 0.0
    v = facts.book_gross_value(s, s.capital.asset)
    return None if v is None else v / float(s.capital.value)


def liquidation_distance(lev: float, side: int, mm: float) -> float:
    """Relative price move that liquidates a position at leverage ``lev``.

    Equity E holds a position of notional L·E on margin m. A long is liquidated when the
    price falls by d with E(1 - L·d) = m·L·E(1 - d), so d = (1 - m·L) / (L·(1 - m)); a short
    when it rises by u = (1 - m·L) / (L·(1 + m)). With m = 0 this is the familiar 1/L.
    """
    if lev <= 0:
        return float("inf")
    if mm * lev >= 1 or (side > 0 and mm >= 1):
        return 0.0  # the margin already exceeds equity: liquidated at once
    return float(liquidation_move(1 - mm * lev, side * lev, mm, lev))
