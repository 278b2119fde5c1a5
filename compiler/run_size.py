"""How much memory and time a sim venue's run needs, estimated before anything is allocated.

Pure arithmetic on the IR (no numpy), so `rebal check` can warn (W908) and `rebal simulate`
can refuse a run that cannot fit before it allocates. The per-path figures are upper bounds
measured with ``tracemalloc`` on the example specs (peak bytes per path, 440 to 1,700 bytes
for one to four instruments); the time figures are rough rates of one idle core.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import ir

__all__ = ["RunSize", "available_memory", "human_bytes", "human_seconds", "run_size"]

_BASE_BYTES_PER_PATH = 512
_BYTES_PER_INSTRUMENT = 384
_BYTES_PER_ASSET = 128
_SAMPLE_SERIES = 4  # measure, band low, band high, equity: one float per step each
#: Rough cost of one kernel step (seconds) and of one path in it, on one idle core.
SECONDS_PER_STEP = 1e-4
SECONDS_PER_PATH_STEP = 6e-8


@dataclass(frozen=True)
class RunSize:
    """The size of one simulation run: its grid and what it needs."""

    paths: int
    steps: int
    bytes: int
    seconds: float

    @property
    def path_steps(self) -> int:
        return self.paths * self.steps


def steps_of(cfg: ir.SimConfig) -> int:
    """The number of steps of a run: ``horizon / step``, rounded down (0 when the step is 0)."""
    if cfg.step_s <= 0:
        return 0
    return int(cfg.horizon_s / cfg.step_s + Decimal("1e-9"))


def run_size(strategy: ir.Strategy, cfg: ir.SimConfig, paths: int | None = None,
             sample_paths: int = 0) -> RunSize:
    """The estimated peak memory (bytes) and time (seconds) of simulating ``strategy``."""
    n_paths = int(paths if paths is not None else cfg.paths)
    steps = steps_of(cfg)
    assets = {i.underlying for i in strategy.instruments} | {a.asset for a in cfg.assets}
    per_path = (_BASE_BYTES_PER_PATH + _BYTES_PER_INSTRUMENT * len(strategy.instruments)
                + _BYTES_PER_ASSET * len(assets))
    kept = min(sample_paths, n_paths)
    samples = 8 * kept * (steps + 1) * (len(assets) + _SAMPLE_SERIES)
    seconds = steps * (SECONDS_PER_STEP + n_paths * SECONDS_PER_PATH_STEP)
    return RunSize(n_paths, steps, n_paths * per_path + samples, seconds)


def _cgroup_free() -> int | None:
    """Memory left under this process's cgroup (v2) limit, when there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _sysconf_available() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available_memory() -> int | None:
    """Bytes this process can still allocate: the least of the machine's available memory,
    the cgroup limit and the address-space limit (None when none can be read)."""
    found = [m for m in (_meminfo_available() or _sysconf_available(), _cgroup_free())
             if m is not None]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
        found.append(int(soft))
    return min(found) if found else None


def human_bytes(n: float) -> str:
    """``1.8 TB``, ``750 MB``: decimal units, three significant figures."""
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def human_seconds(s: float) -> str:
    """``3.2 h``, ``45 s``: the largest unit that keeps the number at least 1."""
    for scale, unit in ((365 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min")):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s:.2g} s"
