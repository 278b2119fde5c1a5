"""Modes: named conditions that override trigger and cost settings while they hold.

``mode NAME when COND { ... }`` is evaluated on every path at every step. When several modes
hold, the first declared wins. Each overridable setting becomes a :class:`Setting`: a closure
``value(ctx, mode) -> float | (B,) array`` that returns the base value when no mode overrides
it (no per-path work at all) and otherwise picks, per path, the active mode's value.

Settings are plain floats after resolution: absent limits are ``nan`` (none), an absent
``every`` is ``inf``, amounts are converted to the numeraire with the step's spot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir

from .context import StepContext
from .evaluator import Compiled, Needs, as_mask, compile_expr, is_constant
from .history import PriceHistory
from .layout import Layout

__all__ = ["ModeSet", "Setting", "Settings", "build_settings"]

IntArray = NDArray[np.intp]
NONE = float("nan")


class ModeSet:
    """The spec's modes, compiled; ``active`` gives the winning mode per path (-1: none)."""

    def __init__(self, names: tuple[str, ...], conds: list[Compiled], batch: int) -> None:
        self.names = names
        self.conds = conds
        self.batch = batch

    def active(self, ctx: StepContext) -> IntArray | None:
        if not self.conds:
            return None
        idx = np.full(self.batch, -1, dtype=np.intp)
        for m in range(len(self.conds) - 1, -1, -1):
            on = as_mask(self.conds[m](ctx), self.batch)
            idx = np.where(on, m, idx)
        return idx


class Setting:
    """One overridable setting: base value plus per-mode overrides."""

    def __init__(self, base: Callable[[StepContext], Any],
                 overrides: list[tuple[int, Callable[[StepContext], Any]]],
                 const: float | None) -> None:
        self.base = base
        self.overrides = overrides
        self.const = const if not overrides else None  # fast path: never depends on a mode

    @property
    def is_const(self) -> bool:
        return self.const is not None

    def __call__(self, ctx: StepContext, mode: IntArray | None) -> Any:
        if self.const is not None:
            return self.const
        out = self.base(ctx)
        if mode is None or not self.overrides:
            return out
        for m, fn in self.overrides:
            out = np.where(mode == m, fn(ctx), out)
        return out

    def present(self) -> bool:
        """False when the setting is absent in the base and in every mode."""
        return not (self.const is not None and np.isnan(self.const))


@dataclass
class Settings:
    """Every trigger and cost setting the planner reads, resolved per step."""

    on_breach: Setting  # 1.0 / 0.0
    every_s: Setting  # inf: no clock
    cooldown_s: Setting
    max_slippage: Setting  # nan: none
    max_fee: Setting
    max_gas_gwei: Setting
    max_gas_cost: Setting  # numeraire
    min_trade: Setting  # numeraire, 0: none
    split_size: Setting  # numeraire, nan: no split
    split_every_s: Setting
    budget: Setting  # numeraire per window, nan: none
    budget_window_s: Setting
    max_funding: Setting  # fraction per year, nan: none
    budget_windows: tuple[float, ...]


def _amount_fn(amount: ir.Amount | None, layout: Layout, default: float) -> tuple[Callable[[StepContext], Any], float | None]:
    if amount is None:
        return (lambda c: default), default
    a = layout.asset_col(amount.asset)
    v = float(amount.value)
    if a < 0:
        return (lambda c: v), v
    return (lambda c: v * c.spot[:, a]), None


def _num(v: Decimal | float | None, default: float) -> tuple[Callable[[StepContext], Any], float]:
    x = default if v is None else float(v)
    return (lambda c: x), x


def build_settings(strategy: ir.Strategy, layout: Layout, history: PriceHistory,
                   needs: Needs, batch: int) -> tuple[ModeSet, Settings]:
    """Compile modes and every setting they may override."""
    modes = strategy.modes
    conds = [compile_expr(m.when, layout, history, needs) for m in modes]
    mode_set = ModeSet(tuple(m.name for m in modes), conds, batch)

    def setting(base: tuple[Callable[[StepContext], Any], float | None],
                pick: Callable[[ir.Mode], tuple[Callable[[StepContext], Any], float | None] | None]
                ) -> Setting:
        overrides = []
        for k, m in enumerate(modes):
            got = pick(m)
            if got is not None:
                overrides.append((k, got[0]))
        return Setting(base[0], overrides, base[1])

    def every(e: Any) -> tuple[Callable[[StepContext], Any], float | None]:
        if e is None:
            return (lambda c: np.inf), np.inf
        f = compile_expr(e, layout, history, needs)
        if is_constant(f):
            v = float(f(None))  # type: ignore[arg-type]
            return (lambda c: v), v
        return f, None

    t, c = strategy.trigger, strategy.costs
    budget_amt = ir.Amount(value=c.budget.value, asset=c.budget.asset or layout.numeraire) \
        if c.budget is not None else None

    def budget_of(r: ir.Rate | None) -> ir.Amount | None:
        return None if r is None else ir.Amount(value=r.value, asset=r.asset or layout.numeraire)

    def per_year(r: ir.Rate | None) -> float | None:
        return None if r is None else float(r.value) * 365 * 86400 / float(r.per_s)

    windows = [float(c.budget.per_s)] if c.budget is not None else []
    windows += [float(m.costs.budget.per_s) for m in modes if m.costs.budget is not None]

    settings = Settings(
        on_breach=setting(_num(1.0 if t.on_breach else 0.0, 0.0),
                          lambda m: None if m.trigger.on_breach is None
                          else _num(1.0 if m.trigger.on_breach else 0.0, 0.0)),
        every_s=setting(every(t.every),
                        lambda m: None if m.trigger.every is None else every(m.trigger.every)),
        cooldown_s=setting(_num(t.cooldown_s, 0.0),
                           lambda m: None if m.trigger.cooldown_s is None
                           else _num(m.trigger.cooldown_s, 0.0)),
        max_slippage=setting(_num(c.max_slippage, NONE),
                             lambda m: None if m.costs.max_slippage is None
                             else _num(m.costs.max_slippage, NONE)),
        max_fee=setting(_num(c.max_fee, NONE), lambda m: None if m.costs.max_fee is None
                        else _num(m.costs.max_fee, NONE)),
        max_gas_gwei=setting(_num(c.max_gas_gwei, NONE),
                             lambda m: None if m.costs.max_gas_gwei is None
                             else _num(m.costs.max_gas_gwei, NONE)),
        max_gas_cost=setting(_amount_fn(c.max_gas_cost, layout, NONE),
                             lambda m: None if m.costs.max_gas_cost is None
                             else _amount_fn(m.costs.max_gas_cost, layout, NONE)),
        min_trade=setting(_amount_fn(c.min_trade, layout, 0.0),
                          lambda m: None if m.costs.min_trade is None
                          else _amount_fn(m.costs.min_trade, layout, 0.0)),
        split_size=setting(_amount_fn(c.split.size if c.split else None, layout, NONE),
                           lambda m: None if m.costs.split is None
                           else _amount_fn(m.costs.split.size, layout, NONE)),
        split_every_s=setting(_num(c.split.every_s if c.split else None, 0.0),
                              lambda m: None if m.costs.split is None
                              else _num(m.costs.split.every_s, 0.0)),
        budget=setting(_amount_fn(budget_amt, layout, NONE),
                       lambda m: None if m.costs.budget is None
                       else _amount_fn(budget_of(m.costs.budget), layout, NONE)),
        budget_window_s=setting(_num(c.budget.per_s if c.budget else None, 0.0),
                                lambda m: None if m.costs.budget is None
                                else _num(m.costs.budget.per_s, 0.0)),
        max_funding=setting(_num(per_year(c.max_funding), NONE),
                            lambda m: None if m.costs.max_funding is None
                            else _num(per_year(m.costs.max_funding), NONE)),
        budget_windows=tuple(sorted(set(windows))),
    )
    return mode_set, settings
