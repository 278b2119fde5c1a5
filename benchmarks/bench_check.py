"""Checking speed: cold-process `rebal check` latency and specs checked per second in-process.

* cold: the installed `rebal check SPEC` run N times as a fresh subprocess (interpreter start,
  imports, parse, lower, validate); the median and the fastest run are printed. A cold
  *process* is measured, not a fresh install: bytecode is compiled first and
  PYTHONDONTWRITEBYTECODE is cleared for the runs, as on a user's machine (with it set, every
  process recompiles rebal's sources, which adds about 60 ms).
* warm: 1,000 spec texts (the shared examples with renamed strategies and varied numbers)
  checked in one process through ``rebal.compiler.check_source``, the function `rebal check`
  calls per file; specs per second are printed. ``compile_text`` (parse + lower + validate of
  one strategy) is timed too.

Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DEFAULT_SPEC = SPECS / "eth_straddle_hedge.rebal"


def cold_latency(spec: Path, runs: int) -> list[float]:
    """Wall-clock seconds of `runs` fresh `rebal check SPEC` processes."""
    exe = Path(sys.executable).with_name("rebal")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([str(exe), "check", str(spec)], capture_output=True, env=env, check=False)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(exe), "check", str(spec)], capture_output=True, text=True, check=False, env=env
        )
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"rebal check exited {proc.returncode}:\n{proc.stderr}")
    return times


def spec_texts(n: int) -> list[str]:
    """`n` distinct strategy texts: the examples with a new name and a nudged band or weight."""
    bases = [p.read_text() for p in sorted(SPECS.glob("*.rebal")) if "policy" not in p.name]
    out = []
    for i in range(n):
        text = bases[i % len(bases)]
        text = re.sub(r"strategy (\w+)", lambda m, i=i: f"strategy {m.group(1)}_{i}", text, count=1)
        text = re.sub(
            r"band (\d+(?:\.\d+)?)",
            lambda m, i=i: f"band {float(m.group(1)) * (1 + i % 7 / 100):g}",
            text,
            count=1,
        )
        out.append(text)
    return out


def warm_throughput(texts: list[str]) -> tuple[float, float, int]:
    """(check_source specs/s, compile_text specs/s, diagnostics with errors)."""
    from rebal.compiler import check_source, compile_text

    check_source(texts[0], "warmup.rebal")  # build the parser once, as any long process does
    t0 = time.perf_counter()
    errors = 0
    for i, text in enumerate(texts):
        res = check_source(text, f"spec_{i}.rebal")
        errors += not res.ok
    check_rate = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i, text in enumerate(texts):
        compile_text(text, f"spec_{i}.rebal")
    compile_rate = len(texts) / (time.perf_counter() - t0)
    return check_rate, compile_rate, errors


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    ap.add_argument("--runs", type=int, default=15, help="cold subprocess runs")
    ap.add_argument("--specs", type=int, default=1_000, help="spec texts checked in-process")
    args = ap.parse_args(argv)

    times = cold_latency(args.spec, args.runs)
    print(
        f"cold `rebal check {args.spec.name}`: median {statistics.median(times) * 1e3:.0f} ms, "
        f"fastest {min(times) * 1e3:.0f} ms over {len(times)} runs"
    )
    check_rate, compile_rate, errors = warm_throughput(spec_texts(args.specs))
    print(
        f"in-process check_source: {check_rate:,.0f} specs/s over {args.specs:,} specs"
        + (f" ({errors} with errors)" if errors else "")
    )
    print(f"in-process compile_text: {compile_rate:,.0f} specs/s")


if __name__ == "__main__":
    main()
