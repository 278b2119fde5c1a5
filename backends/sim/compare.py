"""`rebal simulate SPEC... --venue V`: several specs (or a folder), one comparison table.

Each strategy runs on venue ``V`` when it is one of its sim venues, else on its only sim venue
(a strategy with none, or several and no ``V``, is reported and left out). Every spec is
checked by :func:`.command.parse_request`, as a single `rebal simulate` checks it. In process
the runs go one after the other; with a cluster all their chunks go to it at once. Exit codes:
0 every spec ran, 1 some spec could not be compiled or simulated (the others are still
shown), 2 usage, 130/143 stopped by a signal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rebal.compiler.ir import SimConfig, Strategy
from rebal.dsl.safe_text import visible

from .command import RequestError, SimRequest, parse_request
from .inputs import SimulationError, venue_problem
from .metrics import summarize
from .tables import cell, pct_cell, table
from .watch import RunStopped, Watch, isatty, progress_bar, stop_on_signals

__all__ = ["pick_venue", "run_compare"]


def pick_venue(strategy: Any, venue: str) -> str:
    """``venue`` when it is a sim venue of ``strategy``, else the strategy's only sim venue;
    when there is none or several, ``venue`` (parse_request then says why it cannot run)."""
    if not isinstance(strategy, Strategy) or venue_problem(strategy, venue) is None:
        return venue
    sims = [v.name for v in strategy.venues if isinstance(v.config, SimConfig)]
    return sims[0] if len(sims) == 1 else venue


def run_compare(entries: Sequence[tuple[str, Any]], venue: str, *, paths: int | None = None,
                seed: int | None = None, fmt: str = "text", cluster: Any = None,
                allow_paths: Sequence[str | Path] = (), max_seconds: float | None = None,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Simulate every ``(file, strategy)`` (strategy None: it did not compile, its diagnostics
    are already printed) and print one table, or ``{"comparison": [...]}`` as JSON."""
    from . import runner

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    failed = sum(1 for _, s in entries if s is None)
    reqs: list[tuple[str, SimRequest]] = []
    for file, strategy in entries:
        if strategy is None:
            continue
        try:
            reqs.append((file, parse_request(
                strategy, pick_venue(strategy, venue), paths=paths, seed=seed, fmt=fmt,
                base_dir=Path(file).parent, allow_paths=allow_paths, max_seconds=max_seconds,
                cluster=cluster)))
        except RequestError as exc:
            if exc.code == 2:  # a bad flag: the same for every spec
                err.write(f"error: {visible(str(exc))}\n")
                return 2
            err.write(f"{file}: {visible(str(exc))}\n")
            failed += 1
    if not reqs:
        err.write("error: no spec to simulate\n")
        return 1
    where = reqs[0][1].cluster
    jobs = [runner.Job(r.strategy, r.venue, r.paths, r.seed, base_dir=r.base_dir,
                       allow_paths=r.allow_paths) for _, r in reqs]
    tty = isatty(err)
    watch = Watch(max_seconds, f"simulate {len(jobs)} specs", err, lines=not tty)
    errors: tuple[type[Exception], ...] = (SimulationError,)
    if where is not None:
        from .distributed import ClusterError

        errors += (ClusterError,)
    try:
        with stop_on_signals(watch), progress_bar(err, tty, f"simulate {len(jobs)} specs") as cb:
            check = watch.poll if where is not None else (
                lambda k, n: watch.stop_if_asked(f"step {k:,} of {n:,}"))
            results = runner.simulate_all(jobs, cluster=where, progress=cb, check=check)
    except RunStopped as exc:
        err.write(f"error: {exc}\n")
        return exc.code
    except errors as exc:
        try:  # workers stopped by the same Ctrl-C (a local cluster): report the signal
            watch.stop_if_asked("the cluster's start or run")
        except RunStopped as stop:
            err.write(f"error: {stop}\n")
            return stop.code
        err.write(f"error: {visible(str(exc))}\n")
        return 1
    rows = [(file, summarize(r)) for (file, _), r in zip(reqs, results, strict=True)]
    if fmt == "json":
        obj = {"comparison": [{"spec": file, **s} for file, s in rows]}
        out.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")
    else:
        _print_comparison(out, rows, [r.numeraire for r in results])
    return 1 if failed else 0


def _print_comparison(out: TextIO, rows: Sequence[tuple[str, dict[str, Any]]],
                      ccys: Sequence[str]) -> None:
    headers = ("spec", "venue", "paths", "P&L mean", "P&L std", "ES 5%", "cost", "trades",
               "max DD p95", "liquidated")
    lines = []
    for (file, s), ccy in zip(rows, ccys, strict=True):
        m = s["metrics"]
        lines.append((
            Path(file).stem, visible(f"{s['venue']} ({ccy})"), f"{s['paths']:,}",
            cell(m["pnl"]["mean"]), cell(m["pnl"]["std"]), cell(m["pnl"]["es95"]),
            cell(m["cost"]["total"]), cell(m["trades"]["mean"]),
            pct_cell(m["max_drawdown"]["p95"]), pct_cell(m["liquidations"]["fraction"]),
        ))
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(headers)]
    table(out, f"{len(rows)} specs: P&L and cost per path in the venue's currency; "
           "ES 5% = mean P&L of the worst 5% of paths", headers, lines,
           width=max(100, sum(widths) + 3 * len(widths) + 1))
