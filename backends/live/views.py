"""A venue snapshot as the kernel's inputs: a batch of one, in the layout's columns.

The adapter has already converted venue units (contracts, coin quotes) into the spec's units
(:mod:`rebal.backends.live.adapter`); this module only places the numbers in the kernel's
arrays and decides what a position *is* for the strategy:

* an owned or otherwise mapped instrument: the venue's position;
* a ``book`` instrument the venue does not list: the spec's ``book`` (it is held elsewhere);
* the par-cash instrument (USDC in a vault): its balance.

Coin-settled instruments (``kernel/coins.py``): the coin balance given to the kernel is the
venue's equity in each settle coin (ccxt's ``total``, Deribit's ``equity``: balance,
unrealised P&L and the value of its options) less the coin value of the coin-settled options
held (positions of their own, at the venue's mark), so the kernel sees what the simulator's
coin account holds, and counts its change since the first decision as delta.

Venue facts (taker fee, amount step, maintenance margin, gas) are passed as the venue states
them, so the kernel's ``max fee``, ``max gas``, ``max gas cost`` and ``liquidation buffer``
read today's numbers (maintenance margin per instrument: the venue's tiers,
``Snapshot.margin_tiers``, else its fraction, ``Snapshot.maintenance``, else the snapshot's
one fraction for perps and futures; an instrument the venue states nothing for counts none,
an option only what the venue states for it).

Per-asset volatility (``MarketView.vol``: option marks, ``implied_vol`` and the fallback of
``realized_vol``) is the venue's implied vol of the option nearest the money on that asset;
an asset without options uses the realized vol of the history read at start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rebal.backends.kernel.coins import coin_cash
from rebal.backends.kernel.context import MarketView, PortfolioView
from rebal.backends.kernel.layout import Layout
from rebal.backends.kernel.margin import MarginTiers
from rebal.compiler import ir

from .adapter import Snapshot

__all__ = ["BookDifference", "book_differences", "market_view", "portfolio_view", "spot_of"]


def spot_of(layout: Layout, snap: Snapshot, asset: str) -> float:
    """The numeraire price of ``asset``: the venue's index, else the mid of an instrument on it."""
    if asset in snap.index:
        return float(snap.index[asset])
    for i, name in enumerate(layout.instruments):
        a = int(layout.underlying[i])
        if a >= 0 and layout.assets[a] == asset and not layout.is_option[i] and name in snap.mid:
            return float(snap.mid[name])
    raise KeyError(f"the venue gives no price for {asset}")


def market_view(layout: Layout, snap: Snapshot, fallback_vol: Mapping[str, float]
                ) -> MarketView:
    """The kernel's market inputs for this snapshot (batch of one)."""
    n_a = layout.n_assets
    spot = np.empty((1, n_a), order="F")
    vol = np.empty((1, n_a), order="F")
    for a, asset in enumerate(layout.assets):
        spot[0, a] = spot_of(layout, snap, asset)
        vol[0, a] = _asset_vol(layout, snap, a, spot[0, a], fallback_vol.get(asset))
    funding = layout.costs.funding.copy()
    for i, name in enumerate(layout.instruments):
        if name in snap.funding:
            funding[i] = float(snap.funding[name])
    oracle = None
    if snap.oracle:
        oracle = spot.copy()
        for a, asset in enumerate(layout.assets):
            if asset in snap.oracle:
                oracle[0, a] = float(snap.oracle[asset])
    n_i = layout.n_instruments
    fee = np.zeros(n_i)
    step = np.zeros(n_i)
    for i, name in enumerate(layout.instruments):
        meta = snap.meta.get(name)
        if meta is not None:
            fee[i] = meta.taker_fee
            step[i] = meta.qty_step
    mm, tiers = None, None
    if snap.maintenance_margin is not None or snap.maintenance or snap.margin_tiers:
        mm = np.where(layout.is_option, 0.0, float(snap.maintenance_margin or 0.0))
        for i, name in enumerate(layout.instruments):
            if name in snap.maintenance:
                mm[i] = float(snap.maintenance[name])
        if snap.margin_tiers:
            tiers = MarginTiers.of(layout.instruments, mm, snap.margin_tiers)
    return MarketView(spot=spot, vol=vol, funding=funding, price_t=snap.price_time_s,
                      oracle=oracle, fee=fee if snap.meta else None, maintenance_margin=mm,
                      contract_size=step if snap.meta else None,
                      gas_price_gwei=snap.gas_price_gwei, base_fee_gwei=snap.base_fee_gwei,
                      gas_used=snap.gas_used, margin_tiers=tiers)


def _asset_vol(layout: Layout, snap: Snapshot, a: int, spot: float,
               fallback: float | None) -> float:
    best: tuple[float, float] | None = None
    for j, col in enumerate(layout.opt_cols):
        if int(layout.opt_asset[j]) != a:
            continue
        iv = snap.iv.get(layout.instruments[int(col)])
        if iv is None or not math.isfinite(iv) or iv <= 0.0:
            continue
        distance = abs(math.log(float(layout.opt_strike[j]) / spot))
        if best is None or distance < best[0]:
            best = (distance, float(iv))
    if best is not None:
        return best[1]
    if fallback is not None and math.isfinite(fallback) and fallback > 0.0:
        return float(fallback)
    return 0.0


def portfolio_view(layout: Layout, snap: Snapshot, venue: ir.Venue) -> PortfolioView:
    """Positions (units of each underlying) and equity (numeraire), batch of one."""
    pos = np.zeros((1, layout.n_instruments), order="F")
    for i, name in enumerate(layout.instruments):
        if name in venue.symbols:
            pos[0, i] = float(snap.positions.get(name, 0.0))
        else:
            pos[0, i] = float(layout.book[i])
    return PortfolioView(positions=pos, equity=np.array([float(snap.equity)]),
                         coin=_coin_balances(layout, snap, pos) if layout.has_coin else None)


def _coin_balances(layout: Layout, snap: Snapshot, pos: np.ndarray) -> np.ndarray:
    """Coin balances ``(1, A)`` in coins: the venue's coin equity less its coin options."""
    spot = np.ones((1, layout.n_assets))
    equity = np.zeros((1, layout.n_assets))
    for a in layout.coin_assets:
        asset = layout.assets[int(a)]
        spot[0, a] = spot_of(layout, snap, asset)
        equity[0, a] = float(snap.balances.get(asset, 0.0))
    price = np.zeros((1, layout.n_instruments))
    for i, name in enumerate(layout.instruments):
        price[0, i] = float(snap.mark.get(name, snap.mid.get(name, 0.0)))
    return coin_cash(layout.settle_asset, layout.is_option, equity, pos, price, spot)


@dataclass(frozen=True)
class BookDifference:
    """A ``book`` line whose venue position differs from what the spec declares."""

    instrument: str
    declared: float
    actual: float


def book_differences(strategy: ir.Strategy, snap: Snapshot, venue: ir.Venue,
                     tolerance: float = 1e-9) -> list[BookDifference]:
    """Book lines the venue lists with another position (reported by ``plan``, never assumed)."""
    out = []
    for line in strategy.book:
        if line.instrument not in venue.symbols:
            continue
        actual = float(snap.positions.get(line.instrument, 0.0))
        declared = float(line.quantity)
        if abs(actual - declared) > tolerance * max(1.0, abs(declared)):
            out.append(BookDifference(line.instrument, declared, actual))
    return out
