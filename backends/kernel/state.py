"""What the kernel remembers between steps, as plain versioned data that survives a restart.

```python
data = kernel.save_state()      # JSON-serialisable dict, "state_version" 1
kernel.restore_state(data)      # the same kernel (strategy, layout, batch) continues exactly
```

The memory lives in the components that use it (planner halts and equity peak, trigger
clocks, the order book's parents, the rolling budget and order-count windows, the price
history); :class:`KernelState` gathers one batch row of it, :class:`SharedClock` the few
times every row shares (the last observation, the last release, the newest bucket of each
rolling window). A saved state holds every row (``rows[b]``; a live kernel has one), and
restores only into a kernel of the same strategy name, layout and batch size: anything else
is a ``ValueError`` naming the mismatch.

Times are stored absolute, unix seconds (the kernel's ``t_s`` plus ``layout.epoch_s``), so no
stored time changes meaning when a process with another epoch restores it; "never" (the
kernel's minus infinity) is ``None``. Restoring into the same epoch gives back the same
floats; across epochs a time is exact to the float rounding of ``t + epoch - epoch'``, and a
rolling window's buckets keep their absolute start (exact when the epochs differ by a whole
number of bucket widths, within one bucket otherwise). Derived values (the log of the last
spot, whether any parent is pending, whether any row is blocked) are recomputed, not stored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .planner import Kernel

__all__ = ["STATE_VERSION", "KernelState", "SharedClock", "restore_state", "save_state"]

STATE_VERSION = 1


@dataclass
class KernelState:
    """Everything the kernel remembers about one batch row between steps (times: unix s)."""

    halted: bool = False  # a `halt when` fired (sticky until `resume`)
    stopped: bool = False  # stopped for good (e.g. liquidated)
    equity_peak: float | None = None  # running peak of the strategy's equity (None: none yet)
    last_decision_t: float | None = None  # `every` counts from it
    last_fill_t: float | None = None  # `cooldown` counts from it
    parent: list[float] = field(default_factory=list)  # per hedge leg: still to release
    parent_reason: int = 0  # REASONS code of the open parent
    split_started: bool = False  # the open parent has released a child (later ones: "split")
    last_child_t: float | None = None
    parent_seq: int = 0  # order ids: the last parent's sequence number (0: none yet)
    child_seq: int = -1  # and the index of its last child released
    in_flight: list[float] = field(default_factory=list)  # per leg: sent, not final
    flight_filled: list[float] = field(default_factory=list)  # filled so far of those
    flight_id: list[int] = field(default_factory=lambda: [-1, -1])  # (parent, child) in flight
    budget_spent: list[float] = field(default_factory=list)  # budget buckets, newest first
    orders_sent: list[float] = field(default_factory=list)  # max-orders buckets, newest first
    last_spot: list[float] | None = None  # per asset, the newest observation
    returns: list[list[float]] = field(default_factory=list)  # per realized-vol window: r^2
    return_sums: list[float] = field(default_factory=list)  # their running sums
    coin_origin: list[float] | None = None  # per asset: collateral coin (coins.CoinOrigin)
    coin_origin_spot: list[float] | None = None  # per asset: the index at the origin


@dataclass
class SharedClock:
    """The times all rows share (unix s; None: not yet)."""

    observed_t: float | None = None
    released_t: float | None = None
    budget_head_t: float | None = None
    orders_head_t: float | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)  # realized-vol window times


def _abs(t: float | None, epoch: float) -> float | None:
    return None if t is None or not math.isfinite(t) else float(t) + epoch


def _rel(t: float | None, epoch: float, never: float | None = -math.inf) -> Any:
    return never if t is None else float(t) - epoch


def _signature(kernel: Kernel) -> dict[str, Any]:
    """What a state's arrays are laid out by: a state restores only where this is equal."""
    lay = kernel.layout
    return {
        "strategy": kernel.strategy.name,
        "instruments": list(lay.instruments),
        "assets": list(lay.assets),
        "hedge": [lay.instruments[int(c)] for c in kernel.hedge_cols],
        "windows": [[lay.assets[a], w] for a, w in kernel.history.rolling],
        "budget_buckets": None if kernel.costs.budget is None else kernel.costs.budget.n,
        "order_buckets": None if kernel.order_counts is None else kernel.order_counts.n,
    }


def save_state(kernel: Kernel) -> dict[str, Any]:
    """The kernel's memory as plain data (see the module docstring)."""
    epoch = kernel.layout.epoch_s
    b = kernel.batch
    rows = [KernelState() for _ in range(b)]
    clock = SharedClock(observed_t=_abs(kernel.history.last_t, epoch))
    trig = kernel.triggers.get_state()
    released, book = kernel.order_book.get_state()
    clock.released_t = _abs(released, epoch)
    budget = order_counts = None
    if kernel.costs.budget is not None:
        head, budget = kernel.costs.budget.get_state()
        clock.budget_head_t = _abs(head, epoch)
    if kernel.order_counts is not None:
        head, order_counts = kernel.order_counts.get_state()
        clock.orders_head_t = _abs(head, epoch)
    windows = []
    for rv in kernel.history.rolling.values():
        shared, per_row = rv.get_state()
        clock.windows.append({"starts": [s + epoch for s in shared["starts"]],
                              "capacity": shared["capacity"],
                              "since_exact": shared["since_exact"],
                              "t_end": shared["t_end"] + epoch})
        windows.append(per_row)
    spot = kernel.history.last_spot
    for r, row in enumerate(rows):
        row.halted = bool(kernel.halted[r])
        row.stopped = bool(kernel.stopped[r])
        peak = float(kernel.peak[r])
        row.equity_peak = peak if math.isfinite(peak) else None
        row.last_decision_t = _abs(float(trig["last_fire"][r]), epoch)
        row.last_fill_t = _abs(float(trig["last_trade"][r]), epoch)
        row.parent = [float(x) for x in book["parent"][r]]
        row.parent_reason = int(book["parent_reason"][r])
        row.split_started = bool(book["split_started"][r])
        row.last_child_t = _abs(float(book["last_child"][r]), epoch)
        row.parent_seq = int(book["parent_seq"][r])
        row.child_seq = int(book["child_seq"][r])
        row.in_flight = [float(x) for x in book["in_flight"][r]]
        row.flight_filled = [float(x) for x in book["flight_filled"][r]]
        row.flight_id = [int(x) for x in book["flight_id"][r]]
        if budget is not None:
            row.budget_spent = [float(x) for x in budget[r]]
        if order_counts is not None:
            row.orders_sent = [float(x) for x in order_counts[r]]
        if spot is not None:
            row.last_spot = [float(x) for x in np.asarray(spot)[r]]
        row.returns = [[float(x) for x in w["r2"][r]] for w in windows]
        row.return_sums = [float(w["sum"][r]) for w in windows]
        origin = kernel.coin_origin
        if origin is not None and origin.known[r]:
            row.coin_origin = [float(x) for x in origin.origin[r]]
        if origin is not None and origin.priced[r]:
            row.coin_origin_spot = [float(x) for x in origin.spot[r]]
    return {"state_version": STATE_VERSION, "layout": _signature(kernel), "batch": b,
            "clock": asdict(clock), "rows": [asdict(r) for r in rows]}


def restore_state(kernel: Kernel, data: Any) -> None:
    """Put ``data`` (from :func:`save_state`) back into ``kernel``; ValueError says why not."""
    if not isinstance(data, dict) or "state_version" not in data:
        raise ValueError("not a kernel state: expected a dict with a 'state_version'")
    if data["state_version"] != STATE_VERSION:
        raise ValueError(f"kernel state version {data['state_version']!r} is not supported "
                         f"(this rebal reads version {STATE_VERSION})")
    want = _signature(kernel)
    got = data.get("layout", {})
    if got.get("strategy") != want["strategy"]:
        raise ValueError(f"the kernel state is of strategy {got.get('strategy')!r}, "
                         f"not {want['strategy']!r}")
    for key, value in want.items():
        if got.get(key) != value:
            raise ValueError(f"the kernel state was saved with another layout: {key} "
                             f"{got.get(key)!r}, this strategy has {value!r}")
    if data.get("batch") != kernel.batch or len(data.get("rows", ())) != kernel.batch:
        raise ValueError(f"the kernel state holds {data.get('batch')!r} rows, "
                         f"this kernel has {kernel.batch}")
    try:
        _restore(kernel, SharedClock(**data["clock"]),
                 [KernelState(**r) for r in data["rows"]])
    except (TypeError, KeyError) as exc:
        raise ValueError(f"malformed kernel state: {exc}") from None


def _restore(kernel: Kernel, clock: SharedClock, rows: list[KernelState]) -> None:
    epoch = kernel.layout.epoch_s
    kernel.halted[:] = [r.halted for r in rows]
    kernel.stopped[:] = [r.stopped for r in rows]
    kernel.peak[:] = [-math.inf if r.equity_peak is None else r.equity_peak for r in rows]
    kernel.triggers.set_state({
        "last_fire": np.array([_rel(r.last_decision_t, epoch) for r in rows]),
        "last_trade": np.array([_rel(r.last_fill_t, epoch) for r in rows])})
    h = kernel.hedge_cols.size
    kernel.order_book.set_state(_rel(clock.released_t, epoch, None), {
        "parent": np.array([r.parent for r in rows], dtype=np.float64).reshape(len(rows), h),
        "parent_reason": np.array([r.parent_reason for r in rows]),
        "split_started": np.array([r.split_started for r in rows]),
        "last_child": np.array([_rel(r.last_child_t, epoch) for r in rows]),
        "parent_seq": np.array([r.parent_seq for r in rows]),
        "child_seq": np.array([r.child_seq for r in rows]),
        "in_flight": np.array([r.in_flight or [0.0] * h for r in rows]),
        "flight_filled": np.array([r.flight_filled or [0.0] * h for r in rows]),
        "flight_id": np.array([r.flight_id for r in rows])})
    if kernel.costs.budget is not None:
        kernel.costs.budget.set_state(_rel(clock.budget_head_t, epoch, None),
                                      np.array([r.budget_spent for r in rows]))
    if kernel.order_counts is not None:
        kernel.order_counts.set_state(_rel(clock.orders_head_t, epoch, None),
                                      np.array([r.orders_sent for r in rows]))
    for j, rv in enumerate(kernel.history.rolling.values()):
        w = clock.windows[j]
        rv.set_state({"starts": [s - epoch for s in w["starts"]], "capacity": w["capacity"],
                      "since_exact": w["since_exact"], "t_end": w["t_end"] - epoch},
                     {"r2": np.array([r.returns[j] for r in rows], dtype=np.float64),
                      "sum": np.array([r.return_sums[j] for r in rows], dtype=np.float64)})
    spot = None
    if rows and rows[0].last_spot is not None:
        spot = np.asfortranarray([r.last_spot for r in rows], dtype=np.float64)
    kernel.history.set_last(_rel(clock.observed_t, epoch, None), spot)
    if kernel.coin_origin is not None:
        for r, row in enumerate(rows):
            kernel.coin_origin.known[r] = row.coin_origin is not None
            if row.coin_origin is not None:
                kernel.coin_origin.origin[r] = row.coin_origin
            # a state saved before the origin's index was kept prices it at the next step
            kernel.coin_origin.priced[r] = row.coin_origin_spot is not None
            if row.coin_origin_spot is not None:
                kernel.coin_origin.spot[r] = row.coin_origin_spot
    kernel.refresh_blocked()
