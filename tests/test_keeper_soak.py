"""Soak: 300 steps of the live layer's session loop (backends/live LiveSession, the real
kernel) on the CPPI vault through the keeper adapter on anvil, behind a fault-injecting RPC
proxy: gas spikes above `max gas`, lost and refused RPC answers, dropped transactions, an
outside transaction taking the keeper's nonce, stale oracle rounds. At the end: every
rebalance on chain is a filled journal row and the other way round (no double swap, no lost
swap), the vault's balances equal baseline + journal fills, no traceback."""

from __future__ import annotations

import random
import time
from pathlib import Path

from chain_fixtures import ChainEnv
from guard_helpers import CPPI, guarded_vault, keeper_adapter, strategy
from rpc_proxy import RpcProxy

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.client import increase_time, rpc
from rebal.backends.chain.local import move_price, set_oracle_price
from rebal.backends.chain.tx import GWEI, Sender
from rebal.backends.live.adapter import AdapterError
from rebal.backends.live.execution import RetryPolicy
from rebal.backends.live.journal import Journal
from rebal.backends.live.opening import ir_hash_of, live_venue
from rebal.backends.live.session import LiveSession

STEPS = 300
STEP_S = 600  # ten minutes of chain time per step: the split period of the spec


def test_soak_300_keeper_steps_through_faults(chain: ChainEnv, tmp_path: Path) -> None:
    t0 = time.monotonic()
    spec = strategy(CPPI)
    v = guarded_vault(chain, spec, weth=800 / 3, usdc=200_000)  # 1M at 3000, 80% risky
    w3, dep = chain.w3, v.dep
    rng = random.Random(7)
    price = 3000.0
    handled: list[str] = []
    with RpcProxy(chain.url) as proxy:
        ad = keeper_adapter(v, spec, tmp_path, wait_s=0.2, url=proxy.url)
        journal = Journal(tmp_path / "journal.sqlite")
        session = LiveSession(spec, live_venue(spec, "mainnet"), ad, journal,
                              ir_hash=ir_hash_of(spec),
                              policy=RetryPolicy(sleep=lambda s: None, poll_s=0.0))
        session.start()
        for i in range(STEPS):
            stale = 100 <= i < 104
            if i % 9 == 0:
                price *= 1 + rng.choice((-1, 1)) * rng.uniform(0.03, 0.07)
                move_price(chain.deployer, chain.market, "WETH", "ETH", price)
            if stale:  # the oracle stops updating: its round is two hours old
                now = int(w3.eth.get_block("latest")["timestamp"])
                set_oracle_price(chain.deployer, dep.oracles["ETH"], price, updated_at=now - 7200)
            elif i == 104:
                set_oracle_price(chain.deployer, dep.oracles["ETH"], price)
                assert journal.active_halt() is not None  # the stale round halted it
                session.resume()
            elif i % 5 == 0:  # a heartbeat every 50 minutes (the spec halts past 1h)
                set_oracle_price(chain.deployer, dep.oracles["ETH"], price)
            if i % 37 == 5:
                rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(90 * GWEI))
                rpc(w3, "evm_mine")
            if i % 37 == 6:
                rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(GWEI))
                rpc(w3, "evm_mine")
            if i % 23 == 3:
                proxy.plan.add("eth_sendRawTransaction", "lose")
            if i % 29 == 4:
                proxy.plan.add("eth_sendRawTransaction", "fail")
                proxy.plan.add("eth_getLogs", "fail")
            if i % 41 == 7:  # the operator's wallet uses the keeper key once
                outside = Sender(w3, DEV_KEYS[1])
                outside.transact(outside.address, "0x", gas=21_000)
            dropping = i % 53 == 11
            if dropping:
                rpc(w3, "evm_setAutomine", False)
            try:
                session.step()
            except AdapterError as exc:  # a venue error the loop retries next step
                handled.append(f"{i}: {exc}")
            if dropping:
                rpc(w3, "anvil_dropAllTransactions")
                rpc(w3, "evm_setAutomine", True)
            increase_time(w3, STEP_S)
        for _ in range(3):  # settle what is left
            session.step()
        # ------------------------------------------------------------ the invariants
        events = v.contract.events.Rebalanced().get_logs(from_block=dep.block)
        on_chain = [e.args.client_id.rstrip(b"\0").decode() for e in events]
        rows = journal.orders()
        filled = [r.client_id for r in rows if r.state == "filled"]
        assert len(on_chain) == len(set(on_chain)), "a client id swapped twice"
        assert sorted(on_chain) == sorted(filled), "chain and journal disagree"
        assert len(filled) >= 5, f"the soak traded too little to prove anything: {filled}"
        assert all(r.final for r in rows), [r for r in rows if not r.final]
        snap = ad.snapshot()
        base = session.baseline(snap)  # the positions taken at the first start
        fills = journal.filled_by_instrument()
        assert abs(snap.positions["WETH"] - (base["WETH"] + fills.get("WETH", 0.0))) < 1e-9
        paid = sum(r.filled * (r.avg_price or 0.0) for r in rows if r.state == "filled")
        assert abs(snap.positions["USDC"] - (base["USDC"] - paid)) < 1e-3  # USDC: 6 decimals
        injected = {a for _, a in proxy.plan.injected}
        assert injected == {"lose", "fail"}
        journal.close()
    print(f"soak: {STEPS} steps in {time.monotonic() - t0:.1f}s, {len(filled)} rebalances, "
          f"{len(rows)} orders, {len(handled)} venue errors handled by the loop")
