"""The simulation engine: the SimResult contract, determinism, accounting identities, the
example specs, and memory that stays flat in the number of steps."""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rebal.backends.kernel import Kernel
from rebal.backends.kernel.pricing import bs_price
from rebal.backends.sim.engine import SamplePaths, SimResult, SimulationError, simulate
from rebal.compiler import compile_file, compile_text, ir

SPECS = Path(__file__).resolve().parent.parent / "specs"
SHARED = ("btc_eth_weights", "btc_optimal_band", "eth_cppi_vault", "eth_leverage_2x",
          "eth_straddle_hedge")
OTHERS = sorted(p.stem for p in SPECS.glob("*.rebal")
                if p.stem not in SHARED and "policy" not in p.stem)
ARRAYS = ("pnl", "fees", "slippage", "gas", "funding", "trades", "rebalances",
          "tracking_error", "max_drawdown", "liquidated", "halted")


def compiled(text: str) -> ir.Strategy:
    s, diags = compile_text(text)
    assert s is not None, [f"{d.code} {d.message}" for d in diags]
    return s


def spec_file(name: str) -> ir.Strategy:
    s, diags = compile_file(SPECS / f"{name}.rebal")
    assert s is not None, [f"{d.code} {d.message}" for d in diags]
    return s


def sim_venue(s: ir.Strategy) -> str:
    return next(v.name for v in s.venues if v.backend == "sim")


STRADDLE = compiled("""
strategy straddle {
  capital 150000 USD
  instruments {
    C option ETH call strike 3000 USD expiry 2026-03-01
    P option ETH put  strike 3000 USD expiry 2026-03-01
    PERP perp ETH
  }
  book { C -10  P -10 }
  owns PERP
  target delta 0 ETH { band 0.5 ETH hedge with PERP }
  trigger { on breach every 8h cooldown 5m }
  costs { max slippage 20 bps min trade 0.1 ETH }
  venue sim via sim {
    ETH spot 3000 USD vol 60% fee 3 bps slippage 2 bps
    start 2026-01-01 horizon 10d step 1h paths 300 seed 9
  }
}""")


# --------------------------------------------------------------------------- the contract


def test_result_has_the_contract_fields_and_shapes() -> None:
    res = simulate(STRADDLE, "sim", paths=50, sample_paths=3)
    names = [f.name for f in dataclasses.fields(SimResult)]
    assert names == ["strategy", "venue", "paths", "steps", "seed", "assets", "numeraire",
                     "target_unit", "book_value0", "elapsed_s", *ARRAYS[:10], "halted",
                     "refusals", "samples"][:len(names)]
    assert (res.strategy, res.venue, res.paths, res.steps, res.seed) == (
        "straddle", "sim", 50, 240, 9)
    assert res.assets == ("ETH",) and res.numeraire == "USD" and res.target_unit == "ETH"
    for name in ARRAYS:
        arr = getattr(res, name)
        assert arr.shape == (50,), name
        assert np.all(np.isfinite(arr)), name
    assert res.liquidated.dtype == bool and res.halted.dtype == bool
    s = res.samples
    assert isinstance(s, SamplePaths)
    assert s.t_s.shape == (241,) and s.t_s[-1] == 10 * 86400
    assert s.spot.shape == (3, 241, 1) and s.equity.shape == (3, 241)
    assert s.measure.shape == s.band_lo.shape == s.band_hi.shape == (3, 241)
    np.testing.assert_allclose(s.band_hi - s.band_lo, 1.0)
    for path, step, inst, qty, reason in s.trades:
        assert 0 <= path < 3 and 0 <= step < 240 and inst == "PERP" and qty != 0.0
        assert reason in ("breach", "clock")
    assert {r for *_, r in s.trades} == {"breach", "clock"}
    assert simulate(STRADDLE, "sim", paths=5).samples is None


def test_same_seed_gives_identical_results_and_another_seed_does_not() -> None:
    a = simulate(STRADDLE, "sim", paths=64, sample_paths=2)
    b = simulate(STRADDLE, "sim", paths=64, sample_paths=2)
    c = simulate(STRADDLE, "sim", paths=64, seed=10)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.samples is not None and b.samples is not None
    np.testing.assert_array_equal(a.samples.equity, b.samples.equity)
    assert a.samples.trades == b.samples.trades and a.refusals == b.refusals
    assert not np.array_equal(a.pnl, c.pnl)


def test_book_value_is_cash_so_equity_starts_at_capital() -> None:
    res = simulate(STRADDLE, "sim", paths=20, sample_paths=20)
    tau = 59 / 365
    premium = 10 * (bs_price(3000.0, 3000.0, tau, 0.6) + bs_price(3000.0, 3000.0, tau, 0.6,
                                                                  is_call=False))
    assert res.book_value0 == pytest.approx(-float(premium), rel=1e-12)
    assert res.samples is not None
    # equity at t0 is the capital less what the first hedge cost (fee 3 bps + slippage 2 bps)
    cost = np.zeros(20)
    for p, step, _, qty, _ in res.samples.trades:
        if step == 0:
            cost[p] += abs(qty) * 3000.0 * 0.0005
    assert cost.min() > 0
    np.testing.assert_allclose(res.samples.equity[:, 0], 150000.0 - cost, rtol=1e-12)


def test_fees_and_slippage_are_fractions_of_the_traded_value() -> None:
    s = compiled("""
strategy w {
  capital 100000 USD
  instruments { PERP perp ETH }
  owns PERP
  target weights { PERP 50% band 5% }
  trigger { on breach }
  venue sim via sim {
    ETH spot 2000 USD vol 1% fee 10 bps slippage 5 bps
    start 2026-01-01 horizon 1d step 1d paths 4
  }
}""")
    res = simulate(s, "sim", sample_paths=1)
    np.testing.assert_allclose(res.fees, 50000 * 0.001)  # bought 25 ETH at 2000
    np.testing.assert_allclose(res.slippage, 50000 * 0.0005)
    assert res.samples is not None and res.samples.trades == [(0, 0, "PERP", 25.0, "breach")]
    np.testing.assert_array_equal(res.trades, 1)
    np.testing.assert_array_equal(res.rebalances, 1)


def test_orders_beyond_max_slippage_do_not_fill() -> None:
    text = """
strategy w {
  capital 100000 USD
  instruments { PERP perp ETH }
  owns PERP
  target weights { PERP 50% band 5% }
  trigger { on breach }
  costs { max slippage LIMIT }
  venue sim via sim {
    ETH spot 2000 USD vol 1% slippage 5 bps impact 1 bps per 10 ETH
    start 2026-01-01 horizon 1d step 1d paths 2
  }
}"""
    # 25 ETH: 5 bps + 2.5 bps of impact = 7.5 bps
    full = simulate(compiled(text.replace("LIMIT", "10 bps")), "sim")
    np.testing.assert_allclose(full.slippage, 50000 * 0.00075)
    capped = simulate(compiled(text.replace("LIMIT", "6 bps")), "sim", sample_paths=1)
    assert capped.samples is not None
    # fills only what keeps slippage within 6 bps: 5 bps + 1 bps = 10 ETH
    assert capped.samples.trades[0][3] == pytest.approx(10.0)


def test_gas_is_paid_per_transaction_at_the_eth_price() -> None:
    s = spec_file("eth_cppi_vault")
    res = simulate(s, "paper", paths=3, steps=200, sample_paths=3)
    assert res.samples is not None
    steps = {(p, k) for p, k, *_ in res.samples.trades}
    want = np.zeros(3)
    for p, k in steps:
        want[p] += 20e-9 * 180000 * res.samples.spot[p, k, 0]
    np.testing.assert_allclose(res.gas, want, rtol=1e-12)
    assert np.all(res.gas > 0)


def test_an_option_is_settled_at_expiry_and_the_run_goes_on() -> None:
    s = compiled("""
strategy expiring {
  capital 10000 USD
  instruments { C option ETH call strike 3000 USD expiry 2026-01-11  PERP perp ETH }
  book { C 1 }
  owns PERP
  target delta 0 ETH { band 100 ETH hedge with PERP }
  trigger { on breach }
  venue sim via sim { ETH spot 3000 USD vol 60% start 2026-01-01 horizon 20d step 1d paths 200 }
}""")
    res = simulate(s, "sim", sample_paths=200)
    assert res.samples is not None and res.steps == 20
    payoff = np.maximum(res.samples.spot[:, 10, 0] - 3000.0, 0.0)
    np.testing.assert_allclose(res.pnl, payoff - res.book_value0, rtol=1e-12, atol=1e-9)
    # nothing changes after expiry: equity is flat from day 10 on
    eq = res.samples.equity
    np.testing.assert_allclose(eq[:, 10:], np.broadcast_to(eq[:, -1:], eq[:, 10:].shape))


def test_a_halt_is_sticky_and_recorded() -> None:
    s = compiled("""
strategy halting {
  capital 100000 USDT
  instruments { PERP perp ETH settle USDT }
  owns PERP
  target weights { PERP 100% band 2% }
  trigger { on breach every 1d }
  risk { halt when drawdown > 25% }
  venue sim via sim { ETH spot 3000 USDT vol 80% start 2026-01-01 horizon 30d step 4h paths 200 }
}""")
    res = simulate(s, "sim", sample_paths=200)
    assert 0 < res.halted.sum() < 200
    assert res.samples is not None
    eq = res.samples.equity
    dd = 1.0 - eq / np.maximum.accumulate(eq, axis=1)
    for p in np.flatnonzero(res.halted):
        first = int(np.argmax(dd[p] > 0.25))
        assert not [k for q, k, *_ in res.samples.trades if q == p and k >= first]
    np.testing.assert_allclose(res.max_drawdown, dd.max(axis=1), rtol=1e-12, atol=1e-15)


def test_tracking_error_is_the_rms_deviation_of_the_first_target() -> None:
    res = simulate(STRADDLE, "sim", paths=10, sample_paths=10)
    assert res.samples is not None
    dev = res.samples.measure[:, 1:] - 0.0
    np.testing.assert_allclose(res.tracking_error, np.sqrt((dev**2).mean(axis=1)), rtol=1e-12)


def test_progress_is_reported_up_to_the_last_step() -> None:
    seen: list[tuple[int, int]] = []
    simulate(STRADDLE, "sim", paths=4, progress=lambda k, n: seen.append((k, n)))
    assert seen[0] == (0, 240) and seen[-1] == (240, 240) and 10 <= len(seen) <= 250


def test_user_errors_are_simulation_errors() -> None:
    s = spec_file("eth_straddle_hedge")
    with pytest.raises(SimulationError, match="via ccxt"):
        simulate(s, "deribit")
    with pytest.raises(SimulationError, match="no venue 'nope'"):
        simulate(s, "nope")
    replay = spec_file("eth_replay_backtest")
    with pytest.raises(SimulationError, match="replay file not found"):
        simulate(replay, sim_venue(replay), base_dir=SPECS / "missing")


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("name", SHARED)
def test_the_shared_examples_simulate_on_their_sim_venue(name: str) -> None:
    s = spec_file(name)
    venue = sim_venue(s)
    res = simulate(s, venue, paths=12, steps=300, sample_paths=2)
    assert res.paths == 12 and res.steps == 300
    for field in ARRAYS:
        assert np.all(np.isfinite(getattr(res, field))), field
    assert res.trades.sum() > 0
    np.testing.assert_allclose(res.pnl + 0.0, res.pnl)  # numbers, not objects


@pytest.mark.parametrize("name", OTHERS)
def test_the_other_examples_simulate_too(name: str) -> None:
    s = spec_file(name)
    res = simulate(s, sim_venue(s), paths=8, steps=200, base_dir=SPECS)
    for field in ARRAYS:
        assert np.all(np.isfinite(getattr(res, field))), field


def test_cash_earns_the_rate() -> None:
    s = compiled("""
strategy idle {
  capital 100000 USD
  instruments { PERP perp ETH }
  owns PERP
  target delta 0 ETH { band 1 ETH hedge with PERP }
  trigger { on breach }
  venue sim via sim { ETH spot 3000 USD vol 60% rate 5% start 2026-01-01 horizon 73d step 1d
                      paths 3 }
}""")
    res = simulate(s, "sim")
    np.testing.assert_allclose(res.pnl, 100000.0 * np.expm1(0.05 * 0.2), rtol=1e-12)
    np.testing.assert_array_equal(res.trades, 0)


def test_a_future_is_marked_at_the_forward_and_settles_by_variation_margin() -> None:
    s = compiled("""
strategy fut {
  capital 100000 USD
  instruments { F future ETH expiry 2026-03-02 }
  owns F
  target delta 10 ETH { band 1 ETH hedge with F }
  trigger { on breach }
  venue sim via sim { ETH spot 3000 USD vol 60% rate 5% start 2026-01-01 horizon 60d step 1d
                      paths 50 }
}""")
    res = simulate(s, "sim", sample_paths=50)
    assert res.samples is not None
    # at t0 the future's delta is e^{r tau}: 10 ETH of delta takes 10 / e^{r tau} contracts
    q = 10.0 / np.exp(0.05 * 60 / 365)
    trades0 = [t for t in res.samples.trades if t[1] == 0]
    assert len(trades0) == 50 and trades0[0][3] == pytest.approx(q)
    # P&L: the contracts' forward change (F_T = S_T at expiry) plus interest on cash
    s_t = res.samples.spot[:, -1, 0]
    fwd0 = 3000.0 * np.exp(0.05 * 60 / 365)
    assert np.all(np.abs(res.trades - 1) <= 60)  # rebalanced as delta drifts with tau
    assert np.corrcoef(res.pnl, s_t - fwd0)[0, 1] > 0.99


def test_the_replay_example_is_the_same_on_every_path() -> None:
    s = spec_file("eth_replay_backtest")
    res = simulate(s, sim_venue(s), paths=3, base_dir=SPECS)
    assert np.all(res.pnl == res.pnl[0]) and res.steps > 0


def test_a_full_example_run_matches_its_venue_settings() -> None:
    s = spec_file("eth_straddle_hedge")
    res = simulate(s, "paper", paths=8)
    assert res.steps == 30 * 24 * 12 and res.seed == 0
    assert res.book_value0 < 0 and res.fees.min() > 0


# --------------------------------------------------------------------------- memory


def test_memory_stays_flat_in_the_number_of_steps() -> None:
    def peak(steps: int) -> int:
        tracemalloc.start()
        simulate(STRADDLE, "sim", paths=2000, steps=steps)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(50), peak(800)
    assert long < 1.2 * short, (short, long)


def test_kernel_for_live_use_needs_no_sim_venue() -> None:
    s = spec_file("eth_straddle_hedge")
    k = Kernel.build(s, "deribit", 1)
    assert k.layout.costs.fee == pytest.approx(0.0005)  # the spec's own max fee
    assert k.layout.assets == ("ETH",)


def test_children_released_together_count_as_separate_fills() -> None:
    s = compiled("""
strategy twap {
  capital 100000 USD
  instruments { PERP perp ETH }
  owns PERP
  target delta 23 ETH { band 1 ETH hedge with PERP }
  trigger { on breach }
  costs { split 5 ETH every 2m }
  venue sim via sim { ETH spot 3000 USD vol 1% start 2026-01-01 horizon 1h step 5m paths 2 }
}""")
    res = simulate(s, "sim", sample_paths=1)
    assert res.samples is not None
    # 23 ETH as 5-ETH children, two per 5-minute step: 10, 10, 3 -> 5 children, 1 decision
    assert [t[3] for t in res.samples.trades] == pytest.approx([10.0, 10.0, 3.0])
    assert [t[4] for t in res.samples.trades] == ["breach", "split", "split"]
    np.testing.assert_array_equal(res.trades, 5)
    np.testing.assert_array_equal(res.rebalances, 1)


# --------------------------------------------------------------------------- the market feed


@pytest.mark.parametrize("name", [*SHARED, *OTHERS])
def test_stepping_the_market_ahead_on_a_thread_gives_the_same_numbers(name: str) -> None:
    s = spec_file(name)
    venue = sim_venue(s)
    ahead = simulate(s, venue, paths=16, steps=150, sample_paths=2, base_dir=SPECS)
    inline = simulate(s, venue, paths=16, steps=150, sample_paths=2, base_dir=SPECS,
                      threaded=False)
    for field in ARRAYS:
        np.testing.assert_array_equal(getattr(ahead, field), getattr(inline, field),
                                      err_msg=field)
    assert ahead.samples is not None and inline.samples is not None
    np.testing.assert_array_equal(ahead.samples.spot, inline.samples.spot)
    assert ahead.samples.trades == inline.samples.trades


def test_the_feed_pairs_each_spot_with_the_vol_of_the_same_step() -> None:
    from rebal.backends.sim.feed import MarketFeed
    from rebal.backends.sim.models import HestonModel

    def heston() -> HestonModel:
        m = HestonModel(["ETH"], [3000.0], [0.6], kappa=[2.0], xi=[0.9], rho=[-0.5])
        m.reset(500, 3)
        return m

    ref = heston()
    expected = [(ref.step(0.01), ref.vol.copy()) for _ in range(20)]
    feed = MarketFeed(heston(), 0.01, 20)
    for spot, vol in expected:
        got_spot, got_vol = feed.next()
        np.testing.assert_array_equal(got_spot, spot)
        np.testing.assert_array_equal(got_vol, vol)
    with pytest.raises(StopIteration):
        feed.next()


def test_a_model_failure_reaches_the_engine_through_the_feed() -> None:
    from rebal.backends.sim.feed import MarketFeed

    class Broken:
        spot = np.ones((4, 1))
        vol = np.ones((4, 1))
        calls = 0

        def step(self, dt: float) -> np.ndarray:
            self.calls += 1
            if self.calls == 2:
                raise ValueError("bad candle")
            return self.spot

    model = Broken()
    feed = MarketFeed(model, 0.1, 5)
    feed.next()
    with pytest.raises(ValueError, match="bad candle"):
        feed.next()
    feed.close()
    assert model.calls == 2  # nothing was drawn after the failure
