"""Crash: `rebal run` killed with SIGKILL at 20 random points, restarted each time.

The runner is a real `rebal run` process trading a TWAP-split hedge on the Deribit emulator
(accelerated clock, prices following the spec's GBM). A fault holds some order answers back
(the order is placed, the answer comes late), so kills land between journal and send, after
send before the answer, and mid-TWAP. After the last restart the journal and the venue must
agree: no client id twice at the venue, every venue order journaled, every journal row final,
and the position equal to the journaled fills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from live_support import PERP, SPEC, deribit, environ

from rebal.backends.live.journal import Journal

KILLS = 20


def _spec(tmp: Path) -> Path:
    text = SPEC.read_text().replace("band 0.5 ETH", "band 0.05 ETH")
    text = text.replace("cooldown 5m", "").replace("split 2 ETH every 2m", "split 0.2 ETH every 1m")
    path = tmp / "crash.rebal"
    path.write_text(text)
    return path


def _runner(spec: Path, state: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rebal", "run", str(spec), "--venue", "deribit", "--state",
         str(state), "--interval", "0.02", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **env})


def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    spec, state = _spec(tmp_path), tmp_path / "state"
    rng = random.Random(11)
    with deribit(spec=spec, speed=120.0, seed=3) as emu:
        emu.add_fault("timeout", on="order", p=0.3, count=0, delay=0.4)
        env = environ(emu)
        outputs = []
        for _ in range(KILLS):
            proc = _runner(spec, state, env)
            assert proc.stdout is not None
            first = proc.stdout.readline()  # the first step has been decided
            outputs.append(first)
            time.sleep(rng.uniform(0.0, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        emu.clear_faults()
        final = _runner(spec, state, env, "--steps", "3")
        out, _ = final.communicate(timeout=120)
        assert final.returncode == 0, out
        assert "Traceback" not in out and not any("Traceback" in o for o in outputs)
        venue = [o for o in emu.orders() if o["contract"] == PERP]
        snap_position = emu.state()["accounts"]["main"]["positions"]
    j = Journal(state / "journal.sqlite")
    rows = {r.client_id: r for r in j.orders()}
    ids = [o["client_id"] for o in venue]
    assert len(venue) > 10  # it traded between the kills
    assert len(ids) == len(set(ids)), "an order was sent twice"
    assert set(ids) <= set(rows), "an order at the venue is missing from the journal"
    assert all(r.final for r in rows.values()), "a journal row was left unsettled"
    for o in venue:
        sign = 1.0 if o["side"] == "buy" else -1.0
        assert rows[o["client_id"]].venue_filled == sign * o["filled"]
    held = sum(p["size"] for p in snap_position if p["contract"] == PERP)
    assert held == sum(r.venue_filled or 0.0 for r in rows.values())
    assert j.active_halt() is None
