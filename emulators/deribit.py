"""Deribit API v2 over HTTP, as ccxt's ``deribit`` class calls it: ``GET /api/v2/{public|private}/
METHOD?params``, JSON-RPC envelopes, ``deri-hmac-sha256`` signatures, Deribit's error codes.

Units as the real venue: perpetuals and futures are inverse, amounts in USD in multiples of
the contract size (ETH 1, BTC 10), P&L and margin in the coin; options are priced in the coin
per coin of underlying, amounts in the coin (ETH step 1, BTC step 0.1); tickers carry
``mark_iv`` (percent) and ``greeks`` (delta, gamma per USD, vega USD per vol point, theta USD per
day). Like the real venue, a ``label`` is not unique (a second order with the same label is
accepted) and ``get_order_history_*`` leaves fully unfilled closed orders out unless
``include_unfilled=true``; ``get_order_state_by_label`` returns them all.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from typing import Any

from .deribit_market import (
    DEFAULT_BALANCES,
    DEFAULT_SPOTS,
    DEFAULT_VOLS,
    DeribitError,
    DeribitMarketData,
    contracts,
    flag,
)
from .ledger import Contract, Ledger, Order, VenueReject
from .margin import deribit_maintenance
from .server import Request, Response

__all__ = ["DEFAULT_BALANCES", "DEFAULT_SPOTS", "DEFAULT_VOLS", "DeribitAPI", "contracts"]

# venue-neutral refusal -> (Deribit code, message)
_CODES = {
    "insufficient_funds": (10009, "not_enough_funds"),
    "amount_step": (-32602, "Invalid params"),
    "amount_too_small": (10002, "qty_too_low"),
    "amount_too_large": (10018, "non_pme_max_future_position_size"),
    "invalid_amount": (10021, "invalid_amount"),
    "tick": (10043, "price_wrong_tick"),
    "reduce_only": (11030, "other_reject reduce_only"),
    "unknown_instrument": (10020, "invalid_or_unsupported_instrument"),
    "not_open": (11044, "not_open_order"),
    "position_side": (11029, "invalid_arguments"),
    "min_notional": (10032, "whole_cost_too_low"),
}


class DeribitAPI(DeribitMarketData):
    name = "deribit"

    def __init__(self, ledger: Ledger, credentials: dict[str, tuple[str, str]]) -> None:
        self.ledger = ledger
        self.credentials = credentials  # api key -> (secret, account)
        ledger.maintenance_rule = self._maintenance
        self.public: dict[str, Callable[[dict[str, str]], Any]] = {
            "get_time": lambda p: int(self._now()),
            "test": lambda p: {"version": "2.1.1"},
            "status": lambda p: {"locked": "false", "locked_indices": []},
            "get_currencies": self.get_currencies,
            "get_instruments": self.get_instruments,
            "get_instrument": lambda p: self._instrument(self._contract(p)),
            "ticker": lambda p: self._ticker(self._contract(p)),
            "get_order_book": self.get_order_book,
            "get_index_price": self.get_index_price,
            "get_tradingview_chart_data": self.get_chart,
            "get_book_summary_by_currency": self.get_book_summary_by_currency,
            "get_book_summary_by_instrument": lambda p: [self._summary(self._contract(p))],
            "get_funding_rate_value": self.get_funding_rate_value,
        }
        self.private: dict[str, Callable[[str, dict[str, str]], Any]] = {
            "buy": lambda a, p: self.place(a, p, "buy"),
            "sell": lambda a, p: self.place(a, p, "sell"),
            "cancel": self.cancel,
            "cancel_by_label": self.cancel_by_label,
            "cancel_all": self.cancel_all,
            "cancel_all_by_instrument": self.cancel_all,
            "cancel_all_by_currency": self.cancel_all,
            "get_order_state": lambda a, p: self._order(self._by_id(a, p)),
            "get_order_state_by_label": self.get_order_state_by_label,
            "get_open_orders": self.open_orders,
            "get_open_orders_by_currency": self.open_orders,
            "get_open_orders_by_instrument": self.open_orders,
            "get_order_history_by_currency": self.history,
            "get_order_history_by_instrument": self.history,
            "get_account_summary": self.get_account_summary,
            "get_account_summaries": self.get_account_summaries,
            "get_positions": self.get_positions,
            "get_position": lambda a, p: self._position(a, self._contract(p)),
            "get_user_trades_by_order": self.get_user_trades_by_order,
        }

    def _maintenance(self, c: Contract, size: float) -> float:
        """Coins of maintenance margin (emulators/margin.py: Deribit's standard margin)."""
        if c.kind == "option":
            return deribit_maintenance(c.base, "option", size, self.ledger.mark(c))
        return deribit_maintenance(c.base, c.kind, self.ledger.notional(c, size))

    # ------------------------------------------------------------------ plumbing

    def category(self, req: Request) -> str:
        method = req.path.rsplit("/", 1)[-1]
        if "/private/" in req.path:
            if method in ("buy", "sell"):
                return "order"
            return "cancel" if method.startswith("cancel") else "private"
        return "public"

    def _envelope(self, status: int, body: dict[str, Any], t_in: float) -> Response:
        us_in = int(t_in * 1e6)
        us_out = int(time.time() * 1e6)
        body.update({"jsonrpc": "2.0", "usIn": us_in, "usOut": us_out,
                     "usDiff": us_out - us_in, "testnet": True})
        return Response(status, body)

    def error_response(self, kind: str, status: int) -> Response:
        if kind == "429":
            return self._envelope(429, {"error": {"message": "too_many_requests",
                                                  "code": 10028}}, time.time())
        return Response(status, f"<html><body><h1>{status}</h1>upstream unavailable"
                                f"</body></html>".encode())

    def handle(self, req: Request) -> Response:
        t_in = time.time()
        parts = req.path.strip("/").split("/")
        try:
            if len(parts) != 4 or parts[:2] != ["api", "v2"] or parts[2] not in (
                    "public", "private"):
                raise DeribitError(-32601, "Method not found", status=404)
            scope, method = parts[2], parts[3]
            if scope == "public":
                fn = self.public.get(method)
                if fn is None:
                    raise DeribitError(-32601, "Method not found")
                result = fn(req.params)
            else:
                account = self._authenticate(req)
                pfn = self.private.get(method)
                if pfn is None:
                    raise DeribitError(-32601, "Method not found")
                result = pfn(account, req.params)
            return self._envelope(200, {"result": result}, t_in)
        except VenueReject as exc:
            code, message = _CODES.get(exc.reason, (11030, "other_reject"))
            data = {"reason": str(exc)}
            if code == -32602:
                data["param"] = "amount"
            return self._envelope(400, {"error": {"message": message, "code": code,
                                                  "data": data}}, t_in)
        except DeribitError as exc:
            error: dict[str, Any] = {"message": exc.message, "code": exc.code}
            if exc.data:
                error["data"] = exc.data
            return self._envelope(exc.status, {"error": error}, t_in)

    def _authenticate(self, req: Request) -> str:
        """Check ``deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..`` over ts, nonce, the request."""
        header = req.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "deri-hmac-sha256":
            raise DeribitError(13009, "unauthorized", {"reason": "invalid_token"}, status=401)
        fields = dict(item.split("=", 1) for item in rest.split(",") if "=" in item)
        key, ts, sig, nonce = (fields.get(k, "") for k in ("id", "ts", "sig", "nonce"))
        entry = self.credentials.get(key)
        if entry is None:
            raise DeribitError(13004, "invalid_credentials", status=401)
        secret, account = entry
        payload = f"{ts}\n{nonce}\n{req.method}\n{req.target}\n{req.body.decode()}\n"
        want = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            raise DeribitError(13009, "unauthorized", {"reason": "invalid_signature"}, status=401)
        try:
            skew = abs(float(ts) - time.time() * 1000.0)
        except ValueError:
            skew = math.inf
        if skew > 60_000:
            raise DeribitError(13009, "unauthorized", {"reason": "invalid_timestamp"}, status=401)
        return account

    # ------------------------------------------------------------------ orders

    def _order(self, o: Order) -> dict[str, Any]:
        c = self.ledger.contracts[o.contract]
        state = o.state
        return {
            "order_id": f"{c.base}-{o.seq}", "instrument_name": o.contract, "label": o.client_id,
            "direction": o.side, "amount": o.amount, "filled_amount": o.filled,
            "contracts": o.amount / c.contract_size,
            "price": o.price if o.price is not None else "market_price",
            "average_price": round(o.avg_price, 8), "order_state": state,
            "order_type": "limit" if o.price is not None else "market",
            "time_in_force": {"GTC": "good_til_cancelled", "IOC": "immediate_or_cancel",
                              "FOK": "fill_or_kill"}[o.tif],
            "reduce_only": o.reduce_only, "post_only": False, "creation_timestamp":
            int(o.created_ms), "last_update_timestamp": int(o.updated_ms),
            "commission": round(o.fee, 10), "api": True, "web": False, "is_liquidation": False,
            "replaced": False, "max_show": o.amount, "mmp": False, "risk_reducing": False,
        }

    def _trades(self, o: Order) -> list[dict[str, Any]]:
        c = self.ledger.contracts[o.contract]
        return [{"trade_id": f"{c.base}-{o.seq}-{i}", "order_id": f"{c.base}-{o.seq}",
                 "instrument_name": o.contract, "direction": o.side, "amount": t["amount"],
                 "price": t["price"], "fee": t["fee"], "fee_currency": c.settle,
                 "timestamp": int(t["t_ms"]), "label": o.client_id, "liquidity": "T",
                 "order_type": "limit", "state": o.state, "index_price":
                 self.ledger.index(c.base), "mark_price": self.ledger.mark(c)}
                for i, t in enumerate(o.trades)]

    def place(self, account: str, p: dict[str, str], side: str) -> dict[str, Any]:
        c = self._contract(p)
        try:
            amount = float(p["amount"]) if "amount" in p else float(p["contracts"]) * \
                c.contract_size
        except (KeyError, ValueError):
            raise DeribitError(-32602, "Invalid params",
                         {"reason": "bad amount", "param": "amount"}) from None
        label = p.get("label", "")
        if len(label) > 64:
            raise DeribitError(-32602, "Invalid params", {"reason": "label too long",
                                                    "param": "label"})
        kind = p.get("type", "limit")
        price: float | None = None
        if kind == "limit":
            try:
                price = float(p["price"])
            except (KeyError, ValueError):
                raise DeribitError(-32602, "Invalid params", {"reason": "bad price",
                                                        "param": "price"}) from None
        elif kind != "market":
            raise DeribitError(10033, "not_implemented", {"reason": f"order type {kind}"})
        tif = {"good_til_cancelled": "GTC", "immediate_or_cancel": "IOC",
               "fill_or_kill": "FOK", "good_til_day": "GTC"}.get(
            p.get("time_in_force", "good_til_cancelled"))
        if tif is None:
            raise DeribitError(-32602, "Invalid params", {"reason": "bad time_in_force",
                                                    "param": "time_in_force"})
        if kind == "market" and tif == "GTC":
            tif = "IOC"  # a market order never rests
        if kind == "limit" and c.amount_step and abs(
                amount / c.amount_step - round(amount / c.amount_step)) > 1e-9:
            raise VenueReject("amount_step", f"must be a multiple of contract size "
                                             f"{c.amount_step:g}")
        o = self.ledger.place(account, c.name, side, amount, price, tif=tif, client_id=label,
                              reduce_only=flag(p.get("reduce_only")))
        return {"order": self._order(o), "trades": self._trades(o)}

    def _by_id(self, account: str, p: dict[str, str]) -> Order:
        oid = p.get("order_id", "")
        try:
            seq = int(oid.rsplit("-", 1)[-1])
        except ValueError:
            raise DeribitError(10025, "invalid_order_id", {"reason": oid[:80]}) from None
        found = self.ledger.find(account, seq=seq)
        if not found:
            raise DeribitError(10004, "order_not_found", {"reason": "order_not_found"})
        return found[0]

    def cancel(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        return self._order(self.ledger.cancel(self._by_id(account, p)))

    def cancel_by_label(self, account: str, p: dict[str, str]) -> int:
        cur = self._currency(p)
        n = 0
        for o in self.ledger.find(account, client_id=p.get("label", "")):
            if o.state == "open" and (cur is None or self.ledger.contracts[o.contract].base == cur):
                self.ledger.cancel(o)
                n += 1
        return n

    def cancel_all(self, account: str, p: dict[str, str]) -> int:
        n = 0
        for o in self._select(account, p):
            if o.state == "open":
                self.ledger.cancel(o)
                n += 1
        return n

    def _select(self, account: str, p: dict[str, str]) -> list[Order]:
        cur, kind, name = self._currency(p), p.get("kind"), p.get("instrument_name")
        out = []
        for o in self.ledger.find(account):
            c = self.ledger.contracts[o.contract]
            if (name and o.contract != name) or (cur and c.base != cur):
                continue
            if kind not in (None, "", "any") and kind != (
                    "option" if c.kind == "option" else "future"):
                continue
            out.append(o)
        return out

    def get_order_state_by_label(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        return [self._order(o) for o in self._select(account, p)
                if o.client_id == p.get("label", "")]

    def open_orders(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        return [self._order(o) for o in self._select(account, p) if o.state == "open"]

    def history(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        unfilled = flag(p.get("include_unfilled"))
        count = int(p.get("count", 20))
        offset = int(p.get("offset", 0))
        done = [o for o in self._select(account, p) if o.state != "open"
                and (unfilled or o.filled > 0)]
        done.reverse()  # newest first, as the venue lists them
        return [self._order(o) for o in done[offset:offset + count]]

    def get_user_trades_by_order(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        return self._trades(self._by_id(account, p))

    # ------------------------------------------------------------------ account

    def _account_summary(self, account: str, cur: str) -> dict[str, Any]:
        led = self.ledger
        s = led.summary(led.account(account), cur)
        delta = 0.0
        for (name, _), pos in led.account(account).positions.items():
            c = led.contracts[name]
            if c.base == cur and pos.size:
                delta += self._position(account, c)["delta"]
        return {"currency": cur, "balance": s["balance"], "equity": s["equity"],
                "margin_balance": s["equity"], "available_funds": s["available"],
                "available_withdrawal_funds": max(s["available"], 0.0),
                "initial_margin": s["initial_margin"],
                "maintenance_margin": s["maintenance_margin"], "options_value": s["options_value"],
                "futures_pl": s["upl"], "session_upl": s["upl"], "total_pl": s["upl"],
                "delta_total": round(delta, 6), "fee_balance": 0.0, "limits": {},
                "portfolio_margining_enabled": False, "margin_model": "segregated_sm"}

    def get_account_summary(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        cur = self._currency(p)
        if cur is None:
            raise DeribitError(-32602, "Invalid params", {"reason": "missing", "param": "currency"})
        return self._account_summary(account, cur)

    def get_account_summaries(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        return {"id": 1, "summaries": [self._account_summary(account, c) for c in DEFAULT_SPOTS]}

    def _position(self, account: str, c: Contract) -> dict[str, Any]:
        led = self.ledger
        pos = led.position(led.account(account), c.name)
        mark, index = led.mark(c), led.index(c.base)
        size = pos.size
        if c.kind == "option":
            g = led.option_greeks(c)
            coin_delta = size * (float(g.delta) - mark)  # premium-adjusted, in the coin
            size_ccy = size
        else:
            coin_delta = size / mark if mark else 0.0
            size_ccy = coin_delta
        out: dict[str, Any] = {
            "instrument_name": c.name, "kind": "option" if c.kind == "option" else "future",
            "size": size, "size_currency": round(size_ccy, 10),
            "direction": "buy" if size > 0 else "sell" if size < 0 else "zero",
            "average_price": pos.avg_price, "mark_price": round(mark, 8), "index_price": index,
            "settlement_price": round(mark, 8),
            "floating_profit_loss": round(led.unrealized(c, pos) if c.kind != "option"
                                          else size * (mark - pos.avg_price), 10),
            "realized_profit_loss": pos.realized, "total_profit_loss": pos.realized,
            "initial_margin": led.margin_of(c, size), "maintenance_margin":
            led.maintenance_of(c, size), "delta": round(coin_delta, 10), "leverage": 50,
            "estimated_liquidation_price": None, "open_orders_margin": 0.0,
        }
        if c.kind == "option":
            g = led.option_greeks(c)
            out.update({"gamma": float(g.gamma) * size, "vega": float(g.vega) / 100 * size,
                        "theta": float(g.theta) / 365 * size,
                        "average_price_usd": pos.avg_price * index})
        return out

    def get_positions(self, account: str, p: dict[str, str]) -> list[dict[str, Any]]:
        cur, kind = self._currency(p), p.get("kind")
        out = []
        for (name, _), pos in self.ledger.account(account).positions.items():
            c = self.ledger.contracts[name]
            if pos.size == 0 or (cur and c.base != cur):
                continue
            if kind not in (None, "", "any") and kind != (
                    "option" if c.kind == "option" else "future"):
                continue
            out.append(self._position(account, c))
        return out
