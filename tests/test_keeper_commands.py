"""`rebal guard`, `rebal keeper deploy --local`, `rebal keeper price` and one `rebal run
--once` of a keeper venue, end to end on the session's anvil: spec to guarded vault to a
guarded rebalance, with the spec's mainnet addresses overridden by deployment.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chain_fixtures import ChainEnv
from guard_helpers import CPPI, WEIGHTS

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.deploy import at
from rebal.backends.chain.guard import guard_sha256
from rebal.cli import main


def test_rebal_guard_prints_the_source_and_writes_it(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guard", str(WEIGHTS), "--venue", "mainnet"]) == 0
    cap = capsys.readouterr()
    assert cap.out.startswith("# pragma version 0.4.3")
    assert f"guard sha256 {guard_sha256(cap.out)}" in cap.err
    out = tmp_path / "Guard.vy"
    assert main(["guard", str(WEIGHTS), "--venue", "mainnet", "-o", str(out)]) == 0
    assert out.read_text() == cap.out
    assert main(["guard", str(WEIGHTS), "--venue", "paper"]) == 1
    assert "sim venue" in capsys.readouterr().err


def test_deploy_local_then_run_once_rebalances_through_the_guard(
        chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("RPC_URL", chain.url)
    monkeypatch.setenv("KEEPER_KEY", DEV_KEYS[2])
    monkeypatch.delenv("REBAL_STATE_DIR", raising=False)
    args = [str(WEIGHTS), "--venue", "mainnet", "--state", str(state)]
    monkeypatch.delenv("KEEPER_KEY")
    assert main(["keeper", "deploy", *args, "--local"]) == 1
    assert "set $KEEPER_KEY" in capsys.readouterr().err  # a secret only from the environment
    monkeypatch.setenv("KEEPER_KEY", DEV_KEYS[2])
    assert main(["keeper", "deploy", *args, "--local"]) == 0
    out = capsys.readouterr().out
    dep = json.loads((state / "deployment.json").read_text())
    assert dep["vault"] in out and dep["guard"] in out and dep["local"] is True
    assert (dep["chain_id"], dep["spec_chain"]) == (31337, 1)  # stands in for chain 1
    assert DEV_KEYS[2] not in out
    vault = at(chain.w3, "Vault", dep["vault"])
    weth = at(chain.w3, "Token", dep["tokens"]["WETH"])
    assert weth.functions.balanceOf(dep["vault"]).call() == pytest.approx(100_000 / 3000 * 1e18)
    assert main(["keeper", "price", *args, "ETH", "4000"]) == 0  # WETH 57%: out of its band
    capsys.readouterr()
    rc = main(["run", *args, "--once"])  # --state alone leads the adapter to deployment.json
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    events = vault.events.Rebalanced().get_logs(from_block=dep["block"])
    assert len(events) == 1 and events[0].args.token_in == dep["tokens"]["WETH"]
    assert weth.functions.balanceOf(dep["vault"]).call() < 100_000 / 3000 * 1e18


def test_the_cppi_vault_deploys_locally_and_sells_after_a_fall(
        chain: ChainEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """eth_cppi_vault's keeper venue from the README's commands: the vault starts at the CPPI
    exposure (4 x (1M - 800k) = 80% WETH); ETH falls 10%, the cushion shrinks to 120k and the
    exposure to 48%: one guarded sale of WETH, at most the `split` size of 100 ETH. With
    debug logging on, the keeper's key is in no output, log, journal or state file."""
    import logging

    caplog.set_level(logging.DEBUG)
    state = tmp_path / "state"
    monkeypatch.setenv("RPC_URL", chain.url)
    monkeypatch.setenv("KEEPER_KEY", DEV_KEYS[2])
    monkeypatch.delenv("REBAL_STATE_DIR", raising=False)
    args = [str(CPPI), "--venue", "mainnet", "--state", str(state)]
    assert main(["keeper", "deploy", *args, "--local"]) == 0
    dep = json.loads((state / "deployment.json").read_text())
    weth = at(chain.w3, "Token", dep["tokens"]["WETH"])
    start = weth.functions.balanceOf(dep["vault"]).call()
    assert start == pytest.approx(800_000 / 3000 * 1e18)
    assert main(["run", *args, "--once"]) == 0  # inside its band: nothing to do
    assert "nothing to do" in capsys.readouterr().out
    assert main(["keeper", "price", *args, "ETH", "2700"]) == 0
    capsys.readouterr()
    rc = main(["run", *args, "--once"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    events = at(chain.w3, "Vault", dep["vault"]).events.Rebalanced().get_logs(
        from_block=dep["block"])
    assert len(events) == 1 and events[0].args.token_in == dep["tokens"]["WETH"]
    sold = start - weth.functions.balanceOf(dep["vault"]).call()
    assert sold == events[0].args.amount_in and 0 < sold <= 100 * 10**18
    assert main(["-v", "status", *args]) == 0
    status = capsys.readouterr()
    assert "unsettled orders: 0" in status.out
    texts = [cap.out, cap.err, status.out, status.err, caplog.text]
    texts += [f.read_bytes().decode("latin-1") for f in state.rglob("*") if f.is_file()]
    assert all(DEV_KEYS[2][2:].lower() not in t.lower() for t in texts)
