"""A coin-margined account: capital held as coin collateral, and drawdown on the strategy.

On Deribit the account of a strategy trading ETH-settled contracts holds ETH: its equity in
USD moves with ETH even when the strategy is flat. A sim venue's ``collateral ETH`` holds the
capital that way (``capital / S_0`` coins), so equity, leverage and liquidation move as the
venue's account does. ``drawdown`` (the halt and the report's ``max_drawdown``) is measured
on the strategy's equity, with the collateral at its price when the kernel first decided
(``kernel/coins.py``, ``CoinOrigin``): the kernel does not hedge the collateral, so its price
must not halt the strategy. Then a simulation without collateral, one with it and a live
account agree on when a drawdown halt fires.
"""

from __future__ import annotations

import numpy as np
import pytest

from rebal.backends.kernel import Kernel, MarketView
from rebal.backends.kernel.context import EquityPeak
from rebal.backends.live.adapter import Snapshot
from rebal.backends.live.views import portfolio_view
from rebal.backends.sim.accounting import Accounts
from rebal.backends.sim.engine import simulate
from rebal.compiler import check_source, compile_text, ir
from rebal.compiler.explain import explain

SPEC = """
strategy coin_account {{
  capital 150000 USD
  instruments {{
    ETH_C option ETH call strike 3000 USD expiry 2026-12-25 settle ETH
    PERP  perp ETH settle ETH
  }}
  book {{ ETH_C -10 }}
  owns PERP
  target delta 0 ETH {{ band 0.5 ETH  hedge with PERP }}
  trigger {{ on breach }}
  costs {{ max slippage 20 bps }}
  risk {{ halt when drawdown > {halt} }}
  venue deribit via ccxt {{ ETH_C = "ETH-25DEC26-3000-C"  PERP = "ETH-PERPETUAL" }}
  venue cash via sim {{
    ETH spot 3000 USD vol 60%  fee 3 bps
    start 2026-12-01  horizon 10d step 1h paths 400
  }}
  venue coin via sim {{
    ETH spot 3000 USD vol 60%  fee 3 bps
    collateral ETH
    start 2026-12-01  horizon 10d step 1h paths 400
  }}
}}"""


def _same_trades(a: list[tuple[int, int, str, float, str]],
                 b: list[tuple[int, int, str, float, str]]) -> None:
    """The same fills (path, step, instrument, reason), sizes equal to the float rounding of
    the coin held less the origin."""
    assert [(p, k, n, r) for p, k, n, _, r in a] == [(p, k, n, r) for p, k, n, _, r in b]
    np.testing.assert_allclose([q for *_, q, _ in a], [q for *_, q, _ in b], rtol=1e-9)


def _compile(halt: str = "15%", book: bool = True) -> ir.Strategy:
    text = SPEC.format(halt=halt)
    s, diags = compile_text(text if book else text.replace("book { ETH_C -10 }", ""))
    assert s is not None, [d.message for d in diags]
    return s


# ---------------------------------------------------------------------- the language


def test_collateral_compiles_into_the_sim_venue_and_explain_says_so() -> None:
    s = _compile()
    cfg = s.venue("coin").config
    assert isinstance(cfg, ir.SimConfig) and cfg.collateral == "ETH"
    cash = s.venue("cash").config
    assert isinstance(cash, ir.SimConfig) and cash.collateral is None
    text = explain(s)
    assert "the capital is held in ETH as collateral (a coin-margined account)" in text


def test_collateral_in_a_coin_no_instrument_settles_in_is_refused_with_a_hint() -> None:
    usd = SPEC.format(halt="15%").replace(" settle ETH", "")
    res = check_source(usd, "usd.rebal")
    found = [d for d in res.diagnostics if d.code == "E801"]
    assert len(found) == 1, [(d.code, d.message) for d in res.diagnostics]
    d = found[0]
    assert "`collateral ETH`: no instrument settles in ETH" in d.message
    assert d.span is not None and "settle ETH" in (d.help or "")
    line = usd.splitlines()[d.span.line - 1]
    assert line.strip() == "collateral ETH"


def test_collateral_must_be_an_asset_the_venue_prices() -> None:
    res = check_source(SPEC.format(halt="15%").replace("collateral ETH", "collateral BTC"),
                       "btc.rebal")
    codes = [(d.code, d.message) for d in res.diagnostics if d.severity.value == "error"]
    assert codes == [("E201", "`BTC` is not a declared sim asset")]


# ---------------------------------------------------------------------- the simulator


def test_collateral_moves_the_account_with_the_coin_and_leaves_the_strategy_alone() -> None:
    """Same paths, same decisions: the P&L differs by exactly the collateral's move,
    ``capital / S_0 x (S_T - S_0)``, and the strategy's drawdown is the same."""
    s = _compile()
    cash = simulate(s, "cash", seed=3, sample_paths=400)
    coin = simulate(s, "coin", seed=3, sample_paths=400)
    assert cash.samples is not None and coin.samples is not None
    _same_trades(cash.samples.trades, coin.samples.trades)  # every fill, step and size
    assert cash.trades.sum() > 400  # the hedge really trades
    s0, st = coin.samples.spot[:, 0, 0], coin.samples.spot[:, -1, 0]
    np.testing.assert_array_equal(s0, cash.samples.spot[:, 0, 0])
    origin = 150000.0 / 3000.0
    np.testing.assert_allclose(coin.pnl - cash.pnl, origin * (st - s0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(coin.samples.equity[:, 0], cash.samples.equity[:, 0], rtol=1e-12)
    np.testing.assert_allclose(coin.max_drawdown, cash.max_drawdown, rtol=0, atol=1e-12)
    # the account itself fell much further on some paths: ETH's own moves
    peak = EquityPeak(400, coin.samples.equity[:, 0])
    for k in range(coin.samples.equity.shape[1]):
        peak.track(coin.samples.equity[:, k], np.empty(400))
    assert float(peak.max_drawdown.max()) > 0.1 > float(coin.max_drawdown.max())


def test_a_drawdown_halt_fires_on_the_same_paths_with_and_without_collateral() -> None:
    """A tight halt (0.06%) stops the same paths at the same steps; measured on the account's
    equity, ETH's own moves would halt nearly every collateral path."""
    s = _compile("0.06%")
    cash = simulate(s, "cash", seed=4, sample_paths=400)
    coin = simulate(s, "coin", seed=4, sample_paths=400)
    assert cash.samples is not None and coin.samples is not None
    assert 20 < int(cash.halted.sum()) < 380  # the halt is live on this run
    np.testing.assert_array_equal(coin.halted, cash.halted)
    _same_trades(cash.samples.trades, coin.samples.trades)
    s0 = coin.samples.spot[:, 0, 0]
    fell = (coin.samples.spot[:, :, 0].min(axis=1) / s0) < 0.99  # ETH fell 1% at some time
    assert int((fell & ~coin.halted).sum()) > 20  # ... and those paths were not halted


def test_a_liquidation_gap_of_inverse_contracts_is_credited_in_their_coin() -> None:
    """The venue covers what a liquidation leaves below maintenance; the losses were paid in
    ETH, so the gap goes back to the ETH balance at the index, not to USD cash."""
    s = _compile(book=False)
    kernel = Kernel.build(s, "coin", 1)
    lay = kernel.layout
    spot = np.array([[3000.0]], order="F")
    marks = kernel.mark(0.0, MarketView(spot=spot, vol=np.array([[0.6]])))
    acc = Accounts(lay, 1, 1000.0, np.zeros(1), marks, collateral=0)
    assert acc.coin is not None and acc.coin[0, 0] == pytest.approx(1000.0 / 3000.0)
    perp = lay.col("PERP")
    acc.positions[:, perp] = 10.0  # a 30,000 USD inverse long on 1,000 USD of ETH
    acc.notional[perp] = np.array([30000.0])
    cash0 = float(acc.cash[0])
    crash = np.array([[2800.0]], order="F")
    m1 = kernel.mark(3600.0, MarketView(spot=crash, vol=np.array([[0.6]])))
    acc.carry(3600.0, m1)
    equity = acc.equity(m1)
    assert float(equity[0]) < 0.0  # the variation margin took more than the collateral
    hit = acc.liquidate(m1, equity)
    assert hit is not None and bool(hit[0])
    assert float(acc.cash[0]) == cash0  # nothing appeared in USD
    assert float(acc.coin[0, 0]) * 2800.0 == pytest.approx(0.0, abs=1e-9)  # back to zero
    assert float(acc.positions[0, perp]) == 0.0


# ---------------------------------------------------------------------- live-shaped


def _deribit(s: ir.Strategy) -> ir.Venue:
    return s.venue("deribit")


def _snapshot(t: float, eth: float, coin: float) -> Snapshot:
    """A Deribit-shaped account: ETH equity ``coin`` (no options held, no perp)."""
    return Snapshot(time_s=t, numeraire="USD", equity=coin * eth, positions={"ETH_C": 0.0},
                    balances={"ETH": coin}, index={"ETH": eth},
                    mark={"ETH_C": 0.0, "PERP": eth})


def test_a_live_account_falling_with_its_collateral_is_not_a_drawdown() -> None:
    """50 ETH of collateral and ETH 20% lower: the account lost 20% in USD, the strategy
    nothing, and `halt when drawdown > 15%` stays quiet; a restart keeps the origin's index;
    a real loss of coin halts."""
    s = _compile()
    venue = _deribit(s)
    kernel = Kernel.build(s, venue, 1, epoch_s=0.0)
    lay = kernel.layout

    def step(k: Kernel, t: float, eth: float, coin: float) -> bool:
        snap = _snapshot(t, eth, coin)
        spot = np.array([[eth]], order="F")
        market = MarketView(spot=spot, vol=np.array([[0.6]]))
        k.decide(t, market, portfolio_view(lay, snap, venue))
        return bool(k.halted[0])

    assert not step(kernel, 0.0, 3000.0, 50.0)
    assert not step(kernel, 3600.0, 2400.0, 50.0)  # account: 150,000 -> 120,000 USD
    again = Kernel.build(s, venue, 1, epoch_s=0.0)
    again.restore_state(kernel.save_state())
    assert again.coin_origin is not None and again.coin_origin.spot[0, 0] == 3000.0
    assert not step(again, 7200.0, 2400.0, 50.0)
    # the strategy loses 10 ETH of its own (at 2,400: 24,000 of 150,000 USD, 16%)
    assert step(again, 10800.0, 2400.0, 40.0)
