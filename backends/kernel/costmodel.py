"""The one cost model: what a trade costs on the venue, for the planner's estimate and the
simulator's fills alike.

Per leg, as fractions of the trade price: the venue ``fee`` plus slippage ``s = slippage +
|q| x k`` with size impact ``k = impact per unit + impact per numeraire x price``
(:func:`impact_per_unit`). Gas is one transaction per path and step that trades. The sim fills
at ``mark x (1 +- s)`` (``sim/accounting.py``); the planner's ``estimate_cost`` sums the same
terms before the orders go out (the budget, the liquidation buffer and ``Decision.est_cost``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .layout import Layout, VenueCosts

__all__ = ["estimate_cost", "fill_slippage", "impact_per_unit"]

FloatArray = NDArray[np.float64]


def impact_per_unit(costs: VenueCosts, units: Any, price: Any) -> Any:
    """Slippage added per unit traded: the per-unit impact ``units`` (a leg's or ``(I,)``) plus
    the per-numeraire impact at ``price``."""
    return units + costs.impact_notional * price if costs.impact_notional else units


def fill_slippage(layout: Layout, qty: FloatArray, price: FloatArray) -> FloatArray:
    """Slippage fraction of each leg: fixed venue slippage plus size impact, ``(B, I)``."""
    c = layout.costs
    slip: FloatArray = c.slippage + np.abs(qty) * impact_per_unit(c, c.impact_units, price)
    return slip


def estimate_cost(layout: Layout, qty: FloatArray, price: FloatArray, gas_ccy: Any,
                  fee: FloatArray | None = None) -> FloatArray:
    """Fees plus slippage plus gas the venue would charge for ``qty`` ``(B, I)``, numeraire
    ``(B,)``; ``fee`` per instrument ``(I,)`` when the venue states it (else the layout's),
    ``gas_ccy`` one transaction's gas (0.0: none)."""
    trade_value = np.abs(qty) * price
    frac = (layout.costs.fee if fee is None else fee) + fill_slippage(layout, qty, price)
    cost: FloatArray = (trade_value * frac).sum(axis=1)
    if not (isinstance(gas_ccy, float) and gas_ccy == 0.0):
        cost = cost + np.where((qty != 0.0).any(axis=1), gas_ccy, 0.0)
    return cost
