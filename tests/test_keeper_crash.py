"""Crash between send and receipt, for real: a `rebal run` process of the keeper example is
killed with SIGKILL while its rebalance sits in anvil's txpool (automining off), then
restarted. The restart finds the pending transaction by the nonce and hash the state folder
recorded before the send, never sends that swap again, and (as for any order still open at a
start) cancels it with a no-op replacement at the same nonce, so at most one of the two can
be mined; then it decides afresh. Journal and chain agree: no swap twice, none lost.
Runtime: about 35 s (two `rebal run` processes, on a loaded machine)."""

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
from guard_helpers import WEIGHTS

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.client import evm_mine, rpc
from rebal.backends.chain.deploy import at
from rebal.backends.keeper.adapter import cid_bytes
from rebal.backends.live.journal import Journal
from rebal.cli import main

KEEPER_KEY = DEV_KEYS[2]


def _pending(chain: ChainEnv) -> list[str]:
    return [h.hex() if hasattr(h, "hex") else str(h)
            for h in chain.w3.eth.get_block("pending")["transactions"]]


def _rows(state: Path) -> list[tuple[str, str]]:
    j = Journal(state / "journal.sqlite")
    try:
        return [(r.client_id, r.state) for r in j.orders()]
    finally:
        j.close()


def test_sigkill_between_send_and_receipt_then_restart_sends_nothing_twice(
        chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBAL_")}
    env.update(RPC_URL=chain.url, KEEPER_KEY=KEEPER_KEY)
    args = [str(WEIGHTS), "--venue", "mainnet", "--state", str(state)]
    monkeypatch.setenv("RPC_URL", chain.url)
    monkeypatch.setenv("KEEPER_KEY", KEEPER_KEY)
    assert main(["keeper", "deploy", *args, "--local"]) == 0
    assert main(["keeper", "price", *args, "ETH", "4000"]) == 0  # WETH out of its band
    dep = json.loads((state / "deployment.json").read_text())
    vault = at(chain.w3, "Vault", dep["vault"])
    run = [sys.executable, "-m", "rebal", "run", *args, "--once"]

    rpc(chain.w3, "evm_setAutomine", False)
    proc = subprocess.Popen(run, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while not _pending(chain) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    sent = _pending(chain)
    proc.send_signal(signal.SIGKILL)  # the rebalance is in the pool, its receipt not seen
    out, _ = proc.communicate(timeout=30)
    assert len(sent) == 1, out
    ((cid, st),) = _rows(state)
    assert st == "sent"  # journaled before the send, never settled by the dead process

    # Restart while it is still pending: the reconciliation finds it by the recorded nonce
    # and hash and, as for any open order at a start, cancels it: a no-op replacement at the
    # same nonce (so at most one of the two can ever be mined), never a second swap.
    again = subprocess.Popen(run, env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    first = chain.w3.eth.get_transaction(sent[0])
    nonce, keeper = first["nonce"], first["from"]
    deadline = time.monotonic() + 90
    while _pending(chain) == sent and time.monotonic() < deadline and again.poll() is None:
        time.sleep(0.05)
    (replacement,) = _pending(chain)  # still one transaction in the pool
    assert replacement != sent[0] and chain.w3.eth.get_transaction(replacement)["nonce"] == nonce
    assert chain.w3.eth.get_transaction(replacement)["input"] in (b"", "0x")
    rpc(chain.w3, "evm_setAutomine", True)  # what the restart sends next is mined at once
    evm_mine(chain.w3)
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "Traceback" not in out, out
    rows = dict(_rows(state))
    assert rows.pop(cid) == "cancelled" and all(st == "filled" for st in rows.values()), out
    events = vault.events.Rebalanced().get_logs(from_block=dep["block"])
    assert not [e for e in events if e.args.client_id == cid_bytes(cid)]  # never swapped
    assert len(events) == len(rows) == vault.functions.rebalances().call()  # nothing lost
    assert chain.w3.eth.get_transaction_count(keeper) > nonce
