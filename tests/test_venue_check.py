"""`rebal check --markets FILE`: the offline venue check, against a Deribit snapshot whose
market dicts come from ccxt's own parser (tests/fixtures/markets/generate.py). Each kind of
mismatch, at the venue's symbol line, with exit codes; and the shared straddle example, whose
USD-settled instruments Deribit settles in ETH."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rebal.cli import main

ROOT = Path(__file__).resolve().parent.parent
DERIBIT = ROOT / "tests" / "fixtures" / "markets" / "deribit.json"
SHARED = ROOT.parent / "shared" / "specs" / "eth_straddle_hedge.rebal"
if not SHARED.is_file():  # a fresh clone: the repository's copy of the shared contract
    SHARED = ROOT / "tests" / "fixtures" / "markets" / "shared_eth_straddle_hedge.rebal"

SPEC = """strategy hedge {{
  capital 150000 USD
  instruments {{
    ETH_C  option ETH call strike 3000 USD expiry 2026-12-25 settle ETH
    PERP   {perp}
  }}
  book {{ ETH_C -10 }}
  owns PERP
  target delta 0 ETH {{ band 1 ETH; hedge with PERP }}
  trigger {{ on breach }}
  costs {{ max slippage 20 bps {costs} }}
  venue deribit via ccxt {{ {settings}
    ETH_C = "{opt}"
    PERP  = "{sym}"
  }}
  {sim}
}}
"""
SIM = "venue paper via sim { ETH spot 3000 USD vol 60% start 2026-12-01 horizon 2d step 1h paths 4 }"
CLEAN = dict(perp="perp ETH settle ETH", sym="ETH-PERPETUAL", opt="ETH-25DEC26-3000-C",
             costs="max fee 5 bps min trade 0.1 ETH split 5 ETH every 2m", settings="", sim=SIM)
OPT_LINE, PERP_LINE, VENUE_LINE = 13, 14, 12


def check(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str,
          markets: Path = DERIBIT) -> tuple[int, list[dict[str, object]]]:
    f = tmp_path / "hedge.rebal"
    f.write_text(spec, encoding="utf-8")
    capsys.readouterr()
    rc = main(["check", str(f), "--markets", str(markets), "--format", "json"])
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    return rc, [d for d in found if d["code"] not in ("W904", "W906")]


def where(found: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(d["code"], d["line"], d["col"]) for d in found]


def spec(**kw: str) -> str:
    return SPEC.format(**{**CLEAN, **kw})


def test_a_matching_spec_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(tmp_path, capsys, spec()) == (0, [])


def test_unified_symbols_resolve_like_exchange_ids(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert check(tmp_path, capsys, spec(sym="ETH/USD:ETH", opt="ETH/USD:ETH-261225-3000-C")) == (0, [])


@pytest.mark.parametrize("change, expected, words", [
    (dict(perp="perp ETH"), [("E813", PERP_LINE)], "PERP settles in USD, but `ETH-PERPETUAL` settles in ETH"),
    (dict(sym="ETH-PERPETUALS"), [("E811", PERP_LINE)], "closest: `ETH-PERPETUAL`"),
    (dict(sym="ETH/USD:ETC"), [("E811", PERP_LINE)], "`ETH/USD:ETH`"),
    (dict(opt="ETH-26DEC25-3000-C"), [("E812", OPT_LINE), ("E813", OPT_LINE)],
     "expires on 2026-12-25, but `ETH-26DEC25-3000-C` expires on 2025-12-26"),
    (dict(sym="ETH-25DEC26"), [("E813", PERP_LINE)], "PERP is declared a perpetual, but `ETH-25DEC26` is a dated future"),
    (dict(opt="ETH-25DEC26-3200-C"), [("E813", OPT_LINE)], "has strike 3,000, but `ETH-25DEC26-3200-C` has strike 3,200"),
    (dict(opt="ETH-25DEC26-3000-P"), [("E813", OPT_LINE)], "ETH_C is a call, but `ETH-25DEC26-3000-P` is a put"),
    (dict(sym="BTC-PERPETUAL"), [("E813", PERP_LINE), ("E813", PERP_LINE)], "PERP is on ETH, but `BTC-PERPETUAL` is on BTC"),
    (dict(perp="perp ETH settle USDC", sym="ETH_USDC-PERPETUAL", costs="min trade 0.0001 ETH"),
     [("E814", PERP_LINE)], "is 0.0001 contracts of `ETH_USDC-PERPETUAL`, below its minimum order of 0.001 contracts"),
    (dict(perp="perp ETH settle USDC", sym="ETH_USDC-PERPETUAL", costs="split 0.0025 ETH every 2m"),
     [("E815", PERP_LINE)], "not a whole number of its 0.001-contracts step: each child would be rounded to 0.002"),
    (dict(costs="min trade 0.5 USD"), [("E814", PERP_LINE)], "is 0.5 USD of `ETH-PERPETUAL`, below its minimum order of 1 USD"),
    (dict(costs="min trade 0.0001 ETH"), [("E814", PERP_LINE)], "0.3 USD of `ETH-PERPETUAL` at the spec's sim price"),
    (dict(costs="min trade 0.1 ETH", sim=""), [("W910", PERP_LINE)], "no price of ETH in USD"),
    (dict(costs="max fee 3 bps"), [("E816", PERP_LINE)], "taker fee of 5 bps, above `max fee 3 bps`"),
])
def test_each_mismatch_is_found_at_the_symbol_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str],
        expected: list[tuple[str, int]], words: str) -> None:
    rc, found = check(tmp_path, capsys, spec(**change))
    assert [(c, line) for c, line, _ in where(found)] == expected
    assert all(d["col"] == 5 for d in found)
    assert any(words in str(d["message"]) + str(d["help"]) for d in found), found
    assert rc == (0 if all(c.startswith("W") for c, _ in expected) else 1)


def test_a_mode_looser_on_fees_is_checked_too(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = spec().replace("  venue deribit", "  mode calm when abs(delta) < 1 ETH { max fee 1 bps }\n"
                          "  venue deribit")
    rc, found = check(tmp_path, capsys, text)
    assert (rc, where(found)) == (1, [("E816", PERP_LINE + 1, 5)])
    assert "max fee 1 bps" in str(found[0]["message"])


def test_a_snapshot_of_another_exchange_is_refused_at_the_venue(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, found = check(tmp_path, capsys, spec(settings='exchange "binanceusdm"'))
    assert (rc, [(c, line) for c, line, _ in where(found)]) == (1, [("E810", VENUE_LINE)])


def test_a_symbol_listed_but_not_saved_asks_for_a_fresh_snapshot(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(DERIBIT.read_text())
    doc["markets"] = [m for m in doc["markets"] if m["id"] != "ETH-PERPETUAL"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(doc))
    rc, found = check(tmp_path, capsys, spec(), partial)
    assert (rc, where(found)) == (1, [("E810", PERP_LINE, 5)])
    assert "take it again" in str(found[0]["help"])


@pytest.mark.parametrize("content, words", [
    ("not json", "not a JSON file"),
    ('{"exchange": "deribit"}', "not a venue snapshot"),
    ('{"markets_version": 99}', "snapshot version 99"),
    ('{"markets_version": 1, "exchange": "deribit", "venue": "deribit", "fetched_at": "x", '
     '"markets": [{"id": "ETH-PERPETUAL"}], "listing": []}', "lacks"),
])
def test_a_bad_markets_file_is_e810_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, words: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    rc, found = check(tmp_path, capsys, spec(), bad)
    assert rc == 1 and [d["code"] for d in found] == ["E810"]
    assert words in str(found[0]["message"]) and found[0]["file"] == str(bad)


def test_a_snapshot_for_no_venue_of_the_spec_is_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, found = check(tmp_path, capsys, spec().replace("venue deribit", "venue drb"))
    assert rc == 1 and [d["code"] for d in found] == ["E810"]
    assert "no strategy checked has a venue `deribit`" in str(found[0]["message"])


def test_the_shared_straddle_is_caught_and_ours_is_right(capsys: pytest.CaptureFixture[str]) -> None:
    # plain `rebal check` of the shared contract passes...
    assert main(["check", str(SHARED)]) == 0
    capsys.readouterr()
    # ...but Deribit settles ETH-PERPETUAL and its options in ETH, not USD
    rc = main(["check", str(SHARED), "--markets", str(DERIBIT), "--format", "json"])
    found = [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["code"] == "E813"]
    assert rc == 1
    lines = SHARED.read_text().splitlines()
    assert [lines[int(str(d["line"])) - 1].split("=")[0].strip() for d in found] == ["ETH_C", "ETH_P", "PERP"]
    assert all("settles in USD, but" in str(d["message"]) for d in found)
    # the repository's example declares what Deribit trades
    ours = ROOT / "specs" / "eth_straddle_hedge.rebal"
    assert main(["check", str(ours), "--markets", str(DERIBIT)]) == 0
