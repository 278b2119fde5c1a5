"""One simulation cut into chunks of whole path blocks, and the exact merge of their results.

A chunk is paths ``[start, stop)`` of a run with ``start`` on a block boundary
(:mod:`.blocks`); :func:`run_chunk` simulates it with the engine, drawing each path from its
block's stream, so it gets the paths' numbers of the whole run. :func:`merge` puts the chunks
back together: per-path arrays concatenated in path order, refusal counts summed (integers),
the report's sample paths taken from the chunks that hold them. Every figure computed from the
merged result (means, quantiles over all paths, expected shortfall, the report) is therefore the
figure of the in-process run, bit for bit: nothing is averaged over chunks.

Nothing here needs Dask; :mod:`.distributed` sends :func:`run_chunk` calls to a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rebal.compiler import ir

from .engine import SamplePaths, SimResult, SimulationError, replay_closes, run_paths, simulate
from .replay import Closes

__all__ = ["PER_PATH", "RunInput", "merge", "prepare", "run_chunk"]

# The per-path arrays of a SimResult, concatenated by merge.
PER_PATH = ("pnl", "fees", "slippage", "gas", "funding", "trades", "rebalances",
            "tracking_error", "max_drawdown", "liquidated", "halted")


@dataclass(frozen=True)
class RunInput:
    """What every chunk of one run shares (a distributed run scatters it to the workers once)."""

    strategy: ir.Strategy
    venue: str
    paths: int  # of the whole run
    seed: int | None
    steps: int | None
    sample_paths: int  # the first paths of the run kept in full, for a report
    replay: Closes | None  # the replay CSV's closes, read once on the client


def prepare(strategy: ir.Strategy, venue: str, *, paths: int | None = None,
            seed: int | None = None, steps: int | None = None, sample_paths: int = 0,
            base_dir: str | Path | None = None,
            allow_paths: Sequence[str | Path] = ()) -> RunInput:
    """Check the run can start and read its replay file (SimulationError if not); the file is
    looked up as :func:`.engine.simulate` does (``base_dir``, ``allow_paths``)."""
    return RunInput(strategy, venue, run_paths(strategy, venue, paths), seed, steps,
                    max(0, int(sample_paths)),
                    replay_closes(strategy, venue, base_dir, allow_paths))


def run_chunk(run: RunInput, start: int, stop: int) -> SimResult | SimulationError:
    """Simulate paths ``[start, stop)`` of ``run``; a user error is returned, not raised, so a
    cluster's retries are kept for failures of the machine, not of the spec."""
    keep = max(0, min(run.sample_paths, stop) - start)
    try:
        return simulate(run.strategy, run.venue, paths=stop - start, seed=run.seed,
                        steps=run.steps, sample_paths=keep, first_path=start,
                        replay_data=run.replay)
    except SimulationError as exc:
        return exc


def merge(parts: Sequence[SimResult], elapsed_s: float) -> SimResult:
    """The result of the whole run from its chunks' results, in path order."""
    if not parts:
        raise ValueError("nothing to merge")
    first = parts[0]
    if len(parts) == 1:
        return replace(first, elapsed_s=elapsed_s)
    arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in PER_PATH}
    refusals: dict[str, int] = {}
    for p in parts:
        for name, n in p.refusals.items():
            refusals[name] = refusals.get(name, 0) + n
    return replace(first, paths=sum(p.paths for p in parts), elapsed_s=elapsed_s,
                   refusals=dict(sorted(refusals.items())), samples=_merge_samples(parts),
                   **arrays)


def _merge_samples(parts: Sequence[SimResult]) -> SamplePaths | None:
    held: list[tuple[int, SamplePaths]] = []
    offset = 0
    for p in parts:
        if p.samples is not None and p.samples.spot.shape[0]:
            held.append((offset, p.samples))
        offset += p.paths
    if not held:
        return parts[0].samples
    s0 = held[0][1]
    # trades with their rows, re-sorted stably into the engine's (step, path, leg) order
    tagged = [((path + off, step, inst, qty, why), rows)
              for off, s in held
              for (path, step, inst, qty, why), rows in zip(s.trades, s.trade_rows, strict=True)]
    tagged.sort(key=lambda tr: (tr[0][1], tr[0][0]))

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(s, name) for _, s in held])

    def cat_rows(name: str) -> np.ndarray | None:
        got = [getattr(s, name) for _, s in held]
        return None if any(g is None for g in got) else np.concatenate(got)

    return replace(s0, spot=cat("spot"), measure=cat("measure"), band_lo=cat("band_lo"),
                   band_hi=cat("band_hi"), equity=cat("equity"),
                   trades=[tr for tr, _ in tagged],
                   trade_rows=[rows for _, rows in tagged],
                   rows_measure=cat_rows("rows_measure"), rows_lo=cat_rows("rows_lo"),
                   rows_hi=cat_rows("rows_hi"))

