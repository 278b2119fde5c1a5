"""GPv2 orders byte for byte: public constants of CoW Protocol pinned, one fixed order's digest
and UID pinned and re-derived by eth_account's independent EIP-712 encoder, and both signing
schemes recovered by eth_account."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from rebal.backends.solver import gpv2
from rebal.backends.solver.signing import Signer, SignerError, sign_order

MAINNET_SETTLEMENT = "0x9008D19f58AAbD9eD0D60971565AA8510560ab41"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
OWNER = "0x1111111111111111111111111111111111111111"
# anvil's first well-known development key (public; holds nothing of value)
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

ORDER = gpv2.Order(
    sell_token=WETH, buy_token=USDC, sell_amount=10**18, buy_amount=2985 * 10**6,
    valid_to=1767225600, app_data=bytes(range(32)),
)


def test_public_constants_of_gpv2order_sol() -> None:
    # GPv2Order.TYPE_HASH and the KIND_/BALANCE_ markers, as pre-computed in GPv2Order.sol
    assert gpv2.ORDER_TYPE_HASH.hex() == (
        "d5a25ba2e97094ad7d83dc28a6572da797d6b3e7fc6663bd93efb789fc17e489")
    assert gpv2.KINDS["sell"].hex() == (
        "f3b277728b3fee749481eb3e0b3b48980dbbab78658fc419025cb16eee346775")
    assert gpv2.KINDS["buy"].hex() == (
        "6ed88e868af0a1983e3886d5f3e95a2fafbd6c3450bc229e27342283dc429ccc")
    assert gpv2.BALANCES["erc20"].hex() == (
        "5a28e9363bb942b639270062aa6bb295f434bcdfc42c97267bf003f272060dc9")
    assert gpv2.BALANCES["external"].hex() == (
        "abee3b73373acd583a130924aad6dc38cfdc44ba0555ba94ce2ff63980ea0632")
    assert gpv2.BALANCES["internal"].hex() == (
        "4ac99ace14ee0a5ef932dc609df0943ab7ac16b7583634612f8dc35a4289a6ce")


def test_mainnet_domain_separator() -> None:
    # domainSeparator() of the deployed GPv2Settlement on Ethereum mainnet (etherscan)
    assert gpv2.domain_separator(1, MAINNET_SETTLEMENT).hex() == (
        "c078f884a2676e1345748b1feace7b0abee5d00ecadb6e574dcdd109a63e8943")
    assert gpv2.domain_separator(5, MAINNET_SETTLEMENT) != gpv2.domain_separator(
        1, MAINNET_SETTLEMENT)


def test_fixed_order_digest_and_uid_pinned_and_independent() -> None:
    domain = gpv2.domain_separator(1, MAINNET_SETTLEMENT)
    digest = gpv2.order_digest(ORDER, domain)
    assert digest.hex() == "f6cd7c5157276718d0e89c1735adb2e568f86cf54fae8a19bc800bda26e8c932"
    # eth_account's EIP-712 encoder, from the typed-data document alone
    signable = encode_typed_data(full_message=gpv2.typed_data(ORDER, 1, MAINNET_SETTLEMENT))
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == digest
    assert signable.header == domain
    uid = gpv2.order_uid(digest, OWNER, ORDER.valid_to)
    assert len(uid) == 56
    assert uid.hex() == digest.hex() + OWNER[2:] + "6955b900"
    assert gpv2.parse_uid(uid) == (digest, OWNER, ORDER.valid_to)


@pytest.mark.parametrize("change", [
    {"kind": "buy"}, {"partially_fillable": True}, {"sell_token_balance": "external"},
    {"buy_token_balance": "internal"}, {"fee_amount": 1}, {"receiver": OWNER},
    {"buy_amount": 2985 * 10**6 - 1}, {"valid_to": 1767225601},
])
def test_every_field_is_in_the_digest_as_eth_account_encodes_it(change: dict[str, object]) -> None:
    domain = gpv2.domain_separator(1, MAINNET_SETTLEMENT)
    other = ORDER.with_(**change)
    assert gpv2.order_digest(other, domain) != gpv2.order_digest(ORDER, domain)
    signable = encode_typed_data(full_message=gpv2.typed_data(other, 1, MAINNET_SETTLEMENT))
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == (
        gpv2.order_digest(other, domain))


def test_encode_decode_round_trip_and_bad_input() -> None:
    assert gpv2.Order.decode(ORDER.encode()) == ORDER
    with pytest.raises(ValueError, match="uint32"):
        ORDER.with_(valid_to=2**32)
    with pytest.raises(ValueError, match="kind"):
        ORDER.with_(kind="swap")
    with pytest.raises(ValueError, match="56 bytes"):
        gpv2.parse_uid(b"\x00" * 55)


def test_eip712_signature_recovers_to_the_signer_as_eth_account_signs_it() -> None:
    signer = Signer.from_env("K", {"K": DEV_KEY})
    domain = gpv2.domain_separator(31337, MAINNET_SETTLEMENT)
    signed = sign_order(ORDER, domain, signer)
    assert signed.scheme == "eip712" and signed.owner == signer.address
    assert len(signed.signature) == 65 and signed.signature[64] in (27, 28)
    typed = gpv2.typed_data(ORDER, 31337, MAINNET_SETTLEMENT)
    assert Account.recover_message(encode_typed_data(full_message=typed),
                                   signature=signed.signature) == signer.address
    # byte-identical to eth_account's own typed-data signing
    assert Account.sign_typed_data(DEV_KEY, full_message=typed).signature == signed.signature


def test_eip1271_signature_carries_the_order_and_the_keeper_signature() -> None:
    signer = Signer.from_env("K", {"K": DEV_KEY})
    domain = gpv2.domain_separator(31337, MAINNET_SETTLEMENT)
    signed = sign_order(ORDER, domain, signer, vault=OWNER)
    assert signed.scheme == "eip1271" and signed.owner == OWNER
    assert gpv2.Order.decode(signed.signature[:384]) == ORDER
    assert signed.signature[384:] == sign_order(ORDER, domain, signer).signature
    assert signed.settlement_signature()[:20] == bytes.fromhex(OWNER[2:])


def test_signer_never_shows_its_key() -> None:
    signer = Signer.from_env("K", {"K": DEV_KEY})
    assert DEV_KEY[2:] not in repr(signer)
    with pytest.raises(SignerError) as missing:
        Signer.from_env("K", {})
    assert "K is not set" in str(missing.value)
    with pytest.raises(SignerError) as bad:
        Signer.from_env("K", {"K": "0xnot-a-key-but-secret"})
    assert "secret" not in str(bad.value)
