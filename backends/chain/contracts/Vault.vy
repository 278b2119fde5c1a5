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
