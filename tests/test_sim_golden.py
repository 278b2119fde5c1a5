"""Golden figures: every example spec's simulation, recorded before a refactor, compared after.

Each ``specs/*.rebal`` sim venue runs with a few paths and a fixed seed over its full horizon;
every per-path figure, the refusal counts and the first paths' trades are compared with
``tests/fixtures/golden/sim_figures.json``. Floats are stored as ``float.hex`` so the
comparison is bit-identical: a change in arithmetic shows up here and must be explained in the
commit (or the figures re-recorded on purpose, with the reason).

Re-record (only when numbers are meant to change, e.g. a new seeding scheme)::

    .venv/bin/python tests/test_sim_golden.py --record
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rebal.backends.sim.engine import simulate
from rebal.compiler import compile_file, ir

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "golden" / "sim_figures.json"
PATHS = 6
SAMPLE = 2
START = dt.date(2026, 12, 20)  # venues without a start would otherwise run from today
MAX_STEPS = 1500  # enough for every rule to act; a venue with an expiry in reach runs past it
SHOWN_TRADES = 40
ARRAYS = ("pnl", "fees", "slippage", "gas", "funding", "trades", "rebalances",
          "tracking_error", "max_drawdown", "liquidated", "halted")


def cases() -> list[tuple[str, str]]:
    out = []
    for p in sorted(SPECS.glob("*.rebal")):
        if "policy" in p.stem:
            continue
        s, _ = compile_file(p)
        assert s is not None, p
        out += [(p.stem, v.name) for v in s.venues if v.backend == "sim"]
    return out


def pinned(stem: str) -> ir.Strategy:
    """The example with every sim venue's start pinned (figures must not depend on today)."""
    s, _ = compile_file(SPECS / f"{stem}.rebal")
    assert s is not None
    venues = []
    for v in s.venues:
        if isinstance(v.config, ir.SimConfig) and v.config.start is None:
            v = v.model_copy(update={"config": v.config.model_copy(update={"start": START})})
        venues.append(v)
    return s.model_copy(update={"venues": tuple(venues)})


def steps_for(s: ir.Strategy, venue: str) -> int:
    """The venue's steps, capped at MAX_STEPS unless an expiry lies within the horizon."""
    cfg = s.venue(venue).config
    assert isinstance(cfg, ir.SimConfig) and cfg.start is not None
    n = int(cfg.horizon_s / cfg.step_s)
    end = cfg.start + dt.timedelta(seconds=float(cfg.horizon_s))
    due = [i.expiry for i in s.instruments if i.expiry is not None and i.expiry <= end]
    if due:  # run a day past the last expiry in reach
        past = (max(due) - cfg.start + dt.timedelta(days=1)).total_seconds()
        return min(n, max(MAX_STEPS, int(past / float(cfg.step_s))))
    return min(n, MAX_STEPS)


def figures(stem: str, venue: str) -> dict[str, Any]:
    """One run's figures in a JSON-exact form (floats as hex)."""
    s = pinned(stem)
    r = simulate(s, venue, paths=PATHS, seed=11, steps=steps_for(s, venue),
                 sample_paths=SAMPLE, base_dir=SPECS, threaded=False)
    out: dict[str, Any] = {"steps": r.steps, "refusals": dict(sorted(r.refusals.items()))}
    for name in ARRAYS:
        out[name] = [float(x).hex() for x in np.asarray(getattr(r, name), dtype=np.float64)]
    assert r.samples is not None
    trades = [[p, k, inst, float(q).hex(), why] for p, k, inst, q, why in r.samples.trades]
    out["sample_trades"] = trades[:SHOWN_TRADES]
    out["sample_trade_count"] = len(trades)
    out["sample_trades_sha256"] = hashlib.sha256(json.dumps(trades).encode()).hexdigest()
    out["sample_equity"] = [float(x).hex() for x in r.samples.equity[:, -1]]
    return out


def _recorded() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def test_every_example_sim_venue_is_recorded() -> None:
    assert sorted(_recorded()) == sorted(f"{a}:{b}" for a, b in cases())


@pytest.mark.parametrize(("stem", "venue"), cases())
def test_figures_match_the_recording(stem: str, venue: str) -> None:
    want = _recorded()[f"{stem}:{venue}"]
    got = figures(stem, venue)
    for key in want:
        assert got[key] == want[key], f"{stem}:{venue} {key} differs from the recording"
    assert got.keys() == want.keys()


def record() -> None:
    from rebal.compiler.files import atomic_write

    data = {f"{a}:{b}": figures(a, b) for a, b in cases()}
    atomic_write(FIXTURE, json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        record()
    else:
        sys.exit("usage: test_sim_golden.py --record")
