"""Simulation speed: `rebal simulate` against a plain numpy loop of the same job (and vectorbt).

The benchmark job (issue 3): a short at-the-money ETH call (one year to expiry) delta-hedged
with the perp inside a 0.02 ETH band, 10 bps fee, 20,000 paths x 1,460 steps of 6h (one year).

* `rebal simulate`: by default the installed `rebal` command in a subprocess,
  ``rebal simulate SPEC --venue bench --format json`` (interpreter start, compile, simulate,
  metrics, JSON); ``--in-process`` calls the same function the CLI calls,
  ``rebal.backends.sim.command.run_simulate``, after ``rebal.compiler.compile_text``.
  Both wall-clock time and the engine's own ``path_steps_per_s`` are printed.
* plain numpy: the same job written out below (exact GBM step, Black-Scholes delta and price
  via ``scipy.special.ndtr``, band check, hedge to center, fees, equity, drawdown, tracking
  error as the engine defines it), vectorized over paths, one Python loop over steps. Timed
  twice: the loop alone in this process, and end to end as a script in a subprocess
  (interpreter start, ``import numpy`` and ``scipy.special``, the loop), the like-for-like
  figure for `rebal simulate` in a subprocess.
* vectorbt: its figure when ``import vectorbt`` works (else the benchmark says so).
* a 50-option book per path (calls and puts, strikes 2000..4450, four expiries) hedged with
  the perp: path-steps per second (target: at least 1 million).

Subprocesses run with PYTHONDONTWRITEBYTECODE cleared, as on a user's machine, after one warm-up
run that writes the bytecode caches (with it set, every process recompiles rebal's sources).
Figures are printed, nothing is asserted. Run ``python benchmarks/bench_sim.py --paths 2000
--steps 365`` for a quick look. ``--vs OTHER_PYTHON`` instead compares the engine on the job with
another installation (an older checkout's ``.venv/bin/python``): see ``engine_compare.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr

S0, K, VOL, FEE, BAND = 3000.0, 3000.0, 0.60, 0.0010, 0.02
STEP_H = 6.0
YEAR_D = 365.0
CAPITAL = 100_000.0

JOB_SPEC = """
# benchmark job: short ATM call, perp hedge, 0.02 delta band, 10 bps fee
strategy bench_short_call {{
  capital 100000 USD
  instruments {{
    C    option ETH call strike 3000 USD expiry 2027-01-01
    PERP perp ETH
  }}
  book {{ C -1 }}
  owns PERP
  target delta 0 ETH {{
    band 0.02 ETH
    hedge with PERP
    rebalance to center
  }}
  trigger {{ on breach }}
  venue bench via sim {{
    model gbm
    ETH spot 3000 USD vol 60% drift 0%
    fee 10 bps
    start 2026-01-01
    horizon {horizon_h}h step 6h paths {paths} seed 1
  }}
}}
"""


def book_spec(paths: int, steps: int) -> str:
    """50 options (25 calls, 25 puts, strikes 2000..4450, four expiries) hedged with the perp."""
    expiries = ("2026-03-27", "2026-06-26", "2026-12-25", "2027-06-25")
    lines, book = [], []
    for i in range(50):
        kind = "call" if i % 2 == 0 else "put"
        strike = 2000 + 50 * i
        lines.append(f"    O{i} option ETH {kind} strike {strike} USD expiry {expiries[i % 4]}")
        book.append(f"    O{i} {(-1) ** (i // 2) * (1 + i % 3)}")
    return f"""
strategy bench_option_book {{
  capital 1000000 USD
  instruments {{
{chr(10).join(lines)}
    PERP perp ETH
  }}
  book {{
{chr(10).join(book)}
  }}
  owns PERP
  target delta 0 ETH {{ band 0.5 ETH  hedge with PERP }}
  trigger {{ on breach }}
  venue bench via sim {{
    ETH spot 3000 USD vol 60%
    fee 10 bps
    start 2026-01-01
    horizon {steps * STEP_H:g}h step 6h paths {paths} seed 1
  }}
}}
"""


# --------------------------------------------------------------------- rebal simulate

#: The environment of the timed subprocesses: this VM sets PYTHONDONTWRITEBYTECODE, a user's
#: machine does not (pip writes bytecode for installed packages, Python caches the rest).
SUB_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_run(cmd: list[str]) -> tuple[str, float]:
    """Run ``cmd`` in :data:`SUB_ENV`; its standard output and wall-clock seconds (exit on failure)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=SUB_ENV)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout, wall


def run_rebal(spec: str, paths: int, in_process: bool) -> dict[str, Any]:
    """Run the spec through `rebal simulate --format json`; adds wall-clock figures."""
    if in_process:
        from rebal.backends.sim.command import run_simulate
        from rebal.compiler import compile_text

        t0 = time.perf_counter()
        ir, diags = compile_text(spec, "bench.rebal")
        if ir is None:
            raise SystemExit("benchmark spec does not compile:\n" + "\n".join(map(str, diags)))
        out, err = io.StringIO(), io.StringIO()
        rc = run_simulate(
            ir, "bench", paths=paths, seed=1, fmt="json", report=None, sweep=[], out=out, err=err
        )
        wall = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"run_simulate exited {rc}: {err.getvalue()}")
        obj: dict[str, Any] = json.loads(out.getvalue())
    else:
        exe = Path(sys.executable).with_name("rebal")
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "bench.rebal"
            f.write_text(spec)
            cmd = [
                str(exe),
                "simulate",
                str(f),
                "--venue",
                "bench",
                "--paths",
                str(paths),
                "--seed",
                "1",
                "--format",
                "json",
            ]
            warm = [*cmd[:cmd.index("--paths") + 1], "1", *cmd[cmd.index("--paths") + 2:]]
            timed_run(warm)  # writes the bytecode caches
            stdout, wall = timed_run(cmd)
        obj = json.loads(stdout)
    obj["wall_s"] = wall
    obj["wall_path_steps_per_s"] = obj["paths"] * obj["steps"] / wall
    return obj


# ----------------------------------------------------------------------- numpy loop


def numpy_loop(paths: int, steps: int, seed: int = 1) -> dict[str, float]:
    """The benchmark job written directly in numpy; returns figures and its elapsed time."""
    t0 = time.perf_counter()
    # The engine's random streams: one PCG64 per block of 1,000 paths, seeded with child b of
    # SeedSequence(seed) (rebal.backends.sim.blocks), so both give the same paths.
    blocks = [(lo, min(lo + 1000, paths)) for lo in range(0, paths, 1000)]
    gens = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
            for b in range(len(blocks))]
    z = np.empty(paths)
    dt = STEP_H / 24.0 / YEAR_D
    expiry = 1.0
    sd_step = VOL * math.sqrt(dt)
    drift_step = -0.5 * VOL * VOL * dt
    s = np.full(paths, S0)
    hedge = np.zeros(paths)
    cash = np.zeros(paths)  # perp variation margin and fees; the option mark is added below
    fees = np.zeros(paths)
    trades = np.zeros(paths, dtype=np.int64)
    te_sq = np.zeros(paths)
    peak = np.full(paths, -np.inf)
    mdd = np.zeros(paths)
    value0 = None
    for n in range(steps):
        tau = expiry - n * dt
        if tau > 1e-12:
            sdt = VOL * math.sqrt(tau)
            d1 = (np.log(s / K) + 0.5 * VOL * VOL * tau) / sdt
            nd1 = ndtr(d1)
            price = s * nd1 - K * ndtr(d1 - sdt)
            book_delta = -nd1
        else:  # expired: settled in cash, no more delta
            price = np.maximum(s - K, 0.0)
            book_delta = np.zeros(paths)
        if value0 is None:
            value0 = -price.copy()
        net = book_delta + hedge
        if n:  # tracking error: drift from the target before acting, at t_1 .. t_N
            te_sq += net * net
        breach = np.abs(net) > BAND
        trade = np.where(breach, -net, 0.0)
        cost = np.abs(trade) * s * FEE
        fees += cost
        cash -= cost
        hedge += trade
        trades += breach
        equity = CAPITAL + cash - price - value0
        np.maximum(peak, equity, out=peak)
        np.maximum(mdd, (peak - equity) / peak, out=mdd)
        for g, (lo, hi) in zip(gens, blocks, strict=True):
            g.standard_normal(out=z[lo:hi])
        s_new = s * np.exp(drift_step + sd_step * z)
        cash += hedge * (s_new - s)
        s = s_new
    tau = expiry - steps * dt
    if tau > 1e-12:
        sdt = VOL * math.sqrt(tau)
        d1 = (np.log(s / K) + 0.5 * VOL * VOL * tau) / sdt
        nd1 = ndtr(d1)
        price = s * nd1 - K * ndtr(d1 - sdt)
        net = hedge - nd1
    else:
        price = np.maximum(s - K, 0.0)
        net = hedge
    te_sq += net * net
    pnl = cash - price - value0
    elapsed = time.perf_counter() - t0
    return {
        "elapsed_s": elapsed,
        "path_steps_per_s": paths * steps / elapsed,
        "pnl_mean": float(pnl.mean()),
        "pnl_std": float(pnl.std(ddof=1)),
        "fees": float(fees.mean()),
        "trades": float(trades.mean()),
        "tracking_error": float(np.sqrt(te_sq / steps).mean()),
        "max_drawdown": float(mdd.mean()),
    }


# ------------------------------------------------------------------------- vectorbt


def vectorbt_figure(paths: int, steps: int) -> tuple[float, float] | None:
    """vectorbt's (path-steps/s, mean fees per path) for the same job, or None if not installed.

    vectorbt has no option model, so the band-hedge decision is made in a numba order function
    (the band depends on the position held, which rules out precomputed orders); each path is
    one column of a price frame, drawn from the same random numbers as the numpy loop. Numba
    compilation is done by a small warm-up run first and is not timed; drawing the prices is
    not timed either (vectorbt takes them as input).
    """
    try:
        import vectorbt as vbt  # type: ignore[import-not-found]
        from numba import njit  # type: ignore[import-not-found]
    except ImportError:
        return None
    dt = STEP_H / 24.0 / YEAR_D
    order_nb, no_order = vbt.portfolio.nb.order_nb, vbt.portfolio.enums.NoOrder

    @njit  # type: ignore[misc]
    def order_func_nb(c: Any, vol: float, k: float, dt: float, band: float, fee: float) -> Any:
        s = c.close[c.i, c.col]
        tau = 1.0 - c.i * dt
        nd1 = 0.0
        if tau > 1e-12:
            sdt = vol * math.sqrt(tau)
            d1 = (math.log(s / k) + 0.5 * vol * vol * tau) / sdt
            nd1 = 0.5 * math.erfc(-d1 / math.sqrt(2.0))
        net = -nd1 + c.position_now
        if abs(net) > band:
            return order_nb(size=-net, price=s, fees=fee)
        return no_order

    def run(close: np.ndarray) -> Any:
        return vbt.Portfolio.from_order_func(
            close, order_func_nb, VOL, K, dt, BAND, FEE, init_cash=CAPITAL, cash_sharing=False
        )

    def prices(n_paths: int, n_steps: int) -> np.ndarray:
        rng = np.random.default_rng(1)
        shocks = -0.5 * VOL * VOL * dt + VOL * math.sqrt(dt) * rng.standard_normal(
            (n_steps, n_paths)
        )
        log_s = np.vstack([np.zeros((1, n_paths)), np.cumsum(shocks[:-1], axis=0)])
        return S0 * np.exp(log_s)

    run(prices(4, 8))  # compile
    close = prices(paths, steps)
    t0 = time.perf_counter()
    pf = run(close)
    elapsed = time.perf_counter() - t0
    fees = float(pf.orders.values["fees"].sum()) / paths
    return paths * steps / elapsed, fees


# ------------------------------------------------------------------------------ main


def numpy_loop_script(paths: int, steps: int) -> float:
    """Wall-clock seconds of the plain loop run as a script: a fresh interpreter imports numpy
    and scipy.special (this file's imports) and runs :func:`numpy_loop`."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--loop-only",
           "--paths", str(paths), "--steps", str(steps)]
    return timed_run(cmd)[1]


def _fmt(rate: float) -> str:
    return f"{rate / 1e6:,.2f}M path-steps/s"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=20_000)
    ap.add_argument("--steps", type=int, default=1_460, help="6h steps (1460 = one year)")
    ap.add_argument("--book-paths", type=int, default=2_000, help="paths of the 50-option job")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="call run_simulate in this process instead of the rebal command",
    )
    ap.add_argument("--skip-book", action="store_true")
    ap.add_argument(
        "--vs", metavar="PYTHON",
        help="only compare the engine's time on the job with another installation's python "
        "(e.g. an older checkout's .venv/bin/python), runs in turn, threads off then on")
    ap.add_argument("--runs", type=int, default=5, help="runs per side for --vs")
    ap.add_argument("--loop-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.loop_only:  # the plain loop as a script, for numpy_loop_script
        print(json.dumps(numpy_loop(args.paths, args.steps)))
        return

    print(
        f"machine: {os.cpu_count()} CPUs, numpy {np.__version__}, python {sys.version.split()[0]}"
    )
    print(
        f"job: short ATM call, perp hedge, band {BAND} ETH, fee {FEE * 1e4:g} bps, "
        f"{args.paths:,} paths x {args.steps:,} steps of {STEP_H:g}h"
    )
    spec = JOB_SPEC.format(horizon_h=f"{args.steps * STEP_H:g}", paths=args.paths)
    if args.vs:
        from engine_compare import compare_engines

        pythons = {"this": sys.executable, "vs": args.vs}
        for threaded in (False, True):
            print(f"engine on the job, {args.runs} runs each in turn, helper threads "
                  f"{'on (where the installation has them)' if threaded else 'off'}:")
            for line in compare_engines(pythons, spec, args.paths, args.runs, threaded):
                print(line)
        return
    how = "run_simulate in process" if args.in_process else "`rebal simulate` subprocess"
    res = run_rebal(spec, args.paths, args.in_process)
    m = res["metrics"]
    print(
        f"rebal simulate ({how}): wall {res['wall_s']:.2f} s, "
        f"{_fmt(res['wall_path_steps_per_s'])} end to end; engine {res['elapsed_s']:.2f} s, "
        f"{_fmt(res['path_steps_per_s'])}"
    )
    print(
        f"  pnl mean {m['pnl']['mean']:.3f} std {m['pnl']['std']:.3f}, fees "
        f"{m['cost']['fees']:.3f}, trades {m['trades']['mean']:.1f}, tracking error "
        f"{m['tracking_error']['mean']:.5f}"
    )
    loop = numpy_loop(args.paths, args.steps)
    print(f"plain numpy loop: {loop['elapsed_s']:.2f} s, {_fmt(loop['path_steps_per_s'])}")
    print(
        f"  pnl mean {loop['pnl_mean']:.3f} std {loop['pnl_std']:.3f}, fees "
        f"{loop['fees']:.3f}, trades {loop['trades']:.1f}, tracking error "
        f"{loop['tracking_error']:.5f}"
    )
    script_s = numpy_loop_script(args.paths, args.steps)
    script_rate = args.paths * args.steps / script_s
    print(f"plain numpy loop as a script (python, imports, loop): wall {script_s:.2f} s, "
          f"{_fmt(script_rate)}")
    print(
        f"ratio rebal / numpy loop (target >= 0.75): engine vs loop "
        f"{res['path_steps_per_s'] / loop['path_steps_per_s']:.2f}; `rebal simulate` vs the "
        f"script, both end to end {res['wall_path_steps_per_s'] / script_rate:.2f}; "
        f"`rebal simulate` end to end vs the loop alone "
        f"{res['wall_path_steps_per_s'] / loop['path_steps_per_s']:.2f}"
    )
    vbt = vectorbt_figure(args.paths, args.steps)
    if vbt is None:
        print("vectorbt: not installed (pip install vectorbt to compare); skipped")
    else:
        vbt_rate, vbt_fees = vbt
        print(
            f"vectorbt: {_fmt(vbt_rate)} (fees {vbt_fees:.3f} per path); rebal / vectorbt "
            f"{res['wall_path_steps_per_s'] / vbt_rate:.1f}x end to end, "
            f"engine {res['path_steps_per_s'] / vbt_rate:.1f}x (target >= 5x)"
        )
    if not args.skip_book:
        book = run_rebal(book_spec(args.book_paths, args.steps), args.book_paths, args.in_process)
        print(
            f"50-option book: {args.book_paths:,} paths x {book['steps']:,} steps, wall "
            f"{book['wall_s']:.2f} s ({_fmt(book['wall_path_steps_per_s'])} end to end); "
            f"engine {_fmt(book['path_steps_per_s'])} (target >= 1M)"
        )


if __name__ == "__main__":
    main()
