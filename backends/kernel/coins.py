"""Coin-settled instruments: the one model of derivatives whose P&L and margin are in a coin.

A perp, future or option is *coin-settled* when its ``settle`` is its underlying coin
(Deribit's ``ETH-PERPETUAL`` and ETH options: ``settle ETH``). A stablecoin settle (USD,
USDT, USDC) is the numeraire at par, as before. The model, shared by the planner, the gate,
the simulator's accounts and the live views:

* **Inverse perps and futures** hold a fixed USD notional ``N`` (Deribit's USD contracts).
  Their position in units of the underlying, which is their delta, is ``q = N / P`` at the
  price ``P`` (the index for a perp, the future's mark for a future); a trade of ``dq`` units
  at ``P`` adds ``dq P`` of notional. Variation margin is paid in the coin,
  ``N (1 / P_prev - 1 / P)``; over a path it sums to ``N (1 / P_0 - 1 / P_n)``, a payoff
  that is linear in ``1 / P`` and so concave in ``P`` (a fall costs more coin than an equal
  rise earns). Funding is paid in the coin on ``q`` units.
* **Coin-settled options** are worth ``V`` in the numeraire (Black–Scholes on a USD strike)
  and ``V / S`` in the coin; their premium and their settlement at expiry (intrinsic ``/ S``)
  are paid in the coin. Fees and slippage of every coin-settled trade are charged in the coin
  (their numeraire value at the index).
* **Coin balances** (per settle coin, in coins) are held as coin, worth ``C S`` in equity,
  and carry delta ``C``. The kernel counts as delta the coin *gained or lost since it first
  decided*, plus the coin value of the coin-settled options held then (the origin,
  :class:`CoinOrigin`): the coin a strategy starts with is its collateral, part of its
  capital, which the spec states in its numeraire and does not hedge; the book's options
  count as if sold at the first marks. So every coin option's delta is premium-adjusted,
  ``Delta - V / S`` (:func:`premium_adjusted_delta`), and trading one moves the book's delta
  by that much (the hedge solver's sensitivity).
* **Margin** of an inverse contract is ``m |N| / P`` coins; at the index that is ``m |N|``
  in the numeraire, which does not move with the price (:func:`maintenance_coin`).
* Gross leverage counts positions only: a coin balance is collateral, like cash.

Only a settle that is the underlying itself is modelled (no quantos): :func:`settle_columns`
refuses anything else by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir

__all__ = ["CoinOrigin", "coin_after", "coin_cash", "coin_value", "inverse_qty",
           "maintenance_coin", "premium_adjusted_delta", "settle_columns", "variation_margin"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_PAR = frozenset({"USD", "USDT", "USDC"})
_DERIVATIVES = ("perp", "future", "option")


def settle_columns(instruments: tuple[ir.Instrument, ...], assets: tuple[str, ...]) -> IntArray:
    """Per instrument, the asset column of the coin it settles in (-1: the numeraire).

    KeyError (a sentence naming the instrument) for a derivative settled in a coin that is
    not its underlying: a quanto contract, which no backend models."""
    out = np.full(len(instruments), -1, dtype=np.intp)
    for i, inst in enumerate(instruments):
        if inst.kind not in _DERIVATIVES or inst.settle in _PAR:
            continue
        if inst.settle != inst.underlying:
            raise KeyError(f"{inst.name} is a {inst.underlying} {inst.kind} settled in "
                           f"{inst.settle}: a contract settled in a coin other than its "
                           "underlying (a quanto) is not modelled")
        out[i] = assets.index(inst.underlying)
    return out


def inverse_qty(notional: Any, price: Any) -> Any:
    """Units of the underlying an inverse position of ``notional`` (numeraire) is at ``price``."""
    return notional / price


def variation_margin(notional: Any, price_prev: Any, price: Any) -> Any:
    """Coin paid to an inverse position of ``notional`` when its price moves: ``N (1/P0 - 1/P1)``."""
    return notional * (1.0 / price_prev - 1.0 / price)


def premium_adjusted_delta(delta: Any, price: Any, spot: Any) -> Any:
    """Delta of a coin-settled option with its coin premium: ``Delta - V / S`` (``S d(V/S)/dS``)."""
    return delta - price / spot


def maintenance_coin(margin: Any, notional: Any, price: Any) -> Any:
    """Maintenance requirement of an inverse contract, in coins: ``m |N| / P``."""
    return margin * np.abs(notional) / price


def coin_value(coin: FloatArray, spot: FloatArray, coin_assets: IntArray) -> FloatArray:
    """Numeraire value of coin balances ``(B, K)`` over ``coin_assets`` at the index ``(B,)``."""
    out: FloatArray = (coin * spot[:, coin_assets]).sum(axis=1)
    return out


def _option_coin(settle: IntArray, is_option: NDArray[np.bool_], qty: FloatArray,
                 price: FloatArray, spot: FloatArray, n_assets: int) -> FloatArray:
    """Coin value ``sum q V / S`` of coin-settled option quantities, per asset ``(B, A)``."""
    out = np.zeros((qty.shape[0], n_assets))
    for c in np.flatnonzero(is_option & (settle >= 0)):
        a = int(settle[c])
        out[:, a] += qty[:, c] * price[:, c] / spot[:, a]
    return out


def coin_cash(settle: IntArray, is_option: NDArray[np.bool_], coin_equity: FloatArray,
              positions: FloatArray, price: FloatArray, spot: FloatArray) -> FloatArray:
    """The coin balance of each asset ``(B, A)`` from a venue's coin *equity* (balance plus
    unrealised P&L plus the value of coin options, Deribit's ``equity``): the equity less the
    coin value of the coin-settled options held (they are positions of their own)."""
    return coin_equity - _option_coin(settle, is_option, positions, price, spot,
                                      coin_equity.shape[1])


def coin_after(settle: IntArray, is_option: NDArray[np.bool_], coin: FloatArray,
               orders: FloatArray, price: FloatArray, spot: FloatArray) -> FloatArray:
    """Coin balances ``(B, A)`` after ``orders`` ``(B, I)`` pay their coin option premiums."""
    return coin - _option_coin(settle, is_option, orders, price, spot, coin.shape[1])


class CoinOrigin:
    """The coin a strategy held when the kernel first decided (its collateral), per row.

    ``held(coin, ...)`` is the delta-carrying coin ``(B, A)``: the balance less the origin.
    The origin is fixed at a row's first decision as the balance plus the coin value of the
    coin-settled options held then, so those options count with their premium-adjusted delta
    from the start, together with the index then (``spot``). ``revaluation(spot)`` is what the
    collateral's price has moved equity since, ``sum origin (S - S_origin)``: the strategy's
    equity, on which ``drawdown`` is measured, is the account's equity less it (the collateral
    is capital the kernel does not hedge, so its price is not the strategy's loss). Both are
    part of the kernel's saved state."""

    def __init__(self, batch: int, n_assets: int) -> None:
        self.origin = np.zeros((batch, n_assets))
        self.spot = np.zeros((batch, n_assets))
        self.known = np.zeros(batch, dtype=bool)
        self.priced = np.zeros(batch, dtype=bool)  # ``spot`` recorded (False: old saved state)

    def held(self, settle: IntArray, is_option: NDArray[np.bool_], coin: FloatArray | None,
             positions: FloatArray, price: FloatArray, spot: FloatArray) -> FloatArray:
        """The delta-carrying coin ``(B, A)`` of balances ``coin`` (None: none held)."""
        if coin is None:
            coin = np.zeros(self.origin.shape)
        if not self.known.all():
            start = coin + _option_coin(settle, is_option, positions, price, spot, coin.shape[1])
            new = ~self.known
            self.origin[new] = start[new]
            self.known[:] = True
        if not self.priced.all():
            new = ~self.priced
            self.spot[new] = spot[new]
            self.priced[:] = True
        out: FloatArray = coin - self.origin
        return out

    def revaluation(self, spot: FloatArray) -> FloatArray | None:
        """Numeraire the collateral's price has added to equity since the origin, ``(B,)``
        (None: no row holds collateral, e.g. a simulation whose capital is numeraire cash)."""
        if not self.origin.any():
            return None
        out: FloatArray = (self.origin * (spot - self.spot)).sum(axis=1)
        return out

    def strategy_equity(self, equity: FloatArray, spot: FloatArray) -> FloatArray:
        """The strategy's equity: ``equity`` with the collateral at its price at the origin."""
        moved = self.revaluation(spot)
        return equity if moved is None else equity - moved
