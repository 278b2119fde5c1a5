"""Facts several rules share: sim prices, expression ranges, delta bounds, words for numbers.

Static checks only know what the spec states: a price is known when a sim venue quotes the
asset in the wanted currency (`ETH spot 3000 USD`), never by assuming USD equals USDT.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from .. import ir
from ..intervals import Iv
from ..ir_walk import walk
from ..ranges import expr_range
from ..words import num

#: Instrument kinds whose value moves one for one with the underlying (delta 1 per unit).
LINEAR = frozenset({"spot", "perp", "future"})
#: Kinds held on margin, which a price move can liquidate.
MARGINED = frozenset({"perp", "future"})

TargetT = ir.DeltaTarget | ir.GreekTarget | ir.WeightsTarget | ir.LeverageTarget | ir.CppiTarget


# ------------------------------------------------------------------ venues and prices


def sim_configs(s: ir.Strategy) -> list[tuple[ir.Venue, ir.SimConfig]]:
    return [(v, v.config) for v in s.venues if isinstance(v.config, ir.SimConfig)]


def live_venues(s: ir.Strategy) -> list[ir.Venue]:
    """Venues that trade for real (every backend but the simulator)."""
    return [v for v in s.venues if not isinstance(v.config, ir.SimConfig)]


def price(s: ir.Strategy, asset: str, quote: str) -> float | None:
    """Price of one ``asset`` in ``quote`` as a sim venue states it; None when no venue does."""
    if asset == quote:
        return 1.0
    for _, cfg in sim_configs(s):
        for a in cfg.assets:
            if a.asset == asset and a.quote == quote and a.spot > 0:
                return float(a.spot)
            if a.asset == quote and a.quote == asset and a.spot > 0:
                return 1.0 / float(a.spot)
    return None


def convert(value: float, asset: str, to: str, s: ir.Strategy) -> float | None:
    p = price(s, asset, to)
    return None if p is None else value * p


def round_trip_cost(s: ir.Strategy) -> tuple[float, str] | None:
    """2 x (fee + slippage) of the costliest sim venue, and its name; None without a sim."""
    best: tuple[float, str] | None = None
    for v, cfg in sim_configs(s):
        c = 2 * float(cfg.fee + cfg.slippage)
        if best is None or c > best[0]:
            best = (c, v.name)
    return best


def maintenance_margin(s: ir.Strategy) -> tuple[float, str | None]:
    """The highest maintenance margin of the sim venues (0 without one) and that venue."""
    best: tuple[float, str | None] = (0.0, None)
    for v, cfg in sim_configs(s):
        if float(cfg.maintenance_margin) > best[0]:
            best = (float(cfg.maintenance_margin), v.name)
    return best


# ------------------------------------------------------------------ expressions


def names_in(e: ir.Expr) -> set[str]:
    """Values (`drawdown`, `leverage`, ...) and functions (`funding`, ...) an expression reads."""
    out: set[str] = set()
    for n in walk(e):
        if isinstance(n, ir.Ref):
            out.add(n.name)
        elif isinstance(n, ir.Call):
            out.add(n.fn)
    return out


def instruments_read(e: ir.Expr) -> set[str]:
    """Instruments whose market data an expression reads (implied_vol, funding, weight)."""
    return {n.symbol for n in walk(e) if isinstance(n, ir.Call) and n.symbol is not None
            and n.fn in ("implied_vol", "funding", "weight")}


def expressions(s: ir.Strategy) -> Iterator[tuple[str, ir.Expr]]:
    """Every expression of a strategy with the span key that points at it."""
    for i, t in enumerate(s.targets):
        for key, b in bands(i, t):
            if isinstance(b, ir.SymmetricBand):
                yield key, b.width
            elif isinstance(b, ir.AsymmetricBand):
                yield key, b.lower
                yield key, b.upper
    if s.trigger.every is not None:
        yield "trigger.every", s.trigger.every
    for k, h in enumerate(s.risk.halt_when):
        yield f"risk.halt_when[{k}]", h
    for m in s.modes:
        yield f"modes[{m.name}]", m.when
        if m.trigger.every is not None:
            yield f"modes[{m.name}].trigger.every", m.trigger.every


# ------------------------------------------------------------------ targets and bands


def bands(i: int, t: TargetT) -> Iterator[tuple[str, ir.Band]]:
    """(span key, band) of every band of target ``i`` (a weights target has one per leg)."""
    if isinstance(t, ir.WeightsTarget):
        for leg in t.legs:
            if leg.band is not None:
                yield f"targets[{i}].legs[{leg.instrument}].band", leg.band
    elif not isinstance(t, ir.GreekTarget) and t.band is not None:
        yield f"targets[{i}].band", t.band


def has_band(t: TargetT) -> bool:
    """Greek targets are ranges, which count as bands."""
    return isinstance(t, ir.GreekTarget) or any(True for _ in bands(0, t))


def band_edges(b: ir.Band | None, center: float) -> tuple[Iv, Iv] | None:
    """Ranges of the lower and upper edge of a band around ``center``; None for optimal."""
    if b is None:
        return Iv.point(center), Iv.point(center)
    if isinstance(b, ir.OptimalBand):
        return None
    if isinstance(b, ir.AsymmetricBand):
        return expr_range(b.lower), expr_range(b.upper)
    w = expr_range(b.width)
    if b.relative:
        w = w * Iv.point(abs(center))
    return Iv.point(center) - w, Iv.point(center) + w


def half_width_lo(b: ir.Band, center: float) -> float | None:
    """The smallest half-width a band can have (same unit as its target); None if unknown."""
    edges = band_edges(b, center)
    if edges is None:
        return None
    lo, hi = edges
    return (hi.lo - lo.hi) / 2


def outer(edges: tuple[Iv, Iv]) -> float:
    """The largest magnitude a band lets its target reach."""
    return max(abs(edges[0].lo), abs(edges[1].hi))


def unit_delta(inst: ir.Instrument) -> Iv:
    """Delta of one unit of an instrument, in units of its underlying."""
    if inst.kind in LINEAR:
        return Iv.point(1.0)
    if inst.kind == "option":
        return Iv(0.0, 1.0) if inst.option_type == "call" else Iv(-1.0, 0.0)
    return Iv.point(0.0)


def book_delta(s: ir.Strategy, asset: str) -> Iv:
    """Range of the book's delta in ``asset`` (an option's delta lies between 0 and ±1)."""
    total = Iv.point(0.0)
    for p in s.book:
        inst = s.instrument(p.instrument)
        if inst.underlying == asset:
            total = total + unit_delta(inst) * Iv.point(float(p.quantity))
    return total


def book_gross_value(s: ir.Strategy, quote: str) -> float | None:
    """Most Σ|delta x spot| of the book in ``quote``; None when a price is unknown."""
    total = 0.0
    for p in s.book:
        inst = s.instrument(p.instrument)
        if inst.kind == "cash":
            continue
        px = price(s, inst.underlying, quote)
        if px is None:
            return None
        total += abs(float(p.quantity)) * px
    return total


def target_words(t: TargetT) -> str:
    if isinstance(t, ir.GreekTarget):
        return f"the {t.greek} target"
    return f"the {t.kind} target" if t.kind != "cppi" else "the CPPI target"


# ------------------------------------------------------------------ words


def amount(x: float | Decimal, asset: str) -> str:
    return f"{num(x)} {asset}"


def venue_needs(s: ir.Strategy) -> dict[str, str]:
    """Instruments every live venue must map, with why: traded, held in the book, or read."""
    out: dict[str, str] = {}
    for name in s.owns:
        out[name] = "trades"
    for p in s.book:
        out.setdefault(p.instrument, "holds in its book")
    for _, e in expressions(s):
        for name in sorted(instruments_read(e)):
            out.setdefault(name, "reads market data of")
    return out
