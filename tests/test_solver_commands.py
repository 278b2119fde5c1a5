"""eth_cppi_vault's `intents` venue from the README's commands, each a real `rebal` process on
the session's anvil: `rebal keeper deploy --venue intents --local` (vault, guard, rehearsal
market, local Settlement: deployment.json overrides the spec's mainnet addresses), `rebal
emulate solver --state`, `rebal keeper price`, `rebal plan` (the signed intent, re-derived
here with eth_account's own EIP-712 encoder), `rebal apply` and `rebal run --once`. The
intent settles on chain, the vault's balances move by the journal's fills, and
the keeper's and solver's keys appear in no output, log, journal, plan or state file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from chain_fixtures import ChainEnv
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from guard_helpers import CPPI

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.deploy import at
from rebal.backends.live.journal import Journal
from rebal.backends.solver.local import settlement_at

KEEPER_KEY, SOLVER_KEY = DEV_KEYS[3], DEV_KEYS[4]
MAINNET_WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"  # the spec's token address
SECRETS = (KEEPER_KEY, KEEPER_KEY[2:], SOLVER_KEY, SOLVER_KEY[2:])


def _env(chain: ChainEnv, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBAL_")}
    # the spec's `intents` venue names no `rpc env`: its RPC URL is $INTENTS_RPC_URL
    env.update(INTENTS_RPC_URL=chain.url, KEEPER_KEY=KEEPER_KEY, REBAL_SOLVER_KEY=SOLVER_KEY,
               **extra)
    return env


def _rebal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rebal", *args], env=env, text=True,
                          capture_output=True, timeout=120)


@contextmanager
def _solver(env: dict[str, str], state: Path, texts: list[str]) -> Iterator[str]:
    """`rebal emulate solver` on the deployment's router and settlement; yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "rebal", "emulate", "solver", "--rpc",
                             env["INTENTS_RPC_URL"], "--state", str(state), "--interval", "0.2"],
                            env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        texts.extend(lines)
        assert lines[1].startswith("order book listening on http://127.0.0.1:"), lines
        yield lines[1].split()[4]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        texts.append(out)
        assert proc.returncode == 0, out


def _check_intent(view: dict[str, Any], dep: dict[str, Any]) -> None:
    """The plan's intent, checked from its typed data alone with eth_account's encoder."""
    typed = view["typed_data"]
    assert typed["domain"] == {"name": "Gnosis Protocol", "version": "v2", "chainId": 31337,
                               "verifyingContract": dep["settlement"]}
    msg = typed["message"]
    assert (msg["sellToken"], msg["buyToken"]) == (dep["tokens"]["WETH"], dep["tokens"]["USDC"])
    assert msg["kind"] == "sell" and msg["appData"] == "0x" + keccak(
        view["app_data"].encode()).hex() and view["client_id"] in view["app_data"]
    # the limit: at least the oracle mid less `max slippage 50 bps`
    assert msg["buyAmount"] / 1e6 >= msg["sellAmount"] / 1e18 * 2700 * 0.995 * (1 - 1e-9)
    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert view["digest"] == "0x" + digest.hex()
    assert view["owner"] == dep["vault"] and view["signing_scheme"] == "eip1271"
    assert view["uid"] == (view["digest"] + dep["vault"][2:].lower()
                           + f"{msg['validTo']:08x}")
    sig = bytes.fromhex(view["signature"][2:])  # abi.encode(order) || the keeper's ECDSA
    assert len(sig) == 384 + 65
    assert Account.recover_message(signable, signature=sig[384:]) == dep["keeper"]


def test_intents_venue_from_deploy_to_settled_intent(chain: ChainEnv, tmp_path: Path) -> None:
    state, plan = tmp_path / "state", tmp_path / "plan.json"
    env = _env(chain)
    venue = [str(CPPI), "--venue", "intents", "--state", str(state)]
    texts: list[str] = []

    def ok(*args: str, code: int = 0) -> str:
        res = _rebal(env, *args)
        texts.extend([res.stdout, res.stderr])
        assert res.returncode == code, (args, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr
        return res.stdout

    out = ok("-v", "keeper", "deploy", *venue, "--local")
    dep = json.loads((state / "deployment.json").read_text())
    assert dep["settlement"] in out and dep["vault"] in out and "solver" in out
    assert (dep["chain_id"], dep["spec_chain"], dep["local"]) == (31337, 1, True)
    weth = at(chain.w3, "Token", dep["tokens"]["WETH"])
    usdc = at(chain.w3, "Token", dep["tokens"]["USDC"])
    start_weth = weth.functions.balanceOf(dep["vault"]).call()
    start_usdc = usdc.functions.balanceOf(dep["vault"]).call()
    assert start_weth == pytest.approx(800_000 / 3000 * 1e18)  # CPPI: 4 x (1M - 800k)
    ok("keeper", "price", *venue, "ETH", "2700")  # the cushion shrinks: sell WETH
    with _solver(env, state, texts) as url:
        env["REBAL_ORDERBOOK_URL"] = url
        text = ok("-v", "plan", *venue, "-o", str(plan), code=2)
        (view,) = json.loads(plan.read_text())["venue_orders"]
        _check_intent(view, dep)
        for field in ("sellAmount", "buyAmount", "validTo", "appData", "digest", "uid",
                      "signature"):
            assert field in text
        assert view["digest"] in text and view["uid"] in text
        # the order line names the token actually sold (the rehearsal's), not the spec's
        assert f"({dep['tokens']['WETH']})" in text and MAINNET_WETH not in text
        ok("-v", "apply", str(plan), "--state", str(state))
        assert "nothing to do" in ok("-v", "run", *venue, "--once")  # inside the band now
    trades = settlement_at(chain.w3, dep["settlement"]).events.Trade().get_logs(
        from_block=dep["block"])
    assert len(trades) == 1 and trades[0].args.owner == dep["vault"]
    assert trades[0].args.orderUid[32:52] == bytes.fromhex(dep["vault"][2:])
    journal = Journal(state / "journal.sqlite")
    rows = journal.orders()
    journal.close()
    assert len(rows) == 1 and rows[0].state == "filled" and rows[0].final
    sold = start_weth - weth.functions.balanceOf(dep["vault"]).call()
    got = usdc.functions.balanceOf(dep["vault"]).call() - start_usdc
    assert sold == trades[0].args.sellAmount == pytest.approx(-rows[0].filled * 1e18, rel=1e-12)
    assert got == trades[0].args.buyAmount >= sold / 1e18 * 2700 * 0.995 * 1e6
    files = [p for p in state.rglob("*") if p.is_file()] + [plan]
    texts += [p.read_bytes().decode("latin-1") for p in files]
    for t in texts:
        for secret in SECRETS:
            assert secret.lower() not in t.lower()


def test_the_shared_spec_without_rpc_env_names_the_variable_it_reads(
        chain: ChainEnv, tmp_path: Path) -> None:
    """The spec's `intents` venue has no `rpc env`: every command reads $INTENTS_RPC_URL and,
    when it is unset, says so in one line (no traceback)."""
    env = _env(chain)
    del env["INTENTS_RPC_URL"]
    env["RPC_URL"] = chain.url  # the keeper venue's variable is not the intents venue's
    venue = [str(CPPI), "--venue", "intents", "--state", str(tmp_path / "state")]
    for args in (("keeper", "deploy", *venue, "--local"), ("plan", *venue)):
        res = _rebal(env, *args)
        assert res.returncode == 1, (args, res.stdout, res.stderr)
        assert "$INTENTS_RPC_URL" in res.stderr and "Traceback" not in res.stderr, res.stderr
