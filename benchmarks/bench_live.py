"""Live path speed: the kernel with a batch of one, and rebal's own time around venue calls.

Prints:

1. the kernel's decision time for a batch of one (``KernelDriver.decide``: snapshot to
   named orders, the whole decision), per example spec, median and p99 over 2,000 steps
   (target: at most 2 ms per step);
2. ``rebal plan`` (the CLI, in this process) against each local emulator (started here on
   127.0.0.1): wall time per plan, split into venue round trips (every HTTP request timed
   where ccxt sends it, ``Exchange.fetch``: request out, answer read and decoded) and the
   rest, the time rebal (and ccxt's own work outside the wire: signing, parsing markets)
   adds; median over 20 plans after one warm-up;
3. ``rebal run`` step latency from fresh snapshot (``snapshot()`` returned) to order sent
   (the order's HTTP request leaving), median and p99 over 200 trading steps (the spec's
   band tightened so each step trades, the venue clock moved an hour per step).

Figures from a loaded 2-core machine vary by 2x from run to run; no figure is asserted.
Run: ``.venv/bin/python benchmarks/bench_live.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LIVE = ROOT / "tests" / "fixtures" / "live"
KEY, SECRET = "bench-key-4c1d", "bench-secret-9e0f7a"  # valid only against these emulators
# (emulator, spec, live venue, band edit making every step trade, positions to hold)
VENUES = (
    ("deribit", LIVE / "deribit_hedge.rebal", "deribit",
     {"band 0.5 ETH": "band 0.05 ETH", "cooldown 5m": "", "split 2 ETH every 2m": ""},
     {"ETH-25DEC26-3000-C": -10.0, "ETH-25DEC26-3000-P": -10.0}),
    ("binanceusdm", LIVE / "binance_weights.rebal", "binance",
     {"band 1%": "band 0.05%", "cooldown 5m": ""}, {}),
)


def _percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def bench_kernel(spec: str, venue: str, steps: int = 2000) -> tuple[float, float]:
    from rebal.backends.live.adapter import Snapshot
    from rebal.backends.live.driver import KernelDriver
    from rebal.compiler import check_file

    res = check_file(str(ROOT / "specs" / spec))
    strategy = res.strategies[0]
    v = strategy.venue(venue)
    driver = KernelDriver(strategy, v)
    lay = driver.layout
    t0 = time.time()
    spot = {a: 3000.0 if a == "ETH" else 90000.0 for a in lay.assets}
    times = []
    for k in range(steps):
        s = {a: p * (1.0 + 0.002 * ((k * 7919) % 13 - 6) / 6) for a, p in spot.items()}
        mids = {}
        for i, name in enumerate(lay.instruments):
            a = int(lay.underlying[i])
            mids[name] = s[lay.assets[a]] if a >= 0 else 1.0
        snap = Snapshot(time_s=t0 + 60.0 * k, numeraire=strategy.numeraire,
                        positions={n: 0.0 for n in lay.instruments}, equity=150_000.0,
                        index=s, mid=mids, iv={n: 0.6 for n in lay.instruments},
                        price_time_s=t0 + 60.0 * k)
        a = time.perf_counter()
        driver.decide(snap, k + 1, lambda seq, leg, child: f"rb-{seq}-{leg}-{child}")
        times.append(time.perf_counter() - a)
    return statistics.median(times), _percentile(times, 0.99)


class Wire:
    """Times every HTTP request ccxt makes (``Exchange.fetch``), in this process."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float, str, str]] = []  # (start, end, method, url)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Wire]:
        import ccxt

        original = ccxt.Exchange.fetch
        calls = self.calls

        def fetch(ex: Any, url: str, method: str = "GET", *args: Any, **kw: Any) -> Any:
            a = time.perf_counter()
            try:
                return original(ex, url, method, *args, **kw)
            finally:
                calls.append((a, time.perf_counter(), method, url))

        ccxt.Exchange.fetch = fetch
        try:
            yield self
        finally:
            ccxt.Exchange.fetch = original

    def between(self, a: float, b: float) -> list[tuple[float, float, str, str]]:
        return [c for c in self.calls if c[0] >= a and c[1] <= b]


@contextlib.contextmanager
def emulator(name: str, spec: Path, positions: dict[str, float]) -> Iterator[Any]:
    from rebal.emulators import Emulator

    with Emulator(name, api_key=KEY, secret=SECRET, speed=0.0, spec=spec,
                  sim_venue="paper", seed=1) as emu:
        for contract, size in positions.items():
            emu.set_position(contract, size)
        old = {k: os.environ.get(k) for k in ("EMU_API_KEY", "EMU_SECRET", "EMU_URL")}
        os.environ.update({"EMU_API_KEY": KEY, "EMU_SECRET": SECRET, "EMU_URL": emu.url})
        try:
            yield emu
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def bench_plan(name: str, spec: Path, venue: str, positions: dict[str, float],
               wire: Wire, runs: int = 20) -> tuple[float, float, float, int]:
    """(wall, round trips, rest, requests) per ``rebal plan``, medians over ``runs``."""
    from rebal.cli import main as rebal

    walls, wires, counts = [], [], []
    with emulator(name, spec, positions), tempfile.TemporaryDirectory() as tmp:
        for k in range(runs + 1):
            out = io.StringIO()
            a = time.perf_counter()
            with contextlib.redirect_stdout(out):
                code = rebal(["plan", str(spec), "--venue", venue, "--state", tmp])
            b = time.perf_counter()
            if code not in (0, 2):
                raise SystemExit(f"rebal plan failed ({code}): {out.getvalue()[-400:]}")
            if k == 0:
                continue  # the warm-up (imports, first connections)
            calls = wire.between(a, b)
            walls.append(b - a)
            wires.append(sum(c[1] - c[0] for c in calls))
            counts.append(len(calls))
    wall, trips = statistics.median(walls), statistics.median(wires)
    return wall, trips, statistics.median(w - t for w, t in zip(walls, wires, strict=True)), \
        int(statistics.median(counts))


def _places_order(method: str, url: str) -> bool:
    """Binance ``POST /fapi/v1/order``, Deribit ``GET /api/v2/private/buy|sell``."""
    path = url.split("?")[0]
    return (method == "POST" and path.endswith("/fapi/v1/order")) or \
        path.endswith(("/private/buy", "/private/sell"))


class _Timed:
    """The adapter, noting when each snapshot returned (instrumentation, not a stand-in)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = inner.name
        self.snapshots: list[float] = []

    def snapshot(self) -> Any:
        snap = self._inner.snapshot()
        self.snapshots.append(time.perf_counter())
        return snap

    def __getattr__(self, verb: str) -> Any:
        return getattr(self._inner, verb)


def bench_run(name: str, spec: Path, venue: str, edits: dict[str, str],
              positions: dict[str, float], wire: Wire, steps: int = 200
              ) -> tuple[list[float], int]:
    """Latency (s) from the step's fresh snapshot to its order's HTTP request, per step."""
    from rebal.backends.ccxt.adapter import CcxtAdapter
    from rebal.backends.ccxt.client import make_client, settings_of
    from rebal.backends.live.execution import RetryPolicy
    from rebal.backends.live.opening import open_session
    from rebal.compiler import check_file

    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        text = spec.read_text()
        for old, new in edits.items():
            text = text.replace(old, new)
        path = Path(tmp) / spec.name
        path.write_text(text)
        strategy = check_file(str(path)).strategies[0]
        with emulator(name, path, positions) as emu:
            v = strategy.venue(venue)
            settings = settings_of(v, os.environ)
            timed = _Timed(CcxtAdapter(strategy, v, make_client(settings), settings))
            opened = open_session(strategy, venue, state_dir=Path(tmp) / "state",
                                  adapter=timed)  # type: ignore[arg-type]
            opened.session.policy = RetryPolicy(polls=2, poll_s=0.01)
            s = opened.session
            try:
                s.start()
                n = 0
                for _ in range(steps * 3):
                    a = time.perf_counter()
                    res = s.step()
                    b = time.perf_counter()
                    emu.advance(3600.0 if name == "binanceusdm" else 600.0)
                    if not res.sent:
                        continue
                    orders = [c for c in wire.between(a, b) if _places_order(c[2], c[3])]
                    fresh = [t for t in timed.snapshots if a <= t <= orders[0][0]] if orders \
                        else []
                    if fresh:
                        latencies.append(orders[0][0] - fresh[-1])
                        n += 1
                    if n >= steps:
                        break
            finally:
                opened.close()
    return latencies, len(latencies)


def main() -> int:
    print("kernel decision, batch of one (KernelDriver.decide), 2,000 steps:")
    for spec, venue in (("eth_straddle_hedge.rebal", "deribit"),
                        ("btc_eth_weights.rebal", "binance"),
                        ("eth_cppi_vault.rebal", "mainnet")):
        med, p99 = bench_kernel(spec, venue)
        print(f"  {spec:<28} {venue:<9} median {1e3 * med:6.3f} ms   p99 {1e3 * p99:6.3f} ms"
              f"   (target <= 2 ms)")
    wire = Wire()
    with wire.installed():
        print("rebal plan against the local emulator, median of 20 plans:")
        for name, spec, venue, _, positions in VENUES:
            wall, trips, rest, n = bench_plan(name, spec, venue, positions, wire)
            print(f"  {name:<12} wall {1e3 * wall:7.1f} ms   venue round trips "
                  f"{1e3 * trips:7.1f} ms ({n} requests)   rebal adds {1e3 * rest:7.1f} ms")
        print("rebal run step latency, fresh snapshot to order sent, 200 trading steps:")
        for name, spec, venue, edits, positions in VENUES:
            lat, n = bench_run(name, spec, venue, edits, positions, wire)
            print(f"  {name:<12} median {1e3 * statistics.median(lat):6.2f} ms   p99 "
                  f"{1e3 * _percentile(lat, 0.99):6.2f} ms   ({n} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
