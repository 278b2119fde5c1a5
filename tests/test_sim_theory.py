"""The simulator against known results: discrete hedging error, band vs clock hedging,
funding, liquidation and the liquidation-buffer gate.

Each check is statistical where theory is: the tolerance is a few standard errors of the
Monte Carlo estimate, so a wrong sign, scale or convention fails while noise does not.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rebal.backends.kernel.pricing import bs_greeks
from rebal.backends.sim.engine import SimResult, simulate
from rebal.compiler import compile_text, ir


def compiled(text: str) -> ir.Strategy:
    s, diags = compile_text(text)
    assert s is not None, [f"{d.code} {d.message}" for d in diags]
    return s


def hedged_call_book(step: str, paths: int, *, trigger: str | None = None, band: str = "",
                     fee: str = "0 bps", expiry: str = "2026-12-27", horizon: str = "360d",
                     quantity: int = 100, seed: int = 11) -> ir.Strategy:
    """An at-the-money call book delta-hedged with a perp; the option expires at the horizon."""
    return compiled(f"""
strategy hedge {{
  capital 1000000 USD
  instruments {{ C option ETH call strike 3000 USD expiry {expiry}  PERP perp ETH }}
  book {{ C {quantity} }}
  owns PERP
  target delta 0 ETH {{ {band} hedge with PERP }}
  trigger {{ {trigger or "every " + step} }}
  venue sim via sim {{
    ETH spot 3000 USD vol 60% fee {fee}
    start 2026-01-01 horizon {horizon} step {step} paths {paths} seed {seed}
  }}
}}""")


def std_and_se(x: np.ndarray) -> tuple[float, float]:
    sd = float(np.std(x, ddof=1))
    return sd, sd / np.sqrt(2.0 * (x.size - 1))


# --------------------------------------------------------------------------- Derman & Kamal


@pytest.mark.parametrize(("step", "n"), [("10d", 36), ("2d", 180)])
def test_discrete_hedging_error_matches_derman_kamal(step: str, n: int) -> None:
    """std of the hedged P&L ~ sqrt(pi/4) * vega * sigma / sqrt(N) (Derman & Kamal 1999)."""
    res = simulate(hedged_call_book(step, 4000), "sim")
    assert res.steps == n
    vega = 100 * float(bs_greeks(3000.0, 3000.0, 360 / 365, 0.6).vega)  # dV/dsigma of the book
    want = np.sqrt(np.pi / 4) * vega * 0.6 / np.sqrt(n)
    sd, se = std_and_se(res.pnl)
    assert abs(sd - want) < 3.5 * se, (sd, want, se)
    assert abs(res.pnl.mean()) < 4 * sd / np.sqrt(res.paths)  # hedged: no drift in P&L


def test_hedge_error_shrinks_with_the_step_without_costs_or_band() -> None:
    sds = [std_and_se(simulate(hedged_call_book(step, 2000), "sim").pnl)[0]
           for step in ("18d", "6d", "2d")]
    assert sds[0] > sds[1] > sds[2]
    # each step is a third of the previous one: the error falls like sqrt(3)
    for a, b in itertools.pairwise(sds):
        assert a / b == pytest.approx(np.sqrt(3.0), rel=0.12)


# --------------------------------------------------------------------------- bands vs clocks


def _short_call_month(band: str, trigger: str) -> SimResult:
    s = hedged_call_book("1h", 1000, trigger=trigger, band=band, fee="20 bps",
                         expiry="2026-01-31", horizon="30d", quantity=-100, seed=5)
    return simulate(s, "sim")


def _error_and_cost(res: SimResult) -> tuple[float, float]:
    cost = res.fees + res.slippage
    return float(np.std(res.pnl + cost, ddof=1)), float(cost.mean())


def test_whalley_wilmott_band_costs_less_than_a_clock_for_the_same_hedge_error() -> None:
    clocks = [_error_and_cost(_short_call_month("", f"every {p}"))
              for p in ("1h", "2h", "4h", "8h", "1d")]
    errors = np.array([e for e, _ in clocks])
    costs = np.array([c for _, c in clocks])
    assert np.all(np.diff(errors) > 0) and np.all(np.diff(costs) < 0)  # a frontier
    for risk_aversion in ("0.001", "0.01"):
        err, cost = _error_and_cost(
            _short_call_month(f"band optimal(risk_aversion {risk_aversion})", "on breach"))
        # every clock that hedges at least as well costs more ...
        better = errors <= err
        assert better.any()
        assert np.all(costs[better] > cost)
        # ... and the clock frontier at the same hedge error costs more too
        assert np.interp(err, errors, costs) > 1.1 * cost


# --------------------------------------------------------------------------- funding


def test_funding_paid_is_rate_times_notional_times_time() -> None:
    s = compiled("""
strategy carry {
  capital 100000 USD
  instruments { PERP perp ETH }
  owns PERP
  target delta 10 ETH { band 5 ETH hedge with PERP }
  trigger { on breach }
  venue sim via sim {
    ETH spot 3000 USD vol 60% funding PERP 20% per 1y
    start 2026-01-01 horizon 30d step 1d paths 3000 seed 3
  }
}""")
    res = simulate(s, "sim", sample_paths=5)
    assert np.all(res.trades == 1)  # bought 10 ETH at t0 and held
    want = 0.20 * 10 * 3000.0 * 30 / 365  # rate x notional x time (zero drift)
    se = res.funding.std(ddof=1) / np.sqrt(res.paths)
    assert abs(res.funding.mean() - want) < 4 * se
    # exactly, path by path: rate x q x S_k x dt summed over the steps the position was held
    assert res.samples is not None
    spots = res.samples.spot[:, 1:, 0]
    np.testing.assert_allclose(res.funding[:5], 0.2 * 10 * spots.sum(axis=1) / 365, rtol=1e-12)
    # and P&L is the perp's price change less funding
    move = 10 * (res.samples.spot[:, -1, 0] - 3000.0)
    np.testing.assert_allclose(res.pnl[:5], move - res.funding[:5], rtol=1e-9, atol=1e-6)


def test_shorts_receive_positive_funding() -> None:
    s = compiled("""
strategy carry {
  capital 100000 USD
  instruments { PERP perp ETH }
  owns PERP
  target delta -10 ETH { band 5 ETH hedge with PERP }
  trigger { on breach }
  venue sim via sim {
    ETH spot 3000 USD vol 60% funding PERP 20% per 1y
    start 2026-01-01 horizon 30d step 1d paths 200 seed 3
  }
}""")
    assert np.all(simulate(s, "sim").funding < 0)


# --------------------------------------------------------------------------- liquidation


def test_a_highly_levered_perp_in_a_jump_market_gets_liquidated() -> None:
    s = compiled("""
strategy levered {
  capital 10000 USD
  instruments { PERP perp ETH }
  owns PERP
  target delta 30 ETH { band 5 ETH hedge with PERP }
  trigger { on breach }
  venue sim via sim {
    model jump
    ETH spot 3000 USD vol 80% jumps 12 per 1y size -15%
    start 2026-01-01 horizon 90d step 1h paths 500 seed 2
  }
}""")
    res = simulate(s, "sim")
    assert res.liquidated.mean() > 0.5  # 9x long: a 11% fall wipes it out
    liq = res.liquidated
    # closed at the liquidation price (equity 0 without maintenance margin), never below
    np.testing.assert_allclose(res.pnl[liq], -10000.0, atol=1e-6)
    assert np.all(res.trades[liq] == 1)  # and the path stops trading
    assert np.all(res.pnl[~liq] > -10000.0)


def test_maintenance_margin_liquidates_earlier_and_keeps_the_margin() -> None:
    s = compiled("""
strategy levered {
  capital 10000 USD
  instruments { PERP perp ETH }
  owns PERP
  target delta 20 ETH { band 5 ETH hedge with PERP }
  trigger { on breach }
  venue sim via sim {
    ETH spot 3000 USD vol 80% maintenance margin 5%
    start 2026-01-01 horizon 90d step 1h paths 400 seed 4
  }
}""")
    res = simulate(s, "sim", sample_paths=400)
    liq = res.liquidated
    assert liq.any()
    assert res.samples is not None
    # equity at liquidation is 5% of the notional at the liquidation price, kept afterwards
    final = res.samples.equity[liq, -1]
    assert np.all(final > 0.0) and np.all(final < 0.05 * 20 * 3000.0)


def test_a_liquidation_buffer_stops_the_gate_from_adding_leverage() -> None:
    # A long call book kept at 20 ETH of delta: when ETH falls the calls lose delta and the
    # hedge must buy perps while equity shrinks; the buffer refuses what would leave less than
    # a 30% fall to liquidation, and says so.
    text = """
strategy buffered {
  capital 20000 USD
  instruments { C option ETH call strike 3000 USD expiry 2026-06-30  PERP perp ETH }
  book { C 20 }
  owns PERP
  target delta 20 ETH { band 1 ETH hedge with PERP }
  trigger { on breach }
  costs { max slippage 1% }
  risk { RISK }
  venue sim via sim {
    model jump
    ETH spot 3000 USD vol 80% jumps 12 per 1y size -10%
    start 2026-01-01 horizon 60d step 6h paths 400 seed 1
  }
}"""
    gated = simulate(compiled(text.replace("RISK", "liquidation buffer 30%")), "sim")
    free = simulate(compiled(text.replace("RISK", "max leverage 100x")), "sim")
    assert gated.refusals.get("liquidation buffer", 0) > 0
    assert "liquidation buffer" not in free.refusals
    assert gated.trades.sum() < free.trades.sum()
    assert gated.liquidated.sum() < free.liquidated.sum()
