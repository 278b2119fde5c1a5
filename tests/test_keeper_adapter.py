"""The keeper adapter against anvil: snapshot, guarded swaps, lookup by client id, gas and
nonce policy, stuck and dropped transactions, a crash between send and receipt, a reorg."""

from __future__ import annotations

from pathlib import Path

import pytest
from chain_fixtures import ChainEnv
from guard_helpers import WEIGHTS, Vault, guarded_vault, keeper_adapter, strategy

from rebal.backends.chain.client import evm_mine, evm_revert, evm_snapshot, rpc
from rebal.backends.chain.tx import GWEI, Sender
from rebal.backends.live.adapter import OrderRequest, Rejected

ETH = 10**18


@pytest.fixture
def heavy(chain: ChainEnv) -> Vault:
    return guarded_vault(chain, strategy(WEIGHTS), weth=60, usdc=20_000)


def _sell(cid: str, qty: float = 5.0) -> OrderRequest:
    return OrderRequest(client_id=cid, instrument="WETH", qty=-qty, limit_price=None)


def _nonce(v: Vault) -> int:
    return int(v.env.w3.eth.get_transaction_count(v.keeper.address, "latest"))


def test_snapshot_reads_the_vault_oracle_pool_and_gas(heavy: Vault, tmp_path: Path) -> None:
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path)
    snap = ad.snapshot()
    assert snap.positions == {"USDC": 20_000.0, "WETH": 60.0}
    assert snap.mid["WETH"] == pytest.approx(3000.0, rel=1e-9)
    assert snap.oracle == {"ETH": 3000.0}
    assert snap.equity == pytest.approx(200_000.0)
    assert snap.price_time_s is not None and snap.price_time_s <= snap.time_s
    assert snap.base_fee_gwei is not None and snap.gas_price_gwei is not None
    assert snap.meta["WETH"].symbol == heavy.dep.tokens["WETH"]
    assert snap.meta["WETH"].qty_step == 1e-18 and snap.open_orders == {}


def test_submit_swaps_once_and_lookup_finds_it_by_client_id(heavy: Vault, tmp_path: Path
                                                            ) -> None:
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path)
    st = ad.submit(_sell("rb-test-1-0-0"))
    assert st.state == "filled" and st.filled == -5.0
    assert st.avg_price == pytest.approx(3000 * 0.997, rel=2e-3)
    assert st.venue_id.startswith("0x") and st.fee > 0  # gas, in USDC
    assert heavy.balance("WETH") == 55 * ETH
    again = ad.submit(_sell("rb-test-1-0-0"))  # the same order again: nothing sent
    assert again == ad.lookup("rb-test-1-0-0") and again.state == "filled"
    assert heavy.contract.functions.rebalances().call() == 1
    assert ad.lookup("rb-test-9-0-0") is None


def test_a_revert_is_rejected_with_the_guard_reason_and_not_sent(heavy: Vault, tmp_path: Path
                                                                 ) -> None:
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path)
    before = _nonce(heavy)
    with pytest.raises(Rejected, match="Guard: split"):
        ad.submit(_sell("rb-test-2-0-0", qty=11.0))
    with pytest.raises(Rejected, match="Guard: direction"):
        ad.submit(OrderRequest("rb-test-3-0-0", "WETH", 1.0, None))
    assert _nonce(heavy) == before and ad.lookup("rb-test-2-0-0") is None


def test_gas_above_max_gas_or_max_gas_cost_is_skipped(heavy: Vault, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    w3 = heavy.env.w3
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path)
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(80 * GWEI))
    evm_mine(w3)
    with pytest.raises(Rejected, match="above max gas 60 gwei") as err:
        ad.submit(_sell("rb-test-4-0-0"))
    assert err.value.code == "max_gas"
    cheap = strategy(WEIGHTS, {"max gas cost 40 USD": "max gas cost 0.5 USD"})
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(20 * GWEI))
    evm_mine(w3)
    ad2 = keeper_adapter(heavy, cheap, tmp_path / "b")
    before = _nonce(heavy)
    with caplog.at_level("WARNING", logger="rebal.keeper"), pytest.raises(
            Rejected, match=r"estimated gas cost \d+\.\d\d USD .* exceeds max gas cost 0.5 USD"):
        ad2.submit(_sell("rb-test-5-0-0"))
    assert "exceeds max gas cost 0.5 USD" in caplog.text and _nonce(heavy) == before


def test_stuck_transaction_is_replaced_with_a_bump_while_the_cap_allows(
        heavy: Vault, tmp_path: Path) -> None:
    w3 = heavy.env.w3
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path, wait_s=0.1)
    rpc(w3, "evm_setAutomine", False)
    st = ad.submit(_sell("rb-test-6-0-0"))
    assert st.state == "open"
    rec = ad.pending.get("rb-test-6-0-0")
    old_fee, old_hash = rec.max_fee, rec.hashes[-1]
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(rec.max_fee * 3 // 2))
    evm_mine(w3)  # a block our transaction cannot enter
    ad._maybe_replace(rec)
    rec2 = ad.pending.get("rb-test-6-0-0")
    assert len(rec2.hashes) == 2 and rec2.hashes[0] == old_hash and rec2.nonce == rec.nonce
    assert rec2.max_fee >= old_fee * 1.10 and rec2.max_fee <= 60 * GWEI
    evm_mine(w3)
    done = ad.lookup("rb-test-6-0-0")
    assert done is not None and done.state == "filled" and done.venue_id == rec2.hashes[-1]
    assert heavy.contract.functions.rebalances().call() == 1


def test_no_bump_above_the_cap_waits_instead(heavy: Vault, tmp_path: Path) -> None:
    w3 = heavy.env.w3
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path, wait_s=0.1)
    rpc(w3, "evm_setAutomine", False)
    ad.submit(_sell("rb-test-7-0-0"))
    rec = ad.pending.get("rb-test-7-0-0")
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(80 * GWEI))
    evm_mine(w3)
    ad._maybe_replace(rec)  # the base fee (70 gwei next) is above max gas 60 gwei
    assert len(ad.pending.get("rb-test-7-0-0").hashes) == 1


def test_crash_between_send_and_receipt_finds_the_pending_tx(heavy: Vault, tmp_path: Path
                                                             ) -> None:
    w3 = heavy.env.w3
    spec = strategy(WEIGHTS)
    first = keeper_adapter(heavy, spec, tmp_path, wait_s=0.1)
    rpc(w3, "evm_setAutomine", False)
    assert first.submit(_sell("rb-test-8-0-0")).state == "open"
    sent = first.pending.get("rb-test-8-0-0")
    del first  # the process dies before the receipt
    second = keeper_adapter(heavy, spec, tmp_path, wait_s=0.1)  # restart: same state folder
    found = second.lookup("rb-test-8-0-0")
    assert found is not None and found.state == "open" and found.venue_id == sent.hashes[-1]
    assert second.snapshot().open_orders["rb-test-8-0-0"].venue_id == sent.hashes[-1]
    assert second.submit(_sell("rb-test-8-0-0")).state == "open"  # not sent again
    assert len(w3.eth.get_block("pending")["transactions"]) == 1
    evm_mine(w3)
    assert second.lookup("rb-test-8-0-0").state == "filled"
    assert heavy.contract.functions.rebalances().call() == 1


def test_outside_tx_taking_the_nonce_and_a_dropped_tx_are_recovered(heavy: Vault,
                                                                     tmp_path: Path) -> None:
    w3 = heavy.env.w3
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path, wait_s=0.1)
    rpc(w3, "evm_setAutomine", False)
    ad.submit(_sell("rb-test-10-0-0"))
    rec = ad.pending.get("rb-test-10-0-0")
    # the operator's wallet replaces the nonce with its own transfer (higher fee)
    outside = Sender(w3, heavy.keeper.account.key.hex())
    outside.send(outside.address, "0x", nonce=rec.nonce, gas=21_000,
                 fees=outside.fees(tip_wei=5 * GWEI).bumped(1.0))
    evm_mine(w3)
    assert ad.lookup("rb-test-10-0-0") is None  # provably not executed: may be resent
    rpc(w3, "evm_setAutomine", True)
    assert ad.submit(_sell("rb-test-10-0-0")).state == "filled"
    # dropped from the pool: found missing, re-broadcast, mined once
    rpc(w3, "evm_setAutomine", False)
    rpc(w3, "evm_increaseTime", 121)  # the next split child may go
    evm_mine(w3)
    ad.submit(_sell("rb-test-11-0-0"))
    h = ad.pending.get("rb-test-11-0-0").hashes[-1]
    rpc(w3, "anvil_dropTransaction", h)
    assert ad.lookup("rb-test-11-0-0").state == "open"  # re-broadcast by the lookup
    evm_mine(w3)
    assert ad.lookup("rb-test-11-0-0").state == "filled"
    assert heavy.contract.functions.rebalances().call() == 2


def test_confirmations_and_a_reorg_that_drops_the_rebalance(heavy: Vault, tmp_path: Path
                                                            ) -> None:
    w3 = heavy.env.w3
    ad = keeper_adapter(heavy, strategy(WEIGHTS), tmp_path, confirmations=2, wait_s=0.1)
    snap = evm_snapshot(w3)
    st = ad.submit(_sell("rb-test-12-0-0"))
    assert st.state == "open"  # mined, one block deep of the two asked for
    assert evm_revert(w3, snap)  # the block is reorged out
    assert heavy.balance("WETH") == 60 * ETH
    again = ad.lookup("rb-test-12-0-0")  # chain truth: not there, re-broadcast
    assert again is not None and again.state == "open"
    evm_mine(w3)
    done = ad.lookup("rb-test-12-0-0")
    assert done.state == "filled" and done.filled == -5.0
    assert heavy.balance("WETH") == 55 * ETH
    assert heavy.contract.functions.rebalances().call() == 1
