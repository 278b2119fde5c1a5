"""Coin-settled instruments (`settle ETH`): kernel and simulator against closed forms.

The model is ``backends/kernel/coins.py``: an inverse perp holds a fixed USD notional N, its
units are N/P, its variation margin N(1/P0 - 1/P1) is paid in ETH; a coin option's premium and
settlement are in ETH, so its delta is premium-adjusted (Delta - V/S); the coin balance is
worth coin x S and carries delta. Every expected number here is computed from the formulas
(or Black–Scholes from the reference pricer), never read back from the code under test.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from rebal.backends.kernel import Kernel, MarketView, PortfolioView
from rebal.backends.kernel.coins import maintenance_coin, premium_adjusted_delta
from rebal.backends.kernel.gate import liquidation_distance, maintenance_requirement
from rebal.backends.kernel.layout import SECONDS_PER_YEAR
from rebal.backends.kernel.pricing import bs_delta, bs_greeks, bs_price
from rebal.backends.live.adapter import Snapshot
from rebal.backends.live.views import portfolio_view
from rebal.backends.sim.accounting import Accounts
from rebal.backends.sim.engine import simulate
from rebal.compiler import compile_text, ir

EXPIRY = dt.date(2026, 12, 25)
START = dt.date(2026, 12, 1)


def _compile(text: str) -> ir.Strategy:
    s, diags = compile_text(text)
    assert s is not None, [d.message for d in diags]
    return s


def _perp_spec(settle: str, book: float = 2.0, extra: str = "") -> ir.Strategy:
    """A book of ``book`` ETH of perp (column 0) and an owned perp of the same kind to hedge
    a delta target at the book's own delta."""
    return _compile(f"""
strategy inverse {{
  capital 100000 USD
  instruments {{
    PERP  perp ETH settle {settle}
    HEDGE perp ETH settle {settle}
  }}
  book {{ PERP {book} }}
  owns HEDGE
  target delta {book} ETH {{ band 0.5 ETH  hedge with HEDGE }}
  trigger {{ on breach }}
  {extra}
  venue paper via sim {{
    model gbm  ETH spot 3000 USD vol 60%
    {"maintenance margin 0.5%" if "margin" in extra else ""}
    start 2026-12-01  horizon 1d step 1h paths 2
  }}
}}""")


def _marks_at(kernel: Kernel, t_s: float, spots: list[float]) -> object:
    spot = np.asfortranarray(np.array(spots, dtype=float)[:, None])
    return kernel.mark(t_s, MarketView(spot=spot, vol=np.full_like(spot, 0.6)))


# ---------------------------------------------------------------------- the inverse perp


def test_inverse_perp_pays_its_variation_margin_in_the_coin() -> None:
    s = _perp_spec("ETH", book=2.0)
    kernel = Kernel.build(s, "paper", 2)
    lay = kernel.layout
    assert bool(lay.is_inverse[0]) and lay.coin_assets.tolist() == [0]
    p0 = 3000.0
    m0 = _marks_at(kernel, 0.0, [p0, p0])
    acc = Accounts(lay, 2, lay.capital, np.zeros(2), m0)  # type: ignore[arg-type]
    assert bool(lay.is_inverse[1])
    n = 2.0 * p0  # 2 ETH of contracts at 3000: a fixed 6000 USD notional
    assert acc.coin is not None
    path = [(3300.0, 2700.0), (2700.0, 3600.0), (3600.0, 2400.0)]
    for k, (up, down) in enumerate(path, start=1):
        m = _marks_at(kernel, k * 3600.0, [up, down])
        acc.carry(3600.0, m)  # type: ignore[arg-type]
        last = np.array([up, down])
        np.testing.assert_allclose(acc.coin[:, 0], n * (1 / p0 - 1 / last), rtol=1e-12)
        np.testing.assert_allclose(acc.positions[:, 0], n / last, rtol=1e-12)  # units = N/P
        # its USD value at the index: N (P/P0 - 1), the coin held moves with the price
        np.testing.assert_allclose(acc.equity(m), lay.capital + n * (last / p0 - 1), rtol=1e-12)  # type: ignore[arg-type]


def test_inverse_payoff_is_linear_in_one_over_p_so_a_fall_costs_more_coin_than_a_rise() -> None:
    s = _perp_spec("ETH", book=1.0)
    kernel = Kernel.build(s, "paper", 2)
    p0, x = 3000.0, 0.25
    acc = Accounts(kernel.layout, 2, 1e5, np.zeros(2), _marks_at(kernel, 0.0, [p0, p0]))  # type: ignore[arg-type]
    # a path of many small steps to P0 (1 + x) and P0 (1 - x): the coin telescopes to the ends
    for k, f in enumerate(np.linspace(0.0, x, 50)[1:], start=1):
        acc.carry(60.0, _marks_at(kernel, 60.0 * k, [p0 * (1 + f), p0 * (1 - f)]))  # type: ignore[arg-type]
    assert acc.coin is not None
    gain, loss = acc.coin[:, 0]
    n = p0
    assert gain == pytest.approx(n / p0 * x / (1 + x), rel=1e-12)  # +0.2 ETH
    assert loss == pytest.approx(-n / p0 * x / (1 - x), rel=1e-12)  # -0.333 ETH
    assert -loss > gain  # concave in P: not the linear contract's symmetric +-x/P0 x P0/P


def test_an_inverse_hedge_needs_no_retrade_when_its_coin_is_counted() -> None:
    """Long 2 ETH of inverse perp on a delta 2 ETH target: the perp's units N/P drift with the
    price, but units plus coin stay N/P0, so the hedge never trades again; the same spec
    settled in USD holds 2 units throughout."""
    for settle in ("ETH", "USD"):
        s = _perp_spec(settle)
        s = s.model_copy(update={"venues": tuple(
            v.model_copy(update={"config": v.config.model_copy(update={"paths": 16})})
            for v in s.venues)})
        r = simulate(s, "paper", seed=3, sample_paths=4)
        assert r.trades.sum() == 0, settle
        spot = r.samples.spot[:, -1, 0]  # type: ignore[union-attr]
        np.testing.assert_allclose(r.pnl[:4], 2.0 * (spot - 3000.0), rtol=1e-9)


def test_maintenance_margin_is_in_the_coin_and_fixed_in_usd() -> None:
    s = _perp_spec("ETH", book=10.0, extra="risk { liquidation buffer 10% } # margin")
    kernel = Kernel.build(s, "paper", 1)
    lay = kernel.layout
    m_rate, p, n, collateral = 0.005, 3000.0, 30000.0, 2.0
    marks = _marks_at(kernel, 0.0, [p])
    q = np.array([[n / p, 0.0]])
    req = maintenance_requirement(lay, q, marks.notional)  # type: ignore[attr-defined]
    assert req[0] / p == pytest.approx(maintenance_coin(m_rate, n, p))  # m |N| / P coins
    assert maintenance_coin(m_rate, n, p) == pytest.approx(0.05)
    equity = np.array([collateral * p])
    got = liquidation_distance(lay, q, marks, equity, coin=np.array([[collateral]]))  # type: ignore[arg-type]
    # closed form: E(P') = C P' + N (P'/P - 1) falls to m|N| (fixed in USD) at a fall x
    x = (collateral * p - m_rate * n) / ((collateral + n / p) * p)
    assert got[0] == pytest.approx(x, rel=1e-12)
    p_liq = p * (1 - x)
    assert collateral * p_liq + n * (1 / p - 1 / p_liq) * p_liq == pytest.approx(m_rate * n)


# ---------------------------------------------------------------------- coin-settled options


def _call_hedge_spec(settle: str) -> ir.Strategy:
    return _compile(f"""
strategy callhedge {{
  capital 100000 USD
  instruments {{
    ETH_C option ETH call strike 3000 USD expiry 2026-12-25 {settle}
    PERP  perp ETH
  }}
  book {{ PERP -5 }}
  owns ETH_C
  target delta 0 ETH {{ band 0.1 ETH  hedge with ETH_C  rebalance to center }}
  trigger {{ on breach }}
  venue paper via sim {{
    model gbm  ETH spot 3000 USD vol 60%  start 2026-12-01  horizon 1d step 1h paths 1
  }}
}}""")


def test_premium_adjusted_delta_is_the_coin_value_s_derivative() -> None:
    s, k, t, v = 3100.0, 3000.0, 24 / 365, 0.6
    g = bs_greeks(s, k, t, v)
    h = 1e-3
    coin = [bs_price(x, k, t, v) / x for x in (s + h, s - h)]  # the option's value in ETH
    fd = s * (coin[0] - coin[1]) / (2 * h)  # S d(V/S)/dS
    assert float(premium_adjusted_delta(g.delta, g.price, s)) == pytest.approx(float(fd), abs=1e-7)
    assert float(fd) == pytest.approx(float(g.delta - g.price / s), abs=1e-7)


@pytest.mark.parametrize("settle", ["settle ETH", ""])
def test_the_hedge_solver_buys_premium_adjusted_delta(settle: str) -> None:
    """Short 5 ETH of perp hedged with calls: a coin-settled call moves delta by Delta - C/S
    (its ETH premium leaves the coin balance), a USD one by Delta."""
    strat = _call_hedge_spec(settle)
    kernel = Kernel.build(strat, "paper", 1)
    spot = np.array([[3000.0]], order="F")
    market = MarketView(spot=spot, vol=np.array([[0.6]]))
    marks = kernel.mark(0.0, market)
    pos = np.asfortranarray(kernel.layout.book[None, :].copy())
    dec = kernel.decide(0.0, market, PortfolioView(pos, np.array([1e5]), np.zeros((1, 1))),
                        marks)
    tau = (dt.datetime(2026, 12, 25) - dt.datetime(2026, 12, 1)).total_seconds() / SECONDS_PER_YEAR
    g = bs_greeks(3000.0, 3000.0, tau, 0.6)
    per_call = float(g.delta - g.price / 3000.0) if settle else float(g.delta)
    assert dec.hedge_orders[0, 0] == pytest.approx(5.0 / per_call, rel=1e-9)


# ---------------------------------------------------------------------- a hedged straddle


STRADDLE = """
strategy coin_straddle {
  capital 150000 USD
  instruments {
    ETH_C option ETH call strike 3000 USD expiry 2026-12-25 settle ETH
    ETH_P option ETH put  strike 3000 USD expiry 2026-12-25 settle ETH
    PERP  perp ETH settle ETH
  }
  book { ETH_C -10  ETH_P -10 }
  owns PERP
  target delta 0 ETH { band 0.5 ETH  hedge with PERP  rebalance to center }
  trigger { on breach }
  venue paper via sim {
    model gbm  ETH spot 3000 USD vol 60%  fee 3 bps
    start 2026-12-01  horizon 2d step 10m paths 8
  }
}"""


def test_a_coin_settled_straddle_hedge_stays_in_band_with_its_coin_counted() -> None:
    """Replays the sim's trades on its sample paths with the closed forms (BS deltas, inverse
    notional, coin variation margin, ETH premium, fees in ETH) and checks the delta the hedge
    keeps: at most the band before a trade, about 0 after one, the coin balance included."""
    s = _compile(STRADDLE)
    r = simulate(s, "paper", seed=5, sample_paths=8)
    samples = r.samples
    assert samples is not None
    fee, k_, sigma = 3e-4, 3000.0, 0.6
    expiry_s = (dt.datetime(2026, 12, 25) - dt.datetime(2026, 12, 1)).total_seconds()
    trades: dict[tuple[int, int], float] = {}
    for path, step, name, qty, _ in samples.trades:
        assert name == "PERP"
        trades[(path, step)] = trades.get((path, step), 0.0) + qty
    assert len(trades) >= 16  # the hedge traded on every path, again and again
    worst_coin, worst_without = 0.0, 0.0
    for path in range(8):
        spot = samples.spot[path, :, 0]
        tau0 = expiry_s / SECONDS_PER_YEAR
        coin = 10.0 * float(bs_price(spot[0], k_, tau0, sigma, 0.0, True)
                            + bs_price(spot[0], k_, tau0, sigma, 0.0, False)) / spot[0]
        notional = 0.0
        for k in range(r.steps):
            p = spot[k]
            if k:
                coin += notional * (1.0 / spot[k - 1] - 1.0 / p)
            tau = (expiry_s - samples.t_s[k]) / SECONDS_PER_YEAR
            opts = -10.0 * float(bs_delta(p, k_, tau, sigma, 0.0, True)
                                 + bs_delta(p, k_, tau, sigma, 0.0, False))
            before = opts + notional / p + coin
            q = trades.get((path, k), 0.0)
            if q:
                notional += q * p
                coin -= fee * abs(q)  # fee on q x P USD, paid in ETH at P
                after = opts + notional / p + coin
                assert abs(after) < 0.01, (path, k, after)  # back to the center
            else:
                assert abs(before) <= 0.5 + 1e-9, (path, k, before)  # inside the band
                worst_without = max(worst_without, abs(before - coin))
            worst_coin = max(worst_coin, abs(coin))
    assert worst_coin > 1.0  # the ETH premium and margin matter: over one ETH of delta
    assert worst_without > 0.5  # without the coin, the book would have been out of band


def test_a_coin_book_premium_is_held_in_eth_and_moves_equity() -> None:
    """At t0 the short straddle's premium is ETH: equity is capital, and at the first step it
    has moved by premium x (S1 - S0) / S0 more than the USD-settled book's."""
    wide = STRADDLE.replace("band 0.5 ETH", "band 5 ETH")  # no hedge trade in either
    coin = _compile(wide)
    usd = _compile(wide.replace(" settle ETH", ""))
    a = simulate(coin, "paper", seed=5, steps=1)
    b = simulate(usd, "paper", seed=5, steps=1, sample_paths=8)
    assert b.samples is not None
    s0, s1 = b.samples.spot[:, 0, 0], b.samples.spot[:, 1, 0]
    tau0 = (dt.datetime(2026, 12, 25) - dt.datetime(2026, 12, 1)).total_seconds() / SECONDS_PER_YEAR
    premium = 10.0 * (bs_price(3000.0, 3000.0, tau0, 0.6, 0.0, True)
                      + bs_price(3000.0, 3000.0, tau0, 0.6, 0.0, False))
    assert b.trades.sum() == 0 == a.trades.sum()
    np.testing.assert_allclose(a.pnl - b.pnl, premium * (s1 / s0 - 1.0), rtol=1e-9, atol=1e-7)


# ---------------------------------------------------------------------- origin, live views


def test_the_coin_origin_survives_a_restart() -> None:
    strat = _compile(STRADDLE)
    kernel = Kernel.build(strat, "paper", 1)
    spot = np.array([[3000.0]], order="F")
    market = MarketView(spot=spot, vol=np.array([[0.6]]))
    pos = np.asfortranarray(kernel.layout.book[None, :].copy())
    kernel.decide(0.0, market, PortfolioView(pos, np.array([1.5e5]), np.array([[50.0]])))
    data = kernel.save_state()
    again = Kernel.build(strat, "paper", 1)
    again.restore_state(data)
    assert again.coin_origin is not None and kernel.coin_origin is not None
    assert again.coin_origin.origin.tolist() == kernel.coin_origin.origin.tolist()
    # 50 ETH of collateral is not hedged; the premium (coin value of the short options) is
    marks = again.mark(0.0, market)
    dec = again.decide(60.0, market, PortfolioView(pos, np.array([1.5e5]), np.array([[50.0]])),
                       marks)
    premium = -(pos[0, :2] * marks.price[0, :2]).sum() / 3000.0
    assert dec.rows.measure[0][0] == pytest.approx(
        float(-10 * (marks.delta[0, 0] + marks.delta[0, 1])) + premium, rel=1e-12)


def test_the_live_view_gives_the_kernel_the_coin_balance_less_its_coin_options() -> None:
    strat = _compile(STRADDLE)
    venue = ir.Venue(name="deribit", backend="ccxt",
                     symbols={"ETH_C": "C", "ETH_P": "P", "PERP": "ETH-PERPETUAL"},
                     config=ir.CcxtConfig(exchange="deribit", account_env="DERIBIT"))
    kernel = Kernel.build(strat, venue, 1, epoch_s=0.0)
    snap = Snapshot(time_s=0.0, numeraire="USD", equity=48.0 * 3000.0,
                    positions={"ETH_C": -10.0, "ETH_P": -10.0, "PERP": 1.5},
                    balances={"ETH": 48.0}, index={"ETH": 3000.0},
                    mark={"ETH_C": 150.0, "ETH_P": 90.0, "PERP": 3000.0})
    view = portfolio_view(kernel.layout, snap, venue)
    assert view.coin is not None
    # Deribit's ETH equity holds the options' value (-10 x 240 USD = -0.8 ETH): taken out
    assert view.coin[0, 0] == pytest.approx(48.0 + 10.0 * 240.0 / 3000.0)
    assert math.isclose(float(view.positions[0, 2]), 1.5)


def test_an_inverse_future_has_unit_delta_per_unit_held() -> None:
    """q = N/F units of an inverse future: its coin P&L N(1/F0 - 1/F) is worth
    N (S/F0 - S/F), whose S-derivative at F0 is N/F0 = q (a linear future's is q e^{r tau})."""
    s = _compile("""
strategy fut {
  capital 100000 USD
  instruments {
    INV future ETH expiry 2026-12-25 settle ETH
    LIN future ETH expiry 2026-12-25
  }
  owns INV, LIN
  target delta 0 ETH { band 0.5 ETH  hedge with INV }
  trigger { on breach }
  venue paper via sim {
    model gbm  ETH spot 3000 USD vol 60%  rate 5%  start 2026-12-01  horizon 1d step 1h paths 1
  }
}""")
    kernel = Kernel.build(s, "paper", 1)
    marks = _marks_at(kernel, 0.0, [3000.0])
    tau = 24 / 365
    growth = math.exp(0.05 * tau)
    assert marks.delta[0, 0] == 1.0  # type: ignore[attr-defined]
    assert marks.delta[0, 1] == pytest.approx(growth)  # type: ignore[attr-defined]
    n, s0, h = 30000.0, 3000.0, 1e-2
    f0 = s0 * growth

    def value(spot: float) -> float:
        return n * (1 / f0 - 1 / (spot * growth)) * spot

    fd = (value(s0 + h) - value(s0 - h)) / (2 * h)
    assert fd == pytest.approx(n / f0 * marks.delta[0, 0], rel=1e-8)  # type: ignore[attr-defined]
