"""No-trade bands: where a target's measure may drift before the kernel acts.

Every band is compiled to a closure ``band(ctx, center) -> (lo, hi)`` giving absolute levels in
the target's unit, floats when constant and ``(B,)`` arrays otherwise:

* symmetric ``band W``: ``center -/+ W``; with ``relative``, ``W`` is a fraction of
  ``|center|`` (``50% band 10% relative`` is 45%..55%);
* asymmetric ``band LO to HI``: the two levels as written;
* an expression is evaluated by the shared evaluator each step;
* ``optimal(risk_aversion g)``: the Whalley–Wilmott asymptotic band
  ``h = (3 e^{-r tau} lambda S Gamma^2 / (2 g))^(1/3)`` in units of the underlying, with
  ``lambda`` the venue's fee plus slippage as a fraction of price, ``Gamma`` the whole
  portfolio's d2V/dS2 in that asset and ``tau`` the time to the nearest live option expiry on
  it (Whalley & Wilmott 1997). It is converted to the target's unit when that is a currency.

Widths written in a currency for a target in units (or the other way round) are converted
with the underlying's spot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rebal.compiler import ir

from .context import StepContext
from .evaluator import Compiled, Needs, compile_expr, is_constant
from .history import PriceHistory
from .layout import PAR_CURRENCIES, SECONDS_PER_YEAR, Layout

__all__ = ["BandFn", "compile_band", "whalley_wilmott"]

BandFn = Callable[[StepContext, Any], tuple[Any, Any]]


def whalley_wilmott(gamma: Any, spot: Any, cost: float, risk_aversion: float,
                    rate: float = 0.0, tau: Any = 0.0) -> Any:
    """Half-width of the Whalley–Wilmott no-trade band in units of the underlying."""
    disc = np.exp(-rate * np.asarray(tau))
    return np.cbrt(3.0 * disc * cost * spot * np.square(gamma) / (2.0 * risk_aversion))


def _converter(expr_unit: str, target_unit: str, asset_col: int, layout: Layout
               ) -> Callable[[StepContext, Any], Any] | None:
    """Convert an amount in ``expr_unit`` to ``target_unit`` with spot, None if no change."""
    if expr_unit == target_unit or asset_col < 0:
        return None
    ccy = PAR_CURRENCIES | {layout.numeraire}
    if expr_unit in ccy and target_unit not in ccy:
        return lambda c, v: v / c.spot[:, asset_col]
    if target_unit in ccy and expr_unit not in ccy and expr_unit:
        return lambda c, v: v * c.spot[:, asset_col]
    return None


def _amount(expr: Any, target_unit: str, asset_col: int, layout: Layout, history: PriceHistory,
            needs: Needs) -> Compiled:
    f = compile_expr(expr, layout, history, needs)
    unit = getattr(expr, "unit", target_unit)
    conv = _converter(unit, target_unit, asset_col, layout)
    if conv is None:
        return f
    return lambda c: conv(c, f(c))


def compile_band(band: Any, *, target_unit: str, asset_col: int, layout: Layout,
                 history: PriceHistory, needs: Needs) -> tuple[BandFn, tuple[float, float] | None]:
    """Compile ``band``; the second item is ``(lo_offset, hi_offset)`` when the band is a
    constant offset from the center (the planner's fast path), else None."""
    if isinstance(band, ir.SymmetricBand):
        width = _amount(band.width, target_unit, asset_col, layout, history, needs)
        if band.relative:
            return (lambda c, ctr: _sym(ctr, width(c) * np.abs(ctr))), None
        if is_constant(width):
            w = float(width(None))  # type: ignore[arg-type]
            return (lambda c, ctr: (ctr - w, ctr + w)), (-w, w)
        return (lambda c, ctr: _sym(ctr, width(c))), None
    if isinstance(band, ir.AsymmetricBand):
        lo = _amount(band.lower, target_unit, asset_col, layout, history, needs)
        hi = _amount(band.upper, target_unit, asset_col, layout, history, needs)
        return (lambda c, ctr: (lo(c), hi(c))), None
    if isinstance(band, ir.OptimalBand):
        return _optimal(band, target_unit, asset_col, layout, needs), None
    raise TypeError(f"unknown band {band!r}")


def _sym(center: Any, width: Any) -> tuple[Any, Any]:
    w = np.abs(width)
    return center - w, center + w


def _optimal(band: ir.OptimalBand, target_unit: str, a: int, layout: Layout, needs: Needs
             ) -> BandFn:
    needs.gamma = True
    gamma_r = float(band.risk_aversion)
    cost = layout.costs.proportional
    rate = layout.costs.rate
    in_ccy = target_unit in PAR_CURRENCIES or target_unit == layout.numeraire
    expiries = layout.opt_expiry_s[layout.opt_asset == a] if layout.opt_cols.size else []

    def band_fn(c: StepContext, center: Any) -> tuple[Any, Any]:
        s = c.spot[:, a]
        live = [e for e in expiries if e > c.t_s]
        tau = (min(live) - c.t_s) / SECONDS_PER_YEAR if live else 0.0
        h = whalley_wilmott(c.gamma_units[:, a], s, cost, gamma_r, rate, tau)
        if in_ccy:
            h = h * s
        return center - h, center + h

    return band_fn
