"""Prices an emulated exchange quotes: a clock, a market model stepped along it, overrides.

The clock is the venue's: real time at ``speed`` 1, accelerated at ``speed`` N, and moved only
by :meth:`Clock.advance` at ``speed`` 0 (the mode deterministic tests use). Prices come from
one path of a rebal sim model (:func:`rebal.backends.sim.models.make_model`, or a sim venue of
a spec, replay CSVs included: found next to the spec as ``rebal simulate`` finds them), stepped
at the venue's ``step``: the model's k-th step is the price from ``start + k x step`` on, so a
clock advanced one step per decision walks the same path as the simulator; a price set through the control
endpoint overrides the model for that asset until it is released. A *stale* fault freezes
every price and its timestamp, as a venue whose feed stopped.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rebal.backends.sim.models import make_model

__all__ = ["Bar", "Clock", "Market"]

YEAR_S = 365 * 24 * 3600.0
BACKFILL_BARS = 1000  # history before the start, so realized-vol windows fill at once


class Clock:
    """Venue time in epoch milliseconds: ``start + elapsed * speed + advanced``."""

    def __init__(self, speed: float = 1.0, start_ms: float | None = None) -> None:
        self.speed = float(speed)
        self._real0 = time.time()
        self._start_ms = float(start_ms if start_ms is not None else self._real0 * 1000.0)
        self._advanced_ms = 0.0
        self._lock = threading.Lock()

    def now_ms(self) -> float:
        elapsed = (time.time() - self._real0) * self.speed * 1000.0
        with self._lock:
            return self._start_ms + elapsed + self._advanced_ms

    def advance(self, seconds: float) -> float:
        """Move venue time forward (any speed); returns the new time in ms."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._advanced_ms += seconds * 1000.0
        return self.now_ms()


@dataclass
class Bar:
    t_ms: float
    price: float


@dataclass
class _Asset:
    name: str
    vol: float
    override: float | None = None
    bars: list[Bar] = field(default_factory=list)


class Market:
    """Spot and vol of each asset in USD (the venue's quote), stepped along a :class:`Clock`."""

    def __init__(
        self,
        clock: Clock,
        spots: Mapping[str, float],
        vols: Mapping[str, float],
        *,
        model: Any = None,
        step_s: float = 60.0,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.step_s = float(step_s)
        names = tuple(spots)
        self.assets = {a: _Asset(a, float(vols.get(a, 0.5))) for a in names}
        self._model_vols = model is not None  # a constant-price market quotes the given vols
        if model is None:  # a constant price until the control endpoint moves it
            model = make_model("gbm", assets=names, spot=[float(spots[a]) for a in names],
                               vol=[0.0] * len(names))
        self.model = model
        self.model.reset(1, seed)
        self._order = tuple(model.assets)
        # assets the model does not cover keep their given price (until set by control)
        self._const = {a: float(spots[a]) for a in names if a not in self._order}
        self._lock = threading.RLock()
        self._t0_ms = self._model_ms = clock.now_ms()
        self._steps = 0  # model steps taken: the model is at t0 + steps x step
        self._frozen: tuple[dict[str, float], float] | None = None
        self._record(self._model_ms)
        self._backfill(seed)

    @classmethod
    def from_sim_venue(cls, clock: Clock, cfg: Any, spots: Mapping[str, float],
                       vols: Mapping[str, float], base_dir: Any = None) -> Market:
        """A market following the sim venue ``cfg`` (an IR ``SimConfig``) for the assets it
        names; the other assets of ``spots`` keep their given prices."""
        from rebal.backends.sim.engine import _build_model  # the sim's own model builder
        from rebal.backends.sim.inputs import SimulationError, replay_path

        by_name = {a.asset: a for a in cfg.assets}
        names = tuple(a for a in spots if a in by_name)
        if not names:
            raise ValueError(f"the sim venue prices none of {', '.join(spots)}")
        try:  # a replay CSV is found (and confined) as `rebal simulate` finds it
            replay = replay_path(cfg, base_dir) if cfg.model == "replay" else None
            model = _build_model(cfg, names, replay)
        except SimulationError as exc:
            raise ValueError(str(exc)) from None
        all_spots = {**spots, **{a: float(by_name[a].spot) for a in names}}
        all_vols = {**vols, **{a: float(by_name[a].vol) for a in names}}
        return cls(clock, all_spots, all_vols, model=model, step_s=float(cfg.step_s),
                   seed=int(cfg.seed))

    # ------------------------------------------------------------------ stepping

    def _model_spots(self) -> dict[str, float]:
        row = np.asarray(self.model.spot)[0]
        out = dict(self._const)
        out.update({a: float(row[i]) for i, a in enumerate(self._order)})
        return out

    def _record(self, t_ms: float) -> None:
        spots = self._model_spots()
        for name, asset in self.assets.items():
            price = asset.override if asset.override is not None else spots[name]
            asset.bars.append(Bar(t_ms, price))

    def _backfill(self, seed: int) -> None:
        """Synthetic earlier bars (GBM at the asset's vol, ending at today's spot)."""
        rng = np.random.default_rng(seed + 7919)
        dt = self.step_s / YEAR_S
        for asset in self.assets.values():
            shocks = rng.standard_normal(BACKFILL_BARS) * asset.vol * math.sqrt(dt)
            last = asset.bars[-1]
            path = last.price * np.exp(-np.cumsum(shocks))  # walking backwards in time
            older = [Bar(last.t_ms - (i + 1) * self.step_s * 1000.0, float(p))
                     for i, p in enumerate(path)]
            asset.bars[:0] = reversed(older)

    def sync(self) -> None:
        """Step the model up to the clock (bounded, so a huge jump cannot hang a request)."""
        with self._lock:
            target = self.clock.now_ms()
            step_ms = self.step_s * 1000.0
            # steps counted from the start, so a clock advanced by whole steps lands on them
            # exactly (no float drift from adding a step's milliseconds again and again)
            due = math.floor((target - self._t0_ms) / step_ms + 1e-9)
            steps = 0
            while self._steps < due and steps < 100_000:
                self.model.step(self.step_s / YEAR_S)
                self._steps += 1
                self._model_ms = self._t0_ms + self._steps * step_ms
                self._record(self._model_ms)
                steps += 1
            if steps == 100_000:  # a huge jump: skip ahead without stepping the model
                self._steps = due
                self._model_ms = self._t0_ms + due * step_ms

    # ------------------------------------------------------------------ reading

    def prices(self) -> tuple[dict[str, float], float]:
        """(asset -> spot, time of those prices in ms); frozen while a stale fault lasts."""
        with self._lock:
            if self._frozen is not None:
                return dict(self._frozen[0]), self._frozen[1]
            self.sync()
            spots = self._model_spots()
            out = {n: (a.override if a.override is not None else spots[n])
                   for n, a in self.assets.items()}
            return out, self.clock.now_ms()

    def spot(self, asset: str) -> float:
        return self.prices()[0][asset]

    def vol(self, asset: str) -> float:
        with self._lock:
            a = self.assets[asset]
            if a.override is None and self._model_vols and asset in self._order:
                return float(np.asarray(self.model.vol)[0][self._order.index(asset)])
            return a.vol

    def bars(self, asset: str, start_ms: float, end_ms: float) -> list[Bar]:
        with self._lock:
            self.sync()
            return [b for b in self.assets[asset].bars if start_ms <= b.t_ms <= end_ms]

    # ------------------------------------------------------------------ control

    def set_price(self, asset: str, price: float | None, vol: float | None = None) -> None:
        """Fix ``asset`` at ``price`` (None: follow the model again); optionally set its vol."""
        with self._lock:
            if asset not in self.assets:
                raise KeyError(f"unknown asset {asset!r}; known: {', '.join(self.assets)}")
            a = self.assets[asset]
            a.override = None if price is None else float(price)
            if vol is not None:
                a.vol = float(vol)
            a.bars.append(Bar(self.clock.now_ms(), self.prices()[0][asset]))

    def freeze(self) -> None:
        """Stale prices: keep quoting the current prices and their time."""
        with self._lock:
            self._frozen = None
            self._frozen = self.prices()

    def thaw(self) -> None:
        with self._lock:
            self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None
