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

from .binance_market import (
    DEFAULT_BALANCES,
    DEFAULT_SPOTS,
    DEFAULT_VOLS,
    BinanceError,
    BinanceMarketData,
    contracts,
    num_str,
)
from .ledger import Ledger, Order, VenueReject
from .margin import binance_brackets, binance_maintenance
from .server import Request, Response

__all__ = ["DEFAULT_BALANCES", "DEFAULT_SPOTS", "DEFAULT_VOLS", "BinanceAPI", "contracts"]

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


class BinanceAPI(BinanceMarketData):
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
                "symbol": c.name, "price": num_str(self.ledger.mark(c)), "time": int(self._now())}),
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
                raise BinanceError(-5000, f"Path {req.path}, Method {req.method} is invalid", 404)
            account = self._authenticate(req)
            return Response(200, self.private[key](account, req.params))
        except VenueReject as exc:
            code, msg = _REJECTS.get(exc.reason, (-1000, "An unknown error occurred."))
            if exc.reason == "min_notional":
                c = self.ledger.contracts.get(req.params.get("symbol", ""))
                code, msg = -4164, (f"Order's notional must be no smaller than "
                                    f"{num_str(c.min_notional if c else 5)} (unless you choose "
                                    "reduce only).")
            return Response(400, {"code": code, "msg": msg})
        except BinanceError as exc:
            return Response(exc.status, {"code": exc.code, "msg": exc.msg})

    def _authenticate(self, req: Request) -> str:
        entry = self.credentials.get(req.headers.get("x-mbx-apikey", ""))
        if entry is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        secret, account = entry
        total = req.query + req.body.decode()
        m = re.search(r"(?:^|&)signature=([0-9a-fA-F]+)$", total)
        if m is None:
            raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent, "
                                       "was empty/null, or malformed.")
        signed = total[: m.start()]
        want = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, m.group(1)):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        try:
            ts = float(req.params["timestamp"])
            window = float(req.params.get("recvWindow", 5000))
        except (KeyError, ValueError):
            raise BinanceError(-1102, "Mandatory parameter 'timestamp' was not sent, "
                                       "was empty/null, or malformed.") from None
        now = time.time() * 1000.0
        if window > 60000 or ts > now + 1000 or now - ts > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        return account


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
            "clientOrderId": o.client_id, "price": num_str(o.price or 0.0),
            "avgPrice": num_str(o.avg_price), "origQty": num_str(o.amount),
            "executedQty": num_str(o.filled), "cumQty": num_str(o.filled),
            "cumQuote": num_str(o.filled * o.avg_price), "timeInForce": o.tif,
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
            raise BinanceError(-1116 if kind not in ("LIMIT", "MARKET") else -1117,
                               "Invalid orderType." if kind not in ("LIMIT", "MARKET")
                               else "Invalid side.")
        try:
            qty = float(p["quantity"])
        except (KeyError, ValueError):
            raise BinanceError(-1102, "Mandatory parameter 'quantity' was not sent, "
                                       "was empty/null, or malformed.") from None
        price = None
        tif = p.get("timeInForce", "GTC" if kind == "LIMIT" else "IOC")
        if kind == "LIMIT":
            try:
                price = float(p["price"])
            except (KeyError, ValueError):
                raise BinanceError(-1102, "Mandatory parameter 'price' was not sent, "
                                           "was empty/null, or malformed.") from None
        else:
            tif = "IOC"
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise BinanceError(-1115, "Invalid timeInForce.")
        reduce_only = p.get("reduceOnly", "").lower() == "true"
        if "reduceOnly" in p and self.ledger.account(account).hedge_mode:
            raise BinanceError(-1106, "Parameter 'reduceOnly' sent when not required.")
        cid = p.get("newClientOrderId") or f"emu{secrets.token_hex(8)}"
        if not _CID.match(cid):
            raise BinanceError(-1100, "Illegal characters found in parameter "
                                      "'newClientOrderId'; legal range is "
                                      "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        if self.ledger.find(account, client_id=cid):
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
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
            raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be "
                                       "sent, but both were empty/null!")
        if not found:
            raise BinanceError(code, "Order does not exist." if code == -2013 else
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
                            "side": o.side.upper(), "price": num_str(t["price"]),
                            "qty": num_str(t["amount"]),
                            "quoteQty": num_str(t["amount"] * t["price"]),
                            "commission": num_str(t["fee"]), "commissionAsset": "USDT",
                            "realizedPnl": "0", "positionSide": o.position_side,
                            "buyer": o.side == "buy", "maker": False, "time": int(t["t_ms"])})
        return out

    # ------------------------------------------------------------------ account

    def account(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        led = self.ledger
        acct = led.account(account)
        s = led.summary(acct, "USDT")
        now = int(self._now())
        asset = {"asset": "USDT", "walletBalance": num_str(s["balance"]),
                 "unrealizedProfit": num_str(s["upl"]), "marginBalance": num_str(s["equity"]),
                 "maintMargin": num_str(s["maintenance_margin"]),
                 "initialMargin": num_str(s["initial_margin"]),
                 "positionInitialMargin": num_str(s["initial_margin"]),
                 "openOrderInitialMargin": "0", "crossWalletBalance": num_str(s["balance"]),
                 "crossUnPnl": num_str(s["upl"]), "availableBalance": num_str(s["available"]),
                 "maxWithdrawAmount": num_str(max(s["available"], 0.0)), "updateTime": now}
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
                    "symbol": c.name, "positionSide": side, "positionAmt": num_str(size),
                    "entryPrice": num_str(pos.avg_price if pos else 0.0),
                    "breakEvenPrice": num_str(pos.avg_price if pos else 0.0),
                    "markPrice": num_str(mark),
                    "unRealizedProfit": num_str(led.unrealized(c, pos) if pos else 0.0),
                    "liquidationPrice": "0", "isolatedMargin": "0",
                    "notional": num_str(size * mark),
                    "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": num_str(im),
                    "maintMargin": num_str(led.maintenance_of(c, size)),
                    "positionInitialMargin": num_str(im),
                    "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0",
                    "askNotional": "0", "leverage": str(acct.leverage.get(c.name, 20)),
                    "marginType": "cross", "updateTime": int(self._now())})
        return out

    def set_dual(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        acct = self.ledger.account(account)
        want = p.get("dualSidePosition", "").lower() == "true"
        if want == acct.hedge_mode:
            raise BinanceError(-4059, "No need to change position side.")
        if any(pos.size for pos in acct.positions.values()):
            raise BinanceError(-4068, "The position side cannot be changed if there exists "
                                      "position.")
        acct.hedge_mode = want
        return {"code": 200, "msg": "success"}

    def set_leverage(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        c = self._contract(p)
        lev = int(p.get("leverage", 0))
        if not 1 <= lev <= 125:
            raise BinanceError(-4028, f"Leverage {lev} is not valid")
        self.ledger.account(account).leverage[c.name] = lev
        return {"leverage": lev, "maxNotionalValue": "1000000", "symbol": c.name}

    def brackets(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        rows = [c for c in self.ledger.contracts.values()
                if not p.get("symbol") or c.name == p["symbol"]]
        return [{"symbol": c.name, "notionalCoef": 1.0,
                 "brackets": [dict(b) for b in binance_brackets(c.base)]} for c in rows]
