"""The simulation report plots every target row with its own band, and marks each trade on
the row whose breach caused it (a clock, split or mode trade on every row)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rebal.backends.sim.engine import SimResult, simulate
from rebal.backends.sim.report import EXPOSURE_PANELS, render_report
from rebal.compiler import compile_text

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gamma_and_delta() -> SimResult:
    """eth_gamma_band (a gamma target hedged with a call, a delta target with the perp) with a
    gamma range narrow enough that both bands are breached in a short run."""
    text = (ROOT / "specs" / "eth_gamma_band.rebal").read_text(encoding="utf-8").replace(
        "within -20000 USD to 20000 USD", "within -3000 USD to 3000 USD")
    strategy, diags = compile_text(text, "gamma_band.rebal")
    assert strategy is not None, diags
    return simulate(strategy, "paper", paths=8, seed=3, steps=240, sample_paths=4,
                    threaded=False)


def test_every_row_is_recorded_and_breach_trades_name_the_row_they_left(
        gamma_and_delta: SimResult) -> None:
    res = gamma_and_delta
    s = res.samples
    assert s is not None and s.row_labels == ("gamma ETH", "delta ETH")
    assert s.rows_measure is not None and s.rows_lo is not None and s.rows_hi is not None
    assert s.rows_measure.shape == (4, 2, 241)
    np.testing.assert_array_equal(s.rows_measure[:, 0], s.measure)  # row 0 as before
    breach = [(tr, hit) for tr, hit in zip(s.trades, s.trade_rows, strict=True)
              if tr[4] == "breach"]
    assert breach, "the run should trade on a breach"
    rows_hit = set()
    for (path, step, *_), hit in breach:
        assert hit, "a breach trade names the row it left"
        for r in hit:
            m, lo, hi = (a[path, r, step] for a in (s.rows_measure, s.rows_lo, s.rows_hi))
            assert m < lo or m > hi, (path, step, r, m, lo, hi)
        rows_hit.update(hit)
    assert rows_hit == {0, 1}  # both the gamma and the delta band are breached somewhere
    for tr, hit in zip(s.trades, s.trade_rows, strict=True):
        if tr[4] != "breach":
            assert hit == ()


def test_report_plots_each_row_with_its_band_and_its_own_trades(
        gamma_and_delta: SimResult) -> None:
    res = gamma_and_delta
    s = res.samples
    assert s is not None
    html = render_report(res)
    titles = re.findall(r'class="t">Path (\d+): ([^,<]+), band and trades \((\d+) trades\)', html)
    panels = min(EXPOSURE_PANELS, s.spot.shape[0])
    assert [(int(p), row) for p, row, _ in titles] == [
        (p, row) for p in range(panels) for row in ("gamma ETH", "delta ETH")]
    for p, row, n in titles:
        r = s.row_labels.index(row)
        expected = sum(1 for tr, hit in zip(s.trades, s.trade_rows, strict=True)
                       if tr[0] == int(p) and (not hit or r in hit))
        assert int(n) == expected
    assert html.count('class="band"') >= 2 * panels
    assert "<th class=\"l\">breached row</th>" in html
