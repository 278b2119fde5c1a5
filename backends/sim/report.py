"""The `rebal simulate --report F.html` page: one self-contained HTML file with inline SVG.

No JavaScript, no fonts or styles fetched from anywhere: the page opens offline and can be
attached to a ticket. The plots are inline SVG (``charts.py``; matplotlib is not a dependency):
sample price paths, exposure with its band and the trades, equity, the P&L distribution,
the cost breakdown, and the cost vs. hedge-error frontier of a sweep.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
from markupsafe import Markup

from rebal.backends.sim.charts import bar_chart, frontier_chart, histogram, line_chart
from rebal.backends.sim.metrics import summarize
from rebal.compiler.files import atomic_write
from rebal.compiler.words import figure
from rebal.dsl.safe_text import visible

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult
    from rebal.backends.sim.sweep import SweepResult

__all__ = ["SAMPLE_PATHS", "render_report", "write_report"]

SAMPLE_PATHS = 20  # sample paths the engine is asked to keep for a report
MAX_TRADE_ROWS = 500
EXPOSURE_PANELS = 3
REASON_COLORS = {"breach": "#dc2626", "clock": "#2563eb", "split": "#6b7280"}



def _time_axis(t_s: np.ndarray) -> tuple[np.ndarray, str]:
    span = float(t_s[-1] - t_s[0]) if len(t_s) else 0.0
    for unit, secs in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if span >= 2 * secs:
            return t_s / secs, unit
    return t_s, "seconds"


def _sample_charts(result: SimResult) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    s = result.samples
    if s is None:
        return {}, []
    t, tunit = _time_axis(np.asarray(s.t_s, dtype=float))
    asset = result.assets[0] if result.assets else "spot"
    charts: dict[str, Any] = {
        "price": line_chart(
            f"Sample {asset} price paths ({s.spot.shape[0]})",
            t,
            [s.spot[i, :, 0] for i in range(s.spot.shape[0])],
            xlabel=tunit,
            ylabel=f"{asset} price ({result.numeraire})",
        ),
        "equity": line_chart(
            "Sample equity paths",
            t,
            [s.equity[i] for i in range(s.equity.shape[0])],
            xlabel=tunit,
            ylabel=f"equity ({result.numeraire})",
        ),
        "exposure": [],
    }
    rows = _target_rows(result)
    trade_rows = s.trade_rows if len(s.trade_rows) == len(s.trades) else [()] * len(s.trades)
    for i in range(min(EXPOSURE_PANELS, s.spot.shape[0])):
        mine = [(tr, hit) for tr, hit in zip(s.trades, trade_rows, strict=True) if tr[0] == i]
        for r, row in enumerate(rows):
            # A breach trade is marked on the rows whose band it left; any other trade (clock,
            # split, mode) acts on every row and is marked on each.
            marks = [
                (float(t[step]), float(row.measure[i, step]), _reason_color(reason),
                 f"{reason}: {inst} {figure(qty, signed=True)} at {figure(float(t[step]))} {tunit}")
                for (_, step, inst, qty, reason), hit in mine if not hit or r in hit
            ]
            charts["exposure"].append(line_chart(
                f"Path {i}: {row.label}, band and trades ({len(marks)} trades)",
                t, [row.measure[i]], xlabel=tunit, ylabel=row.axis,
                band=(row.lo[i], row.hi[i]), marks=marks))
    table = []
    for (path, step, inst, qty, reason), hit in list(zip(s.trades, trade_rows, strict=True))[
            :MAX_TRADE_ROWS]:
        shown = [rows[r] for r in hit] if hit else rows[:1]
        table.append({
            "path": path,
            "time": figure(float(t[step])),
            "instrument": inst,
            "qty": figure(qty, signed=True),
            "reason": reason,
            "row": ", ".join(row.label for row in shown) if hit else "",
            "spot": figure(float(s.spot[path, step, 0])),
            "exposure": ", ".join(figure(float(row.measure[path, step])) for row in shown),
            "band": ", ".join(f"[{figure(float(row.lo[path, step]))}, "
                              f"{figure(float(row.hi[path, step]))}]" for row in shown),
        })
    charts["time_unit"] = tunit
    charts["reasons"] = sorted(Counter(tr[4] for tr in s.trades).items(), key=lambda kv: -kv[1])
    charts["trades_total"] = len(s.trades)
    charts["rows"] = [row.label for row in rows]
    return charts, table


@dataclass(frozen=True)
class _RowView:
    """One target row's history on the sample paths, with its label and axis title."""

    label: str
    axis: str
    measure: np.ndarray  # (k, steps+1)
    lo: np.ndarray
    hi: np.ndarray


def _target_rows(result: SimResult) -> list[_RowView]:
    """Every target row of the run (a result recorded without rows: its first row only)."""
    s = result.samples
    assert s is not None
    if s.rows_measure is None or s.rows_lo is None or s.rows_hi is None or not s.row_labels:
        return [_RowView("exposure", f"exposure ({result.target_unit})", s.measure, s.band_lo,
                         s.band_hi)]
    return [
        _RowView(label, f"{label} ({unit})" if unit else label, s.rows_measure[:, r],
                 s.rows_lo[:, r], s.rows_hi[:, r])
        for r, (label, unit) in enumerate(zip(s.row_labels, s.row_units, strict=True))
    ]


def _num(v: float | None) -> str:
    """A table number in the one format of computed figures (``rebal.compiler.words.figure``)."""
    return "—" if v is None else figure(v)


def _reason_color(reason: str) -> str:
    return REASON_COLORS.get(reason, "#7c3aed" if reason.startswith("mode:") else "#111827")


def _shown(value: Any) -> Any:
    """Every value the page shows, with control characters visible (strings from the spec)."""
    if isinstance(value, Markup):
        return Markup(visible(str(value), keep_newlines=True))
    if isinstance(value, str):
        return visible(value, keep_newlines=True)
    return value


def render_report(
    result: SimResult, *, summary: dict[str, Any] | None = None, sweep: SweepResult | None = None
) -> str:
    """The report page as a string (no file or network access)."""
    summary = summary if summary is not None else summarize(result)
    m = summary["metrics"]
    charts, rows = _sample_charts(result)
    cost = m["cost"]
    labels = ["fees", "slippage", "gas", "funding"]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rebal.backends.sim", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["num"] = _num
    return env.get_template("report.html.j2").render(
        s=summary,
        m=m,
        result=result,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        charts=charts,
        trade_rows=rows,
        max_rows=MAX_TRADE_ROWS,
        pnl_hist=histogram(
            f"P&L distribution over {summary['paths']} paths",
            result.pnl,
            xlabel=f"P&L at the horizon ({result.numeraire})",
            marks={
                "es95": m["pnl"]["es95"],
                "p05": m["pnl"]["p05"],
                "mean": m["pnl"]["mean"],
                "p95": m["pnl"]["p95"],
            },
        ),
        cost_bars=bar_chart(
            f"Cost breakdown (total {figure(cost['total'])})" if cost["total"] is not None else "Costs",
            labels,
            [cost[k] for k in labels],
            result.numeraire,
        ),
        refusals=sorted(result.refusals.items(), key=lambda kv: -kv[1]),
        sweep=sweep,
        frontier=frontier_chart("Cost vs. hedge error", sweep) if sweep and sweep.points else None,
    )


def write_report(
    path: str | Path,
    result: SimResult,
    *,
    summary: dict[str, Any] | None = None,
    sweep: SweepResult | None = None,
) -> Path:
    """Render the report and write it to `path` (UTF-8); returns the path written."""
    out = Path(path)
    atomic_write(out, render_report(result, summary=summary, sweep=sweep))
    return out
