"""When the simulator starts its helper thread: only with a CPU free for it (threads.py)."""

from __future__ import annotations

import os

import pytest

from rebal.backends.kernel import threads


def test_a_helper_thread_needs_two_usable_cpus_and_one_of_them_free(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cpus = threads.usable_cpus()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert threads.spare_cpu() == (cpus >= 2)  # an idle machine: whenever the process may
    monkeypatch.setattr(os, "getloadavg", lambda: (cpus - 1.0, 0.0, 0.0))
    assert threads.spare_cpu() == (cpus >= 2)  # one CPU left free by the others: still
    monkeypatch.setattr(os, "getloadavg", lambda: (cpus - 0.5, 0.0, 0.0))
    assert not threads.spare_cpu()  # busier than that: the run stays on one thread

    def unknown() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", unknown)
    assert threads.spare_cpu() == (cpus >= 2)


def test_one_usable_cpu_never_gets_a_helper_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "sched_setaffinity"):
        pytest.fail("this test needs os.sched_setaffinity (Linux)")
    before = os.sched_getaffinity(0)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    try:
        os.sched_setaffinity(0, {min(before)})
        assert threads.usable_cpus() == 1
        assert not threads.spare_cpu()
    finally:
        os.sched_setaffinity(0, before)
