"""Deploying compiled contracts and calling them, with a :class:`~.tx.Sender`."""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.contract import Contract

from .build import Artifact, artifact
from .tx import Sender, SendError

__all__ = ["at", "call_data", "deploy"]


def deploy(sender: Sender, art: Artifact | str, *args: Any, timeout_s: float = 30.0) -> Contract:
    """Deploy ``art`` (an artifact, or a shipped contract's name) with constructor ``args``."""
    if isinstance(art, str):
        art = artifact(art)
    w3 = sender.w3
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    data = factory.constructor(*args).data_in_transaction
    nonce = sender.nonce()
    gas = int(w3.eth.estimate_gas({"from": sender.address, "data": data})) + 50_000  # type: ignore[typeddict-item]
    tx = sender.build(None, data, nonce=nonce, fees=sender.fees(), gas=gas)
    tx_hash, raw = sender.sign(tx)
    w3.eth.send_raw_transaction(raw)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s, poll_latency=0.02)  # type: ignore[arg-type]
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise SendError(f"deploying {art.name} failed", "revert")
    return at(w3, art, receipt["contractAddress"])


def at(w3: Web3, art: Artifact | str, address: str) -> Contract:
    """A contract handle for ``art`` at ``address``."""
    if isinstance(art, str):
        art = artifact(art)
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=art.abi)


def call_data(contract: Contract, fn: str, *args: Any) -> str:
    """ABI-encoded calldata of ``contract.fn(*args)``."""
    return str(contract.encode_abi(fn, args=list(args)))
