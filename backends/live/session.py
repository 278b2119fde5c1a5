"""One live (strategy, venue): snapshot, decide, journal, send, account, verify.

A :class:`LiveSession` owns the kernel driver, the journal and the adapter of one pair; the
``plan``, ``apply`` and ``run`` commands are thin loops over it:

* :meth:`start` restores the kernel's state from the journal (or warms its price history
  from the venue's OHLCV on a first start), takes the baseline, and reconciles;
* :meth:`decide` runs the kernel on a snapshot (nothing is written: ``plan`` stops here);
* :meth:`execute` journals the step's orders together with the kernel's state in one
  transaction, sends them (:mod:`.execution`), hands the fills to the kernel, saves its
  state, then re-reads the venue and verifies positions = before + fills (a mismatch halts
  with both numbers: never hedge blind);
* :meth:`step` is one iteration of ``run``: reconcile when something is unsettled, decide,
  execute (or only persist the state when there is nothing to send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rebal.compiler import ir

from .adapter import Adapter, AdapterError, OrderRequest, Snapshot
from .driver import KernelDriver, OrderPlan, StepDecision
from .execution import RetryPolicy, send_order
from .ids import client_id
from .journal import Journal
from .reconcile import Stray, account_steps, close, settle_rows, strays, tolerance

__all__ = ["LiveSession", "StepResult"]

log = logging.getLogger("rebal.live")

#: Price history read at a first start, per realized_vol window: this many windows of candles.
_HISTORY_WINDOWS = 2
_TIMEFRAME_S = 300.0
#: Reconcile (venue orders and positions against the journal) at least every this many steps.
RECONCILE_EVERY = 10


@dataclass
class StepResult:
    """What one step did."""

    decision: StepDecision | None
    sent: list[str] = field(default_factory=list)
    unsettled: int = 0
    halted: str | None = None
    messages: list[str] = field(default_factory=list)


class LiveSession:
    """The live layer for one (strategy, venue) pair."""

    def __init__(self, strategy: ir.Strategy, venue: ir.Venue, adapter: Adapter,
                 journal: Journal, *, ir_hash: str, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.strategy = strategy
        self.venue = venue
        self.adapter = adapter
        self.journal = journal
        self.ir_hash = ir_hash
        self.policy = policy or RetryPolicy()
        self.driver = KernelDriver(strategy, venue)
        self.on_stray = str(getattr(venue.config, "on_stray", "halt"))
        self._clock = clock
        self._since_reconcile = 0

    # ------------------------------------------------------------------ start

    def start(self) -> Snapshot:
        """Restore, warm up, take the baseline, reconcile; the snapshot it ends with."""
        last = self.journal.last_step()
        if last is not None:
            self.driver.restore(last[2])
        else:
            self._warm_up()
        snap = self.reconcile()
        return snap

    def _warm_up(self) -> None:
        windows = self.driver.kernel.history.windows()
        if not windows:
            return
        longest = max(w for _, w in windows)
        now = self._now()
        since = now - _HISTORY_WINDOWS * longest
        candles = {}
        for a in {self.driver.layout.assets[i] for i, _ in windows}:
            candles[a] = list(self.adapter.history(a, since, _TIMEFRAME_S))
        self.driver.warm_up(candles)

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return float(self.adapter.snapshot().time_s)

    # ------------------------------------------------------------------ reconcile

    def baseline(self, snap: Snapshot) -> dict[str, float]:
        """Positions the journal started from: balances adopted, derivatives from zero."""
        base = self.journal.meta("baseline")
        if base is None:
            base = {}
            for name in self.strategy.owns:
                if self.strategy.instrument(name).kind in ("spot", "cash"):
                    base[name] = float(snap.positions.get(name, 0.0))
            self.journal.set_meta("baseline", base)
        return {k: float(v) for k, v in base.items()}

    def unsettled(self) -> int:
        return len(self.journal.orders(final=False))

    def reconcile(self) -> Snapshot:
        """Settle the journal against the venue, account fills, handle strays."""
        left = settle_rows(self.adapter, self.journal, self.policy.unknown_grace_s)
        account_steps(self.journal, self.driver)
        snap = self.adapter.snapshot()
        if left:
            log.warning("reconcile: %d order(s) still unsettled; no new orders until they are",
                        left)
            return snap
        found = strays(self.strategy, self.venue, snap, self.journal, self.baseline(snap),
                       self._meta_map("baseline_venue"))
        if found:
            self._handle_strays(found)
        return snap

    def _handle_strays(self, found: list[Stray]) -> None:
        text = "; ".join(f"{s.instrument}: venue {s.actual:g}, journal explains {s.expected:g}"
                         + (" (venue units)" if s.venue_units else "") for s in found)
        if self.on_stray == "halt":
            self.journal.halt(f"stray position ({text}); on_stray halt")
            log.error("stray position: %s; halted (on_stray halt)", text)
            return
        base, vbase = self._meta_map("baseline"), self._meta_map("baseline_venue")
        for s in found:
            target = vbase if s.venue_units else base
            target[s.instrument] = target.get(s.instrument, 0.0) + s.difference
        self.journal.set_meta("baseline", base)
        self.journal.set_meta("baseline_venue", vbase)
        self.journal.event("stray", f"adopted: {text}")
        log.warning("stray position adopted: %s", text)
        if self.on_stray == "flatten":
            self._flatten(found)

    def _meta_map(self, key: str) -> dict[str, float]:
        return {k: float(v) for k, v in (self.journal.meta(key) or {}).items()}

    def _flatten(self, found: list[Stray]) -> None:
        """on_stray flatten: close each adopted stray with a reduce-only IOC order."""
        snap = self.adapter.snapshot()
        seq = self.journal.next_step()
        orders = []
        for j, s in enumerate(found):
            mid = float(snap.mid.get(s.instrument, 0.0)) or None
            qty = s.difference
            if s.venue_units:  # the stray in underlying units, at today's conversion
                v = float(snap.venue_positions.get(s.instrument, 0.0))
                qty *= float(snap.positions.get(s.instrument, 0.0)) / v if v else 0.0
            orders.append(OrderPlan(
                client_id=client_id(self.ir_hash, self.venue.name, seq, 90 + j),
                instrument=s.instrument, symbol=self.venue.symbols[s.instrument], leg=90 + j,
                child=0, qty=-qty, limit_price=None, mid=mid or 0.0, est_cost=0.0,
                reduce_only=True))
        summary = {"seq": seq, "t_s": snap.time_s, "reason": "flatten", "orders":
                   [o.as_row() for o in orders], "hedge_qty": [], "children": []}
        self.journal.record_step(seq, snap.time_s, self.driver.save(), summary,
                                 [o.as_row() for o in orders])
        for o in orders:
            send_order(self.adapter, self.journal, _request(o), self.policy)
        with self.journal.transaction() as db:
            db.execute("UPDATE orders SET accounted = 1 WHERE step = ?", (seq,))
        self.journal.event("stray", f"flattened with step {seq}")

    # ------------------------------------------------------------------ the step

    def decide(self, snap: Snapshot, seq: int | None = None) -> StepDecision:
        """The kernel's decision on ``snap`` (nothing journaled or sent)."""
        n = self.journal.next_step() if seq is None else seq
        return self.driver.decide(
            snap, n, lambda s, leg, child: client_id(self.ir_hash, self.venue.name, s, leg,
                                                     child))

    def venue_view(self, d: StepDecision) -> list[dict[str, Any]] | None:
        """What the venue would be sent for ``d``'s orders, for a reviewer (nothing sent):
        the adapter's optional ``plan_view`` (the solver's signed intents), else None."""
        view = getattr(self.adapter, "plan_view", None)
        if not d.orders or not callable(view):
            return None
        return list(view([_request(o) for o in d.orders]))

    def execute(self, d: StepDecision, orders: tuple[OrderPlan, ...] | None = None
                ) -> StepResult:
        """Journal ``d`` (its orders, or ``orders`` from a reviewed plan) with the kernel's
        state, send, account and verify."""
        to_send = d.orders if orders is None else orders
        res = StepResult(d)
        self.driver.sent(d)
        self.journal.record_step(d.seq, d.t_s, self.driver.save(), d.summary(),
                                 [o.as_row() for o in to_send])
        if d.halted:
            self.journal.halt("a `halt when` condition of the spec holds")
            res.halted = self.journal.active_halt()
        for o in to_send:
            send_order(self.adapter, self.journal, _request(o), self.policy)
            res.sent.append(o.client_id)
        account_steps(self.journal, self.driver)
        res.unsettled = self.unsettled()
        if to_send and not res.unsettled:
            self._verify(d, res)
        if self.journal.active_halt():
            res.halted = self.journal.active_halt()
        return res

    def _verify(self, d: StepDecision, res: StepResult) -> None:
        """Positions after = positions before + fills: exactly in the venue's own order units
        where it reports them, else in underlying units to the venue's amount step."""
        snap = self.adapter.snapshot()
        fills: dict[str, float] = {}
        vfills: dict[str, float] = {}
        for row in self.journal.orders(step=d.seq):
            fills[row.instrument] = fills.get(row.instrument, 0.0) + row.filled
            vfills[row.instrument] = vfills.get(row.instrument, 0.0) + (row.venue_filled or 0.0)
        bad = []
        for name, q in fills.items():
            if name in d.venue_positions and name in snap.venue_positions:
                before, fill = d.venue_positions[name], vfills[name]
                actual, tol, unit = float(snap.venue_positions[name]), 1e-9, " venue units"
            else:
                before, fill = d.positions.get(name, 0.0), q
                actual, tol, unit = (float(snap.positions.get(name, 0.0)),
                                     tolerance(snap, name), "")
            if not close(before + fill, actual, tol):
                bad.append(f"{name}: expected {before + fill:g}{unit} (before {before:g} + "
                           f"fills {fill:g}), venue shows {actual:g}")
        if bad:
            msg = "positions after the fills do not match the journal: " + "; ".join(bad)
            self.journal.halt(msg)
            log.error("%s; halted", msg)
            res.messages.append(msg)

    def step(self) -> StepResult:
        """One iteration of ``run``. A venue that fails mid-step (a snapshot that times out)
        ends the step with a log line; the next step reconciles before deciding."""
        try:
            res = self._step()
        except AdapterError as exc:
            self._since_reconcile = RECONCILE_EVERY
            log.warning("step stopped by a venue error (%s); reconciling at the next step", exc)
            return StepResult(None, messages=[f"venue error: {exc}"])
        self._since_reconcile += 1
        return res

    def _step(self) -> StepResult:
        if self._since_reconcile >= RECONCILE_EVERY:
            self.reconcile()
            self._since_reconcile = 0
        if self.unsettled():
            self.reconcile()
            if self.unsettled():
                return StepResult(None, unsettled=self.unsettled(),
                                  messages=["waiting for unsettled orders"])
        halt = self.journal.active_halt()
        if halt is not None:  # nothing is decided while halted: the state stays as saved
            return StepResult(None, halted=halt)
        snap = self.adapter.snapshot()
        d = self.decide(snap)
        if not d.orders:
            self.journal.record_step(d.seq, d.t_s, self.driver.save(), d.summary())
            res = StepResult(d)
            if d.halted:
                self.journal.halt("a `halt when` condition of the spec holds")
                res.halted = self.journal.active_halt()
            return res
        return self.execute(d)

    def resume(self) -> str | None:
        """Operator action: clear the halt in the journal and in the kernel's state."""
        reason = self.journal.clear_halt()
        self.driver.kernel.resume()
        last = self.journal.last_step()
        if last is not None:
            self.journal.save_kernel_state(last[0], self.driver.save())
        return reason


def _request(o: OrderPlan) -> OrderRequest:
    return OrderRequest(client_id=o.client_id, instrument=o.instrument, qty=o.qty,
                        limit_price=o.limit_price, reduce_only=o.reduce_only,
                        ref_price=o.mid if o.mid > 0 else None)
