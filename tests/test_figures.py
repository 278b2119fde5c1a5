"""One number format for computed figures (`rebal.compiler.words.figure`), used by
`rebal simulate`'s table, its HTML report and `rebal explain`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rebal.cli import main
from rebal.compiler.words import figure, num, pct

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("value", "text"), [
    (-142.819, "-142.8"), (44.9247, "44.92"), (0.23537, "0.2354"), (1234567.8, "1,234,568"),
    (12345.678, "12,346"), (1000.0, "1,000"), (2.5, "2.5"), (0.0, "0"), (-0.00001, "-0.00001"),
    (-0.000000004, "-4e-09"), (9.99996, "10"), (-0.00004, "-0.00004"),
    (float("inf"), "unbounded"), (float("-inf"), "-unbounded"), (float("nan"), "undefined"),
])
def test_figure_keeps_significant_digits_and_whole_units(value: float, text: str) -> None:
    assert figure(value) == text


def test_figure_signs_and_the_words_that_use_it() -> None:
    assert figure(0.7, signed=True) == "+0.7" and figure(-0.7, signed=True) == "-0.7"
    assert num(1234.5678) == figure(1234.5678) == "1,235"  # computed: figure
    assert num(1234) == "1,234"  # exact: as written
    assert pct(0.434783) == "43.48%"


def _figures(text: str) -> list[str]:
    return re.findall(r"-?\d[\d,]*\.?\d*", text)


def test_simulate_table_report_and_explain_share_the_format(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "specs" / "eth_gamma_band.rebal")
    report = tmp_path / "r.html"
    args = ["simulate", spec, "--venue", "paper", "--paths", "20", "--seed", "2"]
    assert main([*args, "--report", str(report)]) == 0
    table = capsys.readouterr().out
    assert main([*args, "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    html = report.read_text(encoding="utf-8")
    for value in (metrics["pnl"]["mean"], metrics["pnl"]["std"], metrics["cost"]["total"]):
        shown = figure(value)
        assert re.search(rf"(?<![\d.,]){re.escape(shown)}(?![\d.,])", table), (shown, table)
        assert f"<td>{shown}</td>" in html or f"<th>{shown}</th>" in html, shown
    # No figure in the table has more than four significant digits after its whole units.
    for f in _figures(table.split("metrics (means over paths)", 1)[1]):
        whole, _, frac = f.lstrip("-").replace(",", "").partition(".")
        digits = len((whole + frac).lstrip("0"))
        assert digits <= max(4, len(whole)), f
    assert main(["explain", spec]) == 0
    explained = capsys.readouterr().out
    assert "500,000 USD" in explained  # exact values keep their thousands separators
