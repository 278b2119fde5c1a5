"""Price history the kernel keeps itself: realized volatility over rolling windows.

``realized_vol(ASSET, WINDOW)`` is the annualised root mean square of the log returns observed
in the last WINDOW: ``sqrt(sum(r_k^2) / span_years)``, where the sum runs over returns whose
start lies inside the window and ``span`` is the time they cover (so a window that is not yet
full uses what it has). Until a first return is seen the market's implied (model) vol stands
in. Memory is bounded by the window, not by the run: a ring buffer per (asset, window).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .layout import SECONDS_PER_YEAR

__all__ = ["PriceHistory", "RollingVariance"]

FloatArray = NDArray[np.float64]
_EPS_S = 1e-6


class RollingVariance:
    """Sum of squared log returns over a trailing time window, per path, in a ring buffer."""

    def __init__(self, window_s: float, batch: int) -> None:
        self.window_s = float(window_s)
        self.batch = batch
        self._cap = 64
        self._r2 = np.zeros((self._cap, batch))
        self._start = np.zeros(self._cap)
        self._head = 0  # next write slot
        self._n = 0  # valid entries, oldest at (head - n) % cap
        self._sum = np.zeros(batch)
        self._since_exact = 0
        self._t_end = 0.0  # end of the newest return (meaningful once one was added)

    def _grow(self) -> None:
        order = (self._head - self._n + np.arange(self._n)) % self._cap
        r2, start = self._r2[order], self._start[order]
        self._cap *= 2
        self._r2 = np.zeros((self._cap, self.batch))
        self._start = np.zeros(self._cap)
        self._r2[: self._n], self._start[: self._n] = r2, start
        self._head = self._n

    def add(self, t_start: float, t_end: float, r2: FloatArray) -> None:
        """Add one return covering ``[t_start, t_end]`` and drop those older than the window."""
        if self._n == self._cap:
            self._grow()
        self._r2[self._head] = r2
        self._start[self._head] = t_start
        self._head = (self._head + 1) % self._cap
        self._n += 1
        self._sum += r2
        oldest = t_end - self.window_s - _EPS_S
        while self._n > 1:
            tail = (self._head - self._n) % self._cap
            if self._start[tail] >= oldest:
                break
            self._sum -= self._r2[tail]
            self._n -= 1
        self._since_exact += 1
        if self._since_exact >= self._cap:  # cancel the drift of running sums now and then
            idx = (self._head - self._n + np.arange(self._n)) % self._cap
            self._sum = self._r2[idx].sum(axis=0)
            self._since_exact = 0
        self._t_end = t_end

    def get_state(self) -> tuple[dict[str, Any], dict[str, FloatArray]]:
        """Shared (times, ring size) and per-row (squared returns oldest first, running sum)
        parts of the window, for :mod:`.state`."""
        idx = (self._head - self._n + np.arange(self._n)) % self._cap
        shared = {"starts": [float(x) for x in self._start[idx]], "capacity": self._cap,
                  "since_exact": self._since_exact,
                  "t_end": float(self._t_end)}
        return shared, {"r2": self._r2[idx].T.copy(), "sum": self._sum.copy()}

    def set_state(self, shared: dict[str, Any], rows: dict[str, FloatArray]) -> None:
        starts = np.asarray(shared["starts"], dtype=np.float64)
        n = starts.size
        cap = int(shared["capacity"])
        if cap < max(n, 1):
            raise ValueError("realized-vol window state holds more returns than its capacity")
        self._cap, self._n, self._head = cap, n, n % cap
        self._r2 = np.zeros((cap, self.batch))
        self._start = np.zeros(cap)
        self._r2[:n] = np.asarray(rows["r2"], dtype=np.float64).reshape(self.batch, n).T
        self._start[:n] = starts
        self._sum = np.asarray(rows["sum"], dtype=np.float64).copy()
        self._since_exact = int(shared["since_exact"])
        self._t_end = float(shared["t_end"])

    def vol(self, fallback: FloatArray) -> FloatArray:
        """Annualised realized vol, ``fallback`` before any return has been observed."""
        if self._n == 0:
            return fallback
        tail = (self._head - self._n) % self._cap
        span_y = (self._t_end - self._start[tail]) / SECONDS_PER_YEAR
        if span_y <= 0.0:
            return fallback
        vol: FloatArray = np.sqrt(np.maximum(self._sum, 0.0) / span_y)
        return vol


class PriceHistory:
    """Last observed spots and the rolling windows some expression asked for."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.last_t: float | None = None
        self.last_spot: FloatArray | None = None
        self._windows: dict[tuple[int, float], RollingVariance] = {}
        self._log_last: FloatArray | None = None

    def window(self, asset: int, window_s: float) -> RollingVariance:
        """The rolling variance for ``asset`` over ``window_s``, created on first request."""
        key = (asset, float(window_s))
        if key not in self._windows:
            self._windows[key] = RollingVariance(window_s, self.batch)
        return self._windows[key]

    def windows(self) -> list[tuple[int, float]]:
        """(asset column, window seconds) of every realized-vol window expressions asked for."""
        return sorted(self._windows)

    @property
    def rolling(self) -> dict[tuple[int, float], RollingVariance]:
        """The rolling windows by (asset column, window seconds), in creation order."""
        return self._windows

    def set_last(self, t_s: float | None, spot: FloatArray | None) -> None:
        """Restore the newest observation (from saved state)."""
        self.last_t = t_s
        self.last_spot = spot
        self._log_last = np.log(spot) if spot is not None and self._windows else None

    def observe(self, t_s: float, spot: FloatArray) -> None:
        """Record the spots seen at ``t_s``; a repeated time is ignored."""
        if self.last_t is not None and t_s <= self.last_t:
            return
        if self._windows:
            log_now = np.log(spot)
            if self._log_last is not None and self.last_t is not None:
                ret = log_now - self._log_last
                for (a, _), rv in self._windows.items():
                    r = ret[:, a]
                    rv.add(self.last_t, t_s, r * r)
            self._log_last = log_now
        self.last_t = t_s
        self.last_spot = spot
