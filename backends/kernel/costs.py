"""Cost limits on child orders, checked before the risk gate.

* ``max fee R``: refused when the fee of an instrument the children trade is above R
  (``max fee``);
* ``max gas G``: refused while the venue's gas price is above G (``max gas``);
* ``max gas cost Q``: refused when one transaction's gas (gas used x gas price x the ETH
  price, in the numeraire) costs more than Q (``max gas cost``);
* ``budget Q per W``: refused when the estimated cost of the children plus what was spent
  (fees + slippage + gas) in the trailing window exceeds Q (``budget``). The window is a ring
  of buckets 1/24 of the shortest budget window wide, so it is exact to within one bucket;
* ``max funding R``: children may not grow a perp position on the side that pays funding when
  the funding rate is beyond R per year (positive: longs pay). Such legs are clipped (the
  reduction is reported as ``max funding``), the rest of the order still goes.

Any limit a mode overrides is applied with the mode's value on the paths where it is active.

Where the facts come from: a sim venue's fee, gas price and gas used are fixed for the run
(``layout.costs``); a live venue states them each step in the ``MarketView`` (``fee``,
``gas_price_gwei`` or ``base_fee_gwei``, ``gas_used``), and a view's fact always wins. On a
live venue every rule the spec sets is built, and a rule whose fact the view does not state
refuses the step's orders under its own name: a limit the kernel cannot check is not
silently passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .context import MarketView, StepContext
from .costmodel import estimate_cost
from .layout import Layout
from .modes import Settings
from .orders import RollingBuckets

__all__ = ["CostRules"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _on(setting: Any) -> bool:
    return bool(setting.present())


def _known(gas: Any) -> Any:
    """Gas cost with unknown (nan) entries as 0.0, for the estimate."""
    if isinstance(gas, float):
        return 0.0 if gas != gas else gas
    return np.where(np.isnan(gas), 0.0, gas)


def _above(value: Any, limit: Any) -> Any:
    """``value > limit``, where an unknown (nan) value counts as above."""
    return ~np.asarray(value <= limit)


class CostRules:
    """The cost limits a spec uses, with their refusal codes and the rolling budget."""

    def __init__(self, layout: Layout, settings: Settings, batch: int, names: list[str],
                 gate_needs_cost: bool) -> None:
        self.layout = layout
        self.s = settings
        self.batch = batch
        c = layout.costs
        self.static = c.static
        self.fee_rule = _on(settings.max_fee)
        self.gas_rule = _on(settings.max_gas_gwei) and (c.gas_gwei > 0.0 or not c.static)
        self.gas_cost_rule = _on(settings.max_gas_cost) and (c.gas_eth > 0.0 or not c.static)
        self.funding_rule = _on(settings.max_funding) and any(k == "perp" for k in layout.kinds)
        self.budget: RollingBuckets | None = None
        if settings.budget_windows:
            self.budget = RollingBuckets(batch, settings.budget_windows)
        self.perp = np.array([k == "perp" for k in layout.kinds])
        self.need_cost = self.budget is not None or gate_needs_cost or self.gas_cost_rule
        self.codes: dict[str, int] = {}
        for name, on in (("max fee", self.fee_rule), ("max gas", self.gas_rule),
                         ("max gas cost", self.gas_cost_rule), ("budget", self.budget is not None),
                         ("max funding", self.funding_rule)):
            if on:
                if name not in names:
                    names.append(name)
                self.codes[name] = names.index(name)
        self.active = bool(self.codes) or self.need_cost

    def gas_cost(self, market: MarketView) -> Any:
        """Gas of one transaction in the numeraire, ``(B,)`` or 0.0 (no gas, or no ETH price:
        skipped); nan where a live view does not state the gas price or gas used."""
        c = self.layout.costs
        gwei = market.gas_gwei()
        if gwei is None and market.gas_used is None:
            if c.gas_eth <= 0.0 or c.gas_asset < 0:
                return 0.0 if c.static or c.gas_asset < 0 else np.nan
            return c.gas_eth * market.spot[:, c.gas_asset]
        if c.gas_asset < 0:
            return 0.0
        if gwei is None:
            gwei = c.gas_gwei if c.static else np.nan
        used = market.gas_used if market.gas_used is not None else (
            c.gas_used if c.static else np.nan)
        return np.asarray(gwei, dtype=np.float64) * (used * 1e-9) * market.spot[:, c.gas_asset]

    def _gas_price(self, market: MarketView) -> Any:
        """Gas price in gwei: the view's, else the sim venue's (nan: a live view without)."""
        gwei = market.gas_gwei()
        if gwei is not None:
            return np.asarray(gwei, dtype=np.float64)
        return self.layout.costs.gas_gwei if self.static else np.nan

    def _fee_over(self, market: MarketView, child: FloatArray, lim: Any) -> Any:
        """Paths whose traded instruments include one with a fee above ``lim``."""
        if market.fee is None:
            if self.static:
                return self.layout.costs.fee > lim
            return np.ones(self.batch, dtype=bool)  # a live venue that states no fee
        fee = np.asarray(market.fee, dtype=np.float64)
        lim = np.asarray(lim, dtype=np.float64)
        over = ~(fee <= (lim[:, None] if lim.ndim else lim))
        return (over & (child != 0.0)).any(axis=1)

    def apply(self, ctx: StepContext, mode: Any, child: FloatArray
              ) -> tuple[FloatArray, NDArray[np.int16], FloatArray]:
        """Children after cost limits, refusal code per path, estimated cost ``(B,)``."""
        b = self.batch
        code = np.zeros(b, dtype=np.int16)
        has = (child != 0.0).any(axis=1)
        marks = ctx.marks

        def refuse(name: str, bad: Any) -> None:
            hit = np.asarray(bad) & has & (code == 0)
            code[hit] = self.codes[name]

        if self.funding_rule:
            clipped, changed = self._clip_funding(ctx, mode, child)
            if changed.any():
                child = clipped
                code[changed & has] = self.codes["max funding"]
                has = (child != 0.0).any(axis=1)
        market = ctx.market
        if self.fee_rule:
            refuse("max fee", self._fee_over(market, child, self.s.max_fee(ctx, mode)))
        if self.gas_rule:
            refuse("max gas", _above(self._gas_price(market), self.s.max_gas_gwei(ctx, mode)))
        gas = self.gas_cost(market)
        if self.gas_cost_rule:
            refuse("max gas cost", _above(gas, self.s.max_gas_cost(ctx, mode)))
        gas = _known(gas)  # unknown gas: refused above, or no rule to refuse it
        est = estimate_cost(self.layout, child, marks.price, gas, market.fee) \
            if self.need_cost else np.zeros(b)
        if self.budget is not None:
            window = self.s.budget_window_s(ctx, mode)
            spent = self.budget.total(ctx.t_s, window)
            refuse("budget", spent + est > self.s.budget(ctx, mode))
        # "max funding" only clips; every other code refuses the whole path.
        blocked = (code != 0) & (code != self.codes.get("max funding", -1))
        if blocked.any():
            child = child.copy()
            child[blocked] = 0.0
            est = np.where(blocked, 0.0, est)
        return child, code, est

    def _clip_funding(self, ctx: StepContext, mode: Any, child: FloatArray
                      ) -> tuple[FloatArray, BoolArray]:
        f = np.asarray(ctx.market.funding if ctx.market.funding is not None
                       else self.layout.costs.funding, dtype=np.float64)
        lim = np.asarray(self.s.max_funding(ctx, mode), dtype=np.float64)
        if lim.ndim:
            lim = lim[:, None]
        with np.errstate(invalid="ignore"):
            longs_pay = (f > lim) & self.perp
            shorts_pay = (f < -lim) & self.perp
        q = ctx.positions
        hi = np.where(longs_pay, np.maximum(q, 0.0) - q, np.inf)
        lo = np.where(shorts_pay, np.minimum(q, 0.0) - q, -np.inf)
        clipped = np.clip(child, lo, hi)
        return clipped, (clipped != child).any(axis=1)

    def spent(self, t_s: float, cost: FloatArray) -> None:
        """Book what fills actually cost into the rolling budget."""
        if self.budget is not None:
            self.budget.add(t_s, cost)
