"""EIP-1559 transactions signed locally: fees under a cap, nonces, sending, revert decoding.

One :class:`Sender` per signing key. It never asks the node to sign (no unlocked accounts):
the key stays in this process (from the environment, never logged). Fees are EIP-1559:
``maxFeePerGas = min(cap, 2 * baseFee + tip)``; a replacement keeps the nonce and raises
both fees by at least the protocol's minimum bump (10%, geth and anvil's txpool rule).
Errors the node returns are classified once here (:func:`classify`), for every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

__all__ = ["GWEI", "MIN_BUMP", "Fees", "SendError", "Sender", "SentTx", "classify",
           "decode_revert", "fees_under_cap"]

GWEI = 10**9
#: The minimum fee bump for a replacement transaction (10%, the txpool's rule).
MIN_BUMP = 0.10
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

ErrorKind = Literal["revert", "nonce_too_low", "underpriced", "fee_cap", "funds", "transient"]


class SendError(Exception):
    """A node refused or failed a request; ``kind`` says what to do about it."""

    def __init__(self, message: str, kind: ErrorKind, *, reason: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees in wei."""

    max_fee: int
    tip: int

    def bumped(self, fraction: float = MIN_BUMP) -> Fees:
        """Both fees raised by at least ``fraction`` (rounded up, at least 1 wei)."""
        def up(x: int) -> int:
            return x + max(1, -(-int(x * fraction * 1000) // 1000))
        return Fees(max_fee=up(self.max_fee), tip=up(self.tip))


@dataclass(frozen=True)
class SentTx:
    """A transaction handed to the node: its hash, nonce, fees and signed bytes (to resend)."""

    hash: str
    nonce: int
    fees: Fees
    gas: int
    raw: bytes
    to: str
    data: str


def fees_under_cap(base_fee: int, tip: int, cap: int | None) -> Fees:
    """``maxFee = min(cap, 2 * base + tip)``; the tip never above the max fee."""
    max_fee = 2 * base_fee + tip
    if cap is not None:
        max_fee = min(max_fee, cap)
    return Fees(max_fee=max_fee, tip=min(tip, max_fee))


def decode_revert(data: Any) -> str:
    """The reason string of revert data (``Error(string)``, ``Panic(uint256)``), or ''."""
    if isinstance(data, str):
        raw = bytes.fromhex(data.removeprefix("0x")) if data.startswith("0x") else b""
    elif isinstance(data, bytes | bytearray):
        raw = bytes(data)
    else:
        return ""
    if raw[:4] == ERROR_SELECTOR and len(raw) >= 68:
        length = int.from_bytes(raw[36:68], "big")
        return raw[68:68 + length].decode("utf-8", errors="replace")
    if raw[:4] == PANIC_SELECTOR and len(raw) >= 36:
        return f"panic 0x{int.from_bytes(raw[4:36], 'big'):02x}"
    return ""


def classify(exc: BaseException) -> SendError:
    """One place that turns a node's error (web3 exception, JSON-RPC error) into a kind."""
    from web3.exceptions import ContractLogicError, TimeExhausted

    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, ContractLogicError):
        reason = decode_revert(exc.data) or str(exc.message or "").removeprefix(
            "execution reverted: ")
        return SendError(f"reverted: {reason}", "revert", reason=reason)
    if isinstance(exc, TimeExhausted):
        return SendError("timed out waiting for the receipt", "transient")
    text = str(exc)
    low = text.lower()
    if "nonce too low" in low or "nonce is too low" in low:
        return SendError(text, "nonce_too_low")
    if "replacement transaction underpriced" in low or "underpriced" in low:
        return SendError(text, "underpriced")
    if "less than block base fee" in low or ("max fee" in low and "base fee" in low):
        return SendError(text, "fee_cap")
    if "insufficient funds" in low:
        return SendError(text, "funds")
    if "execution reverted" in low or "revert" in low:
        reason = text.split("execution reverted:", 1)[-1].strip(" '\"}")
        return SendError(f"reverted: {reason}", "revert", reason=reason)
    return SendError(text or type(exc).__name__, "transient")


class Sender:
    """Builds, signs and sends EIP-1559 transactions from one local key."""

    def __init__(self, w3: Web3, key: str, chain_id: int | None = None) -> None:
        self.w3 = w3
        self.account: LocalAccount = Account.from_key(key)
        self.address: str = self.account.address
        self.chain_id = int(chain_id if chain_id is not None else w3.eth.chain_id)

    def __repr__(self) -> str:  # never the key
        return f"Sender({self.address})"

    # ---------------------------------------------------------------- chain facts
    def nonce(self, block: Literal["latest", "pending"] = "pending") -> int:
        return int(self.w3.eth.get_transaction_count(self.address, block))  # type: ignore[arg-type]

    def base_fee(self) -> int:
        block = self.w3.eth.get_block("pending")
        return int(block.get("baseFeePerGas") or 0)

    def fees(self, cap_wei: int | None = None, tip_wei: int = GWEI) -> Fees:
        return fees_under_cap(self.base_fee(), tip_wei, cap_wei)

    # ---------------------------------------------------------------- sending
    def build(self, to: str | None, data: str, *, nonce: int, fees: Fees, gas: int,
              value: int = 0) -> dict[str, Any]:
        """A type-2 transaction; ``to=None`` creates a contract."""
        tx: dict[str, Any] = {"type": 2, "chainId": self.chain_id, "data": data, "value": value,
                              "nonce": nonce, "gas": gas, "maxFeePerGas": fees.max_fee,
                              "maxPriorityFeePerGas": fees.tip}
        if to is not None:
            tx["to"] = Web3.to_checksum_address(to)
        return tx

    def estimate(self, to: str, data: str, value: int = 0) -> int:
        """Gas for a call from this sender; a revert raises SendError(kind='revert')."""
        try:
            return int(self.w3.eth.estimate_gas({"from": self.address, "to": to, "data": data,
                                                 "value": value}))  # type: ignore[typeddict-item]
        except Exception as exc:  # web3 raises many types; classify them once
            raise classify(exc) from None

    def sign(self, tx: dict[str, Any]) -> tuple[str, bytes]:
        signed = self.account.sign_transaction(tx)
        return "0x" + signed.hash.hex().removeprefix("0x"), bytes(signed.raw_transaction)

    def send(self, to: str, data: str, *, nonce: int | None = None, fees: Fees | None = None,
             gas: int | None = None, value: int = 0) -> SentTx:
        """Sign and send; the hash is known (and returned) before the node answers."""
        nonce = self.nonce() if nonce is None else nonce
        fees = self.fees() if fees is None else fees
        gas = int(self.estimate(to, data, value) * 1.2) + 10_000 if gas is None else gas
        tx = self.build(to, data, nonce=nonce, fees=fees, gas=gas, value=value)
        tx_hash, raw = self.sign(tx)
        sent = SentTx(hash=tx_hash, nonce=nonce, fees=fees, gas=gas, raw=raw, to=to, data=data)
        self.send_raw(sent)
        return sent

    def send_raw(self, sent: SentTx) -> None:
        try:
            self.w3.eth.send_raw_transaction(sent.raw)
        except Exception as exc:
            err = classify(exc)
            if "already known" in str(exc).lower():
                return  # the node has this very transaction already
            raise err from None

    def replace(self, sent: SentTx, fees: Fees) -> SentTx:
        """The same call at the same nonce with higher fees (a replacement)."""
        tx = self.build(sent.to, sent.data, nonce=sent.nonce, fees=fees, gas=sent.gas)
        tx_hash, raw = self.sign(tx)
        new = replace(sent, hash=tx_hash, fees=fees, raw=raw)
        self.send_raw(new)
        return new

    def transact(self, to: str, data: str, *, timeout_s: float = 30.0, **kw: Any) -> Any:
        """Send and wait for the receipt; a failed receipt raises SendError('revert')."""
        sent = self.send(to, data, **kw)
        receipt = self.w3.eth.wait_for_transaction_receipt(sent.hash, timeout=timeout_s,  # type: ignore[arg-type]
                                                           poll_latency=0.02)
        if receipt["status"] != 1:
            raise SendError(f"transaction {sent.hash} reverted", "revert")
        return receipt
