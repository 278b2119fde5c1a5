"""The helper threads the kernel and the simulator hand array work to.

numpy's ufuncs and generators and scipy's ``ndtr`` release the GIL while they fill arrays, so
a helper thread computing part of a step runs on a second core at the same time. Each role
gets one worker of its own, so work of one role never waits behind the other's; none at all
when the process may use only one CPU.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

__all__ = ["helper_pool", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@cache
def helper_pool(role: str) -> ThreadPoolExecutor | None:
    """The one helper thread for ``role`` (e.g. ``"marks"``, ``"feed"``), or None when the
    process may use only one CPU."""
    if usable_cpus() < 2:
        return None
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rebal-{role}")
