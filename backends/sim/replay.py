"""Replay of recorded candles (ccxt OHLCV CSV) as a market model: the same prices on every path.

Answers "what would this spec have done on this history". See :class:`ReplayModel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .models import MS_PER_YEAR, FloatArray, _check_dt, _per_asset


def load_closes(path: str | Path) -> tuple[NDArray[np.int64], FloatArray]:
    """Read ccxt OHLCV rows ``timestamp_ms, open, high, low, close, volume`` (header optional)."""
    with open(path, encoding="utf-8") as fh:
        first = fh.readline().split(",")[0].strip()
    try:
        float(first)
        skip = 0
    except ValueError:
        skip = 1
    data = np.loadtxt(path, delimiter=",", skiprows=skip, usecols=(0, 4), ndmin=2)
    if data.shape[0] == 0:
        raise ValueError(f"{path}: no candles")
    ts, close = data[:, 0].astype(np.int64), data[:, 1]
    if np.any(np.diff(ts) <= 0):
        raise ValueError(f"{path}: timestamps must be strictly increasing")
    if not np.all(np.isfinite(close)) or np.any(close <= 0):
        raise ValueError(f"{path}: closes must be positive numbers")
    return ts, close


class ReplayModel:
    """Closes from ccxt OHLCV CSV files, identical on every path (no randomness; seed ignored).

    Each close sits at its candle's timestamp relative to the latest first timestamp across
    files; the spot at sim time t is the last close at or before t, held after the data ends
    (see ``end_years``, ``exhausted``). ``vol`` is the configured vol, used to mark options.
    The shipped ``specs/data/eth_1h_sample.csv`` is synthetic, not market data: 500 hourly
    candles of a GBM path (spot 3000, vol 70%, numpy PCG64 seed 20240601).
    """

    def __init__(self, assets: Sequence[str], files: Sequence[str | Path], vol: ArrayLike) -> None:
        self.assets = tuple(assets)
        if len(files) != len(self.assets):
            raise ValueError(f"replay needs one CSV per asset, got {len(files)} for {assets}")
        self.sigma = _per_asset("vol", vol, len(self.assets))
        series = [load_closes(f) for f in files]
        self._start_ms = max(int(ts[0]) for ts, _ in series)
        if any(int(ts[-1]) < self._start_ms for ts, _ in series):
            raise ValueError("replay files do not overlap in time")
        self._offsets = [(ts - self._start_ms).astype(np.float64) for ts, _ in series]
        self._closes = [c for _, c in series]
        self.end_years = min(float(o[-1]) for o in self._offsets) / MS_PER_YEAR
        self.reset(1, 0)

    def reset(self, paths: int, seed: int) -> None:
        """Rewind to the first common timestamp; ``seed`` is accepted and ignored."""
        if paths < 1:
            raise ValueError(f"paths must be at least 1, got {paths}")
        self.paths = int(paths)
        self.t = 0.0
        self._idx = [int(np.searchsorted(o, 0.0, side="right")) - 1 for o in self._offsets]
        self._spot = self._current()

    def _current(self) -> FloatArray:
        row = np.array([c[i] for c, i in zip(self._closes, self._idx, strict=True)])
        return np.repeat(row[:, None], self.paths, axis=1).T

    @property
    def spot(self) -> FloatArray:
        """Current closes, identical rows, shape ``(paths, assets)``."""
        return self._spot

    @property
    def vol(self) -> FloatArray:
        """The configured vol (a read-only view), used to mark options."""
        return np.broadcast_to(self.sigma, (self.paths, len(self.assets)))

    @property
    def exhausted(self) -> bool:
        """True once the clock has passed the end of the shortest series."""
        return self.t > self.end_years

    def step(self, dt_years: float) -> FloatArray:
        """Advance the clock and return the latest closes at or before it."""
        self.t += _check_dt(dt_years)
        now_ms = self.t * MS_PER_YEAR + 0.5  # half a millisecond absorbs float round-off
        self._idx = [int(np.searchsorted(o, now_ms, side="right")) - 1 for o in self._offsets]
        self._spot = self._current()
        return self._spot
