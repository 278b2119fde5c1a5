"""Targets as rows of a linear system over the hedge instruments (solved in ``solver.py``).

Each target contributes one or more *rows*: a measure ``m`` (linear in positions at current
prices), a center, a band, and the measure's sensitivity ``a_j`` to one more unit of each
hedge instrument ``j``.

Measures, in the target's unit:

* ``delta A``: sum of quantity x delta over instruments on A, plus the coin held in A
  (units, or x spot in a currency); one more coin-settled option moves it by its
  premium-adjusted delta ``Delta - V / S`` (``coins.py``);
* ``gamma|vega|theta A``: the portfolio greek in the language's conventions (Gamma S^2/100,
  per vol point, per day);
* ``weights``: one row per leg, ``q p / equity`` (p = notional for perps/futures, else price);
  a leg in a par-currency cash instrument is the cash balance over equity, moved by buying
  and selling the other (value-carrying) legs rather than traded itself;
* ``leverage`` targets: the *net exposure* of the hedge instruments ``sum q delta S / equity``
  (row kind ``net_exposure``; "leverage" elsewhere in the kernel is gross leverage only);
* ``cppi``: the risky instrument's weight; its center is
  ``min(multiplier x max(equity - floor x capital, 0), equity) / equity``.

Desired values: ``center`` the center; ``edge`` the nearest band edge (no move inside);
``recenter f`` moves ``f`` of the way to the center. Greek ``within`` ranges only move when
outside their range; a row without a band is restored exactly whenever a trigger fires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir

from .bands import BandFn, compile_band
from .coins import premium_adjusted_delta
from .context import StepContext
from .evaluator import Needs, is_currency
from .history import PriceHistory
from .layout import Layout

__all__ = ["Row", "build_targets"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Fn = Callable[[StepContext], Any]


RowKind = Literal["delta", "greek", "weight", "cash_weight", "net_exposure", "cppi"]
Sens = list[tuple[int, Callable[..., Any], float | None]]


@dataclass(kw_only=True)
class Row:
    """One measured quantity the planner keeps near its center (built by keyword only)."""

    kind: RowKind
    label: str
    unit: str
    measure: Fn
    center: Fn
    center_const: float | None  # the center when it is a constant
    band: BandFn | None
    band_offsets: tuple[float, float] | None  # constant (lo, hi) offsets from the center
    sens: Sens  # (hedge column, a_j(ctx), constant a_j or None)
    to: str  # rebalance to: center | edge
    fraction: float  # how far toward it
    range_only: bool = False
    asset: int = -1
    greek: str | None = None
    convert: Callable[[StepContext, Any], Any] | None = None  # greek row: per-unit -> unit
    ccy: bool = False


# ---------------------------------------------------------------------- building rows


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
        ccy = is_currency(t.unit, lay)
        for name in t.hedge:
            self.hcol(name)
        band, offs = self.band(t.band, t.unit, a)

        def measure(c: StepContext) -> Any:
            v = c.delta_of(a)
            return v * c.spot[:, a] if ccy else v

        return [Row(kind="delta", label=f"delta {t.asset}", unit=t.unit, measure=measure,
                    center=_const_fn(float(t.value)), center_const=float(t.value), band=band,
                    band_offsets=offs, sens=[], to=t.rebalance.to,
                    fraction=float(t.rebalance.fraction), asset=a, ccy=ccy)]

    def greek_rows(self, t: ir.GreekTarget) -> list[Row]:
        lay = self.lay
        a = lay.asset_col(t.asset)
        setattr(self.needs, t.greek, True)
        for name in t.hedge:
            self.hcol(name)
        g, ccy = t.greek, is_currency(t.unit, lay)

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
        return [Row(kind="greek", label=f"{g} {t.asset}", unit=t.unit, measure=measure,
                    center=_const_fn(ctr), center_const=ctr, band=bfn,
                    band_offsets=(lo - ctr, hi - ctr), sens=[], to=t.rebalance.to,
                    fraction=float(t.rebalance.fraction), range_only=True, asset=a, greek=g,
                    convert=conv, ccy=ccy)]

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

            rows.append(Row(kind="weight", label=f"weight {leg.instrument}", unit="",
                            measure=measure, center=_const_fn(float(leg.weight)),
                            center_const=float(leg.weight), band=band, band_offsets=offs,
                            sens=[(j, sens, None)], to=t.rebalance.to,
                            fraction=float(t.rebalance.fraction)))
        return rows

    def _cash_weight_row(self, leg: ir.WeightLeg, i: int, band: Any, offs: Any,
                         rebalance: ir.Rebalance) -> Row:
        """The weight of a cash balance in a par currency. Cash is not traded itself: it moves
        when value-carrying hedge instruments are bought or sold (sensitivity -price/equity)."""

        def measure(c: StepContext) -> Any:
            return c.positions[:, i] / c.equity

        return Row(kind="cash_weight", label=f"weight {leg.instrument}", unit="",
                   measure=measure, center=_const_fn(float(leg.weight)),
                   center_const=float(leg.weight), band=band, band_offsets=offs, sens=[],
                   to=rebalance.to, fraction=float(rebalance.fraction))

    def net_exposure_rows(self, t: ir.LeverageTarget) -> list[Row]:
        """A ``target leverage``: the hedge instruments' net exposure over equity."""
        cols = [self.lay.col(n) for n in t.hedge]
        sens: Sens = []
        for n, i in zip(t.hedge, cols, strict=True):
            def s_fn(c: StepContext, i: int = i) -> Any:
                return c.marks.delta[:, i] * c.marks.notional[:, i] / c.equity
            sens.append((self.hcol(n), s_fn, None))

        def measure(c: StepContext) -> Any:
            tot: Any = 0.0
            for i in cols:
                tot = tot + c.positions[:, i] * c.marks.delta[:, i] * c.marks.notional[:, i]
            return tot / c.equity

        band, offs = self.band(t.band, "", -1)
        return [Row(kind="net_exposure", label="leverage", unit="x", measure=measure,
                    center=_const_fn(float(t.value)), center_const=float(t.value), band=band,
                    band_offsets=offs, sens=sens, to=t.rebalance.to,
                    fraction=float(t.rebalance.fraction))]

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
        return [Row(kind="cppi", label=f"cppi {t.risky}", unit="fraction", measure=measure,
                    center=center, center_const=None, band=band, band_offsets=offs,
                    sens=[(j, sens, None)], to=t.rebalance.to,
                    fraction=float(t.rebalance.fraction))]

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
                    elif lay.is_option[i] and lay.settle_asset[i] == a:
                        # a coin-settled option's premium leaves the coin balance: Delta - V/S
                        row.sens.append((j, lambda c, i=i, a=a, ccy=ccy: premium_adjusted_delta(
                            c.marks.delta[:, i], c.marks.price[:, i], c.spot[:, a]) * (
                            c.spot[:, a] if ccy else 1.0), None))
                    else:
                        row.sens.append((j, lambda c, i=i, a=a, ccy=ccy: c.marks.delta[:, i] * (
                            c.spot[:, a] if ccy else 1.0), None))
            elif row.kind == "cash_weight":
                for j, i in enumerate(self.hedge):
                    if lay.carries_value[i] and not lay.is_par_cash[i] \
                            and lay.settle_asset[i] < 0:  # coin premiums leave the coin
                        row.sens.append((j, lambda c, i=i: -c.marks.price[:, i] / c.equity, None))
            elif row.kind == "greek":
                g, conv = row.greek, row.convert
                for j, i in enumerate(self.hedge):
                    if lay.underlying[i] != a or not lay.is_option[i]:
                        continue
                    k = opt_index[i]
                    row.sens.append((j, lambda c, k=k, g=g, conv=conv: conv(
                        c, getattr(c.marks, g)[:, k]), None))


def build_targets(strategy: ir.Strategy, layout: Layout, history: PriceHistory, needs: Needs
                  ) -> tuple[list[Row], list[int]]:
    """Rows for every target of ``strategy``, in order, and the union of their hedge
    instruments (instrument columns, in order of first mention)."""
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
            rows += b.net_exposure_rows(t)
        elif isinstance(t, ir.CppiTarget):
            rows += b.cppi_rows(t)
        else:  # pragma: no cover - the IR union is closed
            raise TypeError(f"unknown target {t!r}")
    b.finish(rows)
    return rows, b.hedge
