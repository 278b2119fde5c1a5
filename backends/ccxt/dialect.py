"""What differs between exchanges behind ccxt's unified API, one small class per venue.

* the parameter carrying the client id (Deribit ``label``, Binance ``newClientOrderId``);
* how an order is found by client id: Deribit does **not** refuse a second order with a label
  it already has, so the label is looked up (``private/get_order_state_by_label``, which
  also lists fully unfilled closed orders) before anything is sent again; Binance answers
  ``origClientOrderId`` per symbol (``-2013`` when it has no such order);
* where the index, funding and implied vol are in a ticker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .symbols import Mapped

__all__ = ["Dialect", "dialect_for"]

HOURS_PER_YEAR = 365 * 24


class Dialect:
    client_id_param = "clientOrderId"

    def client_id_of(self, order: Mapping[str, Any]) -> str:
        return str(order.get("clientOrderId") or "")

    def find(self, exchange: Any, mapped: Iterable[Mapped], cid: str) -> list[dict[str, Any]]:
        """Orders (ccxt dicts) the venue holds under client id ``cid``."""
        found = []
        for m in mapped:
            for fetch in (exchange.fetch_open_orders, exchange.fetch_closed_orders):
                found += [o for o in fetch(m.symbol) if self.client_id_of(o) == cid]
        return found

    def index(self, ticker: Mapping[str, Any]) -> float | None:
        value = ticker.get("indexPrice") or (ticker.get("info") or {}).get("indexPrice")
        return float(value) if value else None

    def funding(self, exchange: Any, m: Mapped, ticker: Mapping[str, Any]) -> float | None:
        """Annual funding rate of a perpetual (positive: longs pay)."""
        if not exchange.has.get("fetchFundingRate"):
            return None
        fr = exchange.fetch_funding_rate(m.symbol)
        rate = fr.get("fundingRate")
        interval = str(fr.get("interval") or "8h")
        hours = float(interval[:-1]) if interval.endswith("h") and interval[:-1] else 8.0
        return float(rate) * HOURS_PER_YEAR / hours if rate is not None else None

    def iv(self, ticker: Mapping[str, Any]) -> float | None:
        return None


class Deribit(Dialect):
    client_id_param = "label"

    def client_id_of(self, order: Mapping[str, Any]) -> str:
        return str((order.get("info") or {}).get("label") or "")

    def find(self, exchange: Any, mapped: Iterable[Mapped], cid: str) -> list[dict[str, Any]]:
        found = []
        for currency in sorted({m.base for m in mapped}):
            resp = exchange.privateGetGetOrderStateByLabel({"currency": currency, "label": cid})
            found += [exchange.parse_order(o) for o in resp.get("result") or []]
        return found

    def index(self, ticker: Mapping[str, Any]) -> float | None:
        info = ticker.get("info") or {}
        value = info.get("index_price") or info.get("underlying_price")
        return float(value) if value else None

    def funding(self, exchange: Any, m: Mapped, ticker: Mapping[str, Any]) -> float | None:
        f8 = (ticker.get("info") or {}).get("funding_8h")
        return float(f8) * HOURS_PER_YEAR / 8 if f8 is not None else None

    def iv(self, ticker: Mapping[str, Any]) -> float | None:
        value = (ticker.get("info") or {}).get("mark_iv")
        return float(value) / 100.0 if value is not None else None


class Binance(Dialect):
    client_id_param = "newClientOrderId"

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
