"""Deribit's catalog and public market data, as the emulator serves them: the instruments it
lists, tickers with ``mark_iv`` and greeks, books, the index, chart data and funding.

Split from :mod:`.deribit` (the private API: signatures, orders, accounts), which builds on
:class:`DeribitMarketData`.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from .ledger import Contract, Ledger

__all__ = ["DEFAULT_BALANCES", "DEFAULT_SPOTS", "DEFAULT_VOLS", "DeribitError",
           "DeribitMarketData", "contracts", "expiry_ms", "flag"]

DEFAULT_SPOTS = {"ETH": 3000.0, "BTC": 95000.0}
DEFAULT_VOLS = {"ETH": 0.65, "BTC": 0.55}
DEFAULT_BALANCES = {"ETH": 100.0, "BTC": 5.0}
_EXPIRIES = ("25DEC26", "26MAR27")
_STRIKES = {
    ("ETH", "25DEC26"): (2500, 2800, 3000, 3200, 3500),
    ("ETH", "26MAR27"): (2800, 3000, 3400, 4000),
    ("BTC", "25DEC26"): (90000, 95000, 100000),
    ("BTC", "26MAR27"): (90000, 100000, 120000),
}
_RESOLUTIONS = {"1": 60, "3": 180, "5": 300, "10": 600, "15": 900, "30": 1800, "60": 3600,
                "120": 7200, "180": 10800, "360": 21600, "720": 43200, "1D": 86400}


def expiry_ms(code: str) -> float:
    """25DEC26 -> 08:00 UTC of that day, in ms (Deribit's settlement time)."""
    day = dt.datetime.strptime(code, "%d%b%y").replace(hour=8, tzinfo=dt.UTC)
    return day.timestamp() * 1000.0


def contracts() -> list[Contract]:
    """The instruments this emulator lists: perpetuals, futures and options on ETH and BTC."""
    out: list[Contract] = []
    for coin, size, tick in (("ETH", 1.0, 0.05), ("BTC", 10.0, 0.5)):
        perp = Contract(f"{coin}-PERPETUAL", "perp", coin, "USD", coin, inverse=True,
                        contract_size=size, min_amount=size, amount_step=size, tick=tick,
                        taker=0.0005, maker=0.0, initial_margin=0.04, spread=0.0002)
        out.append(perp)
        for code in _EXPIRIES:
            out.append(Contract(f"{coin}-{code}", "future", coin, "USD", coin, inverse=True,
                                contract_size=size, min_amount=size, amount_step=size,
                                tick=tick, taker=0.0005, maker=0.0, expiry_ms=expiry_ms(code),
                                initial_margin=0.04, spread=0.0004))
            step = 1.0 if coin == "ETH" else 0.1
            for k in _STRIKES[(coin, code)]:
                for cp in ("C", "P"):
                    out.append(Contract(
                        f"{coin}-{code}-{k}-{cp}", "option", coin, coin, coin,
                        contract_size=1.0, min_amount=step, amount_step=step, tick=0.0005,
                        taker=0.0003, maker=0.0003, expiry_ms=expiry_ms(code), strike=float(k),
                        option_type="call" if cp == "C" else "put", spread=0.02))
    return out


class DeribitError(Exception):
    """A JSON-RPC error: Deribit's code, message and optional data."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.data, self.status = code, message, data, status


def flag(value: str | None) -> bool:
    return str(value).lower() == "true"


class DeribitMarketData:
    """The public half of the Deribit API (no account, no signature)."""

    ledger: Ledger

    def _now(self) -> float:
        return self.ledger.market.clock.now_ms()

    def _contract(self, p: dict[str, str]) -> Contract:
        name = p.get("instrument_name")
        if not name:
            raise DeribitError(-32602, "Invalid params", {"reason": "missing", "param":
                                                    "instrument_name"})
        c = self.ledger.contracts.get(name)
        if c is None:
            raise DeribitError(13020, "not_found", {"reason": "instrument not found",
                                              "param": "instrument_name"})
        return c

    def _currency(self, p: dict[str, str]) -> str | None:
        cur = p.get("currency")
        if cur in (None, "", "any"):
            return None
        if cur not in DEFAULT_SPOTS:
            raise DeribitError(-32602, "Invalid params", {"reason": "invalid currency",
                                                    "param": "currency"})
        return cur

    # ------------------------------------------------------------------ public

    def get_currencies(self, p: dict[str, str]) -> list[dict[str, Any]]:
        long = {"ETH": "Ethereum", "BTC": "Bitcoin"}
        return [{"currency": c, "currency_long": long[c], "coin_type": long[c].upper(),
                 "fee_precision": 4, "min_confirmations": 1, "min_withdrawal_fee": 0.0001,
                 "withdrawal_fee": 0.0001, "withdrawal_priorities": []} for c in DEFAULT_SPOTS]

    def _instrument(self, c: Contract) -> dict[str, Any]:
        option = c.kind == "option"
        out: dict[str, Any] = {
            "instrument_name": c.name, "instrument_id": hash(c.name) % 100000,
            "kind": "option" if option else "future", "base_currency": c.base,
            "counter_currency": "USD", "quote_currency": c.quote,
            "settlement_currency": c.settle, "contract_size": c.contract_size,
            "min_trade_amount": c.min_amount, "tick_size": c.tick,
            "taker_commission": c.taker, "maker_commission": c.maker,
            "block_trade_commission": c.taker, "is_active": True,
            "creation_timestamp": 1534242287000, "rfq": False, "price_index": f"{c.base.lower()}_usd",
            "expiration_timestamp": int(c.expiry_ms or 32503708800000),
            "settlement_period": "perpetual" if c.kind == "perp" else "month",
            "instrument_type": "reversed",
        }
        if option:
            out.update({"strike": c.strike, "option_type": c.option_type,
                        "instrument_type": "reversed"})
        else:
            out.update({"future_type": "reversed", "max_leverage": 50,
                        "max_liquidation_commission": 0.0075})
        return out

    def get_instruments(self, p: dict[str, str]) -> list[dict[str, Any]]:
        cur, kind = self._currency(p), p.get("kind")
        if flag(p.get("expired")):
            return []
        return [self._instrument(c) for c in self.ledger.contracts.values()
                if (cur is None or c.base == cur)
                and (kind in (None, "", "any") or kind == ("option" if c.kind == "option"
                                                            else "future"))]

    def _funding_8h(self, c: Contract) -> float:
        return self.ledger.funding.get(c.name, 0.0) * 8 / (365 * 24)

    def _ticker(self, c: Contract) -> dict[str, Any]:
        led = self.ledger
        prices, t_ms = led.market.prices()
        bid, ask = led.touch(c)
        mark = led.mark(c)
        index = prices[c.base]
        out: dict[str, Any] = {
            "timestamp": int(t_ms), "instrument_name": c.name, "state": "open",
            "best_bid_price": bid, "best_ask_price": ask,
            "best_bid_amount": min(c.depth, 1e9), "best_ask_amount": min(c.depth, 1e9),
            "mark_price": round(mark, 8), "index_price": index, "last_price": round(mark, 8),
            "min_price": round(mark * 0.95, 8), "max_price": round(mark * 1.05, 8),
            "settlement_price": round(mark, 8), "estimated_delivery_price": index,
            "open_interest": 0, "stats": {"high": None, "low": None, "volume": 0,
                                          "price_change": 0, "volume_usd": 0},
        }
        if c.kind == "perp":
            f8 = self._funding_8h(c)
            out.update({"funding_8h": f8, "current_funding": f8, "interest_value": 0.0})
        if c.kind == "option":
            g = led.option_greeks(c)
            iv = led.market.vol(c.base) * 100.0
            out.update({
                "mark_iv": round(iv, 4), "bid_iv": round(iv * 0.98, 4),
                "ask_iv": round(iv * 1.02, 4), "underlying_price": index,
                "underlying_index": "index_price", "interest_rate": 0.0,
                "greeks": {"delta": round(float(g.delta), 5), "gamma": float(g.gamma),
                           "vega": round(float(g.vega) / 100.0, 5),
                           "theta": round(float(g.theta) / 365.0, 5), "rho": 0.0},
            })
        return out

    def _summary(self, c: Contract) -> dict[str, Any]:
        t = self._ticker(c)
        return {"instrument_name": c.name, "base_currency": c.base, "quote_currency": c.quote,
                "bid_price": t["best_bid_price"], "ask_price": t["best_ask_price"],
                "mid_price": (t["best_bid_price"] + t["best_ask_price"]) / 2,
                "mark_price": t["mark_price"], "last": t["last_price"],
                "underlying_price": t["index_price"], "estimated_delivery_price":
                t["index_price"], "creation_timestamp": t["timestamp"], "volume": 0,
                "open_interest": 0, "interest_rate": 0, "high": None, "low": None,
                **({"mark_iv": t["mark_iv"]} if "mark_iv" in t else {}),
                **({"funding_8h": t["funding_8h"], "current_funding": t["current_funding"]}
                   if "funding_8h" in t else {})}

    def get_book_summary_by_currency(self, p: dict[str, str]) -> list[dict[str, Any]]:
        cur, kind = self._currency(p), p.get("kind")
        return [self._summary(c) for c in self.ledger.contracts.values()
                if (cur is None or c.base == cur) and (kind in (None, "") or kind == (
                    "option" if c.kind == "option" else "future"))]

    def get_order_book(self, p: dict[str, str]) -> dict[str, Any]:
        c = self._contract(p)
        t = self._ticker(c)
        depth = min(c.depth, 1e9)
        return {**{k: t[k] for k in ("timestamp", "instrument_name", "state", "best_bid_price",
                                     "best_ask_price", "best_bid_amount", "best_ask_amount",
                                     "mark_price", "index_price", "last_price", "stats")},
                "bids": [[t["best_bid_price"], depth]], "asks": [[t["best_ask_price"], depth]],
                "change_id": int(self._now())}

    def get_index_price(self, p: dict[str, str]) -> dict[str, float]:
        name = p.get("index_name", "")
        coin = name.split("_")[0].upper()
        if coin not in DEFAULT_SPOTS:
            raise DeribitError(-32602, "Invalid params", {"reason": "invalid index", "param":
                                                    "index_name"})
        s = self.ledger.market.spot(coin)
        return {"index_price": s, "estimated_delivery_price": s}

    def get_chart(self, p: dict[str, str]) -> dict[str, Any]:
        c = self._contract(p)
        res = _RESOLUTIONS.get(p.get("resolution", ""))
        if res is None:
            raise DeribitError(-32602, "Invalid params", {"reason": "invalid resolution",
                                                    "param": "resolution"})
        start, end = float(p.get("start_timestamp", 0)), float(p.get("end_timestamp", 0))
        if end >= time.time() * 1000.0 - 60_000:  # "up to now" means the venue's now, which
            end = max(end, self._now())           # an accelerated clock has moved ahead
        bars = self.ledger.market.bars(c.base, start, end)
        buckets: dict[int, list[float]] = {}
        for b in bars:
            buckets.setdefault(int(b.t_ms // (res * 1000)) * res * 1000, []).append(b.price)
        ticks = sorted(buckets)
        out: dict[str, Any] = {"status": "ok" if ticks else "no_data", "ticks": ticks,
                               "open": [], "high": [], "low": [], "close": [], "volume": [],
                               "cost": []}
        for t in ticks:
            px = buckets[t]
            if c.kind == "option":  # an option's chart is in its own price; rebal reads perps
                px = [self.ledger.mark(c)] * len(px)
            out["open"].append(px[0])
            out["high"].append(max(px))
            out["low"].append(min(px))
            out["close"].append(px[-1])
            out["volume"].append(0.0)
            out["cost"].append(0.0)
        return out

    def get_funding_rate_value(self, p: dict[str, str]) -> float:
        c = self._contract(p)
        hours = (float(p.get("end_timestamp", 0)) - float(p.get("start_timestamp", 0))) / 3.6e6
        return self.ledger.funding.get(c.name, 0.0) * hours / (365 * 24)
