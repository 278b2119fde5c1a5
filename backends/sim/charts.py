"""Charts of the simulation report, drawn as inline SVG (matplotlib is not a dependency).

Line charts, histograms, bar charts and the cost vs. hedge-error frontier of a sweep; each
returns one ``<svg>`` element as :class:`markupsafe.Markup`, sized ``W x H`` with the margins
below. ``report.py`` lays them out on the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup

from rebal.compiler.words import figure

if TYPE_CHECKING:
    from rebal.backends.sim.sweep import SweepResult

__all__ = ["PALETTE", "bar_chart", "frontier_chart", "histogram", "line_chart"]

MAX_POINTS = 700  # points per plotted line (longer series are thinned evenly)
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777")
W, H = 760, 280
ML, MR, MT, MB = 70, 18, 30, 42


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
