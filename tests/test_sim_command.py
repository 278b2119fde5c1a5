"""`run_simulate`, the function behind `rebal simulate`: exit codes, messages, outputs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rebal.backends.sim.command import run_simulate, venue_problem
from rebal.compiler import compile_file, load_policy
from rebal.compiler.ir import Strategy

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
STRADDLE = SPECS / "eth_straddle_hedge.rebal"


def straddle() -> Strategy:
    ir, diags = compile_file(STRADDLE)
    assert ir is not None, diags
    return ir


def short(days: int = 2) -> Strategy:
    """The straddle spec with the paper venue's horizon cut to `days` (fast end-to-end runs)."""
    ir = straddle()
    venues = tuple(
        v.model_copy(update={"config": v.config.model_copy(update={"horizon_s": days * 86400})})
        if v.name == "paper"
        else v
        for v in ir.venues
    )
    return ir.model_copy(update={"venues": venues})


def run(ir: object, venue: str, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    kw.setdefault("fmt", "text")
    rc = run_simulate(ir, venue, out=out, err=err, **kw)  # type: ignore[arg-type]
    return rc, out.getvalue(), err.getvalue()


def test_unknown_venue_suggests_the_closest() -> None:
    rc, out, err = run(straddle(), "papr")
    assert rc == 1 and out == ""
    assert "no venue 'papr'" in err
    assert "did you mean 'paper'?" in err
    assert "sim venues: paper" in err


def test_unknown_venue_without_a_close_match() -> None:
    rc, _, err = run(straddle(), "kraken")
    assert rc == 1
    assert "did you mean" not in err and "venues: deribit, paper" in err


def test_non_sim_venue_lists_the_sim_venues() -> None:
    rc, out, err = run(straddle(), "deribit")
    assert rc == 1 and out == ""
    assert "venue 'deribit' runs via ccxt; simulate needs a sim venue" in err
    assert "sim venues of 'eth_straddle_hedge': paper" in err


def test_a_policy_cannot_be_simulated() -> None:
    policy, _ = load_policy(SPECS / "desk.policy.rebal")
    assert policy is not None
    assert "policy" in (venue_problem(policy, "paper") or "")
    assert run(policy, "paper")[0] == 1


@pytest.mark.parametrize(
    ("kw", "rc", "message"),
    [
        ({"fmt": "yaml"}, 2, "--format must be one of text, json"),
        ({"paths": 0}, 2, "--paths must be at least 1"),
        ({"sweep": ["bnad=1:2:3"]}, 2, "did you mean 'band'"),
        ({"sweep": ["band=1:2"]}, 2, "LO:HI:N"),
        ({"sweep": ["risk_aversion=1:2:2"]}, 1, "optimal"),
    ],
)
def test_usage_errors(kw: dict[str, object], rc: int, message: str) -> None:
    code, out, err = run(straddle(), "paper", **kw)
    assert code == rc and out == ""
    assert message in err


# ------------------------------------------------------------------ end to end (engine)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_end_to_end_is_the_contract_and_deterministic() -> None:
    from test_sim_metrics import CONTRACT, check_contract

    ir = straddle()
    rc, out, err = run(ir, "paper", paths=40, seed=11, fmt="json")
    assert rc == 0, err
    obj = json.loads(out)
    check_contract(obj, CONTRACT)
    assert (obj["strategy"], obj["venue"], obj["paths"], obj["seed"]) == (
        "eth_straddle_hedge",
        "paper",
        40,
        11,
    )
    assert obj["steps"] == 30 * 24 * 12  # horizon 30d step 5m
    assert obj["book_value0"] < 0  # a short straddle book: we owe its value
    again = json.loads(run(ir, "paper", paths=40, seed=11, fmt="json")[1])
    for key in ("elapsed_s", "path_steps_per_s"):
        obj.pop(key), again.pop(key)
    assert obj == again  # same seed, same numbers


def test_text_output_has_the_table() -> None:
    rc, out, err = run(straddle(), "paper", paths=20, seed=1)
    assert rc == 0, err
    assert "eth_straddle_hedge on paper: 20 paths x 8,640 steps, seed 1" in out
    for label in ("P&L mean", "expected shortfall", "cost: total", "tracking error", "halted"):
        assert label in out
    # no progress bar when stderr is not a terminal: at most plain progress lines (a slow run)
    assert all(line.startswith("simulate paper: ") for line in err.splitlines()), err


def test_progress_bar_on_a_terminal_keeps_stdout_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rebal.backends.sim.command.PROGRESS_MIN_PATH_STEPS", 0)
    out, err = io.StringIO(), FakeTTY()
    rc = run_simulate(short(), "paper", paths=10, seed=1, fmt="json", out=out, err=err)
    assert rc == 0
    json.loads(out.getvalue())
    assert "simulate paper" in err.getvalue() and "100%" in err.getvalue()


def test_report_end_to_end(tmp_path: Path) -> None:
    from test_sim_report import assert_self_contained

    target = tmp_path / "report.html"
    rc, out, err = run(short(), "paper", paths=30, seed=2, fmt="json", report=str(target))
    assert rc == 0, err
    assert f"wrote report {target}" in err
    json.loads(out)
    html = target.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert html.count("<svg") >= 6
    assert "When and why it traded" in html
    bad = run(short(), "paper", paths=5, report=str(tmp_path / "no" / "such" / "r.html"))
    assert bad[0] == 1 and "cannot write the report" in bad[2]


def test_sweep_end_to_end(tmp_path: Path) -> None:
    target = tmp_path / "sweep.html"
    rc, out, err = run(
        short(),
        "paper",
        paths=10,
        seed=3,
        fmt="json",
        sweep=["band=0.25:1:3"],
        report=str(target),
    )
    assert rc == 0, err
    sw = json.loads(out)["sweep"]
    assert sw["param"] == "band"
    assert [p["value"] for p in sw["points"]] == [0.25, 0.625, 1.0]
    for p in sw["points"]:
        assert {"cost_total", "tracking_error", "pnl_std"} <= set(p)
    assert "Cost vs. hedge error" in target.read_text(encoding="utf-8")
    rc, text, _ = run(short(), "paper", paths=10, seed=3, sweep=["band=0.25,1"])
    assert rc == 0 and "cost vs. hedge error" in text and "0.25" in text


def test_replay_file_is_read_relative_to_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    ir, diags = compile_file(SPECS / "eth_replay_backtest.rebal")
    assert ir is not None, diags
    monkeypatch.chdir(ROOT.parent)  # not the spec's folder: a bare relative path would miss
    rc, out, err = run(ir, "replay", paths=2, fmt="json", base_dir=SPECS)
    assert rc == 0, err
    assert json.loads(out)["paths"] == 2
    rc, _, err = run(ir, "replay", paths=2, fmt="json")
    assert rc == 1 and "replay file not found" in err
