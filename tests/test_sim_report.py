"""The --report page: one self-contained HTML file with inline SVG plots."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
from test_sim_metrics import make_result

from rebal.backends.sim.engine import SamplePaths
from rebal.backends.sim.report import render_report, write_report
from rebal.backends.sim.sweep import parse_sweep, run_sweep


def with_samples(k: int = 4, steps: int = 48) -> Any:
    rng = np.random.default_rng(1)
    t = np.arange(steps + 1) * 3600.0
    spot = 3000 * np.exp(np.cumsum(rng.normal(0, 0.01, (k, steps + 1, 1)), axis=1))
    measure = rng.normal(0, 0.3, (k, steps + 1))
    trades = [
        (0, 5, "PERP", 0.7, "breach"),
        (0, 24, "PERP", -0.2, "clock"),
        (1, 30, "PERP", 1.5, "mode:emergency"),
        (2, 31, "PERP", 0.5, "split"),
    ]
    samples = SamplePaths(
        t_s=t,
        spot=spot,
        measure=measure,
        band_lo=np.full((k, steps + 1), -0.5),
        band_hi=np.full((k, steps + 1), 0.5),
        equity=100000 + np.cumsum(rng.normal(0, 50, (k, steps + 1)), axis=1),
        trades=trades,
    )
    return make_result(
        200,
        steps=steps,
        pnl=rng.normal(0, 100, 200),
        samples=samples,
        refusals={"max position PERP": 2},
    )


class Collector(HTMLParser):
    """Every tag and its attributes, to check what the page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_self_contained(html: str) -> Collector:
    assert "http://" not in html and "https://" not in html
    c = Collector()
    c.feed(html)
    for tag, attrs in c.tags:
        assert tag not in {"script", "link", "iframe", "img"}, tag
        for name in ("src", "href"):
            assert name not in attrs, (tag, attrs)
    assert not re.search(r"url\(|@import", html)
    return c


def test_report_is_self_contained_with_svg_plots(tmp_path: Path) -> None:
    out = write_report(tmp_path / "r.html", with_samples())
    html = out.read_text(encoding="utf-8")
    c = assert_self_contained(html)
    svgs = [t for t, _ in c.tags if t == "svg"]
    # price, 3 exposure panels, equity, P&L histogram, cost bars
    assert len(svgs) == 7
    assert html.startswith("<!DOCTYPE html>")
    for text in (
        "P&amp;L distribution",
        "Cost breakdown",
        "When and why it traded",
        "mode:emergency",
        "max position PERP",
        "polygon",
    ):
        assert text in html, text
    assert html.count("<tr><td>") >= 4  # one row per sample trade


def test_report_without_samples_and_names_are_escaped() -> None:
    html = render_report(make_result(20, strategy="<b>x</b>"))
    assert_self_contained(html)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "No sample paths were recorded" in html
    assert html.count("<svg") == 2


def test_report_with_sweep_has_the_frontier() -> None:
    from test_sim_sweep import FakeEngine, simple

    sw = run_sweep(
        simple(), "paper", [parse_sweep("band=0.1:0.3:3")], paths=30, simulate=FakeEngine()
    )
    html = render_report(with_samples(), sweep=sw)
    assert_self_contained(html)
    assert "Cost vs. hedge error" in html
    assert "band=0.2" in html
