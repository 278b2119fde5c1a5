"""The Monte Carlo machinery the stochastic market models share: the correlation factor,
and a base class holding spots assets-major, per-block PCG64 streams (:mod:`.blocks`) and the
correlated normal draws, stepping every path by ``exp`` of a subclass's log return.

Split from :mod:`.models` (the GBM, jump and Heston models built on :class:`StochasticModel`,
and :func:`~.models.make_model`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .arrays import FloatArray, check_dt, per_asset
from .blocks import BlockStreams

__all__ = ["StochasticModel", "as_column", "correlation_factor"]


def correlation_factor(corr: ArrayLike | None, n: int) -> FloatArray:
    """Return ``L`` with ``L @ L.T == corr``; raise ValueError if ``corr`` is not a correlation.

    Cholesky first; a singular but positive semidefinite matrix (e.g. a correlation of 1)
    falls back to an eigen-decomposition with round-off negatives clipped to 0 and rows
    renormalised to unit variance. Eigenvalues below -1e-8 are an error, not silently fixed.
    """
    if corr is None:
        return np.eye(n)
    c = np.array(corr, dtype=np.float64)
    ok = c.shape == (n, n) and bool(np.all(np.isfinite(c)) and np.all(np.abs(c) <= 1.0))
    if not (ok and np.allclose(c, c.T, 0.0, 1e-12) and np.allclose(np.diag(c), 1.0, 0.0, 1e-12)):
        raise ValueError(f"need a symmetric {n}x{n} matrix, unit diagonal, entries in [-1, 1]")
    try:
        return np.asarray(np.linalg.cholesky(c), dtype=np.float64)
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(c)
    if eigval.min() < -1e-8:
        raise ValueError(f"correlation matrix is not positive semidefinite ({eigval.min():.3g})")
    factor = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    return factor / np.linalg.norm(factor, axis=1, keepdims=True)  # type: ignore[no-any-return]


class StochasticModel:
    """Shared state of the Monte Carlo models: spots, generator, correlated normal draws.

    State is stored assets-major, shape ``(assets, paths)``, so every elementwise operation
    runs over long contiguous rows with per-asset parameters as ``(assets, 1)`` columns; the
    public ``(paths, assets)`` arrays are transposed views (each asset's column contiguous).
    """

    _vol_view: FloatArray | None = None  # the constant vol's (paths, assets) view, once made
    _draw_ahead = 16  # steps of normals drawn at once (every draw is a normal: blocks.py)

    def __init__(
        self,
        assets: Sequence[str],
        spot: ArrayLike,
        vol: ArrayLike,
        drift: ArrayLike | None = None,
        corr: ArrayLike | None = None,
    ) -> None:
        self.assets = tuple(assets)
        n = len(self.assets)
        self.spot0 = per_asset("spot", spot, n)
        self.sigma = per_asset("vol", vol, n)
        self.mu = np.zeros(n) if drift is None else per_asset("drift", drift, n)
        if np.any(self.spot0 <= 0) or np.any(self.sigma < 0):
            raise ValueError("spots must be positive and vols non-negative")
        self._factor = correlation_factor(corr, n)
        self._identity = bool(np.array_equal(self._factor, np.eye(n)))
        self._dt = -1.0
        self.reset(1, 0)

    def reset(self, paths: int, seed: int, first_block: int = 0) -> None:
        """Restart all paths at the initial spots with fresh per-block streams from ``seed``.

        The paths are those of blocks ``first_block, first_block + 1, ...`` of the run.
        """
        if paths < 1:
            raise ValueError(f"paths must be at least 1, got {paths}")
        self.paths = int(paths)
        self.t = 0.0
        self._streams = BlockStreams(seed, self.paths, first_block, self._draw_ahead)
        self._s = np.repeat(self.spot0[:, None], self.paths, axis=1)
        self._vol_view = None
        self._reset_state()

    def _reset_state(self) -> None:
        """Hook for model state besides the spot."""

    @property
    def spot(self) -> FloatArray:
        """Current spots, shape ``(paths, assets)``."""
        return self._s.T

    @property
    def vol(self) -> FloatArray:
        """Instantaneous vol, shape ``(paths, assets)`` (a read-only view: constant here,
        so the same view every step)."""
        if self._vol_view is None:
            self._vol_view = np.broadcast_to(self.sigma, (self.paths, len(self.assets)))
        return self._vol_view

    def _normals(self) -> FloatArray:
        """Standard normals ``(assets, paths)`` correlated across assets.

        The correlation is applied path by path as ``sum_j L[i, j] z[j]`` in a fixed order
        (not a BLAS product, whose rounding may depend on the number of paths).
        """
        z = self._streams.normals(len(self.assets))
        if self._identity:
            return z
        out = np.zeros_like(z)
        for i, row in enumerate(self._factor):
            for j, lij in enumerate(row):
                if lij != 0.0:
                    out[i] += lij * z[j]
        return out

    def step(self, dt_years: float) -> FloatArray:
        """Advance every path by ``dt_years`` and return the new spots ``(paths, assets)``."""
        dt = check_dt(dt_years)
        if dt != self._dt:
            self._set_dt(dt)
            self._dt = dt
        growth = self._log_return()  # a fresh array: exponentiated in place
        np.exp(growth, out=growth)
        self._s = self._s * growth  # a new array every step (the feed hands it out)
        self.t += dt
        return self._s.T

    def _set_dt(self, dt: float) -> None:
        raise NotImplementedError

    def _log_return(self) -> FloatArray:
        """Log returns of the step ``(assets, paths)``, in a fresh array the caller owns."""
        raise NotImplementedError


def as_column(x: FloatArray) -> FloatArray:
    """Per-asset values ``(assets,)`` as an ``(assets, 1)`` column over the paths."""
    return x[:, None]
