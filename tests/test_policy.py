"""House policy: exactly the findings language.md lists for the shared examples, and the rules.

With ``desk.policy.rebal`` the shared examples give exactly:

* btc_eth_weights: no liquidation buffer;
* eth_leverage_2x: emergency-mode slippage 200 bps above 100 bps; no drawdown halt;
* eth_cppi_vault: no drawdown halt (no leverage, so no buffer is required);
* btc_optimal_band: no liquidation buffer; no drawdown halt;
* eth_straddle_hedge: nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rebal.backends import registry
from rebal.cli import main
from rebal.compiler import check_file, check_source, ir, load_policy

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "specs"
LOCAL = ROOT / "specs"
FOLDERS = [f for f in (SHARED, LOCAL) if f.is_dir()]

#: file stem -> (code, line, message) of every policy finding.
EXPECTED: dict[str, list[tuple[str, int, str]]] = {
    "btc_eth_weights": [
        ("P702", 30, "no `liquidation buffer`: policy `desk` requires at least 20% for "
                     "strategies that can hold perps, futures or short options"),
    ],
    "eth_leverage_2x": [
        ("P702", 29, "no `halt when` on drawdown: policy `desk` requires one"),
        ("P701", 35, "mode `emergency`'s `max slippage 200 bps` is above policy `desk`'s "
                     "100 bps"),
    ],
    "eth_cppi_vault": [
        ("P702", 33, "no `halt when` on drawdown: policy `desk` requires one"),
    ],
    "btc_optimal_band": [
        ("P702", 38, "no `liquidation buffer`: policy `desk` requires at least 20% for "
                     "strategies that can hold perps, futures or short options"),
        ("P702", 38, "no `halt when` on drawdown: policy `desk` requires one"),
    ],
    "eth_straddle_hedge": [],
}


def desk(folder: Path) -> ir.Policy:
    pol, diags = load_policy(folder / "desk.policy.rebal")
    assert pol is not None, diags
    return pol


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.parent.name)
@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_desk_policy_findings_are_exactly_the_documented_ones(folder: Path, stem: str) -> None:
    res = check_file(folder / f"{stem}.rebal", policy=desk(folder),
                     capabilities=registry.capabilities())
    errors = [(d.code, d.span.line if d.span else 0, d.message)
              for d in res.diagnostics if d.severity.value == "error"]
    assert errors == EXPECTED[stem]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.parent.name)
def test_check_with_the_desk_policy_exits_1_and_without_it_0(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    specs = [str(folder / f"{stem}.rebal") for stem in sorted(EXPECTED)]
    assert main(["check", *specs, "--format", "json"]) == 0
    capsys.readouterr()
    code = main(["check", *specs, "--policy", str(folder / "desk.policy.rebal"),
                 "--format", "json"])
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert code == 1
    got = sorted((Path(d["file"]).stem, d["code"]) for d in found if d["severity"] == "error")
    want = sorted((stem, c) for stem, items in EXPECTED.items() for c, _, _ in items)
    assert got == want


# ------------------------------------------------------------------ the rules, one by one

_POLICY = """
policy p {
  max leverage 3x
  max slippage 50 bps
  max fee 5 bps
  max gas 50 gwei
  max notional 1000000 USD
  require liquidation buffer >= 20%
  require max slippage
  require halt when drawdown
  venues allowed paper, deribit
  backends allowed sim, keeper
}
"""
_STRATEGY = """
strategy s {{
  capital 100000 USD
  instruments {{
    PERP perp ETH
    WETH spot ETH
    C    option ETH call strike 3000 USD expiry 2099-06-26
  }}
  owns {owns}
  target {target}
  trigger {{ on breach }}
  costs {{ {costs} }}
  risk {{ {risk} }}
  {modes}
  venue paper via sim {{ ETH spot 3000 USD }}
  {venues}
}}
"""


def _policy() -> ir.Policy:
    res = check_source(_POLICY, "p.rebal")
    assert res.ok and res.policies, res.diagnostics
    return res.policies[0]


def _findings(*, owns: str = "PERP", target: str = "delta 0 ETH { band 1 ETH hedge with PERP }",
              costs: str = "max slippage 20 bps",
              risk: str = "liquidation buffer 30% halt when drawdown > 20%",
              modes: str = "", venues: str = "") -> list[tuple[str, str]]:
    text = _STRATEGY.format(owns=owns, target=target, costs=costs, risk=risk, modes=modes,
                            venues=venues)
    res = check_source(text, "s.rebal", policy=_policy())
    assert not [d for d in res.diagnostics if d.severity.value == "error" and d.code[0] != "P"], \
        res.diagnostics
    return [(d.code, d.message) for d in res.diagnostics if d.code.startswith("P")]


def test_a_compliant_strategy_has_no_policy_findings() -> None:
    assert _findings() == []


def test_no_policy_no_policy_findings() -> None:
    text = _STRATEGY.format(owns="PERP", target="delta 0 ETH { band 1 ETH hedge with PERP }",
                            costs="", risk="", modes="", venues="")
    assert not [d for d in check_source(text, "s.rebal").diagnostics if d.code[0] == "P"]


def test_every_limit_at_most_the_policy_in_base_and_modes() -> None:
    found = _findings(costs="max slippage 60 bps max fee 6 bps max gas 60 gwei",
                      risk="max leverage 4x liquidation buffer 30% halt when drawdown > 20% "
                           "max notional 2000000 USD",
                      modes="mode m when drawdown > 5% { max slippage 80 bps max fee 1 bps }")
    assert [c for c, _ in found] == ["P701"] * 6
    assert any("mode `m`'s `max slippage 80 bps`" in m for _, m in found)
    assert not any("mode `m`'s `max fee" in m for _, m in found)


def test_leverage_needed_by_targets_counts_when_the_strategy_sets_no_limit() -> None:
    found = _findings(target="leverage 3x { band 2.5x to 3.5x hedge with PERP }",
                      risk="liquidation buffer 20% halt when drawdown > 20%")
    assert found == [("P701", "the targets need up to 3.5x gross leverage, above policy "
                              "`p`'s 3x")]


def test_buffer_required_for_perps_and_owned_options_not_for_spot() -> None:
    risk = "halt when drawdown > 20%"
    assert [c for c, _ in _findings(risk=risk)] == ["P702"]
    assert [c for c, _ in _findings(risk=risk, owns="WETH, C",
                                    target="delta 0 ETH { band 1 ETH hedge with WETH }")] \
        == ["P702"]
    assert _findings(risk=risk, owns="WETH",
                     target="delta 0 ETH { band 1 ETH hedge with WETH }") == []
    low = _findings(risk="liquidation buffer 10% halt when drawdown > 20%")
    assert low == [("P701", "`liquidation buffer 10%` is below policy `p`'s 20%")]


def test_required_clauses_and_halts() -> None:
    found = _findings(costs="max fee 1 bps", risk="liquidation buffer 30% halt when leverage > 4x")
    assert found == [("P702", "no `max slippage`: policy `p` requires it"),
                     ("P702", "no `halt when` on drawdown: policy `p` requires one")]


def test_venues_and_backends_allowed() -> None:
    found = _findings(venues='venue hl via ccxt { PERP = "ETH/USDC:USDC" }')
    assert found == [("P703", "venue `hl` is not allowed by policy `p`"),
                     ("P703", "backend `ccxt` is not allowed by policy `p`")]
