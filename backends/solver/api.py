"""The JSON shapes of CoW Protocol's order-book REST API, in one place for client and server.

``POST /api/v1/orders`` takes an *OrderCreation* (the order's fields, amounts as decimal
strings, ``kind``/balances as strings, ``signingScheme``, ``signature``, ``from``, ``appData``
as the full JSON document and ``appDataHash``) and answers the order UID as a JSON string.
``GET /api/v1/orders/{uid}`` and ``GET /api/v1/account/{owner}/orders`` answer *Order*
objects: the creation fields plus ``uid``, ``owner``, ``status``
(``open|fulfilled|expired|cancelled``), executed amounts, ``invalidated``. ``DELETE
/api/v1/orders`` takes ``{"orderUids": [...], "signature", "signingScheme"}``, the owner's
EIP-712 signature of ``OrderCancellations(bytes[] orderUids)`` in the settlement's domain.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from .gpv2 import Order
from .signing import SignedOrder

__all__ = ["cancellation_digest", "order_creation", "parse_creation"]

CANCELLATIONS_TYPE_HASH = keccak(text="OrderCancellations(bytes[] orderUids)")


def hex0x(raw: bytes) -> str:
    return "0x" + raw.hex()


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def order_creation(signed: SignedOrder, app_data_doc: str) -> dict[str, Any]:
    """The POST body for ``signed``: CoW's OrderCreation."""
    o = signed.order
    return {
        "sellToken": o.sell_token,
        "buyToken": o.buy_token,
        "receiver": o.receiver,
        "sellAmount": str(o.sell_amount),
        "buyAmount": str(o.buy_amount),
        "validTo": o.valid_to,
        "feeAmount": str(o.fee_amount),
        "kind": o.kind,
        "partiallyFillable": o.partially_fillable,
        "sellTokenBalance": o.sell_token_balance,
        "buyTokenBalance": o.buy_token_balance,
        "signingScheme": signed.scheme,
        "signature": hex0x(signed.signature),
        "from": signed.owner,
        "appData": app_data_doc,
        "appDataHash": hex0x(o.app_data),
    }


def parse_creation(body: dict[str, Any]) -> tuple[Order, str, str, bytes, str]:
    """(order, owner, scheme, signature, appData document) of an OrderCreation.

    Raises ValueError (with the offending field named) on a malformed body."""
    try:
        doc = body["appData"]
        if not isinstance(doc, str):
            raise ValueError("appData must be the app-data JSON document")
        app_hash = keccak(doc.encode()) if not doc.startswith("0x") else unhex(doc)
        if "appDataHash" in body and unhex(body["appDataHash"]) != app_hash:
            raise ValueError("appDataHash is not the keccak of appData")
        order = Order(
            sell_token=body["sellToken"], buy_token=body["buyToken"],
            receiver=body.get("receiver") or "0x" + "00" * 20,
            sell_amount=int(body["sellAmount"]), buy_amount=int(body["buyAmount"]),
            valid_to=int(body["validTo"]), app_data=app_hash,
            fee_amount=int(body.get("feeAmount", "0")), kind=body["kind"],
            partially_fillable=bool(body.get("partiallyFillable", False)),
            sell_token_balance=body.get("sellTokenBalance", "erc20"),
            buy_token_balance=body.get("buyTokenBalance", "erc20"),
        )
        scheme = body["signingScheme"]
        if scheme not in ("eip712", "eip1271"):
            raise ValueError(f"signingScheme {scheme!r} is not supported here")
        return order, str(body["from"]), scheme, unhex(body["signature"]), doc
    except KeyError as exc:
        raise ValueError(f"missing field {exc.args[0]}") from None
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"malformed order: {exc}") from None


def cancellation_digest(uids: list[bytes], domain: bytes) -> bytes:
    """EIP-712 digest of ``OrderCancellations(bytes[] orderUids)`` (CoW's off-chain cancel)."""
    array_hash = keccak(b"".join(keccak(uid) for uid in uids))
    return keccak(b"\x19\x01" + domain + keccak(CANCELLATIONS_TYPE_HASH + array_hash))
