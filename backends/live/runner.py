"""The ``rebal run`` loop: step, sleep to the next decision time, stop cleanly on a signal.

SIGINT and SIGTERM set a flag: the step in flight finishes (its orders journaled, sent,
settled or left ``unknown`` for the reconciliation; an order resting at the venue, a solver's
intent, is left resting instead of being waited for) and the loop ends; the journal is
consistent at every commit, so even SIGKILL loses nothing but the step's remaining sends,
which the next start reconciles.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType

from rebal.compiler import ir

from .session import LiveSession, StepResult

__all__ = ["Stop", "decision_interval", "run_loop"]

log = logging.getLogger("rebal.live")


class Stop:
    """A flag set by SIGINT/SIGTERM (or by a caller) that ends the loop after the step."""

    def __init__(self) -> None:
        self.requested = False
        self.signal: int | None = None

    def set(self, signum: int | None = None) -> None:
        self.requested = True
        self.signal = signum


@contextmanager
def stop_on_signals(stop: Stop) -> Iterator[Stop]:
    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning("signal %d: finishing the step in flight, then stopping", signum)
        stop.set(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def decision_interval(strategy: ir.Strategy) -> float:
    """Seconds between decisions by default: the shortest clock the spec names (split period,
    ``every``, cooldown), at most 60 s, so breaches are seen within a minute."""
    cands = [60.0]
    if strategy.costs.split is not None:
        every = getattr(strategy.costs.split, "every_s", None)
        cands.append(_const_seconds(every))
    for m in strategy.modes:
        if m.costs.split is not None:
            cands.append(_const_seconds(getattr(m.costs.split, "every_s", None)))
    cands.append(_const_seconds(strategy.trigger.every))
    vals = [c for c in cands if math.isfinite(c) and c > 0]
    return min(vals)


def _const_seconds(v: object) -> float:
    value = getattr(v, "value", v)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.inf


def run_loop(session: LiveSession, *, interval_s: float, once: bool = False,
             max_steps: int | None = None, stop: Stop | None = None,
             on_step: Callable[[StepResult], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> int:
    """Step until stopped; the number of steps run."""
    stop = stop or Stop()
    session.policy = replace(session.policy, stop=lambda: stop.requested)  # resting orders
    n = 0
    while not stop.requested:
        t0 = time.monotonic()
        res = session.step()
        n += 1
        if on_step is not None:
            on_step(res)
        if once or (max_steps is not None and n >= max_steps):
            break
        left = interval_s - (time.monotonic() - t0)
        while left > 0 and not stop.requested:
            sleep(min(left, 0.25))
            left = interval_s - (time.monotonic() - t0)
    return n
