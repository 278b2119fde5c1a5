"""Backtest = live: one replay CSV drives the simulator and the exchange emulator alike.

A spec's ``replay`` sim venue replays hourly ETH candles. ``simulate`` (the engine behind
``rebal simulate``) runs it on its one path and records every fill (step, instrument,
quantity). The emulator's prices follow the same sim venue (``rebal emulate VENUE --spec SPEC
--venue replay``) while the run loop of ``rebal run`` trades against it, the venue clock moved
one candle per decision step (:func:`run_both`, shared by both venues). The live orders must be
the simulator's trades, step for step, up to the venue's amount step, and the final positions
must agree.

* **Binance USD-M** (linear ``ETHUSDT``, a 40% weight): the venue's lot is 0.001 ETH.
* **Deribit** (the inverse ``ETH-PERPETUAL`` hedging a short straddle, everything settled in
  ETH): the amount is USD contracts of 1 USD, so a position is ``N / P`` coins and the sum
  of the trades is not the position; the comparison is on the USD notional, exact in venue
  units.

What cannot agree exactly is named and bounded in each test: the venue's amount rounding, the
costs the two charge differently (the emulator fills at its bid/ask on the price tick and
accrues funding between requests, the simulator at mark +- its slippage and per step) and, on
Deribit, the coin the account starts with (its collateral, worth ``origin x S`` at the end,
where the simulator's capital is USD cash).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from live_support import (
    BINANCE_SPEC,
    ETHUSDT,
    PERP,
    ROOT,
    SPEC,
    binance,
    deribit,
    session,
    strategy,
)

from rebal.backends.kernel.pricing import bs_price
from rebal.backends.live.adapter import Snapshot
from rebal.backends.live.runner import run_loop
from rebal.backends.sim.engine import SimResult, simulate
from rebal.emulators import Emulator

CANDLES = ROOT / "specs" / "data" / "eth_1h_sample.csv"  # synthetic hourly candles
STEP_S = 3600.0
STEPS = 240  # ten days of hourly candles
LOT, TICK = 0.001, 0.01  # ETHUSDT's amount step and price tick (the emulator's, as Binance's)
FEE, SLIPPAGE, FUNDING = 0.0005, 0.00005, 0.10  # the replay venue's (FEE: the emulator's taker)
CAPITAL = 100_000.0
YEAR_S = 365 * 24 * 3600.0
REPLAY = """  venue replay via sim {{
    model replay "eth_1h.csv"
    ETH spot 3000 {ccy} vol 70%
    funding {perp} 10% per 1y
    fee 5 bps
    slippage 0.5 bps
    {start}horizon 10d step 1h paths 1
  }}
}}
"""
CLOSES = np.loadtxt(CANDLES, delimiter=",", skiprows=1, usecols=4)[: STEPS + 1]
MOVES = float(np.abs(np.diff(CLOSES)).sum())  # total |price change| along the path


def _spec(tmp: Path, base: Path, cut: str, replay: str,
          edits: tuple[tuple[str, str], ...] = ()) -> Path:
    """``base`` with its sim venues (from ``cut`` on) replaced by the ``replay`` venue."""
    text = base.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    text = text[: text.index(cut)] + replay
    shutil.copy(CANDLES, tmp / "eth_1h.csv")
    path = tmp / "parity.rebal"
    path.write_text(text)
    return path


@dataclass
class Both:
    """One replay traded twice: the simulator's fills and the emulator's orders."""

    sim: SimResult
    simulated: list[tuple[int, str, float]]   # (step, instrument, qty in underlying units)
    orders: list[dict[str, Any]]              # the emulator's orders of the traded contract
    steps: list[int]                          # each order's decision step, by venue time
    first: Snapshot                           # the venue before the first step
    last: Snapshot                            # the venue after the last


def run_both(tmp: Path, spec: Path, venue: str, contract: str,
             emulator: Callable[..., AbstractContextManager[Emulator]],
             **emu: Any) -> Both:
    """``simulate`` the replay on its one path, then ``rebal run``'s loop against the
    emulator following the same replay, one candle per step."""
    s = strategy(spec)
    sim = simulate(s, "replay", paths=1, sample_paths=1, base_dir=tmp, threaded=False)
    assert sim.samples is not None and sim.steps == STEPS
    simulated = [(step, name, qty) for _, step, name, qty, _ in sim.samples.trades]
    with emulator(spec=spec, sim_venue="replay", **emu) as e:
        t0_ms = e.clock.now_ms()
        opened = session(e, tmp / "state", s, venue=venue)
        try:
            first = opened.adapter.snapshot()
            opened.session.start()
            run_loop(opened.session, interval_s=0.0, max_steps=STEPS,
                     on_step=lambda res: e.advance(STEP_S))
            last = opened.adapter.snapshot()
        finally:
            opened.close()
        orders = [o for o in e.orders() if o["contract"] == contract]
    steps = [round((o["created_ms"] - t0_ms) / 1000.0 / STEP_S) for o in orders]
    assert all(o["state"] == "filled" for o in orders)
    assert len(simulated) >= 10  # the path really trades
    return Both(sim, simulated, orders, steps, first, last)


def _signed(o: dict[str, Any]) -> float:
    return float(o["filled"]) if o["side"] == "buy" else -float(o["filled"])


def test_live_orders_equal_the_simulated_trades_on_one_replay(tmp_path: Path) -> None:
    """Binance USD-M: the linear ETHUSDT on a 40% weight (a 0.5-point band)."""
    spec = _spec(tmp_path, BINANCE_SPEC, "  venue paper via sim",
                 REPLAY.format(ccy="USDT", perp="ETH_PERP", start=""),
                 (("band 1%", "band 0.5%"),))
    both = run_both(tmp_path, spec, "binance", ETHUSDT, binance)
    sim, simulated, orders, snap = both.sim, both.simulated, both.orders, both.last
    live = [(k, "ETH_PERP", _signed(o)) for k, o in zip(both.steps, orders, strict=True)]
    assert [(k, n) for k, n, _ in live] == [(k, n) for k, n, _ in simulated]
    meta = snap.meta["ETH_PERP"]
    assert (meta.qty_step, meta.tick) == (LOT, TICK)
    held_live = held_sim = most = 0.0
    for (k, _, q_live), (_, _, q_sim) in zip(live, simulated, strict=True):
        # the venue trades whole lots: the kernel releases each order rounded toward zero on
        # the lot, so the live position trails the simulator's by less than one lot, and an
        # order differs from the simulated trade by the change of that remainder (< 2 lots)
        held_live, held_sim = held_live + q_live, held_sim + q_sim
        most = max(most, abs(held_live), abs(held_sim))
        assert abs(held_live - held_sim) < LOT, (k, held_live, held_sim)
        assert abs(q_live - q_sim) < 2 * LOT, (k, q_live, q_sim)
    assert snap.positions["ETH_PERP"] == pytest.approx(held_live, abs=1e-9)
    assert abs(snap.positions["ETH_PERP"] - held_sim) < LOT

    # Equity: the same path, hence the same P&L, but for three named differences, bounded.
    moves, top = MOVES, float(CLOSES.max())
    traded = sum(abs(q) for _, _, q in live)
    # (1) lots: the remainder (< 1 lot) is held through every move, and costs are paid on
    # quantities up to 2 lots apart per order
    lots = LOT * moves + (FEE + SLIPPAGE) * len(orders) * 2 * LOT * top
    # (2) fills: the emulator takes its ask/bid half a spread (0.5 bps) from the mark rounded
    # out to the tick, the simulator mark +- 0.5 bps: at most a tick apart, fee included
    fills = traded * TICK * (1 + FEE)
    # (3) funding: the emulator accrues it between requests at the newer mark, the
    # simulator per step: at most rate x step x |position| x |move| per step
    funding = FUNDING * STEP_S / YEAR_S * most * moves
    fees_live = sum(o["fee"] for o in orders)
    assert abs(fees_live - float(sim.fees[0])) <= FEE * (traded * TICK + len(orders) * 2 * LOT
                                                         * top)
    equity_sim = float(sim.pnl[0]) + CAPITAL
    assert abs(snap.equity - equity_sim) <= lots + fills + funding, (snap.equity, equity_sim,
                                                                      lots, fills, funding)


START = "2026-12-01"  # the replay's first candle, for the simulator and the venue clock alike
START_S = 1_796_083_200.0  # 2026-12-01T00:00:00Z
USD_LOT = 1.0  # ETH-PERPETUAL's contract: 1 USD
PERP_SPREAD, PERP_TICK = 0.0002, 0.05  # the emulator's ETH-PERPETUAL book (Deribit's tick)
STRADDLE = ((3000.0, True, -10.0), (3000.0, False, -10.0))  # the fixture's book (strike, call, q)
# the spec's `expiry 2026-12-25` is that date's 00:00 UTC for the kernel and the simulator;
# Deribit's options (and the emulator's) expire at 08:00 UTC
EXPIRY_S = 1_798_156_800.0  # 2026-12-25T00:00:00Z
VENUE_EXPIRY_S = EXPIRY_S + 8 * 3600.0


def _extra_time_value(step: int) -> float:
    """USD the venue's straddle is worth more than the spec's at ``step`` (8 more hours)."""
    t = START_S + step * STEP_S
    s = float(CLOSES[step])
    return sum(q * float(bs_price(s, k, (VENUE_EXPIRY_S - t) / YEAR_S, 0.70, 0.0, call)
                         - bs_price(s, k, (EXPIRY_S - t) / YEAR_S, 0.70, 0.0, call))
               for k, call, q in STRADDLE)


def test_deribit_inverse_perp_hedge_trades_as_simulated(tmp_path: Path) -> None:
    """Deribit: the short straddle of the live fixture delta-hedged with the inverse
    ETH-PERPETUAL (USD contracts; P&L, fees and funding in ETH), on the same replay, the
    simulator's capital held in ETH as the venue's account holds it (`collateral ETH`).

    The fixture's `split` is left out (one order per decision, as on Binance). Its drawdown
    halt is tightened to 5%: ETH falls 9.7% from a peak on this path, so the account's equity
    (mostly ETH) does too, but the strategy's does not, and neither run halts."""
    spec = _spec(tmp_path, SPEC, "  venue paper via sim",
                 REPLAY.format(ccy="USD", perp="PERP",
                               start=f"collateral ETH\n    start {START}\n    "),
                 (("    split 2 ETH every 2m\n", ""),
                  ("halt when drawdown > 15%", "halt when drawdown > 5%")))
    both = run_both(tmp_path, spec, "deribit", PERP, deribit, start_s=START_S)
    sim, first, last = both.sim, both.first, both.last
    account_fall = float((1.0 - CLOSES / np.maximum.accumulate(CLOSES)).max())
    assert account_fall > 0.09  # ETH's own fall: 5% of the account's equity and more
    assert not bool(sim.halted[0]) and float(sim.max_drawdown[0]) < 0.05
    assert max(both.steps) > int(np.argmax(CLOSES)) + 24  # live trades on after ETH's fall
    assert [(k, n) for k, n, _ in both.simulated] == [(k, "PERP") for k in both.steps]
    usd_live = [_signed(o) for o in both.orders]          # the venue's amounts: USD contracts
    usd_sim = [q * float(CLOSES[k]) for k, _, q in both.simulated]  # notional added at the mark
    traded = sum(abs(u) for u in usd_live)

    # Named differences, each bounded in USD of notional or of equity:
    # (1) costs: the emulator fills at its bid/ask, half its spread (1 bp) from the mark
    # rounded out to the tick, the simulator at the mark +- its slippage (0.5 bps): the live
    # fills cost more by at most this; the coin it costs is delta to the kernel, so later
    # hedges differ by it too
    fills = traded * (PERP_SPREAD / 2 + PERP_TICK / float(CLOSES.min()) - SLIPPAGE)
    # (2) expiry time: the venue's options carry 8 hours more time value, whose change along
    # the path is coin (delta) on the venue and not in the simulator (Black-Scholes, closed form)
    expiry = [_extra_time_value(k) - _extra_time_value(0) for k in range(STEPS + 1)]
    worst_expiry = max(abs(x) for x in expiry)
    # (3) funding accrued between requests at the newer mark instead of per step
    most = max(abs(sum(usd_sim[: i + 1])) for i in range(len(usd_sim))) / float(CLOSES.min())
    funding = FUNDING * STEP_S / YEAR_S * most * MOVES
    # (4) contracts: each order is whole USD contracts (rounded to the nearest), the
    # simulator's notional is not
    gap = 2 * USD_LOT + fills + worst_expiry + funding
    for k, live, simulated in zip(both.steps, usd_live, usd_sim, strict=True):
        assert abs(live - simulated) <= gap, (k, live, simulated, gap)
    n_live, n_sim = last.venue_positions["PERP"], sum(usd_sim)
    assert n_live == sum(usd_live)  # the venue's position is the sum of its orders, exactly
    assert abs(n_live - n_sim) <= gap, (n_live, n_sim, gap)
    # in coins: N / P at the last index, as the simulator counts an inverse position's units
    s_t = last.index["ETH"]
    assert s_t == pytest.approx(float(CLOSES[-1]))
    assert abs(last.positions["PERP"] - n_sim / s_t) <= gap / s_t

    # Equity: (5) collateral: the account's ETH is the live strategy's capital (`origin`
    # coins: its equity over the index at the start, the book's options included), worth
    # `origin x S_T` at the end; the simulator holds its 300,000 USD as ETH at the first
    # close. Net of each one's collateral (their strategies' P&Ls), the two differ by (2) at
    # the end, within (1), (3) and the contracts held apart
    origin = first.equity / first.index["ETH"]
    pnl_live = last.equity - origin * s_t
    s_0 = float(CLOSES[0])
    pnl_sim = float(sim.pnl[0]) - 300_000.0 / s_0 * (s_t - s_0)
    assert abs(expiry[-1]) > 1.0  # the expiry difference is real on this path, and named
    # the notionals held apart step by step, each move's inverse P&L on the difference
    apart = np.zeros(STEPS + 1)
    for k, live, simulated in zip(both.steps, usd_live, usd_sim, strict=True):
        apart[k + 1:] += live - simulated
    held = float(np.sum(np.abs(apart[1:]) * np.abs(1 / CLOSES[:-1] - 1 / CLOSES[1:]))) * s_t
    bound = fills + funding + held
    assert abs(pnl_live - pnl_sim - expiry[-1]) <= bound, (pnl_live, pnl_sim, expiry[-1], bound)
    fees_live = sum(o["fee"] * o["avg_price"] for o in both.orders)  # ETH fees at the fill
    assert abs(fees_live - float(sim.fees[0])) <= FEE * (traded * PERP_TICK / float(
        CLOSES.min()) + len(usd_live) * gap)
