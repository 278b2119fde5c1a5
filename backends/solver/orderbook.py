"""A local order book with CoW's semantics: it accepts signed GPv2 orders and reports their
status from chain truth.

Validation on POST is what CoW's order book does, done by the settlement contract itself:
the order's signature is checked with an ``eth_call`` of ``Settlement.recoverOwner`` (ecrecover
for EIP-712, the owner's ``isValidSignature`` for EIP-1271), so an order the book accepts is
one the contract will accept. The UID is computed here from the digest, the recovered owner
and ``validTo``; a second POST of the same order is refused as ``DuplicatedOrder``.

Status: ``cancelled`` when cancelled off-chain here or invalidated on-chain
(``filledAmount == 2**256-1``); ``fulfilled`` when the settlement's ``filledAmount`` reached
the order's amount; ``expired`` once the chain's time passed ``validTo``; else ``open``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account

from rebal.backends.chain.tx import classify

from .api import cancellation_digest, hex0x, parse_creation, unhex
from .gpv2 import MAX_UINT256, Order, order_uid
from .signing import SignedOrder

__all__ = ["BookError", "OrderBook", "StoredOrder"]

SCHEME_IDS = {"eip712": 0, "eip1271": 2}


class BookError(Exception):
    """An API error: HTTP status, CoW's ``errorType`` and a description."""

    def __init__(self, status: int, error_type: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error_type = error_type
        self.description = description

    def body(self) -> dict[str, str]:
        return {"errorType": self.error_type, "description": self.description}


@dataclass
class StoredOrder:
    signed: SignedOrder
    uid: bytes
    app_data_doc: str
    creation_s: float
    cancelled: bool = False


class OrderBook:
    """Orders by UID, validated and tracked against a deployed Settlement contract."""

    def __init__(self, settlement: Any) -> None:
        self.settlement = settlement  # a web3 contract handle of Settlement.vy
        self.w3 = settlement.w3
        self.domain: bytes = bytes(settlement.functions.domainSeparator().call())
        self.orders: dict[bytes, StoredOrder] = {}
        self.lock = threading.Lock()

    # ---------------------------------------------------------------- chain truth
    def chain_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def filled(self, uid: bytes) -> int:
        return int(self.settlement.functions.filledAmount(uid).call())

    def status(self, stored: StoredOrder) -> str:
        filled = self.filled(stored.uid)
        order = stored.signed.order
        if stored.cancelled or filled == MAX_UINT256:
            return "cancelled"
        full = order.sell_amount if order.kind == "sell" else order.buy_amount
        if filled >= full:
            return "fulfilled"
        if order.valid_to < self.chain_time():
            return "expired"
        return "open"

    # ---------------------------------------------------------------- API verbs
    def create(self, body: dict[str, Any]) -> bytes:
        try:
            order, owner, scheme, signature, doc = parse_creation(body)
        except ValueError as exc:
            raise BookError(400, "InvalidOrder", str(exc)) from None
        if order.valid_to < self.chain_time():
            raise BookError(400, "InsufficientValidTo", "validTo is in the past")
        signed = SignedOrder(order, owner, scheme, b"", signature)
        recovered = self._recover(order, scheme, signed.settlement_signature())
        if recovered.lower() != owner.lower():
            raise BookError(400, "WrongOwner", "the signature does not recover to `from`")
        digest = bytes(self.settlement.functions.orderDigest(order.as_tuple()).call())
        uid = order_uid(digest, owner, order.valid_to)
        with self.lock:
            if uid in self.orders:
                raise BookError(400, "DuplicatedOrder", "order already exists")
            self.orders[uid] = StoredOrder(
                SignedOrder(order, recovered, scheme, digest, signature), uid, doc, time.time())
        return uid

    def _recover(self, order: Order, scheme: str, signature: bytes) -> str:
        try:
            return str(self.settlement.functions.recoverOwner(
                order.as_tuple(), SCHEME_IDS[scheme], signature).call())
        except Exception as exc:  # a revert: the contract refuses this signature
            reason = classify(exc).reason
            raise BookError(400, "InvalidSignature", reason or "invalid signature") from None

    def get(self, uid_hex: str) -> dict[str, Any]:
        return self.to_json(self._stored(uid_hex))

    def by_owner(self, owner: str) -> list[dict[str, Any]]:
        with self.lock:
            mine = [s for s in self.orders.values() if s.signed.owner.lower() == owner.lower()]
        mine.sort(key=lambda s: s.creation_s, reverse=True)
        return [self.to_json(s) for s in mine]

    def cancel(self, body: dict[str, Any]) -> None:
        """Off-chain cancellation: the owner's EIP-712 signature of OrderCancellations."""
        try:
            uids = [unhex(u) for u in body["orderUids"]]
            signature = unhex(body["signature"])
        except (KeyError, TypeError, ValueError):
            raise BookError(400, "InvalidCancellation", "orderUids and signature") from None
        if body.get("signingScheme", "eip712") != "eip712":
            raise BookError(400, "InvalidSignature", "cancellations are signed with eip712; "
                            "a contract owner invalidates on-chain (invalidateOrder)")
        stored = [self._stored(hex0x(u)) for u in uids]
        try:
            signer = Account._recover_hash(cancellation_digest(uids, self.domain),
                                           signature=signature)
        except Exception:
            raise BookError(400, "InvalidSignature", "malformed signature") from None
        for s in stored:
            if s.signed.owner.lower() != str(signer).lower():
                raise BookError(401, "WrongOwner", "the signer does not own every order")
        with self.lock:
            for s in stored:
                s.cancelled = True

    def open_orders(self) -> list[StoredOrder]:
        with self.lock:
            candidates = list(self.orders.values())
        return [s for s in candidates if self.status(s) == "open"]

    def executed(self, s: StoredOrder) -> tuple[int, int, int]:
        """(sell, buy, fee) executed so far: the sum of the settlement's Trade events."""
        logs = self.settlement.events.Trade().get_logs(
            from_block=0, argument_filters={"owner": s.signed.owner})
        mine = [e["args"] for e in logs if bytes(e["args"]["orderUid"]) == s.uid]
        return (sum(a["sellAmount"] for a in mine), sum(a["buyAmount"] for a in mine),
                sum(a["feeAmount"] for a in mine))

    # ---------------------------------------------------------------- shapes
    def _stored(self, uid_hex: str) -> StoredOrder:
        try:
            uid = unhex(uid_hex)
        except ValueError:
            raise BookError(400, "InvalidUid", "not a hex order UID") from None
        with self.lock:
            stored = self.orders.get(uid)
        if stored is None:
            raise BookError(404, "NotFound", "order was not found")
        return stored

    def to_json(self, s: StoredOrder) -> dict[str, Any]:
        o = s.signed.order
        status = self.status(s)
        sold, bought, fee = self.executed(s)
        return {
            "uid": hex0x(s.uid), "owner": s.signed.owner,
            "creationDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s.creation_s)),
            "sellToken": o.sell_token, "buyToken": o.buy_token, "receiver": o.receiver,
            "sellAmount": str(o.sell_amount), "buyAmount": str(o.buy_amount),
            "validTo": o.valid_to, "appData": s.app_data_doc, "appDataHash": hex0x(o.app_data),
            "feeAmount": str(o.fee_amount), "kind": o.kind,
            "partiallyFillable": o.partially_fillable,
            "sellTokenBalance": o.sell_token_balance, "buyTokenBalance": o.buy_token_balance,
            "signingScheme": s.signed.scheme, "signature": hex0x(s.signed.signature),
            "status": status, "invalidated": status == "cancelled",
            "executedSellAmount": str(sold + fee),
            "executedSellAmountBeforeFees": str(sold),
            "executedBuyAmount": str(bought), "executedFeeAmount": str(fee),
            "class": "limit", "settlementContract": self.settlement.address,
        }
