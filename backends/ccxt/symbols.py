"""The venue block's symbols resolved to ccxt markets, once, when the adapter opens.

A symbol may be the exchange's own id (``ETH-PERPETUAL``, ``ETHUSDT``) or a ccxt unified
symbol (``ETH/USD:ETH``); :func:`rebal.compiler.markets.resolve` (shared with the offline
``rebal check --markets``) decides, and a symbol the exchange does not list is an error naming
the closest ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rebal.backends.live.adapter import InstrumentMeta
from rebal.backends.live.opening import LiveError
from rebal.compiler import ir
from rebal.compiler.markets import SymbolError, market_kind, resolve

from .units import VenueUnits

__all__ = ["Mapped", "SymbolProblem", "map_instruments"]


class SymbolProblem(LiveError):
    """A venue symbol that names no market (or several), with the closest names (a
    :class:`LiveError`, so the live commands print it as a clear error)."""


@dataclass(frozen=True)
class Mapped:
    instrument: ir.Instrument
    market: Mapping[str, Any]
    units: VenueUnits

    @property
    def name(self) -> str:
        return self.instrument.name

    @property
    def symbol(self) -> str:
        return str(self.market["symbol"])

    @property
    def venue_id(self) -> str:
        return str(self.market["id"])

    @property
    def base(self) -> str:
        return str(self.market.get("base") or self.instrument.underlying)

    @property
    def tradable(self) -> bool:
        return self.instrument.kind not in ("cash",)

    def meta(self, index: float) -> InstrumentMeta:
        """Venue facts in the spec's units (inverse steps converted at ``index``)."""
        m, u = self.market, self.units
        info = m.get("info") or {}
        if u.inverse:
            qty_step = u.contract_size / index if index else 0.0
            min_qty = (u.min_amount or u.contract_size) / index if index else 0.0
        else:
            qty_step, min_qty = u.amount_step * u.contract_size, u.min_amount * u.contract_size
        cost = ((m.get("limits") or {}).get("cost") or {}).get("min")
        expiry = m.get("expiry")
        quote_ccy = str(info.get("quote_currency") or m.get("quote") or "")
        return InstrumentMeta(
            instrument=self.name, symbol=self.venue_id, kind=market_kind(m),
            underlying=self.base, settle=str(m.get("settle") or m.get("quote") or ""),
            price_ccy=self.base if u.coin_priced else quote_ccy, min_qty=min_qty,
            qty_step=qty_step, tick=u.tick, min_notional=float(cost or 0.0),
            contract_size=u.contract_size, taker_fee=float(m.get("taker") or 0.0),
            maker_fee=float(m.get("maker") or 0.0),
            expiry_s=float(expiry) / 1000.0 if expiry else None,
            strike=float(m["strike"]) if m.get("strike") is not None else None,
            strike_ccy=str(m.get("quote")) if m.get("strike") is not None else None,
            option_type=m.get("optionType"), active=m.get("active") is not False,
            venue_qty_step=u.contract_size if u.inverse else u.amount_step)


def map_instruments(strategy: ir.Strategy, venue: ir.Venue,
                    markets: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapped]:
    """Instrument name -> its market, for every symbol of the venue block that names an
    instrument (cash entries name a currency and need no market)."""
    out: dict[str, Mapped] = {}
    problems: list[str] = []
    names = {i.name: i for i in strategy.instruments}
    for name, symbol in venue.symbols.items():
        inst = names.get(name)
        if inst is None:
            continue
        if inst.kind == "cash":
            continue
        try:
            market = resolve(markets, symbol)
        except SymbolError as exc:
            problems.append(f"{name} = {symbol!r}: {exc}")
            continue
        out[name] = Mapped(inst, market, VenueUnits.of(market))
    if problems:
        raise SymbolProblem(f"venue {venue.name}: " + "; ".join(problems))
    return out
