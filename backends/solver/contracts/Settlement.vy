# pragma version 0.4.3
"""
@title Settlement
@notice A local counterpart of CoW Protocol's GPv2Settlement for tests and rehearsal: it
        verifies GPv2 orders exactly as GPv2Signing does (the EIP-712 domain "Gnosis Protocol",
        "v2", chain id, this contract; the Order struct hash; the 56-byte order UID), for two
        signing schemes: EIP-712 (ecrecover, scheme 0) and EIP-1271 (the owner's
        isValidSignature, scheme 2; the signature is the owner's address followed by the bytes
        the owner verifies). Each call settles one trade of one order: the solver pays the
        buy tokens to the receiver and takes the sell tokens (and the fee share) from the
        owner, who approved this contract (GPv2 uses a vault relayer; one contract here).
        Every fill respects the order's limit price; filledAmount[uid] refuses replays and
        over-fills; expired orders and invalidated ones (invalidateOrder) never settle.
"""

interface IERC20:
    def transferFrom(_from: address, _to: address, _value: uint256) -> bool: nonpayable

interface IERC1271:
    def isValidSignature(_hash: bytes32, _signature: Bytes[1044]) -> bytes4: view

struct Order:
    sellToken: address
    buyToken: address
    receiver: address
    sellAmount: uint256
    buyAmount: uint256
    validTo: uint32
    appData: bytes32
    feeAmount: uint256
    kind: bytes32
    partiallyFillable: bool
    sellTokenBalance: bytes32
    buyTokenBalance: bytes32

event Trade:
    owner: indexed(address)
    sellToken: address
    buyToken: address
    sellAmount: uint256
    buyAmount: uint256
    feeAmount: uint256
    orderUid: Bytes[56]

event OrderInvalidated:
    owner: indexed(address)
    orderUid: Bytes[56]

TYPE_HASH: constant(bytes32) = keccak256("Order(address sellToken,address buyToken,address receiver,uint256 sellAmount,uint256 buyAmount,uint32 validTo,bytes32 appData,uint256 feeAmount,string kind,bool partiallyFillable,string sellTokenBalance,string buyTokenBalance)")
DOMAIN_TYPE_HASH: constant(bytes32) = keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
KIND_SELL: constant(bytes32) = keccak256("sell")
KIND_BUY: constant(bytes32) = keccak256("buy")
BALANCE_ERC20: constant(bytes32) = keccak256("erc20")
EIP1271_MAGIC: constant(bytes4) = 0x1626ba7e
SCHEME_EIP712: constant(uint8) = 0
SCHEME_EIP1271: constant(uint8) = 2

domainSeparator: public(bytes32)
filledAmount: public(HashMap[Bytes[56], uint256])


@deploy
def __init__():
    self.domainSeparator = keccak256(abi_encode(
        DOMAIN_TYPE_HASH, keccak256("Gnosis Protocol"), keccak256("v2"), chain.id, self))


@view
@internal
def _digest(order: Order) -> bytes32:
    struct_hash: bytes32 = keccak256(concat(TYPE_HASH, abi_encode(order)))
    return keccak256(concat(b"\x19\x01", self.domainSeparator, struct_hash))


@view
@internal
def _recover(digest: bytes32, scheme: uint8, signature: Bytes[1044]) -> address:
    if scheme == SCHEME_EIP712:
        assert len(signature) == 65, "GPv2: malformed ecdsa signature"
        r: uint256 = convert(slice(signature, 0, 32), uint256)
        s: uint256 = convert(slice(signature, 32, 32), uint256)
        v: uint256 = convert(slice(signature, 64, 1), uint256)
        signer: address = ecrecover(digest, v, r, s)
        assert signer != empty(address), "GPv2: invalid ecdsa signature"
        return signer
    assert scheme == SCHEME_EIP1271, "GPv2: unsupported signing scheme"
    assert len(signature) >= 20, "GPv2: malformed eip1271 signature"
    owner: address = convert(convert(slice(signature, 0, 20), bytes20), address)
    inner: Bytes[1044] = slice(signature, 20, len(signature) - 20)
    magic: bytes4 = staticcall IERC1271(owner).isValidSignature(digest, inner)
    assert magic == EIP1271_MAGIC, "GPv2: invalid eip1271 signature"
    return owner


@view
@external
def orderDigest(order: Order) -> bytes32:
    """@notice GPv2Order.hash(order, domainSeparator)."""
    return self._digest(order)


@view
@external
def recoverOwner(order: Order, scheme: uint8, signature: Bytes[1044]) -> address:
    """@notice The order's owner as settle() recovers it (reverts on a bad signature)."""
    return self._recover(self._digest(order), scheme, signature)


@external
def invalidateOrder(orderUid: Bytes[56]):
    """@notice The owner (UID bytes 32..52) marks an order filled, so it never settles."""
    owner: address = convert(convert(slice(orderUid, 32, 20), bytes20), address)
    assert owner == msg.sender, "GPv2: caller does not own order"
    self.filledAmount[orderUid] = max_value(uint256)
    log OrderInvalidated(owner=owner, orderUid=orderUid)


@external
def settle(order: Order, scheme: uint8, signature: Bytes[1044], executedSell: uint256,
           executedBuy: uint256) -> Bytes[56]:
    """
    @notice Settle one trade: the caller (a solver) pays `executedBuy` buy tokens to the
            receiver and receives `executedSell` sell tokens (plus the fee share) from the
            owner. Reverts unless the signature is valid, the order not expired, the fill
            within the order and at or above its limit price.
    """
    assert order.sellTokenBalance == BALANCE_ERC20, "GPv2: unsupported sell balance"
    assert order.buyTokenBalance == BALANCE_ERC20, "GPv2: unsupported buy balance"
    assert order.kind == KIND_SELL or order.kind == KIND_BUY, "GPv2: unknown order kind"
    digest: bytes32 = self._digest(order)
    owner: address = self._recover(digest, scheme, signature)
    uid: Bytes[56] = concat(digest, convert(owner, bytes20), convert(order.validTo, bytes4))
    assert convert(order.validTo, uint256) >= block.timestamp, "GPv2: order expired"
    assert executedSell > 0 and executedBuy > 0, "GPv2: empty trade"

    filled: uint256 = self.filledAmount[uid]
    assert filled != max_value(uint256), "GPv2: order filled"
    fee: uint256 = 0
    if order.kind == KIND_SELL:
        if not order.partiallyFillable:
            assert executedSell == order.sellAmount, "GPv2: fill-or-kill order"
        assert filled + executedSell <= order.sellAmount, "GPv2: order filled"
        # the limit price, in integers: executedBuy / executedSell >= buyAmount / sellAmount
        assert executedBuy * order.sellAmount >= executedSell * order.buyAmount, "GPv2: limit price not respected"
        fee = order.feeAmount * executedSell // order.sellAmount
        self.filledAmount[uid] = filled + executedSell
    else:
        if not order.partiallyFillable:
            assert executedBuy == order.buyAmount, "GPv2: fill-or-kill order"
        assert filled + executedBuy <= order.buyAmount, "GPv2: order filled"
        assert executedSell * order.buyAmount <= executedBuy * order.sellAmount, "GPv2: limit price not respected"
        fee = order.feeAmount * executedBuy // order.buyAmount
        self.filledAmount[uid] = filled + executedBuy

    receiver: address = order.receiver
    if receiver == empty(address):
        receiver = owner
    assert extcall IERC20(order.sellToken).transferFrom(owner, msg.sender, executedSell + fee), "GPv2: sell transfer failed"
    assert extcall IERC20(order.buyToken).transferFrom(msg.sender, receiver, executedBuy), "GPv2: buy transfer failed"
    log Trade(owner=owner, sellToken=order.sellToken, buyToken=order.buyToken, sellAmount=executedSell, buyAmount=executedBuy, feeAmount=fee, orderUid=uid)
    return uid
