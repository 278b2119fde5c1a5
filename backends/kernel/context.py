"""The state of one decision step, with portfolio quantities computed only when read.

A :class:`StepContext` is made fresh for every ``decide`` call. Expressions, targets and the
gate all read the same instance, so a quantity several rules need (portfolio delta, leverage)
is computed once per step, and one no rule needs is never computed.

Portfolio greeks (per asset column, over every position, the spec's book included):

* ``delta_units``: sum of quantity x delta, in units of the underlying, plus the coin held
  in that asset because of coin-settled instruments (``coin_held``, :mod:`.coins`);
* ``gamma_units``: sum of quantity x d2V/dS2; ``vega_units``: per 1.00 of vol;
  ``theta_units``: per year, all in the settle currency.

``leverage`` is gross delta-equivalent exposure over equity: ``sum |q_i delta_i S_i| / E``
(infinite when equity is not positive). ``drawdown`` is ``1 - E / peak`` with the running
peak of equity the kernel has seen (0 while the peak is not positive), where ``E`` is the
strategy's equity: a coin-margined account's collateral counts at its price when the kernel
first decided (``strategy_equity``; :class:`.coins.CoinOrigin`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .coins import CoinOrigin
from .layout import Layout, weighted_sum
from .margin import MarginTiers
from .valuation import Marks

__all__ = ["EquityPeak", "MarketView", "PortfolioView", "StepContext", "gross_exposure", "gross_leverage",
           "unit_exposure"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class MarketView:
    """What the market looks like at one time, across the batch.

    ``spot`` and ``vol`` are ``(B, A)`` over the layout's assets (``vol`` marks options and is
    what ``implied_vol`` reads). ``funding`` is the annual funding rate per instrument, ``(I,)``
    or ``(B, I)`` (positive: longs pay), None for none. ``price_t`` is the time of the newest
    price (``price_age = t - price_t``; the kernel's own observation time when None), and
    ``oracle`` an independent reference price ``(B, A)`` for ``oracle_deviation``.

    Venue facts, as the venue states them this step (None: the layout's static value, which
    is the sim venue's; a live venue has none, so a rule that needs a missing fact refuses,
    see ``costs.py``): ``fee`` the taker fee fraction per instrument ``(I,)``;
    ``maintenance_margin`` the maintenance fraction of notional per instrument ``(I,)``
    (perps and futures; options: of their underlying notional ``|q| S``); ``margin_tiers``
    the venue's tier tables (:class:`.margin.MarginTiers`, which take precedence: an
    instrument without tiers holds its fraction as one tier; :meth:`margin` is what the gate
    reads);
    ``contract_size`` the smallest tradable step per instrument in units of its underlying
    ``(I,)`` (children are rounded down to whole steps; 0: any size); ``gas_price_gwei`` the
    gas price one transaction pays and ``base_fee_gwei`` the chain's base fee (scalars or
    ``(B,)``; the gas price defaults to the base fee); ``gas_used`` the gas of one transaction.
    """

    spot: FloatArray
    vol: FloatArray
    funding: FloatArray | None = None
    price_t: FloatArray | float | None = None
    oracle: FloatArray | None = None
    fee: FloatArray | None = None
    maintenance_margin: FloatArray | None = None
    contract_size: FloatArray | None = None
    gas_price_gwei: FloatArray | float | None = None
    base_fee_gwei: FloatArray | float | None = None
    gas_used: float | None = None
    margin_tiers: MarginTiers | None = None

    def margin(self) -> FloatArray | MarginTiers | None:
        """The venue's maintenance margin as the gate weighs it: its tiers, else its
        fractions, else None (the layout's ``maintenance margin``)."""
        return self.margin_tiers if self.margin_tiers is not None else self.maintenance_margin

    def gas_gwei(self) -> FloatArray | float | None:
        """The gas price a transaction pays now: the stated price, else the base fee."""
        return self.gas_price_gwei if self.gas_price_gwei is not None else self.base_fee_gwei


@dataclass(frozen=True, eq=False)
class PortfolioView:
    """Positions ``(B, I)`` in units of each instrument's underlying and equity ``(B,)``.

    ``coin`` ``(B, A)``: coin balances per asset column, in coins, where some instrument settles
    in that coin (:mod:`.coins`): the simulator's coin accounts, a live venue's coin equity less
    its coin options (``coins.coin_cash``); None: no coin balance (every other column 0).
    """

    positions: FloatArray
    equity: FloatArray
    coin: FloatArray | None = None


def unit_exposure(marks: Marks) -> FloatArray:
    """Delta-equivalent exposure of one unit of each instrument, ``|delta S|``, ``(B, I)``."""
    return np.abs(marks.delta * marks.notional)


def gross_exposure(positions: FloatArray, unit: FloatArray) -> FloatArray:
    """Gross delta-equivalent exposure ``sum |q| |delta S|``, numeraire, ``(B,)``."""
    return (np.abs(positions) * unit).sum(axis=1)  # type: ignore[no-any-return]


def gross_leverage(exposure: FloatArray, equity: FloatArray) -> FloatArray:
    """Gross exposure over equity, infinite where equity is not positive, ``(B,)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = exposure / equity
    return np.where(equity > 0.0, lev, np.inf)


class EquityPeak:
    """The running peak of equity per row, and the drawdown from it: ``1 - E / peak`` (0 while
    the peak is not positive). The kernel keeps one over the equity it decides on (``halt when
    drawdown``); the simulator one over the equity after each step's trades (the
    ``max_drawdown`` figure), starting at the initial equity."""

    def __init__(self, batch: int, start: FloatArray | None = None) -> None:
        self.peak = np.full(batch, -np.inf) if start is None else np.array(start, dtype=float)
        self._positive = start is not None and bool((self.peak > 0.0).all())
        self._min_ratio = np.ones(batch)  # lowest E / peak seen by track()

    def update(self, equity: FloatArray) -> None:
        np.maximum(self.peak, equity, out=self.peak)

    def drawdown(self, equity: FloatArray) -> FloatArray:
        peak = self.peak
        with np.errstate(divide="ignore", invalid="ignore"):
            dd = 1.0 - equity / peak
        return np.where(peak > 0.0, np.maximum(dd, 0.0), 0.0)

    def track(self, equity: FloatArray, scratch: FloatArray) -> None:
        """:meth:`update`, then remember the deepest drawdown (``max_drawdown``)."""
        self.update(equity)
        if self._positive:  # the peak never falls below a positive start
            np.divide(equity, self.peak, out=scratch)
            np.minimum(self._min_ratio, scratch, out=self._min_ratio)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(self.peak > 0.0, equity / self.peak, 1.0)
            np.minimum(self._min_ratio, ratio, out=self._min_ratio)

    @property
    def max_drawdown(self) -> FloatArray:
        """The deepest drawdown :meth:`track` has seen, ``(B,)``."""
        return 1.0 - self._min_ratio


class StepContext:
    """Inputs of one step plus lazily computed portfolio measures."""

    def __init__(self, t_s: float, layout: Layout, market: MarketView,
                 portfolio: PortfolioView,
                 marks: Marks, peak: EquityPeak | FloatArray, observed_t: float | None,
                 coin_held: FloatArray | None = None,
                 coin_origin: CoinOrigin | None = None) -> None:
        self.t_s = t_s
        self.layout = layout
        self.market = market
        self.marks = marks
        self.positions = portfolio.positions
        self.equity = portfolio.equity
        self.peak = peak if isinstance(peak, EquityPeak) else EquityPeak(
            portfolio.positions.shape[0], start=peak)
        self.observed_t = observed_t
        self.batch = portfolio.positions.shape[0]
        self.coin_held = coin_held  # (B, A) delta-carrying coin (coins.CoinOrigin), or None
        self.coin_origin = coin_origin
        self._delta: dict[int, FloatArray] = {}

    @cached_property
    def spot(self) -> FloatArray:
        return self.market.spot

    def delta_of(self, a: int) -> FloatArray:
        """Portfolio delta in asset column ``a``, units of the underlying, ``(B,)``."""
        got = self._delta.get(a)
        if got is not None:
            return got
        q, delta = self.positions, self.marks.delta
        members = self.layout.members[a]
        others = [c for c, unit in members if not unit]
        if len(others) > 3:
            total = weighted_sum(q, delta, others, np.empty(self.batch), np.empty(0))
            for c, unit in members:
                if unit:
                    total += q[:, c]
        else:
            acc: FloatArray | None = None
            for c, unit in sorted(members, key=lambda m: m[1]):  # products first: no copy
                if acc is None:
                    acc = q[:, c].copy() if unit else q[:, c] * delta[:, c]
                elif unit:
                    acc += q[:, c]
                else:
                    acc += q[:, c] * delta[:, c]
            total = acc if acc is not None else np.zeros(self.batch)
        if self.coin_held is not None:
            total = total + self.coin_held[:, a]
        self._delta[a] = total
        return total

    @cached_property
    def delta_units(self) -> FloatArray:
        """Portfolio delta per asset, units of the underlying, ``(B, A)``."""
        out = np.empty((self.batch, self.layout.n_assets), order="F")
        for a in range(self.layout.n_assets):
            out[:, a] = self.delta_of(a)
        return out

    def _option_sum(self, greek: FloatArray | None) -> FloatArray:
        lay = self.layout
        out = np.zeros((self.batch, lay.n_assets), order="F")
        if greek is None or lay.opt_cols.size == 0:
            return out
        weighted = self.positions[:, lay.opt_cols] * greek
        for j, a in enumerate(lay.opt_asset):
            out[:, a] += weighted[:, j]
        return out

    @cached_property
    def gamma_units(self) -> FloatArray:
        """Portfolio d2V/dS2 per asset, ``(B, A)``."""
        return self._option_sum(self.marks.gamma)

    @cached_property
    def vega_units(self) -> FloatArray:
        """Portfolio dV/dsigma per asset (per 1.00 of vol), ``(B, A)``."""
        return self._option_sum(self.marks.vega)

    @cached_property
    def theta_units(self) -> FloatArray:
        """Portfolio dV/dt per asset, per year, ``(B, A)``."""
        return self._option_sum(self.marks.theta)

    @cached_property
    def exposure_price(self) -> FloatArray:
        """Value per unit used for weights: notional for perps/futures, price otherwise."""
        lay = self.layout
        if not lay.is_linear.any():
            return self.marks.price
        return np.where(lay.is_linear, self.marks.notional, self.marks.price)

    @cached_property
    def gross_exposure(self) -> FloatArray:
        """Sum over positions of ``|q delta S|`` in the numeraire, ``(B,)``."""
        return gross_exposure(self.positions, unit_exposure(self.marks))

    @cached_property
    def leverage(self) -> FloatArray:
        """Gross leverage (the only "leverage"): :func:`gross_leverage`."""
        return gross_leverage(self.gross_exposure, self.equity)

    @cached_property
    def strategy_equity(self) -> FloatArray:
        """Equity with any coin collateral at its price when the kernel first decided
        (:meth:`.coins.CoinOrigin.strategy_equity`); ``equity`` itself without collateral."""
        if self.coin_origin is None:
            return self.equity
        return self.coin_origin.strategy_equity(self.equity, self.marks.spot)

    @cached_property
    def drawdown(self) -> FloatArray:
        """Fall of the strategy's equity from its running peak (collateral at its origin
        price: a coin-margined account's collateral moving is not the strategy's loss)."""
        return self.peak.drawdown(self.strategy_equity)

    @cached_property
    def price_age(self) -> FloatArray | float:
        pt = self.market.price_t
        if pt is None:
            return 0.0 if self.observed_t is None else max(self.t_s - self.observed_t, 0.0)
        return np.maximum(self.t_s - np.asarray(pt, dtype=np.float64), 0.0)

    @cached_property
    def oracle_deviation(self) -> FloatArray | float:
        if self.market.oracle is None:
            return 0.0
        dev: FloatArray = np.abs(self.market.oracle / self.market.spot - 1.0).max(axis=1)
        return dev

    def funding(self, col: int) -> FloatArray | float:
        f = self.market.funding
        if f is None:
            return float(self.layout.costs.funding[col])
        f = np.asarray(f)
        return float(f[col]) if f.ndim == 1 else f[:, col]
