"""The targets' joint linear system: evaluate every row, then solve for the hedge trades.

When a trigger fires the planner wants each row at a desired value and solves ``A x = d``
(``d`` = desired - measure, ``A`` the rows' sensitivities to one unit of each hedge
instrument) for all hedge instruments at once: exactly when square, least-norm when
under-determined, least-squares when over-determined. Rows the solution leaves outside their
band are reported as unmet. When each row has its own single hedge instrument the system is
diagonal and solved by division.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .context import StepContext
from .targets import Row

__all__ = ["Solution", "TargetSet", "solve_small"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def stack_rows(cols: list[Any], batch: int) -> FloatArray:
    """Per-row values (each ``(B,)`` or a constant) as one ``(B, K)`` array."""
    out = np.empty((batch, len(cols)), order="F")
    for r, v in enumerate(cols):
        out[:, r] = v
    return out


class Solution:
    """Rows evaluated at one step: per row a measure ``(B,)``, a center and band levels
    (floats or ``(B,)``), whether any banded row is outside its band ``(B,)``, and per row
    whether it is (``outside``: ``(B,)`` or None for a row without a band)."""

    __slots__ = ("batch", "breach", "center", "hi", "lo", "measure", "outside")

    def __init__(self, batch: int, measure: list[Any], center: list[Any], lo: list[Any],
                 hi: list[Any], breach: BoolArray, outside: list[Any] | None = None) -> None:
        self.batch = batch
        self.measure, self.center, self.lo, self.hi = measure, center, lo, hi
        self.breach = breach
        self.outside = outside if outside is not None else [None] * len(measure)

    def stack(self, which: str) -> FloatArray:
        """One of measure/center/lo/hi as a ``(B, K)`` array."""
        return stack_rows(getattr(self, which), self.batch)


class TargetSet:
    """All rows of a strategy and the hedge columns they are solved over."""

    def __init__(self, rows: list[Row], hedge_cols: list[int], batch: int) -> None:
        self.rows = rows
        self.hedge_cols = np.array(hedge_cols, dtype=np.intp)
        self.batch = batch
        k, h = len(rows), len(hedge_cols)
        pattern = np.zeros((k, h), dtype=bool)
        for r, row in enumerate(rows):
            for j, _, _ in row.sens:
                pattern[r, j] = True
        self.pattern = pattern
        diag = k == h and bool(np.all(pattern.sum(axis=1) == 1)) and bool(
            np.all(pattern.sum(axis=0) == 1))
        self._diagonal = diag
        self._banded = np.array([row.band is not None for row in rows], dtype=bool)

    def evaluate(self, ctx: StepContext) -> Solution:
        """Measures, centers and band levels of every row at this step."""
        ms, cs, los, his = [], [], [], []
        outs: list[Any] = []  # per row: where it is outside its band (None: no band)
        breach: Any = None
        for row in self.rows:
            mr = row.measure(ctx)
            c = row.center_const if row.center_const is not None else row.center(ctx)
            ms.append(mr)
            cs.append(c)
            if row.band is None:
                los.append(c)
                his.append(c)
                outs.append(None)
                continue
            if row.band_offsets is not None and row.band_offsets[0] == -row.band_offsets[1] \
                    and row.center_const is not None:
                w = row.band_offsets[1]
                los.append(c - w)
                his.append(c + w)
                # two boolean compares allocate less than |m - c| > w on large batches
                out = (mr > c + w) | (mr < c - w)
            else:
                if row.band_offsets is not None:
                    lo_r, hi_r = c + row.band_offsets[0], c + row.band_offsets[1]
                else:
                    lo_r, hi_r = row.band(ctx, c)
                los.append(lo_r)
                his.append(hi_r)
                out = (mr < lo_r) | (mr > hi_r)
            outs.append(out)
            breach = out if breach is None else (breach | out)
        if breach is None:
            breach = np.zeros(self.batch, dtype=bool)
        return Solution(self.batch, ms, cs, los, his, breach, outs)

    def desired_change(self, sol: Solution) -> list[Any]:
        """``d = desired - measure`` per row, each ``(B,)``."""
        out = []
        for r, row in enumerate(self.rows):
            mr, cr = sol.measure[r], sol.center[r]
            if row.band is None:
                out.append(cr - mr)
                continue
            lo, hi = sol.lo[r], sol.hi[r]
            if row.to == "edge":
                out.append(np.minimum(np.maximum(mr, lo), hi) - mr)
                continue
            move = cr - mr
            if row.fraction != 1.0:
                move = move * row.fraction
            if row.range_only:
                move = np.where((mr < lo) | (mr > hi), move, 0.0)
            out.append(move)
        return out

    def solve(self, ctx: StepContext, sol: Solution, d: list[Any], fire: BoolArray
              ) -> tuple[FloatArray, BoolArray | None]:
        """Trades over the hedge columns ``(B, H)`` (zero where ``fire`` is false) and the rows
        left outside their band ``(B, K)`` (None when every row is met)."""
        b, k, h = self.batch, len(self.rows), self.hedge_cols.size
        if self._diagonal:
            x = np.empty((b, h), order="F")
            unmet: BoolArray | None = None
            for r, row in enumerate(self.rows):
                j, fn, const = row.sens[0]
                dr = d[r]
                if const is not None:
                    if const == 1.0:
                        np.multiply(dr, fire, out=x[:, j])
                    elif const != 0.0:
                        np.multiply(dr, fire, out=x[:, j])
                        x[:, j] /= const
                    else:
                        x[:, j] = 0.0
                        unmet = _flag(unmet, b, k, r, (np.asarray(dr) != 0.0) & fire)
                    continue
                a = np.asarray(fn(ctx), dtype=np.float64)
                ok = a != 0.0
                with np.errstate(divide="ignore", invalid="ignore"):
                    x[:, j] = np.where(ok & fire, dr / np.where(ok, a, 1.0), 0.0)
                if not ok.all():
                    unmet = _flag(unmet, b, k, r, ~ok & (np.asarray(dr) != 0.0) & fire)
            return x, unmet
        x = np.zeros((b, h), order="F")
        idx = np.flatnonzero(fire)
        if idx.size == 0:
            return x, None
        amat = np.zeros((idx.size, k, h))
        for r, row in enumerate(self.rows):
            for j, fn, const in row.sens:
                v = const if const is not None else fn(ctx)
                amat[:, r, j] = v if np.ndim(v) == 0 else np.asarray(v)[idx]
        dmat = stack_rows(d, b)[idx]
        sol_x = solve_small(amat, dmat)
        x[idx] = sol_x
        m = sol.stack("measure")[idx]
        post = m + np.einsum("bkh,bh->bk", amat, sol_x)
        want = m + dmat
        tol = 1e-9 * (1.0 + np.abs(want))
        outside = (post < sol.stack("lo")[idx] - tol) | (post > sol.stack("hi")[idx] + tol)
        missed = np.abs(post - want) > tol
        unmet_all = np.zeros((b, k), dtype=bool)
        unmet_all[idx] = np.where(self._banded, outside, missed)
        return x, unmet_all


def solve_small(amat: FloatArray, d: FloatArray) -> FloatArray:
    """Batched ``A x = d`` for small ``(K, H)``: exact when square, least-norm when
    under-determined, least-squares when over-determined (the pseudo-inverse solution).

    Closed forms for 1x1 and 2x2 systems (via the normal equations when not square), LU for
    bigger ones; rows whose system is singular fall back to the SVD pseudo-inverse."""
    b, k, h = amat.shape
    at = np.swapaxes(amat, 1, 2)
    if k == h:
        m, rhs = amat, d
    elif k < h:
        m, rhs = amat @ at, d  # x = A^T (A A^T)^-1 d
    else:
        m, rhs = at @ amat, np.einsum("bhk,bk->bh", at, d)  # x = (A^T A)^-1 A^T d
    n = m.shape[1]
    scale = np.abs(m).reshape(b, -1).max(axis=1)
    if n == 1:
        det = m[:, 0, 0]
        ok = np.abs(det) > 1e-12 * scale
        y = (rhs[:, 0] / np.where(ok, det, 1.0))[:, None]
    elif n == 2:
        m00, m01, m10, m11 = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
        det = m00 * m11 - m01 * m10
        ok = np.abs(det) > 1e-12 * scale * scale
        inv = 1.0 / np.where(ok, det, 1.0)
        y = np.stack([(m11 * rhs[:, 0] - m01 * rhs[:, 1]) * inv,
                      (m00 * rhs[:, 1] - m10 * rhs[:, 0]) * inv], axis=1)
    else:
        det = np.linalg.det(m)
        ok = np.abs(det) > 1e-12 * scale**n
        safe = np.where(ok[:, None, None], m, np.eye(n))
        y = np.asarray(np.linalg.solve(safe, rhs[..., None])[..., 0], dtype=np.float64)
    x = np.einsum("bhk,bk->bh", at, y) if k < h else y
    if not ok.all():
        bad = ~ok
        x[bad] = np.einsum("bhk,bk->bh", np.linalg.pinv(amat[bad]), d[bad])
    return x


def _flag(unmet: BoolArray | None, b: int, k: int, r: int, bad: Any) -> BoolArray:
    out = np.zeros((b, k), dtype=bool) if unmet is None else unmet
    out[:, r] = bad
    return out
