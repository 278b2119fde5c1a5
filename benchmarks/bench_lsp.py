"""Language-server latency: from an edit sent by the editor to its diagnostics published.

The installed `rebal lsp` is started as a subprocess and driven over stdio by pygls' client,
as an editor drives it (tests/lsp_client.py). For each example spec the document is opened,
then edited N times (alternating an error-free text and one with a unit error), and the
wall-clock time from sending `textDocument/didChange` to receiving the
`textDocument/publishDiagnostics` of that version is recorded. The first check (opening) is
printed apart: it pays for building the grammar and the first lowering. Medians and 95th
percentiles are printed; nothing is asserted.

    .venv/bin/python benchmarks/bench_lsp.py [--edits 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lsp_client import session  # noqa: E402

SPECS = sorted((ROOT / "specs").glob("*.rebal"))


async def measure(edits: int) -> None:
    async with session(ROOT) as s:
        print(f"{'spec':<32} {'lines':>5} {'open ms':>8} {'edit p50 ms':>12} {'edit p95 ms':>12}")
        allt: list[float] = []
        for spec in SPECS:
            text = spec.read_text(encoding="utf-8")
            t0 = time.perf_counter()
            uri = await s.open(spec, text)
            await s.diagnostics(uri, 1)
            opened = time.perf_counter() - t0
            broken = text.replace("{", "{\n  capital 5 bps", 1) if "capital" not in text else \
                text.replace("capital ", "capital 5 bps #", 1)
            times = []
            for k in range(edits):
                t0 = time.perf_counter()
                v = s.change(uri, broken if k % 2 else text)
                await s.diagnostics(uri, v)
                times.append(time.perf_counter() - t0)
            s.close(uri)
            allt += times
            q = statistics.quantiles(times, n=20)
            print(f"{spec.name:<32} {text.count(chr(10)):>5} {opened * 1000:>8.1f} "
                  f"{statistics.median(times) * 1000:>12.1f} {q[18] * 1000:>12.1f}")
        q = statistics.quantiles(allt, n=20)
        print(f"{'all edits':<32} {'':>5} {'':>8} {statistics.median(allt) * 1000:>12.1f} "
              f"{q[18] * 1000:>12.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edits", type=int, default=40)
    asyncio.run(measure(ap.parse_args().edits))


if __name__ == "__main__":
    main()
