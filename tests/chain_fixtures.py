"""pytest fixtures for the on-chain backends: one anvil per test session (per xdist worker),
a rehearsal market deployed once, and every test isolated by evm_snapshot/evm_revert.

``chain`` is the fixture a test asks for: the state it leaves behind is reverted (and the
txpool emptied), so tests can mine, warp time, switch off automining and deploy freely.
web3 is imported only when a chain test runs, so other tests start as fast as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rebal.backends.chain.anvil import Anvil
    from rebal.backends.chain.local import LocalMarket
    from rebal.backends.chain.tx import Sender

#: The rehearsal market every chain test starts from: WETH/USDC at 3000, 500M USDC deep.
ETH_PRICE = 3000.0


@dataclass
class ChainEnv:
    """What a chain test gets: the node, a connection, the deployer and the market."""

    node: Anvil
    w3: Any
    deployer: Sender
    market: LocalMarket

    @property
    def url(self) -> str:
        return self.node.url


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Anvil]:
    from rebal.backends.chain.anvil import Anvil

    with Anvil() as node:
        yield node


@pytest.fixture(scope="session")
def _chain_base(anvil_node: Anvil) -> ChainEnv:
    from rebal.backends.chain.anvil import DEV_KEYS
    from rebal.backends.chain.client import connect
    from rebal.backends.chain.local import AssetSpec, deploy_market
    from rebal.backends.chain.tx import Sender

    w3 = connect(anvil_node.url, expect_chain=anvil_node.chain_id)
    deployer = Sender(w3, DEV_KEYS[0])
    market = deploy_market(deployer, [AssetSpec("WETH", 18, "ETH", ETH_PRICE)])
    return ChainEnv(anvil_node, w3, deployer, market)


@pytest.fixture
def chain(_chain_base: ChainEnv) -> Iterator[ChainEnv]:
    from rebal.backends.chain.client import evm_revert, evm_snapshot, rpc

    w3 = _chain_base.w3
    snap = evm_snapshot(w3)
    try:
        yield _chain_base
    finally:
        rpc(w3, "anvil_dropAllTransactions")
        rpc(w3, "evm_setAutomine", True)
        assert evm_revert(w3, snap), "evm_revert failed: the next test would see this state"
