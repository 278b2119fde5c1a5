"""Helpers for the guard and keeper tests: a guarded vault on the session's rehearsal market."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain_fixtures import ChainEnv

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.local import mint, to_units
from rebal.backends.chain.tx import Sender, SendError, classify
from rebal.backends.chain.vault import Deployment, deploy_guarded_vault
from rebal.compiler import ir
from rebal.compiler.api import compile_file, compile_text

SPECS = Path(__file__).resolve().parent.parent / "specs"
WEIGHTS = SPECS / "eth_usdc_relative_weights.rebal"
CPPI = SPECS / "eth_cppi_vault.rebal"
KEEPER_KEY = DEV_KEYS[1]


def strategy(path: Path, replace: dict[str, str] | None = None) -> ir.Strategy:
    if replace:
        text = path.read_text()
        for old, new in replace.items():
            assert old in text, old
            text = text.replace(old, new)
        s, diags = compile_text(text, str(path))
    else:
        s, diags = compile_file(path)
    assert s is not None, diags
    return s


@dataclass
class Vault:
    env: ChainEnv
    dep: Deployment
    keeper: Sender

    @property
    def contract(self) -> Any:
        return at(self.env.w3, "Vault", self.dep.vault)

    def balance(self, sym: str) -> int:
        return int(at(self.env.w3, "Token", self.dep.tokens[sym]).functions
                   .balanceOf(self.dep.vault).call())

    def swap_data(self, cid: bytes, token_in: str, token_out: str, amount_in: int,
                  min_out: int, deadline: int | None = None) -> str:
        if deadline is None:
            deadline = int(self.env.w3.eth.get_block("latest")["timestamp"]) + 600
        return call_data(self.contract, "rebalance", cid, self.dep.tokens.get(token_in, token_in),
                         self.dep.tokens.get(token_out, token_out), amount_in, min_out, deadline)

    def quote(self, token_in: str, token_out: str, amount_in: int) -> int:
        router = at(self.env.w3, "Router", self.dep.router)
        return int(router.functions.getAmountsOut(
            amount_in, [self.dep.tokens[token_in], self.dep.tokens[token_out]]).call()[-1])

    def reason(self, data: str, sender: Sender | None = None, **fees: int) -> str:
        """The revert reason of the call from the keeper (or ``sender``), '' when it passes."""
        who = sender or self.keeper
        tx: dict[str, Any] = {"from": who.address, "to": self.dep.vault, "data": data, **fees}
        try:
            self.env.w3.eth.call(tx)
        except Exception as exc:
            err = classify(exc)
            assert err.kind == "revert", f"not a revert: {exc}"
            return err.reason
        return ""

    def trade(self, cid: bytes, token_in: str, token_out: str, amount_in: int,
              slack: float = 0.001) -> int:
        """An honest swap: min out = the pool's quote less ``slack``; returns the amount out."""
        out = self.quote(token_in, token_out, amount_in)
        data = self.swap_data(cid, token_in, token_out, amount_in, int(out * (1 - slack)))
        why = self.reason(data)
        assert why == "", f"honest trade refused: {why}"
        self.keeper.transact(self.dep.vault, data)
        return out


def guarded_vault(env: ChainEnv, spec: ir.Strategy, *, weth: float, usdc: float) -> Vault:
    keeper = Sender(env.w3, KEEPER_KEY)
    m = env.market
    dep = deploy_guarded_vault(env.deployer, spec, "mainnet", router=m.router, tokens=m.tokens,
                               oracles=m.oracles, pairs=m.pairs, keeper=keeper.address,
                               local=True)
    if weth:
        mint(env.deployer, m.tokens["WETH"], dep.vault, to_units(weth, 18))
    if usdc:
        mint(env.deployer, m.tokens["USDC"], dep.vault, to_units(usdc, 6))
    return Vault(env, dep, keeper)


def cid(n: int) -> bytes:
    return n.to_bytes(32, "big")


__all__ = ["CPPI", "WEIGHTS", "SendError", "Vault", "cid", "guarded_vault", "strategy"]


def keeper_adapter(v: Vault, spec: ir.Strategy, state_dir: Path | None, *,
                   confirmations: int = 1, wait_s: float = 5.0, url: str | None = None,
                   w3: Any = None) -> Any:
    """A KeeperAdapter on the vault ``v`` (optionally through another RPC URL: a proxy)."""
    from rebal.backends.keeper.adapter import KeeperAdapter
    from rebal.backends.keeper.venue import KeeperVenue

    d = v.dep
    venue = KeeperVenue(name="mainnet", chain_id=d.chain_id, rpc_url=url or v.env.url,
                        key=KEEPER_KEY, vault=d.vault, router=d.router, guard=d.guard,
                        tokens=dict(d.tokens), oracles=dict(d.oracles), pairs=dict(d.pairs),
                        confirmations=confirmations, state_dir=state_dir, from_block=d.block)
    return KeeperAdapter(spec, venue, w3=w3, wait_s=wait_s, poll_s=0.02, sleep=lambda s: None
                         if s <= 0 else __import__("time").sleep(min(s, 0.02)))
