"""Unit behaviours of the shared decision kernel, one rule at a time, on hand-made states.

Every test compiles a small spec, builds the kernel for a batch of a few paths, feeds it a
market and positions it chose, and checks the orders (or refusals) the kernel decides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rebal.backends.kernel import Fills, Kernel, MarketView, PortfolioView
from rebal.backends.kernel.triggers import BREACH, CLOCK, MODE, SPLIT
from rebal.compiler import compile_text, ir

SPECS = Path(__file__).resolve().parent.parent / "specs"
VENUE = "ETH spot 3000 USD vol 60% start 2026-01-01 horizon 1d step 1h paths 4"
HOUR = 3600.0


def strategy(body: str, venue: str = VENUE, capital: str = "100000 USD") -> ir.Strategy:
    text = f"strategy t {{\n capital {capital}\n {body}\n venue sim via sim {{ {venue} }}\n}}"
    s, diags = compile_text(text)
    assert s is not None, [f"{d.code} {d.message}" for d in diags]
    return s


PERP_DELTA = """
  instruments {{ PERP perp ETH }}
  owns PERP
  target delta 0 ETH {{ {band} hedge with PERP {rebalance} }}
  trigger {{ {trigger} }}
  costs {{ {costs} }}
  risk {{ {risk} }}
"""


def perp_delta(band: str = "band 0.5 ETH", rebalance: str = "", trigger: str = "on breach",
               costs: str = "max slippage 50 bps", risk: str = "max leverage 100x",
               extra: str = "", venue: str = VENUE) -> ir.Strategy:
    body = PERP_DELTA.format(band=band, rebalance=rebalance, trigger=trigger, costs=costs,
                             risk=risk) + extra
    return strategy(body, venue)


class Driver:
    """Feeds a kernel hand-made states and fills every order completely."""

    def __init__(self, s: ir.Strategy, batch: int, spot: float = 3000.0) -> None:
        self.k = Kernel.build(s, "sim", batch)
        self.b = batch
        self.n_assets = self.k.layout.n_assets
        self.spot = np.full((batch, self.n_assets), spot)
        self.vol = np.full((batch, self.n_assets), 0.6)
        self.pos = np.zeros((batch, self.k.layout.n_instruments), order="F")
        self.pos[:] = self.k.layout.book
        self.equity = np.full(batch, 100000.0)

    def col(self, name: str) -> int:
        return self.k.layout.col(name)

    def step(self, t: float, fill: bool = True, funding: np.ndarray | None = None):
        market = MarketView(spot=self.spot, vol=self.vol, funding=funding)
        self.k.observe(t, self.spot)
        dec = self.k.decide(t, market, PortfolioView(self.pos, self.equity))
        if fill and dec.any_orders:
            self.pos[:, dec.hedge_cols] += dec.hedge_orders
            self.k.record(dec, Fills(qty=dec.hedge_orders.copy(), cost=np.zeros(self.b)))
        return dec

    def orders(self, dec, name: str) -> np.ndarray:
        return dec.orders[:, self.col(name)]


# --------------------------------------------------------------------------- bands


def test_symmetric_band_trades_only_outside_and_back_to_center() -> None:
    d = Driver(perp_delta("band 0.5 ETH"), 4)
    d.pos[:, d.col("PERP")] = [0.4, 0.6, -0.6, -0.5]
    dec = d.step(0.0)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -0.6, 0.6, 0.0])
    assert dec.band_lo[0, 0] == pytest.approx(-0.5) and dec.band_hi[0, 0] == pytest.approx(0.5)
    np.testing.assert_array_equal(dec.reason, [0, BREACH, BREACH, 0])


def test_asymmetric_band_uses_absolute_levels() -> None:
    d = Driver(perp_delta("band -0.3 ETH to 0.8 ETH"), 4)
    d.pos[:, d.col("PERP")] = [0.7, 0.9, -0.2, -0.4]
    dec = d.step(0.0)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -0.9, 0.0, 0.4])


def test_delta_target_in_a_currency_measures_delta_times_spot() -> None:
    s = strategy("""
      instruments { PERP perp ETH }
      owns PERP
      target delta 0 USD { band 1500 USD hedge with PERP }
      trigger { on breach }
    """)
    d = Driver(s, 2)
    d.pos[:, d.col("PERP")] = [0.45, 0.55]  # 1350 and 1650 USD of delta
    dec = d.step(0.0)
    np.testing.assert_allclose(dec.measure[:, 0], [1350.0, 1650.0])
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -0.55])


def test_relative_weight_band_is_a_fraction_of_the_target() -> None:
    s = strategy("""
      instruments { PERP perp ETH }
      owns PERP
      target weights { PERP 50% band 10% relative }
      trigger { on breach }
    """)
    d = Driver(s, 3)
    # weight = q * S / equity: 45%..55% is 15..18.333 ETH at 3000 on 100k.
    d.pos[:, d.col("PERP")] = [16.0, 18.5, 14.8]
    dec = d.step(0.0)
    assert dec.band_lo[0, 0] == pytest.approx(0.45) and dec.band_hi[0, 0] == pytest.approx(0.55)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, 50 / 3 - 18.5, 50 / 3 - 14.8])


def test_expression_band_follows_realized_vol() -> None:
    s = perp_delta("band 0.5 ETH * clamp(realized_vol(ETH, 4h) / 60%, 0.5, 3)")
    d = Driver(s, 2)
    x = 0.01  # alternate +-1% log moves every hour
    for i in range(5):
        d.spot[:] = 3000.0 * np.exp(x * (i % 2))
        dec = d.step(i * HOUR, fill=False)
    vol = x * np.sqrt(365 * 24)  # four returns in the 4h window, one per hour
    want = 0.5 * np.clip(vol / 0.6, 0.5, 3.0)
    np.testing.assert_allclose(dec.band_hi[:, 0], want, rtol=1e-12)


def test_optimal_band_is_whalley_wilmott_with_the_book_gamma() -> None:
    from rebal.backends.kernel.pricing import bs_greeks

    s = strategy("""
      instruments { C option ETH call strike 3000 USD expiry 2026-07-02  PERP perp ETH }
      book { C -10 }
      owns PERP
      target delta 0 ETH { band optimal(risk_aversion 0.5) hedge with PERP }
      trigger { on breach }
    """, venue="ETH spot 3000 USD vol 60% fee 4 bps slippage 1 bps start 2026-01-01 "
               "horizon 1d step 1h paths 2")
    d = Driver(s, 2)
    d.spot[:, 0] = [2900.0, 3100.0]
    dec = d.step(0.0, fill=False)
    tau = 182 / 365
    g = bs_greeks(d.spot[:, 0], 3000.0, tau, 0.6).gamma * -10.0
    lam, gamma_r = 0.0005, 0.5
    h = np.cbrt(3 * lam * d.spot[:, 0] * g**2 / (2 * gamma_r))
    np.testing.assert_allclose(dec.band_hi[:, 0] - dec.center[:, 0], h, rtol=1e-9)


# --------------------------------------------------------------------------- rebalance


@pytest.mark.parametrize(("rebalance", "want"), [
    ("rebalance to center", -0.8), ("rebalance to edge", -0.3), ("recenter 50%", -0.4)])
def test_rebalance_to_center_edge_and_recenter(rebalance: str, want: float) -> None:
    d = Driver(perp_delta("band 0.5 ETH", rebalance), 1)
    d.pos[:, d.col("PERP")] = 0.8
    dec = d.step(0.0)
    assert d.orders(dec, "PERP")[0] == pytest.approx(want)


# --------------------------------------------------------------------------- triggers


def test_cooldown_blocks_a_second_action_until_it_has_passed() -> None:
    d = Driver(perp_delta(trigger="on breach cooldown 1h"), 1)
    d.pos[:, 0] = 1.0
    assert d.step(0.0).any_orders
    d.pos[:, 0] = 1.0  # drifted out again
    assert not d.step(0.5 * HOUR).any_orders
    assert d.step(1.0 * HOUR).any_orders


def test_every_fires_on_the_clock_even_inside_the_band() -> None:
    d = Driver(perp_delta(trigger="every 1h"), 1)
    d.pos[:, 0] = 0.3  # inside the band: no breach trigger is declared anyway
    dec = d.step(0.0)
    assert dec.reason[0] == CLOCK and d.orders(dec, "PERP")[0] == pytest.approx(-0.3)
    d.pos[:, 0] = 0.2
    assert not d.step(0.5 * HOUR).any_orders
    dec = d.step(1.0 * HOUR)
    assert dec.reason[0] == CLOCK and d.orders(dec, "PERP")[0] == pytest.approx(-0.2)


def test_every_accepts_an_expression() -> None:
    # 2h while realized vol is low: the first return is 0 so the period is 2h.
    d = Driver(perp_delta(trigger="every 1h * clamp(1 + realized_vol(ETH, 1d), 2, 4)"), 1)
    d.pos[:, 0] = 0.1
    assert d.step(0.0).any_orders
    d.pos[:, 0] = 0.1
    assert not d.step(1.0 * HOUR).any_orders
    assert d.step(2.0 * HOUR).any_orders


def test_a_mode_switches_on_and_off_and_overrides_the_cooldown() -> None:
    extra = "mode fast when abs(delta) > 3 ETH { cooldown 0s }"
    d = Driver(perp_delta(trigger="on breach cooldown 1h", extra=extra), 1)
    d.pos[:, 0] = 1.0
    assert d.step(0.0).any_orders  # base rules
    d.pos[:, 0] = 4.0  # mode on: no cooldown
    dec = d.step(600.0)
    assert dec.any_orders and dec.reason[0] == MODE
    assert dec.reason_name(0, d.k.mode_names) == "mode:fast"
    d.pos[:, 0] = 1.0  # mode off again: the 1h cooldown from the last trade applies
    dec = d.step(1200.0)
    assert not dec.any_orders and dec.mode is not None and dec.mode[0] == -1


# --------------------------------------------------------------------------- orders


def test_min_trade_skips_dust_in_units_and_in_a_currency() -> None:
    for costs in ("min trade 0.1 ETH", "min trade 300 USD"):
        d = Driver(perp_delta("", trigger="every 1h", costs=costs), 2)
        d.pos[:, 0] = [0.05, 0.2]
        dec = d.step(0.0)
        np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -0.2])


def test_split_releases_one_child_per_period() -> None:
    d = Driver(perp_delta(costs="split 5 ETH every 2m"), 1)
    d.pos[:, 0] = -12.0
    sizes, reasons = [], []
    for minute in range(0, 8):
        dec = d.step(minute * 60.0)
        sizes.append(float(d.orders(dec, "PERP")[0]))
        reasons.append(int(dec.reason[0]))
    assert sizes == pytest.approx([5, 0, 5, 0, 2, 0, 0, 0])
    assert reasons == [BREACH, 0, SPLIT, 0, SPLIT, 0, 0, 0]


def test_split_with_a_step_longer_than_the_period_sends_floor_step_over_period() -> None:
    d = Driver(perp_delta(costs="split 5 ETH every 2m"), 1)
    d.pos[:, 0] = 0.0
    d.step(-300.0)  # a first observation, 5 minutes before
    d.pos[:, 0] = -30.0
    sizes = []
    for i in range(4):
        dec = d.step(i * 300.0)
        sizes.append(float(d.orders(dec, "PERP")[0]))
    assert sizes == pytest.approx([10, 10, 10, 0])  # floor(5m / 2m) = 2 children a step


def test_budget_refuses_once_exhausted_and_recovers_after_the_window() -> None:
    fee_venue = VENUE.replace("vol 60%", "vol 60% fee 10 bps")  # 3 USD to trade 1 ETH
    d = Driver(perp_delta("", trigger="every 1h", costs="budget 10 USD per 1d",
                          venue=fee_venue), 1)
    sent = []
    for h in range(6):
        d.pos[:, 0] = 1.0  # every hour 1 ETH to sell
        market = MarketView(spot=d.spot, vol=d.vol)
        dec = d.k.decide(h * HOUR, market, PortfolioView(d.pos, d.equity))
        sent.append(bool(dec.any_orders))
        if dec.any_orders:
            d.k.record(dec, Fills(qty=dec.hedge_orders.copy(), cost=np.full(1, 4.0)))
        else:
            assert d.k.refusal_names[dec.refused[0]] == "budget"
    assert sent == [True, True, False, False, False, False]  # 4 + 4 spent, + 3 is over 10
    d.pos[:, 0] = 1.0
    market = MarketView(spot=d.spot, vol=d.vol)
    assert d.k.decide(26 * HOUR, market, PortfolioView(d.pos, d.equity)).any_orders


def test_max_funding_refuses_to_grow_the_paying_side() -> None:
    funding = np.array([0.2])  # longs pay 20% a year, above the 10% limit
    d = Driver(perp_delta("band 0.5 ETH", costs="max funding 10% per 1y"), 3)
    d.pos[:, 0] = [-2.0, 2.0, -1.0]  # buy back shorts, sell longs: never grows the long side
    dec = d.step(0.0, funding=funding)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [2.0, -2.0, 1.0])
    assert not dec.refused.any()
    long_target = PERP_DELTA.replace("target delta 0 ETH", "target delta 3 ETH").format(
        band="band 0.5 ETH", rebalance="", trigger="on breach", costs="max funding 10% per 1y",
        risk="max leverage 100x")
    d3 = Driver(strategy(long_target), 2)
    d3.pos[:, 0] = [-1.0, 1.0]
    dec = d3.step(0.0, funding=funding)
    np.testing.assert_allclose(d3.orders(dec, "PERP"), [1.0, 0.0])  # flat at most, not long
    assert [d3.k.refusal_names[c] for c in dec.refused] == ["max funding", "max funding"]
    dec = Driver(strategy(long_target), 1)
    dec.pos[:, 0] = 1.0
    assert dec.orders(dec.step(0.0, funding=np.array([0.05])), "PERP")[0] == pytest.approx(2.0)


# --------------------------------------------------------------------------- gate


def test_max_position_refuses_growth_but_allows_reduction() -> None:
    s = strategy("""
      instruments { S spot ETH  PERP perp ETH }
      book { S 3 }
      owns PERP
      target delta 0 ETH { band 0.5 ETH hedge with PERP }
      trigger { on breach }
      risk { max position PERP 3.5 ETH }
    """)
    d = Driver(s, 2)
    d.pos[:, d.col("S")] = [5.0, 3.0]  # path 0's holding grew: the hedge would be -5 ETH
    d.pos[:, d.col("PERP")] = [0.0, -4.5]  # path 1 is over the limit and comes back to -3
    dec = d.step(0.0)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, 1.5])
    assert d.k.refusal_names[dec.refused[0]] == "max position PERP" and dec.refused[1] == 0


def test_halt_is_sticky_until_the_operator_resumes() -> None:
    d = Driver(perp_delta(trigger="every 1h", risk="halt when drawdown > 10%"), 2)
    d.pos[:, 0] = 1.0
    assert d.step(0.0).any_orders
    d.equity = np.array([85000.0, 95000.0])  # path 0 is 15% down
    d.pos[:, 0] = 1.0
    dec = d.step(HOUR)
    np.testing.assert_array_equal(dec.halted, [True, False])
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -1.0])
    d.equity = np.array([120000.0, 120000.0])  # recovered: still halted
    d.pos[:, 0] = 1.0
    dec = d.step(2 * HOUR)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -1.0])
    d.k.resume()
    d.pos[:, 0] = 1.0
    dec = d.step(3 * HOUR)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [-1.0, -1.0])


def test_max_orders_per_window() -> None:
    d = Driver(perp_delta("", trigger="every 1m", risk="max orders 3 per 1h"), 1)
    sent = []
    for m in range(6):
        d.pos[:, 0] = 1.0
        sent.append(bool(d.step(m * 60.0).any_orders))
    assert sent == [True, True, True, False, False, False]
    assert d.k.refusal_names[d.step(6 * 60.0).refused[0]] == "max orders"


# --------------------------------------------------------------------------- targets


def test_joint_delta_and_vega_solve_with_perp_and_c2() -> None:
    s, _ = compile_text(_spec("btc_optimal_band"))
    assert s is not None
    k = Kernel.build(s, "paper", 2, epoch_s=_epoch("2026-11-22"))
    lay = k.layout
    spot = np.array([[95000.0], [105000.0]])
    vol = np.full((2, 1), 0.55)
    pos = np.zeros((2, lay.n_instruments), order="F")
    pos[:, lay.col("C1")] = 25.0
    equity = np.full(2, 1_000_000.0)
    market = MarketView(spot=spot, vol=vol)
    dec = k.decide(0.0, market, PortfolioView(pos, equity))
    assert dec.any_orders and not dec.unmet.any()
    post = pos.copy()
    post[:, dec.hedge_cols] += dec.hedge_orders
    k2 = Kernel.build(s, "paper", 2, epoch_s=_epoch("2026-11-22"))
    after = k2.decide(0.0, market, PortfolioView(post, equity))
    np.testing.assert_allclose(after.measure[:, 0], 0.0, atol=1e-9)  # delta at its center
    np.testing.assert_allclose(after.measure[:, 1], 5000.0, rtol=1e-9)  # vega to the edge
    assert (dec.orders[:, lay.col("C2")] < 0).all()  # sold C2 to cut vega


def test_weights_rebalance_to_the_nearest_edge() -> None:
    s, _ = compile_text(_spec("btc_eth_weights"))
    assert s is not None
    k = Kernel.build(s, "backtest", 1)
    lay = k.layout
    spot = np.array([[90000.0, 3000.0]])
    pos = np.zeros((1, 2), order="F")
    dec = k.decide(0.0, MarketView(spot=spot, vol=np.full((1, 2), 0.6)),
                   PortfolioView(pos, np.full(1, 100000.0)))
    assert dec.orders[0, lay.col("BTC_PERP")] == pytest.approx(0.55 * 100000 / 90000)
    assert dec.orders[0, lay.col("ETH_PERP")] == pytest.approx(0.35 * 100000 / 3000)


def test_cppi_target_value_is_multiplier_times_cushion() -> None:
    s, _ = compile_text(_spec("eth_cppi_vault"))
    assert s is not None
    k = Kernel.build(s, "paper", 2)
    lay = k.layout
    pos = np.zeros((2, lay.n_instruments), order="F")
    equity = np.array([1_000_000.0, 900_000.0])  # cushions 200k and 100k over the 800k floor
    dec = k.decide(0.0, MarketView(spot=np.full((2, 1), 2000.0), vol=np.full((2, 1), 0.75)),
                   PortfolioView(pos, equity))
    np.testing.assert_allclose(dec.center[:, 0], [0.8, 400_000 / 900_000])
    # split 100 ETH every 10m: the first child is capped at 100 ETH
    np.testing.assert_allclose(dec.orders[:, lay.col("WETH")], [100.0, 100.0])


def test_a_cash_leg_is_moved_by_trading_the_other_legs() -> None:
    s, _ = compile_text(_spec("eth_usdc_relative_weights"))
    assert s is not None
    k = Kernel.build(s, "paper", 1)
    lay = k.layout
    assert list(k.hedge_cols) == [lay.col("WETH")]  # USDC is the cash balance, not a hedge
    pos = np.zeros((1, 2), order="F")
    pos[0, lay.col("USDC")] = 200_000.0  # all cash
    dec = k.decide(0.0, MarketView(spot=np.full((1, 1), 2500.0), vol=np.full((1, 1), 0.7)),
                   PortfolioView(pos, np.full(1, 200_000.0)))
    np.testing.assert_allclose(dec.measure[0], [0.0, 1.0])
    assert not dec.unmet.any()  # both 50% legs are met by one purchase of WETH
    assert dec.hedge_orders[0, 0] == pytest.approx(10.0)  # first 10 ETH child of 40 ETH
    np.testing.assert_allclose(k.order_book.parent[0, 0], 40.0)


def test_leverage_recenters_half_way() -> None:
    s, _ = compile_text(_spec("eth_leverage_2x"))
    assert s is not None
    k = Kernel.build(s, "stress", 1)
    pos = np.zeros((1, 1), order="F")
    pos[0, 0] = 2.6 * 50000 / 3000  # 2.6x: above the 2.3x edge
    dec = k.decide(0.0, MarketView(spot=np.full((1, 1), 3000.0), vol=np.full((1, 1), 0.8)),
                   PortfolioView(pos, np.full(1, 50000.0)))
    want = (2.3 - 2.6) * 50000 / 3000  # half way back to 2x
    assert dec.hedge_orders[0, 0] == pytest.approx(max(want, -20.0))  # first 20 ETH child
    assert dec.center[0, 0] == 2.0 and dec.measure[0, 0] == pytest.approx(2.6)


def test_an_unreachable_target_is_reported_unmet() -> None:
    # vega cannot be moved by the perp; a greek range with only a perp would not compile, so
    # use a call whose vega vanished (expired): the solve reports the vega row as unmet.
    s = strategy("""
      instruments { C option ETH call strike 3000 USD expiry 2026-01-02
                    D option ETH call strike 3000 USD expiry 2026-06-30  PERP perp ETH }
      book { D 30 }
      owns C, PERP
      target delta 0 ETH { band 0.1 ETH hedge with PERP }
      target vega within -100 USD to 100 USD { hedge with C }
      trigger { on breach }
    """)
    k = Kernel.build(s, "sim", 1)
    pos = np.zeros((1, 3), order="F")
    pos[0, k.layout.col("D")] = 30.0
    dec = k.decide(2 * 86400.0, MarketView(spot=np.full((1, 1), 3000.0),
                                            vol=np.full((1, 1), 0.6)),
                   PortfolioView(pos, np.full(1, 1e5)))
    assert dec.unmet[0, 1] and not dec.unmet[0, 0]


def _spec(name: str) -> str:
    return (SPECS / f"{name}.rebal").read_text(encoding="utf-8")


def _epoch(day: str) -> float:
    import datetime as dt

    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("k", "h"), [(1, 1), (2, 2), (1, 2), (2, 1), (3, 3), (2, 3), (3, 2)])
def test_small_solver_is_the_pseudo_inverse_solution(k: int, h: int) -> None:
    from rebal.backends.kernel.solver import solve_small

    rng = np.random.default_rng(k * 10 + h)
    a = rng.normal(size=(40, k, h))
    d = rng.normal(size=(40, k))
    a[0] = 0.0  # nothing moves anything
    a[1, :, 0] = 0.0  # one instrument moves nothing
    a[2, 0] = a[2, -1]  # two identical rows
    want = np.einsum("bhk,bk->bh", np.linalg.pinv(a), d)
    np.testing.assert_allclose(solve_small(a, d), want, atol=1e-7)


def test_limit_price_comes_from_max_slippage_and_a_mode_can_set_one() -> None:
    extra = "mode fast when abs(delta) > 3 ETH { max slippage 1% }"
    d = Driver(perp_delta(costs="min trade 0.01 ETH", extra=extra), 2)
    d.pos[:, 0] = [1.0, 4.0]  # only path 1 is in the mode
    dec = d.step(0.0, fill=False)
    assert dec.limit_price is not None
    assert np.isnan(dec.limit_price[0, 0])  # sell 1 ETH without a limit
    assert dec.limit_price[1, 0] == pytest.approx(3000.0 * 0.99)  # sell 4 ETH, 1% below mid
    d2 = Driver(perp_delta(), 1)
    d2.pos[:, 0] = -1.0
    dec = d2.step(0.0, fill=False)
    assert dec.limit_price is not None and dec.limit_price[0, 0] == pytest.approx(3015.0)


@pytest.mark.parametrize(("costs", "venue_extra", "name"), [
    ("max fee 5 bps", "fee 10 bps", "max fee"),
    ("max gas 10 gwei", "gas 20 gwei gas_used 180000", "max gas"),
    ("max gas cost 5 USD", "gas 20 gwei gas_used 180000", "max gas cost"),  # 0.0036 ETH = 10.8 USD
])
def test_cost_ceilings_refuse_with_their_name(costs: str, venue_extra: str, name: str) -> None:
    d = Driver(perp_delta(costs=costs, venue=VENUE.replace("vol 60%", f"vol 60% {venue_extra}")),
               1)
    d.pos[:, 0] = 1.0
    dec = d.step(0.0)
    assert not dec.any_orders and d.k.refusal_names[dec.refused[0]] == name
    loose = costs.replace("5 bps", "10 bps").replace("10 gwei", "20 gwei").replace(
        "5 USD", "11 USD")
    d = Driver(perp_delta(costs=loose, venue=VENUE.replace("vol 60%", f"vol 60% {venue_extra}")),
               1)
    d.pos[:, 0] = 1.0
    assert d.step(0.0).any_orders  # at (or under) the ceiling: allowed


def test_max_notional_caps_gross_owned_notional() -> None:
    s = strategy("""
      instruments { S spot ETH  PERP perp ETH }
      book { S 10 }
      owns PERP
      target delta 0 ETH { band 0.5 ETH hedge with PERP }
      trigger { on breach }
      risk { max notional 40000 USD }
    """)
    d = Driver(s, 2)
    d.pos[:, d.col("S")] = [15.0, 10.0]  # hedging 15 ETH at 3000 is 45k of perp: refused
    dec = d.step(0.0)
    np.testing.assert_allclose(d.orders(dec, "PERP"), [0.0, -10.0])
    assert d.k.refusal_names[dec.refused[0]] == "max notional"
