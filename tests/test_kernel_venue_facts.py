"""Venue facts are inputs: on a live venue (batch of one, epoch 0) the gas price, gas used,
fees, maintenance margin and contract size come with each step's MarketView, and `max gas`,
`max gas cost` and `max fee` are enforced from them, refused under their own names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from rebal.backends.kernel import Kernel, MarketView, PortfolioView
from rebal.backends.kernel.gate import liquidation_distance, maintenance_requirement
from rebal.compiler import compile_file, ir

SPECS = Path(__file__).resolve().parent.parent / "specs"
NOW = 1_780_000_000.0  # unix seconds: a live kernel's t_s


def spec(name: str) -> ir.Strategy:
    s, diags = compile_file(SPECS / f"{name}.rebal")
    assert s is not None, [d.message for d in diags]
    return s


def refused(k: Kernel, market: MarketView, positions: np.ndarray, equity: float) -> str:
    k.observe(NOW, market.spot)
    dec = k.decide(NOW, market, PortfolioView(positions, np.array([equity])))
    assert dec.triggered[0], "the test state must ask for a trade"
    name = k.refusal_names[int(dec.refused[0])]
    assert name in k.refusal_names
    if name:
        assert not dec.any_orders and not dec.hedge_orders.any()
    else:
        assert dec.any_orders
    return name


# --------------------------------------------------------------------------- keeper: gas


def vault() -> tuple[Kernel, np.ndarray]:
    k = Kernel.build(spec("eth_cppi_vault"), "mainnet", 1, epoch_s=0.0)
    pos = np.zeros((1, k.layout.n_instruments))
    pos[0, k.layout.col("USDC")] = 1e6  # all cash: CPPI wants 800k of WETH
    return k, pos


def eth_view(**facts: object) -> MarketView:
    return MarketView(spot=np.array([[3000.0]]), vol=np.array([[0.75]]), price_t=NOW,
                      **facts)  # type: ignore[arg-type]


def test_keeper_venue_builds_the_gas_rules_the_spec_sets() -> None:
    k, _ = vault()
    assert {"max gas", "max gas cost"} <= set(k.refusal_names)


@pytest.mark.parametrize(("facts", "want"), [
    ({"gas_price_gwei": 30.0, "gas_used": 180_000.0}, ""),  # 16.2 USD of gas
    ({"gas_price_gwei": 45.0, "gas_used": 100_000.0}, "max gas"),  # price above 40 gwei
    ({"base_fee_gwei": 41.0, "gas_used": 100_000.0}, "max gas"),  # the base fee alone
    ({"gas_price_gwei": 35.0, "gas_used": 300_000.0}, "max gas cost"),  # 31.5 USD > 25
    ({"gas_used": 100_000.0}, "max gas"),  # no gas price stated: cannot check, refused
    ({"gas_price_gwei": 30.0}, "max gas cost"),  # no gas used stated: refused
])
def test_keeper_gas_limits_are_enforced_from_the_view(facts: dict, want: str) -> None:
    k, pos = vault()
    assert refused(k, eth_view(**facts), pos, 1e6) == want


def test_the_estimated_cost_carries_the_views_gas() -> None:
    k, pos = vault()
    k.observe(NOW, np.array([[3000.0]]))
    dec = k.decide(NOW, eth_view(gas_price_gwei=30.0, gas_used=180_000.0),
                   PortfolioView(pos, np.array([1e6])))
    assert dec.est_cost is not None
    # no fee or slippage on a live venue's estimate: the gas of one transaction
    assert dec.est_cost[0] == pytest.approx(30e-9 * 180_000 * 3000.0)


# --------------------------------------------------------------------------- ccxt: fees


def straddle() -> tuple[Kernel, np.ndarray]:
    k = Kernel.build(spec("eth_straddle_hedge"), "deribit", 1, epoch_s=0.0)
    pos = np.tile(k.layout.book, (1, 1))
    pos[0, k.layout.col("PERP")] = 4.0  # well outside the delta band
    return k, pos


def test_ccxt_max_fee_is_checked_against_the_markets_fee() -> None:
    k, pos = straddle()
    n = k.layout.n_instruments
    perp = k.layout.col("PERP")
    view = {"spot": np.array([[3000.0]]), "vol": np.array([[0.6]]), "price_t": NOW}
    low = np.full(n, 0.0003)
    assert refused(k, MarketView(**view, fee=low), pos, 150_000.0) == ""
    k, pos = straddle()
    high = low.copy()
    high[perp] = 0.0006  # the traded leg's fee is above 5 bps
    assert refused(k, MarketView(**view, fee=high), pos, 150_000.0) == "max fee"
    k, pos = straddle()
    other = low.copy()
    other[k.layout.col("ETH_C")] = 0.01  # an instrument not traded: no refusal
    assert refused(k, MarketView(**view, fee=other), pos, 150_000.0) == ""
    k, pos = straddle()
    assert refused(k, MarketView(**view), pos, 150_000.0) == "max fee"  # fee unknown


def test_a_live_kernel_clock_is_unix_time() -> None:
    k, _ = straddle()
    expiry = k.layout.opt_expiry_s[0]
    assert expiry == dt.datetime(2026, 12, 25, tzinfo=dt.UTC).timestamp()


# --------------------------------------------------------------------------- margin, lots


def test_maintenance_margin_per_instrument_from_the_view() -> None:
    k, _ = straddle()
    market = MarketView(spot=np.array([[3000.0]]), vol=np.array([[0.6]]))
    marks = k.mark(NOW, market)
    perp = k.layout.col("PERP")
    q = np.zeros((1, k.layout.n_instruments))
    q[0, perp] = 10.0
    mm = np.zeros(k.layout.n_instruments)
    mm[perp] = 0.05
    req = maintenance_requirement(k.layout, q, marks.notional, mm)
    assert req[0] == pytest.approx(0.05 * 10 * 3000.0)
    assert maintenance_requirement(k.layout, q, marks.notional)[0] == 0.0  # none stated
    # a 10 ETH long of the spec's inverse perp (settle ETH: 30000 USD of contracts) on 6000 of
    # equity: its margin 0.05 x 30000 is fixed in USD, E + 30000 x = 1500 -> x = -0.15
    # (a linear perp's margin would move with the price: 4500 / 28500)
    dist = liquidation_distance(k.layout, q, marks, np.array([6000.0]), mm)
    assert dist[0] == pytest.approx(4500.0 / 30000.0)
    assert liquidation_distance(k.layout, q, marks, np.array([6000.0]))[0] == pytest.approx(0.2)


def test_children_are_whole_contracts() -> None:
    k, pos = straddle()
    n = k.layout.n_instruments
    lot = np.zeros(n)
    lot[k.layout.col("PERP")] = 1.0
    market = MarketView(spot=np.array([[3000.0]]), vol=np.array([[0.6]]), price_t=NOW,
                        fee=np.full(n, 0.0003), contract_size=lot)
    k.observe(NOW, market.spot)
    dec = k.decide(NOW, market, PortfolioView(pos, np.array([150_000.0])))
    q = dec.orders[0, k.layout.col("PERP")]
    assert q != 0.0 and q == np.round(q)
