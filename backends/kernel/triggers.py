"""When to act: ``on breach``, ``every`` (expressions allowed) and ``cooldown``, per path.

Triggers combine with OR; the cooldown applies to all of them. Per path the kernel keeps the
time of the last decision (``every`` counts from it: "act at least this often") and of the last
fill (``cooldown`` counts from it: "never act twice within this time"). Both start at minus
infinity, so a clock trigger fires at the first step. A path whose parent order is still being
worked, or that is halted or stopped, does not open a new decision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .context import StepContext
from .modes import Settings

__all__ = ["REASONS", "TriggerState"]

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]
Int8Array = NDArray[np.int8]

#: Why an order went out: index into this tuple (0: no order). Mode reasons are "mode:<name>".
REASONS = ("", "breach", "clock", "mode", "split")
NONE, BREACH, CLOCK, MODE, SPLIT = range(5)
_EPS_S = 1e-6


class TriggerState:
    """Per-path trigger clocks and the vectorized fire rule."""

    def __init__(self, batch: int, settings: Settings) -> None:
        self.batch = batch
        self.last_fire = np.full(batch, -np.inf)
        self.last_trade = np.full(batch, -np.inf)
        self.s = settings
        self.has_clock = not (settings.every_s.is_const and settings.every_s.const == np.inf)
        self.has_cooldown = not (settings.cooldown_s.is_const and settings.cooldown_s.const == 0.0)
        self._breach_only = (settings.on_breach.const == 1.0 and not self.has_clock
                             and not self.has_cooldown)

    def fire(self, ctx: StepContext, mode: Any, breach: BoolArray, blocked: BoolArray | None
             ) -> tuple[BoolArray, Int8Array]:
        """Paths where a new decision opens now, and why (``REASONS`` codes)."""
        t = ctx.t_s
        s = self.s
        if self._breach_only:
            fire = breach if blocked is None else breach & ~blocked
            reason = fire.astype(np.int8)  # BREACH == 1
        else:
            ob = s.on_breach(ctx, mode)
            if isinstance(ob, float):
                on_breach = breach if ob == 1.0 else np.zeros_like(breach)
            else:
                on_breach = breach & (ob > 0.5)
            fire = on_breach
            if self.has_clock:
                every = s.every_s(ctx, mode)
                fire = fire | ((t - self.last_fire) >= every - _EPS_S)
            if self.has_cooldown:
                cool = s.cooldown_s(ctx, mode)
                fire = fire & ((t - self.last_trade) >= cool - _EPS_S)
            if blocked is not None:
                fire = fire & ~blocked
            # CLOCK where the breach trigger did not fire, BREACH where it did; 0 if no fire.
            reason = (np.int8(CLOCK) - on_breach.view(np.int8)) * fire.view(np.int8)
            if self.has_clock:
                np.putmask(self.last_fire, fire, t)
        if mode is not None:
            reason = np.where((mode >= 0) & fire, np.int8(MODE), reason).astype(np.int8)
        return fire, reason

    def get_state(self) -> dict[str, FloatArray]:
        """Per-row clocks (seconds since the epoch, -inf: never) for :mod:`.state`."""
        return {"last_fire": self.last_fire.copy(), "last_trade": self.last_trade.copy()}

    def set_state(self, rows: dict[str, FloatArray]) -> None:
        self.last_fire[:] = rows["last_fire"]
        self.last_trade[:] = rows["last_trade"]

    def traded(self, t_s: float, filled: BoolArray) -> None:
        """Start the cooldown on paths that got a fill at ``t_s``."""
        if self.has_cooldown:
            np.putmask(self.last_trade, filled, t_s)
