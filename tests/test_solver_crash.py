"""Crash between a vault intent's placement and its POST, for real: a `rebal run --once` of
eth_cppi_vault's `intents` venue (the shared spec as written, on a local rehearsal) is killed
with SIGKILL after `Vault.place_intent` was mined (the guard counted the intent) while its
POST is held by the order book, which then drops it. The restart finds the intent in the
adapter's record (written before the placement), sees it placed on chain but not in the book,
and posts the very same signed order: one placement, one UID, settled once. Runtime: about
30 s (three `rebal run` processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chain_fixtures import ChainEnv
from guard_helpers import CPPI

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.deploy import at
from rebal.backends.chain.tx import Sender
from rebal.backends.live.journal import Journal
from rebal.backends.solver.bookserver import BookServer
from rebal.backends.solver.local import LocalSolver, settlement_at
from rebal.backends.solver.orderbook import OrderBook
from rebal.backends.solver.store import FILE
from rebal.cli import main

KEEPER_KEY, SOLVER_KEY = DEV_KEYS[3], DEV_KEYS[4]


def _rows(state: Path) -> list[tuple[str, str, str]]:
    j = Journal(state / "journal.sqlite")
    try:
        return [(r.client_id, r.state, r.venue_id) for r in j.orders()]
    finally:
        j.close()


def test_sigkill_between_placement_and_post_then_restart_posts_the_same_intent_once(
        chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    for k, v in (("INTENTS_RPC_URL", chain.url), ("KEEPER_KEY", KEEPER_KEY),
                 ("REBAL_SOLVER_KEY", SOLVER_KEY)):
        monkeypatch.setenv(k, v)
    args = [str(CPPI), "--venue", "intents", "--state", str(state)]
    assert main(["keeper", "deploy", *args, "--local"]) == 0
    assert main(["keeper", "price", *args, "ETH", "2700"]) == 0  # CPPI wants less WETH
    dep = json.loads((state / "deployment.json").read_text())
    vault = at(chain.w3, "Vault", dep["vault"])
    settlement = settlement_at(chain.w3, dep["settlement"])
    book = OrderBook(settlement)
    solver = LocalSolver(book, dep["router"], Sender(chain.w3, SOLVER_KEY))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBAL_")}
    env.update(INTENTS_RPC_URL=chain.url, KEEPER_KEY=KEEPER_KEY)
    run = [sys.executable, "-m", "rebal", "run", *args, "--once"]

    def placements() -> list[bytes]:
        return [e.args.digest for e in vault.events.IntentPlaced().get_logs(
            from_block=dep["block"])]

    with BookServer(book) as server:
        env["REBAL_ORDERBOOK_URL"] = server.url
        server.hold_posts = 1
        proc = subprocess.Popen(run, env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not server.held and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert server.held == 1, proc.poll()
        proc.send_signal(signal.SIGKILL)  # placed on chain, its POST in the air
        out, _ = proc.communicate(timeout=30)
        server.release.set()
        (placed,) = placements()  # the guard counted it once
        assert book.orders == {} and server.posts == 0, out
        ((cid, st, _),) = _rows(state)
        assert st == "sent", out
        record = json.loads((state / FILE).read_text())[cid]
        assert record["digest"] == "0x" + placed.hex()  # recorded before the placement

        # Restart: the reconciliation finds the intent placed but not in the book and posts
        # the same signed order (not placed again); it rests there until a solver takes it.
        again = subprocess.run(run, env=env, text=True, capture_output=True, timeout=120)
        assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
        assert placements() == [placed] and server.posts == 1
        assert set(book.orders) == {bytes.fromhex(record["uid"][2:])}
        assert solver.step()  # the solver settles it
        last = subprocess.run(run, env=env, text=True, capture_output=True, timeout=120)
        assert last.returncode == 0 and "Traceback" not in last.stderr, last.stderr
    trades = settlement.events.Trade().get_logs(from_block=dep["block"])
    assert [t.args.orderUid.hex() for t in trades] == [record["uid"][2:]]
    assert placements() == [placed]  # never placed twice
    rows = _rows(state)
    assert rows[0] == (cid, "filled", record["uid"]), rows
    assert all(r[1] == "filled" for r in rows)  # anything after it was decided afresh
