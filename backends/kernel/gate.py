"""The shared pre-trade risk gate: what it refuses, it refuses with the limit named.

The gate sees the positions, the orders about to go out and the marks, and checks each limit of
the spec's ``risk`` block *after* the trade:

* ``max leverage``: post-trade gross delta-equivalent exposure ``sum |q delta S|`` over
  current equity;
* ``liquidation buffer P%``: with equity reduced by the trade's estimated cost, the smallest
  relative move of one underlying's price that brings
  equity down to the maintenance requirement must be at least P%. With ``D`` the portfolio
  delta in that asset, ``N`` the gross notional of perps and futures (``N_a`` on that asset)
  and ``m`` the sim venue's maintenance margin, the move solves
  ``E + D S x = m (N + N_a x)``; a long at leverage L with m = 0 is liquidated by a fall of
  1/L. A live venue's stated margin (:mod:`.margin`: per instrument, tiered by notional,
  options included) replaces ``m N`` by the requirement ``R`` at the post-trade notionals'
  tiers and ``m N_a`` by its slope ``R_a`` (``rate x |N|`` of that asset's positions):
  ``E + D S x = R + R_a x``. Moves below -100% cannot happen and count as no liquidation. Coin-settled books
  (:mod:`.coins`): ``D`` includes every coin balance (collateral too: all of it moves
  equity), and an inverse contract's requirement
  ``m |N|`` stays fixed in the numeraire as the price moves (its ``N_a`` term is 0);
* ``max position I Q`` (Q in units, or in a currency at the underlying's spot);
* ``max notional Q``: gross notional ``sum |q| S`` of the owned instruments;
* ``max orders N per W``: children sent in the trailing window plus those now.

A trade that does not make a limit's measure worse is always allowed, even when the limit is
already breached (reducing risk must never be blocked). A refused path sends nothing this step;
its parent order is cancelled. ``halt when`` is evaluated by the planner, not here: a halt is a
state, not a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir
from rebal.compiler.riskmath import liquidation_move

from .coins import coin_after
from .context import gross_exposure, gross_leverage, unit_exposure
from .layout import PAR_CURRENCIES, Layout
from .margin import MarginTiers, as_tiers, tiered_requirement
from .valuation import Marks

__all__ = ["Gate", "liquidation_distance", "maintenance_requirement"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_TOL = 1e-9


def _margined(layout: Layout, positions: FloatArray, notional: FloatArray) -> FloatArray:
    """Absolute notional ``|q| S`` a stated margin weighs, ``(B, I)``: perps and futures, and
    the short side of options (a long option needs no maintenance margin; a short one what
    the venue states for it, none: 0)."""
    q = np.where(layout.is_option, np.minimum(positions, 0.0), positions) \
        if layout.is_option.any() else positions
    return np.where(layout.is_linear | layout.is_option, np.abs(q * notional), 0.0)


def maintenance_requirement(layout: Layout, positions: FloatArray, notional: FloatArray,
                            margin: FloatArray | MarginTiers | None = None) -> FloatArray:
    """Maintenance requirement in the numeraire, ``(B,)``. ``margin``: the venue's, per
    instrument, as a fraction of notional ``(I,)`` or as tiers (:mod:`.margin`: the tier of
    each position's notional), options included; None: the layout's one fraction ``m`` of the
    gross notional of perps and futures (the sim venue's ``maintenance margin``)."""
    if margin is not None:
        req, _ = tiered_requirement(as_tiers(margin), _margined(layout, positions, notional))
        stated: FloatArray = req.sum(axis=1)
        return stated
    if not layout.is_linear.any():
        return np.zeros(positions.shape[0])
    cols = np.flatnonzero(layout.is_linear)
    mm = layout.costs.maintenance_margin
    if mm == 0.0:
        return np.zeros(positions.shape[0])
    req_sim: FloatArray = mm * np.abs(positions[:, cols] * notional[:, cols]).sum(axis=1)
    return req_sim


def liquidation_distance(layout: Layout, positions: FloatArray, marks: Marks, equity: FloatArray,
                         margin: FloatArray | MarginTiers | None = None,
                         coin: FloatArray | None = None) -> FloatArray:
    """Smallest relative move of one underlying that reaches liquidation, ``(B,)`` (inf: none);
    ``margin`` per instrument as the venue states it, a fraction ``(I,)`` or tiers (None: the
    layout's); ``coin`` the coin balances ``(B, A)`` of a coin-settled book (None: none).
    A stated margin is linearised at the positions' tiers (:func:`.margin.tiered_requirement`)."""
    mm: Any = layout.costs.maintenance_margin
    notional = marks.notional
    d = (positions * marks.delta) @ layout.membership  # (B, A) units
    if coin is not None:
        d = d + coin
    dollar = d * marks.spot
    if margin is not None:  # the venue's: each instrument's requirement and slope
        req, lin = tiered_requirement(as_tiers(margin), _margined(layout, positions, notional))
        n_tot = req.sum(axis=1)
        mm = 1.0
    else:
        lin = np.where(layout.is_linear, np.abs(positions) * notional, 0.0)
        n_tot = (lin @ layout.membership).sum(axis=1)
    if layout.is_inverse.any():  # a fixed numeraire notional: its margin does not move
        lin = np.where(layout.is_inverse, 0.0, lin)
    n_a = lin @ layout.membership  # (B, A)
    cushion = equity - mm * n_tot  # (B,)
    den = dollar - mm * n_a
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = liquidation_move(cushion[:, None], dollar, mm, n_a)
    dist = np.where(den == 0.0, np.inf, dist)
    dist = np.where((den > 0.0) & (dist >= 1.0), np.inf, dist)  # a fall beyond 100%
    out = dist.min(axis=1) if dist.shape[1] else np.full(equity.shape, np.inf)
    return np.where(cushion <= 0.0, 0.0, out)


@dataclass(frozen=True)
class _PositionLimit:
    col: int
    value: float
    asset_col: int  # -1: the amount is in a par currency / numeraire
    in_units: bool


class Gate:
    """Checks one step's orders against the spec's risk limits."""

    def __init__(self, strategy: ir.Strategy, layout: Layout, names: list[str]) -> None:
        self.layout = layout
        r = strategy.risk
        self.max_leverage = float(r.max_leverage) if r.max_leverage is not None else None
        self.buffer = float(r.liquidation_buffer) if r.liquidation_buffer is not None else None
        self.positions: list[_PositionLimit] = []
        for pl in r.max_position:
            col = layout.col(pl.instrument)
            und = layout.underlying[col]
            in_units = pl.limit.asset == strategy.instrument(pl.instrument).underlying
            self.positions.append(_PositionLimit(col, float(pl.limit.value),
                                                 -1 if pl.limit.asset in PAR_CURRENCIES else int(und),
                                                 in_units))
        self.max_notional = None
        if r.max_notional is not None:
            a = layout.asset_col(r.max_notional.asset)
            self.max_notional = (float(r.max_notional.value), a)
        self.max_orders = (r.max_orders.count, float(r.max_orders.per_s)) if r.max_orders else None
        self.notional_cols = np.flatnonzero(layout.owned & ~layout.is_par_cash)
        # Refusal names, registered in check order; codes are indices into the planner's list.
        self.codes: dict[str, int] = {}
        for name in self.limit_names():
            if name not in names:
                names.append(name)
            self.codes[name] = names.index(name)

    def limit_names(self) -> list[str]:
        out = []
        if self.max_leverage is not None:
            out.append("max leverage")
        if self.buffer is not None:
            out.append("liquidation buffer")
        for p in self.positions:
            out.append(f"max position {self.layout.instruments[p.col]}")
        if self.max_notional is not None:
            out.append("max notional")
        if self.max_orders is not None:
            out.append("max orders")
        return out

    @property
    def active(self) -> bool:
        return bool(self.codes)

    def check(self, positions: FloatArray, orders: FloatArray, marks: Marks, equity: FloatArray,
              est_cost: FloatArray, recent_orders: FloatArray | None,
              new_orders: FloatArray | None = None,
              margin: FloatArray | MarginTiers | None = None,
              coin: FloatArray | None = None) -> NDArray[np.int16]:
        """Refusal code per path (0: allowed) for sending ``orders`` now; ``coin`` is the
        coin balances ``(B, A)`` of a coin-settled book (:mod:`.coins`)."""
        code = np.zeros(positions.shape[0], dtype=np.int16)
        has = (orders != 0.0).any(axis=1)
        if not has.any():
            return code
        post = positions + orders
        eq_post = equity - est_cost
        notional = marks.notional

        def refuse(name: str, bad: BoolArray) -> None:
            hit = bad & has & (code == 0)
            code[hit] = self.codes[name]

        if self.max_leverage is not None:
            # Post-trade exposure over current equity: a target exactly at the limit must not
            # be refused because the trade's own fee shaves the equity.
            unit = unit_exposure(marks)
            lev_pre = gross_leverage(gross_exposure(positions, unit), equity)
            lev_post = gross_leverage(gross_exposure(post, unit), equity)
            refuse("max leverage",
                   (lev_post > self.max_leverage + _TOL) & ~(lev_post <= lev_pre + _TOL))
        if self.buffer is not None:
            coin_post = None if coin is None else coin_after(
                self.layout.settle_asset, self.layout.is_option, coin, orders, marks.price,
                marks.spot)
            d_pre = liquidation_distance(self.layout, positions, marks, equity, margin, coin)
            d_post = liquidation_distance(self.layout, post, marks, eq_post, margin, coin_post)
            refuse("liquidation buffer", (d_post < self.buffer - _TOL) & ~(d_post >= d_pre - _TOL))
        for p in self.positions:
            lim: Any = p.value if p.in_units else (
                p.value / notional[:, p.col] if p.asset_col < 0
                else p.value * marks.spot[:, p.asset_col] / notional[:, p.col])
            q0, q1 = np.abs(positions[:, p.col]), np.abs(post[:, p.col])
            refuse(f"max position {self.layout.instruments[p.col]}",
                   (q1 > lim * (1 + _TOL)) & (q1 > q0 * (1 + _TOL)))
        if self.max_notional is not None:
            value, a = self.max_notional
            lim = value if a < 0 else value * marks.spot[:, a]
            cols = self.notional_cols
            n0 = (np.abs(positions[:, cols]) * notional[:, cols]).sum(axis=1)
            n1 = (np.abs(post[:, cols]) * notional[:, cols]).sum(axis=1)
            refuse("max notional", (n1 > lim * (1 + _TOL)) & (n1 > n0 * (1 + _TOL)))
        if self.max_orders is not None and recent_orders is not None:
            count, _ = self.max_orders
            now = new_orders if new_orders is not None else (orders != 0.0).sum(axis=1)
            refuse("max orders", recent_orders + now > count)
        return code
