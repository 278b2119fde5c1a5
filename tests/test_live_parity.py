"""Backtest = live: one replay CSV drives the simulator and the exchange emulator alike.

The spec's ``replay`` sim venue replays hourly ETH candles. ``simulate`` (the engine behind
``rebal simulate``) runs it on its one path and records every fill (step, instrument,
quantity). The Binance USD-M emulator's prices follow the same sim venue (``rebal emulate
binanceusdm --spec SPEC --venue replay``) while the run loop of ``rebal run`` trades against it,
the venue clock moved one candle per decision step. The live orders must be the simulator's
trades, step for step, up to the venue's amount step (0.001 ETH: the venue rounds, the
simulator does not), and the final positions must agree.

What cannot agree exactly is named and bounded: the venue's lot rounding (each live order is
within one lot of the simulator's trade; the positions within half a lot) and the costs the two
charge differently (the emulator fills at its bid/ask on the price tick and accrues funding
between requests, the simulator at mark +- its slippage and per step), which leave equity
within a few dollars of the simulator's over the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from live_support import BINANCE_SPEC, ETHUSDT, ROOT, binance, session, strategy

from rebal.backends.live.runner import run_loop
from rebal.backends.sim.engine import simulate

CANDLES = ROOT / "specs" / "data" / "eth_1h_sample.csv"  # synthetic hourly candles
STEP_S = 3600.0
STEPS = 240  # ten days of hourly candles
LOT, TICK = 0.001, 0.01  # ETHUSDT's amount step and price tick (the emulator's, as Binance's)
FEE, SLIPPAGE, FUNDING = 0.0005, 0.00005, 0.10  # the replay venue's (FEE: the emulator's taker)
CAPITAL = 100_000.0
YEAR_S = 365 * 24 * 3600.0
REPLAY = """  venue replay via sim {
    model replay "eth_1h.csv"
    ETH spot 3000 USDT vol 70%
    funding ETH_PERP 10% per 1y
    fee 5 bps
    slippage 0.5 bps
    horizon 10d step 1h paths 1
  }
}
"""


def _spec(tmp: Path) -> Path:
    """The live weights spec with a 0.5-point band, its sim venue replaced by the replay."""
    text = BINANCE_SPEC.read_text().replace("band 1%", "band 0.5%")
    text = text[: text.index("  venue paper via sim")] + REPLAY
    shutil.copy(CANDLES, tmp / "eth_1h.csv")
    path = tmp / "parity.rebal"
    path.write_text(text)
    return path


def test_live_orders_equal_the_simulated_trades_on_one_replay(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    s = strategy(spec)
    sim = simulate(s, "replay", paths=1, sample_paths=1, base_dir=tmp_path, threaded=False)
    assert sim.samples is not None and sim.steps == STEPS
    simulated = [(step, name, qty) for _, step, name, qty, _ in sim.samples.trades]

    with binance(spec=spec, sim_venue="replay") as emu:
        t0_ms = emu.clock.now_ms()
        opened = session(emu, tmp_path / "state", s, venue="binance")
        try:
            opened.session.start()
            run_loop(opened.session, interval_s=0.0, max_steps=STEPS,
                     on_step=lambda res: emu.advance(STEP_S))
            snap = opened.adapter.snapshot()
        finally:
            opened.close()
        orders = [o for o in emu.orders() if o["contract"] == ETHUSDT]

    live = [(round((o["created_ms"] - t0_ms) / 1000.0 / STEP_S), "ETH_PERP",
             o["filled"] if o["side"] == "buy" else -o["filled"]) for o in orders]
    assert all(o["state"] == "filled" for o in orders)
    assert len(simulated) >= 10  # the path really trades
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
    closes = np.loadtxt(CANDLES, delimiter=",", skiprows=1, usecols=4)[: STEPS + 1]
    moves = float(np.abs(np.diff(closes)).sum())  # total |price change| along the path
    top = float(closes.max())
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
