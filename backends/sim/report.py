"""The `rebal simulate --report F.html` page: one self-contained HTML file with inline SVG.

No JavaScript, no fonts or styles fetched from anywhere: the page opens offline and can be
attached to a ticket. The plots are drawn here as SVG (matplotlib is not a dependency):
sample price paths, exposure with its band and the trades, equity, the P&L distribution,
the cost breakdown, and the cost vs. hedge-error frontier of a sweep.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
from markupsafe import Markup

from rebal.backends.sim.metrics import summarize
from rebal.compiler.files import atomic_write
from rebal.compiler.words import figure
from rebal.dsl.render import visible

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult
    from rebal.backends.sim.sweep import SweepResult

__all__ = ["SAMPLE_PATHS", "render_report", "write_report"]

SAMPLE_PATHS = 20  # sample paths the engine is asked to keep for a report
MAX_POINTS = 700  # points per plotted line (longer series are thinned evenly)
MAX_TRADE_ROWS = 500
EXPOSURE_PANELS = 3
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777")
REASON_COLORS = {"breach": "#dc2626", "clock": "#2563eb", "split": "#6b7280"}
W, H = 760, 280
ML, MR, MT, MB = 70, 18, 30, 42

# ----------------------------------------------------------------------- svg helpers


def _fmt(v: float) -> str:
    """Compact tick label."""
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.4g}"


def _tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels precise enough to tell neighbouring ticks apart (149,950 not 150k)."""
    if len(ticks) < 2:
        return [_fmt(t) for t in ticks]
    step = abs(ticks[1] - ticks[0])
    big = max(abs(t) for t in ticks)
    scale, suffix = next(
        ((u, x) for at, u, x in ((1e6, 1e6, "M"), (1e5, 1e3, "k")) if big >= at), (1.0, "")
    )
    unit = step / scale
    d = max(0, -math.floor(math.log10(unit) + 1e-9))
    if abs(unit * 10**d - round(unit * 10**d)) > 1e-6:
        d += 1
    return [f"{t / scale:,.{d}f}{suffix}" if t else "0" for t in ticks]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


@dataclass
class _Frame:
    """Maps data coordinates to pixels and draws axes."""

    x0: float
    x1: float
    y0: float
    y1: float
    w: int = W
    h: int = H

    def __post_init__(self) -> None:
        for a, b in (("x0", "x1"), ("y0", "y1")):
            lo, hi = getattr(self, a), getattr(self, b)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                lo, hi = 0.0, 1.0
            if hi <= lo:
                pad = abs(lo) * 0.05 or 1.0
                lo, hi = lo - pad, hi + pad
            setattr(self, a, lo)
            setattr(self, b, hi)

    def px(self, x: Any) -> Any:
        return ML + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0) * (
            self.w - ML - MR
        )

    def py(self, y: Any) -> Any:
        return (
            self.h
            - MB
            - (np.asarray(y, dtype=float) - self.y0) / (self.y1 - self.y0) * (self.h - MT - MB)
        )

    def axes(self, title: str, xlabel: str, ylabel: str) -> list[str]:
        out = [
            f'<text x="{ML}" y="18" class="t">{escape(title)}</text>',
            f'<rect x="{ML}" y="{MT}" width="{self.w - ML - MR}" height="{self.h - MT - MB}" '
            'class="pl"/>',
        ]
        yt = _ticks(self.y0, self.y1)
        for t, label in zip(yt, _tick_labels(yt), strict=True):
            y = float(self.py(t))
            out.append(f'<line x1="{ML}" x2="{self.w - MR}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
            out.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" class="yl">{label}</text>')
        xt = _ticks(self.x0, self.x1, 7)
        for t, label in zip(xt, _tick_labels(xt), strict=True):
            x = float(self.px(t))
            out.append(f'<text x="{x:.1f}" y="{self.h - MB + 16}" class="xl">{label}</text>')
        out.append(
            f'<text x="{(ML + self.w - MR) / 2:.0f}" y="{self.h - 6}" class="xl">{escape(xlabel)}</text>'
        )
        out.append(
            f'<text transform="translate(14 {(MT + self.h - MB) / 2:.0f}) rotate(-90)" '
            f'class="xl">{escape(ylabel)}</text>'
        )
        return out


def _svg(frame: _Frame, body: list[str]) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {frame.w} {frame.h}" '
        f'width="{frame.w}" height="{frame.h}" role="img">' + "".join(body) + "</svg>"
    )


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int))


def _poly(frame: _Frame, x: np.ndarray, y: np.ndarray, style: str) -> str:
    idx = _thin(len(x))
    xs, ys = frame.px(x[idx]), frame.py(y[idx])
    ok = np.isfinite(ys)
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs[ok], ys[ok], strict=True))
    return f'<polyline points="{pts}" {style}/>'


def _span(*arrays: np.ndarray) -> tuple[float, float]:
    vals = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    return (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)


def line_chart(
    title: str,
    x: np.ndarray,
    ys: Sequence[np.ndarray],
    *,
    xlabel: str,
    ylabel: str,
    band: tuple[np.ndarray, np.ndarray] | None = None,
    marks: Sequence[tuple[float, float, str, str]] = (),
) -> Markup:
    """Lines over a shared x axis, an optional shaded band, and point marks (x, y, color, tip)."""
    lo, hi = _span(*ys, *(band or ()))
    pad = (hi - lo) * 0.05
    f = _Frame(float(x[0]), float(x[-1]), lo - pad, hi + pad)
    body = f.axes(title, xlabel, ylabel)
    if band is not None:
        idx = _thin(len(x))
        up = zip(f.px(x[idx]), f.py(band[1][idx]), strict=True)
        down = zip(f.px(x[idx][::-1]), f.py(band[0][idx][::-1]), strict=True)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in [*up, *down] if math.isfinite(b))
        body.append(f'<polygon points="{pts}" class="band"/>')
    many = len(ys) > 3
    for i, y in enumerate(ys):
        color = PALETTE[0] if many and i == 0 else PALETTE[i % len(PALETTE)]
        opacity = 1.0 if not many or i == 0 else 0.35
        width = 1.6 if i == 0 else 1.0
        body.append(
            _poly(
                f,
                x,
                y,
                f'fill="none" stroke="{color}" stroke-width="{width}" stroke-opacity="{opacity}"',
            )
        )
    for mx, my, color, tip in marks:
        body.append(
            f'<circle cx="{float(f.px(mx)):.1f}" cy="{float(f.py(my)):.1f}" r="3" fill="{color}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return _svg(f, body)


def histogram(
    title: str, values: np.ndarray, *, xlabel: str, marks: dict[str, float | None], bins: int = 40
) -> Markup:
    """Histogram of `values` with labelled vertical marks (mean, p05, es95...)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = _span(v)
    if hi <= lo:
        lo, hi = lo - 1, hi + 1
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    f = _Frame(lo, hi, 0.0, float(max(counts.max(initial=0), 1)) * 1.08)
    body = f.axes(title, xlabel, "paths")
    x = f.px(edges)
    for c, a, b in zip(counts, x[:-1], x[1:], strict=True):
        y = float(f.py(c))
        body.append(
            f'<rect x="{a:.1f}" y="{y:.1f}" width="{max(b - a - 1, 0.5):.1f}" '
            f'height="{float(f.py(0)) - y:.1f}" class="bar"><title>{int(c)} paths</title></rect>'
        )
    for i, (label, m) in enumerate(marks.items()):
        if m is None:
            continue
        xm = float(f.px(m))
        body.append(f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{MT}" y2="{H - MB}" class="mk"/>')
        body.append(
            f'<text x="{xm + 3:.1f}" y="{MT + 12 + 12 * i}" class="ml">{escape(label)}</text>'
        )
    return _svg(f, body)


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float | None], unit: str
) -> Markup:
    """Horizontal bars (negative values, e.g. funding received, extend left of zero)."""
    vals = [0.0 if v is None else float(v) for v in values]
    lo, hi = min(0.0, *vals), max(0.0, *vals)
    h = MT + MB + 34 * len(vals)
    f = _Frame(lo, hi + (hi - lo) * 0.15, 0.0, 1.0, h=h)
    body = [
        f'<text x="{ML}" y="18" class="t">{escape(title)}</text>',
        f'<text x="{(ML + W - MR) / 2:.0f}" y="{h - 6}" class="xl">{escape(unit)} per path</text>',
    ]
    xt = _ticks(f.x0, f.x1, 6)
    for t, label in zip(xt, _tick_labels(xt), strict=True):
        x = float(f.px(t))
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MT}" y2="{h - MB}" class="g"/>')
        body.append(f'<text x="{x:.1f}" y="{h - MB + 16}" class="xl">{label}</text>')
    zero = float(f.px(0))
    for i, (label, v) in enumerate(zip(labels, vals, strict=True)):
        y = MT + 34 * i + 6
        a, b = sorted((zero, float(f.px(v))))
        body.append(f'<text x="{ML - 6}" y="{y + 16}" class="yl">{escape(label)}</text>')
        body.append(
            f'<rect x="{a:.1f}" y="{y}" width="{max(b - a, 0.5):.1f}" height="22" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{figure(v)}</title></rect>'
        )
        body.append(f'<text x="{b + 4:.1f}" y="{y + 16}" class="vl">{_fmt(v)}</text>')
    return _svg(f, body)


def frontier_chart(title: str, sweep: SweepResult) -> Markup:
    """Cost (x) against tracking error (y), one labelled point per grid value."""
    pts = [p for p in sweep.points if p.cost_total is not None and p.tracking_error is not None]
    xs = np.array([p.cost_total for p in pts], dtype=float)
    ys = np.array([p.tracking_error for p in pts], dtype=float)
    (x0, x1), (y0, y1) = _span(xs), _span(ys)
    px, py = (x1 - x0) * 0.08 or 1.0, (y1 - y0) * 0.08 or 1.0
    f = _Frame(x0 - px, x1 + px, y0 - py, y1 + py)
    ccy = f", {sweep.numeraire}" if sweep.numeraire else ""
    unit = f" ({sweep.target_unit})" if sweep.target_unit else ""
    body = f.axes(
        title, f"mean cost per path (fees + slippage + gas + funding{ccy})", f"tracking error{unit}"
    )
    eff = [(x, y) for x, y, p in zip(xs, ys, pts, strict=True) if p.efficient]
    if len(eff) > 1:
        e = np.array(sorted(eff))
        body.append(_poly(f, e[:, 0], e[:, 1], f'fill="none" stroke="{PALETTE[0]}"'))
    for i, (x, y, p) in enumerate(zip(xs, ys, pts, strict=True)):
        label = ", ".join(f"{k}={figure(v)}" for k, v in p.values.items())
        cls = "pe" if p.efficient else "pd"
        cx, cy = float(f.px(x)), float(f.py(y))
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" class="{cls}"><title>{escape(label)}'
            f"</title></circle>"
        )
        # alternate labels above and below, and keep them inside the plot on the right
        dy = -7 if i % 2 == 0 else 15
        right = cx > W - MR - 8 * len(label)
        anchor = ' text-anchor="end"' if right else ""
        lx = cx - 6 if right else cx + 6
        body.append(
            f'<text x="{lx:.1f}" y="{cy + dy:.1f}" class="vl"{anchor}>{escape(label)}</text>'
        )
    return _svg(f, body)


# ------------------------------------------------------------------------ the page


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
