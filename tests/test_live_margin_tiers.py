"""Maintenance tiers from the venue: ccxt's unified leverage tiers (Binance's brackets, with
their ``cum``) reach the kernel as ``MarketView.margin_tiers``, and the gate weighs a trade at
the tier of its post-trade notional (``kernel/margin.py``).

Real ccxt against the Binance USD-M emulator; closed forms from its brackets
(``emulators/margin.py``: 0.4% to 50k USDT, 0.5% less 50 to 500k, 1% less 2,550 to 10M,
2.5% less 152,550 to 80M).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from live_support import binance, levered_spec, read_venue, strategy

from rebal.backends.kernel.gate import liquidation_distance, maintenance_requirement
from rebal.backends.live.driver import KernelDriver
from rebal.backends.live.views import market_view, portfolio_view

SPEC = levered_spec("900%", "liquidation buffer 10.6%")


def _ids(seq: int, leg: int, child: int) -> str:
    return f"id-{seq}-{leg}-{child}"


def test_a_trade_into_a_higher_bracket_is_weighed_at_that_bracket(tmp_path: Path) -> None:
    spec = tmp_path / "levered.rebal"
    spec.write_text(SPEC)
    s = strategy(spec)
    with binance(spec=spec) as emu:
        emu.set_position("ETHUSDT", 13.0)  # about 39,000 USDT: the first bracket, 0.4%
        held = read_venue(emu, s, "binance")
    # the venue's brackets, as ccxt's fetch_leverage_tiers reads them (cum from `info`)
    tiers = held.margin_tiers["ETH_PERP"]
    assert [t[0] for t in tiers[:4]] == [0.0, 50_000.0, 500_000.0, 10_000_000.0]
    assert [t[1] for t in tiers[:4]] == [0.004, 0.005, 0.01, 0.025]
    assert [t[2] for t in tiers[:4]] == pytest.approx([0.0, 50.0, 2_550.0, 152_550.0])
    assert held.maintenance["ETH_PERP"] == pytest.approx(0.004)  # the held position's rate

    driver = KernelDriver(s, s.venue("binance"))
    lay = driver.layout
    market = market_view(lay, held, {})
    # the requirement at notionals across the brackets, in one batch (positions of 1 unit =
    # 1 USDT of notional): rate x |N| - cum of N's bracket
    notional = np.array([[20_000.0], [50_000.0], [90_000.0], [900_000.0], [-20_000_000.0],
                         [0.0]])
    req = maintenance_requirement(lay, notional, np.ones_like(notional), market.margin())
    assert req == pytest.approx([80.0, 200.0, 400.0, 6_450.0, 347_450.0, 0.0])
    # the fraction of the position held alone weighs 900k at 0.4%: 3,600, not 6,450
    assert maintenance_requirement(lay, notional[3:4], np.ones((1, 1)),
                                   market.maintenance_margin)[0] == pytest.approx(3_600.0)

    # 39k -> 900% of equity (about 900k, bracket 3): the post-trade distance to liquidation
    # is (E - (1% N - 2550)) / (N - 1% N) = 10.5% < the 10.6% buffer: refused
    book = portfolio_view(lay, held, s.venue("binance"))
    e, spot = float(book.equity[0]), float(market.spot[0, 0])
    post = np.array([[9.0 * e / spot]])
    n = 9.0 * e
    marks = driver.kernel.mark(held.time_s, market)
    dist = liquidation_distance(lay, post, marks, book.equity, market.margin())[0]
    assert dist == pytest.approx((e - (0.01 * n - 2_550.0)) / (0.99 * n), rel=1e-9)
    decided = driver.decide(held, 1, _ids)
    assert decided.triggered and decided.refused == "liquidation buffer"
    assert not decided.orders

    # without the tiers, the held bracket's 0.4% says (E - 0.4% N) / (N - 0.4% N) = 10.75%:
    # allowed, the understatement this closes
    blind = dataclasses.replace(held, margin_tiers={})
    decided = KernelDriver(s, s.venue("binance")).decide(blind, 1, _ids)
    assert decided.refused == "" and decided.orders
    q_after = 13.0 + sum(o.qty for o in decided.orders)
    n_after = q_after * spot
    assert decided.liquidation_after == pytest.approx(
        (e - 0.004 * n_after) / (0.996 * n_after), rel=1e-6)
