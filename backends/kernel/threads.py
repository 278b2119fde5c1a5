"""The helper threads the kernel and the simulator hand array work to.

numpy's ufuncs and generators and scipy's ``ndtr`` release the GIL while they fill arrays, so
a helper thread computing part of a step runs on a second core at the same time. Each role
gets one worker of its own, so work of one role never waits behind the other's; none at all
when the process may use only one CPU.

A helper thread pays only when it gets a CPU of its own: on a machine whose CPUs are busy
with other work it competes with the main thread and with the other processes, and the same
run costs more CPU time and no less wall time (on the 2-core development VM under a load of
about 4: 1.60 s of CPU and 1.65 s wall with the simulator's feed thread against 1.30 s and
1.38 s without). :func:`spare_cpu` is the test callers use to decide whether to start one.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

__all__ = ["helper_pool", "spare_cpu", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def spare_cpu() -> bool:
    """Whether a helper thread would find a CPU free: the process may use at least two CPUs
    and the system's 1-minute load average leaves one of them free besides the caller's
    (``load <= usable CPUs - 1``; no load average known: assumed free). Read at each call."""
    cpus = usable_cpus()
    if cpus < 2:
        return False
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return True
    return load <= cpus - 1


@cache
def helper_pool(role: str) -> ThreadPoolExecutor | None:
    """The one helper thread for ``role`` (e.g. ``"marks"``, ``"feed"``), or None when the
    process may use only one CPU."""
    if usable_cpus() < 2:
        return None
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rebal-{role}")
