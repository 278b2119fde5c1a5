"""Soak: the run loop for 500 decision steps on the Deribit emulator with random faults.

Every fault kind the emulator injects fires at least 20 times (timeouts, 5xx, 429, dropped
connections, responses lost after the order was placed, partial fills, stale prices, rejected
orders). Afterwards the venue and the journal must agree exactly: every order the venue holds is
journaled, no client id reached the venue twice, nothing journaled as sent is missing at the
venue, and the position equals the sum of the journaled fills (in the venue's own units).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from live_support import PERP, SPEC, deribit, session, strategy

from rebal.backends.live.runner import run_loop

STEPS = 500
KINDS = {  # kind -> (requests it hits, probability per request, settings)
    "timeout": ("any", 0.004, {"delay": 1.3}),
    "error5xx": ("any", 0.004, {}),
    "ratelimit": ("any", 0.004, {}),
    "drop": ("any", 0.004, {}),
    "lost": ("order", 0.1, {}),
    "partial": ("order", 0.1, {"fraction": 0.5}),
    "reject": ("order", 0.1, {}),
    "stale": ("public", 0.01, {"delay": 0.2}),
}


def _soak_spec(tmp: Path) -> Path:
    """The live hedge with a tight band and no cooldown or split: nearly every step trades."""
    text = SPEC.read_text().replace("band 0.5 ETH", "band 0.05 ETH")
    text = text.replace("cooldown 5m", "").replace("split 2 ETH every 2m", "")
    path = tmp / "soak.rebal"
    path.write_text(text)
    return path


def test_soak_500_steps_with_faults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="rebal")
    spec = _soak_spec(tmp_path)
    with deribit(spec=spec, seed=7) as emu:
        for kind, (on, p, settings) in KINDS.items():
            emu.add_fault(kind, on=on, p=p, count=0, **settings)
        opened = session(emu, tmp_path / "state", strategy(spec), timeout_ms=1000)
        s = opened.session
        try:
            s.start()
            # the market follows the spec's GBM, ten minutes per step: hedges keep coming
            run_loop(s, interval_s=0.0, max_steps=STEPS,
                     on_step=lambda res: emu.advance(600.0))
            emu.clear_faults()
            s.reconcile()
            journal = opened.journal
            rows = {r.client_id: r for r in journal.orders()}
            snap = opened.adapter.snapshot()
        finally:
            opened.close()
        fired = Counter(f["kind"] for f in emu.state()["fired"])
        venue = [o for o in emu.orders() if o["contract"] == PERP]
    for kind in KINDS:
        assert fired[kind] >= 20, (kind, fired)
    ids = [o["client_id"] for o in venue]
    assert len(ids) == len(set(ids)), "a client id reached the venue twice"
    assert set(ids) <= set(rows), "an order at the venue is not in the journal"
    reached = {c for c, r in rows.items() if r.venue_id or r.filled}
    assert reached <= set(ids), "an order the journal says reached the venue is not there"
    assert all(r.final for r in rows.values()), "an order was left unsettled"
    for o in venue:  # the journal's fills are the venue's fills
        assert rows[o["client_id"]].venue_filled == pytest.approx(o["filled"] if o["side"] ==
                                                                  "buy" else -o["filled"])
    position = sum(r.venue_filled or 0.0 for r in rows.values())
    assert snap.venue_positions["PERP"] == pytest.approx(position, abs=1e-9)
    assert sum(1 for o in venue if o["filled"]) > 200  # it really traded through the faults
    assert "Traceback" not in caplog.text
    # one clear line per fault the client saw
    assert caplog.text.count("outcome unknown") + caplog.text.count("venue error") >= 20
    assert caplog.text.count("rejected by the venue") >= 20
