"""Marks, portfolio greeks, the evaluator's units and the risk gate's liquidation arithmetic.

The kernel's option block is checked against ``pricing.bs_greeks`` (itself checked against
QuantLib), with and without reused buffers, for calls, puts, several expiries and per-path
vols; the greeks of references follow the language's conventions.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rebal.backends.kernel import Kernel, MarketView, PortfolioView, liquidation_distance
from rebal.backends.kernel.layout import SECONDS_PER_YEAR
from rebal.backends.kernel.pricing import bs_greeks
from rebal.backends.kernel.valuation import Valuer
from rebal.compiler import compile_text, ir

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()


def strategy(body: str, venue: str = "ETH spot 3000 USD vol 60% start 2026-01-01 "
             "horizon 1d step 1h paths 4", capital: str = "100000 USD") -> ir.Strategy:
    text = f"strategy t {{\n capital {capital}\n {body}\n venue sim via sim {{ {venue} }}\n}}"
    s, diags = compile_text(text)
    assert s is not None, [f"{d.code} {d.message}" for d in diags]
    return s


BOOK_BODY = """
  instruments {
    C1 option ETH call strike 2800 USD expiry 2026-03-27
    P1 option ETH put  strike 3200 USD expiry 2026-06-26
    C2 option ETH call strike 3500 USD expiry 2026-06-26
    PERP perp ETH
  }
  book { C1 -5  P1 3 }
  owns PERP, C2
  target delta 0 ETH { band 0.5 ETH hedge with PERP }
  target gamma within -1000 USD to 1000 USD { hedge with C2 }
  trigger { on breach }
"""
BOOK = strategy(BOOK_BODY)

ONE_CALL = strategy("""
  instruments { C option ETH call strike 3100 USD expiry 2026-04-01  PERP perp ETH }
  book { C -1 }
  owns PERP
  target delta 0 ETH { band 0.02 ETH hedge with PERP }
  trigger { on breach }
""")


def _reference(strat: ir.Strategy, t_s: float, spot: np.ndarray, vol: np.ndarray):
    k = Kernel.build(strat, "sim", spot.shape[0])
    lay = k.layout
    tau = (lay.opt_expiry_s - t_s) / SECONDS_PER_YEAR
    return lay, bs_greeks(spot[:, lay.opt_asset], lay.opt_strike, tau, vol[:, lay.opt_asset],
                          0.0, lay.opt_call)


@pytest.mark.parametrize("strat", [BOOK, ONE_CALL], ids=["book", "one_call"])
@pytest.mark.parametrize("per_path_vol", [False, True])
@pytest.mark.parametrize("reuse", [False, True])
def test_option_marks_equal_the_reference_black_scholes(strat: ir.Strategy, per_path_vol: bool,
                                                        reuse: bool) -> None:
    rng = np.random.default_rng(7)
    b = 64
    spot = 3000.0 * np.exp(rng.normal(0.0, 0.3, (b, 1)))
    vol = rng.uniform(0.2, 1.2, (b, 1)) if per_path_vol else np.broadcast_to(
        np.array([0.6]), (b, 1))
    t_s = 20 * 86400.0
    lay, ref = _reference(strat, t_s, spot, np.asarray(vol))
    valuer = Valuer(lay, gamma=True, vega=True, theta=True, reuse_buffers=reuse)
    for _ in range(3):  # buffers alternate: every call must still be right
        m = valuer.mark(t_s, spot, vol)
        np.testing.assert_allclose(m.price[:, lay.opt_cols], ref.price, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(m.delta[:, lay.opt_cols], ref.delta, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m.gamma, ref.gamma, rtol=1e-10)
        np.testing.assert_allclose(m.vega, ref.vega, rtol=1e-10)
        np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-10)
    perp = lay.col("PERP")
    np.testing.assert_array_equal(m.price[:, perp], spot[:, 0])
    np.testing.assert_array_equal(m.delta[:, perp], 1.0)


@pytest.mark.parametrize("per_path_vol", [False, True])
def test_option_marks_with_a_rate_equal_the_reference(per_path_vol: bool) -> None:
    strat = strategy(BOOK_BODY, venue="ETH spot 3000 USD vol 60% rate 5% start 2026-01-01 "
                     "horizon 1d step 1h paths 4")
    rng = np.random.default_rng(3)
    b = 32
    spot = 3000.0 * np.exp(rng.normal(0.0, 0.4, (b, 1)))
    vol = rng.uniform(0.2, 1.2, (b, 1)) if per_path_vol else np.broadcast_to(
        np.array([0.7]), (b, 1))
    lay = Kernel.build(strat, "sim", b).layout
    tau = (lay.opt_expiry_s - 0.0) / SECONDS_PER_YEAR
    ref = bs_greeks(spot[:, lay.opt_asset], lay.opt_strike, tau, np.asarray(vol)[:, lay.opt_asset],
                    0.05, lay.opt_call)
    m = Valuer(lay, gamma=True, vega=True, theta=True, reuse_buffers=True).mark(0.0, spot, vol)
    np.testing.assert_allclose(m.price[:, lay.opt_cols], ref.price, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(m.delta[:, lay.opt_cols], ref.delta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.theta, ref.theta, rtol=1e-10)
    np.testing.assert_allclose(m.gamma, ref.gamma, rtol=1e-10)


def test_price_and_delta_only_fast_path_matches_reference() -> None:
    b = 100
    spot = np.linspace(1500.0, 6000.0, b).reshape(b, 1)
    vol = np.broadcast_to(np.array([0.6]), (b, 1))
    lay, ref = _reference(ONE_CALL, 0.0, spot, np.asarray(vol))
    m = Valuer(lay, reuse_buffers=True).mark(0.0, spot, vol)
    assert m.gamma is None and m.vega is None
    np.testing.assert_allclose(m.price[:, 0], ref.price[:, 0], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(m.delta[:, 0], ref.delta[:, 0], rtol=1e-12, atol=1e-13)


def test_expired_and_zero_vol_options_fall_back_to_limit_values() -> None:
    spot = np.array([[2500.0], [3500.0]])
    after = (dt.datetime(2026, 4, 2, tzinfo=dt.UTC).timestamp() - EPOCH)
    lay = Kernel.build(ONE_CALL, "sim", 2).layout
    m = Valuer(lay).mark(after, spot, np.full((2, 1), 0.6))
    np.testing.assert_allclose(m.price[:, 0], [0.0, 400.0])
    np.testing.assert_allclose(m.delta[:, 0], [0.0, 1.0])
    m = Valuer(lay).mark(0.0, spot, np.zeros((2, 1)))
    np.testing.assert_allclose(m.price[:, 0], [0.0, 400.0])


def _decide(strat: ir.Strategy, spot: np.ndarray, pos: np.ndarray, equity: np.ndarray,
            t_s: float = 0.0):
    k = Kernel.build(strat, "sim", spot.shape[0])
    market = MarketView(spot=spot, vol=np.full(spot.shape, 0.6))
    return k, k.decide(t_s, market, PortfolioView(np.asfortranarray(pos), equity))


def test_greek_references_follow_the_language_conventions() -> None:
    s = strategy("""
      instruments { C option ETH call strike 3000 USD expiry 2026-07-02  PERP perp ETH }
      book { C 10 }
      owns PERP
      target delta 0 ETH { band 0.5 ETH hedge with PERP }
      trigger { on breach }
      mode g when gamma > 1 USD { cooldown 0s }
      mode v when vega > 1 USD { cooldown 0s }
      mode th when theta < 0 USD { cooldown 0s }
      risk { halt when equity < 0 USD }
    """)
    spot = np.array([[3000.0]])
    k = Kernel.build(s, "sim", 1)
    market = MarketView(spot=spot, vol=np.full((1, 1), 0.6))
    marks = k.mark(0.0, market)
    from rebal.backends.kernel.context import StepContext
    pos = np.asfortranarray(k.layout.book.reshape(1, -1))
    ctx = StepContext(0.0, k.layout, market, PortfolioView(pos, np.full(1, 1e5)), marks,
                      np.full(1, 1e5), 0.0)
    from rebal.backends.kernel.evaluator import Needs, compile_expr
    g = bs_greeks(3000.0, 3000.0, 182 / 365, 0.6)

    def ev(name: str, unit: str) -> float:
        f = compile_expr(ir.Ref(name=name, unit=unit, asset="ETH"), k.layout, k.history, Needs())
        return float(np.asarray(f(ctx))[0])

    assert ev("delta", "ETH") == pytest.approx(10 * g.delta)
    assert ev("delta", "USD") == pytest.approx(10 * g.delta * 3000)
    assert ev("gamma", "USD") == pytest.approx(10 * g.gamma * 3000**2 / 100)
    assert ev("vega", "USD") == pytest.approx(10 * g.vega / 100)
    assert ev("theta", "USD") == pytest.approx(10 * g.theta / 365)
    lev = compile_expr(ir.Ref(name="leverage", unit=""), k.layout, k.history, Needs())(ctx)
    assert float(lev[0]) == pytest.approx(10 * g.delta * 3000 / 1e5)


def test_gamma_target_moves_the_option_hedge_to_the_range() -> None:
    spot = np.array([[3000.0], [3300.0]])
    pos = 10 * np.tile(Kernel.build(BOOK, "sim", 1).layout.book, (2, 1))  # gamma ~ -1000 USD
    k, dec = _decide(BOOK, spot, pos, np.full(2, 1e5))
    assert dec.measure[0, 1] < -1000.0
    lay = k.layout
    post = pos.copy()
    post[:, dec.hedge_cols] += dec.hedge_orders
    _, after = _decide(BOOK, spot, post, np.full(2, 1e5))
    assert np.all(np.abs(after.measure[:, 0]) < 1e-9)  # delta back to 0
    # path 0 was below the range and goes to its edge; path 1 was inside and stays put
    np.testing.assert_allclose(after.measure[:, 1], [-1000.0, dec.measure[1, 1]])
    assert dec.orders[0, lay.col("C2")] > 0.0 and dec.orders[1, lay.col("C2")] == 0.0


# --------------------------------------------------------------------------- liquidation


def test_a_long_at_leverage_l_is_liquidated_by_a_fall_of_one_over_l() -> None:
    s = strategy("""
      instruments { PERP perp ETH }
      owns PERP
      target leverage 2x { band 1.5x to 2.5x hedge with PERP }
      trigger { on breach }
    """)
    k = Kernel.build(s, "sim", 3)
    spot = np.full((3, 1), 2000.0)
    marks = k.mark(0.0, MarketView(spot=spot, vol=np.full((3, 1), 0.6)))
    equity = np.full(3, 10000.0)
    pos = np.array([[20.0], [-20.0], [10.0]], order="F")  # 4x long, 4x short, 2x long
    dist = liquidation_distance(k.layout, pos, marks, equity)
    np.testing.assert_allclose(dist, [0.25, 0.25, 0.5])
    # at 1x or less a long needs a fall of 100% or more: it cannot be liquidated
    assert np.isinf(liquidation_distance(k.layout, pos * 0.5, marks, equity)[2])


def test_maintenance_margin_brings_liquidation_closer() -> None:
    s = strategy("""
      instruments { PERP perp ETH }
      owns PERP
      target leverage 2x { band 1.5x to 2.5x hedge with PERP }
      trigger { on breach }
    """, venue="ETH spot 2000 USD vol 60% maintenance margin 5% start 2026-01-01 horizon 1d "
               "step 1h paths 1")
    k = Kernel.build(s, "sim", 1)
    marks = k.mark(0.0, MarketView(spot=np.full((1, 1), 2000.0), vol=np.full((1, 1), 0.6)))
    pos = np.array([[20.0]], order="F")  # notional 40k on 10k equity
    # 10000 - 40000 x = 0.05 (40000 (1 - x))  ->  x = 8000 / 38000
    dist = liquidation_distance(k.layout, pos, marks, np.full(1, 10000.0))
    assert dist[0] == pytest.approx(8000 / 38000)


def test_gate_refuses_leverage_growth_with_the_limit_named_and_allows_reduction() -> None:
    s = strategy("""
      instruments { S spot ETH  PERP perp ETH }
      book { S 10 }
      owns PERP
      target delta 0 ETH { band 0.5 ETH hedge with PERP }
      trigger { on breach }
      risk { max leverage 7x }
    """, capital="10000 USD")
    spot = np.full((3, 1), 2000.0)
    # gross exposure |S| + |PERP| at 2000 on 10k equity:
    #   path 0: the holding grew to 20 ETH, hedging it takes gross to 8x: refused;
    #   path 1: 10 ETH against +5: the hedge to -10 ends at 4x: allowed;
    #   path 2: 20 against -30 (10x): back to -20 is still 8x but reduces risk: allowed.
    pos = np.array([[20.0, 0.0], [10.0, 5.0], [20.0, -30.0]])
    k, dec = _decide(s, spot, pos, np.full(3, 10000.0))
    assert k.refusal_names[dec.refused[0]] == "max leverage"
    np.testing.assert_array_equal(dec.refused[1:], [0, 0])
    np.testing.assert_allclose(dec.orders[:, k.layout.col("PERP")], [0.0, -15.0, 10.0])


def test_a_book_with_some_options_expired_matches_the_reference() -> None:
    s = strategy("""
      instruments {
        A option ETH call strike 2900 USD expiry 2026-09-01
        B option ETH put  strike 3000 USD expiry 2026-02-01
        C option ETH put  strike 3100 USD expiry 2026-10-01
        PERP perp ETH
      }
      book { A 1  B -2  C 3 }
      owns PERP
      target delta 0 ETH { band 0.5 ETH hedge with PERP }
      trigger { on breach }
    """)
    b = 16
    spot = np.linspace(2500.0, 3500.0, b).reshape(b, 1)
    spot[3, 0] = 3000.0  # exactly at B's strike: delta -0.5 by the limit convention
    vol = np.broadcast_to(np.array([0.6]), (b, 1))
    t_s = 60 * 86400.0  # B expired on day 31; A and C are live and not adjacent
    lay, ref = _reference(s, t_s, spot, np.asarray(vol))
    for reuse in (False, True):
        m = Valuer(lay, gamma=True, reuse_buffers=reuse).mark(t_s, spot, vol)
        np.testing.assert_allclose(m.price[:, lay.opt_cols], ref.price, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(m.delta[:, lay.opt_cols], ref.delta, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m.gamma, ref.gamma, rtol=1e-10, atol=1e-15)
    assert m.delta[3, lay.col("B")] == -0.5


@pytest.mark.parametrize("strat", [BOOK, ONE_CALL], ids=["book", "one_call"])
@pytest.mark.parametrize("per_path_vol", [False, True])
def test_large_batches_marked_on_two_threads_are_bit_identical(strat: ir.Strategy,
                                                               per_path_vol: bool) -> None:
    """Above the threading threshold, prices and deltas equal a one-thread mark exactly.

    With two usable CPUs the mark is split across the helper thread; with one (``taskset -c
    0``) it runs inline. Either way the numbers are the same, which is what is checked."""
    from rebal.backends.kernel import valuation
    from rebal.backends.kernel.threads import usable_cpus

    rng = np.random.default_rng(11)
    # odd, and large enough for even a one-option block: the two halves differ in size
    b = max(valuation._PARALLEL_MIN_ROWS, valuation._PARALLEL_MIN_CELLS) + 1
    spot = 3000.0 * np.exp(rng.normal(0.0, 0.3, (b, 1)))
    vol = rng.uniform(0.2, 1.2, (b, 1)) if per_path_vol else np.broadcast_to(
        np.array([0.6]), (b, 1))
    lay, ref = _reference(strat, 20 * 86400.0, spot, np.asarray(vol))
    threaded = Valuer(lay, reuse_buffers=True)
    assert (valuation._pool() is None) == (usable_cpus() < 2)  # threads only with two CPUs
    m = threaded.mark(20 * 86400.0, spot, vol)
    np.testing.assert_allclose(m.price[:, lay.opt_cols], ref.price, rtol=1e-12, atol=1e-9)
    single = Valuer(lay, reuse_buffers=True)
    for half in (slice(0, b // 2), slice(b // 2, b)):  # each checked on its own
        one = single.mark(20 * 86400.0, spot[half], vol[half])
        np.testing.assert_array_equal(one.price, m.price[half])
        np.testing.assert_array_equal(one.delta, m.delta[half])


@pytest.mark.parametrize("strat", [BOOK, ONE_CALL], ids=["book", "one_call"])
def test_marking_ahead_on_another_thread_changes_no_number(strat: ir.Strategy) -> None:
    """The sim's feed starts each step's option marks on its thread (mark_ahead); the marks
    then equal, bit for bit, those of a Valuer that marks every step itself, and a mark_ahead
    for another time or another spot array is ignored, not used."""
    import threading

    rng = np.random.default_rng(5)
    b = 3001
    lay = Kernel.build(strat, "sim", b).layout
    ahead, plain = Valuer(lay, reuse_buffers=True), Valuer(lay, reuse_buffers=True)
    vol = np.broadcast_to(np.array([0.6]), (b, 1))
    spot = np.full((b, 1), 3000.0)
    for day in range(0, 400, 9):  # past some expiries
        t_s = day * 86400.0
        spot = spot * np.exp(rng.normal(0.0, 0.05, (b, 1)))
        helper = threading.Thread(target=ahead.mark_ahead, args=(t_s, spot, vol))
        helper.start()
        helper.join()
        if (lay.opt_expiry_s > t_s).any():  # the start is there to be used (or ignored)
            assert t_s in ahead._ahead
        if day == 27:  # a stale start: another time, then another array of the same spots
            ahead.mark_ahead(t_s + 1.0, spot, vol)
        if day == 36:
            ahead.mark_ahead(t_s, spot.copy(), vol)
        got, want = ahead.mark(t_s, spot, vol), plain.mark(t_s, spot, vol)
        np.testing.assert_array_equal(got.price, want.price)
        np.testing.assert_array_equal(got.delta, want.delta)
