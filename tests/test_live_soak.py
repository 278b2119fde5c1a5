"""Soak: the run loop for 500 decision steps (steps spent waiting for an unsettled order not
counted) on each exchange emulator with random faults.

Every fault kind the emulator injects fires at least 20 times (timeouts, 5xx, 429, dropped
connections, responses lost after the order was placed, partial fills, stale prices, rejected
orders). Afterwards the venue and the journal must agree exactly: every order the venue holds is
journaled, no client id reached the venue twice, nothing journaled as sent is missing at the
venue, and the position equals the sum of the journaled fills (in the venue's own units).

Both venues run through one helper (:func:`soak`), so the two soaks prove the same things:
Deribit (an inverse perpetual in USD contracts hedging a short straddle, labels that the venue
does not refuse twice) and Binance USD-M (a linear perpetual in coins on its lot step, ids the
venue refuses twice with -4116, errors mapped by code on a loopback host).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from live_support import (
    BINANCE_SPEC,
    ETHUSDT,
    FAST,
    PERP,
    SPEC,
    binance,
    deribit,
    session,
    strategy,
)

from rebal.backends.live.runner import Stop, run_loop
from rebal.backends.live.session import StepResult
from rebal.emulators import Emulator

STEPS = 500
TIMEOUT_MS = 400  # the client's timeout; a timeout fault holds its request a little longer
# an order the venue does not show is closed after 1.2 s: longer than any request stays in
# flight here (a timeout fault holds one 0.5 s), short enough not to idle the soak
POLICY = replace(FAST, unknown_grace_s=1.2)
KINDS = {  # kind -> (requests it hits, probability per request, settings)
    "timeout": ("any", 0.008, {"delay": 0.5}),
    "error5xx": ("any", 0.008, {}),
    "ratelimit": ("any", 0.008, {}),
    "drop": ("any", 0.008, {}),
    "lost": ("order", 0.2, {}),
    "partial": ("order", 0.2, {"fraction": 0.5}),
    "reject": ("order", 0.2, {}),
    "stale": ("public", 0.02, {"delay": 0.2}),
}


def _spec(source: Path, tmp: Path, edits: dict[str, str]) -> Path:
    text = source.read_text()
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "soak.rebal"
    path.write_text(text)
    return path


def soak(emu: Emulator, spec: Path, venue: str, instrument: str, contract: str, state: Path,
         caplog: pytest.LogCaptureFixture, advance_s: float) -> None:
    """Run ``STEPS`` steps of ``venue`` on ``emu`` (its clock moved ``advance_s`` per step, so
    the spec's GBM keeps breaching the band) with every fault kind armed, then prove the venue
    and the journal agree on ``instrument`` (``contract`` at the venue)."""
    caplog.set_level(logging.WARNING, logger="rebal")
    opened = session(emu, state, strategy(spec), venue=venue, policy=POLICY,
                     timeout_ms=TIMEOUT_MS)
    s = opened.session
    try:
        s.start()
        for kind, (on, p, settings) in KINDS.items():  # the loop runs through the faults
            emu.add_fault(kind, on=on, p=p, count=0, **settings)
        decided = 0
        stop = Stop()

        def on_step(res: StepResult) -> None:  # count decisions, not steps spent waiting
            nonlocal decided
            if res.decision is not None:
                decided += 1
                emu.advance(advance_s)
                if decided >= STEPS:
                    stop.set()

        run_loop(s, interval_s=0.0, max_steps=4 * STEPS, stop=stop, on_step=on_step)
        assert decided == STEPS, f"only {decided} decisions: the loop was stuck waiting"
        emu.clear_faults()
        # an order whose answer was lost in the last steps is settled once its grace has passed
        # (POLICY.unknown_grace_s): reconcile until nothing is open, as a restart would
        deadline = time.monotonic() + 10 * POLICY.unknown_grace_s
        s.reconcile()
        while s.unsettled() and time.monotonic() < deadline:
            time.sleep(0.2)
            s.reconcile()
        rows = {r.client_id: r for r in opened.journal.orders()}
        snap = opened.adapter.snapshot()
    finally:
        opened.close()
    fired = Counter(f["kind"] for f in emu.state()["fired"])
    orders = [o for o in emu.orders() if o["contract"] == contract]
    for kind in KINDS:
        assert fired[kind] >= 20, (kind, fired)
    ids = [o["client_id"] for o in orders]
    assert len(ids) == len(set(ids)), "a client id reached the venue twice"
    assert set(ids) <= set(rows), "an order at the venue is not in the journal"
    reached = {c for c, r in rows.items() if r.venue_id or r.filled}
    assert reached <= set(ids), "an order the journal says reached the venue is not there"
    assert all(r.final for r in rows.values()), "an order was left unsettled"
    for o in orders:  # the journal's fills are the venue's fills
        signed = o["filled"] if o["side"] == "buy" else -o["filled"]
        assert rows[o["client_id"]].venue_filled == pytest.approx(signed)
    position = sum(r.venue_filled or 0.0 for r in rows.values())
    assert snap.venue_positions[instrument] == pytest.approx(position, abs=1e-9)
    # it really traded through the faults: a fifth of the orders are rejected by design and
    # the weights spec trades on most decisions, so ~200 fills is typical; 100 is the floor
    assert sum(1 for o in orders if o["filled"]) > 100
    assert "Traceback" not in caplog.text
    # one clear line per fault the client saw
    assert caplog.text.count("outcome unknown") + caplog.text.count("venue error") >= 20
    assert caplog.text.count("rejected by the venue") >= 20


def test_deribit_soak_500_steps_with_faults(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """The straddle hedge with a tight band and no cooldown or split: nearly every step
    trades ETH-PERPETUAL (USD contracts), ten minutes of GBM per step."""
    spec = _spec(SPEC, tmp_path, {"band 0.5 ETH": "band 0.05 ETH", "cooldown 5m": "",
                                  "split 2 ETH every 2m": ""})
    with deribit(spec=spec, seed=7) as emu:
        soak(emu, spec, "deribit", "PERP", PERP, tmp_path / "state", caplog, 600.0)


def test_binance_usdm_soak_500_steps_with_faults(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A 40% ETH weight with a tight band and no cooldown: nearly every step trades ETHUSDT
    (coins on the 0.001 lot step), an hour of GBM per step."""
    spec = _spec(BINANCE_SPEC, tmp_path, {"band 1%": "band 0.05%", "cooldown 5m": ""})
    with binance(spec=spec, seed=7) as emu:
        soak(emu, spec, "binance", "ETH_PERP", ETHUSDT, tmp_path / "state", caplog, 3600.0)
