"""What differs between exchanges behind ccxt's unified API, one small class per venue.

* the parameter carrying the client id (Deribit ``label``, Binance ``newClientOrderId``);
* how an order is found by client id: Deribit does **not** refuse a second order with a label
  it already has, so the label is looked up (``private/get_order_state_by_label``, which
  also lists fully unfilled closed orders) before anything is sent again; Binance answers
  ``origClientOrderId`` per symbol (``-2013`` when it has no such order);
* where bid/ask, mark, index, funding and implied vol are (one ``quote`` per market);
* the maintenance margin tiers (``margin_tiers``: ccxt's unified leverage tiers where the
  exchange has them, Binance's leverage brackets with their ``cum``; none on Deribit, whose
  rule is not published through its API);
* a short option's maintenance margin by the venue's published rule (``option_margin``:
  Deribit's ``0.075 + mark`` in the coin per coin), for an option the account does not hold
  short, whose margin the venue's positions do not state yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from .symbols import Mapped

__all__ = ["Dialect", "MarginTable", "Quote", "dialect_for", "margin_table"]

HOURS_PER_YEAR = 365 * 24


class Quote(NamedTuple):
    """One market's prices in venue units; funding annual (positive: longs pay)."""

    bid: float | None
    ask: float | None
    mark: float | None
    index: float | None   # the underlying's index in the quote currency
    iv: float | None      # implied vol of an option (1.0 = 100%)
    funding: float | None
    time_ms: float | None


class Dialect:
    client_id_param = "clientOrderId"

    def setup(self, exchange: Any, mapped: Iterable[Mapped]) -> None:
        """Read account settings the order parameters depend on (once, at open)."""

    def order_params(self, side: str, reduce_only: bool) -> dict[str, Any]:
        return {"reduceOnly": True} if reduce_only else {}

    def margin_tiers(self, exchange: Any, mapped: Iterable[Mapped]) -> dict[str, MarginTable]:
        """ccxt's unified leverage tiers of each perpetual and future, lowest tier first."""
        contracts = [m for m in mapped if m.instrument.kind in ("perp", "future")]
        if not contracts or not exchange.has.get("fetchLeverageTiers"):
            return {}
        tiers = exchange.fetch_leverage_tiers([m.symbol for m in contracts])
        out = {}
        for m in contracts:
            table = margin_table(tiers.get(m.symbol) or [], bool(m.market.get("inverse")))
            if table is not None:
                out[m.name] = table
        return out

    def client_id_of(self, order: Mapping[str, Any]) -> str:
        return str(order.get("clientOrderId") or "")

    def option_margin(self, coin_mark: float) -> float | None:
        """Maintenance margin of a short option by the venue's published rule, as a fraction
        of its underlying notional, from its mark in the coin per coin (None: no rule)."""
        return None

    def find(self, exchange: Any, mapped: Iterable[Mapped], cid: str) -> list[dict[str, Any]]:
        """Orders (ccxt dicts) the venue holds under client id ``cid``."""
        found = []
        for m in mapped:
            for fetch in (exchange.fetch_open_orders, exchange.fetch_closed_orders):
                found += [o for o in fetch(m.symbol) if self.client_id_of(o) == cid]
        return found

    def quote(self, exchange: Any, m: Mapped) -> Quote:
        """Prices of one market in venue units (a ticker; the book top where it has none)."""
        t = exchange.fetch_ticker(m.symbol)
        bid, ask = t.get("bid"), t.get("ask")
        if bid is None or ask is None:
            book = exchange.fetch_order_book(m.symbol, 5)
            bid = book["bids"][0][0] if book.get("bids") else None
            ask = book["asks"][0][0] if book.get("asks") else None
        index = t.get("indexPrice") or (t.get("info") or {}).get("indexPrice")
        q = Quote(bid, ask, t.get("markPrice") or t.get("last"), index, None, None,
                  t.get("timestamp"))
        if m.instrument.kind == "perp" and exchange.has.get("fetchFundingRate"):
            fr = exchange.fetch_funding_rate(m.symbol)
            q = q._replace(mark=fr.get("markPrice") or q.mark, index=fr.get("indexPrice") or
                           q.index, funding=_annual(fr), time_ms=fr.get("timestamp") or q.time_ms)
        return q


class MarginTable(NamedTuple):
    """One market's maintenance tiers: ``(floor, rate, cum)`` rows in ``currency``, lowest
    first; ``notional``: floors are notional (False: an inverse market, whose ccxt tiers
    count contracts; only the lowest rate is used)."""

    currency: str
    rows: tuple[tuple[float, float, float], ...]
    notional: bool


def margin_table(tiers: Sequence[Mapping[str, Any]], inverse: bool) -> MarginTable | None:
    """ccxt 4.5's unified leverage tiers (``minNotional``, ``maxNotional``,
    ``maintenanceMarginRate``, ``currency``; Binance's bracket in ``info``, whose ``cum`` is
    the maintenance amount) as a table; a tier without ``cum`` charges its rate on the whole
    notional (cum 0). None: no tier states a rate."""
    rows = []
    for t in tiers:
        rate = t.get("maintenanceMarginRate")
        if rate is None:
            continue
        cum = (t.get("info") or {}).get("cum")
        rows.append((float(t.get("minNotional") or 0.0), float(rate),
                     float(cum) if cum is not None else 0.0))
    if not rows:
        return None
    ccy = str(tiers[0].get("currency") or "")
    return MarginTable(ccy, tuple(sorted(rows)), not inverse)


def _annual(fr: Mapping[str, Any]) -> float | None:
    rate = fr.get("fundingRate")
    interval = str(fr.get("interval") or "8h")
    hours = float(interval[:-1]) if interval.endswith("h") and interval[:-1] else 8.0
    return float(rate) * HOURS_PER_YEAR / hours if rate is not None else None


class Deribit(Dialect):
    client_id_param = "label"

    def client_id_of(self, order: Mapping[str, Any]) -> str:
        return str((order.get("info") or {}).get("label") or "")

    def option_margin(self, coin_mark: float) -> float | None:
        """Deribit's standard margin for a short option: ``(0.075 + mark) x size`` coins
        (its rule for a put, ``max(0.075, 0.075 x mark) + mark``, is the same unless the put's
        mark exceeds one coin)."""
        return 0.075 + max(coin_mark, 0.0)

    def find(self, exchange: Any, mapped: Iterable[Mapped], cid: str) -> list[dict[str, Any]]:
        found = []
        for currency in sorted({m.base for m in mapped}):
            resp = exchange.privateGetGetOrderStateByLabel({"currency": currency, "label": cid})
            found += [exchange.parse_order(o) for o in resp.get("result") or []]
        return found

    def quote(self, exchange: Any, m: Mapped) -> Quote:
        t = exchange.fetch_ticker(m.symbol)
        info = t.get("info") or {}
        f8, iv = info.get("funding_8h"), info.get("mark_iv")
        return Quote(t.get("bid"), t.get("ask"), t.get("markPrice") or t.get("last"),
                     info.get("index_price") or info.get("underlying_price"),
                     float(iv) / 100.0 if iv is not None else None,
                     float(f8) * HOURS_PER_YEAR / 8 if f8 is not None else None,
                     t.get("timestamp"))


class Binance(Dialect):
    """One-way mode: ``reduceOnly``. Hedge mode (``dualSidePosition``): Binance refuses
    ``reduceOnly`` (-1106); a closing order names the side it closes (a reduce-only buy
    closes SHORT), any other order opens the side of its direction (buy LONG, sell SHORT)."""

    client_id_param = "newClientOrderId"
    hedge_mode = False

    def setup(self, exchange: Any, mapped: Iterable[Mapped]) -> None:
        first = next(iter(mapped), None)
        if first is not None and exchange.has.get("fetchPositionMode"):
            self.hedge_mode = bool(exchange.fetch_position_mode(first.symbol).get("hedged"))

    def order_params(self, side: str, reduce_only: bool) -> dict[str, Any]:
        if not self.hedge_mode:
            return super().order_params(side, reduce_only)
        opens = "LONG" if side == "buy" else "SHORT"
        closes = "SHORT" if side == "buy" else "LONG"
        return {"positionSide": closes if reduce_only else opens}

    def find(self, exchange: Any, mapped: Iterable[Mapped], cid: str) -> list[dict[str, Any]]:
        import ccxt

        found = []
        for m in mapped:
            try:
                found.append(exchange.fetch_order(None, m.symbol, {"origClientOrderId": cid}))
            except ccxt.OrderNotFound:
                continue
        return found


def dialect_for(exchange_id: str) -> Dialect:
    if exchange_id == "deribit":
        return Deribit()
    if exchange_id.startswith("binance"):
        return Binance()
    return Dialect()
