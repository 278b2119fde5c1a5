"""Targets as rows of a linear system over the hedge instruments.

Each target contributes one or more *rows*: a measure ``m`` (linear in positions at current
prices), a center, a band, and the measure's sensitivity ``a_j`` to one more unit of each
hedge instrument ``j``. When a trigger fires the planner wants each row at a desired value
and solves ``A x = d`` (``d`` = desired - measure) for the trades ``x`` over all hedge
instruments at once: exactly when square, least-norm when under-determined, least-squares
when over-determined; rows it cannot bring inside their band are reported as unmet.

Measures, in the target's unit:

* ``delta A``: sum of quantity x delta over instruments on A (units, or x spot in a currency);
* ``gamma|vega|theta A``: the portfolio greek in the language's conventions (Gamma S^2/100,
  per vol point, per day);
* ``weights``: one row per leg, ``q p / equity`` (p = notional for perps/futures, else price);
  a leg in a par-currency cash instrument is the cash balance over equity, moved by buying
  and selling the other (value-carrying) legs rather than traded itself;
* ``leverage``: net exposure of the hedge instruments ``sum q delta S / equity``;
* ``cppi``: the risky instrument's weight; its center is
  ``min(multiplier x max(equity - floor x capital, 0), equity) / equity``.

Desired values: ``center`` the center; ``edge`` the nearest band edge (no move inside);
``recenter f`` moves ``f`` of the way to the center. Greek ``within`` ranges only move when
outside their range; a row without a band is restored exactly whenever a trigger fires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir

from .bands import BandFn, compile_band
from .context import StepContext
from .evaluator import Needs
from .history import PriceHistory
from .layout import PAR_CURRENCIES, Layout

__all__ = ["Row", "Solution", "TargetSet", "build_targets"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Fn = Callable[[StepContext], Any]


@dataclass
class Row:
    """One measured quantity the planner keeps near its center."""

    label: str
    unit: str
    measure: Fn
    center: Fn
    center_const: float | None
    band: BandFn | None
    band_offsets: tuple[float, float] | None
    sens: list[tuple[int, Fn, float | None]]  # (hedge column, a_j(ctx), constant a_j or None)
    to: str
    fraction: float
    range_only: bool = False
    kind: str = ""  # delta | greek | weight | leverage | cppi
    asset: int = -1
    greek: str | None = None
    convert: Callable[[StepContext, Any], Any] | None = None  # greek row: per-unit -> unit
    ccy: bool = False


class Solution:
    """Rows evaluated at one step: per row a measure ``(B,)``, a center and band levels
    (floats or ``(B,)``), and whether any banded row is outside its band ``(B,)``."""

    __slots__ = ("batch", "breach", "center", "hi", "lo", "measure")

    def __init__(self, batch: int, measure: list[Any], center: list[Any], lo: list[Any],
                 hi: list[Any], breach: BoolArray) -> None:
        self.batch = batch
        self.measure, self.center, self.lo, self.hi = measure, center, lo, hi
        self.breach = breach

    def stack(self, which: str) -> FloatArray:
        """One of measure/center/lo/hi as a ``(B, K)`` array."""
        cols = getattr(self, which)
        out = np.empty((self.batch, len(cols)), order="F")
        for r, v in enumerate(cols):
            out[:, r] = v
        return out


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
        breach: Any = None
        for row in self.rows:
            mr = row.measure(ctx)
            c = row.center_const if row.center_const is not None else row.center(ctx)
            ms.append(mr)
            cs.append(c)
            if row.band is None:
                los.append(c)
                his.append(c)
                continue
            if row.band_offsets is not None and row.band_offsets[0] == -row.band_offsets[1] \
                    and row.center_const is not None:
                w = row.band_offsets[1]
                los.append(c - w)
                his.append(c + w)
                dev = mr - c if c != 0.0 else mr
                out = np.abs(dev) > w
            else:
                if row.band_offsets is not None:
                    lo_r, hi_r = c + row.band_offsets[0], c + row.band_offsets[1]
                else:
                    lo_r, hi_r = row.band(ctx, c)
                los.append(lo_r)
                his.append(hi_r)
                out = (mr < lo_r) | (mr > hi_r)
            breach = out if breach is None else (breach | out)
        if breach is None:
            breach = np.zeros(self.batch, dtype=bool)
        return Solution(self.batch, ms, cs, los, his, breach)

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
        dmat = sol_stack(d, b)[idx]
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
        y = np.linalg.solve(safe, rhs[..., None])[..., 0]
    x = np.einsum("bhk,bk->bh", at, y) if k < h else y
    if not ok.all():
        bad = ~ok
        x[bad] = np.einsum("bhk,bk->bh", np.linalg.pinv(amat[bad]), d[bad])
    return x


def sol_stack(cols: list[Any], batch: int) -> FloatArray:
    out = np.empty((batch, len(cols)))
    for r, v in enumerate(cols):
        out[:, r] = v
    return out


def _flag(unmet: BoolArray | None, b: int, k: int, r: int, bad: Any) -> BoolArray:
    out = np.zeros((b, k), dtype=bool) if unmet is None else unmet
    out[:, r] = bad
    return out


# ---------------------------------------------------------------------- building rows


def _is_ccy(unit: str, layout: Layout) -> bool:
    return unit in PAR_CURRENCIES or unit == layout.numeraire


def _const_fn(v: float) -> Fn:
    return lambda c: v


class _Builder:
    def __init__(self, strategy: ir.Strategy, layout: Layout, history: PriceHistory,
                 needs: Needs) -> None:
        self.s, self.lay, self.history, self.needs = strategy, layout, history, needs
        self.hedge: list[int] = []

    def hcol(self, name: str) -> int:
        i = self.lay.col(name)
        if i not in self.hedge:
            self.hedge.append(i)
        return self.hedge.index(i)

    def band(self, band: Any, unit: str, asset: int) -> tuple[BandFn | None, Any]:
        if band is None:
            return None, None
        return compile_band(band, target_unit=unit, asset_col=asset, layout=self.lay,
                            history=self.history, needs=self.needs)

    def delta_rows(self, t: ir.DeltaTarget) -> list[Row]:
        lay = self.lay
        a = lay.asset_col(t.asset)
        ccy = _is_ccy(t.unit, lay)
        for name in t.hedge:
            self.hcol(name)
        band, offs = self.band(t.band, t.unit, a)

        def measure(c: StepContext) -> Any:
            v = c.delta_of(a)
            return v * c.spot[:, a] if ccy else v

        return [Row(f"delta {t.asset}", t.unit, measure, _const_fn(float(t.value)),
                    float(t.value), band, offs, [], t.rebalance.to,
                    float(t.rebalance.fraction), kind="delta", asset=a, ccy=ccy)]

    def greek_rows(self, t: ir.GreekTarget) -> list[Row]:
        lay = self.lay
        a = lay.asset_col(t.asset)
        setattr(self.needs, t.greek, True)
        for name in t.hedge:
            self.hcol(name)
        g, ccy = t.greek, _is_ccy(t.unit, lay)

        def conv(c: StepContext, v: Any) -> Any:
            s = c.spot[:, a]
            if g == "gamma":
                return v * s * (s if ccy else 1.0) / 100.0
            scale = 100.0 if g == "vega" else 365.0
            return v / scale if ccy else v / (scale * s)

        units = {"gamma": "gamma_units", "vega": "vega_units", "theta": "theta_units"}[g]

        def measure(c: StepContext) -> Any:
            return conv(c, getattr(c, units)[:, a])

        lo, hi = float(t.lower), float(t.upper)
        ctr = 0.5 * (lo + hi)
        band = ir.AsymmetricBand(lower=ir.Const(value=t.lower, unit=t.unit),
                                 upper=ir.Const(value=t.upper, unit=t.unit))
        bfn, _ = self.band(band, t.unit, a)
        return [Row(f"{g} {t.asset}", t.unit, measure, _const_fn(ctr), ctr, bfn,
                    (lo - ctr, hi - ctr), [], t.rebalance.to, float(t.rebalance.fraction),
                    range_only=True, kind="greek", asset=a, greek=g, convert=conv, ccy=ccy)]

    def weight_rows(self, t: ir.WeightsTarget) -> list[Row]:
        rows = []
        for leg in t.legs:
            i = self.lay.col(leg.instrument)
            band, offs = self.band(leg.band, "", -1)
            if self.lay.is_par_cash[i]:
                rows.append(self._cash_weight_row(leg, i, band, offs, t.rebalance))
                continue
            j = self.hcol(leg.instrument)

            def measure(c: StepContext, i: int = i) -> Any:
                return c.positions[:, i] * c.exposure_price[:, i] / c.equity

            def sens(c: StepContext, i: int = i) -> Any:
                return c.exposure_price[:, i] / c.equity

            rows.append(Row(f"weight {leg.instrument}", "", measure, _const_fn(float(leg.weight)),
                            float(leg.weight), band, offs, [(j, sens, None)], t.rebalance.to,
                            float(t.rebalance.fraction)))
        return rows

    def _cash_weight_row(self, leg: ir.WeightLeg, i: int, band: Any, offs: Any,
                         rebalance: ir.Rebalance) -> Row:
        """The weight of a cash balance in a par currency. Cash is not traded itself: it moves
        when value-carrying hedge instruments are bought or sold (sensitivity -price/equity)."""

        def measure(c: StepContext) -> Any:
            return c.positions[:, i] / c.equity

        return Row(f"weight {leg.instrument}", "", measure, _const_fn(float(leg.weight)),
                   float(leg.weight), band, offs, [], rebalance.to, float(rebalance.fraction),
                   kind="cash_weight")

    def leverage_rows(self, t: ir.LeverageTarget) -> list[Row]:
        cols = [self.lay.col(n) for n in t.hedge]
        sens = []
        for n, i in zip(t.hedge, cols, strict=True):
            def s_fn(c: StepContext, i: int = i) -> Any:
                return c.marks.delta[:, i] * c.marks.notional[:, i] / c.equity
            sens.append((self.hcol(n), s_fn, None))

        def measure(c: StepContext) -> Any:
            tot = 0.0
            for i in cols:
                tot = tot + c.positions[:, i] * c.marks.delta[:, i] * c.marks.notional[:, i]
            return tot / c.equity

        band, offs = self.band(t.band, "", -1)
        return [Row("leverage", "x", measure, _const_fn(float(t.value)), float(t.value), band,
                    offs, sens, t.rebalance.to, float(t.rebalance.fraction))]

    def cppi_rows(self, t: ir.CppiTarget) -> list[Row]:
        i = self.lay.col(t.risky)
        j = self.hcol(t.risky)
        floor = float(t.floor) * self.lay.capital
        mult = float(t.multiplier)

        def measure(c: StepContext) -> Any:
            return c.positions[:, i] * c.exposure_price[:, i] / c.equity

        def center(c: StepContext) -> Any:
            eq = c.equity
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.minimum(mult * np.maximum(eq - floor, 0.0), eq) / eq
            return np.where(eq > 0.0, w, 0.0)

        def sens(c: StepContext) -> Any:
            return c.exposure_price[:, i] / c.equity

        band, offs = self.band(t.band, "", -1)
        return [Row(f"cppi {t.risky}", "fraction", measure, center, None, band, offs,
                    [(j, sens, None)], t.rebalance.to, float(t.rebalance.fraction))]

    def finish(self, rows: list[Row]) -> None:
        """Fill in each delta/greek row's sensitivities to every hedge column it depends on."""
        lay = self.lay
        opt_index = {int(col): k for k, col in enumerate(lay.opt_cols)}
        for row in rows:
            a, ccy = row.asset, row.ccy
            if row.kind == "delta":
                for j, i in enumerate(self.hedge):
                    if lay.underlying[i] != a:
                        continue
                    static = not lay.is_option[i] and i not in lay.fut_cols
                    if static and not ccy:
                        row.sens.append((j, _const_fn(1.0), 1.0))
                    elif static:
                        row.sens.append((j, lambda c, a=a: c.spot[:, a], None))
                    else:
                        row.sens.append((j, lambda c, i=i, a=a, ccy=ccy: c.marks.delta[:, i] * (
                            c.spot[:, a] if ccy else 1.0), None))
            elif row.kind == "cash_weight":
                for j, i in enumerate(self.hedge):
                    if lay.carries_value[i] and not lay.is_par_cash[i]:
                        row.sens.append((j, lambda c, i=i: -c.marks.price[:, i] / c.equity, None))
            elif row.kind == "greek":
                g, conv = row.greek, row.convert
                for j, i in enumerate(self.hedge):
                    if lay.underlying[i] != a or not lay.is_option[i]:
                        continue
                    k = opt_index[i]
                    row.sens.append((j, lambda c, k=k, g=g, conv=conv: conv(
                        c, getattr(c.marks, g)[:, k]), None))


def build_targets(strategy: ir.Strategy, layout: Layout, history: PriceHistory, needs: Needs,
                  batch: int) -> TargetSet:
    """Rows for every target of ``strategy``, in order, over the union of hedge instruments."""
    b = _Builder(strategy, layout, history, needs)
    rows: list[Row] = []
    for t in strategy.targets:
        if isinstance(t, ir.DeltaTarget):
            rows += b.delta_rows(t)
        elif isinstance(t, ir.GreekTarget):
            rows += b.greek_rows(t)
        elif isinstance(t, ir.WeightsTarget):
            rows += b.weight_rows(t)
        elif isinstance(t, ir.LeverageTarget):
            rows += b.leverage_rows(t)
        elif isinstance(t, ir.CppiTarget):
            rows += b.cppi_rows(t)
        else:  # pragma: no cover - the IR union is closed
            raise TypeError(f"unknown target {t!r}")
    b.finish(rows)
    return TargetSet(rows, b.hedge, batch)
