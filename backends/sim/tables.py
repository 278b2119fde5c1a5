"""The text tables `rebal simulate` prints: a run's metrics, a sweep, a comparison of specs.

Every computed number goes through one format (``words.figure``); tables are drawn with rich
when it is installed, else as plain aligned text. Used by :mod:`.command` and :mod:`.compare`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rebal.compiler.words import figure, pct
from rebal.dsl.safe_text import visible

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult
    from rebal.backends.sim.sweep import SweepResult

__all__ = ["cell", "pct_cell", "print_summary", "print_sweep", "table"]


def cell(v: Any) -> str:
    """A table cell; a computed number in the one format of figures (``words.figure``)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, int):
        return f"{v:,}"
    return figure(v)


def pct_cell(v: float | None) -> str:
    return "—" if v is None else pct(float(v))


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
    return _duration(v) if name in ("every", "cooldown") else cell(v)


def table(out: TextIO, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
           width: int | None = None) -> None:
    """A table through rich when it is installed, else plain aligned text; `width` is the
    console width rich draws in (default: 100, or the title's length)."""
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
    Console(file=out, width=width or max(100, len(title) + 4)).print(table)


def print_summary(out: TextIO, s: dict[str, Any], result: SimResult) -> None:
    m, ccy, unit = s["metrics"], visible(result.numeraire), visible(result.target_unit)
    rate = s["path_steps_per_s"]
    out.write(
        f"{visible(s['strategy'])} on {visible(s['venue'])}: {s['paths']:,} paths x {s['steps']:,} steps, "
        f"seed {s['seed']}, {cell(s['elapsed_s'])} s"
        + (f" ({_rate(rate)} path-steps/s)" if rate else "")
        + f"\nbook value at start: {cell(s['book_value0'])} {ccy}\n"
    )
    p, c = m["pnl"], m["cost"]
    rows = [
        ("P&L mean", cell(p["mean"]), ccy),
        ("P&L std", cell(p["std"]), ccy),
        (
            "P&L 5th / 50th / 95th pct",
            f"{cell(p['p05'])} / {cell(p['p50'])} / {cell(p['p95'])}",
            ccy,
        ),
        ("expected shortfall (worst 5%)", cell(p["es95"]), ccy),
        *(
            (f"cost: {k}", cell(c[k]), f"{ccy} per path")
            for k in ("fees", "slippage", "gas", "funding")
        ),
        ("cost: total", cell(c["total"]), f"{ccy} per path"),
        ("trades", cell(m["trades"]["mean"]), "per path"),
        ("rebalances", cell(m["rebalances"]["mean"]), "per path"),
        ("tracking error", cell(m["tracking_error"]["mean"]), unit),
        (
            "max drawdown mean / 95th pct",
            f"{pct_cell(m['max_drawdown']['mean'])} / {pct_cell(m['max_drawdown']['p95'])}",
            "of peak equity",
        ),
        ("liquidated", f"{m['liquidations']['paths']:,}", f"paths ({_pct(m['liquidations'])})"),
        ("halted", f"{m['halts']['paths']:,}", f"paths ({_pct(m['halts'])})"),
    ]
    table(out, "metrics (means over paths)", ("metric", "value", "unit"), rows)
    if result.refusals:
        refused = ", ".join(f"{k} {v:,}" for k, v in sorted(result.refusals.items()))
        out.write(f"orders refused by the risk gate: {refused}\n")


def _pct(d: dict[str, Any]) -> str:
    return "—" if d["fraction"] is None else pct(float(d["fraction"]))


def print_sweep(out: TextIO, sw: SweepResult) -> None:
    out.write(
        f"{visible(sw.strategy)} on {visible(sw.venue)}: sweep of {', '.join(sw.params)} over {len(sw.points)} "
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
            cell(p.cost_total),
            cell(p.tracking_error),
            cell(p.pnl_std),
            cell(p.pnl_mean),
            cell(p.trades_mean),
            "*" if p.efficient else "",
        )
        for p in sw.points
    ]
    table(out, "cost vs. hedge error (* = no point is both cheaper and tighter)", headers, rows)
