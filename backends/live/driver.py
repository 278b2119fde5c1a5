"""The decision kernel with a batch of one: the only place the live layer calls the kernel.

Nothing here decides: :meth:`KernelDriver.decide` hands a snapshot to the shared kernel
(``Kernel.decide``: bands, triggers, cooldowns, modes, splitting, cost limits and the risk
gate) and turns its arrays into named orders and an explanation; :meth:`KernelDriver.record`
hands the outcome back (``Kernel.record``) and the state is saved and restored through
``Kernel.save_state``/``restore_state``. Live time is absolute: the kernel is built with
``epoch_s=0`` so its ``t_s`` is unix time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rebal.backends.kernel.coins import coin_after
from rebal.backends.kernel.context import PortfolioView, StepContext
from rebal.backends.kernel.gate import liquidation_distance
from rebal.backends.kernel.planner import Decision, Kernel
from rebal.compiler import ir

from .adapter import Candle, Snapshot
from .views import book_differences, market_view, portfolio_view

__all__ = ["KernelDriver", "OrderPlan", "RowView", "StepDecision"]


@dataclass(frozen=True)
class OrderPlan:
    """One order the kernel wants sent, named and in the spec's units."""

    client_id: str
    instrument: str
    symbol: str
    leg: int
    child: int
    qty: float               # signed, underlying units
    limit_price: float | None  # numeraire per unit of underlying
    mid: float               # the price the decision was made at
    est_cost: float          # numeraire, the kernel's estimate (fees + slippage + gas)
    reduce_only: bool = False

    def as_row(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "instrument": self.instrument,
                "symbol": self.symbol, "leg": self.leg, "child": self.child, "qty": self.qty,
                "limit_price": self.limit_price, "mid": self.mid, "est_cost": self.est_cost,
                "reduce_only": self.reduce_only}


@dataclass(frozen=True)
class RowView:
    """One target row at the decision: its measure, center and band, and whether it breaches."""

    label: str
    measure: float
    center: float
    lo: float
    hi: float
    unmet: bool

    @property
    def outside(self) -> bool:
        return not (self.lo - 1e-12 <= self.measure <= self.hi + 1e-12)


@dataclass(frozen=True)
class StepDecision:
    """The kernel's decision at one snapshot, ready to journal, show or send."""

    seq: int
    t_s: float
    reason: str              # breach | clock | split | mode:<name> | "" (no trade)
    triggered: bool
    halted: bool
    refused: str             # the limit that refused this step's orders ("" none)
    mode: str                # active mode ("" none)
    rows: tuple[RowView, ...]
    orders: tuple[OrderPlan, ...]
    positions: Mapping[str, float]
    equity: float
    leverage_after: float
    liquidation_after: float  # smallest relative move to liquidation after the trade (inf)
    book_diffs: tuple[tuple[str, float, float], ...] = ()
    venue_positions: Mapping[str, float] = field(default_factory=dict)
    hedge_qty: tuple[float, ...] = ()  # per hedge leg, what the kernel released (for record)
    children: tuple[float, ...] = ()   # per hedge leg, children counted by the kernel
    order_ids: tuple[tuple[int, int], ...] = ()  # per hedge leg, the kernel's (parent, child)
    decision: Decision | None = field(default=None, compare=False, repr=False)

    def summary(self) -> dict[str, Any]:
        """Plain data for the journal and the plan file."""
        return {
            "seq": self.seq, "t_s": self.t_s, "reason": self.reason,
            "triggered": self.triggered, "halted": self.halted, "refused": self.refused,
            "mode": self.mode, "equity": self.equity,
            "leverage_after": _finite(self.leverage_after),
            "liquidation_after": _finite(self.liquidation_after),
            "rows": [{"label": r.label, "measure": r.measure, "center": r.center, "lo": r.lo,
                      "hi": r.hi, "unmet": r.unmet} for r in self.rows],
            "positions": dict(self.positions),
            "book_diffs": [list(d) for d in self.book_diffs],
            "venue_positions": dict(self.venue_positions),
            "orders": [o.as_row() for o in self.orders],
            "hedge_qty": list(self.hedge_qty), "children": list(self.children),
            "order_ids": [list(o) for o in self.order_ids],
        }


class KernelDriver:
    """The shared kernel for one (strategy, venue), batch of one, absolute time."""

    def __init__(self, strategy: ir.Strategy, venue: ir.Venue) -> None:
        self.strategy = strategy
        self.venue = venue
        self.kernel = Kernel.build(strategy, venue, 1, epoch_s=0.0)
        self.layout = self.kernel.layout
        self.fallback_vol: dict[str, float] = {}

    # ------------------------------------------------------------------ state

    def save(self) -> dict[str, Any]:
        data: dict[str, Any] = self.kernel.save_state()
        return {"kernel": data, "fallback_vol": dict(self.fallback_vol)}

    def restore(self, data: Mapping[str, Any]) -> None:
        self.kernel.restore_state(data["kernel"])
        self.fallback_vol = {k: float(v) for k, v in data.get("fallback_vol", {}).items()}

    def warm_up(self, candles: Mapping[str, Sequence[Candle]]) -> None:
        """Feed price history (closes per asset, one common time grid) into the kernel."""
        lay = self.layout
        series = {a: {c.t_s: c.close for c in candles.get(a, ())} for a in lay.assets}
        for a, closes in series.items():
            vals = [closes[t] for t in sorted(closes)]
            if len(vals) > 2:
                r = np.diff(np.log(np.asarray(vals)))
                times = sorted(closes)
                span = (times[-1] - times[0]) / (len(times) - 1)
                if span > 0:
                    self.fallback_vol[a] = float(np.std(r) * math.sqrt(365.0 * 86400.0 / span))
        common = sorted(set.intersection(*(set(s) for s in series.values()))) if series else []
        for t in common:
            spot = np.array([[series[a][t] for a in lay.assets]], dtype=np.float64)
            self.kernel.observe(float(t), spot)

    # ------------------------------------------------------------------ deciding

    def decide(self, snap: Snapshot, seq: int, ids: Any) -> StepDecision:
        """Run the kernel once on ``snap``; ``ids(seq, leg, child)`` names each order."""
        lay, k = self.layout, self.kernel
        market = market_view(lay, snap, self.fallback_vol)
        book = portfolio_view(lay, snap, self.venue)
        t = float(snap.time_s)
        k.observe(t, market.spot)
        marks = k.mark(t, market)
        dec = k.decide(t, market, book, marks)
        orders: list[OrderPlan] = []
        hedge = dec.hedge_orders[0]
        kids = dec.children[0] if dec.children is not None else (hedge != 0.0).astype(float)
        price = marks.price[0]
        est_total = float(dec.est_cost[0]) if dec.est_cost is not None else 0.0
        gross = float(np.abs(hedge * price[dec.hedge_cols]).sum()) or 1.0
        if dec.any_orders:
            for j, col in enumerate(dec.hedge_cols):
                q = float(hedge[j])
                if q == 0.0:
                    continue
                name = lay.instruments[int(col)]
                n = max(1, round(float(kids[j])))
                limit = None
                if dec.limit_price is not None and math.isfinite(dec.limit_price[0, j]):
                    limit = float(dec.limit_price[0, j])
                for c in range(n):
                    part = q / n
                    orders.append(OrderPlan(
                        client_id=ids(seq, j, c), instrument=name,
                        symbol=self.venue.symbols.get(name, name), leg=j, child=c, qty=part,
                        limit_price=limit, mid=float(price[int(col)]),
                        est_cost=est_total * abs(part * float(price[int(col)])) / gross,
                        reduce_only=_reduces(float(book.positions[0, int(col)]), part)))
        after = book.positions + dec.orders
        post = StepContext(t, lay, market, PortfolioView(after, book.equity), marks, k.peak,
                           None)
        lev_after = float(post.leverage[0])
        coin_post = None if book.coin is None else coin_after(
            lay.settle_asset, lay.is_option, book.coin, dec.orders, marks.price, marks.spot)
        liq = float(liquidation_distance(lay, after, marks, book.equity,
                                         market.margin(), coin_post)[0])
        rows = tuple(
            RowView(label, float(np.asarray(dec.measure)[0, r]),
                    float(np.asarray(dec.center)[0, r]), float(np.asarray(dec.band_lo)[0, r]),
                    float(np.asarray(dec.band_hi)[0, r]), bool(dec.unmet[0, r]))
            for r, label in enumerate(k.row_labels))
        refused = k.refusal_names[int(dec.refused[0])] if dec.refused.size else ""
        mode = ""
        if dec.mode is not None and int(dec.mode[0]) >= 0:
            mode = k.mode_names[int(dec.mode[0])]
        reason = dec.reason_name(0, k.mode_names) if int(dec.reason[0]) else ""
        if not orders:
            reason = ""
        diffs = tuple((d.instrument, d.declared, d.actual)
                      for d in book_differences(self.strategy, snap, self.venue))
        return StepDecision(
            seq=seq, t_s=t, reason=reason, triggered=bool(dec.triggered[0]),
            halted=bool(dec.halted[0]), refused=refused, mode=mode, rows=rows,
            orders=tuple(orders),
            positions={n: float(book.positions[0, i]) for i, n in enumerate(lay.instruments)},
            equity=float(book.equity[0]), leverage_after=lev_after, liquidation_after=liq,
            book_diffs=diffs, venue_positions=dict(snap.venue_positions), hedge_qty=tuple(float(x) for x in hedge),
            children=tuple(float(x) for x in kids),
            order_ids=tuple((int(a), int(b)) for a, b in dec.order_ids[0]), decision=dec)

    def sent(self, step: StepDecision) -> None:
        """``step``'s orders are going out: the kernel counts them and waits for their fills
        (:meth:`report`), also across a restart (orders in flight are in its saved state)."""
        if step.decision is not None and step.orders:
            self.kernel.sent(step.decision)

    def report(self, summary: Mapping[str, Any], filled: Mapping[int, float],
               cost: Mapping[int, float]) -> None:
        """The final fills of a step's orders, per hedge leg (``summary`` is the step's
        journaled summary, which holds each leg's kernel order id)."""
        t = float(summary["t_s"])
        for leg, oid in enumerate(summary.get("order_ids", [])):
            if oid[0] < 0:
                continue
            self.kernel.report_fill(0, leg, oid, float(filled.get(leg, 0.0)),
                                    float(cost.get(leg, 0.0)), t, final=True)


def _reduces(position: float, qty: float) -> bool:
    return position != 0.0 and (position > 0.0) != (qty > 0.0) and abs(qty) <= abs(position)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None

