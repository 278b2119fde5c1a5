"""Simulations and sweeps on a Dask cluster (``rebal simulate --cluster``), same numbers as in process.

Only this module imports ``dask.distributed`` (the ``rebal[dask]`` extra), and only when a run
asks for a cluster: the check path and the plain simulate path never load it.

* :func:`connect` opens a client: ``local`` / ``local:N`` start a ``LocalCluster`` of N worker
  processes (one thread each) on this machine, ``tcp://HOST:PORT`` connects to a running
  scheduler (its workers need rebal installed, same version).
* :func:`simulate_runs` cuts every run into chunks of whole path blocks (:mod:`.chunked`),
  scatters each run's inputs once (the strategy and any replay CSV's closes, as one key
  replicated on every worker, so a worker lost mid-run takes no input with it), submits one
  task per chunk, reports progress as futures complete, and merges each run's chunks exactly.
  Several runs (sweep points, specs) share one submission, so the cluster sees all the work.
* Ctrl-C (KeyboardInterrupt) while waiting cancels every future of the run before it goes on.
  A worker that dies mid-task has the task rescheduled by the scheduler (Dask's
  ``allowed-failures``), and a task that raised is retried (``retries``); a user error in
  the spec comes back as a value, so it is not retried, and stops the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .blocks import BLOCK_PATHS, Chunk, chunks
from .chunked import RunInput, merge, run_chunk
from .engine import SimResult, SimulationError

__all__ = ["ClusterError", "ClusterSpec", "Submitted", "chunk_blocks", "collect", "connect",
           "parse_cluster", "simulate_runs", "submit"]

RETRIES = 2  # extra attempts of a task that raised (worker deaths are rescheduled regardless)
MIN_CHUNK_PATHS = 4 * BLOCK_PATHS  # a chunk pays the engine's fixed cost per step once
CHUNKS_PER_WORKER = 2
CONNECT_TIMEOUT_S = 30.0
POLL_S = 0.05  # how often collect() calls its check while no chunk has finished

_LOCAL = re.compile(r"^local(?::(\d+))?$")
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ws|wss)://\S+$")


class ClusterError(Exception):
    """The cluster cannot be used as asked (bad --cluster, unreachable, dask missing, lost)."""


@dataclass(frozen=True)
class ClusterSpec:
    """``local`` with ``workers`` processes, or the ``address`` of a running scheduler."""

    workers: int | None = None
    address: str | None = None


def parse_cluster(text: str) -> ClusterSpec:
    """``local``, ``local:N`` or ``tcp://HOST:PORT``; ClusterError otherwise."""
    m = _LOCAL.match(text.strip())
    if m:
        n = int(m.group(1)) if m.group(1) else _cpus()
        if n < 1:
            raise ClusterError(f"--cluster {text}: need at least one worker")
        return ClusterSpec(workers=n)
    if _ADDRESS.match(text.strip()):
        return ClusterSpec(address=text.strip())
    raise ClusterError(f"--cluster {text!r}: expected local, local:N (N worker processes) or "
                       "the scheduler's address, e.g. tcp://10.0.0.5:8786")


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install 'rebal[dask]'") from None
    return distributed


@contextlib.contextmanager
def connect(cluster: str | ClusterSpec, *, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cluster``; a local cluster is shut down on exit.
    ``timeout``: seconds to wait for a remote scheduler to answer."""
    spec = parse_cluster(cluster) if isinstance(cluster, str) else cluster
    dd = _distributed()
    if spec.address is not None:
        try:
            client = dd.Client(spec.address, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {spec.address}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    with _local_cluster(dd, spec.workers or 1) as local, dd.Client(local) as client:
        yield client


@contextlib.contextmanager
def _local_cluster(dd: Any, workers: int) -> Iterator[Any]:
    """A ``LocalCluster`` of ``workers`` processes; ClusterError when it cannot start. A Ctrl-C
    in the terminal reaches the starting worker processes too (one process group) and fails the
    start: the caller then reports the signal (exit 130), not this error."""
    import logging

    try:
        local = dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=None, silence_logs=logging.ERROR)
    except Exception as exc:  # dask raises RuntimeError/TimeoutError/OSError here
        raise ClusterError(f"cannot start a local Dask cluster of {workers} worker processes: "
                           f"{exc}") from None
    with local:
        yield local



def chunk_blocks(total_paths: int, workers: int) -> int:
    """Blocks per chunk: about ``CHUNKS_PER_WORKER`` chunks per worker over all the work,
    each at least ``MIN_CHUNK_PATHS`` paths."""
    want = max(1, workers * CHUNKS_PER_WORKER)
    per = max(MIN_CHUNK_PATHS, -(-total_paths // want))
    return max(1, -(-per // BLOCK_PATHS))


def _workers(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


@dataclass
class Submitted:
    """The futures of a submission: ``chunks[f] = (run index, chunk index, chunk)``."""

    runs: Sequence[RunInput]
    plans: list[list[Chunk]]
    chunks: dict[Any, tuple[int, int, Chunk]]
    shared: list[Any]  # one scattered RunInput per run
    started: float


def submit(client: Any, runs: Sequence[RunInput], *, blocks_per_chunk: int | None = None,
           workers: Sequence[str] | None = None) -> Submitted:
    """Scatter each run's inputs once and submit one task per chunk (``workers``: only
    there). Nothing is waited for; :func:`collect` gathers."""
    if client.scheduler_info().get("workers") == {}:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            raise ClusterError("the Dask scheduler has no workers") from None
    total = sum(r.paths for r in runs)
    per = blocks_per_chunk or chunk_blocks(total, len(workers) if workers else _workers(client))
    sub = Submitted(runs, [chunks(r.paths, per) for r in runs], {}, [], time.perf_counter())
    tag = uuid.uuid4().hex[:12]
    try:
        for i, (run, plan) in enumerate(zip(runs, sub.plans, strict=True)):
            # on every worker: a worker lost mid-run takes no input with it
            shared = client.scatter(run, hash=False, workers=workers, broadcast=True)
            sub.shared.append(shared)
            for j, c in enumerate(plan):
                fut = client.submit(run_chunk, shared, c.start, c.stop, pure=False,
                                    retries=RETRIES, workers=workers,
                                    key=f"rebal-sim-{tag}-{i}-{j}")
                sub.chunks[fut] = (i, j, c)
    except BaseException:
        client.cancel([*sub.chunks, *sub.shared], force=True)
        raise
    return sub


def collect(client: Any, sub: Submitted, *,
            progress: Callable[[int, int], None] | None = None,
            check: Callable[[int, int], None] | None = None) -> list[SimResult]:
    """Wait for a submission's chunks as they complete and merge each run exactly.

    ``progress(done, total)`` counts paths of finished chunks over all runs. ``check(done,
    total)`` is called about every :data:`POLL_S` seconds while waiting and may raise to stop
    the run (a deadline, a signal). Each result's ``elapsed_s`` is the wall-clock time from
    submission until its last chunk arrived. Raises SimulationError for a spec the engine
    refuses, ClusterError when the cluster fails the run; on any exception (KeyboardInterrupt
    included) every future is cancelled first.
    """
    dd = _distributed()
    total = sum(r.paths for r in sub.runs)
    parts: list[list[SimResult | None]] = [[None] * len(p) for p in sub.plans]
    finished = [0.0] * len(sub.runs)
    left = [len(p) for p in sub.plans]
    done = 0
    try:
        pending = dd.as_completed(list(sub.chunks))
        while not pending.is_empty():
            ready = pending.next_batch(block=check is None)
            if not ready:
                assert check is not None
                check(done, total)
                time.sleep(POLL_S)
                continue
            for fut in ready:
                i, j, c = sub.chunks[fut]
                got = _result(fut, dd)
                if isinstance(got, SimulationError):
                    raise got
                parts[i][j] = got
                left[i] -= 1
                if not left[i]:
                    finished[i] = time.perf_counter() - sub.started
                done += c.paths
                if progress is not None:
                    progress(done, total)
    except BaseException:
        client.cancel([*sub.chunks, *sub.shared], force=True)
        raise
    client.cancel(sub.shared)  # release the scattered inputs
    return [merge([p for p in run_parts if p is not None], finished[i])
            for i, run_parts in enumerate(parts)]


def simulate_runs(client: Any, runs: Sequence[RunInput], *,
                  progress: Callable[[int, int], None] | None = None,
                  check: Callable[[int, int], None] | None = None,
                  blocks_per_chunk: int | None = None,
                  workers: Sequence[str] | None = None) -> list[SimResult]:
    """Simulate every run on the cluster (:func:`submit`, then :func:`collect`); results in
    the order of ``runs``, each bit-identical to the in-process run but for ``elapsed_s``."""
    if not runs:
        return []
    sub = submit(client, runs, blocks_per_chunk=blocks_per_chunk, workers=workers)
    return collect(client, sub, progress=progress, check=check)


def _result(fut: Any, dd: Any) -> SimResult | SimulationError:
    try:
        got: SimResult | SimulationError = fut.result()
        return got
    except dd.KilledWorker as exc:
        raise ClusterError(f"the cluster lost the workers running a chunk too often: {exc}") from None
    except dd.CancelledError:
        raise ClusterError("the cluster cancelled a chunk of the run (scheduler restarted?)") \
            from None
