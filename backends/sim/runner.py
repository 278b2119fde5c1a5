"""Where a simulation runs: in this process, or on a Dask cluster, with the same numbers.

The Python API of ``rebal simulate [--cluster ...]``::

    from rebal.backends.sim import runner
    result = runner.simulate(strategy, "paper", cluster="local:4", paths=200_000)
    plan = SweepPlan.of(strategy, [parse_sweep("band=0.2:2:30")])
    sweep = runner.sweep(strategy, "paper", plan, cluster=client)

``cluster`` is None (in process: the engine, one batch of all paths), ``"local"`` /
``"local:N"`` / ``"tcp://HOST:PORT"`` or a :class:`.distributed.ClusterSpec` (connected for
this call, see :mod:`.distributed`), or an open ``distributed.Client`` to reuse. Results are
bit-identical either way (per-path arrays, refusals, sample paths); only ``elapsed_s``
differs. Dask is imported only when a cluster is given.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebal.compiler.ir import Strategy

from .chunked import prepare
from .engine import SimResult
from .engine import simulate as engine_simulate
from .sweep import SweepAxis, SweepPlan, SweepResult, run_sweep, sweep_result

__all__ = ["Job", "client_for", "simulate", "simulate_all", "sweep"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    """One simulation: a strategy on one of its sim venues, with the run's overrides.
    ``base_dir`` and ``allow_paths`` say where its replay CSV may be read (the engine's rule)."""

    strategy: Strategy
    venue: str
    paths: int | None = None
    seed: int | None = None
    steps: int | None = None
    sample_paths: int = 0
    base_dir: str | Path | None = None
    allow_paths: tuple[str, ...] = ()


@contextlib.contextmanager
def client_for(cluster: Any) -> Iterator[Any]:
    """An open client for ``cluster`` (a string or ClusterSpec is connected, and closed
    afterwards; a client or None is passed through)."""
    if cluster is None or hasattr(cluster, "submit"):
        yield cluster
        return
    from .distributed import connect

    with connect(cluster) as client:
        yield client


def simulate_all(jobs: Sequence[Job], *, cluster: Any = None, progress: Progress | None = None,
                 check: Progress | None = None) -> list[SimResult]:
    """Every job's result, in order. In process the jobs run one after the other (``progress``
    counts finished jobs; ``check(step, steps)`` is the engine's ``on_step``); on a cluster all
    their chunks are submitted at once (``progress`` and ``check`` count finished paths, see
    :func:`.distributed.collect`)."""
    if cluster is None:
        results = []
        for k, j in enumerate(jobs, start=1):
            results.append(engine_simulate(j.strategy, j.venue, paths=j.paths, seed=j.seed,
                                           steps=j.steps, sample_paths=j.sample_paths,
                                           base_dir=j.base_dir, allow_paths=j.allow_paths,
                                           on_step=check))
            if progress is not None:
                progress(k, len(jobs))
        return results
    from .distributed import simulate_runs

    runs = [prepare(j.strategy, j.venue, paths=j.paths, seed=j.seed, steps=j.steps,
                    sample_paths=j.sample_paths, base_dir=j.base_dir, allow_paths=j.allow_paths)
            for j in jobs]
    with client_for(cluster) as client:
        return simulate_runs(client, runs, progress=progress, check=check)


def simulate(strategy: Strategy, venue: str, *, cluster: Any = None, paths: int | None = None,
             seed: int | None = None, steps: int | None = None, sample_paths: int = 0,
             progress: Progress | None = None, base_dir: str | Path | None = None,
             allow_paths: Sequence[str | Path] = ()) -> SimResult:
    """:func:`.engine.simulate`, in process or on ``cluster`` (same result). ``progress``
    counts steps in process and finished paths on a cluster."""
    allowed = tuple(str(a) for a in allow_paths)
    if cluster is None:
        return engine_simulate(strategy, venue, paths=paths, seed=seed, steps=steps,
                               sample_paths=sample_paths, progress=progress, base_dir=base_dir,
                               allow_paths=allowed)
    job = Job(strategy, venue, paths, seed, steps, sample_paths, base_dir, allowed)
    return simulate_all([job], cluster=cluster, progress=progress)[0]


def sweep(strategy: Strategy, venue: str, axes: Sequence[SweepAxis] | SweepPlan, *,
          cluster: Any = None, paths: int | None = None, seed: int | None = None,
          progress: Progress | None = None, base_dir: str | Path | None = None,
          allow_paths: Sequence[str | Path] = ()) -> SweepResult:
    """:func:`.sweep.run_sweep`, in process or on ``cluster``, split by point (and by path
    chunks when a point is large); the same figures either way."""
    plan = axes if isinstance(axes, SweepPlan) else SweepPlan.of(strategy, axes)
    allowed = tuple(str(a) for a in allow_paths)
    if cluster is None:
        return run_sweep(strategy, venue, plan, paths=paths, seed=seed, on_point=progress,
                         base_dir=base_dir, allow_paths=allowed)
    started = time.perf_counter()
    jobs = [Job(v, venue, paths, seed, base_dir=base_dir, allow_paths=allowed)
            for v in plan.variants]
    results = simulate_all(jobs, cluster=cluster, progress=progress)
    return sweep_result(strategy, venue, plan, results, elapsed_s=time.perf_counter() - started)
