"""`rebal guard` and `rebal keeper deploy|price`: the on-chain keeper's contracts.

* ``rebal guard SPEC --venue V [-o Guard.vy]`` prints the guard's Vyper source generated from
  the spec (``-o`` writes it atomically) and its SHA-256 (on stderr, or after writing).
* ``rebal keeper deploy SPEC --venue V [--local] [--state DIR]`` deploys the vault and its
  guard; with ``--local`` first a rehearsal market (tokens, Uniswap V2-style pool, Chainlink-
  style oracle at the spec's sim price) and funds the vault with the spec's capital at its
  target weights. The RPC URL and the keys come from the environment the spec names
  (``rpc env``, ``signer env``; the owner key from ``--owner-env``, default the signer's).
  Addresses are printed and written to ``<state>/deployment.json`` (atomically), which the
  keeper adapter reads in place of the spec's (mainnet) addresses.
* ``rebal keeper price SPEC --venue V ASSET PRICE`` (local rehearsal only) moves the
  rehearsal pool and posts the oracle round, to make the strategy trade.

Exit codes: 0 done, 1 error (one line on stderr, no traceback), 2 usage.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

COMMANDS = ("guard", "keeper")


def register(sub: Any) -> None:
    g = sub.add_parser("guard", help="print the guard contract (Vyper) generated from a spec")
    g.add_argument("spec")
    g.add_argument("--venue", required=True)
    g.add_argument("-o", "--output", help="write the source here instead of stdout")
    g.set_defaults(handler=_guard)

    k = sub.add_parser("keeper", help="on-chain keeper: deploy the vault and guard, rehearse")
    ks = k.add_subparsers(dest="keeper_command", required=True)
    d = ks.add_parser("deploy", help="deploy the vault and its guard (and, --local, a market)")
    d.add_argument("spec")
    d.add_argument("--venue", required=True)
    d.add_argument("--local", action="store_true",
                   help="also deploy rehearsal tokens, pool and oracle, and fund the vault")
    d.add_argument("--owner-env", help="environment variable with the owner's key "
                   "(default: the venue's signer)")
    d.add_argument("--state", help="state folder (default .rebal/<strategy>/<venue>/)")
    d.set_defaults(handler=_deploy)
    p = ks.add_parser("price", help="local rehearsal: move the pool and the oracle")
    p.add_argument("spec")
    p.add_argument("--venue", required=True)
    p.add_argument("asset")
    p.add_argument("price", type=float)
    p.add_argument("--owner-env", help="environment variable with the rehearsal owner's key "
                   "(default: the venue's signer)")
    p.add_argument("--state", help="state folder (default .rebal/<strategy>/<venue>/)")
    p.set_defaults(handler=_price)


def _strategy(spec: str, err: TextIO) -> Any:
    from rebal.cli import _load_one

    return _load_one(spec, err)


def _guard(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    s = _strategy(args.spec, err)
    if s is None:
        return 1
    from rebal.backends.chain.guard import GuardError, guard_sha256, guard_source

    try:
        src = guard_source(s, args.venue)
    except GuardError as exc:
        err.write(f"error: {exc}\n")
        return 1
    digest = guard_sha256(src)
    if args.output:
        from rebal.compiler.files import atomic_write

        atomic_write(Path(args.output), src)
        out.write(f"wrote {args.output} (sha256 {digest})\n")
    else:
        out.write(src)
        err.write(f"guard sha256 {digest}\n")
    return 0


def _state_dir(args: argparse.Namespace, strategy: Any) -> Path:
    from rebal.backends.live.folder import default_state_dir

    return Path(args.state) if args.state else default_state_dir(strategy.name, args.venue)


def _venue_env(s: Any, venue: str, args: argparse.Namespace) -> tuple[Any, str, str, str]:
    from rebal.compiler import ir

    v = next((x for x in s.venues if x.name == venue), None)
    if v is None or not isinstance(v.config, ir.KeeperConfig | ir.SolverConfig):
        raise _Fail(f"`{venue}` is not a keeper or intents (solver) venue of {s.name}")
    c = v.config
    rpc_env = c.rpc_env
    if isinstance(c, ir.SolverConfig):  # no `rpc env`: <VENUE>_RPC_URL
        from rebal.backends.solver.capabilities import rpc_env_of

        rpc_env = rpc_env_of(v)
    rpc_url = os.environ.get(rpc_env or "")
    key = os.environ.get(c.signer_env or "")
    owner_env = args.owner_env or c.signer_env or ""
    owner = os.environ.get(owner_env)
    missing = [f"${n}" for n, val in ((rpc_env, rpc_url), (c.signer_env, key),
                                       (owner_env, owner)) if n and not val]
    if missing or not rpc_url or not key or not owner:
        raise _Fail(f"set {', '.join(sorted(set(missing))) or 'rpc env and signer env'} in "
                    "the environment")
    return v, rpc_url, key, owner


class _Fail(Exception):
    pass


def _deploy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    s = _strategy(args.spec, err)
    if s is None:
        return 1
    try:
        return _do_deploy(s, args, out)
    except _Fail as exc:
        err.write(f"error: {exc}\n")
        return 1
    except Exception as exc:  # a node or compiler error: one line, no traceback
        from rebal.backends.chain.tx import classify

        err.write(f"error: deployment failed: {classify(exc)}\n")
        return 1


def _do_deploy(s: Any, args: argparse.Namespace, out: TextIO) -> int:
    from rebal.backends.chain.client import connect
    from rebal.backends.chain.tx import Sender
    from rebal.backends.chain.vault import deploy_guarded_vault, save_deployment

    v, rpc_url, key, owner_key = _venue_env(s, args.venue, args)
    intents = v.backend == "solver"
    if intents and not args.local:
        raise _Fail(f"`{args.venue}` is an intents venue: `rebal keeper deploy` sets up its "
                    "vault, guard and a local Settlement for a rehearsal only (--local)")
    w3 = connect(rpc_url, expect_chain=None if args.local else v.config.chain)
    owner = Sender(w3, owner_key)
    keeper = Sender(w3, key).address
    if args.local:
        from ._keeper_local import rehearsal_market

        tokens, oracles, pairs, router, fund = rehearsal_market(owner, s)
    else:
        c = v.config
        tokens, oracles, router, pairs, fund = dict(v.symbols), dict(c.oracles), c.router, {}, None
        if not router:
            raise _Fail("the venue names no `router`")
        from rebal.backends.chain.deploy import at

        r = at(w3, "Router", router)
        quote = next(i.name for i in s.instruments if i.kind == "cash")
        for i in s.instruments:
            if i.kind == "spot":
                pairs[i.name] = r.functions.pairFor(tokens[i.name], tokens[quote]).call()
    dep = deploy_guarded_vault(owner, s, args.venue, router=router, tokens=tokens,
                               oracles=oracles, pairs=pairs, keeper=keeper, local=args.local)
    if fund is not None:
        fund(dep.vault)
    note = ""
    if intents:
        from ._keeper_local import wire_intents

        dep.settlement, note = wire_intents(owner, dep, v.config, s)
    dep.spec_chain = v.config.chain  # a rehearsal stands in for the spec's chain
    path = save_deployment(dep, _state_dir(args, s))
    out.write(f"deployed {s.name} on {args.venue} (chain {w3.eth.chain_id})\n")
    for label, addr in (("vault", dep.vault), ("guard", dep.guard), ("router", dep.router),
                        ("keeper", dep.keeper), ("owner", dep.owner)):
        out.write(f"  {label:<7} {addr}\n")
    for name, addr in sorted(dep.tokens.items()):
        out.write(f"  token   {name} {addr}\n")
    for name, addr in sorted(dep.oracles.items()):
        out.write(f"  oracle  {name} {addr}\n")
    if dep.settlement:
        out.write(f"  settlement {dep.settlement}\n{note}")
    out.write(f"  guard sha256 {dep.guard_sha256}\nwrote {path}\n")
    return 0


def _price(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    s = _strategy(args.spec, err)
    if s is None:
        return 1
    try:
        from rebal.backends.chain.client import connect
        from rebal.backends.chain.local import LocalMarket, move_price
        from rebal.backends.chain.tx import Sender
        from rebal.backends.chain.vault import load_deployment

        dep = load_deployment(_state_dir(args, s))
        if dep is None or not dep.local:
            raise _Fail("no local rehearsal deployment here: run `rebal keeper deploy --local`")
        _v, rpc_url, _key, owner_key = _venue_env(s, args.venue, args)
        w3 = connect(rpc_url)
        inst = next((i for i in s.instruments if i.kind == "spot" and i.underlying == args.asset),
                    None)
        if inst is None or args.asset not in dep.oracles:
            raise _Fail(f"no rehearsal pool for {args.asset}")
        quote = next(i.name for i in s.instruments if i.kind == "cash")
        from rebal.backends.chain.deploy import at

        dec = {n: int(at(w3, "Token", a).functions.decimals().call())
               for n, a in dep.tokens.items()}
        market = LocalMarket(quote=quote, tokens=dep.tokens, decimals=dec, pairs=dep.pairs,
                             oracles=dep.oracles, router=dep.router)
        move_price(Sender(w3, owner_key), market, inst.name, args.asset, args.price)
    except _Fail as exc:
        err.write(f"error: {exc}\n")
        return 1
    out.write(f"{args.asset} pool and oracle at {args.price:g} {s.numeraire}\n")
    return 0
