"""Dask speed-up: `local:2` against in process, on this machine, with the same numbers.

* the benchmark job of ``bench_sim.py`` (short ATM call, perp hedge, 20,000 paths x 1,460 steps
  of 6h): ``engine.simulate`` in process (one batch, the market feed on a helper thread) against
  ``runner.simulate(cluster=client)`` on a ``LocalCluster`` of 2 worker processes (one thread
  each), started once beforehand (its start-up time is printed on its own);
* a 30-point band sweep of the same job at ``--sweep-paths`` paths per point: ``run_sweep`` in
  process against ``runner.sweep`` on the cluster (split by point, and by chunks of paths);
* the scheduling overhead per task: ``--tasks`` no-op tasks through the same client, both
  pipelined (submitted at once, gathered as they complete: the scheduler's cost per task) and
  one at a time (a round trip each);
* the engine's cost as a function of the chunk size (paths per task), ``time = a x steps +
  b x paths x steps``, from two in-process runs of 1,000 and 8,000 paths: ``a`` is the fixed
  cost per step that every chunk pays once, the number docs/scaling.md sizes chunks with.

Every cluster result is checked against the in-process one (per-path arrays bit for bit) and
the check is printed. Figures are printed, nothing is asserted. ``--paths 4000 --steps 365``
for a quick look.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import JOB_SPEC, STEP_H

from rebal.backends.sim import chunked, engine, runner
from rebal.backends.sim.sweep import parse_sweep, run_sweep
from rebal.compiler import compile_text, ir


def job(paths: int, steps: int) -> ir.Strategy:
    s, diags = compile_text(JOB_SPEC.format(horizon_h=f"{steps * STEP_H:g}", paths=paths))
    assert isinstance(s, ir.Strategy), diags
    return s


def same(a: engine.SimResult, b: engine.SimResult) -> bool:
    return all(np.array_equal(getattr(a, n), getattr(b, n)) for n in chunked.PER_PATH)


def noop(i: int) -> int:
    return i


def overhead(client: Any, n: int) -> tuple[float, float]:
    """Seconds per task: pipelined (n submitted at once) and one round trip at a time."""
    from distributed import as_completed

    client.gather(client.map(noop, range(50), pure=False))  # warm up
    t0 = time.perf_counter()
    for fut in as_completed(client.map(noop, range(n), pure=False)):
        fut.result()
    piped = (time.perf_counter() - t0) / n
    k = max(10, n // 10)
    t0 = time.perf_counter()
    for i in range(k):
        client.submit(noop, i, pure=False).result()
    return piped, (time.perf_counter() - t0) / k


def timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--steps", type=int, default=1_460, help="6h steps (1460 = one year)")
    ap.add_argument("--sweep-paths", type=int, default=2_000, help="paths per sweep point")
    ap.add_argument("--points", type=int, default=30, help="sweep points")
    ap.add_argument("--tasks", type=int, default=500, help="no-op tasks for the overhead")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cpus} CPUs, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}")
    s = job(args.paths, args.steps)
    work = args.paths * args.steps
    engine.simulate(s, "bench", paths=1_000, steps=20)  # warm up imports and caches

    (cluster, client), t_up = timed(lambda: _start(LocalCluster, Client, args.workers))
    try:
        print(f"LocalCluster of {args.workers} worker processes (1 thread each) started in "
              f"{t_up:.2f} s (paid once per `rebal simulate --cluster local:N`)")
        runner.simulate(s, "bench", cluster=client, paths=1_000, steps=20)  # warm the workers

        local, t_local = timed(lambda: engine.simulate(s, "bench"))
        remote, t_remote = timed(lambda: runner.simulate(s, "bench", cluster=client))
        print(f"benchmark job {args.paths:,} paths x {args.steps:,} steps: in process "
              f"{t_local:.2f} s ({work / t_local / 1e6:.3g}M path-steps/s), local:{args.workers} "
              f"{t_remote:.2f} s ({work / t_remote / 1e6:.3g}M path-steps/s): speed-up "
              f"{t_local / t_remote:.2f}x; identical numbers: {same(local, remote)}")

        sw = job(args.sweep_paths, args.steps)
        axes = [parse_sweep(f"band=0.005:0.05:{args.points}")]
        a, t_a = timed(lambda: run_sweep(sw, "bench", axes))
        b, t_b = timed(lambda: runner.sweep(sw, "bench", axes, cluster=client))
        ok = [p.summary["metrics"] for p in a.points] == [p.summary["metrics"] for p in b.points]
        print(f"sweep of {args.points} points x {args.sweep_paths:,} paths x {args.steps:,} "
              f"steps: in process {t_a:.2f} s, local:{args.workers} {t_b:.2f} s: speed-up "
              f"{t_a / t_b:.2f}x; identical figures: {ok}")

        piped, trip = overhead(client, args.tasks)
        print(f"scheduling overhead per task ({args.tasks} no-op tasks): {piped * 1e3:.2f} ms "
              f"pipelined, {trip * 1e3:.2f} ms one round trip at a time")
    finally:
        client.close()
        cluster.close()

    _, t1 = timed(lambda: engine.simulate(s, "bench", paths=1_000))
    _, t8 = timed(lambda: engine.simulate(s, "bench", paths=8_000))
    b_cost = (t8 - t1) / (7_000 * args.steps)
    a_cost = max(0.0, t1 / args.steps - 1_000 * b_cost)
    print(f"engine cost in process: 1,000 paths {t1:.2f} s, 8,000 paths {t8:.2f} s -> fixed "
          f"{a_cost * 1e6:.0f} us per step per chunk + {b_cost * 1e9:.1f} ns per path-step "
          f"({1 / b_cost / 1e6:.3g}M path-steps/s marginal)")


def _start(local_cluster: Any, client_cls: Any, n: int) -> tuple[Any, Any]:
    cluster = local_cluster(n_workers=n, threads_per_worker=1, processes=True,
                            dashboard_address=None, silence_logs=logging.ERROR)
    return cluster, client_cls(cluster)


if __name__ == "__main__":
    main()
