"""`run_simulate`, the function behind `rebal simulate`: exit codes, messages, outputs."""

from __future__ import annotations

import io
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
