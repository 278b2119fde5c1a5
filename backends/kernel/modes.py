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


#: Kinds of setting value, each turned into a ``(fn(ctx), constant or None)`` pair.
_FLAG, _NUMBER, _AMOUNT, _EVERY, _BUDGET, _PER_YEAR = (
    "flag", "number", "amount", "every", "budget", "per_year")

#: Every overridable setting, once: (field of Settings, block it is read from, how to read
#: it from a trigger or costs block, its kind, its value when absent). The spec's blocks give
#: the base value; a mode's blocks override it when the read value is not None.
SETTINGS_TABLE: tuple[tuple[str, str, Callable[[Any], Any], str, float], ...] = (
    ("on_breach", "trigger", lambda b: b.on_breach, _FLAG, 0.0),
    ("every_s", "trigger", lambda b: b.every, _EVERY, np.inf),
    ("cooldown_s", "trigger", lambda b: b.cooldown_s, _NUMBER, 0.0),
    ("max_slippage", "costs", lambda b: b.max_slippage, _NUMBER, NONE),
    ("max_fee", "costs", lambda b: b.max_fee, _NUMBER, NONE),
    ("max_gas_gwei", "costs", lambda b: b.max_gas_gwei, _NUMBER, NONE),
    ("max_gas_cost", "costs", lambda b: b.max_gas_cost, _AMOUNT, NONE),
    ("min_trade", "costs", lambda b: b.min_trade, _AMOUNT, 0.0),
    ("split_size", "costs", lambda b: b.split.size if b.split else None, _AMOUNT, NONE),
    ("split_every_s", "costs", lambda b: b.split.every_s if b.split else None, _NUMBER, 0.0),
    ("budget", "costs", lambda b: b.budget, _BUDGET, NONE),
    ("budget_window_s", "costs", lambda b: b.budget.per_s if b.budget else None, _NUMBER, 0.0),
    ("max_funding", "costs", lambda b: b.max_funding, _PER_YEAR, NONE),
)

Resolved = tuple[Callable[[StepContext], Any], float | None]


def build_settings(strategy: ir.Strategy, layout: Layout, history: PriceHistory,
                   needs: Needs, batch: int) -> tuple[ModeSet, Settings]:
    """Compile modes and every setting they may override (:data:`SETTINGS_TABLE`)."""
    modes = strategy.modes
    conds = [compile_expr(m.when, layout, history, needs) for m in modes]
    mode_set = ModeSet(tuple(m.name for m in modes), conds, batch)

    def every(e: Any) -> Resolved:
        if e is None:
            return (lambda c: np.inf), np.inf
        f = compile_expr(e, layout, history, needs)
        if is_constant(f):
            v = float(f(None))  # type: ignore[arg-type]
            return (lambda c: v), v
        return f, None

    def resolve(kind: str, value: Any, default: float) -> Resolved:
        if kind == _FLAG:
            return _num(1.0 if value else 0.0, default)
        if kind == _EVERY:
            return every(value)
        if kind == _AMOUNT:
            return _amount_fn(value, layout, default)
        if kind == _BUDGET:
            amount = None if value is None else ir.Amount(
                value=value.value, asset=value.asset or layout.numeraire)
            return _amount_fn(amount, layout, default)
        if kind == _PER_YEAR:
            per_year = None if value is None else \
                float(value.value) * 365 * 86400 / float(value.per_s)
            return _num(per_year, default)
        return _num(value, default)

    def blocks(holder: Any) -> dict[str, Any]:
        return {"trigger": holder.trigger, "costs": holder.costs}

    base_blocks = blocks(strategy)
    mode_blocks = [blocks(m) for m in modes]
    resolved: dict[str, Setting] = {}
    for name, block, read, kind, default in SETTINGS_TABLE:
        base = resolve(kind, read(base_blocks[block]), default)
        overrides = []
        for k, mb in enumerate(mode_blocks):
            value = read(mb[block])
            if value is not None:
                overrides.append((k, resolve(kind, value, default)[0]))
        resolved[name] = Setting(base[0], overrides, base[1])

    c = strategy.costs
    windows = [float(c.budget.per_s)] if c.budget is not None else []
    windows += [float(m.costs.budget.per_s) for m in modes if m.costs.budget is not None]
    return mode_set, Settings(**resolved, budget_windows=tuple(sorted(set(windows))))
