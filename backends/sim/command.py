"""`rebal simulate`: run a strategy on a sim venue and print metrics, a sweep, or a report.

The CLI parses arguments and compiles the spec, then calls :func:`run_simulate`, which is
three steps: :func:`parse_request` (flags and spec into a checked :class:`SimRequest`),
:func:`run_request` (the simulation or sweep, watched by a deadline and signals) and
:func:`present` (text, JSON, report). Everything the command prints goes to the `out` and
`err` streams it is given; nothing is written before the run has finished, so a stopped run
leaves no half-written report or JSON. With a cluster (``--cluster local[:N] | tcp://HOST:PORT``)
:func:`run_request` sends the run, or every sweep point, to Dask in chunks of path blocks
(:mod:`.runner`, :mod:`.distributed`) and gets the same numbers. Exit codes: 0 done, 1 the spec cannot be simulated as
asked (unknown or non-sim venue, a sweep parameter the spec does not have, a run that does
not fit in memory, a simulation refused by the engine, a cluster that cannot be reached or
lost the run, stopped by --max-seconds), 2 usage (bad --format, --paths, --sweep,
--max-seconds, --cluster), 130 stopped by Ctrl-C, 143 by SIGTERM.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rebal.backends.sim.inputs import SimulationError, check_fits, sim_venue, venue_problem
from rebal.backends.sim.metrics import summarize
from rebal.backends.sim.sweep import (
    SweepError,
    SweepNotApplicable,
    SweepPlan,
    SweepResult,
    parse_sweep,
    run_sweep,
    sweep_json,
    sweep_result,
)
from rebal.backends.sim.tables import print_summary, print_sweep
from rebal.backends.sim.watch import RunStopped, Watch, isatty, progress_bar, stop_on_signals
from rebal.compiler.ir import Strategy
from rebal.compiler.run_size import RunSize, human_bytes, human_seconds, run_size
from rebal.dsl.safe_text import visible

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult

__all__ = [
    "FORMATS",
    "PROGRESS_MIN_PATH_STEPS",
    "SimRequest",
    "parse_request",
    "present",
    "run_request",
    "run_simulate",
    "venue_problem",
]

FORMATS = ("text", "json")
PROGRESS_MIN_PATH_STEPS = 5_000_000  # show a progress bar above this much work (TTY only)
ESTIMATE_MIN_SECONDS = 2.0  # text mode says how long a run will take above this estimate


# ------------------------------------------------------------------------ command


class RequestError(Exception):
    """Flags or a spec that cannot be simulated as asked; `code` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SimRequest:
    """A `rebal simulate` invocation, checked: what to run and how to present it."""

    strategy: Strategy
    venue: str
    size: RunSize
    paths: int | None = None
    seed: int | None = None
    fmt: str = "text"
    report: str | None = None
    sweep: SweepPlan | None = None
    base_dir: str | Path | None = None
    allow_paths: tuple[str, ...] = ()
    max_seconds: float | None = None
    cluster: Any = None  # None: in process; a distributed.ClusterSpec or an open Client

    @property
    def work(self) -> float:
        """Path-steps of the whole request (every sweep point, and the report's run)."""
        runs = len(self.sweep.points) if self.sweep else 0
        runs += 1 if (self.sweep is None or self.report) else 0
        return float(self.size.path_steps) * runs


@dataclass
class Outcome:
    """What a run produced: a plain result, a sweep, or both (a sweep with a report)."""

    result: SimResult | None = None
    sweep: SweepResult | None = None
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def parse_request(ir: Any, venue: str, *, paths: int | None = None, seed: int | None = None,
                  fmt: str = "text", report: str | None = None, sweep: Sequence[str] = (),
                  base_dir: str | Path | None = None, allow_paths: Sequence[str | Path] = (),
                  max_seconds: float | None = None, cluster: Any = None) -> SimRequest:
    """Check the flags against the spec; RequestError (exit 1 or 2) says what is wrong.

    ``cluster``: None (in process), ``local``, ``local:N``, ``tcp://HOST:PORT`` or an open
    ``distributed.Client``."""
    if fmt not in FORMATS:
        raise RequestError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", 2)
    if paths is not None and paths < 1:
        raise RequestError(f"--paths must be at least 1, not {paths}", 2)
    if max_seconds is not None and not max_seconds > 0:
        raise RequestError(f"--max-seconds must be positive, not {max_seconds:g}", 2)
    try:
        _, cfg = sim_venue(ir, venue)
    except SimulationError as exc:
        raise RequestError(str(exc), 1) from None
    try:
        plan = SweepPlan.of(ir, [parse_sweep(s) for s in sweep]) if sweep else None
    except SweepNotApplicable as exc:
        raise RequestError(str(exc), 1) from None
    except SweepError as exc:
        raise RequestError(str(exc), 2) from None
    from rebal.backends.sim.report import SAMPLE_PATHS  # light: the report module's constant

    where = _cluster(cluster)
    samples = SAMPLE_PATHS if report else 0
    if where is not None:  # each worker checks its own chunk's memory (engine.simulate)
        size = run_size(ir, cfg, paths, samples)
    else:
        try:
            size = check_fits(ir, cfg, paths, samples)
        except SimulationError as exc:
            raise RequestError(str(exc), 1) from None
    return SimRequest(ir, venue, size, paths, seed, fmt, report, plan, base_dir,
                      tuple(str(a) for a in allow_paths), max_seconds, where)


def _cluster(cluster: Any) -> Any:
    """``cluster`` checked: None, a parsed ClusterSpec, or the open client given."""
    if cluster is None or not isinstance(cluster, str):
        return cluster
    from rebal.backends.sim.distributed import ClusterError, parse_cluster  # no dask import

    try:
        return parse_cluster(cluster)
    except ClusterError as exc:
        raise RequestError(str(exc), 2) from None


def run_request(req: SimRequest, err: TextIO) -> Outcome:
    """Run what `req` asks; SimulationError (refused) or RunStopped (deadline, signal)."""
    from rebal.backends.sim import engine

    tty = isatty(err)
    show = tty and req.work >= PROGRESS_MIN_PATH_STEPS
    watch = Watch(req.max_seconds, f"simulate {req.venue}", err, lines=not tty)
    options: dict[str, Any] = {"base_dir": req.base_dir, "allow_paths": req.allow_paths,
                               "on_step": watch}
    outcome = Outcome()
    with stop_on_signals(watch):  # before the estimate: once it shows, a signal stops cleanly
        estimate = req.size.seconds * max(req.work / max(req.size.path_steps, 1), 1.0)
        if req.fmt == "text" and estimate >= ESTIMATE_MIN_SECONDS:
            where = ("of one core's work, shared by the cluster's workers"
                     if req.cluster is not None else
                     f"(rough, one idle core), {human_bytes(req.size.bytes)} of memory")
            err.write(f"simulating {req.size.paths:,} paths x {req.size.steps:,} steps: about "
                      f"{human_seconds(estimate)} {where}"
                      + (f"; stops after {req.max_seconds:g} s (--max-seconds)"
                         if req.max_seconds else "") + "\n")
        if req.cluster is not None:
            _run_on_cluster(req, err, watch, show, outcome)
        elif req.sweep is not None:
            with progress_bar(err, show, f"sweep {len(req.sweep.points)} points") as cb:
                outcome.sweep = run_sweep(req.strategy, req.venue, req.sweep, paths=req.paths,
                                          seed=req.seed, on_point=cb, **options)
        if req.cluster is None and (req.sweep is None or req.report):
            from rebal.backends.sim.report import SAMPLE_PATHS

            with progress_bar(err, show and req.sweep is None, f"simulate {req.venue}") as cb:
                outcome.result = engine.simulate(
                    req.strategy, req.venue, paths=req.paths, seed=req.seed,
                    sample_paths=SAMPLE_PATHS if req.report else 0, progress=cb, **options)
    outcome.elapsed_s = time.monotonic() - watch.started
    return outcome


def _run_on_cluster(req: SimRequest, err: TextIO, watch: Watch, show: bool,
                    outcome: Outcome) -> None:
    """The sweep's points and the plain (or report) run as one submission to the cluster."""
    from rebal.backends.sim import runner
    from rebal.backends.sim.distributed import ClusterError
    from rebal.backends.sim.report import SAMPLE_PATHS

    common: dict[str, Any] = {"paths": req.paths, "seed": req.seed, "base_dir": req.base_dir,
                              "allow_paths": req.allow_paths}
    jobs = [runner.Job(v, req.venue, **common) for v in (req.sweep.variants if req.sweep else ())]
    if req.sweep is None or req.report:
        jobs.append(runner.Job(req.strategy, req.venue, sample_paths=SAMPLE_PATHS if req.report
                               else 0, **common))
    label = f"sweep {len(jobs)} points" if req.sweep else f"simulate {req.venue}"
    try:
        with progress_bar(err, show, label) as cb:
            results = runner.simulate_all(jobs, cluster=req.cluster, progress=cb,
                                          check=watch.poll)
    except ClusterError as exc:
        watch.poll(0, 0)  # a worker stopped by the same Ctrl-C: report the signal
        raise RequestError(str(exc), 1) from None
    if req.sweep is not None:
        n = len(req.sweep.points)
        outcome.sweep = sweep_result(req.strategy, req.venue, req.sweep, results[:n],
                                     elapsed_s=time.monotonic() - watch.started)
        results = results[n:]
    if results:
        outcome.result = results[0]


def present(req: SimRequest, outcome: Outcome, out: TextIO, err: TextIO) -> int:
    """Print the outcome as asked and write the report; the exit code."""
    result, sw = outcome.result, outcome.sweep
    summary = summarize(result) if result is not None else None
    if req.fmt == "json":
        obj = sweep_json(sw) if sw is not None else summary
        out.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")
    elif sw is not None:
        print_sweep(out, sw)
    else:
        assert result is not None and summary is not None
        print_summary(out, summary, result)
    if req.report and result is not None:
        from rebal.backends.sim.report import write_report

        try:
            written = write_report(req.report, result, summary=summary, sweep=sw)
        except OSError as exc:
            err.write(f"error: cannot write the report {req.report}: {exc.strerror or exc}\n")
            return 1
        err.write(f"wrote report {written}\n")
    return 0


def run_simulate(
    ir: Any,
    venue: str,
    *,
    paths: int | None = None,
    seed: int | None = None,
    fmt: str = "text",
    report: str | None = None,
    sweep: Sequence[str] = (),
    out: TextIO | None = None,
    err: TextIO | None = None,
    base_dir: str | Path | None = None,
    allow_paths: Sequence[str | Path] = (),
    max_seconds: float | None = None,
    cluster: Any = None,
) -> int:
    """Simulate `ir` on sim venue `venue` and print the result; returns the exit code.

    `base_dir` is the spec file's folder: a relative `model replay "file.csv"` is read from
    there (None: from the current directory), and only from there or an `allow_paths` folder.
    `max_seconds` stops the run (exit 1, nothing printed on `out`) once it has run that long.
    `cluster` (``local``, ``local:N``, ``tcp://HOST:PORT`` or an open ``distributed.Client``)
    runs the simulation and the sweep's points on Dask: the same numbers, JSON and report.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        req = parse_request(ir, venue, paths=paths, seed=seed, fmt=fmt, report=report,
                            sweep=sweep, base_dir=base_dir, allow_paths=allow_paths,
                            max_seconds=max_seconds, cluster=cluster)
        outcome = run_request(req, err)
    except (RequestError, RunStopped) as exc:
        err.write(f"error: {visible(str(exc))}\n")
        return exc.code
    except SimulationError as exc:
        err.write(f"error: {visible(str(exc))}\n")
        return 1
    return present(req, outcome, out, err)
