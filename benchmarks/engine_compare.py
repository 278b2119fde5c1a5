"""Engine time of one job under two installations of rebal, run in turn (A B A B ...).

``bench_sim.py --vs PYTHON`` uses it to compare this checkout with another one (an older
commit's ``.venv/bin/python``): each run is a fresh interpreter of that installation that
compiles the job, simulates a small warm-up, then times ``simulate`` itself. Two figures per
run: the process CPU seconds of the simulation (``time.process_time``: with the helper threads
off it is the work done, and the least disturbed by other processes on a shared machine) and
the engine's own ``elapsed_s``. Runs alternate so that a machine whose speed drifts during the
call slows both sides alike; min and median are printed (quote the median; the min is the
least disturbed run). Nothing is asserted.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
from pathlib import Path

__all__ = ["compare_engines"]

#: Runs in the other installation's interpreter: argv = spec file, paths, threaded (0/1).
#: ``threaded`` is passed only where ``simulate`` has it (older checkouts had no feed thread).
CHILD = """
import inspect, json, sys, time
from pathlib import Path
from rebal.backends.sim.engine import simulate
from rebal.compiler import compile_text
ir, diags = compile_text(Path(sys.argv[1]).read_text(), "bench.rebal")
kw = {}
if "threaded" in inspect.signature(simulate).parameters:
    kw["threaded"] = sys.argv[3] == "1"
simulate(ir, "bench", paths=200, **kw)
c0 = time.process_time()
res = simulate(ir, "bench", paths=int(sys.argv[2]), **kw)
print(json.dumps({"cpu_s": time.process_time() - c0, "elapsed_s": res.elapsed_s,
                  "pnl_mean": float(res.pnl.mean())}))
"""


def _one(python: str, spec_file: Path, paths: int, threaded: bool) -> dict[str, float]:
    cmd = [python, "-c", CHILD, str(spec_file), str(paths), "1" if threaded else "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{python} exited {proc.returncode}:\n{proc.stderr}")
    got: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return got


def compare_engines(pythons: dict[str, str], spec: str, paths: int, runs: int,
                    threaded: bool) -> list[str]:
    """Lines of min/median CPU and elapsed seconds per label, the labels run in turn."""
    got: dict[str, list[dict[str, float]]] = {label: [] for label in pythons}
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "bench.rebal"
        spec_file.write_text(spec)
        for _ in range(runs):
            for label, python in pythons.items():
                got[label].append(_one(python, spec_file, paths, threaded))
    lines = []
    for label, rows in got.items():
        cpu = [r["cpu_s"] for r in rows]
        el = [r["elapsed_s"] for r in rows]
        lines.append(
            f"  {label:<6} cpu s min {min(cpu):.3f} median {statistics.median(cpu):.3f}; "
            f"elapsed s min {min(el):.3f} median {statistics.median(el):.3f} "
            f"(pnl mean {rows[-1]['pnl_mean']:.6f})")
    first, *others = got
    for label in others:
        ratio = [a["cpu_s"] / b["cpu_s"] for a, b in zip(got[first], got[label], strict=True)]
        lines.append(f"  {first}/{label} cpu, pair by pair: median "
                     f"{statistics.median(ratio):.3f}, min {min(ratio):.3f}")
    return lines
