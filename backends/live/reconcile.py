"""Venue truth against the journal: settle open rows, account fills, explain positions.

Run on start, after any ``unknown`` outcome, and every N steps (``live.md``):

1. :func:`settle_rows`: every non-final journal row is looked up by client id. Found: the
   venue's state is taken (an order still open is cancelled: rebal's orders are IOC, a
   resting one is left over from a crash; but one the adapter says may still rest, a
   solver's intent before its ``validTo``, stays unsettled until it fills or expires). Absent: when it was never sent, or its last
   request is older than the grace period (no longer in flight), it never reached the venue;
   it is closed as ``expired`` and **not** re-sent (its decision is stale; the kernel decides
   afresh). A lookup that fails leaves the row as it is, to be settled next time.
2. :func:`account_steps`: a step whose rows are all final and not yet accounted has its
   fills handed to the kernel (parents, budgets, cooldowns, order counts), exactly once.
3. :func:`strays`: owned positions minus what the journal explains (baseline + fills). A
   difference beyond the venue's amount step is a stray, handled by ``on_stray``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from rebal.compiler import ir

from .adapter import Adapter, Rejected, Snapshot, Transient
from .driver import KernelDriver
from .execution import apply_status, rest_s
from .journal import Journal, JournalOrder

__all__ = ["Stray", "account_steps", "close", "fill_cost", "settle_rows", "strays", "tolerance"]

log = logging.getLogger("rebal.live")


def settle_rows(adapter: Adapter, journal: Journal, grace_s: float = 15.0) -> int:
    """Settle every non-final row against the venue; the number still unsettled. A row the
    venue does not show is closed only when it was never sent (``intent``) or its last request
    is older than ``grace_s`` (it may still be in flight at the venue until then)."""
    left = 0
    now = time.time()
    for row in journal.orders(final=False):
        try:
            st = adapter.lookup(row.client_id)
        except (Transient, Rejected) as exc:
            log.warning("reconcile: lookup of %s failed (%s); it stays %s", row.client_id,
                        exc, row.state)
            left += 1
            continue
        if st is None:
            if row.state != "intent" and now - row.updated_s < grace_s:
                left += 1  # its request may still be in flight: look again later
                continue
            journal.update(row.client_id, state="expired",
                           reason="never reached the venue (not found by client id); "
                                  "not re-sent, the kernel decides afresh")
            journal.event("reconcile", f"{row.client_id}: not at the venue; closed as expired")
            continue
        apply_status(journal, st)
        if not st.final and (rest_s(adapter, st) or 0.0) > 0.0:
            left += 1  # still resting at the venue until its validity ends: not cancelled
            continue
        if not st.final:
            try:
                done = adapter.cancel(row.client_id)
            except (Transient, Rejected) as exc:
                log.warning("reconcile: cancel of %s failed (%s)", row.client_id, exc)
                left += 1
                continue
            if done is not None:
                apply_status(journal, done)
            if done is None or not done.final:
                left += 1
                continue
        journal.event("reconcile", f"{row.client_id}: venue says {st.state}, "
                                   f"filled {st.filled:g}")
    return left


def fill_cost(row: JournalOrder) -> float:
    """Fees plus slippage against the decision's mid, numeraire (positive: paid)."""
    slip = 0.0
    if row.avg_price is not None and row.mid is not None and row.filled:
        slip = (row.avg_price - row.mid) * row.filled
    return row.fee + slip


def account_steps(journal: Journal, driver: KernelDriver) -> list[int]:
    """Hand the fills of every settled, unaccounted step to the kernel; the steps done."""
    by_step: dict[int, list[JournalOrder]] = defaultdict(list)
    for row in journal.orders():
        if not row.accounted:
            by_step[row.step].append(row)
    done = []
    for step in sorted(by_step):
        rows = by_step[step]
        if not all(r.final for r in rows):
            continue
        summary = journal.step_summary(step)
        if summary is None:
            continue
        filled: dict[int, float] = defaultdict(float)
        cost: dict[int, float] = defaultdict(float)
        for r in rows:
            filled[r.leg] += r.filled
            cost[r.leg] += fill_cost(r)
        driver.report(summary, filled, cost)
        with journal.transaction() as db:
            db.execute("UPDATE orders SET accounted = 1 WHERE step = ?", (step,))
        journal.save_kernel_state(step, driver.save())
        done.append(step)
    return done


@dataclass(frozen=True)
class Stray:
    """An owned position the journal does not explain (in venue units when ``venue_units``)."""

    instrument: str
    expected: float
    actual: float
    venue_units: bool = False

    @property
    def difference(self) -> float:
        return self.actual - self.expected


def tolerance(snap: Snapshot, instrument: str) -> float:
    """Half the venue's amount step (a relative 1e-9 when it states none)."""
    meta = snap.meta.get(instrument)
    step = meta.qty_step if meta is not None else 0.0
    return step / 2 if step > 0 else 1e-9


def close(expected: float, actual: float, tol: float) -> bool:
    return abs(actual - expected) <= max(tol, 1e-9 * max(1.0, abs(expected)))


def strays(strategy: ir.Strategy, venue: ir.Venue, snap: Snapshot, journal: Journal,
           baseline: Mapping[str, float], baseline_venue: Mapping[str, float]) -> list[Stray]:
    """Owned derivative positions that differ from the baseline + journal fills: in the
    venue's own order units where it reports them (exact), else in underlying units."""
    fills = journal.filled_by_instrument()
    vfills = journal.filled_by_instrument(venue_units=True)
    out = []
    for name in strategy.owns:
        inst = strategy.instrument(name)
        if inst.kind in ("spot", "cash") or name not in venue.symbols:
            continue  # balances are capital, not exposure: adopted, never stray
        if name in snap.venue_positions:
            expected = float(baseline_venue.get(name, 0.0)) + vfills.get(name, 0.0)
            actual = float(snap.venue_positions[name])
            if not close(expected, actual, 1e-9):
                out.append(Stray(name, expected, actual, venue_units=True))
            continue
        expected = float(baseline.get(name, 0.0)) + fills.get(name, 0.0)
        actual = float(snap.positions.get(name, 0.0))
        if not close(expected, actual, tolerance(snap, name)):
            out.append(Stray(name, expected, actual))
    return out
