# pragma version 0.4.3
"""
@title Router
@notice The Uniswap V2 router's swap interface over registered pairs, for local rehearsal:
        `getAmountsOut(amountIn, path)` and `swapExactTokensForTokens(amountIn, amountOutMin,
        path, to, deadline)` with the 0.3% fee. Pairs are registered by the owner (no factory).
"""

from ethereum.ercs import IERC20

interface IPair:
    def getReserves() -> (uint112, uint112, uint32): view
    def token0() -> address: view
    def swap(amount0Out: uint256, amount1Out: uint256, to: address): nonpayable

MAX_HOPS: constant(uint256) = 4

owner: public(address)
pairFor: public(HashMap[address, HashMap[address, address]])


@deploy
def __init__():
    self.owner = msg.sender


@external
def addPair(_pair: address, _tokenA: address, _tokenB: address):
    assert msg.sender == self.owner, "Router: only the owner"
    self.pairFor[_tokenA][_tokenB] = _pair
    self.pairFor[_tokenB][_tokenA] = _pair


@pure
@external
def getAmountOut(amountIn: uint256, reserveIn: uint256, reserveOut: uint256) -> uint256:
    return self._amount_out(amountIn, reserveIn, reserveOut)


@view
@external
def getAmountsOut(amountIn: uint256, path: DynArray[address, MAX_HOPS]) -> DynArray[uint256, MAX_HOPS]:
    return self._amounts_out(amountIn, path)


@external
def swapExactTokensForTokens(amountIn: uint256, amountOutMin: uint256, path: DynArray[address, MAX_HOPS], to: address, deadline: uint256) -> DynArray[uint256, MAX_HOPS]:
    assert block.timestamp <= deadline, "UniswapV2Router: EXPIRED"
    amounts: DynArray[uint256, MAX_HOPS] = self._amounts_out(amountIn, path)
    assert amounts[len(amounts) - 1] >= amountOutMin, "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    first: address = self.pairFor[path[0]][path[1]]
    assert extcall IERC20(path[0]).transferFrom(msg.sender, first, amountIn), "Router: transferFrom failed"
    for i: uint256 in range(MAX_HOPS - 1):
        if i + 1 >= len(path):
            break
        pair: address = self.pairFor[path[i]][path[i + 1]]
        recipient: address = to
        if i + 2 < len(path):
            recipient = self.pairFor[path[i + 1]][path[i + 2]]
        out: uint256 = amounts[i + 1]
        if path[i] == staticcall IPair(pair).token0():
            extcall IPair(pair).swap(0, out, recipient)
        else:
            extcall IPair(pair).swap(out, 0, recipient)
    return amounts


@pure
@internal
def _amount_out(amountIn: uint256, reserveIn: uint256, reserveOut: uint256) -> uint256:
    assert amountIn > 0, "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"
    assert reserveIn > 0 and reserveOut > 0, "UniswapV2Library: INSUFFICIENT_LIQUIDITY"
    with_fee: uint256 = amountIn * 997
    return with_fee * reserveOut // (reserveIn * 1000 + with_fee)


@view
@internal
def _amounts_out(amountIn: uint256, path: DynArray[address, MAX_HOPS]) -> DynArray[uint256, MAX_HOPS]:
    assert len(path) >= 2, "UniswapV2Library: INVALID_PATH"
    amounts: DynArray[uint256, MAX_HOPS] = [amountIn]
    for i: uint256 in range(MAX_HOPS - 1):
        if i + 1 >= len(path):
            break
        pair: address = self.pairFor[path[i]][path[i + 1]]
        assert pair != empty(address), "Router: no pair"
        r0: uint112 = 0
        r1: uint112 = 0
        ts: uint32 = 0
        r0, r1, ts = staticcall IPair(pair).getReserves()
        rin: uint256 = convert(r0, uint256)
        rout: uint256 = convert(r1, uint256)
        if path[i] != staticcall IPair(pair).token0():
            rin = convert(r1, uint256)
            rout = convert(r0, uint256)
        amounts.append(self._amount_out(amounts[i], rin, rout))
    return amounts
