"""Deploying a guarded vault: the shipped Vault, the strategy's generated Guard, wired up.

``deploy_guarded_vault`` is what ``rebal keeper deploy`` and the tests call; the result is a
:class:`Deployment` (plain addresses) written to the state folder as ``deployment.json``, which
overrides the spec's mainnet addresses for a local rehearsal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rebal.compiler import ir
from rebal.compiler.files import atomic_write

from .build import compile_source
from .deploy import at, call_data, deploy
from .guard import constructor_args, guard_model, guard_sha256, render
from .tx import Sender

__all__ = ["DEPLOYMENT_FILE", "Deployment", "deploy_guarded_vault", "load_deployment",
           "save_deployment"]

DEPLOYMENT_FILE = "deployment.json"


@dataclass
class Deployment:
    """Addresses of one strategy's on-chain setup (checksummed hex), and the guard's hash."""

    chain_id: int
    vault: str
    guard: str
    router: str
    keeper: str
    owner: str
    tokens: dict[str, str] = field(default_factory=dict)    # instrument -> token
    oracles: dict[str, str] = field(default_factory=dict)   # asset -> aggregator
    pairs: dict[str, str] = field(default_factory=dict)     # risky instrument -> pair
    guard_sha256: str = ""
    local: bool = False
    block: int = 0
    spec_chain: int = 0  # a local rehearsal: the spec's chain id it stands in for
    settlement: str = ""  # an intents (solver) venue: the settlement the vault validates for

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def save_deployment(dep: Deployment, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DEPLOYMENT_FILE
    atomic_write(path, dep.as_json())
    return path


def load_deployment(folder: Path) -> Deployment | None:
    path = folder / DEPLOYMENT_FILE
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return Deployment(**data)


def deploy_guarded_vault(sender: Sender, strategy: ir.Strategy, venue: str, *, router: str,
                         tokens: dict[str, str], oracles: dict[str, str],
                         pairs: dict[str, str], keeper: str, local: bool = False) -> Deployment:
    """Deploy Vault(router, keeper) and the strategy's Guard, and point the vault at it.
    ``sender`` becomes the owner of both."""
    model = guard_model(strategy, venue)
    source = render(model)
    vault = deploy(sender, "Vault", router, keeper)
    art = compile_source(source, "Guard")
    args = constructor_args(model, vault=vault.address, router=router, tokens=tokens,
                            oracles=oracles, pairs=pairs)
    guard = deploy(sender, art, *args)
    sender.transact(vault.address, call_data(vault, "set_guard", guard.address))
    v = at(sender.w3, "Vault", vault.address)
    assert v.functions.guard().call() == guard.address
    return Deployment(chain_id=sender.chain_id, vault=vault.address, guard=guard.address,
                      router=router, keeper=keeper, owner=sender.address,
                      tokens={k: tokens[k] for k in model.tokens},
                      oracles={r.asset: oracles[r.asset] for r in model.risky},
                      pairs={r.symbol: pairs[r.symbol] for r in model.risky},
                      guard_sha256=guard_sha256(source), local=local,
                      block=int(sender.w3.eth.block_number))
