"""The keeper venue's addresses and settings, resolved once: spec, then the state folder's
``deployment.json`` (a local rehearsal overrides the spec's mainnet addresses), then the
environment (RPC URL and keys: never from a spec, never logged)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rebal.backends.chain.vault import Deployment, load_deployment
from rebal.backends.live.adapter import Rejected
from rebal.backends.live.folder import default_state_dir
from rebal.compiler import ir

__all__ = ["KeeperVenue", "resolve_venue"]

#: Environment variable naming a state folder for the adapter (``--state`` of the commands).
STATE_ENV = "REBAL_STATE_DIR"


@dataclass
class KeeperVenue:
    name: str
    chain_id: int
    rpc_url: str = field(repr=False)
    key: str = field(repr=False)
    vault: str
    router: str
    guard: str
    tokens: dict[str, str]            # instrument -> token address
    oracles: dict[str, str]           # asset -> aggregator
    pairs: dict[str, str]             # risky instrument -> pair (empty: read from the router)
    confirmations: int = 1
    state_dir: Path | None = None
    from_block: int = 0


def resolve_venue(strategy: ir.Strategy, venue: ir.Venue, environ: Mapping[str, str],
                  state_dir: Path | None = None) -> KeeperVenue:
    """Addresses and secrets for ``venue``; raises :class:`Rejected` naming what is missing."""
    c = venue.config
    if not isinstance(c, ir.KeeperConfig):
        raise Rejected(f"venue {venue.name} is not a keeper venue")
    if state_dir is None:
        state_dir = Path(environ[STATE_ENV]) if environ.get(STATE_ENV) else default_state_dir(
            strategy.name, venue.name)
    dep: Deployment | None = load_deployment(state_dir)
    missing = [f"${v}" for v in (c.rpc_env, c.signer_env) if v and not environ.get(v)]
    if c.rpc_env is None or c.signer_env is None:
        raise Rejected(f"venue {venue.name} needs `rpc env NAME` and `signer env NAME`")
    if missing:
        raise Rejected(f"set {' and '.join(missing)} in the environment (venue {venue.name})")
    tokens = dict(venue.symbols)
    oracles = dict(c.oracles)
    vault, router, guard, pairs, block = c.vault or "", c.router or "", "", {}, 0
    chain_id = c.chain
    if dep is not None:
        stands_for = dep.spec_chain if dep.local else dep.chain_id
        if stands_for != c.chain:
            raise Rejected(f"{state_dir}/deployment.json is for chain {stands_for}, the spec "
                           f"says chain {c.chain}")
        chain_id = dep.chain_id  # a local rehearsal runs on the local chain
        vault, router, guard = dep.vault, dep.router, dep.guard
        tokens.update(dep.tokens)
        oracles.update(dep.oracles)
        pairs, block = dict(dep.pairs), dep.block
    if not vault or not router:
        raise Rejected(f"venue {venue.name} needs `vault` and `router` (or a deployment.json "
                       f"in {state_dir} from `rebal keeper deploy`)")
    confirmations = int(environ.get("REBAL_CONFIRMATIONS", "") or getattr(c, "confirmations", 1)
                        or 1)
    return KeeperVenue(name=venue.name, chain_id=chain_id, rpc_url=environ[c.rpc_env],
                       key=environ[c.signer_env], vault=vault, router=router, guard=guard,
                       tokens=tokens, oracles=oracles, pairs=pairs,
                       confirmations=max(1, confirmations), state_dir=state_dir,
                       from_block=block)


def env_or_os(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ
