# pragma version 0.4.3
"""
@title Vault
@notice Holds a strategy's tokens. The owner appoints a keeper and a guard; the keeper trades
        only through `rebalance`, which asks the guard before the swap (`check_swap`) and after
        it (`after_swap`, with the actual amounts), swaps through the one allowed router, and
        records the rebalance's client id: the same client id never executes twice, so a
        resent transaction cannot double a swap. The owner can pause and withdraw.
"""

from ethereum.ercs import IERC20

interface IGuard:
    def check_swap(_token_in: address, _token_out: address, _amount_in: uint256, _amount_out_min: uint256, _router: address) -> bool: view
    def after_swap(_token_in: address, _token_out: address, _amount_in: uint256, _amount_out: uint256): nonpayable

interface IRouter:
    def swapExactTokensForTokens(amountIn: uint256, amountOutMin: uint256, path: DynArray[address, 4], to: address, deadline: uint256) -> DynArray[uint256, 4]: nonpayable

event Rebalanced:
    client_id: indexed(bytes32)
    token_in: indexed(address)
    token_out: indexed(address)
    amount_in: uint256
    amount_out: uint256

event KeeperSet:
    keeper: indexed(address)

event GuardSet:
    guard: indexed(address)

event Paused:
    paused: bool

owner: public(address)
keeper: public(address)
guard: public(address)
router: public(immutable(address))
paused: public(bool)
executed: public(HashMap[bytes32, bool])
rebalances: public(uint256)


@deploy
def __init__(_router: address, _keeper: address):
    self.owner = msg.sender
    router = _router
    self.keeper = _keeper
    log KeeperSet(keeper=_keeper)


@external
def set_keeper(_keeper: address):
    assert msg.sender == self.owner, "Vault: only the owner"
    self.keeper = _keeper
    log KeeperSet(keeper=_keeper)


@external
def set_guard(_guard: address):
    assert msg.sender == self.owner, "Vault: only the owner"
    self.guard = _guard
    log GuardSet(guard=_guard)


@external
def set_paused(_paused: bool):
    assert msg.sender == self.owner, "Vault: only the owner"
    self.paused = _paused
    log Paused(paused=_paused)


@external
def withdraw(_token: address, _amount: uint256, _to: address):
    assert msg.sender == self.owner, "Vault: only the owner"
    assert extcall IERC20(_token).transfer(_to, _amount), "Vault: transfer failed"


@external
def rebalance(_client_id: bytes32, _token_in: address, _token_out: address, _amount_in: uint256,
              _amount_out_min: uint256, _deadline: uint256) -> uint256:
    """The keeper's only way to trade: one guarded swap, executed at most once per client id."""
    assert msg.sender == self.keeper, "Vault: only the keeper"
    assert not self.paused, "Vault: paused"
    assert self.guard != empty(address), "Vault: no guard"
    assert not self.executed[_client_id], "Vault: duplicate client id"
    assert staticcall IGuard(self.guard).check_swap(_token_in, _token_out, _amount_in, _amount_out_min, router), "Vault: guard"
    self.executed[_client_id] = True
    before: uint256 = staticcall IERC20(_token_out).balanceOf(self)
    assert extcall IERC20(_token_in).approve(router, _amount_in), "Vault: approve failed"
    amounts: DynArray[uint256, 4] = extcall IRouter(router).swapExactTokensForTokens(_amount_in, _amount_out_min, [_token_in, _token_out], self, _deadline)
    received: uint256 = staticcall IERC20(_token_out).balanceOf(self) - before
    assert received >= _amount_out_min, "Vault: slippage"
    extcall IGuard(self.guard).after_swap(_token_in, _token_out, _amount_in, received)
    self.rebalances += 1
    log Rebalanced(client_id=_client_id, token_in=_token_in, token_out=_token_out, amount_in=_amount_in, amount_out=received)
    return received


# ------------------------------------------------------------------ signed intents (EIP-1271)
# The solver backend's intents: CoW Protocol GPv2 orders owned by this vault. The keeper first
# places each intent (`place_intent`, a transaction): the guard checks every rule, timing
# included, and counts it as a swap (cooldown, split period, `max orders per`), so intents
# cannot trade more often than swaps. The signature the settlement passes to
# isValidSignature is abi.encode(order) (384 bytes) followed by the keeper's ECDSA signature
# of the order digest (65 bytes). The vault answers the magic value only when the order
# hashes to the digest in the settlement's domain, the keeper signed it, it was placed, and
# it is inside the spec's envelope: the guard's check_intent (tokens, limit price against the
# oracle less max slippage, sizes, caps, halts, direction), proceeds to the vault, ERC-20
# balances, and validTo no further than `valid for` ahead. A keeper key alone cannot sign an
# order outside the spec.

interface ISettlement:
    def domainSeparator() -> bytes32: view
    def invalidateOrder(orderUid: Bytes[56]): nonpayable

interface IIntentGuard:
    def check_intent(_sell: address, _buy: address, _sell_amount: uint256, _buy_amount: uint256, _valid_to: uint256) -> bool: view
    def place_intent(_sell: address, _buy: address, _sell_amount: uint256, _buy_amount: uint256, _valid_to: uint256): nonpayable

struct GPv2Order:
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

event SettlementSet:
    settlement: indexed(address)
    max_valid_for: uint256

event IntentPlaced:
    digest: indexed(bytes32)
    app_data: indexed(bytes32)
    sell_token: address
    buy_token: address
    sell_amount: uint256
    buy_amount: uint256
    valid_to: uint256

GPV2_ORDER_TYPE_HASH: constant(bytes32) = keccak256("Order(address sellToken,address buyToken,address receiver,uint256 sellAmount,uint256 buyAmount,uint32 validTo,bytes32 appData,uint256 feeAmount,string kind,bool partiallyFillable,string sellTokenBalance,string buyTokenBalance)")
GPV2_BALANCE_ERC20: constant(bytes32) = keccak256("erc20")
EIP1271_MAGIC: constant(bytes4) = 0x1626ba7e

settlement: public(address)
max_valid_for: public(uint256)
placed: public(HashMap[bytes32, bool])


@external
def set_settlement(_settlement: address, _max_valid_for: uint256):
    """The owner names the settlement contract intents are for and the longest validity."""
    assert msg.sender == self.owner, "Vault: only the owner"
    self.settlement = _settlement
    self.max_valid_for = _max_valid_for
    log SettlementSet(settlement=_settlement, max_valid_for=_max_valid_for)


@external
def approve_settlement(_token: address, _amount: uint256):
    """The owner lets the settlement pull `_token` for orders this vault validates."""
    assert msg.sender == self.owner, "Vault: only the owner"
    assert self.settlement != empty(address), "Vault: no settlement"
    assert extcall IERC20(_token).approve(self.settlement, _amount), "Vault: approve failed"


@external
def invalidate_order(_uid: Bytes[56]):
    """The keeper (or the owner) cancels one of the vault's intents on-chain."""
    assert msg.sender == self.keeper or msg.sender == self.owner, "Vault: only the keeper"
    extcall ISettlement(self.settlement).invalidateOrder(_uid)


@view
@internal
def _check_order(_order: GPv2Order):
    """What the vault itself asks of its intents: proceeds to the vault, ERC-20 balances,
    validTo no further than `valid for` ahead."""
    assert _order.receiver == empty(address) or _order.receiver == self, "Vault: receiver"
    assert _order.sellTokenBalance == GPV2_BALANCE_ERC20 and _order.buyTokenBalance == GPV2_BALANCE_ERC20, "Vault: token balance"
    assert convert(_order.validTo, uint256) <= block.timestamp + self.max_valid_for, "Vault: validTo beyond valid for"


@external
def place_intent(_order: GPv2Order) -> bytes32:
    """The keeper places one intent before it is signed for the order book: the guard checks
    every rule (timing included) and counts it as a swap; returns the order digest."""
    assert msg.sender == self.keeper, "Vault: only the keeper"
    assert self.settlement != empty(address), "Vault: no settlement"
    assert not self.paused, "Vault: paused"
    assert self.guard != empty(address), "Vault: no guard"
    self._check_order(_order)
    domain: bytes32 = staticcall ISettlement(self.settlement).domainSeparator()
    digest: bytes32 = keccak256(concat(b"\x19\x01", domain, keccak256(concat(GPV2_ORDER_TYPE_HASH, abi_encode(_order)))))
    assert not self.placed[digest], "Vault: intent placed twice"
    valid_to: uint256 = convert(_order.validTo, uint256)
    extcall IIntentGuard(self.guard).place_intent(_order.sellToken, _order.buyToken, _order.sellAmount + _order.feeAmount, _order.buyAmount, valid_to)
    self.placed[digest] = True
    log IntentPlaced(digest=digest, app_data=_order.appData, sell_token=_order.sellToken, buy_token=_order.buyToken, sell_amount=_order.sellAmount, buy_amount=_order.buyAmount, valid_to=valid_to)
    return digest


@view
@external
def isValidSignature(_hash: bytes32, _signature: Bytes[1024]) -> bytes4:
    """ERC-1271: the magic value only for an in-envelope intent the keeper signed."""
    assert len(_signature) == 449, "Vault: malformed intent signature"
    assert self.settlement != empty(address), "Vault: no settlement"
    assert not self.paused, "Vault: paused"
    assert self.guard != empty(address), "Vault: no guard"
    order: GPv2Order = abi_decode(slice(_signature, 0, 384), GPv2Order)
    domain: bytes32 = staticcall ISettlement(self.settlement).domainSeparator()
    digest: bytes32 = keccak256(concat(b"\x19\x01", domain, keccak256(concat(GPV2_ORDER_TYPE_HASH, slice(_signature, 0, 384)))))
    assert digest == _hash, "Vault: signature is for another order"
    r: uint256 = convert(slice(_signature, 384, 32), uint256)
    s: uint256 = convert(slice(_signature, 416, 32), uint256)
    v: uint256 = convert(slice(_signature, 448, 1), uint256)
    assert ecrecover(_hash, v, r, s) == self.keeper, "Vault: not signed by the keeper"
    self._check_order(order)
    valid_to: uint256 = convert(order.validTo, uint256)
    assert staticcall IIntentGuard(self.guard).check_intent(order.sellToken, order.buyToken, order.sellAmount + order.feeAmount, order.buyAmount, valid_to), "Vault: guard"
    assert self.placed[_hash], "Vault: intent not placed"
    return EIP1271_MAGIC
