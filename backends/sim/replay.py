"""Replay of recorded candles (ccxt OHLCV CSV) as a market model: the same prices on every path.

Answers "what would this spec have done on this history". See :class:`ReplayModel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import MS_PER_YEAR, FloatArray, check_dt, per_asset

#: The columns of a ccxt OHLCV row, for messages that name a column.
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


class CandleError(ValueError):
    """A replay file that is not candles. The message names the file, row and column, never
    the file's content (a spec may point at any file; its text must not be echoed)."""


Closes = tuple[NDArray[np.int64], FloatArray]  # (timestamps in ms, closes) of one CSV


def load_closes(path: str | Path) -> Closes:
    """Read ccxt OHLCV rows ``timestamp_ms, open, high, low, close, volume`` (header optional).

    Raises :class:`CandleError` naming the row (1-based line) and column of the first problem.
    """
    name = Path(path).name
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except UnicodeDecodeError:
        raise CandleError(f"{name}: not UTF-8 text, so not a candle CSV") from None
    skip = 0 if lines and _is_number(lines[0].split(",")[0]) else 1
    try:
        data = np.loadtxt(lines, delimiter=",", skiprows=skip, usecols=(0, 4), ndmin=2)
    except ValueError:
        raise CandleError(_first_bad_cell(name, lines, skip)) from None
    if data.shape[0] == 0:
        raise CandleError(f"{name}: no candles")
    ts, close = data[:, 0].astype(np.int64), data[:, 1]
    rows = _data_rows(lines, skip)
    bad_ts = np.flatnonzero(np.diff(ts) <= 0)
    if bad_ts.size:
        row = rows[int(bad_ts[0]) + 1]
        raise CandleError(f"{name}: row {row}, column 1 (timestamp): timestamps must be "
                          "strictly increasing")
    bad_close = np.flatnonzero(~np.isfinite(close) | (close <= 0))
    if bad_close.size:
        row = rows[int(bad_close[0])]
        raise CandleError(f"{name}: row {row}, column 5 (close): closes must be positive numbers")
    return ts, close


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _data_rows(lines: Sequence[str], skip: int) -> list[int]:
    """The 1-based line number of each data row (blank lines are skipped, as loadtxt does)."""
    return [i + 1 for i, line in enumerate(lines) if i >= skip and line.strip()]


def _first_bad_cell(name: str, lines: Sequence[str], skip: int) -> str:
    """Where the first row that is not a candle is, without quoting the file."""
    for row in _data_rows(lines, skip):
        cells = lines[row - 1].split(",")
        if len(cells) < 5:
            return (f"{name}: row {row} has {len(cells)} column{'s' * (len(cells) != 1)}; a "
                    f"candle has {len(COLUMNS)} ({', '.join(COLUMNS)})")
        for col in (1, 5):
            if not _is_number(cells[col - 1]):
                return f"{name}: row {row}, column {col} ({COLUMNS[col - 1]}): not a number"
    return f"{name}: not a candle CSV (rows of {', '.join(COLUMNS)})"


class ReplayModel:
    """Closes from ccxt OHLCV CSV files, identical on every path (no randomness; seed ignored).

    Each close sits at its candle's timestamp relative to the latest first timestamp across
    files; the spot at sim time t is the last close at or before t, held after the data ends
    (see ``end_years``, ``exhausted``). ``vol`` is the configured vol, used to mark options.
    The shipped ``specs/data/eth_1h_sample.csv`` is synthetic, not market data: 500 hourly
    candles of a GBM path (spot 3000, vol 70%, numpy PCG64 seed 20240601).
    """

    def __init__(self, assets: Sequence[str], files: Sequence[str | Path | Closes],
                 vol: ArrayLike) -> None:
        self.assets = tuple(assets)
        if len(files) != len(self.assets):
            raise ValueError(f"replay needs one CSV per asset, got {len(files)} for {assets}")
        self.sigma = per_asset("vol", vol, len(self.assets))
        # A file may come already read (a distributed run ships the closes, not the path).
        series = [f if isinstance(f, tuple) else load_closes(f) for f in files]
        self._start_ms = max(int(ts[0]) for ts, _ in series)
        if any(int(ts[-1]) < self._start_ms for ts, _ in series):
            raise ValueError("replay files do not overlap in time")
        self._offsets = [(ts - self._start_ms).astype(np.float64) for ts, _ in series]
        self._closes = [c for _, c in series]
        self.end_years = min(float(o[-1]) for o in self._offsets) / MS_PER_YEAR
        self.reset(1, 0)

    def reset(self, paths: int, seed: int, first_block: int = 0) -> None:
        """Rewind to the first common timestamp; ``seed`` and ``first_block`` are ignored."""
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
        self.t += check_dt(dt_years)
        now_ms = self.t * MS_PER_YEAR + 0.5  # half a millisecond absorbs float round-off
        self._idx = [int(np.searchsorted(o, now_ms, side="right")) - 1 for o in self._offsets]
        self._spot = self._current()
        return self._spot
