"""CoW Protocol GPv2 orders, byte for byte as ``GPv2Order.sol`` and ``GPv2Signing.sol`` hash them.

An order is the EIP-712 struct ``Order`` of the settlement contract's domain (``Gnosis
Protocol``, ``v2``, the chain id, the settlement address). Its enum-like fields (``kind``,
``sellTokenBalance``, ``buyTokenBalance``) are EIP-712 ``string``s, so the struct hash holds
the keccak of the string (``keccak256("sell")``), exactly as the contracts' pre-computed
markers. The order UID is 56 bytes: the order digest, the owner, and ``validTo`` (big-endian
uint32). Everything here is pure byte arithmetic; :func:`typed_data` gives the same order in
the JSON form any independent EIP-712 tool (eth_account, a wallet) accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from eth_utils import keccak, to_checksum_address

__all__ = [
    "BALANCES",
    "DOMAIN_TYPE_HASH",
    "KINDS",
    "ORDER_TYPE",
    "ORDER_TYPE_HASH",
    "UID_LENGTH",
    "Order",
    "domain_separator",
    "order_digest",
    "order_uid",
    "parse_uid",
    "struct_hash",
    "typed_data",
]

OrderKind = Literal["sell", "buy"]
TokenBalance = Literal["erc20", "external", "internal"]

#: The EIP-712 ``Order`` type, field by field, in the order the contract hashes them.
ORDER_FIELDS: tuple[tuple[str, str], ...] = (
    ("sellToken", "address"),
    ("buyToken", "address"),
    ("receiver", "address"),
    ("sellAmount", "uint256"),
    ("buyAmount", "uint256"),
    ("validTo", "uint32"),
    ("appData", "bytes32"),
    ("feeAmount", "uint256"),
    ("kind", "string"),
    ("partiallyFillable", "bool"),
    ("sellTokenBalance", "string"),
    ("buyTokenBalance", "string"),
)
ORDER_TYPE = "Order(" + ",".join(f"{t} {n}" for n, t in ORDER_FIELDS) + ")"
ORDER_TYPE_HASH = keccak(text=ORDER_TYPE)
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_TYPE_HASH = keccak(text=DOMAIN_TYPE)
DOMAIN_NAME = "Gnosis Protocol"
DOMAIN_VERSION = "v2"
#: keccak of each marker string, as GPv2Order's KIND_* and BALANCE_* constants.
KINDS: dict[str, bytes] = {k: keccak(text=k) for k in ("sell", "buy")}
BALANCES: dict[str, bytes] = {b: keccak(text=b) for b in ("erc20", "external", "internal")}
UID_LENGTH = 56
ZERO_ADDRESS = "0x" + "00" * 20
MAX_UINT32 = 2**32 - 1
MAX_UINT256 = 2**256 - 1


def _address(value: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {value!r}")
    return raw


def _word(value: int) -> bytes:
    if not 0 <= value <= MAX_UINT256:
        raise ValueError(f"not a uint256: {value}")
    return value.to_bytes(32, "big")


@dataclass(frozen=True)
class Order:
    """One GPv2 order. Amounts are integer token base units; ``receiver`` zero means the owner."""

    sell_token: str
    buy_token: str
    sell_amount: int
    buy_amount: int
    valid_to: int
    app_data: bytes = b"\x00" * 32
    receiver: str = ZERO_ADDRESS
    fee_amount: int = 0
    kind: OrderKind = "sell"
    partially_fillable: bool = False
    sell_token_balance: TokenBalance = "erc20"
    buy_token_balance: TokenBalance = "erc20"

    def __post_init__(self) -> None:
        for name in ("sell_token", "buy_token", "receiver"):
            object.__setattr__(self, name, to_checksum_address(getattr(self, name)))
        if len(self.app_data) != 32:
            raise ValueError("appData is 32 bytes")
        if not 0 <= self.valid_to <= MAX_UINT32:
            raise ValueError(f"validTo is a uint32, got {self.valid_to}")
        for name in ("sell_amount", "buy_amount", "fee_amount"):
            _word(getattr(self, name))
        if self.kind not in KINDS:
            raise ValueError(f"kind is sell or buy, got {self.kind!r}")
        if self.sell_token_balance not in BALANCES or self.buy_token_balance not in BALANCES:
            raise ValueError("token balances are erc20, external or internal")

    def with_(self, **changes: Any) -> Order:
        return replace(self, **changes)

    def message(self) -> dict[str, Any]:
        """The EIP-712 message (field names of the struct, JSON-friendly values)."""
        return {
            "sellToken": self.sell_token,
            "buyToken": self.buy_token,
            "receiver": self.receiver,
            "sellAmount": self.sell_amount,
            "buyAmount": self.buy_amount,
            "validTo": self.valid_to,
            "appData": "0x" + self.app_data.hex(),
            "feeAmount": self.fee_amount,
            "kind": self.kind,
            "partiallyFillable": self.partially_fillable,
            "sellTokenBalance": self.sell_token_balance,
            "buyTokenBalance": self.buy_token_balance,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The order as ``GPv2Order.Data`` (markers as bytes32), for contract calls."""
        return (
            self.sell_token, self.buy_token, self.receiver, self.sell_amount, self.buy_amount,
            self.valid_to, self.app_data, self.fee_amount, KINDS[self.kind],
            self.partially_fillable, BALANCES[self.sell_token_balance],
            BALANCES[self.buy_token_balance],
        )

    def encode(self) -> bytes:
        """``abi.encode(GPv2Order.Data)``: twelve static 32-byte words (384 bytes)."""
        return b"".join(self._words())

    def _words(self) -> list[bytes]:
        return [
            _address(self.sell_token).rjust(32, b"\0"),
            _address(self.buy_token).rjust(32, b"\0"),
            _address(self.receiver).rjust(32, b"\0"),
            _word(self.sell_amount),
            _word(self.buy_amount),
            _word(self.valid_to),
            self.app_data,
            _word(self.fee_amount),
            KINDS[self.kind],
            _word(int(self.partially_fillable)),
            BALANCES[self.sell_token_balance],
            BALANCES[self.buy_token_balance],
        ]

    @classmethod
    def decode(cls, data: bytes) -> Order:
        """Inverse of :meth:`encode`."""
        if len(data) != 384:
            raise ValueError("an encoded order is 384 bytes")
        words = [data[i : i + 32] for i in range(0, 384, 32)]

        def marker(table: dict[str, bytes], word: bytes) -> Any:
            for name, value in table.items():
                if value == word:
                    return name
            raise ValueError(f"unknown marker 0x{word.hex()}")

        return cls(
            sell_token="0x" + words[0][12:].hex(),
            buy_token="0x" + words[1][12:].hex(),
            receiver="0x" + words[2][12:].hex(),
            sell_amount=int.from_bytes(words[3], "big"),
            buy_amount=int.from_bytes(words[4], "big"),
            valid_to=int.from_bytes(words[5], "big"),
            app_data=words[6],
            fee_amount=int.from_bytes(words[7], "big"),
            kind=marker(KINDS, words[8]),
            partially_fillable=bool(int.from_bytes(words[9], "big")),
            sell_token_balance=marker(BALANCES, words[10]),
            buy_token_balance=marker(BALANCES, words[11]),
        )


def domain_separator(chain_id: int, settlement: str) -> bytes:
    """``GPv2Signing.domainSeparator`` of a settlement contract on a chain."""
    return keccak(
        DOMAIN_TYPE_HASH
        + keccak(text=DOMAIN_NAME)
        + keccak(text=DOMAIN_VERSION)
        + _word(chain_id)
        + _address(settlement).rjust(32, b"\0")
    )


def struct_hash(order: Order) -> bytes:
    """``hashStruct(Order)``: the type hash followed by the twelve encoded fields."""
    return keccak(ORDER_TYPE_HASH + order.encode())


def order_digest(order: Order, domain: bytes) -> bytes:
    """``GPv2Order.hash``: keccak(0x1901 ‖ domain separator ‖ struct hash), what is signed."""
    return keccak(b"\x19\x01" + domain + struct_hash(order))


def order_uid(digest: bytes, owner: str, valid_to: int) -> bytes:
    """``GPv2Order.packOrderUidParams``: digest (32) ‖ owner (20) ‖ validTo (4, big-endian)."""
    if len(digest) != 32:
        raise ValueError("an order digest is 32 bytes")
    return digest + _address(owner) + valid_to.to_bytes(4, "big")


def parse_uid(uid: bytes) -> tuple[bytes, str, int]:
    """(digest, owner, validTo) of a 56-byte order UID."""
    if len(uid) != UID_LENGTH:
        raise ValueError(f"an order UID is {UID_LENGTH} bytes, got {len(uid)}")
    return uid[:32], to_checksum_address(uid[32:52]), int.from_bytes(uid[52:], "big")


def typed_data(order: Order, chain_id: int, settlement: str) -> dict[str, Any]:
    """The order as an EIP-712 typed-data document (``eth_signTypedData_v4``'s shape)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": [{"name": n, "type": t} for n, t in ORDER_FIELDS],
        },
        "primaryType": "Order",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(settlement),
        },
        "message": order.message(),
    }
