"""Settle-currency accounting for the simulation, across all paths at once.

Conventions (all amounts in the strategy's numeraire; USD, USDT and USDC at par):

* The cash balance is the numeraire account; a cash instrument in a par currency is that
  balance (the engine shows it to the kernel in the instrument's position column) and is never
  filled itself: buying or selling the other legs moves it.
* Cash starts at ``capital - book_value0``: the book's positions are part of the starting
  position, so equity at t0 equals capital (premium received for short options is cash).
* Cash earns the venue ``rate`` continuously (a negative balance pays it).
* Spot, non-par cash and options carry value: equity counts them at their marks (options by
  Black–Scholes at the model's current vol). Perps and futures carry none: their price changes
  are settled into cash every step (variation margin), so equity is always
  ``cash + sum(q x mark)`` over value-carrying instruments.
* Funding on perps is paid every step on the position held over the step, at its notional at
  the step's end: ``rate x dt x q x S`` (positive rate: longs pay).
* Options settle in cash at expiry (intrinsic value at the first step on or after expiry), and
  futures at their last mark; the simulation runs on to the horizon.
* A fill pays the venue fee and slippage as fractions of the mark: buys at
  ``mark x (1 + s)``, sells at ``mark x (1 - s)``, ``s = slippage + impact x size`` (the
  kernel's one cost model, ``kernel/costmodel.py``). A limit
  (from ``max slippage``) caps ``s``: the order fills only up to the size whose slippage stays
  within the limit (an IOC order). Gas is one transaction per path and step that trades.
* Coin-settled instruments (``settle ETH`` on an ETH perp, future or option; the model is
  ``kernel/coins.py``): the account holds a balance in each settle coin, worth ``coin x S``
  in equity. An inverse perp or future holds a fixed numeraire notional ``N`` (a trade of
  ``q`` units at the mark adds ``q x mark``); its position shown to the kernel is ``N / P``
  and its variation margin ``N (1 / P_prev - 1 / P)`` is paid in the coin, as is its funding
  (``rate x dt x q`` coins). A coin-settled option's premium (``q V / S`` coins), its
  settlement at expiry and the fees and slippage of every coin-settled trade are paid in the
  coin; a coin-settled book option's premium starts in the coin balance.
* ``collateral ASSET`` (a coin-margined account, Deribit's): ``capital`` is held as
  ``capital / S_0`` coins of ASSET instead of numeraire cash, so equity, leverage and
  liquidation move with the coin's price as the venue's account does.
* Liquidation: when equity falls to ``maintenance margin x gross notional`` of perps and
  futures (``kernel.gate.maintenance_requirement``, the gate's formula; 0 with no maintenance
  margin), all perps and futures are closed at the liquidation price, i.e. equity is set to
  that threshold (a gap beyond it is not charged: the venue's insurance fund covers it), and
  the path stops trading. The gap is credited where the losses were paid: to the settle coin
  of the coin-settled contracts when the book has some (at the index), else to cash.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.backends.kernel import SECONDS_PER_YEAR, Decision, Fills, Layout, Marks
from rebal.backends.kernel.coins import inverse_qty, variation_margin
from rebal.backends.kernel.costmodel import impact_per_unit
from rebal.backends.kernel.gate import maintenance_requirement
from rebal.backends.kernel.layout import weighted_sum

__all__ = ["Accounts"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class Accounts:
    """Cash, positions and what was paid, per path."""

    def __init__(self, layout: Layout, paths: int, capital: float, book_value0: FloatArray,
                 marks0: Marks, collateral: int | None = None) -> None:
        self.layout = layout
        self.paths = paths
        n = layout.n_instruments
        self.positions = np.asfortranarray(np.tile(layout.book, (paths, 1)))
        self.cash = capital - book_value0
        self.fees = np.zeros(paths)
        self.slippage = np.zeros(paths)
        self.gas = np.zeros(paths)
        self.funding = np.zeros(paths)
        self.fills = np.zeros(paths)
        self.liquidated = np.zeros(paths, dtype=bool)
        self._value_list = [int(c) for c in np.flatnonzero(layout.carries_value
                                                           & ~layout.is_par_cash)]
        self._lin = [int(c) for c in np.flatnonzero(layout.is_linear)]
        self._funded = [(c, int(layout.underlying[c]), float(layout.costs.funding[c]))
                        for c in range(n) if layout.kinds[c] == "perp"
                        and layout.costs.funding[c] != 0.0]
        self._any_funding = bool(self._funded)
        self._lin_price = [marks0.price[:, c].copy() for c in self._lin]
        coin_lin = [int(layout.settle_asset[c]) for c in self._lin if layout.settle_asset[c] >= 0]
        self._gap_coin = coin_lin[0] if coin_lin else -1  # where a liquidation's gap goes
        expiries = np.concatenate([layout.opt_expiry_s, layout.fut_expiry_s])
        self._next_expiry = float(expiries.min()) if expiries.size else np.inf
        self._trade_cols = np.flatnonzero(~layout.is_par_cash)
        self._settled_opt = np.zeros(layout.opt_cols.size, dtype=bool)
        self._settled_fut = np.zeros(layout.fut_cols.size, dtype=bool)
        self._rate = layout.costs.rate
        self._fee = layout.costs.fee
        self._carries = layout.carries_value & ~layout.is_par_cash
        self._gas = layout.costs.gas_eth > 0.0 and layout.costs.gas_asset >= 0
        self._tmp = np.empty(paths)
        self._equity = np.empty(paths)
        self._fee_buf = np.empty(paths)
        self._settle = [int(a) for a in layout.settle_asset]
        self._has_coin = layout.has_coin
        self.coin: FloatArray | None = None  # (B, A) coin balances, in coins
        self.notional: dict[int, FloatArray] = {}  # inverse columns: numeraire notional N
        if self._has_coin:
            self._open_coin(marks0)
        if collateral is not None:  # a coin-margined account: the capital is held as coin
            assert self.coin is not None, "collateral is a coin some instrument settles in"
            self.cash = self.cash - capital
            self.coin[:, collateral] += capital / marks0.spot[:, collateral]

    def _open_coin(self, marks0: Marks) -> None:
        """Coin accounts at t0: a coin-settled book option's premium is coin, an inverse
        book position a notional at the first mark."""
        lay = self.layout
        self.coin = np.zeros((self.paths, lay.n_assets))
        spot = marks0.spot
        for c in np.flatnonzero(lay.settle_asset >= 0):
            a, q0 = self._settle[c], float(lay.book[c])
            if lay.is_inverse[c]:
                self.notional[int(c)] = q0 * marks0.price[:, c]
            elif lay.is_option[c] and q0 != 0.0:
                value = q0 * marks0.price[:, c]
                self.cash = self.cash + value  # the engine took it from cash
                self.coin[:, a] -= value / spot[:, a]

    # ------------------------------------------------------------------ between steps

    def carry(self, dt_s: float, marks: Marks) -> None:
        """Interest, variation margin and funding over the step that ended at ``marks``."""
        dt_y = dt_s / SECONDS_PER_YEAR
        if self._rate != 0.0:
            self.cash *= np.exp(self._rate * dt_y)
        if not self._lin:
            return
        cash, q, price, tmp = self.cash, self.positions, marks.price, self._tmp
        for j, c in enumerate(self._lin):
            p = price[:, c]
            if c in self.notional:  # inverse: coin margin, and the units move with the price
                n = self.notional[c]
                assert self.coin is not None
                self.coin[:, self._settle[c]] += variation_margin(n, self._lin_price[j], p)
                q[:, c] = inverse_qty(n, p)
                self._lin_price[j] = p
                continue
            np.subtract(p, self._lin_price[j], out=tmp)
            tmp *= q[:, c]
            cash += tmp
            self._lin_price[j] = p  # valid until the next-but-one mark (reused buffers)
        if self._any_funding:
            for c, a, rate in self._funded:
                paid = q[:, c] * marks.spot[:, a]
                paid *= rate * dt_y
                if c in self.notional:  # paid in the coin, on q units
                    assert self.coin is not None
                    self.coin[:, a] -= q[:, c] * (rate * dt_y)
                else:
                    cash -= paid
                self.funding += paid

    def settle_expiries(self, t_s: float, marks: Marks) -> None:
        """Cash-settle options and futures whose expiry is at or before ``t_s``."""
        if t_s + 1e-6 < self._next_expiry:
            return
        lay = self.layout
        due = (lay.opt_expiry_s <= t_s + 1e-6) & ~self._settled_opt
        for k in np.flatnonzero(due):
            col, a = lay.opt_cols[k], lay.opt_asset[k]
            s = marks.spot[:, a]
            w = 1.0 if lay.opt_call[k] else -1.0
            payoff = np.maximum(w * (s - lay.opt_strike[k]), 0.0)
            if self._settle[col] >= 0:  # settled in the coin at the index
                assert self.coin is not None
                self.coin[:, a] += self.positions[:, col] * payoff / s
            else:
                self.cash += self.positions[:, col] * payoff
            self.positions[:, col] = 0.0
            self._settled_opt[k] = True
        due_f = (lay.fut_expiry_s <= t_s + 1e-6) & ~self._settled_fut
        for k in np.flatnonzero(due_f):
            self.positions[:, lay.fut_cols[k]] = 0.0  # variation margin already settled it
            if int(lay.fut_cols[k]) in self.notional:
                self.notional[int(lay.fut_cols[k])][:] = 0.0
            self._settled_fut[k] = True
        left = np.concatenate([lay.opt_expiry_s[~self._settled_opt],
                               lay.fut_expiry_s[~self._settled_fut]])
        self._next_expiry = float(left.min()) if left.size else np.inf

    def equity(self, marks: Marks) -> FloatArray:
        """Cash plus the marks of value-carrying positions, ``(B,)``; the array is reused by the
        next call."""
        out = weighted_sum(self.positions, marks.price, self._value_list, self._equity, self._tmp)
        out += self.cash
        if self.coin is not None:
            for a in self.layout.coin_assets:
                out += self.coin[:, a] * marks.spot[:, a]
        return out

    def liquidate(self, marks: Marks, equity: FloatArray) -> BoolArray | None:
        """Close perps/futures on paths at or below maintenance; returns the newly liquidated
        paths (None when there are none)."""
        if not self._lin:
            return None
        mm = self.layout.costs.maintenance_margin
        q = self.positions
        if mm == 0.0:
            if not (equity <= 0.0).any():
                return None
            threshold: Any = np.zeros(self.paths)
            gross = np.zeros(self.paths)
            for c in self._lin:
                gross += np.abs(q[:, c])
        else:
            threshold = maintenance_requirement(self.layout, q, marks.notional)
            if not (equity <= threshold).any():
                return None
            gross = threshold
        hit = (gross > 0.0) & (equity <= threshold) & ~self.liquidated
        if not hit.any():
            return None
        gap = threshold[hit] - equity[hit]
        if self._gap_coin >= 0:  # losses of coin-settled contracts were paid in the coin
            assert self.coin is not None
            a = self._gap_coin
            self.coin[hit, a] += gap / marks.spot[hit, a]
        else:
            self.cash[hit] += gap
        equity[hit] = threshold[hit]
        for c in self._lin:
            self.positions[hit, c] = 0.0
            if c in self.notional:
                self.notional[c][hit] = 0.0
        self.liquidated |= hit
        return hit

    # ------------------------------------------------------------------ fills

    def execute(self, dec: Decision, marks: Marks, gas_ccy: Any) -> Fills:
        """Fill ``dec``'s orders at the marks plus slippage, within the limit price; pay costs."""
        lay = self.layout
        c = lay.costs
        q_all = dec.hedge_orders
        limits = dec.limit_price
        filled = np.empty_like(q_all)
        coin_cost: Any = 0.0  # numeraire value of the costs paid in coin
        fee_cost: Any = 0.0
        slip_cost: Any = 0.0
        any_fill: Any = False
        for j, col in enumerate(dec.hedge_cols):
            q = q_all[:, j]
            if lay.is_par_cash[col]:
                filled[:, j] = 0.0  # the cash balance itself: nothing to fill
                continue
            p = marks.price[:, col]
            k_imp = c.impact_units[col]
            slip: Any = c.slippage
            impact = k_imp or c.impact_notional
            if impact:
                k = impact_per_unit(c, k_imp, p)
                slip = slip + np.abs(q) * k
            if limits is not None:
                with np.errstate(invalid="ignore"):
                    room = np.abs(limits[:, j] / p - 1.0)
                room = np.where(np.isnan(room), np.inf, room)  # nan: no limit on this order
                if impact:
                    cap = np.maximum((room - c.slippage) / k, 0.0)
                    q = np.sign(q) * np.minimum(np.abs(q), cap)
                    slip = c.slippage + np.abs(q) * k
                else:
                    q = np.where(slip <= room + 1e-12, q, 0.0)
            filled[:, j] = q
            traded = np.abs(q, out=self._tmp)
            traded *= p
            if self._fee:
                if isinstance(fee_cost, float):
                    fee_cost = np.multiply(traded, self._fee, out=self._fee_buf)
                else:
                    fee_cost += traded * self._fee
            if impact or c.slippage:
                slip_cost = slip_cost + traded * slip
            a_coin = self._settle[col]
            if a_coin >= 0:  # coin-settled: premium, notional and costs in the coin
                coin_cost = self._coin_leg(col, a_coin, q, p, traded, slip, marks, coin_cost)
            elif self._carries[col]:
                np.multiply(q, p, out=self._tmp)
                self.cash -= self._tmp
            self.positions[:, col] += q
            nz = q != 0.0
            if dec.children is None:
                np.add(self.fills, nz, out=self.fills)
            else:  # several children of one order released in the same step
                self.fills += np.where(nz, dec.children[:, j], 0.0)
            any_fill = nz if isinstance(any_fill, bool) else (any_fill | nz)
        cost: Any = fee_cost if isinstance(slip_cost, float) else fee_cost + slip_cost
        if self._gas:
            gas = np.where(any_fill, gas_ccy, 0.0)
            self.gas += gas
            cost = cost + gas
        if not isinstance(fee_cost, float):
            self.fees += fee_cost
        if not isinstance(slip_cost, float):
            self.slippage += slip_cost
        if isinstance(cost, float):
            cost = np.zeros(self.paths)
        elif isinstance(coin_cost, float):
            self.cash -= cost
        else:
            self.cash -= cost - coin_cost
        if isinstance(any_fill, bool):
            any_fill = np.zeros(self.paths, dtype=bool)
        return Fills(qty=filled, cost=cost, filled=any_fill)

    def _coin_leg(self, col: int, a: int, q: FloatArray, p: FloatArray, traded: FloatArray,
                  slip: Any, marks: Marks, coin_cost: Any) -> Any:
        """Book a coin-settled fill of ``q`` at mark ``p``: an option's premium or an inverse
        contract's notional, and the leg's fee and slippage in the coin; returns the running
        numeraire value of coin-paid costs."""
        assert self.coin is not None
        s = marks.spot[:, a]
        if col in self.notional:
            self.notional[col] += q * p
        elif self._carries[col]:
            self.coin[:, a] -= q * p / s
        leg = traded * (self._fee + slip)
        self.coin[:, a] -= leg / s
        return leg if isinstance(coin_cost, float) else coin_cost + leg
