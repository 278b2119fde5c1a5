# pragma version 0.4.3
"""
@title Pair
@notice A Uniswap V2-style constant-product pair (0.3% fee) for local rehearsal.
        Liquidity is added by transferring tokens in and calling `sync` (no LP shares:
        rehearsal only). `swap` checks the fee-adjusted invariant exactly as Uniswap V2 does.
"""

from ethereum.ercs import IERC20

event Swap:
    sender: indexed(address)
    amount0In: uint256
    amount1In: uint256
    amount0Out: uint256
    amount1Out: uint256
    to: indexed(address)

event Sync:
    reserve0: uint112
    reserve1: uint112

token0: public(address)
token1: public(address)
reserve0: uint112
reserve1: uint112
blockTimestampLast: uint32


@deploy
def __init__(_token0: address, _token1: address):
    assert _token0 != _token1, "Pair: identical tokens"
    self.token0 = _token0
    self.token1 = _token1


@view
@external
def getReserves() -> (uint112, uint112, uint32):
    return self.reserve0, self.reserve1, self.blockTimestampLast


@external
def sync():
    self._update(staticcall IERC20(self.token0).balanceOf(self), staticcall IERC20(self.token1).balanceOf(self))


@external
def swap(amount0Out: uint256, amount1Out: uint256, to: address):
    assert amount0Out > 0 or amount1Out > 0, "Pair: insufficient output amount"
    r0: uint256 = convert(self.reserve0, uint256)
    r1: uint256 = convert(self.reserve1, uint256)
    assert amount0Out < r0 and amount1Out < r1, "Pair: insufficient liquidity"
    assert to != self.token0 and to != self.token1, "Pair: invalid to"
    if amount0Out > 0:
        assert extcall IERC20(self.token0).transfer(to, amount0Out), "Pair: transfer failed"
    if amount1Out > 0:
        assert extcall IERC20(self.token1).transfer(to, amount1Out), "Pair: transfer failed"
    b0: uint256 = staticcall IERC20(self.token0).balanceOf(self)
    b1: uint256 = staticcall IERC20(self.token1).balanceOf(self)
    in0: uint256 = 0
    in1: uint256 = 0
    if b0 > r0 - amount0Out:
        in0 = b0 - (r0 - amount0Out)
    if b1 > r1 - amount1Out:
        in1 = b1 - (r1 - amount1Out)
    assert in0 > 0 or in1 > 0, "Pair: insufficient input amount"
    adj0: uint256 = b0 * 1000 - in0 * 3
    adj1: uint256 = b1 * 1000 - in1 * 3
    assert adj0 * adj1 >= r0 * r1 * 1000 * 1000, "Pair: K"
    self._update(b0, b1)
    log Swap(sender=msg.sender, amount0In=in0, amount1In=in1, amount0Out=amount0Out, amount1Out=amount1Out, to=to)


@internal
def _update(b0: uint256, b1: uint256):
    assert b0 <= convert(max_value(uint112), uint256) and b1 <= convert(max_value(uint112), uint256), "Pair: overflow"
    self.reserve0 = convert(b0, uint112)
    self.reserve1 = convert(b1, uint112)
    self.blockTimestampLast = convert(block.timestamp % 2**32, uint32)
    log Sync(reserve0=self.reserve0, reserve1=self.reserve1)
