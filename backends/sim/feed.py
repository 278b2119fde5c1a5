"""The market feed: the model stepped one step ahead of the engine, on a helper thread.

A sim venue's market is exogenous: nothing the strategy does moves the model's spots or vols.
So while the engine marks, plans and fills step ``k``, a helper thread can already draw step
``k + 1`` (random numbers, exponentials, Heston's variance update) and start marking it
(``prepare``: the kernel's :meth:`~rebal.backends.kernel.Kernel.mark_ahead` prices the first
two thirds of the option rows there). numpy's generators and ufuncs, and scipy's ``ndtr``,
release the GIL while they fill arrays, so on a machine with two or more cores the two run at
once.

Determinism is kept: only the helper thread touches the model once the feed starts, and it
steps it in the same order a plain loop would, so every path is bit for bit the one
``model.step`` gives sequentially (``tests/test_sim_engine.py`` checks this). On a
single-core machine, or with ``threaded=False``, the feed steps synchronously.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from numpy.typing import NDArray

from rebal.backends.kernel.threads import helper_pool

__all__ = ["MarketFeed"]


class MarketFeed:
    """``(spot, vol)`` for steps ``1 .. steps`` of a freshly reset model, each drawn ahead.

    ``spot0``/``vol0`` are the model's state at step 0, read before anything is drawn. Each
    :meth:`next` returns the pair the model had right after that step (``vol`` read in the same
    place as ``spot``, so a stochastic vol belongs to the same step), and starts drawing the
    following one. Models make new arrays every step, so what :meth:`next` returned stays valid.
    ``prepare(t_s, spot, vol)``, if given, runs on the feed's thread right after step ``k`` is
    drawn, with ``t_s = k * step_s`` (only when threaded: it is there to get work done early,
    and must not change any result).
    """

    def __init__(self, model: Any, dt_years: float, steps: int, *, threaded: bool = True,
                 prepare: Callable[[float, Any, Any], None] | None = None,
                 step_s: float = 0.0) -> None:
        self._model = model
        self._dt = dt_years
        self._left = int(steps)
        self._prepare = prepare if threaded else None
        self._step_s = step_s
        self._k = 0  # steps drawn (only the feed's thread touches it once started)
        self.spot0: NDArray[Any] = model.spot
        self.vol0: NDArray[Any] = model.vol
        self._pool = helper_pool("feed") if threaded else None
        self._pending: Future[tuple[Any, Any]] | None = None
        self._ahead()

    def _step(self) -> tuple[Any, Any]:
        spot = self._model.step(self._dt)
        vol = self._model.vol
        self._k += 1
        if self._prepare is not None:
            self._prepare(self._k * self._step_s, spot, vol)
        return spot, vol

    def _ahead(self) -> None:
        if self._pool is not None and self._left > 0:
            self._pending = self._pool.submit(self._step)

    def next(self) -> tuple[Any, Any]:
        """The next step's ``(spot, vol)``; raises what the model raised, StopIteration at the end."""
        if self._left <= 0:
            raise StopIteration("the feed has no steps left")
        self._left -= 1
        if self._pending is None:
            return self._step()
        got = self._pending.result()
        self._pending = None
        self._ahead()
        return got

    def close(self) -> None:
        """Wait for a step still being drawn (after an early exit), so the model is quiet."""
        pending, self._pending = self._pending, None
        self._left = 0
        if pending is not None and not pending.cancel():
            pending.exception()  # waits for it; a failure there no longer matters
