"""Binance USD-M futures (``fapi``) as ccxt's ``binanceusdm`` calls it: REST paths, HMAC-SHA256
query signatures with ``X-MBX-APIKEY``, ``timestamp``/``recvWindow``, Binance's error codes.

Units as the real venue: amounts in the coin on the ``LOT_SIZE`` step, prices in USDT on the
``PRICE_FILTER`` tick, ``MIN_NOTIONAL`` in USDT (reduce-only orders exempt). One-way mode
(``positionSide`` BOTH) or hedge mode (LONG/SHORT, ``/fapi/v1/positionSide/dual``);
``reduceOnly``; ``newClientOrderId`` (a second order with an id the venue has is refused with
-4116, unlike Deribit's labels); IOC remainders end ``EXPIRED`` as on the real venue.
Errors: -1021 timestamp outside recvWindow, -1022 bad signature, -2015 bad key, -1013 filter
failures, -4164 min notional, -2019 margin insufficient, -2022 reduce-only rejected, -4061
position side mismatch, -2013 order does not exist, -2011 unknown order on cancel.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from .ledger import Contract, Ledger, Order, VenueReject
from .margin import binance_brackets, binance_maintenance
from .server import Request, Response

__all__ = ["DEFAULT_BALANCES", "DEFAULT_SPOTS", "DEFAULT_VOLS", "BinanceAPI", "contracts"]

DEFAULT_SPOTS = {"BTC": 95000.0, "ETH": 3000.0, "SOL": 200.0}
DEFAULT_VOLS = {"BTC": 0.55, "ETH": 0.65, "SOL": 0.8}
DEFAULT_BALANCES = {"USDT": 100_000.0}
_INTERVALS = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600,
              "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400}
_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_REJECTS = {
    "insufficient_funds": (-2019, "Margin is insufficient."),
    "amount_step": (-1013, "Filter failure: LOT_SIZE"),
    "amount_too_small": (-1013, "Filter failure: LOT_SIZE"),
    "amount_too_large": (-1013, "Filter failure: LOT_SIZE"),
    "invalid_amount": (-1013, "Filter failure: LOT_SIZE"),
    "tick": (-1013, "Filter failure: PRICE_FILTER"),
    "reduce_only": (-2022, "ReduceOnly Order is rejected."),
    "position_side": (-4061, "Order's position side does not match user's setting."),
    "unknown_instrument": (-1121, "Invalid symbol."),
    "not_open": (-2011, "Unknown order sent."),
}


def contracts() -> list[Contract]:
    rows = (("BTC", 0.001, 0.1, 100.0), ("ETH", 0.001, 0.01, 20.0), ("SOL", 1.0, 0.01, 5.0))
    return [Contract(f"{coin}USDT", "perp", coin, "USDT", "USDT", contract_size=1.0,
                     min_amount=step, amount_step=step, tick=tick, taker=0.0005, maker=0.0002,
                     min_notional=notional, max_amount=1e6, initial_margin=0.05,
                     spread=0.0001) for coin, step, tick, notional in rows]


class _Error(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _num(x: float) -> str:
    return format(round(x, 10), "f").rstrip("0").rstrip(".") or "0"


class BinanceAPI:
    name = "binanceusdm"

    def __init__(self, ledger: Ledger, credentials: dict[str, tuple[str, str]]) -> None:
        self.ledger = ledger
        self.credentials = credentials
        # maintMargin from the symbol's leverage brackets (emulators/margin.py)
        ledger.maintenance_rule = lambda c, size: binance_maintenance(
            c.base, size * ledger.mark(c))
        P = Callable[[dict[str, str]], Any]
        self.public: dict[tuple[str, str], P] = {
            ("GET", "/fapi/v1/ping"): lambda p: {},
            ("GET", "/fapi/v1/time"): lambda p: {"serverTime": int(self._now())},
            ("GET", "/fapi/v1/exchangeInfo"): self.exchange_info,
            ("GET", "/fapi/v1/depth"): self.depth,
            ("GET", "/fapi/v1/ticker/24hr"): lambda p: self._each(p, self._ticker),
            ("GET", "/fapi/v1/ticker/bookTicker"): lambda p: self._each(p, self._book_ticker),
            ("GET", "/fapi/v1/ticker/price"): lambda p: self._each(p, lambda c: {
                "symbol": c.name, "price": _num(self.ledger.mark(c)), "time": int(self._now())}),
            ("GET", "/fapi/v1/premiumIndex"): lambda p: self._each(p, self._premium),
            ("GET", "/fapi/v1/fundingInfo"): lambda p: [
                {"symbol": c.name, "fundingIntervalHours": 8, "adjustedFundingRateCap": "0.02",
                 "adjustedFundingRateFloor": "-0.02"} for c in self.ledger.contracts.values()],
            ("GET", "/fapi/v1/klines"): self.klines,
            ("GET", "/fapi/v1/markPriceKlines"): self.klines,
            ("GET", "/fapi/v1/indexPriceKlines"): self.klines,
        }
        A = Callable[[str, dict[str, str]], Any]
        self.private: dict[tuple[str, str], A] = {
            ("POST", "/fapi/v1/order"): self.new_order,
            ("GET", "/fapi/v1/order"): lambda a, p: self._order(self._find(a, p, -2013)),
            ("DELETE", "/fapi/v1/order"): self.cancel,
            ("GET", "/fapi/v1/openOrder"): lambda a, p: self._order(self._find(a, p, -2013)),
            ("GET", "/fapi/v1/openOrders"): lambda a, p: [
                self._order(o) for o in self._orders(a, p) if o.state == "open"],
            ("GET", "/fapi/v1/allOrders"): lambda a, p: [self._order(o)
                                                         for o in self._orders(a, p)],
            ("DELETE", "/fapi/v1/allOpenOrders"): self.cancel_all,
            ("GET", "/fapi/v1/userTrades"): self.user_trades,
            ("GET", "/fapi/v2/account"): self.account, ("GET", "/fapi/v3/account"): self.account,
            ("GET", "/fapi/v2/balance"): lambda a, p: self.account(a, p)["assets"],
            ("GET", "/fapi/v3/balance"): lambda a, p: self.account(a, p)["assets"],
            ("GET", "/fapi/v2/positionRisk"): lambda a, p: self.position_risk(a, p, True),
            ("GET", "/fapi/v3/positionRisk"): lambda a, p: self.position_risk(a, p, False),
            ("GET", "/fapi/v1/positionSide/dual"): lambda a, p: {
                "dualSidePosition": self.ledger.account(a).hedge_mode},
            ("POST", "/fapi/v1/positionSide/dual"): self.set_dual,
            ("POST", "/fapi/v1/leverage"): self.set_leverage,
            ("GET", "/fapi/v1/leverageBracket"): self.brackets,
            ("GET", "/fapi/v1/commissionRate"): lambda a, p: {
                "symbol": self._contract(p).name, "makerCommissionRate": "0.0002",
                "takerCommissionRate": "0.0005"},
            # ccxt's fetch_currencies reads the wallet's coin list once keys are set: no coins
            ("GET", "/sapi/v1/capital/config/getall"): lambda a, p: [],
            ("GET", "/sapi/v1/margin/allPairs"): lambda a, p: [],
        }

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> float:
        return self.ledger.market.clock.now_ms()

    def category(self, req: Request) -> str:
        if req.path == "/fapi/v1/order":
            return {"POST": "order", "DELETE": "cancel"}.get(req.method, "private")
        if req.path == "/fapi/v1/allOpenOrders":
            return "cancel"
        return "public" if (req.method, req.path) in self.public else "private"

    def error_response(self, kind: str, status: int) -> Response:
        if kind == "429":
            return Response(429, {"code": -1003, "msg": "Too many requests; current limit of "
                                  "IP is 2400 requests per minute."}, {"Retry-After": "1"})
        return Response(status, b"<html><body><h1>Service Unavailable</h1></body></html>")

    def handle(self, req: Request) -> Response:
        key = (req.method, req.path)
        try:
            if key in self.public:
                return Response(200, self.public[key](req.params))
            if key not in self.private:
                raise _Error(-5000, f"Path {req.path}, Method {req.method} is invalid", 404)
            account = self._authenticate(req)
            return Response(200, self.private[key](account, req.params))
        except VenueReject as exc:
            code, msg = _REJECTS.get(exc.reason, (-1000, "An unknown error occurred."))
            if exc.reason == "min_notional":
                c = self.ledger.contracts.get(req.params.get("symbol", ""))
                code, msg = -4164, (f"Order's notional must be no smaller than "
                                    f"{_num(c.min_notional if c else 5)} (unless you choose "
                                    "reduce only).")
            return Response(400, {"code": code, "msg": msg})
        except _Error as exc:
            return Response(exc.status, {"code": exc.code, "msg": exc.msg})

    def _authenticate(self, req: Request) -> str:
        entry = self.credentials.get(req.headers.get("x-mbx-apikey", ""))
        if entry is None:
            raise _Error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        secret, account = entry
        total = req.query + req.body.decode()
        m = re.search(r"(?:^|&)signature=([0-9a-fA-F]+)$", total)
        if m is None:
            raise _Error(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, "
                                "or malformed.")
        signed = total[: m.start()]
        want = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, m.group(1)):
            raise _Error(-1022, "Signature for this request is not valid.")
        try:
            ts = float(req.params["timestamp"])
            window = float(req.params.get("recvWindow", 5000))
        except (KeyError, ValueError):
            raise _Error(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, "
                                "or malformed.") from None
        now = time.time() * 1000.0
        if window > 60000 or ts > now + 1000 or now - ts > window:
            raise _Error(-1021, "Timestamp for this request is outside of the recvWindow.")
        return account

    def _contract(self, p: dict[str, str]) -> Contract:
        c = self.ledger.contracts.get(p.get("symbol", ""))
        if c is None:
            raise _Error(-1121, "Invalid symbol.")
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
                    {"filterType": "PRICE_FILTER", "minPrice": _num(c.tick),
                     "maxPrice": "4529764", "tickSize": _num(c.tick)},
                    {"filterType": "LOT_SIZE", "minQty": _num(c.min_amount),
                     "maxQty": _num(c.max_amount), "stepSize": _num(c.amount_step)},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": _num(c.min_amount),
                     "maxQty": _num(c.max_amount), "stepSize": _num(c.amount_step)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": _num(c.min_notional)},
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
        depth = _num(min(c.depth, 1e6))
        return {"symbol": c.name, "bidPrice": _num(bid), "bidQty": depth, "askPrice": _num(ask),
                "askQty": depth, "time": int(self._now())}

    def _ticker(self, c: Contract) -> dict[str, Any]:
        t_ms = self.ledger.market.prices()[1]
        last = _num(self.ledger.mark(c))
        return {"symbol": c.name, "priceChange": "0", "priceChangePercent": "0",
                "weightedAvgPrice": last, "lastPrice": last, "lastQty": "0", "openPrice": last,
                "highPrice": last, "lowPrice": last, "volume": "0", "quoteVolume": "0",
                "openTime": int(t_ms - 86400000), "closeTime": int(t_ms), "firstId": 0,
                "lastId": 0, "count": 0}

    def _premium(self, c: Contract) -> dict[str, Any]:
        prices, t_ms = self.ledger.market.prices()
        rate = self.ledger.funding.get(c.name, 0.0) * 8 / (365 * 24)
        next_funding = (int(t_ms // 28_800_000) + 1) * 28_800_000
        return {"symbol": c.name, "markPrice": _num(self.ledger.mark(c)),
                "indexPrice": _num(prices[c.base]), "estimatedSettlePrice": _num(prices[c.base]),
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
            raise _Error(-1120, "Invalid interval.")
        limit = min(int(p.get("limit", 500)), 1500)
        end = float(p.get("endTime") or self._now())
        start = float(p.get("startTime") or end - limit * res * 1000)
        buckets: dict[int, list[float]] = {}
        for b in self.ledger.market.bars(c.base, start, end):
            buckets.setdefault(int(b.t_ms // (res * 1000)) * res * 1000, []).append(b.price)
        out = []
        for t in sorted(buckets)[:limit]:
            px = buckets[t]
            out.append([t, _num(px[0]), _num(max(px)), _num(min(px)), _num(px[-1]), "0",
                        t + res * 1000 - 1, "0", 0, "0", "0", "0"])
        return out

    # ------------------------------------------------------------------ orders

    def _order(self, o: Order) -> dict[str, Any]:
        if o.state == "open":
            status = "PARTIALLY_FILLED" if o.filled > 0 else "NEW"
        elif o.state == "cancelled":
            status = "EXPIRED" if o.tif in ("IOC", "FOK") else "CANCELED"
        else:
            status = o.state.upper()
        return {
            "orderId": o.seq, "symbol": o.contract, "status": status,
            "clientOrderId": o.client_id, "price": _num(o.price or 0.0),
            "avgPrice": _num(o.avg_price), "origQty": _num(o.amount),
            "executedQty": _num(o.filled), "cumQty": _num(o.filled),
            "cumQuote": _num(o.filled * o.avg_price), "timeInForce": o.tif,
            "type": "LIMIT" if o.price is not None else "MARKET", "reduceOnly": o.reduce_only,
            "closePosition": False, "side": o.side.upper(), "positionSide": o.position_side,
            "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
            "origType": "LIMIT" if o.price is not None else "MARKET", "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
            "time": int(o.created_ms), "updateTime": int(o.updated_ms),
        }

    def new_order(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        c = self._contract(p)
        side = p.get("side", "").lower()
        kind = p.get("type", "")
        if side not in ("buy", "sell") or kind not in ("LIMIT", "MARKET"):
            raise _Error(-1116 if kind not in ("LIMIT", "MARKET") else -1117,
                         "Invalid orderType." if kind not in ("LIMIT", "MARKET")
                         else "Invalid side.")
        try:
            qty = float(p["quantity"])
        except (KeyError, ValueError):
            raise _Error(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, "
                                "or malformed.") from None
        price = None
        tif = p.get("timeInForce", "GTC" if kind == "LIMIT" else "IOC")
        if kind == "LIMIT":
            try:
                price = float(p["price"])
            except (KeyError, ValueError):
                raise _Error(-1102, "Mandatory parameter 'price' was not sent, was empty/null, "
                                    "or malformed.") from None
        else:
            tif = "IOC"
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise _Error(-1115, "Invalid timeInForce.")
        reduce_only = p.get("reduceOnly", "").lower() == "true"
        if "reduceOnly" in p and self.ledger.account(account).hedge_mode:
            raise _Error(-1106, "Parameter 'reduceOnly' sent when not required.")
        cid = p.get("newClientOrderId") or f"emu{secrets.token_hex(8)}"
        if not _CID.match(cid):
            raise _Error(-1100, "Illegal characters found in parameter 'newClientOrderId'; "
                                "legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        if self.ledger.find(account, client_id=cid):
            raise _Error(-4116, "ClientOrderId is duplicated.")
        o = self.ledger.place(account, c.name, side, qty, price, tif="GTC" if tif == "GTX"
                              else tif, client_id=cid,
                              reduce_only=reduce_only,
                              position_side=p.get("positionSide", "BOTH"))
        return self._order(o)

    def _find(self, account: str, p: dict[str, str], code: int) -> Order:
        c = self._contract(p)
        if "orderId" in p:
            try:
                found = self.ledger.find(account, seq=int(p["orderId"]), contract=c.name)
            except ValueError:
                found = []
        elif "origClientOrderId" in p:
            found = self.ledger.find(account, client_id=p["origClientOrderId"], contract=c.name)
        else:
            raise _Error(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both "
                                "were empty/null!")
        if not found:
            raise _Error(code, "Order does not exist." if code == -2013 else
                         "Unknown order sent.")
        return found[-1]

    def cancel(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        o = self._find(account, p, -2011)
        return self._order(self.ledger.cancel(o))

    def cancel_all(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        for o in self._orders(account, p):
            if o.state == "open":
                self.ledger.cancel(o)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _orders(self, account: str, p: dict[str, str]) -> list[Order]:
        name = self._contract(p).name if p.get("symbol") else None
        return self.ledger.find(account, contract=name)

    def user_trades(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for o in self._orders(account, p):
            for i, t in enumerate(o.trades):
                out.append({"symbol": o.contract, "id": o.seq * 1000 + i, "orderId": o.seq,
                            "side": o.side.upper(), "price": _num(t["price"]),
                            "qty": _num(t["amount"]), "quoteQty": _num(t["amount"] * t["price"]),
                            "commission": _num(t["fee"]), "commissionAsset": "USDT",
                            "realizedPnl": "0", "positionSide": o.position_side,
                            "buyer": o.side == "buy", "maker": False, "time": int(t["t_ms"])})
        return out

    # ------------------------------------------------------------------ account

    def account(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        led = self.ledger
        acct = led.account(account)
        s = led.summary(acct, "USDT")
        now = int(self._now())
        asset = {"asset": "USDT", "walletBalance": _num(s["balance"]),
                 "unrealizedProfit": _num(s["upl"]), "marginBalance": _num(s["equity"]),
                 "maintMargin": _num(s["maintenance_margin"]),
                 "initialMargin": _num(s["initial_margin"]),
                 "positionInitialMargin": _num(s["initial_margin"]),
                 "openOrderInitialMargin": "0", "crossWalletBalance": _num(s["balance"]),
                 "crossUnPnl": _num(s["upl"]), "availableBalance": _num(s["available"]),
                 "maxWithdrawAmount": _num(max(s["available"], 0.0)), "updateTime": now}
        return {"totalInitialMargin": asset["initialMargin"],
                "totalMaintMargin": asset["maintMargin"],
                "totalWalletBalance": asset["walletBalance"],
                "totalUnrealizedProfit": asset["unrealizedProfit"],
                "totalMarginBalance": asset["marginBalance"],
                "totalPositionInitialMargin": asset["initialMargin"],
                "totalOpenOrderInitialMargin": "0",
                "totalCrossWalletBalance": asset["walletBalance"],
                "totalCrossUnPnl": asset["unrealizedProfit"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"], "assets": [asset],
                "positions": [{k: v for k, v in r.items() if k in (
                    "symbol", "positionSide", "positionAmt", "unrealizedProfit",
                    "isolatedMargin", "notional", "isolatedWallet", "initialMargin",
                    "maintMargin", "updateTime")} for r in self.position_risk(account, {}, False)]}

    def position_risk(self, account: str, p: dict[str, str], all_symbols: bool
                      ) -> list[dict[str, Any]]:
        led = self.ledger
        acct = led.account(account)
        sides = ("LONG", "SHORT") if acct.hedge_mode else ("BOTH",)
        out = []
        for c in led.contracts.values():
            if p.get("symbol") and c.name != p["symbol"]:
                continue
            for side in sides:
                pos = acct.positions.get((c.name, side))
                size = pos.size if pos else 0.0
                if not size and not all_symbols:
                    continue
                mark = led.mark(c)
                im = led.margin_of(c, size)
                out.append({
                    "symbol": c.name, "positionSide": side, "positionAmt": _num(size),
                    "entryPrice": _num(pos.avg_price if pos else 0.0),
                    "breakEvenPrice": _num(pos.avg_price if pos else 0.0),
                    "markPrice": _num(mark),
                    "unRealizedProfit": _num(led.unrealized(c, pos) if pos else 0.0),
                    "liquidationPrice": "0", "isolatedMargin": "0", "notional": _num(size * mark),
                    "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": _num(im),
                    "maintMargin": _num(led.maintenance_of(c, size)),
                    "positionInitialMargin": _num(im),
                    "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0",
                    "askNotional": "0", "leverage": str(acct.leverage.get(c.name, 20)),
                    "marginType": "cross", "updateTime": int(self._now())})
        return out

    def set_dual(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        acct = self.ledger.account(account)
        want = p.get("dualSidePosition", "").lower() == "true"
        if want == acct.hedge_mode:
            raise _Error(-4059, "No need to change position side.")
        if any(pos.size for pos in acct.positions.values()):
            raise _Error(-4068, "The position side cannot be changed if there exists position.")
        acct.hedge_mode = want
        return {"code": 200, "msg": "success"}

    def set_leverage(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        c = self._contract(p)
        lev = int(p.get("leverage", 0))
        if not 1 <= lev <= 125:
            raise _Error(-4028, f"Leverage {lev} is not valid")
        self.ledger.account(account).leverage[c.name] = lev
        return {"leverage": lev, "maxNotionalValue": "1000000", "symbol": c.name}

    def brackets(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        rows = [c for c in self.ledger.contracts.values()
                if not p.get("symbol") or c.name == p["symbol"]]
        return [{"symbol": c.name, "notionalCoef": 1.0,
                 "brackets": [dict(b) for b in binance_brackets(c.base)]} for c in rows]
