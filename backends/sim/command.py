"""`rebal simulate`: run a strategy on a sim venue and print metrics, a sweep, or a report.

The CLI parses arguments and compiles the spec, then calls :func:`run_simulate`; everything
the command prints goes to the `out` and `err` streams it is given. Exit codes: 0 done,
1 the spec cannot be simulated as asked (unknown or non-sim venue, a sweep parameter the spec
does not have, a simulation refused by the engine), 2 usage (bad --format, --paths, --sweep).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rebal.backends.sim.metrics import summarize
from rebal.backends.sim.sweep import (
    SweepError,
    SweepResult,
    apply_params,
    grid,
    parse_sweep,
    run_sweep,
    sweep_json,
)
from rebal.compiler.ir import SimConfig, Strategy

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult

__all__ = [
    "FORMATS",
    "PROGRESS_MIN_PATH_STEPS",
    "run_simulate",
    "venue_problem",
    "with_replay_base",
]

FORMATS = ("text", "json")
PROGRESS_MIN_PATH_STEPS = 5_000_000  # show a progress bar above this much work (TTY only)


def venue_problem(ir: Any, venue: str) -> str | None:
    """Why `venue` cannot be simulated, or None when it is a sim venue of `ir`."""
    if not isinstance(ir, Strategy):
        return f"simulate needs a strategy; {getattr(ir, 'name', 'this file')!r} is a policy"
    names = [v.name for v in ir.venues]
    sims = [v.name for v in ir.venues if v.backend == "sim" and isinstance(v.config, SimConfig)]
    listing = ", ".join(sims) if sims else "none: add `venue NAME via sim { ... }`"
    if venue not in names:
        close = difflib.get_close_matches(venue, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names) if names else "none"
        return (
            f"strategy {ir.name!r} has no venue {venue!r}{hint} "
            f"(venues: {known}; sim venues: {listing})"
        )
    if venue not in sims:
        backend = ir.venue(venue).backend
        return (
            f"venue {venue!r} runs via {backend}; simulate needs a sim venue "
            f"(sim venues of {ir.name!r}: {listing})"
        )
    return None


def with_replay_base(ir: Strategy, venue: str, base_dir: str | Path | None) -> Strategy:
    """`ir` with the venue's relative replay file resolved against `base_dir` (the spec's folder).

    The IR holds no file paths of its own, so a `model replay "data/x.csv"` is relative to the
    spec file; the CLI passes the spec's folder. Absolute paths and base_dir None are unchanged.
    """
    v = ir.venue(venue)
    cfg = v.config
    if base_dir is None or not isinstance(cfg, SimConfig) or not cfg.replay_file:
        return ir
    path = Path(cfg.replay_file)
    if path.is_absolute():
        return ir
    cfg = cfg.model_copy(update={"replay_file": str(Path(base_dir) / path)})
    venues = tuple(
        v.model_copy(update={"config": cfg}) if x.name == venue else x for x in ir.venues
    )
    return ir.model_copy(update={"venues": venues})


def _work(ir: Strategy, venue: str, paths: int | None) -> float:
    cfg = ir.venue(venue).config
    assert isinstance(cfg, SimConfig)
    steps = float(cfg.horizon_s / cfg.step_s) if cfg.step_s else 0.0
    return (paths if paths is not None else cfg.paths) * steps


@contextlib.contextmanager
def _progress(err: TextIO, show: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A `(done, total)` callback drawing a rich progress bar on `err`, or None."""
    if not show:
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        yield None
        return
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=Console(file=err),
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------------- output


def _cell(v: Any, digits: int = 6) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) < 1e-9:
        return "0"
    return f"{v:,.2f}" if abs(v) >= 1e5 else f"{v:.{digits}g}"


def _pct_cell(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.3g}%"


def _rate(v: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


def _duration(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _param_cell(name: str, v: float) -> str:
    return _duration(v) if name in ("every", "cooldown") else _cell(v)


def _table(out: TextIO, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table through rich when it is installed, else plain aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        out.write(f"{title}\n")
        line = "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
        out.write(line + "\n" + "  ".join("-" * w for w in widths) + "\n")
        for r in rows:
            out.write(
                "  ".join(
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                )
                + "\n"
            )
        return
    table = Table(title=title, title_justify="left")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*r)
    Console(file=out, width=max(100, len(title) + 4)).print(table)


def _print_summary(out: TextIO, s: dict[str, Any], result: SimResult) -> None:
    m, ccy, unit = s["metrics"], result.numeraire, result.target_unit
    rate = s["path_steps_per_s"]
    out.write(
        f"{s['strategy']} on {s['venue']}: {s['paths']:,} paths x {s['steps']:,} steps, "
        f"seed {s['seed']}, {_cell(s['elapsed_s'], 3)} s"
        + (f" ({_rate(rate)} path-steps/s)" if rate else "")
        + f"\nbook value at start: {_cell(s['book_value0'], 8)} {ccy}\n"
    )
    p, c = m["pnl"], m["cost"]
    rows = [
        ("P&L mean", _cell(p["mean"]), ccy),
        ("P&L std", _cell(p["std"]), ccy),
        (
            "P&L 5th / 50th / 95th pct",
            f"{_cell(p['p05'])} / {_cell(p['p50'])} / {_cell(p['p95'])}",
            ccy,
        ),
        ("expected shortfall (worst 5%)", _cell(p["es95"]), ccy),
        *(
            (f"cost: {k}", _cell(c[k]), f"{ccy} per path")
            for k in ("fees", "slippage", "gas", "funding")
        ),
        ("cost: total", _cell(c["total"]), f"{ccy} per path"),
        ("trades", _cell(m["trades"]["mean"]), "per path"),
        ("rebalances", _cell(m["rebalances"]["mean"]), "per path"),
        ("tracking error", _cell(m["tracking_error"]["mean"]), unit),
        (
            "max drawdown mean / 95th pct",
            f"{_pct_cell(m['max_drawdown']['mean'])} / {_pct_cell(m['max_drawdown']['p95'])}",
            "of peak equity",
        ),
        ("liquidated", f"{m['liquidations']['paths']:,}", f"paths ({_pct(m['liquidations'])})"),
        ("halted", f"{m['halts']['paths']:,}", f"paths ({_pct(m['halts'])})"),
    ]
    _table(out, "metrics (means over paths)", ("metric", "value", "unit"), rows)
    if result.refusals:
        refused = ", ".join(f"{k} {v:,}" for k, v in sorted(result.refusals.items()))
        out.write(f"orders refused by the risk gate: {refused}\n")


def _pct(d: dict[str, Any]) -> str:
    return "—" if d["fraction"] is None else f"{100 * d['fraction']:.3g}%"


def _print_sweep(out: TextIO, sw: SweepResult) -> None:
    out.write(
        f"{sw.strategy} on {sw.venue}: sweep of {', '.join(sw.params)} over {len(sw.points)} "
        f"points, {sw.paths:,} paths x {sw.steps:,} steps each, seed {sw.seed}, "
        f"{sw.elapsed_s:.3g} s\n"
    )
    headers = (
        *sw.params,
        "cost total",
        "tracking error",
        "P&L std",
        "P&L mean",
        "trades",
        "efficient",
    )
    rows = [
        (
            *(_param_cell(n, p.values[n]) for n in sw.params),
            _cell(p.cost_total),
            _cell(p.tracking_error),
            _cell(p.pnl_std),
            _cell(p.pnl_mean),
            _cell(p.trades_mean, 4),
            "*" if p.efficient else "",
        )
        for p in sw.points
    ]
    _table(out, "cost vs. hedge error (* = no point is both cheaper and tighter)", headers, rows)


# ------------------------------------------------------------------------ command


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
) -> int:
    """Simulate `ir` on sim venue `venue` and print the result; returns the exit code.

    `base_dir` is the spec file's folder: a relative `model replay "file.csv"` is read from
    there (None: from the current directory).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if fmt not in FORMATS:
        err.write(f"error: --format must be one of {', '.join(FORMATS)}, not {fmt!r}\n")
        return 2
    if paths is not None and paths < 1:
        err.write(f"error: --paths must be at least 1, not {paths}\n")
        return 2
    problem = venue_problem(ir, venue)
    if problem:
        err.write(f"error: {problem}\n")
        return 1
    ir = with_replay_base(ir, venue, base_dir)
    try:
        axes = [parse_sweep(s) for s in sweep]
        points = grid(axes)
    except SweepError as exc:
        err.write(f"error: {exc}\n")
        return 2
    try:
        for p in points:
            apply_params(ir, p)
    except SweepError as exc:
        err.write(f"error: {exc}\n")
        return 1

    from rebal.backends.sim import engine

    if report:  # jinja2 and the report's templates load only when a report is asked for
        from rebal.backends.sim.report import SAMPLE_PATHS, write_report

    show = _isatty(err) and _work(ir, venue, paths) * max(len(points), 1) >= PROGRESS_MIN_PATH_STEPS
    sample_paths = SAMPLE_PATHS if report else 0
    sw: SweepResult | None = None
    try:
        if axes:
            with _progress(err, show, f"sweep {len(points)} points") as cb:
                sw = run_sweep(ir, venue, axes, paths=paths, seed=seed, on_point=cb)
        result = None
        if not axes or report:
            with _progress(err, show and not axes, f"simulate {venue}") as cb:
                result = engine.simulate(
                    ir, venue, paths=paths, seed=seed, sample_paths=sample_paths, progress=cb
                )
    except engine.SimulationError as exc:
        err.write(f"error: {exc}\n")
        return 1

    summary = summarize(result) if result is not None else None
    if fmt == "json":
        obj = sweep_json(sw) if sw is not None else summary
        out.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")
    elif sw is not None:
        _print_sweep(out, sw)
    else:
        assert result is not None and summary is not None
        _print_summary(out, summary, result)
    if report and result is not None:
        try:
            written = write_report(report, result, summary=summary, sweep=sw)
        except OSError as exc:
            err.write(f"error: cannot write the report {report}: {exc.strerror or exc}\n")
            return 1
        err.write(f"wrote report {written}\n")
    return 0
