"""The simulation engine: Monte Carlo paths through the shared decision kernel.

``simulate(strategy, venue_name)`` drives a market model (``models.py``) step by step across all
paths at once; at every step it lets the kernel mark the instruments, carries cash, funding and
variation margin (``accounting.py``), checks liquidation, asks the kernel for a decision and
fills it. Only per-path running figures are kept, so memory is flat in the number of steps
unless sample paths are asked for.

Time grid: ``t_k = k x step`` for ``k = 0..steps`` with ``steps = horizon / step``; t = 0 is UTC
midnight of the venue's ``start`` (today when absent). The kernel decides at ``t_0 .. t_{N-1}``;
``t_N`` is only marked. Metrics:

* ``pnl``: final equity minus initial equity (= capital);
* ``fees``, ``slippage``, ``gas``, ``funding``: paid over the run (positive = paid);
* ``trades``: fills (child orders), ``rebalances``: decisions whose first child filled;
* ``tracking_error``: RMS over ``t_1..t_N`` of the first target row's measure minus its
  center, measured before that step's trade (how far the book drifts between actions);
* ``max_drawdown``: the largest fall of the strategy's equity from its running peak, as a
  fraction of the peak (the measure of ``halt when drawdown``: a ``collateral`` coin counts at
  its first price, ``kernel/coins.py``; ``pnl`` is the account's, collateral included).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.backends.kernel import SECONDS_PER_YEAR, Kernel, MarketView, PortfolioView
from rebal.backends.kernel.context import EquityPeak
from rebal.backends.kernel.threads import spare_cpu
from rebal.backends.kernel.triggers import SPLIT
from rebal.compiler import ir

from .accounting import Accounts
from .blocks import BLOCK_PATHS
from .counts import FlagCounts
from .feed import MarketFeed
from .inputs import SimulationError, check_fits, replay_closes, replay_path, run_paths, sim_venue
from .models import make_model
from .replay import Closes

__all__ = ["SamplePaths", "SimResult", "SimulationError", "replay_closes", "run_paths",
           "simulate"]

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SamplePaths:
    """Full histories of the first ``k`` paths (only when ``sample_paths > 0``)."""

    t_s: np.ndarray  # (steps+1,)
    spot: np.ndarray  # (k, steps+1, A)
    measure: np.ndarray  # (k, steps+1) first target row's measure, before trading
    band_lo: np.ndarray  # (k, steps+1)
    band_hi: np.ndarray  # (k, steps+1)
    equity: np.ndarray  # (k, steps+1)
    trades: list[tuple[int, int, str, float, str]]  # (path, step, instrument, qty, reason)
    #: Every target row: labels and units ``(R,)``, measures and band edges ``(k, R, steps+1)``.
    row_labels: tuple[str, ...] = ()
    row_units: tuple[str, ...] = ()
    rows_measure: np.ndarray | None = None
    rows_lo: np.ndarray | None = None
    rows_hi: np.ndarray | None = None
    #: Per trade (parallel to ``trades``): the rows whose band breach caused it; empty for
    #: a trade with another reason (clock, split, mode), which acts on every row.
    trade_rows: list[tuple[int, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class SimResult:
    """Per-path outcomes of one simulation run (arrays of length ``paths``)."""

    strategy: str
    venue: str
    paths: int
    steps: int
    seed: int
    assets: tuple[str, ...]
    numeraire: str
    target_unit: str
    book_value0: float
    elapsed_s: float
    pnl: np.ndarray
    fees: np.ndarray
    slippage: np.ndarray
    gas: np.ndarray
    funding: np.ndarray
    trades: np.ndarray
    rebalances: np.ndarray
    tracking_error: np.ndarray
    max_drawdown: np.ndarray
    liquidated: np.ndarray
    halted: np.ndarray
    refusals: dict[str, int]
    samples: SamplePaths | None


def _build_model(cfg: ir.SimConfig, assets: tuple[str, ...], replay: Path | None,
                 replay_data: Closes | None = None) -> Any:
    by_name = {a.asset: a for a in cfg.assets}
    missing = [a for a in assets if a not in by_name]
    if missing:
        raise SimulationError(f"the sim venue gives no spot for {', '.join(missing)}")
    rows = [by_name[a] for a in assets]
    n = len(assets)
    corr = np.eye(n)
    for c in cfg.correlations:
        if c.a in assets and c.b in assets:
            i, j = assets.index(c.a), assets.index(c.b)
            corr[i, j] = corr[j, i] = float(c.rho)
    heston = []
    for r in rows:
        h: dict[str, float] = {}
        if r.mean_reversion is not None:
            h["mean_reversion"] = float(r.mean_reversion)
        if r.vol_of_vol is not None:
            h["vol_of_vol"] = float(r.vol_of_vol)
        if r.vol_correlation is not None:
            h["vol_correlation"] = float(r.vol_correlation)
        heston.append(h)
    try:
        return make_model(
            cfg.model, assets=assets, spot=[float(r.spot) for r in rows],
            vol=[float(r.vol) for r in rows], drift=[float(r.drift) for r in rows],
            corr=corr if n > 1 else None,
            jumps=[(float(r.jump_intensity), float(r.jump_size)) for r in rows],
            heston=heston, replay_path=replay, replay_closes=replay_data,
        )
    except ValueError as exc:
        raise SimulationError(f"cannot build the {cfg.model} market model: {exc}") from None


def _target_unit(strategy: ir.Strategy) -> str:
    if not strategy.targets:
        return ""
    t = strategy.targets[0]
    if isinstance(t, ir.DeltaTarget | ir.GreekTarget):
        return t.unit
    if isinstance(t, ir.LeverageTarget):
        return "x"
    return "fraction of equity"


class _Samples:
    """Histories of the first k paths, filled step by step."""

    def __init__(self, k: int, steps: int, n_assets: int, n_rows: int) -> None:
        self.k = k
        self.spot = np.zeros((k, steps + 1, n_assets))
        self.measure = np.full((k, n_rows, steps + 1), np.nan)
        self.lo = np.full((k, n_rows, steps + 1), np.nan)
        self.hi = np.full((k, n_rows, steps + 1), np.nan)
        self.equity = np.zeros((k, steps + 1))
        self.trades: list[tuple[int, int, str, float, str]] = []
        self.trade_rows: list[tuple[int, ...]] = []


def simulate(
    strategy: ir.Strategy,
    venue_name: str,
    *,
    paths: int | None = None,
    seed: int | None = None,
    steps: int | None = None,
    sample_paths: int = 0,
    progress: Callable[[int, int], None] | None = None,
    base_dir: str | Path | None = None,
    threaded: bool | None = None,
    allow_paths: Sequence[str | Path] = (),
    on_step: Callable[[int, int], None] | None = None,
    first_path: int = 0,
    replay_data: Closes | None = None,
) -> SimResult:
    """Simulate ``strategy`` on its sim venue ``venue_name``; deterministic for a given seed.

    ``paths``, ``seed`` and ``steps`` override the venue's settings (``steps`` keeps the step
    size). ``sample_paths`` keeps full histories of that many paths for a report. ``progress``
    is called with ``(step, steps)`` about a hundred times. ``base_dir`` is where a relative
    replay CSV is looked up (the spec's folder; the current directory when None); it must lie
    there or in one of ``allow_paths`` (:mod:`rebal.compiler.data_paths`). ``on_step`` is
    called with ``(step, steps)`` before every step and may raise to stop the run (a deadline,
    a signal); the model's helper thread is closed either way.
    ``threaded=False`` steps the market model on this thread instead of one step ahead on a
    helper thread (:mod:`.feed`), ``True`` uses the thread whenever the process may use two
    CPUs, ``None`` (the default) only when the machine also has one free
    (:func:`~rebal.backends.kernel.threads.spare_cpu`); the numbers are the same either way.

    ``first_path`` (a multiple of :data:`.blocks.BLOCK_PATHS`) simulates paths
    ``first_path .. first_path + paths - 1`` of a larger run: each path draws from its block's
    stream, so these paths get exactly the numbers they get in the whole run (a distributed run
    simulates such chunks and concatenates them). ``replay_data``: the replay CSV's closes
    already read (:func:`replay_closes`), used instead of reading the file.
    """
    started = time.perf_counter()
    venue, cfg = sim_venue(strategy, venue_name)
    n_paths = run_paths(strategy, venue_name, paths)
    if first_path < 0 or first_path % BLOCK_PATHS:
        raise SimulationError(f"first_path must be a non-negative multiple of {BLOCK_PATHS}, "
                              f"got {first_path}")
    replay = (replay_path(cfg, base_dir, allow_paths)
              if cfg.model == "replay" and replay_data is None else None)
    check_fits(strategy, cfg, n_paths, sample_paths)
    the_seed = int(seed if seed is not None else cfg.seed)
    step_s = float(cfg.step_s)
    if step_s <= 0:
        raise SimulationError("the step must be positive")
    ratio = float(cfg.horizon_s) / step_s
    n_steps = int(steps) if steps is not None else int(np.floor(ratio + 1e-9))
    if steps is None and abs(ratio - round(ratio)) > 1e-9:
        log.warning("horizon is not a multiple of step; simulating %d steps", n_steps)
    if n_steps < 1:
        raise SimulationError("the horizon must hold at least one step")

    try:
        kernel = Kernel.build(strategy, venue, n_paths, reuse_buffers=True, step_s=step_s)
    except KeyError as exc:
        raise SimulationError(f"cannot simulate: {exc.args[0]}") from None
    lay = kernel.layout
    model = _build_model(cfg, lay.assets, replay, replay_data)
    model.reset(n_paths, the_seed, first_path // BLOCK_PATHS)
    dt_y = step_s / SECONDS_PER_YEAR

    if threaded is None:
        threaded = spare_cpu()
    feed = MarketFeed(model, dt_y, n_steps, threaded=threaded, prepare=kernel.mark_ahead,
                      step_s=step_s)
    try:
        result = _run(strategy, venue, kernel, feed, n_paths, n_steps, the_seed, step_s,
                      sample_paths, progress, on_step, started)
    finally:
        feed.close()
    _check_finite(result, cfg)
    return result


def _check_finite(result: SimResult, cfg: ir.SimConfig) -> None:
    """Refuse a run whose prices or equity overflowed: never NaN or infinite metrics silently."""
    bad = [name for name in ("pnl", "fees", "slippage", "gas", "funding", "tracking_error",
                             "max_drawdown") if not np.all(np.isfinite(getattr(result, name)))]
    if bad:
        raise SimulationError(
            f"the simulation produced non-finite {', '.join(bad)} on {cfg.model} paths: prices "
            "or equity overflowed or vanished. Lower the vol, drift or jump sizes of the venue, "
            "or shorten the horizon")


def _run(strategy: ir.Strategy, venue: ir.Venue, kernel: Kernel, feed: MarketFeed, n_paths: int,
         n_steps: int, the_seed: int, step_s: float, sample_paths: int,
         progress: Callable[[int, int], None] | None,
         on_step: Callable[[int, int], None] | None, started: float) -> SimResult:
    """The step loop of :func:`simulate`."""
    lay = kernel.layout
    funding = lay.costs.funding
    k_samp = max(0, min(int(sample_paths), n_paths))
    samples = _Samples(k_samp, n_steps, lay.n_assets, len(kernel.row_labels)) if k_samp else None
    spot = feed.spot0
    market = MarketView(spot=spot, vol=feed.vol0, funding=funding)
    kernel.observe(0.0, spot)
    marks = kernel.mark(0.0, market)
    value_cols = np.flatnonzero(lay.carries_value & ~lay.is_par_cash)
    book_value = (lay.book[value_cols] * marks.price[:, value_cols]).sum(axis=1)
    capital = lay.capital
    collateral = venue.config.collateral if isinstance(venue.config, ir.SimConfig) else None
    acc = Accounts(lay, n_paths, capital, book_value, marks,
                   collateral=None if collateral is None else lay.assets.index(collateral))
    origin = kernel.coin_origin
    equity0 = acc.equity(marks).copy()

    gas_asset = lay.costs.gas_asset
    gas_eth = lay.costs.gas_eth if gas_asset >= 0 else 0.0
    has_linear = bool(lay.is_linear.any())
    par_cash = np.flatnonzero(lay.is_par_cash)
    cash_col = int(par_cash[0]) if par_cash.size else -1
    has_rows = bool(kernel.row_labels)
    rebalances = FlagCounts(n_paths)
    te_sum = np.zeros(n_paths)
    peak = EquityPeak(n_paths, equity0 if capital > 0.0 else None)
    if capital <= 0.0:
        peak.update(equity0)
    scratch = np.empty(n_paths)
    refusal_codes = np.zeros(len(kernel.refusal_names), dtype=np.int64)
    every = max(1, n_steps // 100)
    names = lay.instruments

    for k in range(n_steps + 1):
        if on_step is not None:
            on_step(k, n_steps)
        t = k * step_s
        if k:
            spot, vol = feed.next()
            market = MarketView(spot=spot, vol=vol, funding=funding)
            kernel.observe(t, spot)
            marks = kernel.mark(t, market)
            acc.carry(step_s, marks)
        acc.settle_expiries(t, marks)
        equity = acc.equity(marks)
        if cash_col >= 0:  # the kernel sees the cash balance as the par-cash instrument
            acc.positions[:, cash_col] = acc.cash
        if has_linear:
            newly = acc.liquidate(marks, equity)
            if newly is not None:
                kernel.stop(newly)
        dec = kernel.decide(t, market, PortfolioView(acc.positions, equity, acc.coin), marks)
        if k < n_steps:
            if dec.any_orders:
                gas = gas_eth * spot[:, gas_asset] if gas_eth else 0.0
                fills = acc.execute(dec, marks, gas)
                kernel.record(dec, fills)
                equity -= fills.cost
                first = (dec.reason != 0) & (dec.reason != SPLIT) if kernel.splits \
                    else dec.reason != 0
                first &= fills.any_filled()
                rebalances.add(first)
                if samples is not None:
                    _sample_trades(samples, dec, fills.qty, k, names, kernel.mode_names)
            if dec.refused.any():
                refusal_codes += np.bincount(dec.refused, minlength=refusal_codes.size)
        if has_rows and k:
            np.subtract(dec.rows.measure[0], dec.rows.center[0], out=scratch)
            scratch *= scratch
            te_sum += scratch
        peak.track(equity if origin is None else origin.strategy_equity(equity, marks.spot),
                   scratch)
        if samples is not None:
            ks = samples.k
            samples.spot[:, k] = spot[:ks]
            samples.equity[:, k] = equity[:ks]
            if has_rows:
                rows = dec.rows
                for r in range(len(rows.measure)):
                    samples.measure[:, r, k] = _head(rows.measure[r], ks)
                    samples.lo[:, r, k] = _head(rows.lo[r], ks)
                    samples.hi[:, r, k] = _head(rows.hi[r], ks)
        if progress is not None and (k % every == 0 or k == n_steps):
            progress(k, n_steps)

    sample_out = None
    if samples is not None:
        first_row = slice(0, 1) if has_rows else slice(0, 0)
        sample_out = SamplePaths(
            t_s=np.arange(n_steps + 1) * step_s, spot=samples.spot,
            measure=_row0(samples.measure[:, first_row]), band_lo=_row0(samples.lo[:, first_row]),
            band_hi=_row0(samples.hi[:, first_row]), equity=samples.equity,
            trades=samples.trades, row_labels=kernel.row_labels,
            row_units=tuple(r.unit for r in kernel.targets.rows), rows_measure=samples.measure,
            rows_lo=samples.lo, rows_hi=samples.hi, trade_rows=samples.trade_rows)
    refusals = dict(sorted((kernel.refusal_names[i], int(n))  # by name: merges keep the order
                           for i, n in enumerate(refusal_codes) if i and n))
    return SimResult(
        strategy=strategy.name, venue=venue.name, paths=n_paths, steps=n_steps, seed=the_seed,
        assets=lay.assets, numeraire=strategy.numeraire, target_unit=_target_unit(strategy),
        book_value0=float(book_value[0]), elapsed_s=time.perf_counter() - started,
        pnl=equity - equity0, fees=acc.fees, slippage=acc.slippage, gas=acc.gas,
        funding=acc.funding, trades=acc.fills, rebalances=rebalances.total,
        tracking_error=np.sqrt(te_sum / n_steps) if has_rows else np.zeros(n_paths),
        max_drawdown=peak.max_drawdown, liquidated=acc.liquidated, halted=kernel.halted.copy(),
        refusals=refusals, samples=sample_out,
    )


def _row0(a: np.ndarray) -> np.ndarray:
    """The first row's ``(k, steps+1)`` history (all nan when the strategy has no rows)."""
    return a[:, 0] if a.shape[1] else np.full((a.shape[0], a.shape[2]), np.nan)


def _head(v: Any, k: int) -> Any:
    """The first ``k`` entries of a per-path value (a constant is the same on every path)."""
    return v[:k] if np.ndim(v) else v


def _sample_trades(samples: _Samples, dec: Any, qty: FloatArray, step: int,
                   names: tuple[str, ...], mode_names: tuple[str, ...]) -> None:
    sub = qty[: samples.k]
    outside = dec.rows.outside
    for p, j in zip(*np.nonzero(sub), strict=True):
        reason = dec.reason_name(int(p), mode_names)
        samples.trades.append((int(p), step, names[int(dec.hedge_cols[j])], float(sub[p, j]),
                               reason))
        samples.trade_rows.append(tuple(
            r for r, out in enumerate(outside)
            if reason == "breach" and out is not None and bool(out[p] if np.ndim(out) else out)))

