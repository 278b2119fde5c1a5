"""Summary statistics of a simulation run: the `rebal simulate --format json` object.

`summarize` turns the per-path arrays of a :class:`~rebal.backends.sim.engine.SimResult` into
plain, JSON-safe numbers (floats, ints, ``None`` where a figure is undefined, never NaN).
The definitions are written out in ``docs/simulation.md``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult

__all__ = ["ES_LEVEL", "expected_shortfall", "json_float", "summarize"]

ES_LEVEL = 0.05  # expected shortfall averages the worst 5% of paths


def json_float(x: Any) -> float | None:
    """A finite Python float, or None for NaN, infinities and missing values."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _arr(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _mean(x: ArrayLike) -> float | None:
    a = _arr(x)
    return json_float(a.mean()) if a.size else None


def _quantile(x: ArrayLike, q: float) -> float | None:
    """Quantile with numpy's default (linear interpolation between order statistics)."""
    a = _arr(x)
    return json_float(np.quantile(a, q)) if a.size else None


def expected_shortfall(pnl: ArrayLike, level: float = ES_LEVEL) -> float | None:
    """Mean P&L of the worst ``ceil(level * P)`` paths (at least one), as a P&L number.

    A loss-making tail gives a negative number: es95 = -1200 means that in the worst 5% of
    paths the strategy lost 1200 on average.
    """
    a = np.sort(_arr(pnl))
    if not a.size:
        return None
    k = max(1, math.ceil(level * a.size - 1e-9))
    return json_float(a[:k].mean())


def _std(x: ArrayLike) -> float | None:
    """Sample standard deviation (ddof=1); 0 for a single path."""
    a = _arr(x)
    if not a.size:
        return None
    return json_float(a.std(ddof=1)) if a.size > 1 else 0.0


def _count(flags: ArrayLike, paths: int) -> dict[str, Any]:
    n = int(np.count_nonzero(np.asarray(flags, dtype=bool)))
    return {"paths": n, "fraction": json_float(n / paths) if paths else None}


def summarize(result: SimResult) -> dict[str, Any]:
    """The JSON object of `rebal simulate --format json` (see docs/simulation.md)."""
    with np.errstate(all="ignore"):  # NaN/inf inputs become null, without warnings
        return _summarize(result)


def _summarize(result: SimResult) -> dict[str, Any]:
    paths = int(result.paths)
    steps = int(result.steps)
    elapsed = float(result.elapsed_s)
    rate = paths * steps / elapsed if elapsed > 0 else None
    costs = {name: _mean(getattr(result, name)) for name in ("fees", "slippage", "gas", "funding")}
    total = (
        None
        if any(v is None for v in costs.values())
        else json_float(sum(v for v in costs.values() if v is not None))
    )
    pnl = result.pnl
    return {
        "strategy": result.strategy,
        "venue": result.venue,
        "paths": paths,
        "steps": steps,
        "seed": int(result.seed),
        "book_value0": json_float(result.book_value0),
        "elapsed_s": json_float(elapsed),
        "path_steps_per_s": json_float(rate),
        "metrics": {
            "pnl": {
                "mean": _mean(pnl),
                "std": _std(pnl),
                "p05": _quantile(pnl, 0.05),
                "p50": _quantile(pnl, 0.50),
                "p95": _quantile(pnl, 0.95),
                "es95": expected_shortfall(pnl),
            },
            "cost": {**costs, "total": total},
            "trades": {"mean": _mean(result.trades)},
            "rebalances": {"mean": _mean(result.rebalances)},
            "tracking_error": {"mean": _mean(result.tracking_error)},
            "max_drawdown": {
                "mean": _mean(result.max_drawdown),
                "p95": _quantile(result.max_drawdown, 0.95),
            },
            "liquidations": _count(result.liquidated, paths),
            "halts": _count(result.halted, paths),
        },
    }
