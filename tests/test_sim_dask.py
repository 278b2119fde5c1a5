"""`rebal simulate --cluster`: a real Dask LocalCluster of worker processes, same numbers.

One cluster of two worker processes (one thread each) serves the whole module. The runs are
example specs cut to a few dozen steps so the module stays quick; chunks of one block (1,000
paths) make several tasks per run.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster
from test_sim_blocks import same_result as same
from test_sim_blocks import tight_leverage

from rebal.backends.sim import chunked, distributed, engine, runner
from rebal.backends.sim.command import run_simulate
from rebal.backends.sim.compare import run_compare
from rebal.backends.sim.sweep import parse_sweep
from rebal.compiler import compile_file, ir

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
TIMING = ("elapsed_s", "path_steps_per_s")
# One spec per model and kind of book: options, two correlated assets, jumps with
# liquidations, Heston, a dated future, and the replay of a CSV.
EXAMPLES = [("eth_straddle_hedge", "paper"), ("btc_eth_weights", "backtest"),
            ("eth_leverage_2x", "stress"), ("btc_optimal_band", "paper"),
            ("btc_treasury_future", "paper"), ("eth_replay_backtest", "replay")]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


def address(c: Client) -> str:
    return str(c.scheduler.address)


def short(stem: str, venue: str, steps: int = 40, paths: int | None = None) -> ir.Strategy:
    """The example with its sim venue cut to ``steps`` steps (and ``paths`` paths)."""
    s, _ = compile_file(SPECS / f"{stem}.rebal")
    assert isinstance(s, ir.Strategy)
    return cut(s, venue, steps, paths)


def cut(s: ir.Strategy, venue: str, steps: int = 40, paths: int | None = None) -> ir.Strategy:
    """``s`` with its sim venue cut to ``steps`` steps (and ``paths`` paths)."""
    cfg = s.venue(venue).config
    assert isinstance(cfg, ir.SimConfig)
    update: dict[str, Any] = {"horizon_s": cfg.step_s * Decimal(steps)}
    if paths is not None:
        update["paths"] = paths
    venues = tuple(v.model_copy(update={"config": cfg.model_copy(update=update)})
                   if v.name == venue else v for v in s.venues)
    return s.model_copy(update={"venues": venues})


def untimed(obj: Any) -> Any:
    """A JSON object without its timings (the only figures that differ between runs)."""
    if isinstance(obj, dict):
        return {k: untimed(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [untimed(v) for v in obj]
    return obj


def sim_keys(c: Client) -> list[str]:
    """The scheduler's rebal tasks (chunks and scattered inputs), by key."""
    keys = c.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return [k for k in keys if k.startswith("rebal-sim-") or "RunInput" in k]


def wait_until(cond: Any, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def run(ir_: Any, venue: str, **kw: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_simulate(ir_, venue, out=out, err=err, base_dir=SPECS, **kw)
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------------- the numbers


def test_example_specs_give_the_same_numbers_in_process_on_one_and_on_two_workers(
        client: Client, tmp_path: Path) -> None:
    jobs = [(short(stem, venue), venue) for stem, venue in EXAMPLES]
    jobs.append((cut(tight_leverage(tmp_path), "paper"), "paper"))  # the gate refuses orders in every chunk
    paths = 2_100  # three blocks, the last one 100 paths
    inproc = [engine.simulate(s, v, paths=paths, sample_paths=20, base_dir=SPECS) for s, v in jobs]
    runs = [chunked.prepare(s, v, paths=paths, sample_paths=20, base_dir=SPECS) for s, v in jobs]
    one = sorted(client.scheduler_info()["workers"])[:1]
    on_one = distributed.simulate_runs(client, runs, blocks_per_chunk=1, workers=one)
    on_two = distributed.simulate_runs(client, runs, blocks_per_chunk=1)
    for a, b, c in zip(inproc, on_one, on_two, strict=True):
        same(a, b)
        same(a, c)
    assert all(r.trades.mean() > 0 for r in inproc)  # every run trades: nothing vacuous
    assert inproc[-1].refusals["max leverage"] > 0  # refusal counts are merged, not lost


def test_json_and_report_are_the_same_on_the_cluster(client: Client, tmp_path: Path) -> None:
    s = short("eth_straddle_hedge", "paper", steps=60, paths=2_200)
    texts, reports = [], []
    for cluster in (None, client, address(client)):
        report = tmp_path / f"report-{len(reports)}.html"
        rc, out, err = run(s, "paper", fmt="json", report=str(report), cluster=cluster)
        assert rc == 0, err
        texts.append(untimed(json.loads(out)))
        html = report.read_text(encoding="utf-8")
        html = re.sub(r"seed (\d+), [^(]* s\s*\([^)]*path-steps/s\)", r"seed \1, T", html)
        reports.append(re.sub(r"Generated [^<]* by", "Generated D by", html))
    assert texts[0] == texts[1] == texts[2]
    assert texts[0]["paths"] == 2_200 and texts[0]["metrics"]["trades"]["mean"] > 0
    assert re.search(r"seed \d+, T", reports[0])  # the timing, the only difference, taken out
    assert reports[0] == reports[1] == reports[2]


def test_a_sweep_on_the_cluster_prints_the_in_process_figures(client: Client) -> None:
    s = short("eth_straddle_hedge", "paper", steps=40, paths=1_200)
    outs = []
    for cluster in (None, client):
        rc, out, err = run(s, "paper", fmt="json", sweep=["band=0.1:1:6"], cluster=cluster)
        assert rc == 0, err
        outs.append(untimed(json.loads(out)))
    assert outs[0] == outs[1] and len(outs[0]["sweep"]["points"]) == 6
    seen: list[tuple[int, int]] = []
    api = runner.sweep(s, "paper", [parse_sweep("band=0.2,0.5,1")], cluster=client,
                       progress=lambda d, n: seen.append((d, n)))
    assert seen[-1] == (3 * 1_200, 3 * 1_200) and len(seen) >= 3  # one call per finished chunk
    assert [p.values["band"] for p in api.points] == [0.2, 0.5, 1.0]


def test_several_specs_print_one_comparison_with_the_same_numbers(client: Client) -> None:
    entries = [(str(SPECS / f"{stem}.rebal"), short(stem, venue, paths=1_100))
               for stem, venue in EXAMPLES[:4] + EXAMPLES[5:]]
    outs = []
    for cluster in (None, client):
        out, err = io.StringIO(), io.StringIO()
        assert run_compare(entries, "paper", fmt="json", cluster=cluster, out=out,
                           err=err) == 0, err.getvalue()
        outs.append(untimed(json.loads(out.getvalue())))
    assert outs[0] == outs[1]
    # venue "paper" where the spec has it, else the spec's only sim venue
    rows = outs[0]["comparison"]
    assert [row["venue"] for row in rows] == ["paper", "backtest", "stress", "paper", "replay"]
    assert [Path(row["spec"]).stem for row in rows] == [e for e, _ in EXAMPLES[:4] + EXAMPLES[5:]]
    text, err = io.StringIO(), io.StringIO()
    assert run_compare(entries, "paper", cluster=client, out=text, err=err) == 0
    for stem, venue in EXAMPLES[:4] + EXAMPLES[5:]:
        assert stem in text.getvalue() and venue in text.getvalue()
    bad = [*entries, (str(SPECS / "broken.rebal"), None)]  # one did not compile
    assert run_compare(bad, "paper", fmt="json", out=io.StringIO(), err=err) == 1


# ----------------------------------------------------------------------- how it runs


def test_a_replay_csv_is_scattered_once_not_sent_with_every_task(client: Client) -> None:
    s = short("eth_replay_backtest", "replay", steps=30)
    run_ = chunked.prepare(s, "replay", paths=3_000, base_dir=SPECS)
    assert run_.replay is not None and run_.replay[1].size > 100
    sub = distributed.submit(client, [run_], blocks_per_chunk=1)
    tasks = [f.key for f in sub.chunks]
    shared = sub.shared[0].key

    def deps(dask_scheduler: Any, keys: list[str]) -> dict[str, list[str]]:
        return {k: [d.key for d in dask_scheduler.tasks[k].dependencies]
                for k in keys if k in dask_scheduler.tasks}

    wait_until(lambda: set(tasks) <= set(sim_keys(client)))  # submitting is asynchronous
    got = client.run_on_scheduler(deps, keys=tasks)
    merged = distributed.collect(client, sub)[0]
    assert len(tasks) == 3 and got == {t: [shared] for t in tasks}
    same(engine.simulate(s, "replay", paths=3_000, base_dir=SPECS), merged)


def test_ctrl_c_cancels_every_future(client: Client) -> None:
    s = short("eth_straddle_hedge", "paper", steps=200)
    run_ = chunked.prepare(s, "paper", paths=8_000)
    pending: list[int] = []

    def interrupt(done: int, total: int) -> None:  # Ctrl-C arriving while the run waits
        pending.append(len([k for k in sim_keys(client) if k.startswith("rebal-sim-")]))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distributed.simulate_runs(client, [run_], blocks_per_chunk=1, progress=interrupt)
    assert pending and pending[0] >= 4  # most of the 8 chunks were still queued or running
    wait_until(lambda: sim_keys(client) == [], timeout=30)


def test_max_seconds_stops_a_cluster_run_and_cancels_its_tasks(client: Client) -> None:
    s = short("eth_straddle_hedge", "paper", steps=300, paths=8_000)
    rc, out, err = run(s, "paper", fmt="json", cluster=client, max_seconds=0.5)
    assert rc == 1 and out == "" and "(--max-seconds)" in err and "paths" in err, err
    wait_until(lambda: sim_keys(client) == [], timeout=30)


def test_a_killed_worker_has_its_task_rerun_and_the_numbers_do_not_change(
        client: Client) -> None:
    s = short("eth_straddle_hedge", "paper", steps=100)
    run_ = chunked.prepare(s, "paper", paths=5_000)
    before = set(client.scheduler_info()["workers"])
    box: dict[str, Any] = {}

    def simulate() -> None:
        try:
            box["result"] = distributed.simulate_runs(client, [run_], blocks_per_chunk=1)
        except Exception as exc:  # shown by the assertion below
            box["error"] = exc

    thread = threading.Thread(target=simulate)
    thread.start()
    busy: list[str] = []

    def running() -> bool:
        busy[:] = [w for w, keys in client.processing().items()
                   if any(str(k).startswith("rebal-sim-") for k in keys)]
        return bool(busy)

    wait_until(running)
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive() and "error" not in box, box
    same(engine.simulate(s, "paper", paths=5_000), box["result"][0])
    client.wait_for_workers(2, timeout=180)  # the nanny restarted it, under a new address
    assert busy[0] not in client.scheduler_info()["workers"] and busy[0] in before


# ------------------------------------------------------------------ the command line


def spec_file(tmp_path: Path, horizon: str, paths: int) -> Path:
    text = (SPECS / "eth_gamma_band.rebal").read_text(encoding="utf-8")
    short_text = text.replace("horizon 60d step 1h paths 2000", f"horizon {horizon} step 1h "
                              f"paths {paths}")
    assert short_text != text
    path = tmp_path / "gamma.rebal"
    path.write_text(short_text, encoding="utf-8")
    return path


def cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rebal", "simulate", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_cli_on_a_local_cluster_of_one_worker_prints_the_in_process_json(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "1d", 2_100)
    proc = cli(str(spec), "--venue", "paper", "--format", "json", "--cluster", "local:1")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    s, _ = compile_file(spec)
    rc, here, err = run(s, "paper", fmt="json")
    assert rc == 0, err
    assert untimed(json.loads(out)) == untimed(json.loads(here))
    assert json.loads(here)["paths"] == 2_100


def test_cli_ctrl_c_stops_the_run_and_cancels_its_tasks(client: Client, tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "20d", 12_000)
    assert sim_keys(client) == []
    proc = cli(str(spec), "--venue", "paper", "--cluster", address(client))
    wait_until(lambda: any(k.startswith("rebal-sim-") for k in sim_keys(client)), 120)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "Traceback" not in err and out == ""
    wait_until(lambda: sim_keys(client) == [], timeout=30)


def test_a_bad_cluster_is_a_usage_error_and_no_scheduler_a_clear_one(tmp_path: Path) -> None:
    s, _ = compile_file(spec_file(tmp_path, "2h", 10))
    rc, out, err = run(s, "paper", cluster="lokal:2")
    assert rc == 2 and out == "" and "expected local, local:N" in err
    assert distributed.parse_cluster("local:3") == distributed.ClusterSpec(workers=3)
    with pytest.raises(distributed.ClusterError, match="cannot reach the Dask scheduler"), \
            distributed.connect("tcp://127.0.0.1:9", timeout=1.0):
        pass


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out


def test_ctrl_c_while_a_local_cluster_starts_exits_130(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group, the starting worker processes
    too: their failed start is reported as the signal (exit 130), never as exit 1 or 2."""
    spec = spec_file(tmp_path, "20d", 12_000)
    proc = subprocess.Popen([sys.executable, "-m", "rebal", "simulate", str(spec), "--venue",
                             "paper", "--cluster", "local:2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    wait_until(lambda: proc.poll() is not None or len(_children(proc.pid)) >= 2, 120)
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: rebal and its workers
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out == "" and "error: stopped by SIGINT" in err, err
