"""The ccxt adapter: the live contract's four verbs over any ccxt exchange (sync client).

Thin on purpose: units live in :mod:`.units`, symbols in :mod:`.symbols`, errors in
:mod:`.errors`, exchange differences in :mod:`.dialect`, the client in :mod:`.client`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from rebal.backends.live.adapter import (
    Candle,
    OrderRequest,
    OrderStatus,
    Rejected,
    Snapshot,
    Transient,
)
from rebal.compiler import ir

from .client import Settings, make_client, settings_of
from .dialect import Dialect, dialect_for
from .errors import classify
from .symbols import Mapped, map_instruments
from .units import decimal_text, maintenance_fraction

__all__ = ["CcxtAdapter", "open_adapter"]

T = TypeVar("T")
STABLE = {"USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI"}  # taken at par with the numeraire
TIMEFRAMES = {60: "1m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h",
              14400: "4h", 21600: "6h", 43200: "12h", 86400: "1d"}
_STATES = {"closed": "filled", "canceled": "cancelled", "cancelled": "cancelled",
           "expired": "expired", "rejected": "rejected"}


def open_adapter(strategy: ir.Strategy, venue: ir.Venue,
                 environ: Mapping[str, str]) -> CcxtAdapter:
    """The live layer's entry point (found through the backend registry)."""
    settings = settings_of(venue, environ)
    return CcxtAdapter(strategy, venue, make_client(settings), settings)


class CcxtAdapter:
    name = "ccxt"

    def __init__(self, strategy: ir.Strategy, venue: ir.Venue, exchange: Any,
                 settings: Settings) -> None:
        self.strategy, self.venue, self.exchange = strategy, venue, exchange
        self._secrets = settings.secrets
        self.dialect: Dialect = dialect_for(settings.exchange)
        markets = self._call(exchange.load_markets)
        self.mapped: dict[str, Mapped] = map_instruments(strategy, venue, markets)
        self._by_symbol = {m.symbol: m for m in self.mapped.values()}
        self._call(self.dialect.setup, exchange, list(self.mapped.values()))
        tables = self._call(self.dialect.margin_tiers, exchange, list(self.mapped.values()))
        # the rate of a small position (the lowest tier), and the tiers of a linear market
        # whose tiers are in a currency at par with the numeraire
        self._small_margin = {n: t.rows[0][1] for n, t in tables.items()}
        self._tiers = {n: t.rows for n, t in tables.items()
                       if t.notional and (t.currency in STABLE
                                          or t.currency == strategy.numeraire)}
        self._index: dict[str, float] = {}
        self._cash = {n: s for n, s in venue.symbols.items()
                      if n in {i.name for i in strategy.instruments if i.kind == "cash"}}

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # every venue/HTTP error becomes Rejected or Transient
            raise classify(exc, self._secrets) from None

    # ------------------------------------------------------------------ reading

    def _price(self, ccy: str) -> float | None:
        if ccy in STABLE or ccy == self.strategy.numeraire:
            return 1.0
        return self._index.get(ccy)

    def snapshot(self) -> Snapshot:
        ex = self.exchange
        quotes = {n: self._call(self.dialect.quote, ex, m) for n, m in self.mapped.items()}
        for n, q in quotes.items():  # the index of each base; a perpetual's quote wins
            base = self.mapped[n].base
            if q.index and (base not in self._index or self.mapped[n].instrument.kind == "perp"):
                self._index[base] = float(q.index)
        for n, q in quotes.items():  # a base with no index quote: its linear mark
            if q.mark and not self.mapped[n].units.coin_priced:
                self._index.setdefault(self.mapped[n].base, float(q.mark))
        balance = self._call(ex.fetch_balance)
        totals = {c: float(v) for c, v in (balance.get("total") or {}).items() if v is not None}
        equity = sum(v * (self._price(c) or 0.0) for c, v in totals.items())
        positions, foreign, venue_positions, margin = self._positions(totals)
        for n, q in quotes.items():  # an option not held short: the venue's published rule
            m = self.mapped[n]
            if m.instrument.kind == "option" and not margin.get(n) and m.units.coin_priced \
                    and q.mark is not None:
                rule = self.dialect.option_margin(float(q.mark))
                if rule is not None:
                    margin[n] = rule
        mid, bid, ask, mark, iv, funding = {}, {}, {}, {}, {}, {}
        times = []
        for n, q in quotes.items():
            m = self.mapped[n]
            conv, idx = m.units.price_to_numeraire, self._index.get(m.base, 0.0)
            for into, value in ((bid, q.bid), (ask, q.ask), (mark, q.mark)):
                price = conv(value, idx)
                if price is not None:
                    into[n] = price
            if n in bid and n in ask:
                mid[n] = (bid[n] + ask[n]) / 2
            if q.iv is not None:
                iv[n] = q.iv
            if q.funding is not None:
                funding[n] = q.funding
            if q.time_ms:
                times.append(float(q.time_ms) / 1000.0)
        now = max(times) if times else time.time()
        return Snapshot(
            time_s=now, numeraire=self.strategy.numeraire, positions=positions, equity=equity,
            balances=totals, index=dict(self._index), mid=mid, bid=bid, ask=ask, mark=mark,
            iv=iv, funding=funding, price_time_s=now if times else None,
            open_orders=self._open_orders(),
            meta={n: m.meta(self._index[m.base]) for n, m in self.mapped.items()},
            foreign=foreign, venue_positions=venue_positions,
            maintenance={**self._small_margin, **margin}, margin_tiers=self._tiers)

    def _positions(self, totals: Mapping[str, float]) -> tuple[
            dict[str, float], dict[str, float], dict[str, float], dict[str, float]]:
        """(underlying units, unmapped positions, venue amount units, maintenance margin as a
        fraction of notional: an option's of its underlying notional) per instrument."""
        positions: dict[str, float] = {n: 0.0 for n in self.mapped}
        venue: dict[str, float] = {n: 0.0 for n in self.mapped}
        foreign: dict[str, float] = {}
        held: dict[str, tuple[float, float]] = {}  # (maintenance, notional), numeraire
        for n, m in self.mapped.items():
            if m.instrument.kind == "spot":
                positions[n] = venue[n] = float(totals.get(m.base, 0.0))
        for n, ccy in self._cash.items():
            positions[n] = float(totals.get(ccy, 0.0))
        derivatives = [m.symbol for m in self.mapped.values() if m.instrument.kind != "spot"]
        if not derivatives:
            return positions, foreign, venue, {}
        for p in self._call(self.exchange.fetch_positions):
            contracts = float(p.get("contracts") or 0.0)
            if not contracts:
                continue
            sign = -1.0 if p.get("side") == "short" else 1.0
            m = self._by_symbol.get(str(p.get("symbol")))
            info = p.get("info") or {}
            if m is None:
                foreign[str(p.get("symbol"))] = sign * abs(contracts)
                continue
            if m.units.inverse:
                coins = info.get("size_currency")
                mk = float(p.get("markPrice") or self._index.get(m.base) or 0.0)
                qty = abs(float(coins)) if coins is not None else m.units.qty_of(abs(contracts), mk)
            else:
                qty = abs(contracts) * m.units.contract_size
            positions[m.name] += sign * qty
            venue[m.name] += sign * abs(contracts)  # ccxt's contracts: the venue's amount
            if m.instrument.kind in ("perp", "future", "option"):
                idx = self._index.get(m.base, 0.0)
                # a contract's notional at its mark; an option's is its underlying's, q x index
                mark = idx if m.instrument.kind == "option" else (
                    m.units.price_to_numeraire(p.get("markPrice"), idx) or idx)
                settle = self._price(str(m.market.get("settle") or "")) or 0.0
                rate = maintenance_fraction(p, settle, qty * mark)
                if rate is not None:  # both sides of a hedge-mode position: their sum
                    mm, notional = held.get(m.name, (0.0, 0.0))
                    held[m.name] = (mm + rate * qty * mark, notional + qty * mark)
        margin = {n: mm / notional for n, (mm, notional) in held.items()}
        return positions, foreign, venue, margin

    def _open_orders(self) -> dict[str, OrderStatus]:
        out: dict[str, OrderStatus] = {}
        for m in self.mapped.values():
            if m.instrument.kind == "spot" and not self.exchange.has.get("fetchOpenOrders"):
                continue
            for o in self._call(self.exchange.fetch_open_orders, m.symbol):
                cid = self.dialect.client_id_of(o)
                if cid:
                    out[cid] = self._status(o, m, cid)
        return out

    # ------------------------------------------------------------------ orders

    def _status(self, o: Mapping[str, Any], m: Mapped, cid: str) -> OrderStatus:
        idx = self._index.get(m.base) or 0.0
        sign = 1.0 if o.get("side") == "buy" else -1.0
        amount, filled = float(o.get("amount") or 0.0), float(o.get("filled") or 0.0)
        avg = float(o["average"]) if o.get("average") else None
        price = float(o["price"]) if o.get("price") else None
        num_avg = m.units.price_to_numeraire(avg, idx)
        num_price = m.units.price_to_numeraire(price, idx)
        status = str(o.get("status") or "open")
        state = _STATES.get(status) or ("partial" if filled > 0 else "open")
        fee = o.get("fee") or {}
        fee_cost = float(fee.get("cost") or 0.0)
        if not fee and filled > 0 and avg:  # the venue's order carries no fee (Binance):
            fee = {"currency": None}        # the market's taker rate on the filled notional
            fee_cost = float(m.market.get("taker") or 0.0) * num_avg * m.units.qty_of(
                filled, num_avg or idx) if num_avg else 0.0
        ts = o.get("lastTradeTimestamp") or o.get("timestamp")
        return OrderStatus(
            client_id=cid, instrument=m.name, state=state,  # type: ignore[arg-type]
            qty=sign * m.units.qty_of(amount, num_price or num_avg or idx),
            filled=sign * m.units.qty_of(filled, num_avg or num_price or idx),
            avg_price=num_avg,
            fee=m.units.fee_to_numeraire(fee_cost, fee.get("currency"), m.base, idx),
            venue_id=str(o.get("id") or ""), time_s=float(ts) / 1000.0 if ts else None,
            venue_qty=sign * amount, venue_filled=sign * filled)

    def submit(self, order: OrderRequest) -> OrderStatus:
        m = self.mapped.get(order.instrument)
        if m is None:
            raise Rejected(f"instrument {order.instrument} is not mapped on venue "
                           f"{self.venue.name}", code="unmapped")
        if m.base not in self._index:
            self.snapshot()
        idx = self._index[m.base]
        sent = m.units.order(order.qty, order.limit_price, idx,
                             order.ref_price or order.limit_price or idx)
        if sent.amount <= 0:
            raise Rejected(f"{order.instrument}: {abs(order.qty):g} is below the venue's "
                           f"minimum on {m.venue_id}", code="below_min")
        amount_text = decimal_text(sent.amount)
        ccxt_text = self._call(self.exchange.amount_to_precision, m.symbol, sent.amount)
        if not math.isclose(float(ccxt_text), sent.amount, rel_tol=1e-12, abs_tol=1e-12):
            raise Rejected(f"{order.instrument}: ccxt would send {ccxt_text} instead of "
                           f"{amount_text} on {m.venue_id}", code="precision")
        side = "buy" if order.qty > 0 else "sell"
        params: dict[str, Any] = {self.dialect.client_id_param: order.client_id,
                                  "timeInForce": order.time_in_force,
                                  **self.dialect.order_params(side, order.reduce_only)}
        kind = "market" if sent.price is None else "limit"
        placed = self._call(self.exchange.create_order, m.symbol, kind, side, sent.amount,
                            sent.price, params)
        return self._status(placed, m, order.client_id)

    def lookup(self, client_id: str) -> OrderStatus | None:
        found = self._call(self.dialect.find, self.exchange, list(self.mapped.values()),
                           client_id)
        if not found:
            return None
        statuses = [self._status(o, self._by_symbol[o["symbol"]], client_id)
                    for o in found if o.get("symbol") in self._by_symbol]
        if not statuses:
            return None
        if len(statuses) == 1:
            return statuses[0]
        # several venue orders under one id (Deribit accepts a repeated label): report their
        # sum so positions reconcile, and say so
        first = statuses[0]
        live = [s for s in statuses if not s.final]
        return OrderStatus(
            client_id=client_id, instrument=first.instrument,
            state=live[0].state if live else first.state,
            qty=sum(s.qty for s in statuses), filled=sum(s.filled for s in statuses),
            avg_price=first.avg_price, fee=sum(s.fee for s in statuses),
            venue_id=",".join(s.venue_id for s in statuses),
            reason=f"{len(statuses)} venue orders carry this client id", time_s=first.time_s)

    def cancel(self, client_id: str) -> OrderStatus | None:
        st = self.lookup(client_id)
        if st is None or st.final:
            return st
        m = self.mapped[st.instrument]
        for venue_id in st.venue_id.split(","):
            try:
                self.exchange.cancel_order(venue_id, m.symbol)
            except Exception as exc:
                err = classify(exc, self._secrets)
                if isinstance(err, Transient):
                    raise err from None
                # a permanent refusal here means it filled or closed meanwhile: read it again
        return self.lookup(client_id)

    def history(self, asset: str, since_s: float, timeframe_s: float) -> Sequence[Candle]:
        tf = TIMEFRAMES.get(int(timeframe_s))
        if tf is None:
            raise Rejected(f"no candle size of {timeframe_s:g}s; one of "
                           f"{', '.join(TIMEFRAMES.values())}", code="timeframe")
        chosen = sorted((m for m in self.mapped.values()
                         if m.base == asset and m.instrument.kind != "option"),
                        key=lambda m: m.instrument.kind != "perp")
        if not chosen:
            raise Rejected(f"no mapped instrument prices {asset} on venue {self.venue.name}",
                           code="no_market")
        m = chosen[0]
        out: list[Candle] = []
        since = int(since_s * 1000)
        for _ in range(100):  # pages of up to 1000 candles
            rows = self._call(self.exchange.fetch_ohlcv, m.symbol, tf, since, 1000)
            rows = [r for r in rows if r[0] >= since]
            out += [Candle(r[0] / 1000.0, *(float(x) for x in r[1:5]), float(r[5] or 0.0))
                    for r in rows]
            if len(rows) < 1000:
                break
            since = int(rows[-1][0]) + 1
        return out

    def close(self) -> None:
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()
