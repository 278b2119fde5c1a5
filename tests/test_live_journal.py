"""The order journal, client ids and the state folder's lock, on real SQLite and real flock."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rebal.backends.live.folder import Locked, StateFolder
from rebal.backends.live.ids import MAX_LEN, client_id
from rebal.backends.live.journal import Journal


def _order(cid: str, leg: int = 0, qty: float = 1.5) -> dict[str, object]:
    return {"client_id": cid, "leg": leg, "child": 0, "instrument": "PERP",
            "symbol": "ETH-PERPETUAL", "qty": qty, "limit_price": 3010.0, "mid": 3000.0}


def test_client_ids_are_deterministic_unique_and_fit_every_venue() -> None:
    h = "ab" * 32
    a = client_id(h, "deribit", 12, 0, 3)
    assert a == client_id(h, "deribit", 12, 0, 3)
    others = {client_id(h, "deribit", 12, 0, 4), client_id(h, "deribit", 12, 1, 3),
              client_id(h, "deribit", 13, 0, 3), client_id(h, "binance", 12, 0, 3),
              client_id("cd" * 32, "deribit", 12, 0, 3)}
    assert a not in others and len(others) == 5
    big = client_id(h, "deribit", 10**9, 99, 999)
    assert len(big) <= MAX_LEN
    # Binance newClientOrderId's pattern; Deribit's label takes any 64 characters
    assert re.fullmatch(r"[\.A-Z\:/a-z0-9_-]{1,36}", big)


def test_a_step_journals_its_orders_and_the_kernel_state_atomically(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite")
    j.record_step(1, 100.0, {"k": 1}, {"seq": 1}, [_order("a"), _order("b", leg=1)])
    assert [o.state for o in j.orders(step=1)] == ["intent", "intent"]
    assert j.last_step() == (1, 100.0, {"k": 1}, {"seq": 1})
    # a duplicate client id fails the whole step: neither its state nor its other order lands
    with pytest.raises(Exception, match="UNIQUE"):
        j.record_step(2, 200.0, {"k": 2}, {"seq": 2}, [_order("c"), _order("a")])
    assert j.last_step()[0] == 1
    assert j.order("c") is None
    assert j.next_step() == 2


def test_order_lifecycle_and_fills(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.sqlite")
    j.record_step(1, 1.0, {}, {}, [_order("a", qty=2.0), _order("b", leg=1, qty=-1.0)])
    j.update("a", state="sent", attempt=True)
    j.update("a", state="unknown", reason="timeout")
    assert [o.client_id for o in j.orders(final=False)] == ["a", "b"]
    j.update("a", state="filled", filled=2.0, avg_price=3001.0, fee=1.2, venue_id="v1")
    j.update("b", state="partial", filled=-0.5)
    j.update("b", state="cancelled")
    row = j.order("a")
    assert row is not None and row.final and row.attempts == 1 and row.venue_id == "v1"
    assert j.orders(final=False) == []
    assert j.filled_by_instrument() == {"PERP": 1.5}
    with pytest.raises(ValueError, match="unknown order state"):
        j.update("a", state="done")


def test_halt_persists_until_cleared(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal(path)
    j.halt("drawdown above 15%")
    j.halt("a second reason while halted is not a second halt")
    j.close()
    j = Journal(path)
    assert j.active_halt() == "drawdown above 15%"
    assert j.clear_halt() == "drawdown above 15%"
    assert j.active_halt() is None
    assert [k for _, k, _ in j.events()] == ["halt", "resume"]


def test_a_journal_from_another_version_is_refused(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.set_meta("journal_version", 99)
    j.close()
    with pytest.raises(ValueError, match="journal version 99"):
        Journal(tmp_path / "j.sqlite")


_HOLD = """
import sys, time
from rebal.backends.live.folder import StateFolder
StateFolder(sys.argv[1]).lock()
print("locked", flush=True)
time.sleep(60)
"""


def test_one_runner_per_state_folder_and_sigkill_releases_the_lock(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(Locked, match=f"pid {proc.pid}"):
            StateFolder(tmp_path).lock()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            folder = StateFolder(tmp_path).lock()
            break
        except Locked:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    folder.unlock()
