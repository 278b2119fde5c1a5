"""The one place that converts between the spec's units and a ccxt venue's units.

Spec side (``backends/live/adapter.py``): quantities in units of the underlying, prices and
money in the strategy's numeraire. Venue side, per kind of ccxt market:

* **inverse** perpetuals and futures (Deribit ``ETH-PERPETUAL``): the amount is in the quote
  currency (USD), a multiple of ``contractSize`` (ETH 1 USD, BTC 10 USD); one USD of amount is
  ``1 / price`` coins of underlying. Prices are in USD.
* **coin-priced options** (Deribit ``ETH-25DEC26-3000-C``, quote USD but ``settle`` ETH): the
  amount is in coins of underlying (``contractSize`` 1, step ``precision.amount``); the
  *price* is in the coin per coin: numeraire price = coin price x index.
* **linear** contracts (Binance USD-M ``ETHUSDT``): amount in coins (``contractSize`` 1), a
  multiple of the lot step; prices in USDT, on the tick.

Rounding is explicit and reported: an amount goes to the nearest venue step (never below the
minimum), a limit price to the tick *against* the order (a buy's limit down, a sell's up, so
the spec's ``max slippage`` promise holds), and :class:`Sent` records exactly what was sent.
ccxt would otherwise truncate an amount to its precision without a word; the adapter checks
that ccxt's own ``amount_to_precision`` leaves our amount unchanged before sending it.
The venue's quote currency (USD, USDT) is taken at par with the strategy's numeraire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = ["Sent", "VenueUnits", "decimal_text", "maintenance_fraction"]


def decimal_text(x: float) -> str:
    """The shortest exact text of a float (no 2.9999999999 for 3)."""
    return format(Decimal(repr(float(x))).normalize(), "f")


def _on_grid(x: float, step: float, rounding: str) -> float:
    if step <= 0:
        return x
    d, s = Decimal(repr(x)), Decimal(repr(step))
    return float((d / s).quantize(Decimal(1), rounding=rounding) * s)


@dataclass(frozen=True)
class Sent:
    """What an order looks like on the venue: amount and price in venue units, and back."""

    amount: float               # venue amount units (USD for inverse, coins otherwise), > 0
    price: float | None         # venue price units (None: market)
    qty: float                  # signed underlying quantity the amount stands for
    limit_price: float | None   # the venue price in the numeraire


@dataclass(frozen=True)
class VenueUnits:
    """Conversions of one market (built from a ccxt market dict)."""

    symbol: str
    inverse: bool               # amount in the quote currency (Deribit perps/futures)
    coin_priced: bool           # price in the base coin (Deribit options)
    contract_size: float
    amount_step: float
    min_amount: float
    tick: float

    @classmethod
    def of(cls, market: Mapping[str, Any]) -> VenueUnits:
        option = bool(market.get("option"))
        inverse = bool(market.get("inverse")) and not option
        info = market.get("info") or {}
        quote_ccy = str(info.get("quote_currency") or market.get("quote") or "")
        coin_priced = option and quote_ccy == str(market.get("base"))
        limits = (market.get("limits") or {}).get("amount") or {}
        precision = market.get("precision") or {}
        step = float(precision.get("amount") or 0.0)
        return cls(str(market["symbol"]), inverse, coin_priced,
                   float(market.get("contractSize") or 1.0), step,
                   float(limits.get("min") or step or 0.0), float(precision.get("price") or 0.0))

    # ------------------------------------------------------------------ quantities

    def qty_of(self, amount: float, price: float) -> float:
        """Underlying units of a venue amount (``price``: numeraire per underlying)."""
        if self.inverse:
            return amount / price if price > 0 else 0.0
        return amount * self.contract_size

    def amount_of(self, qty: float, price: float) -> float:
        """Venue amount (unsigned, on the step, at least the minimum unless zero)."""
        raw = abs(qty) * price if self.inverse else abs(qty) / self.contract_size
        step = self.contract_size if self.inverse else self.amount_step
        amount = _on_grid(raw, step, ROUND_HALF_EVEN) if step else raw
        if amount == 0.0 and raw > 0 and raw >= 0.5 * (self.min_amount or step):
            amount = self.min_amount or step
        return amount

    # ------------------------------------------------------------------ prices

    def price_to_numeraire(self, venue_price: float | None, index: float) -> float | None:
        if venue_price is None or (isinstance(venue_price, float) and math.isnan(venue_price)):
            return None
        return float(venue_price) * index if self.coin_priced else float(venue_price)

    def price_to_venue(self, price: float, index: float, side: str) -> float:
        """A limit price in the numeraire -> venue units, on the tick against the order."""
        raw = price / index if self.coin_priced else price
        rounding = ROUND_FLOOR if side == "buy" else ROUND_CEILING
        out = _on_grid(raw, self.tick, rounding) if self.tick else raw
        if out <= 0 and self.tick:
            out = self.tick
        return out

    def order(self, qty: float, limit_price: float | None, index: float,
              reference_price: float) -> Sent:
        """The venue order for a signed underlying ``qty`` at ``limit_price`` (numeraire).

        ``reference_price`` (numeraire per underlying: the price the order is expected to
        fill near) converts an inverse amount: ``qty`` coins are ``qty x price`` USD at the
        fill, so converting at the limit instead would buy ``max slippage`` too much (a buy's
        limit is above the market) or sell too little; ``index`` converts coin-priced options.
        """
        side = "buy" if qty > 0 else "sell"
        venue_price = None if limit_price is None else self.price_to_venue(limit_price, index, side)
        num_price = self.price_to_numeraire(venue_price, index)
        ref = reference_price if self.inverse or not num_price else num_price
        amount = self.amount_of(qty, ref)
        sent_qty = self.qty_of(amount, ref)
        return Sent(amount, venue_price, math.copysign(sent_qty, qty) if amount else 0.0,
                    num_price)

    def fee_to_numeraire(self, fee: float, fee_ccy: str | None, base: str, index: float) -> float:
        return fee * index if fee_ccy == base else fee


def maintenance_fraction(position: Mapping[str, Any], settle_price: float,
                         notional: float) -> float | None:
    """The venue's maintenance margin of one ccxt position as a fraction of its notional
    (``notional``: ``|qty| x mark`` in the numeraire, an option's ``|qty| x index``, its
    underlying's; ``settle_price``: the numeraire price of one unit of the position's settle
    currency, 1 for USDT, the index for Deribit's ETH). A Deribit short option's
    ``(0.075 + mark) x size`` coins is ``0.075 + mark`` (the mark in the coin per coin).

    The venue's own figure is read first: Binance ``maintMargin`` (USDT: the bracket's ratio x
    notional less the bracket's ``cum``), Deribit ``maintenance_margin`` (in the coin). ccxt's
    unified ``maintenanceMargin`` is the fallback only: for Binance it is the bracket ratio x
    notional without ``cum``, which overstates the margin of every bracket above the first.
    None: the venue states no figure, or the position has no notional.
    """
    info = position.get("info") or {}
    raw = info.get("maintMargin", info.get("maintenance_margin"))
    if raw is None:
        raw = position.get("maintenanceMargin")
    if raw is None or not notional > 0 or not settle_price > 0:
        return None
    return float(raw) * settle_price / notional
