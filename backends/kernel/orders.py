"""From desired trades to child orders: min trade, split, rolling budget, cost limits.

A decision opens a *parent* order per path and instrument (the whole trade). Each step the
parent releases *children*: without ``split`` the whole remainder at once; with ``split SIZE
every PERIOD`` children of at most SIZE, one per PERIOD, so a step longer than the period
releases ``floor(step / period)`` of them at that step. Fills reduce the parent; a child that
gets no fill at all (or is refused) cancels its parent, and the triggers decide afresh.

Order ids. Every parent a row opens gets the row's next *parent sequence number* (1, 2, ...)
and every release of it the next *child index* (0, 1, ...); a released leg's order is
``(parent, child)`` for its (row, hedge leg) (``Decision.order_ids``; the counters are kept in
``order_ids.py``, in a form cheap to update every step). The ids are part of the
kernel's state, so they stay unique across a restart.

Fills, now or later. ``Kernel.record(dec, fills)`` is the immediate case (the simulation, or
a venue that answered at once): every child of ``dec`` is final with the fills given.
``Kernel.sent(dec)`` instead says the children went out and their fills will be reported
(``Kernel.report_fill``), partially, late or never:

* while a row has a child *in flight* (sent, not final) it releases no further child and
  opens no new parent, so nothing is sent twice;
* each fill reduces the parent by its quantity (never past zero), books its cost into the
  rolling budget and starts the cooldown at the fill's time;
* a child is final when the venue says it is done (filled, cancelled, expired: an IOC child
  is final at once). When every leg of the release is final: if none got any fill, the
  parent is cancelled and the triggers decide afresh (as in the immediate case); a partial
  fill leaves the remainder in the parent, for the next child;
* a fill for an order that is no longer in flight (its parent was cancelled by a halt or a
  refusal) still books its cost and starts the cooldown; the position itself comes from the
  venue, not from the kernel.

``min trade`` applies when a parent opens: legs smaller than it (valued at the underlying's
spot) are dropped. The other cost rules act on children (see ``costs.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .order_ids import OrderIds
from .triggers import SPLIT
from .valuation import Marks

__all__ = ["OrderBook", "RollingBuckets"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_BUCKETS = 24
_TINY = 1e-12
_DUST = 1e-9  # trades this small relative to the position are rounding noise


class RollingBuckets:
    """Per-path sums over trailing time windows, in a ring of fixed-width time buckets."""

    def __init__(self, batch: int, windows: tuple[float, ...]) -> None:
        self.width = min(windows) / _BUCKETS
        self.n = math.ceil(max(windows) / self.width) + 1
        self.buckets = np.zeros((batch, self.n))
        self.k: int | None = None

    def _advance(self, t_s: float) -> int:
        k = math.floor(t_s / self.width + 1e-9)
        if self.k is None:
            self.k = k
        elif k > self.k:
            if k - self.k >= self.n:
                self.buckets[:] = 0.0
            else:
                for j in range(self.k + 1, k + 1):
                    self.buckets[:, j % self.n] = 0.0
            self.k = k
        return self.k

    def get_state(self) -> tuple[float | None, FloatArray]:
        """The newest bucket's start time (None before any use) and the buckets newest
        first, ``(B, n)``, for :mod:`.state`."""
        if self.k is None:
            return None, np.zeros_like(self.buckets)
        lags = (self.k - np.arange(self.n)) % self.n
        return self.k * self.width, self.buckets[:, lags].copy()

    def set_state(self, head_t: float | None, newest_first: FloatArray) -> None:
        if newest_first.shape != self.buckets.shape:
            raise ValueError(f"rolling window state has shape {newest_first.shape}, "
                             f"the kernel's is {self.buckets.shape}")
        if head_t is None:
            self.k = None
            self.buckets[:] = 0.0
            return
        self.k = math.floor(head_t / self.width + 1e-9)
        lags = (self.k - np.arange(self.n)) % self.n
        self.buckets[:, lags] = newest_first

    def add(self, t_s: float, values: FloatArray) -> None:
        k = self._advance(t_s)
        self.buckets[:, k % self.n] += values

    def total(self, t_s: float, window_s: Any) -> FloatArray:
        """Sum over the last ``window_s`` seconds (scalar or per path)."""
        k = self._advance(t_s)
        w = np.asarray(window_s, dtype=np.float64)
        if w.ndim == 0:
            n_one = min(math.ceil(float(w) / self.width - 1e-9), self.n)
            idx = (k - np.arange(max(n_one, 1))) % self.n
            one: FloatArray = self.buckets[:, idx].sum(axis=1)
            return one
        nw = np.minimum(np.ceil(w / self.width - 1e-9), self.n).astype(np.intp)
        lags = (k - np.arange(self.n)) % self.n
        cum = np.cumsum(self.buckets[:, lags], axis=1)
        per_row: FloatArray = cum[np.arange(w.size), np.maximum(nw, 1) - 1]
        return per_row


class OrderBook:
    """Pending parent orders per path and hedge instrument ``(B, H)``, and the child rule.

    Without any ``split`` (in the base costs or a mode) there is nothing to keep between steps:
    a decision's trade goes out whole as one immediate-or-cancel child and what does not fill
    is dropped. With ``split`` the parent persists until filled, refused or unfillable.
    """

    def __init__(self, hedge_cols: NDArray[np.intp], batch: int, splits: bool,
                 drop_dust: bool = True, step_s: float | None = None) -> None:
        self.hedge_cols = hedge_cols
        self.step_s = step_s  # the caller's decision interval, if it has a fixed one
        self.drop_dust = drop_dust
        self.batch = batch
        h = hedge_cols.size
        self.splits = splits
        self.parent = np.zeros((batch, h), order="F")
        self.parent_reason = np.zeros(batch, dtype=np.int8)
        self.started = np.zeros(batch, dtype=bool)
        self.last_child = np.full(batch, -np.inf)
        self.prev_t: float | None = None
        self.any_pending = False
        self._zero_child = np.zeros((batch, h), order="F")
        # child orders per leg in the last release (None: one per non-zero leg)
        self.children: FloatArray | None = None
        self._zero_reason = np.zeros(batch, dtype=np.int8)
        self.ids = OrderIds(batch)
        self.in_flight = np.zeros((batch, h))  # sent, not final, per leg
        self.flight_filled = np.zeros((batch, h))  # filled so far of the release in flight
        self.flight_id = np.full((batch, 2), -1, dtype=np.int64)  # (parent, child) in flight
        self.any_in_flight = False

    @property
    def parent_seq(self) -> NDArray[np.int64]:
        """The last parent's sequence number per row (0: none yet); read only."""
        return self.ids.parent_seq()

    def pending(self) -> BoolArray | None:
        """Paths with a parent still being worked or a child in flight (None: none at all)."""
        if not (self.any_pending or self.any_in_flight):
            return None
        busy = _any_cols(self.parent != 0.0)
        if self.any_in_flight:
            busy = busy | _any_cols(self.in_flight != 0.0)
        return busy

    # ------------------------------------------------------------------ late fills

    def sent(self, child: FloatArray) -> None:
        """The release ``child`` (the last one) went out; its fills will be reported."""
        rows = _any_cols(child != 0.0)
        self.in_flight = np.where(rows[:, None], child, self.in_flight)
        self.flight_filled = np.where(rows[:, None], 0.0, self.flight_filled)
        self.flight_id[rows, 0] = self.parent_seq[rows]
        self.flight_id[rows, 1] = self.ids.child_seq()[rows]
        self.any_in_flight = bool(self.in_flight.any())

    def report(self, row: int, leg: int, order: tuple[int, int], qty: float, final: bool) -> bool:
        """A fill (possibly 0) of order ``(parent, child)`` on ``(row, leg)``; True when it is
        the child in flight there (the parent is then reduced), False for an older order."""
        live = (int(self.flight_id[row, 0]), int(self.flight_id[row, 1])) == tuple(order) \
            and self.in_flight[row, leg] != 0.0
        if not live:
            return False
        if qty != 0.0 and int(self.parent_seq[row]) == order[0]:
            p = self.parent[row, leg]
            if p != 0.0 and np.sign(p) == np.sign(qty):
                rest = math.copysign(max(abs(p) - abs(qty), 0.0), p)
                self.parent[row, leg] = 0.0 if abs(rest) <= _TINY * (1.0 + abs(qty)) else rest
        self.flight_filled[row, leg] += qty
        if final:
            self.in_flight[row, leg] = 0.0
            if not self.in_flight[row].any():  # every leg of the release is final
                if not self.flight_filled[row].any() and int(self.parent_seq[row]) == order[0]:
                    self.parent[row] = 0.0  # no fill at all: the parent is cancelled
                self.flight_id[row] = -1
        self.any_pending = bool(self.parent.any())
        self.any_in_flight = bool(self.in_flight.any())
        return True

    def open(self, fire: BoolArray, trades: FloatArray, reason: NDArray[np.int8], min_trade: Any,
             marks: Marks, positions: FloatArray) -> None:
        """Make ``trades`` (hedge space, zero off ``fire``) the parent of every firing path,
        dropping legs below ``min_trade`` (numeraire, valued at the underlying's spot) or, with
        no min trade, rounding noise; ``positions`` are the current ``(B, I)`` positions."""
        if not (isinstance(min_trade, float) and min_trade == 0.0):
            mt = np.asarray(min_trade, dtype=np.float64)
            value = np.abs(trades) * marks.notional[:, self.hedge_cols]
            trades = np.where(value < (mt[:, None] if mt.ndim else mt), 0.0, trades)
        elif self.drop_dust:
            # A clock restoring a position already at its target leaves rounding noise.
            q = positions[:, self.hedge_cols]
            trades = np.where(np.abs(trades) <= _DUST * (1.0 + np.abs(q)), 0.0, trades)
        self.ids.open(fire)
        if not self.splits:
            self.parent = trades
            self.parent_reason = reason
            self.any_pending = True
            return
        f = fire[:, None]
        self.parent = np.where(f, trades, self.parent)
        self.parent_reason = np.where(fire, reason, self.parent_reason).astype(np.int8)
        self.started &= ~fire
        self.any_pending = bool(self.parent.any())

    def release(self, t_s: float, size_ccy: Any, every_s: Any, marks: Marks,
                lot: FloatArray | None = None) -> tuple[FloatArray, NDArray[np.int8]]:
        """Children due now ``(B, H)`` and their reason codes ``(B,)``; ``lot`` is the venue's
        contract size per hedge leg ``(H,)`` (None or 0: any size): children are whole lots,
        and a parent's remainder below one lot is dropped (it could never be sent)."""
        dt_step = (self.step_s or 0.0) if self.prev_t is None else t_s - self.prev_t
        self.prev_t = t_s
        self.children = None
        if not self.any_pending:
            return self._zero_child, self._zero_reason
        if not self.splits:
            child, reason = self.parent, self.parent_reason
            if lot is not None:
                child = _whole_lots(child, lot)
            self.parent = self._zero_child
            self.any_pending = False
            has = _any_cols(child != 0.0)
            self.ids.release(has)
            return child, reason * has.view(np.int8)
        if lot is not None:
            self.parent = np.where(np.abs(self.parent) < lot * (1.0 - 1e-9), 0.0, self.parent)
            self.any_pending = bool(self.parent.any())
        no_split = isinstance(size_ccy, float) and math.isnan(size_ccy)
        self.children = None
        if no_split:
            child = self.parent.copy()
        else:
            size = np.asarray(size_ccy, dtype=np.float64)
            every = np.asarray(every_s, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                since = np.floor((t_s - self.last_child + 1e-6) / every)
                per_step = np.maximum(np.floor(dt_step / every + 1e-9), 1.0)
            # since is +inf before the first child, so a fresh path gets per_step children.
            n = np.where(np.isnan(size) | (every <= 0), np.inf, np.minimum(since, per_step))
            budget = n * size
            with np.errstate(invalid="ignore"):
                budget = np.where(np.isnan(budget), np.inf, budget)
            notional = marks.notional[:, self.hedge_cols]
            lim = (budget[:, None] if budget.ndim else budget) / notional
            child = np.sign(self.parent) * np.minimum(np.abs(self.parent), lim)
            one = (size[:, None] if size.ndim else size) / notional  # units of one child
            with np.errstate(invalid="ignore", divide="ignore"):
                count = np.ceil(np.abs(child) / one - 1e-9)
            if lot is not None:
                child = _whole_lots(child, lot)
            self.children = np.where(np.isfinite(count), np.maximum(count, 1.0), 1.0) * (
                child != 0.0)
        if lot is not None and no_split:
            child = _whole_lots(child, lot)
        if self.any_in_flight:  # a row waits for its child in flight before the next
            child = np.where(_any_cols(self.in_flight != 0.0)[:, None], 0.0, child)
            if self.children is not None:
                self.children = np.where(child != 0.0, self.children, 0.0)
        has = _any_cols(child != 0.0)
        self.ids.release(has)
        reason = np.where(self.started, np.int8(SPLIT), self.parent_reason).astype(np.int8)
        reason *= has.view(np.int8)
        self.started |= has
        np.putmask(self.last_child, has, t_s)
        return child, reason

    def get_state(self) -> tuple[float | None, dict[str, Any]]:
        """The last release time and the per-row parents for :mod:`.state`."""
        rows = {"parent": np.array(self.parent, dtype=np.float64),
                "parent_reason": self.parent_reason.copy(), "split_started": self.started.copy(),
                "last_child": self.last_child.copy(), "parent_seq": self.parent_seq.copy(),
                "child_seq": self.ids.child_seq().copy(), "in_flight": self.in_flight.copy(),
                "flight_filled": self.flight_filled.copy(), "flight_id": self.flight_id.copy()}
        return self.prev_t, rows

    def set_state(self, prev_t: float | None, rows: dict[str, Any]) -> None:
        self.prev_t = prev_t
        self.parent = np.asfortranarray(rows["parent"], dtype=np.float64)
        self.parent_reason = np.asarray(rows["parent_reason"], dtype=np.int8).copy()
        self.started = np.asarray(rows["split_started"], dtype=bool).copy()
        self.last_child = np.asarray(rows["last_child"], dtype=np.float64).copy()
        self.ids.set(rows["parent_seq"], rows["child_seq"])
        self.in_flight = np.asarray(rows["in_flight"], dtype=np.float64).reshape(self.parent.shape)
        self.flight_filled = np.asarray(rows["flight_filled"], dtype=np.float64).reshape(
            self.parent.shape)
        self.flight_id = np.asarray(rows["flight_id"], dtype=np.int64).reshape(-1, 2)
        self.any_pending = bool(self.parent.any())
        self.any_in_flight = bool(self.in_flight.any())
        self.children = None

    def cancel(self, paths: BoolArray) -> None:
        """Drop the parents of ``paths`` (refused, halted, stopped)."""
        if self.any_pending and self.splits:
            self.parent = np.where(paths[:, None], 0.0, self.parent)
            self.any_pending = bool(self.parent.any())

    def filled(self, sent: FloatArray, qty: FloatArray) -> None:
        """Reduce parents by fills; a sent child with no fill at all cancels its parent."""
        if not (self.any_pending and self.splits):
            return
        rest = self.parent - qty
        rest[np.abs(rest) <= _TINY * (1.0 + np.abs(qty))] = 0.0
        dead = _any_cols(sent != 0.0) & ~_any_cols(qty != 0.0)
        self.parent = np.where(dead[:, None], 0.0, rest)
        self.any_pending = bool(self.parent.any())


def _whole_lots(qty: FloatArray, lot: FloatArray) -> FloatArray:
    """``qty`` rounded toward zero to whole multiples of ``lot`` (0: unchanged)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = qty / lot
    near = np.round(n)
    n = np.where(np.abs(n - near) < 1e-9, near, np.trunc(n))
    return np.where(lot > 0.0, n * lot, qty)


def _any_cols(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Row-wise any over a few columns, column by column (fast for F-ordered arrays)."""
    if mask.shape[1] == 1:
        return mask[:, 0]
    out = mask[:, 0] | mask[:, 1]
    for j in range(2, mask.shape[1]):
        out |= mask[:, j]
    return out
