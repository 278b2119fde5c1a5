"""Index maps built once from the IR and a venue: which asset and instrument sits in which column.

Every array the kernel passes around is indexed by these maps: spots ``(B, A)`` over
:attr:`Layout.assets`, positions and orders ``(B, I)`` over :attr:`Layout.instruments`. The
layout also holds the few venue facts the planner needs to estimate costs and risk (fee,
slippage, impact, maintenance margin, funding rates, the risk-free rate) and the clock origin
that option expiries are measured from.

Conventions fixed here:

* Time ``t_s`` is seconds since :attr:`Layout.epoch_s`: UTC midnight of the venue's ``start``
  date (today when it has none). Years are 365 days. An expiry date means UTC midnight.
* USD, USDT and USDC are *par currencies*: worth 1 in the numeraire, no price, no delta.
* One unit of any instrument is one unit of its underlying; its *notional* is the
  underlying's spot (for options too).
* A perp, future or option whose ``settle`` is its underlying coin is *coin-settled*
  (:attr:`Layout.settle_asset`); the model of those is :mod:`.coins`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir

from .coins import settle_columns

__all__ = [
    "PAR_CURRENCIES",
    "column_index",
    "weighted_sum",
    "SECONDS_PER_YEAR",
    "Layout",
    "VenueCosts",
    "build_layout",
    "epoch_of",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

SECONDS_PER_YEAR = 365.0 * 86400.0
PAR_CURRENCIES = frozenset({"USD", "USDT", "USDC"})


@dataclass(frozen=True)
class VenueCosts:
    """What trading costs on the venue, as fractions of the trade price (one way).

    ``impact_units[i]`` is extra slippage per unit of instrument ``i`` traded and
    ``impact_notional`` extra slippage per unit of numeraire traded (the venue's ``impact``
    clause names one or the other). ``gas_eth`` is the gas of one transaction in ETH (0 when
    the venue charges none), priced with the ETH spot at column ``gas_asset``.

    ``static`` is True for a sim venue: these are the venue's facts for the whole run. A live
    venue states its facts each step in the :class:`~.context.MarketView`; here it has only
    planning estimates (the spec's ``max fee`` as the fee, no slippage, no maintenance margin,
    no gas), and the cost rules read the view's facts instead (``costs.py``).
    """

    fee: float
    slippage: float
    impact_units: FloatArray
    impact_notional: float
    maintenance_margin: float
    rate: float
    funding: FloatArray  # (I,) per year; positive: longs pay
    gas_gwei: float
    gas_eth: float
    gas_asset: int  # -1: no ETH price, gas is skipped
    gas_used: float = 0.0  # gas units of one transaction (sim venues)
    static: bool = True  # sim: facts for the whole run; live: per-step facts in the view

    @property
    def proportional(self) -> float:
        """Fee plus fixed slippage: the λ of the Whalley–Wilmott band."""
        return self.fee + self.slippage


@dataclass(frozen=True)
class Layout:
    """Column maps and static facts of one strategy on one venue."""

    numeraire: str
    assets: tuple[str, ...]
    instruments: tuple[str, ...]
    kinds: tuple[str, ...]
    underlying: IntArray  # (I,) asset column, -1 for par currencies
    is_option: BoolArray
    is_linear: BoolArray  # perps and futures: margined, no value of their own
    is_par_cash: BoolArray  # a cash instrument in a par currency: the cash balance itself
    carries_value: BoolArray  # spot, non-par cash and options count in equity at their price
    owned: BoolArray
    book: FloatArray  # (I,) initial positions from the spec's book
    membership: FloatArray  # (I, A): 1 where the instrument's underlying is that asset
    opt_cols: IntArray  # option columns
    opt_asset: IntArray  # their underlying columns
    opt_strike: FloatArray
    opt_call: BoolArray
    opt_expiry_s: FloatArray  # seconds since the epoch
    fut_cols: IntArray
    fut_expiry_s: FloatArray
    members: tuple[tuple[tuple[int, bool], ...], ...]  # per asset: (column, delta is always 1)
    settle_asset: IntArray  # (I,) asset column of the coin it settles in, -1: the numeraire
    is_inverse: BoolArray  # coin-settled perps and futures: a fixed notional in the numeraire
    coin_assets: IntArray  # asset columns some instrument settles in (coin balances)
    capital: float  # in the numeraire (0 when the spec names none)
    epoch_s: float  # unix time of t_s == 0
    costs: VenueCosts

    @property
    def has_coin(self) -> bool:
        """Whether some instrument settles in a coin (:mod:`.coins`)."""
        return bool(self.coin_assets.size)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def n_instruments(self) -> int:
        return len(self.instruments)

    def col(self, instrument: str) -> int:
        """Column of an instrument; KeyError names the unknown one."""
        try:
            return self.instruments.index(instrument)
        except ValueError:
            raise KeyError(f"unknown instrument {instrument!r}") from None

    def asset_col(self, asset: str) -> int:
        """Column of a priced asset, -1 for a par currency."""
        if asset in PAR_CURRENCIES:
            return -1
        try:
            return self.assets.index(asset)
        except ValueError:
            raise KeyError(f"no price for asset {asset!r}") from None


def column_index(cols: NDArray[np.intp] | list[int]) -> slice | NDArray[np.intp]:
    """A slice when ``cols`` are consecutive (views instead of copies), else the array."""
    return _column_index(tuple(int(c) for c in cols))


@functools.lru_cache(maxsize=256)
def _column_index(cols: tuple[int, ...]) -> slice | NDArray[np.intp]:
    arr = np.asarray(cols, dtype=np.intp)
    if arr.size and np.array_equal(arr, np.arange(arr[0], arr[0] + arr.size)):
        return slice(int(arr[0]), int(arr[0]) + arr.size)
    return arr


def weighted_sum(q: FloatArray, x: FloatArray, cols: list[int], out: FloatArray,
                 tmp: FloatArray) -> FloatArray:
    """``sum_c q[:, c] * x[:, c]`` into ``out`` (column loop for a few, einsum for many)."""
    if len(cols) > 3:
        idx = column_index(cols)
        np.einsum("ij,ij->i", q[:, idx], x[:, idx], out=out)
        return out
    for k, c in enumerate(cols):
        if k == 0:
            np.multiply(q[:, c], x[:, c], out=out)
        else:
            np.multiply(q[:, c], x[:, c], out=tmp)
            out += tmp
    if not cols:
        out[:] = 0.0
    return out


def epoch_of(start: dt.date | None) -> float:
    """Unix seconds of UTC midnight of ``start`` (today, UTC, when None)."""
    day = start if start is not None else dt.datetime.now(dt.UTC).date()
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _priced_assets(strategy: ir.Strategy, venue: ir.Venue | None) -> tuple[str, ...]:
    """Assets that need a price: underlyings that are not par currencies, then venue extras."""
    names: list[str] = []
    for inst in strategy.instruments:
        if inst.underlying not in PAR_CURRENCIES and inst.underlying not in names:
            names.append(inst.underlying)
    if venue is not None and isinstance(venue.config, ir.SimConfig):
        for a in venue.config.assets:
            if a.asset not in PAR_CURRENCIES and a.asset not in names:
                names.append(a.asset)
    return tuple(names)


def _venue_costs(
    strategy: ir.Strategy, venue: ir.Venue | None, instruments: tuple[str, ...],
    underlying_names: list[str], assets: tuple[str, ...],
) -> VenueCosts:
    n = len(instruments)
    funding = np.zeros(n)
    impact_units = np.zeros(n)
    impact_notional = 0.0
    cfg = venue.config if venue is not None else None
    if isinstance(cfg, ir.SimConfig):
        for f in cfg.funding:
            if f.instrument in instruments:
                funding[instruments.index(f.instrument)] = float(f.rate_per_year)
        if cfg.impact is not None:
            per = float(cfg.impact.value) / float(cfg.impact.per_s)
            if cfg.impact.asset in PAR_CURRENCIES or cfg.impact.asset is None:
                impact_notional = per
            else:
                for i, u in enumerate(underlying_names):
                    if u == cfg.impact.asset:
                        impact_units[i] = per
        gas_gwei = float(cfg.gas_price_gwei) if cfg.gas_price_gwei is not None else 0.0
        gas_eth = gas_gwei * float(cfg.gas_used or 0) * 1e-9
        gas_asset = assets.index("ETH") if "ETH" in assets else -1
        return VenueCosts(
            fee=float(cfg.fee), slippage=float(cfg.slippage), impact_units=impact_units,
            impact_notional=impact_notional, maintenance_margin=float(cfg.maintenance_margin),
            rate=float(cfg.rate), funding=funding, gas_gwei=gas_gwei, gas_eth=gas_eth,
            gas_asset=gas_asset if gas_eth > 0 else -1, gas_used=float(cfg.gas_used or 0),
        )
    # A live venue: the spec's own ceilings are the planner's estimate of what trading costs.
    fee = float(strategy.costs.max_fee) if strategy.costs.max_fee is not None else 0.0
    return VenueCosts(
        fee=fee, slippage=0.0, impact_units=impact_units, impact_notional=0.0,
        maintenance_margin=0.0, rate=0.0, funding=funding, gas_gwei=0.0, gas_eth=0.0,
        gas_asset=assets.index("ETH") if "ETH" in assets else -1, static=False,
    )


def _to_numeraire(amount: ir.Amount | None, assets: tuple[str, ...], spot0: dict[str, float]) -> float:
    if amount is None:
        return 0.0
    if amount.asset in PAR_CURRENCIES:
        return float(amount.value)
    return float(amount.value) * spot0.get(amount.asset, 1.0)


def build_layout(strategy: ir.Strategy, venue: ir.Venue | None = None, *,
                 epoch_s: float | None = None) -> Layout:
    """Precompute every index map for ``strategy`` on ``venue`` (a sim venue adds its assets)."""
    assets = _priced_assets(strategy, venue)
    names = tuple(i.name for i in strategy.instruments)
    n = len(names)
    underlying = np.array([-1 if i.underlying in PAR_CURRENCIES else assets.index(i.underlying)
                           for i in strategy.instruments], dtype=np.intp)
    kinds = tuple(i.kind for i in strategy.instruments)
    is_option = np.array([k == "option" for k in kinds])
    is_linear = np.array([k in ("perp", "future") for k in kinds])
    is_par_cash = np.array([k == "cash" and i.underlying in PAR_CURRENCIES
                            for k, i in zip(kinds, strategy.instruments, strict=True)])
    carries_value = ~is_linear
    owned = np.array([nm in strategy.owns for nm in names])
    book = np.zeros(n)
    for b in strategy.book:
        book[names.index(b.instrument)] += float(b.quantity)
    membership = np.zeros((n, len(assets)))
    for i, a in enumerate(underlying):
        if a >= 0:
            membership[i, a] = 1.0

    start = venue.config.start if venue is not None and isinstance(venue.config, ir.SimConfig) else None
    epoch = epoch_of(start) if epoch_s is None else float(epoch_s)

    def expiry_s(inst: ir.Instrument) -> float:
        assert inst.expiry is not None
        return epoch_of(inst.expiry) - epoch

    opts = [i for i, inst in enumerate(strategy.instruments) if inst.kind == "option"]
    futs = [i for i, inst in enumerate(strategy.instruments) if inst.kind == "future"]
    spot0: dict[str, float] = {}
    if venue is not None and isinstance(venue.config, ir.SimConfig):
        spot0 = {a.asset: float(a.spot) for a in venue.config.assets}
    underlying_names = [i.underlying for i in strategy.instruments]
    settle_asset = settle_columns(tuple(strategy.instruments), assets)
    return Layout(
        numeraire=strategy.numeraire,
        assets=assets,
        instruments=names,
        kinds=kinds,
        underlying=underlying,
        is_option=is_option,
        is_linear=is_linear,
        is_par_cash=is_par_cash,
        carries_value=carries_value,
        owned=owned,
        book=book,
        membership=membership,
        opt_cols=np.array(opts, dtype=np.intp),
        opt_asset=underlying[opts] if opts else np.zeros(0, dtype=np.intp),
        opt_strike=np.array([float(strategy.instruments[i].strike or 0) for i in opts]),
        opt_call=np.array([strategy.instruments[i].option_type == "call" for i in opts], dtype=bool),
        opt_expiry_s=np.array([expiry_s(strategy.instruments[i]) for i in opts]),
        fut_cols=np.array(futs, dtype=np.intp),
        fut_expiry_s=np.array([expiry_s(strategy.instruments[i]) for i in futs]),
        members=tuple(
            tuple((int(i), kinds[i] in ("spot", "perp", "cash")) for i in range(n)
                  if underlying[i] == a)
            for a in range(len(assets))),
        settle_asset=settle_asset,
        is_inverse=is_linear & (settle_asset >= 0),
        coin_assets=np.unique(settle_asset[settle_asset >= 0]).astype(np.intp),
        capital=_to_numeraire(strategy.capital, assets, spot0),
        epoch_s=epoch,
        costs=_venue_costs(strategy, venue, names, underlying_names, assets),
    )
