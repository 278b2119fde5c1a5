"""Binance USD-M futures' catalog and public market data, as the emulator serves them: the
perpetuals it lists, ``exchangeInfo`` with its filters, tickers, book tickers, the premium index
(mark, index, funding), depth and klines.

Split from :mod:`.binance` (the private API: signatures, orders, accounts, positions), which
builds on :class:`BinanceMarketData`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ledger import Contract, Ledger

__all__ = ["DEFAULT_BALANCES", "DEFAULT_SPOTS", "DEFAULT_VOLS", "BinanceError",
           "BinanceMarketData", "contracts", "num_str"]

DEFAULT_SPOTS = {"BTC": 95000.0, "ETH": 3000.0, "SOL": 200.0}
DEFAULT_VOLS = {"BTC": 0.55, "ETH": 0.65, "SOL": 0.8}
DEFAULT_BALANCES = {"USDT": 100_000.0}
_INTERVALS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600,
              "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400}


def contracts() -> list[Contract]:
    """The instruments this emulator lists: BTC, ETH and SOL perpetuals settled in USDT."""
    rows = (("BTC", 0.001, 0.1, 100.0), ("ETH", 0.001, 0.01, 20.0), ("SOL", 1.0, 0.01, 5.0))
    return [Contract(f"{coin}USDT", "perp", coin, "USDT", "USDT", contract_size=1.0,
                     min_amount=step, amount_step=step, tick=tick, taker=0.0005, maker=0.0002,
                     min_notional=notional, max_amount=1e6, initial_margin=0.05,
                     spread=0.0001) for coin, step, tick, notional in rows]


class BinanceError(Exception):
    """A Binance error: its code, message and HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def num_str(x: float) -> str:
    """A number as Binance writes it: a plain decimal string without trailing zeros."""
    return format(round(x, 10), "f").rstrip("0").rstrip(".") or "0"


class BinanceMarketData:
    """The public half of the Binance API (no account, no signature)."""

    ledger: Ledger

    def _now(self) -> float:
        return self.ledger.market.clock.now_ms()

    def _contract(self, p: dict[str, str]) -> Contract:
        c = self.ledger.contracts.get(p.get("symbol", ""))
        if c is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return c

    def _each(self, p: dict[str, str], fn: Callable[[Contract], Any]) -> Any:
        if p.get("symbol"):
            return fn(self._contract(p))
        return [fn(c) for c in self.ledger.contracts.values()]

    # ------------------------------------------------------------------ market data

    def exchange_info(self, p: dict[str, str]) -> dict[str, Any]:
        symbols = []
        for c in self.ledger.contracts.values():
            qp = max(0, -int(f"{c.amount_step:e}".split("e")[1]))
            pp = max(0, -int(f"{c.tick:e}".split("e")[1]))
            symbols.append({
                "symbol": c.name, "pair": c.name, "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000, "onboardDate": 1569398400000,
                "status": "TRADING", "baseAsset": c.base, "quoteAsset": "USDT",
                "marginAsset": "USDT", "pricePrecision": pp, "quantityPrecision": qp,
                "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                "liquidationFee": "0.012500", "marketTakeBound": "0.05",
                "maxMoveOrderLimit": 10000,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": num_str(c.tick),
                     "maxPrice": "4529764", "tickSize": num_str(c.tick)},
                    {"filterType": "LOT_SIZE", "minQty": num_str(c.min_amount),
                     "maxQty": num_str(c.max_amount), "stepSize": num_str(c.amount_step)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": num_str(c.min_amount),
                     "maxQty": num_str(c.max_amount), "stepSize": num_str(c.amount_step)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": num_str(c.min_notional)},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
                     "multiplierDown": "0.9500", "multiplierDecimal": "4"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                               "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
            })
        return {"timezone": "UTC", "serverTime": int(self._now()), "futuresType": "U_MARGINED",
                "rateLimits": [], "exchangeFilters": [],
                "assets": [{"asset": "USDT", "marginAvailable": True,
                            "autoAssetExchange": "-10000"}], "symbols": symbols}

    def _book_ticker(self, c: Contract) -> dict[str, Any]:
        bid, ask = self.ledger.touch(c)
        depth = num_str(min(c.depth, 1e6))
        return {"symbol": c.name, "bidPrice": num_str(bid), "bidQty": depth,
                "askPrice": num_str(ask), "askQty": depth, "time": int(self._now())}

    def _ticker(self, c: Contract) -> dict[str, Any]:
        t_ms = self.ledger.market.prices()[1]
        last = num_str(self.ledger.mark(c))
        return {"symbol": c.name, "priceChange": "0", "priceChangePercent": "0",
                "weightedAvgPrice": last, "lastPrice": last, "lastQty": "0", "openPrice": last,
                "highPrice": last, "lowPrice": last, "volume": "0", "quoteVolume": "0",
                "openTime": int(t_ms - 86400000), "closeTime": int(t_ms), "firstId": 0,
                "lastId": 0, "count": 0}

    def _premium(self, c: Contract) -> dict[str, Any]:
        prices, t_ms = self.ledger.market.prices()
        rate = self.ledger.funding.get(c.name, 0.0) * 8 / (365 * 24)
        next_funding = (int(t_ms // 28_800_000) + 1) * 28_800_000
        return {"symbol": c.name, "markPrice": num_str(self.ledger.mark(c)),
                "indexPrice": num_str(prices[c.base]),
                "estimatedSettlePrice": num_str(prices[c.base]),
                "lastFundingRate": f"{rate:.8f}", "interestRate": "0.00010000",
                "nextFundingTime": next_funding, "time": int(t_ms)}

    def depth(self, p: dict[str, str]) -> dict[str, Any]:
        c = self._contract(p)
        t = self._book_ticker(c)
        return {"lastUpdateId": int(self._now()), "E": int(self._now()), "T": int(self._now()),
                "bids": [[t["bidPrice"], t["bidQty"]]], "asks": [[t["askPrice"], t["askQty"]]]}

    def klines(self, p: dict[str, str]) -> list[list[Any]]:
        c = self._contract(p)
        res = _INTERVALS.get(p.get("interval", ""))
        if res is None:
            raise BinanceError(-1120, "Invalid interval.")
        limit = min(int(p.get("limit", 500)), 1500)
        end = float(p.get("endTime") or self._now())
        start = float(p.get("startTime") or end - limit * res * 1000)
        buckets: dict[int, list[float]] = {}
        for b in self.ledger.market.bars(c.base, start, end):
            buckets.setdefault(int(b.t_ms // (res * 1000)) * res * 1000, []).append(b.price)
        out = []
        for t in sorted(buckets)[:limit]:
            px = buckets[t]
            out.append([t, num_str(px[0]), num_str(max(px)), num_str(min(px)), num_str(px[-1]), "0",
                        t + res * 1000 - 1, "0", 0, "0", "0", "0"])
        return out
