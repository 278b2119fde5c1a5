"""`rebal venue snapshot` with real ccxt against the Deribit emulator (rebal.emulators, on
127.0.0.1, a free port), then `rebal check --markets` on that file: the snapshot holds what
`load_markets` reports, and the offline check catches the USD-settled straddle."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rebal.cli import main
from rebal.emulators import Emulator

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "specs" / "eth_straddle_hedge.rebal"
URL_VAR = "REBAL_TEST_DERIBIT_URL"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator("deribit", api_key="k", secret="s", speed=0) as emu:
        yield emu


def pointed(tmp_path: Path, text: str, name: str = "hedge.rebal") -> Path:
    """The spec with its Deribit venue's API root named by a variable (never written)."""
    spec = tmp_path / name
    spec.write_text(text.replace("venue deribit via ccxt {",
                                 f"venue deribit via ccxt {{\n    url env {URL_VAR}"), encoding="utf-8")
    return spec


def snapshot(spec: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["venue", "snapshot", str(spec), "--venue", "deribit", "-o", str(out)])
    o, e = capsys.readouterr()
    return rc, o, e


def test_snapshot_of_the_emulator_then_the_offline_check(
        emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VAR, emulator.url)
    for var in ("DERIBIT_API_KEY", "DERIBIT_SECRET"):
        monkeypatch.delenv(var, raising=False)  # public data: no credentials needed
    spec = pointed(tmp_path, OURS.read_text(encoding="utf-8"))
    out = tmp_path / "markets.json"
    rc, said, err = snapshot(spec, out, capsys)
    assert rc == 0, err
    assert "3 of 3 mapped markets of deribit" in said
    doc = json.loads(out.read_text())
    assert (doc["markets_version"], doc["exchange"], doc["venue"]) == (1, "deribit", "deribit")
    recs = {r["id"]: r for r in doc["markets"]}
    assert set(recs) == {"ETH-PERPETUAL", "ETH-25DEC26-3000-C", "ETH-25DEC26-3000-P"}
    perp, call = recs["ETH-PERPETUAL"], recs["ETH-25DEC26-3000-C"]
    assert (perp["symbol"], perp["kind"], perp["settle"], perp["inverse"], perp["amount_unit"],
            perp["min_amount"], perp["taker_fee"], perp["expiry"]) == (
        "ETH/USD:ETH", "perp", "ETH", True, "quote", 1.0, 0.0005, None)
    assert (call["symbol"], call["kind"], call["strike"], call["option_type"], call["settle"],
            call["quote"], call["amount_unit"], call["expiry"][:10]) == (
        "ETH/USD:ETH-261225-3000-C", "option", 3000.0, "call", "ETH", "USD", "contracts", "2026-12-25")
    assert ["ETH-PERPETUAL", "ETH/USD:ETH", True] in doc["listing"]
    assert out.read_text().endswith("}\n") and json.dumps(doc, sort_keys=True, indent=2) + "\n" == out.read_text()

    # offline: our example matches; the USD-settled variant (the shared contract's) does not
    capsys.readouterr()
    assert main(["check", str(spec), "--markets", str(out)]) == 0
    usd = OURS.read_text(encoding="utf-8").replace(" settle ETH", "")
    wrong = pointed(tmp_path, usd, "usd.rebal")
    capsys.readouterr()
    assert main(["check", str(wrong), "--markets", str(out), "--format", "json"]) == 1
    found = [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["code"] == "E813"]
    lines = wrong.read_text().splitlines()
    assert [lines[d["line"] - 1].split("=")[0].strip() for d in found] == ["ETH_C", "ETH_P", "PERP"]


def test_a_second_snapshot_differs_only_in_its_time(
        emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VAR, emulator.url)
    spec = pointed(tmp_path, OURS.read_text(encoding="utf-8"))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert snapshot(spec, a, capsys)[0] == 0 and snapshot(spec, b, capsys)[0] == 0
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    da.pop("fetched_at"), db.pop("fetched_at")
    assert da == db


def test_an_unknown_symbol_is_left_out_and_named_by_the_check(
        emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_VAR, emulator.url)
    spec = pointed(tmp_path, OURS.read_text(encoding="utf-8").replace(
        '"ETH-PERPETUAL"', '"ETH-PERPETUA"'))
    out = tmp_path / "m.json"
    rc, said, _ = snapshot(spec, out, capsys)
    assert rc == 0 and "2 of 3 mapped markets" in said
    assert main(["check", str(spec), "--markets", str(out), "--format", "json"]) == 1
    found = [d for d in json.loads(capsys.readouterr().out)["diagnostics"] if d["code"] == "E811"]
    assert len(found) == 1 and "closest: `ETH-PERPETUAL`" in found[0]["message"]


def test_an_unreachable_exchange_is_one_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(URL_VAR, f"http://127.0.0.1:{port}")
    spec = pointed(tmp_path, OURS.read_text(encoding="utf-8"))
    rc, _, err = snapshot(spec, tmp_path / "m.json", capsys)
    assert rc == 1 and "cannot read deribit's markets: NetworkError" in err
    assert "Traceback" not in err and not (tmp_path / "m.json").exists()


def test_only_a_ccxt_venue_of_the_spec_can_be_snapshot(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["venue", "snapshot", str(OURS), "--venue", "paper", "-o", str(tmp_path / "x")]) == 1
    assert "runs on the sim backend" in capsys.readouterr().err
    assert main(["venue", "snapshot", str(OURS), "--venue", "nope", "-o", str(tmp_path / "x")]) == 1
    assert "has no venue `nope` (venues: deribit, paper)" in capsys.readouterr().err


def test_a_named_but_unset_url_variable_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(URL_VAR, raising=False)
    spec = pointed(tmp_path, OURS.read_text(encoding="utf-8"))
    rc, _, err = snapshot(spec, tmp_path / "m.json", capsys)
    assert rc == 1 and f"the environment has no {URL_VAR}" in err
