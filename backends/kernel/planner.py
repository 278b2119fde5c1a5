"""The decision kernel: one pure planner shared by every backend, over a batch of paths.

```python
kernel = Kernel.build(strategy, venue, batch)        # compile everything once
kernel.observe(t_s, spot)                            # price history (realized vol, price_age)
marks = kernel.mark(t_s, market)                     # prices and greeks, for equity
dec = kernel.decide(t_s, market, portfolio, marks)   # plan + cost limits + risk gate
kernel.record(dec, fills)                            # budgets, order counts, cooldowns
```

Fills that come later (a live venue with resting or slow orders)::

    kernel.sent(dec)                                     # the children went out
    kernel.report_fill(row, leg, dec.order_ids[row, leg], qty, cost, t_s, final=True)

(see ``orders.py`` for what a child in flight, a partial fill and an unfilled child do).

The simulation calls it across all paths at once; live backends with a batch of one. Each step
``decide`` evaluates halts, modes and targets, fires triggers, solves the targets for the hedge
trades, opens parent orders, releases the children due, applies cost limits and the risk gate,
and returns a :class:`Decision`. Everything a spec does not use is left out at build time, so
a step pays only for the features the spec has.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir

from .coins import CoinOrigin
from .context import EquityPeak, MarketView, PortfolioView, StepContext
from .costs import CostRules
from .decision import Decision, Fills, any_rows
from .evaluator import Needs, as_mask, compile_expr
from .gate import Gate
from .history import PriceHistory
from .layout import Layout, build_layout
from .modes import build_settings
from .orders import OrderBook, RollingBuckets
from .solver import TargetSet
from .state import restore_state, save_state
from .targets import build_targets
from .triggers import TriggerState
from .valuation import Marks, Valuer

__all__ = ["Decision", "Fills", "Kernel"]  # Decision and Fills live in decision.py

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class Kernel:
    """The compiled planner for one strategy on one venue and batch size."""

    def __init__(self, strategy: ir.Strategy, layout: Layout, batch: int, *,
                 reuse_buffers: bool = False, step_s: float | None = None) -> None:
        self.strategy = strategy
        self.layout = layout
        self.batch = batch
        self.history = PriceHistory(batch)
        needs = Needs()
        self.refusal_names: list[str] = [""]
        self.modes, self.settings = build_settings(strategy, layout, self.history, needs, batch)
        rows, hedge = build_targets(strategy, layout, self.history, needs)
        self.targets = TargetSet(rows, hedge, batch)
        self.halts = [compile_expr(h, layout, self.history, needs) for h in strategy.risk.halt_when]
        self.gate = Gate(strategy, layout, self.refusal_names)
        self.costs = CostRules(layout, self.settings, batch, self.refusal_names,
                               gate_needs_cost=self.gate.max_leverage is not None
                               or self.gate.buffer is not None)
        self.order_counts: RollingBuckets | None = None
        if self.gate.max_orders is not None:
            self.order_counts = RollingBuckets(batch, (self.gate.max_orders[1],))
        self.valuer = Valuer(layout, gamma=needs.gamma, vega=needs.vega, theta=needs.theta,
                             reuse_buffers=reuse_buffers)
        self.triggers = TriggerState(batch, self.settings)
        self.hedge_cols = self.targets.hedge_cols
        splits = strategy.costs.split is not None or any(
            m.costs.split is not None for m in strategy.modes)
        # Only a clock (or a mode) can fire on a path that sits at its target; a breach never
        # asks for a trade smaller than the band, so breach-only specs skip the dust filter.
        dust = self.triggers.has_clock or bool(strategy.modes) or any(
            r.band is None for r in self.targets.rows)
        self.order_book = OrderBook(self.hedge_cols, batch, splits, drop_dust=dust, step_s=step_s)
        self.splits = splits
        self.equity_peak = EquityPeak(batch)
        self.coin_origin = CoinOrigin(batch, layout.n_assets) if layout.has_coin else None
        self.track_peak = needs.drawdown
        self.halted = np.zeros(batch, dtype=bool)
        self.stopped = np.zeros(batch, dtype=bool)
        self._any_blocked = False
        self._slip = self.settings.max_slippage
        self._has_limit = self._slip.present()
        self._max_funding_code = self.costs.codes.get("max funding", -1)
        self._refused0 = np.zeros(batch, dtype=np.int16)
        self.mode_names = self.modes.names
        self.row_labels = tuple(r.label for r in self.targets.rows)

    @property
    def peak(self) -> FloatArray:
        """The running equity peak per row (``drawdown`` is measured from it)."""
        return self.equity_peak.peak

    @classmethod
    def build(cls, strategy: ir.Strategy, venue: ir.Venue | str | None, batch: int, *,
              epoch_s: float | None = None, reuse_buffers: bool = False,
              step_s: float | None = None) -> Kernel:
        """Precompute everything for ``strategy`` on ``venue`` (a name or an IR venue).

        ``epoch_s`` is the unix time of ``t_s == 0`` (default: UTC midnight of the sim venue's
        start, or of today). ``reuse_buffers`` lets ``mark`` write into two alternating sets of
        arrays (a step loop's choice: each Marks then stays valid until the next-but-one
        ``mark``). ``step_s`` is a fixed decision interval, if the caller has one: the first
        decision may then release ``floor(step / period)`` split children like the others."""
        if isinstance(venue, str):
            venue = strategy.venue(venue)
        return cls(strategy, build_layout(strategy, venue, epoch_s=epoch_s), batch,
                   reuse_buffers=reuse_buffers, step_s=step_s)

    # ------------------------------------------------------------------ inputs

    def observe(self, t_s: float, spot: FloatArray) -> None:
        """Record spots seen at ``t_s`` (for realized vol and price age)."""
        self.history.observe(t_s, spot)

    def mark(self, t_s: float, market: MarketView) -> Marks:
        """Prices and greeks of every instrument at ``t_s``."""
        return self.valuer.mark(t_s, market.spot, market.vol)

    def mark_ahead(self, t_s: float, spot: FloatArray, vol: FloatArray) -> None:
        """Start the next ``mark`` (at ``t_s``, of these arrays) early, on the calling thread:
        see :meth:`Valuer.mark_ahead`. The numbers ``mark`` returns do not change."""
        self.valuer.mark_ahead(t_s, spot, vol)

    def stop(self, paths: BoolArray) -> None:
        """Stop trading on ``paths`` for good (e.g. liquidated); pending parents are dropped."""
        self.stopped |= paths
        self.order_book.cancel(paths)
        self.refresh_blocked()

    def resume(self, paths: BoolArray | None = None) -> None:
        """Operator action: clear the sticky halt on ``paths`` (all when None)."""
        if paths is None:
            self.halted[:] = False
        else:
            self.halted[paths] = False
        self.refresh_blocked()

    def refresh_blocked(self) -> None:
        """Recompute whether any row is halted or stopped (after a change to either)."""
        self._any_blocked = bool(self.stopped.any() or self.halted.any())

    # ------------------------------------------------------------------ state

    def save_state(self) -> dict[str, Any]:
        """Everything the kernel remembers between steps, as plain versioned JSON-ready data
        (absolute times); see :mod:`.state`."""
        return save_state(self)

    def restore_state(self, data: dict[str, Any]) -> None:
        """Continue exactly where :meth:`save_state` left off; ValueError names a mismatch."""
        restore_state(self, data)

    # ------------------------------------------------------------------ the step

    def decide(self, t_s: float, market: MarketView, portfolio: PortfolioView,
               marks: Marks | None = None) -> Decision:
        """Plan, limit and gate this step's orders."""
        if marks is None:
            marks = self.mark(t_s, market)
        coin_held = None if self.coin_origin is None else self.coin_origin.held(
            self.layout.settle_asset, self.layout.is_option, portfolio.coin,
            portfolio.positions, marks.price, marks.spot)
        ctx = StepContext(t_s, self.layout, market, portfolio, marks, self.equity_peak,
                          self.history.last_t, coin_held, self.coin_origin)
        if self.track_peak:
            self.equity_peak.update(ctx.strategy_equity)
        b = self.batch
        if self.halts:
            for cond in self.halts:
                self.halted |= as_mask(cond(ctx), b)
            if self.halted.any():
                self._any_blocked = True
                self.order_book.cancel(self.halted)
        mode = self.modes.active(ctx)
        sol = self.targets.evaluate(ctx)

        blocked: BoolArray | None = None
        if self._any_blocked:
            blocked = self.stopped | self.halted
        pending = self.order_book.pending()
        if pending is not None:
            blocked = pending if blocked is None else blocked | pending
        fire, reason = self.triggers.fire(ctx, mode, sol.breach, blocked)

        unmet: BoolArray | None = None
        s = self.settings
        if fire.any():
            d = self.targets.desired_change(sol)
            x, unmet = self.targets.solve(ctx, sol, d, fire)
            self.order_book.open(fire, x, reason, s.min_trade(ctx, mode), marks,
                                 portfolio.positions)
        split = s.split_size(ctx, mode)
        lot = None
        if market.contract_size is not None:
            lot = np.asarray(market.contract_size, dtype=np.float64)[self.hedge_cols]
        child, child_reason = self.order_book.release(
            t_s, split, s.split_every_s(ctx, mode) if not _is_nan(split) else 0.0, marks, lot)
        refused = self._refused0
        est: FloatArray | None = None
        any_orders = bool(child_reason.any())
        if any_orders and (self.costs.active or self.gate.active):
            child, child_reason, refused, est = self._limits(ctx, mode, portfolio, child,
                                                             child_reason)
            any_orders = bool(child_reason.any())

        limit = None
        if self._has_limit:
            limit = self._limit_price(ctx, mode, child, marks)
        return Decision(
            t_s=t_s, hedge_orders=child, hedge_cols=self.hedge_cols, limit_price=limit,
            reason=child_reason, triggered=fire, mode=mode,
            halted=self.halted.copy() if self.halts else self.halted, refused=refused,
            unmet_rows=unmet, rows=sol, est_cost=est, any_orders=any_orders, marks=marks,
            children=self.order_book.children,
            order_seq=self.order_book.ids.seq() if any_orders else None,
        )

    def _limits(self, ctx: StepContext, mode: Any, portfolio: PortfolioView, child: FloatArray,
                reason: NDArray[np.int8]) -> tuple[FloatArray, NDArray[np.int8],
                                                   NDArray[np.int16], FloatArray]:
        """Cost limits then the risk gate on this step's children (hedge space in and out)."""
        full = np.zeros((self.batch, self.layout.n_instruments), order="F")
        full[:, self.hedge_cols] = child
        full, refused, est = self.costs.apply(ctx, mode, full)
        # "max funding" only clips legs; every other cost limit and every risk limit stops
        # the path's orders for this step.
        stop = (refused != 0) & (refused != self._max_funding_code)
        if self.gate.active:
            recent = None
            if self.order_counts is not None:
                recent = self.order_counts.total(ctx.t_s, self.gate.max_orders[1])  # type: ignore[index]
            kids = self.order_book.children
            code = self.gate.check(portfolio.positions, full, ctx.marks, portfolio.equity, est,
                                   recent,
                                   None if kids is None else kids.sum(axis=1),
                                   ctx.market.margin(), portfolio.coin)
            refused = np.where(code != 0, code, refused).astype(np.int16)
            stop |= code != 0
        child = full[:, self.hedge_cols]
        if stop.any():
            child = np.where(stop[:, None], 0.0, child)
            est = np.where(stop, 0.0, est)
            self.order_book.cancel(stop)
        has = any_rows(child)
        reason = (reason * has.view(np.int8)).astype(np.int8)
        return child, reason, refused, est

    def _limit_price(self, ctx: StepContext, mode: Any, child: FloatArray, marks: Marks
                     ) -> FloatArray:
        """Mid moved by ``max slippage`` against the order; nan where there is no order or no
        limit on that path (a mode may set one where the base costs have none)."""
        slip = np.asarray(self._slip(ctx, mode), dtype=np.float64)
        s = slip[:, None] if slip.ndim else slip
        price = marks.price[:, self.hedge_cols]
        out = price * (1.0 + np.sign(child) * s)
        return np.where(child == 0.0, np.nan, out)

    def record(self, dec: Decision, fills: Fills) -> None:
        """Account for what happened to ``dec``: cooldowns, parents, budgets, order counts."""
        if not dec.any_orders:
            return
        if self.triggers.has_cooldown:
            self.triggers.traded(dec.t_s, fills.any_filled())
        self.order_book.filled(dec.hedge_orders, fills.qty)
        self.costs.spent(dec.t_s, fills.cost)
        if self.order_counts is not None:
            sent = dec.children if dec.children is not None else dec.hedge_orders != 0.0
            self.order_counts.add(dec.t_s, np.asarray(sent, dtype=np.float64).sum(axis=1))

    def sent(self, dec: Decision) -> None:
        """``dec``'s children went out and their fills will come through :meth:`report_fill`
        (instead of :meth:`record`): the orders count now, the rows wait for the fills."""
        if not dec.any_orders:
            return
        self.order_book.sent(dec.hedge_orders)
        if self.order_counts is not None:
            sent = dec.children if dec.children is not None else dec.hedge_orders != 0.0
            self.order_counts.add(dec.t_s, np.asarray(sent, dtype=np.float64).sum(axis=1))

    def report_fill(self, row: int, leg: int, order: Any, qty: float, cost: float,
                    t_s: float, final: bool = True) -> bool:
        """A fill of order ``order`` = ``(parent, child)`` (from ``Decision.order_ids``) on
        ``(row, hedge leg)``: ``qty`` filled now (signed, may be 0), ``cost`` paid for it
        (numeraire), at ``t_s``; ``final`` when the venue will fill no more of it. Returns
        whether it was the row's child in flight (False: an older order, only its cost and
        cooldown are booked)."""
        parent, child = (int(x) for x in order)
        live = self.order_book.report(row, leg, (parent, child), float(qty), final)
        if cost:
            c = np.zeros(self.batch)
            c[row] = cost
            self.costs.spent(t_s, c)
        if qty != 0.0 and self.triggers.has_cooldown:
            mask = np.zeros(self.batch, dtype=bool)
            mask[row] = True
            self.triggers.traded(t_s, mask)
        return live

    # ------------------------------------------------------------------ names

    def refusal_counts(self, refused: NDArray[np.int16]) -> dict[str, int]:
        """Count refusals by limit name in an array of codes."""
        counts = np.bincount(refused.ravel(), minlength=len(self.refusal_names))
        return {self.refusal_names[i]: int(n) for i, n in enumerate(counts) if i and n}


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and v != v
