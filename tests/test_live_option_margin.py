"""A venue's short-option maintenance margin in the kernel's requirement: the ccxt adapter
carries Deribit's ``maintenance_margin`` of each option position as a fraction of its
underlying notional ``|q| x index`` (``0.075 + mark`` in the coin per coin), and the gate's
``liquidation buffer`` and the plan's liquidation distance count it.

Real ccxt against the Deribit emulator (``emulators/margin.py``: a short option needs
``(0.075 + mark) x size`` coins, a long one none).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from live_support import CALL, PERP, PUT, SPEC, deribit, read_venue, strategy

from rebal.backends.kernel.gate import liquidation_distance, maintenance_requirement
from rebal.backends.live.driver import KernelDriver
from rebal.backends.live.views import market_view, portfolio_view


def _ids(seq: int, leg: int, child: int) -> str:
    return f"id-{seq}-{leg}-{child}"


def test_a_short_straddles_requirement_is_the_venues() -> None:
    s = strategy()
    with deribit() as emu:  # short 10 calls and 10 puts at 3000
        emu.set_position(PERP, 30_000.0)  # and 10 ETH of the inverse perpetual
        snap = read_venue(emu, s)
        summary = emu.api.get_account_summary("main", {"currency": "ETH"})
        coin_marks = {o: emu.ledger.mark(emu.ledger.contracts[o]) for o in (CALL, PUT)}
    index = snap.index["ETH"]
    # each short option: (0.075 + its mark in ETH per ETH) of its underlying notional
    assert snap.maintenance["ETH_C"] == pytest.approx(0.075 + coin_marks[CALL], rel=1e-9)
    assert snap.maintenance["ETH_P"] == pytest.approx(0.075 + coin_marks[PUT], rel=1e-9)
    driver = KernelDriver(s, s.venue("deribit"))
    lay = driver.layout
    market = market_view(lay, snap, {})
    book = portfolio_view(lay, snap, s.venue("deribit"))
    marks = driver.kernel.mark(snap.time_s, market)
    req = maintenance_requirement(lay, book.positions, marks.notional, market.margin())[0]
    # the account's maintenance margin (perpetual and both options), in ETH at the index
    assert req == pytest.approx(summary["maintenance_margin"] * index, rel=1e-9)
    options = sum((0.075 + coin_marks[o]) * 10 * index for o in (CALL, PUT))
    perp_only = market.maintenance_margin * np.where(lay.is_option, 0.0, 1.0)
    assert req - maintenance_requirement(lay, book.positions, marks.notional,
                                         perp_only)[0] == pytest.approx(options, rel=1e-9)


def test_the_option_margin_refuses_a_trade_it_would_not_otherwise(tmp_path: Path) -> None:
    # 10 ETH of collateral behind the short straddle; the target buys 20 ETH of perpetual
    spec = tmp_path / "long.rebal"
    text = SPEC.read_text().replace("target delta 0 ETH", "target delta 20 ETH")
    text = text.replace("    split 2 ETH every 2m\n", "")
    text = text.replace("    max position PERP 50 ETH\n",
                        "    max position PERP 50 ETH\n    liquidation buffer 25%\n")
    spec.write_text(text)
    s = strategy(spec)
    with deribit(spec=spec, balances={"ETH": 10.0}) as emu:
        snap = read_venue(emu, s)
        summary = emu.api.get_account_summary("main", {"currency": "ETH"})
    index = snap.index["ETH"]
    options_mm = summary["maintenance_margin"] * index  # no perpetual held: options only
    driver = KernelDriver(s, s.venue("deribit"))
    lay = driver.layout
    market = market_view(lay, snap, {})
    book = portfolio_view(lay, snap, s.venue("deribit"))
    marks = driver.kernel.mark(snap.time_s, market)
    # after buying 20 ETH: equity E falls by (D S) x for a fall x, the options' requirement R
    # by R x (it is a fraction of the underlying notional): x = (E - R) / (D S - R)
    post = book.positions.copy()
    post[0, lay.col("PERP")] += 20.0
    delta = float(((post * marks.delta) @ lay.membership)[0, 0] + book.coin[0, 0])
    e = float(book.equity[0])
    counted = liquidation_distance(lay, post, marks, book.equity, market.margin(), book.coin)[0]
    assert counted == pytest.approx((e - options_mm) / (delta * index - options_mm), rel=1e-9)
    blind_margin = np.where(lay.is_option, 0.0, market.maintenance_margin)
    blind = liquidation_distance(lay, post, marks, book.equity, blind_margin, book.coin)[0]
    assert blind == pytest.approx(e / (delta * index), rel=1e-9)
    assert counted < 0.25 < blind

    decided = driver.decide(snap, 1, _ids)
    assert decided.triggered and decided.refused == "liquidation buffer"
    assert not decided.orders
    # the same snapshot without the options' figures: the trade goes out
    perps_only = {n: v for n, v in snap.maintenance.items() if n == "PERP"}
    decided = KernelDriver(s, s.venue("deribit")).decide(
        dataclasses.replace(snap, maintenance=perps_only), 1, _ids)
    assert decided.refused == "" and sum(o.qty for o in decided.orders) > 19.0
    # the plan's distance counts the coin collateral as the gate does (no 2000% move)
    assert 0.25 < decided.liquidation_after < 1.0


def test_a_new_short_option_is_weighed_by_the_venues_rule_and_a_long_one_needs_none(
        tmp_path: Path) -> None:
    """No option held: the venue's positions state no option margin, so the adapter gives
    Deribit's published rule (``0.075 + mark``); the gate then refuses selling options the
    collateral cannot margin, and lets the same quantity be bought (a long option needs no
    maintenance margin)."""
    spec = tmp_path / "writer.rebal"
    spec.write_text(SPEC.read_text().replace(
        "    max position PERP 50 ETH\n", "    max position PERP 50 ETH\n    liquidation buffer 25%\n"))
    s = strategy(spec)
    with deribit(spec=spec, balances={"ETH": 1.5}) as emu:
        emu.set_position(CALL, 0.0)
        emu.set_position(PUT, 0.0)
        snap = read_venue(emu, s)
        coin_marks = {o: emu.ledger.mark(emu.ledger.contracts[o]) for o in (CALL, PUT)}
    assert snap.positions["ETH_C"] == 0.0 == snap.positions["ETH_P"]
    # (the ticker's mark is the venue's, to 8 decimals)
    assert snap.maintenance["ETH_C"] == pytest.approx(0.075 + coin_marks[CALL], abs=1e-8)
    assert snap.maintenance["ETH_P"] == pytest.approx(0.075 + coin_marks[PUT], abs=1e-8)
    driver = KernelDriver(s, s.venue("deribit"))
    lay, gate = driver.layout, driver.kernel.gate
    market = market_view(lay, snap, {})
    book = portfolio_view(lay, snap, s.venue("deribit"))
    marks = driver.kernel.mark(snap.time_s, market)
    index, call = snap.index["ETH"], lay.col("ETH_C")

    def after(qty: float) -> np.ndarray:
        orders = np.zeros_like(book.positions)
        orders[0, call] = qty
        return orders

    short, long = book.positions + after(-10.0), book.positions + after(10.0)
    req_short = maintenance_requirement(lay, short, marks.notional, market.margin())[0]
    assert req_short == pytest.approx((0.075 + coin_marks[CALL]) * 10.0 * index, rel=1e-7)
    assert maintenance_requirement(lay, long, marks.notional, market.margin())[0] == 0.0

    def refused(qty: float, margin: object) -> str:
        code = gate.check(book.positions, after(qty), marks, book.equity, np.zeros(1), None,
                          None, margin, book.coin)  # type: ignore[arg-type]
        names = {v: k for k, v in gate.codes.items()}
        return names.get(int(code[0]), "")

    assert refused(-8.0, market.margin()) == "liquidation buffer"
    assert refused(8.0, market.margin()) == ""  # the same delta risk the other way: allowed
    blind = np.where(lay.is_option, 0.0, market.maintenance_margin)  # the option figures gone
    assert refused(-8.0, blind) == ""  # what the gate did before the rule was given
