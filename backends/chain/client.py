"""A web3 8 connection set up once, and anvil's test RPCs.

web3 8's default ``validation`` middleware calls ``eth_chainId`` before every transaction-
shaped request (doubling round trips); it is removed here: the chain id is read once and
checked by :func:`connect` when the caller states the chain it expects.
"""

from __future__ import annotations

import contextlib
from typing import Any

from web3 import Web3

__all__ = ["ChainMismatch", "connect", "evm_mine", "evm_revert", "evm_snapshot", "rpc",
           "set_next_timestamp", "increase_time"]


class ChainMismatch(Exception):
    """The RPC serves another chain than the spec's ``chain ID``."""


def connect(url: str, *, timeout_s: float = 10.0, expect_chain: int | None = None) -> Web3:
    """A Web3 on ``url`` (HTTP), without the validation middleware; checks the chain id once."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}))
    for name in ("validation", "ens_name_to_address", "gas_price_strategy"):
        with contextlib.suppress(ValueError):
            w3.middleware_onion.remove(name)
    if expect_chain is not None:
        got = int(w3.eth.chain_id)
        if got != expect_chain:
            raise ChainMismatch(f"the RPC serves chain {got}, the spec says chain {expect_chain}")
    return w3


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    """A raw JSON-RPC call; raises ValueError with the node's message on an error reply."""
    reply = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if "error" in reply:
        raise ValueError(f"{method}: {reply['error']}")
    return reply.get("result")


def evm_snapshot(w3: Web3) -> str:
    return str(rpc(w3, "evm_snapshot"))


def evm_revert(w3: Web3, snap: str) -> bool:
    return bool(rpc(w3, "evm_revert", snap))


def evm_mine(w3: Web3, blocks: int = 1) -> None:
    for _ in range(blocks):
        rpc(w3, "evm_mine")


def increase_time(w3: Web3, seconds: int) -> None:
    rpc(w3, "evm_increaseTime", int(seconds))
    rpc(w3, "evm_mine")


def set_next_timestamp(w3: Web3, t: int) -> None:
    rpc(w3, "evm_setNextBlockTimestamp", int(t))
