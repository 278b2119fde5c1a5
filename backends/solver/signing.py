"""Signing GPv2 orders: EIP-712 by a key-held account, EIP-1271 on behalf of a vault contract.

* ``eip712``: the owner's key signs the order digest; the signature is r ‖ s ‖ v (65 bytes),
  which the settlement contract (and CoW's order book) recovers with ``ecrecover``.
* ``eip1271``: the owner is a vault contract. The signature handed to the vault's
  ``isValidSignature(digest, signature)`` is ``abi.encode(order)`` (384 bytes) followed by the
  keeper's EIP-712 signature of the same digest (65 bytes). The vault decodes the order,
  checks it hashes to ``digest``, checks the keeper signed it, and checks the order is inside
  the spec's envelope; only then does it answer the magic value. The keeper alone cannot
  authorise an order outside the spec (``docs/solver.md``).

Keys come from the environment only (``signer env NAME``) and are never logged or stored:
:class:`Signer` holds the account and shows only its address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .gpv2 import Order, order_digest

__all__ = ["EIP1271_MAGIC", "Signer", "SignedOrder", "SigningScheme", "sign_order"]

SigningScheme = Literal["eip712", "eip1271"]
#: ``bytes4(keccak256("isValidSignature(bytes32,bytes)"))``, ERC-1271's magic value.
EIP1271_MAGIC = bytes.fromhex("1626ba7e")


class SignerError(ValueError):
    """The signer variable is missing or does not hold a private key (its value never shown)."""


@dataclass(frozen=True)
class Signer:
    """A key-held account; ``repr`` shows the address only, never the key."""

    account: LocalAccount = field(repr=False)

    @property
    def address(self) -> str:
        return str(self.account.address)

    @classmethod
    def from_env(cls, name: str, environ: dict[str, str] | None = None) -> Signer:
        env = os.environ if environ is None else environ
        value = env.get(name)
        if not value:
            raise SignerError(f"signer variable {name} is not set")
        try:
            return cls(Account.from_key(value.strip()))
        except Exception:
            raise SignerError(f"signer variable {name} does not hold a private key") from None

    def sign_digest(self, digest: bytes) -> bytes:
        """r ‖ s ‖ v of a 32-byte EIP-712 digest (v is 27 or 28, as ecrecover wants)."""
        signed = self.account.unsafe_sign_hash(digest)
        return (signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big")
                + bytes([signed.v]))


@dataclass(frozen=True)
class SignedOrder:
    """An order with its owner, digest, UID inputs and signature, ready for the order book."""

    order: Order
    owner: str
    scheme: SigningScheme
    digest: bytes
    signature: bytes  # what the order book's `signature` field holds

    def settlement_signature(self) -> bytes:
        """The bytes the settlement contract's trade carries: for EIP-1271, the owner first."""
        if self.scheme == "eip1271":
            return bytes.fromhex(self.owner.removeprefix("0x")) + self.signature
        return self.signature


def sign_order(order: Order, domain: bytes, signer: Signer, *,
               vault: str | None = None) -> SignedOrder:
    """Sign ``order``: EIP-712 by ``signer`` itself, or EIP-1271 for ``vault`` (the owner)."""
    digest = order_digest(order, domain)
    ecdsa = signer.sign_digest(digest)
    if vault is None:
        return SignedOrder(order, signer.address, "eip712", digest, ecdsa)
    return SignedOrder(order, vault, "eip1271", digest, order.encode() + ecdsa)
