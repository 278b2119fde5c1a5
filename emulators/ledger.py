"""The exchange core every emulated venue shares: contracts, accounts, orders, fills, funding.

Everything here is in the *venue's* units, exactly as the venue's API states them: a Deribit
inverse perpetual's amount is in USD (a multiple of its contract size) and its P&L in the coin;
a Deribit option's amount is in the coin and its price in the coin per coin of underlying;
a Binance USD-M amount is in the coin and its price in USDT. The venue modules (``deribit``,
``binance``) translate requests and errors; this module keeps the books.

The book is synthetic: bid and ask sit half a spread around the mark, each with a depth (in
venue amount units) that one order can take; an order larger than the depth fills partly
(IOC: the rest is cancelled; GTC: the rest rests and fills when the book crosses it later).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rebal.backends.kernel.pricing import bs_greeks

from .market import YEAR_S, Market

__all__ = ["Account", "Contract", "Ledger", "Order", "Position", "VenueReject"]


class VenueReject(Exception):
    """A refusal with a venue-neutral reason; the venue module maps it to its own code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # insufficient_funds | invalid_amount | min_notional | tick | ...


@dataclass(frozen=True)
class Contract:
    name: str               # the venue's id (ETH-PERPETUAL, ETHUSDT)
    kind: str               # perp | future | option
    base: str               # the underlying coin
    quote: str              # the currency of prices (USD for an inverse perp, ETH for a coin option)
    settle: str             # the currency of P&L and margin
    inverse: bool = False   # amount in USD, P&L in the coin (Deribit perps and futures)
    contract_size: float = 1.0
    min_amount: float = 1.0
    amount_step: float = 1.0
    tick: float = 0.01
    taker: float = 0.0005
    maker: float = 0.0002
    expiry_ms: float | None = None
    strike: float | None = None
    option_type: str | None = None  # call | put
    min_notional: float = 0.0
    max_amount: float = 1e9
    initial_margin: float = 0.05   # fraction of notional (1 / leverage)
    spread: float = 0.0004         # full bid-ask spread, fraction of the mark
    depth: float = 1e12            # venue amount units available at the touch, each side


@dataclass
class Position:
    size: float = 0.0        # signed venue amount
    avg_price: float = 0.0   # in the contract's quote
    realized: float = 0.0    # settle currency


@dataclass
class Order:
    seq: int
    account: str
    contract: str
    side: str                # buy | sell
    amount: float            # venue units
    price: float | None      # limit in quote (None: market)
    tif: str                 # GTC | IOC | FOK
    client_id: str
    created_ms: float
    reduce_only: bool = False
    position_side: str = "BOTH"
    state: str = "open"      # open | filled | cancelled | rejected
    filled: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0         # settle currency, positive = paid
    updated_ms: float = 0.0
    reason: str = ""
    trades: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "seq", "account", "contract", "side", "amount", "price", "tif", "client_id",
            "created_ms", "reduce_only", "position_side", "state", "filled", "avg_price", "fee",
            "updated_ms", "reason")}


@dataclass
class Account:
    balances: dict[str, float]
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    hedge_mode: bool = False
    leverage: dict[str, int] = field(default_factory=dict)


def round_step(x: float, step: float) -> float:
    return round(round(x / step) * step, 12) if step > 0 else x


def on_step(x: float, step: float) -> bool:
    return step <= 0 or abs(x / step - round(x / step)) < 1e-9


class Ledger:
    """Accounts, positions and orders of one emulated venue, marked by a :class:`Market`."""

    def __init__(self, market: Market, contracts: list[Contract],
                 funding: dict[str, float] | None = None) -> None:
        self.market = market
        self.contracts = {c.name: c for c in contracts}
        self.funding = dict(funding or {})       # contract -> annual rate, longs pay
        self.accounts: dict[str, Account] = {}
        self.orders: list[Order] = []
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self._funded_ms = market.clock.now_ms()
        self.partial_next: list[float] = []      # fractions for the next orders (fault)
        self.reject_next: list[str] = []         # reasons for the next orders (fault)
        # the venue's maintenance margin of (contract, signed venue size), settle currency
        # (emulators/margin.py); None: half the initial margin
        self.maintenance_rule: Callable[[Contract, float], float] | None = None

    # ------------------------------------------------------------------ prices

    def index(self, coin: str) -> float:
        return self.market.spot(coin)

    def years_left(self, c: Contract) -> float:
        if c.expiry_ms is None:
            return 0.0
        return max(c.expiry_ms - self.market.clock.now_ms(), 0.0) / 1000.0 / YEAR_S

    def option_greeks(self, c: Contract) -> Any:
        s = self.index(c.base)
        return bs_greeks(s, c.strike, self.years_left(c), self.market.vol(c.base), 0.0,
                         c.option_type == "call")

    def mark(self, c: Contract) -> float:
        """Mark price in the contract's quote currency."""
        s = self.index(c.base)
        if c.kind == "option":
            usd = float(self.option_greeks(c).price)
            return usd / s if c.quote == c.base else usd
        return s

    def touch(self, c: Contract) -> tuple[float, float]:
        """(bid, ask) around the mark, on the tick, never crossed, bid above zero."""
        m = self.mark(c)
        half = max(m * c.spread / 2.0, c.tick)
        bid = math.floor((m - half) / c.tick) * c.tick
        ask = math.ceil((m + half) / c.tick) * c.tick
        bid = round(max(bid, c.tick if c.kind == "option" else bid), 10)
        return bid if bid < ask else ask - c.tick, round(ask, 10)

    # ------------------------------------------------------------------ accounts

    def account(self, name: str) -> Account:
        acct = self.accounts.get(name)
        if acct is None:
            raise VenueReject("unknown_account", f"no account {name!r}")
        return acct

    def open_account(self, name: str, balances: dict[str, float]) -> Account:
        with self.lock:
            self.accounts[name] = Account({k: float(v) for k, v in balances.items()})
            return self.accounts[name]

    def position(self, acct: Account, contract: str, side: str = "BOTH") -> Position:
        return acct.positions.setdefault((contract, side), Position())

    def unrealized(self, c: Contract, p: Position) -> float:
        """Mark-to-market of a position in the settle currency (option: its value)."""
        if p.size == 0:
            return 0.0
        m = self.mark(c)
        if c.kind == "option":
            return p.size * m
        if c.inverse:
            return p.size * (1.0 / p.avg_price - 1.0 / m)
        return p.size * (m - p.avg_price)

    def notional(self, c: Contract, size: float) -> float:
        """|size| in the settle currency at the mark."""
        m = self.mark(c)
        if c.inverse:
            return abs(size) / m
        if c.kind == "option":
            return abs(size) * (1.0 if c.quote == c.base else self.index(c.base))
        return abs(size) * m

    def margin_of(self, c: Contract, size: float) -> float:
        if c.kind == "option":
            return 0.0 if size >= 0 else 0.15 * self.notional(c, size)
        return c.initial_margin * self.notional(c, size)

    def maintenance_of(self, c: Contract, size: float) -> float:
        """Maintenance margin of a position, in the settle currency, by the venue's rule."""
        if size == 0:
            return 0.0
        if self.maintenance_rule is not None:
            return self.maintenance_rule(c, size)
        return 0.5 * self.margin_of(c, size)

    def summary(self, acct: Account, ccy: str) -> dict[str, float]:
        """balance, equity, initial/maintenance margin, available funds, option value, upl."""
        upl = opt = im = mm = 0.0
        for (name, _), p in acct.positions.items():
            c = self.contracts[name]
            if c.settle != ccy or p.size == 0:
                continue
            if c.kind == "option":
                opt += self.unrealized(c, p)
            else:
                upl += self.unrealized(c, p)
            im += self.margin_of(c, p.size)
            mm += self.maintenance_of(c, p.size)
        balance = acct.balances.get(ccy, 0.0)
        equity = balance + upl + opt
        return {"balance": balance, "equity": equity, "upl": upl, "options_value": opt,
                "initial_margin": im, "maintenance_margin": mm,
                "available": equity - im}

    # ------------------------------------------------------------------ funding

    def accrue_funding(self) -> None:
        """Longs pay shorts ``rate * dt * notional`` on every perpetual, continuously."""
        now = self.market.clock.now_ms()
        dt_years = max(now - self._funded_ms, 0.0) / 1000.0 / YEAR_S
        self._funded_ms = now
        if dt_years <= 0 or self.market.frozen:
            return
        for acct in self.accounts.values():
            for (name, _), p in acct.positions.items():
                c = self.contracts[name]
                rate = self.funding.get(name, 0.0)
                if c.kind != "perp" or p.size == 0 or rate == 0:
                    continue
                pay = rate * dt_years * self.notional(c, p.size) * (1 if p.size > 0 else -1)
                acct.balances[c.settle] = acct.balances.get(c.settle, 0.0) - pay

    # ------------------------------------------------------------------ orders

    def find(self, account: str, *, seq: int | None = None, client_id: str | None = None,
             contract: str | None = None) -> list[Order]:
        return [o for o in self.orders if o.account == account
                and (seq is None or o.seq == seq)
                and (client_id is None or o.client_id == client_id)
                and (contract is None or o.contract == contract)]

    def place(self, account: str, contract: str, side: str, amount: float,
              price: float | None, *, tif: str = "GTC", client_id: str = "",
              reduce_only: bool = False, position_side: str = "BOTH") -> Order:
        """Validate, then match against the synthetic book; raises :class:`VenueReject`."""
        with self.lock:
            c = self.contracts.get(contract)
            if c is None:
                raise VenueReject("unknown_instrument", f"instrument {contract!r} not found")
            acct = self.account(account)
            self.accrue_funding()
            self._validate(c, acct, side, amount, price, reduce_only, position_side)
            now = self.market.clock.now_ms()
            order = Order(next(self._seq), account, contract, side, float(amount), price, tif,
                          client_id, now, reduce_only, position_side, updated_ms=now)
            if self.reject_next:
                reason = self.reject_next.pop(0)
                raise VenueReject(reason, f"order rejected ({reason}, injected fault)")
            fraction = self.partial_next.pop(0) if self.partial_next else 1.0
            self._match(c, acct, order, fraction)
            if order.tif in ("IOC", "FOK") and order.state == "open":
                order.state = "filled" if order.filled >= order.amount else "cancelled"
            self.orders.append(order)
            return order

    def _validate(self, c: Contract, acct: Account, side: str, amount: float,
                  price: float | None, reduce_only: bool, position_side: str) -> None:
        if not (amount > 0) or not math.isfinite(amount):
            raise VenueReject("invalid_amount", f"amount must be positive, got {amount}")
        if amount < c.min_amount - 1e-12:
            raise VenueReject("amount_too_small", f"amount {amount} below minimum {c.min_amount}")
        if not on_step(amount, c.amount_step):
            raise VenueReject("amount_step", f"amount {amount} is not a multiple of {c.amount_step}")
        if amount > c.max_amount:
            raise VenueReject("amount_too_large", f"amount {amount} above maximum {c.max_amount}")
        if price is not None and (not (price > 0) or not on_step(price, c.tick)):
            raise VenueReject("tick", f"price {price} is not a positive multiple of {c.tick}")
        ref = price if price is not None else self.mark(c)
        notional = amount * ref if not c.inverse else amount
        if c.min_notional and notional < c.min_notional - 1e-9 and not reduce_only:
            raise VenueReject("min_notional", f"notional {notional:.4f} below {c.min_notional}")
        if acct.hedge_mode and position_side not in ("LONG", "SHORT"):
            raise VenueReject("position_side", "hedge mode needs positionSide LONG or SHORT")
        if not acct.hedge_mode and position_side != "BOTH":
            raise VenueReject("position_side", "one-way mode takes positionSide BOTH only")
        pos = self.position(acct, c.name, position_side)
        delta = amount if side == "buy" else -amount
        if reduce_only and (pos.size == 0 or (pos.size > 0) == (delta > 0)):
            raise VenueReject("reduce_only", "reduce-only order would not reduce the position")
        if (position_side == "LONG" and pos.size + delta < -1e-12) or \
                (position_side == "SHORT" and pos.size + delta > 1e-12):
            raise VenueReject("reduce_only", f"order exceeds the {position_side} position")
        new = pos.size + delta
        if abs(new) > abs(pos.size):
            s = self.summary(acct, c.settle)
            premium = amount * ref * (1 if side == "buy" else -1) if c.kind == "option" else 0.0
            need = self.margin_of(c, new) - self.margin_of(c, pos.size) + max(premium, 0.0)
            if s["available"] - need < 0:
                raise VenueReject("insufficient_funds",
                                  f"not enough {c.settle}: available {s['available']:.8f}, "
                                  f"needed {need:.8f}")

    def _match(self, c: Contract, acct: Account, o: Order, fraction: float = 1.0) -> None:
        bid, ask = self.touch(c)
        touch = ask if o.side == "buy" else bid
        crosses = o.price is None or (o.price >= touch if o.side == "buy" else o.price <= touch)
        if not crosses:
            return
        want = o.amount - o.filled
        qty = min(want, c.depth, want * fraction if fraction < 1.0 else want)
        qty = math.floor(qty / c.amount_step + 1e-9) * c.amount_step if c.amount_step else qty
        qty = round(qty, 12)
        if o.reduce_only or o.position_side in ("LONG", "SHORT"):
            pos = self.position(acct, c.name, o.position_side)
            closing = (pos.size > 0) == (o.side == "sell") and pos.size != 0
            if o.reduce_only or (closing and o.position_side != "BOTH"):
                qty = min(qty, abs(pos.size)) if closing else qty
        if qty <= 0:
            return
        self._fill(c, acct, o, qty, touch)

    def _fill(self, c: Contract, acct: Account, o: Order, qty: float, price: float) -> None:
        signed = qty if o.side == "buy" else -qty
        pos = self.position(acct, c.name, o.position_side)
        if c.kind == "option":
            acct.balances[c.settle] = acct.balances.get(c.settle, 0.0) - signed * price
            fee = min(c.taker * qty * (1.0 if c.quote == c.base else price), 0.125 * qty * price)
        elif c.inverse:
            fee = c.taker * qty / price
        else:
            fee = c.taker * qty * price
        self._book(c, pos, signed, price, acct)
        acct.balances[c.settle] = acct.balances.get(c.settle, 0.0) - fee
        total = o.filled + qty
        o.avg_price = (o.avg_price * o.filled + price * qty) / total
        o.filled = round(total, 12)
        o.fee += fee
        o.updated_ms = self.market.clock.now_ms()
        o.trades.append({"amount": qty, "price": price, "fee": fee, "t_ms": o.updated_ms})
        if o.filled >= o.amount - 1e-12:
            o.state = "filled"

    def _book(self, c: Contract, pos: Position, signed: float, price: float,
              acct: Account) -> None:
        """Add ``signed`` at ``price`` to ``pos``, realising P&L on the closed part."""
        old = pos.size
        if old == 0 or (old > 0) == (signed > 0):
            new = old + signed
            if c.inverse:  # USD-weighted harmonic mean, as inverse venues average
                pos.avg_price = new / (old / pos.avg_price + signed / price) if old else price
            else:
                pos.avg_price = (pos.avg_price * abs(old) + price * abs(signed)) / abs(new)
            pos.size = round(new, 12)
            return
        closed = min(abs(signed), abs(old)) * (1 if old > 0 else -1)
        if c.kind != "option":
            pnl = (closed * (1 / pos.avg_price - 1 / price) if c.inverse
                   else closed * (price - pos.avg_price))
            pos.realized += pnl
            acct.balances[c.settle] = acct.balances.get(c.settle, 0.0) + pnl
        pos.size = round(old + signed, 12)
        if pos.size == 0:
            pos.avg_price = 0.0
        elif (pos.size > 0) != (old > 0):
            pos.avg_price = price

    def rematch(self) -> None:
        """Fill resting orders the book now crosses (called on every request)."""
        with self.lock:
            self.accrue_funding()
            for o in self.orders:
                if o.state == "open":
                    c = self.contracts[o.contract]
                    self._match(c, self.accounts[o.account], o)

    def cancel(self, order: Order) -> Order:
        with self.lock:
            if order.state != "open":
                raise VenueReject("not_open", f"order {order.seq} is {order.state}")
            order.state = "cancelled"
            order.updated_ms = self.market.clock.now_ms()
            return order

    def set_position(self, account: str, contract: str, size: float,
                     price: float | None = None, side: str = "BOTH") -> None:
        """Put a position in place directly (tests: stray positions, restarts)."""
        with self.lock:
            c = self.contracts[contract]
            pos = self.position(self.account(account), contract, side)
            pos.size = float(size)
            pos.avg_price = float(price) if price else (self.mark(c) if size else 0.0)
