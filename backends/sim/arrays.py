"""Array conventions shared by the market models (:mod:`.models`) and replay (:mod:`.replay`).

Both model modules build on these helpers, so neither imports the other's internals.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["MS_PER_YEAR", "FloatArray", "check_dt", "per_asset"]

FloatArray = NDArray[np.float64]
MS_PER_YEAR = 365 * 24 * 3600 * 1000


def per_asset(name: str, values: ArrayLike, n: int) -> FloatArray:
    """``values`` as ``n`` finite floats, one per asset; ValueError otherwise."""
    arr = np.array(values, dtype=np.float64).reshape(-1)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} needs {n} finite values, got {values!r}")
    return arr


def check_dt(dt_years: float) -> float:
    """A step in years, positive and finite; ValueError otherwise."""
    dt = float(dt_years)
    if not (dt > 0.0 and math.isfinite(dt)):
        raise ValueError(f"step must be positive and finite, got {dt_years!r}")
    return dt
