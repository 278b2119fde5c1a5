"""Keeper step against anvil: snapshot, decide (the kernel), send, receipt, verify.

Starts anvil, deploys the rehearsal market and the eth_cppi_vault's guarded vault, and runs
the live layer's session step through the keeper adapter, with the price moved and the clock
advanced past the cooldown before each step so every step rebalances. Prints the median and
p99 step time and rebal's own share (the step's time less the time spent inside JSON-RPC
requests, measured at the web3 provider). Figures, not asserts.

    .venv/bin/python benchmarks/bench_keeper.py [--steps 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()

    from rebal.backends.chain.anvil import DEV_KEYS, Anvil
    from rebal.backends.chain.client import connect, increase_time
    from rebal.backends.chain.local import AssetSpec, deploy_market, mint, move_price, to_units
    from rebal.backends.chain.tx import Sender
    from rebal.backends.chain.vault import deploy_guarded_vault
    from rebal.backends.keeper.adapter import KeeperAdapter
    from rebal.backends.keeper.venue import KeeperVenue
    from rebal.backends.live.execution import RetryPolicy
    from rebal.backends.live.journal import Journal
    from rebal.backends.live.opening import ir_hash_of, live_venue
    from rebal.backends.live.session import LiveSession
    from rebal.compiler.api import compile_file

    spec, _ = compile_file(ROOT / "specs" / "eth_cppi_vault.rebal")
    assert spec is not None
    with Anvil() as node, tempfile.TemporaryDirectory() as tmp:
        w3 = connect(node.url, expect_chain=node.chain_id)
        owner = Sender(w3, DEV_KEYS[0])
        keeper = Sender(w3, DEV_KEYS[1])
        m = deploy_market(owner, [AssetSpec("WETH", 18, "ETH", 3000.0)])
        dep = deploy_guarded_vault(owner, spec, "mainnet", router=m.router, tokens=m.tokens,
                                   oracles=m.oracles, pairs=m.pairs, keeper=keeper.address,
                                   local=True)
        mint(owner, m.tokens["WETH"], dep.vault, to_units("266.666666", 18))
        mint(owner, m.tokens["USDC"], dep.vault, to_units(200_000, 6))
        venue = KeeperVenue(name="mainnet", chain_id=node.chain_id, rpc_url=node.url,
                            key=DEV_KEYS[1], vault=dep.vault, router=dep.router, guard=dep.guard,
                            tokens=dep.tokens, oracles=dep.oracles, pairs=dep.pairs,
                            state_dir=Path(tmp), from_block=dep.block)
        ad = KeeperAdapter(spec, venue, wait_s=5.0, poll_s=0.01)
        rpc_s = [0.0]
        manager = ad.w3.provider._request_session_manager  # every HTTP round trip goes here
        inner = manager.make_post_request

        def timed(*a, **kw):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                rpc_s[0] += time.perf_counter() - t

        manager.make_post_request = timed
        session = LiveSession(spec, live_venue(spec, "mainnet"), ad,
                              Journal(Path(tmp) / "journal.sqlite"), ir_hash=ir_hash_of(spec),
                              policy=RetryPolicy(sleep=lambda s: None))
        session.start()
        steps, own, traded = [], [], 0
        price = 3000.0
        for i in range(args.steps):
            price *= 0.93 if i % 2 == 0 else 1 / 0.93
            increase_time(w3, 3700)  # past the cooldown, then a fresh oracle round
            move_price(owner, m, "WETH", "ETH", price)
            rpc_s[0] = 0.0
            t0 = time.perf_counter()
            res = session.step()
            dt = time.perf_counter() - t0
            steps.append(dt)
            own.append(dt - rpc_s[0])
            traded += bool(res.sent)
            if res.halted:
                print(f"halted at step {i}: {res.halted}")
                break
        steps.sort()
        p99 = steps[min(len(steps) - 1, int(0.99 * len(steps)))]
        med = statistics.median(steps)
        print(f"keeper step (snapshot, decide, send, receipt, verify), {len(steps)} steps, "
              f"{traded} with a rebalance")
        print(f"  median {med * 1000:.1f} ms   p99 {p99 * 1000:.1f} ms")
        print(f"  rebal's own share: median {statistics.median(own) * 1000:.1f} ms "
              f"({statistics.median(own) / med:.0%} of the median step); the rest is JSON-RPC "
              "round trips to anvil")
    return 0


if __name__ == "__main__":
    sys.exit(main())
