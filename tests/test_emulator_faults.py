"""Fault specs, seeded random faults (for soak runs), the out-of-process control client, and
spec-driven funding: the parts of the emulators a long test run leans on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rebal.emulators import ControlClient, Emulator, Fault, parse_fault
from rebal.emulators.control import ControlError
from rebal.emulators.faults import FaultBook

SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_parse_fault_reads_the_cli_form() -> None:
    f = parse_fault("error5xx,status=502,p=0.25,count=0,on=public")
    assert (f.kind, f.status, f.p, f.count, f.on) == ("error5xx", 502, 0.25, 0, "public")
    assert parse_fault("lost").on == "order" and parse_fault("lost").count == 1
    for bad, why in (("explode", "unknown fault"), ("lost,count", "key=value"),
                     ("lost,colour=red", "key=value"), ("timeout,delay=soon", "bad value"),
                     ("error5xx,status=404", "500..599"), ("lost,p=2", "within 0..1")):
        with pytest.raises(ValueError, match=why):
            parse_fault(bad)


def test_random_faults_are_seeded_and_counted() -> None:
    def run(seed: int) -> list[int]:
        book = FaultBook(seed=seed)
        book.add(Fault("error5xx", on="any", count=0, p=0.3))
        return [i for i in range(1000) if book.draw("public", "/x")]

    first = run(11)
    assert first == run(11) and first != run(12)
    assert 240 <= len(first) <= 360
    book = FaultBook()
    book.add(Fault("lost", on="order", count=2))
    fired = [bool(book.draw(cat, "/p")) for cat in ("public", "order", "cancel", "order",
                                                    "order")]
    assert fired == [False, True, False, True, False]
    assert [e["kind"] for e in book.state()["fired"]] == ["lost", "lost"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("binanceusdm", api_key="k", secret="s", speed=0) as e:
        yield e


def test_control_client_drives_a_running_emulator(emu: Emulator) -> None:
    ctl = ControlClient(emu.url)
    ctl.set_price("ETH", 3100.0, vol=0.7)
    assert ctl.state()["prices"]["ETH"] == 3100.0 and emu.market.vol("ETH") == 0.7
    ctl.set_positions({"ETHUSDT": {"side": "LONG", "size": 2.0}}, {"USDT": 5000.0},
                      hedge_mode=True)
    acct = ctl.state()["accounts"]["main"]
    assert acct["hedge_mode"] and acct["balances"]["USDT"] == 5000.0
    assert acct["positions"] == [{"contract": "ETHUSDT", "side": "LONG", "size": 2.0,
                                  "avg_price": 3100.0, "realized": 0.0}]
    before = ctl.state()["time_ms"]
    assert ctl.advance(60) == pytest.approx(before + 60_000, abs=5)
    ctl.set_book("*", depth=0.5, spread=0.001)
    assert emu.ledger.contracts["BTCUSDT"].depth == 0.5
    ctl.add_fault("partial", fraction=0.25)
    assert [f["kind"] for f in ctl.state()["faults"]] == ["partial"]
    ctl.clear_faults()
    assert ctl.state()["faults"] == [] and ctl.orders() == []
    with pytest.raises(ControlError, match="unknown fault"):
        ctl.add_fault("explode")
    with pytest.raises(ControlError, match="unknown asset"):
        ctl.set_price("DOGE", 1.0)


def test_spec_funding_reaches_perps_named_by_unified_symbol() -> None:
    with Emulator("binanceusdm", api_key="k", secret="s", speed=0,
                  spec=SPECS / "btc_eth_weights.rebal", sim_venue="backtest") as e:
        assert e.ledger.funding["ETHUSDT"] == pytest.approx(0.12)
        assert e.ledger.funding["BTCUSDT"] == pytest.approx(0.10)
        assert e.market.spot("BTC") == 90000.0 and e.market.spot("SOL") == 200.0


def test_cli_refuses_bad_input_without_a_traceback() -> None:
    env = {**os.environ, "REBAL_EMULATOR_API_KEY": "k", "REBAL_EMULATOR_SECRET": "s"}
    for args, why in ((["--fault", "explode"], "unknown fault"),
                      (["--price", "ETH"], "ASSET=PRICE"),
                      (["--spec", str(SPECS / "btc_eth_weights.rebal")], "go together")):
        proc = subprocess.run([sys.executable, "-m", "rebal", "emulate", "binanceusdm", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and why in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("venue", "symbol", "amount"), [
    ("binanceusdm", "ETH/USDT:USDT", 0.01), ("deribit", "ETH-PERPETUAL", 10.0)])
def test_clients_that_go_away_are_one_line_each_never_a_traceback(
        venue: str, symbol: str, amount: float) -> None:
    """A soak-like fault mix against `rebal emulate` with real ccxt on a short timeout: the
    client gives up on held requests (the server then writes to a closed socket) and on lost
    answers; the emulator's stderr has one line per client gone, and no traceback."""
    import ccxt

    from rebal.backends.ccxt.client import Settings, make_client

    env = {**os.environ, "REBAL_EMULATOR_API_KEY": "k", "REBAL_EMULATOR_SECRET": "s"}
    proc = subprocess.Popen([sys.executable, "-m", "rebal", "emulate", venue, "--speed", "0",
                             "--seed", "3"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        client = make_client(Settings(venue, "EMU", "k", "s", None, url, False),
                             timeout_ms=200)
        client.load_markets()
        ctl = ControlClient(url)
        for kind, on, p in (("timeout", "any", 0.3), ("drop", "any", 0.1),
                            ("lost", "order", 0.4), ("error5xx", "any", 0.1)):
            ctl.add_fault(kind, on=on, p=p, count=0, delay=0.4)
        done = failed = 0
        for i in range(30):
            try:
                if i % 2:
                    client.create_order(symbol, "market", "buy", amount)
                else:
                    client.fetch_balance()
                done += 1
            except ccxt.BaseError:
                failed += 1
        state = ctl.state()
    finally:
        proc.send_signal(2)  # SIGINT: `rebal emulate` stops cleanly
        _, err = proc.communicate(timeout=30)
    kinds = {e["kind"] for e in state["fired"]}
    assert {"timeout", "drop", "lost"} <= kinds and done > 0 and failed > 0
    gone = [line for line in err.splitlines() if "went away before its answer" in line]
    assert state["dropped_clients"] >= 1 and len(gone) >= state["dropped_clients"]
    assert "Traceback" not in err and "Exception occurred" not in err, err[-2000:]
    assert proc.returncode == 0
