"""The EVM plumbing shared by the on-chain backends (keeper, solver), once.

A shared layer like ``backends/live`` and ``backends/kernel``: ``backends/keeper`` and
``backends/solver`` import it; it imports web3, eth_account and vyper, and never a particular
backend (keeper, solver, ccxt, sim). It holds:

* ``contracts/*.vy``: Vyper 0.4.3 sources shipped as package data (ERC-20 token, Uniswap
  V2-style pair and router, a settable Chainlink aggregator, the vault);
* :mod:`.build`: in-process compilation with a cache (memory and disk);
* :mod:`.client`: a web3 8 connection without the default ``validation`` middleware, and the
  anvil test RPCs (snapshot, revert, mine, time);
* :mod:`.tx`: EIP-1559 transactions signed locally, fees, nonces, revert decoding;
* :mod:`.deploy`: deploying compiled contracts;
* :mod:`.local`: a rehearsal market (tokens, pair, router, oracle) on a local chain;
* :mod:`.anvil`: the anvil launcher used by the tests and the demo.

Importing this package is light (no web3): the modules above import what they need.
"""

from __future__ import annotations

from pathlib import Path

#: Folder of the shipped Vyper sources.
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
