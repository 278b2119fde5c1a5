"""The shared decision kernel: one planner and one pre-trade gate for every backend.

``Kernel.build(strategy, venue, batch)`` compiles a strategy once; ``decide`` plans a step
across a batch of paths (simulation) or a batch of one (live). See ``planner.py``, and
``decision.py`` for the ``Decision`` it returns and the ``Fills`` it is told back.
"""

from __future__ import annotations

from .context import MarketView, PortfolioView
from .decision import Decision, Fills
from .gate import liquidation_distance, maintenance_requirement
from .layout import PAR_CURRENCIES, SECONDS_PER_YEAR, Layout, build_layout
from .planner import Kernel
from .triggers import REASONS
from .valuation import Marks

__all__ = [
    "PAR_CURRENCIES",
    "REASONS",
    "SECONDS_PER_YEAR",
    "Decision",
    "Fills",
    "Kernel",
    "Layout",
    "MarketView",
    "Marks",
    "PortfolioView",
    "build_layout",
    "liquidation_distance",
    "maintenance_requirement",
]
