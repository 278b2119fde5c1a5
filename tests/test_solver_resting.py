"""An open intent rests at the order book until its ``validTo``: the live layer neither
cancels it early (solvers take seconds to minutes on CoW's book) nor re-sends it; one that
expires unfilled is re-planned with a new client id and UID. Real anvil, the compiled
Settlement, the local order book over HTTP and the local solver; the live layer's clock is
accelerated (``RetryPolicy(sleep=..., clock=...)``), so ten minutes of resting take no real
time. Runtime: a few seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import test_solver_adapter as base
from test_solver_adapter import Env

from rebal.backends.chain.client import increase_time
from rebal.backends.live.execution import RetryPolicy
from rebal.backends.live.opening import Opened, open_session

# the EIP-712 venue of test_solver_adapter: a trader account, the book server and the solver
_settlement, _strategy, env = base._settlement, base._strategy, base.env


@dataclass
class Clock:
    """The live layer's accelerated clock: each sleep moves it on and runs ``on_sleep``."""

    t: float = 0.0
    on_sleep: Callable[[float], None] | None = None
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s
        self.slept.append(s)
        if self.on_sleep is not None:
            self.on_sleep(self.t)


def _open(env: Env, tmp_path: Path, clock: Clock) -> Opened:
    strategy = env.strategy.model_copy(update={"venues": tuple(
        env.venue if v.name == "intents" else v for v in env.strategy.venues)})
    env.adapter.strategy = strategy
    opened = open_session(strategy, "intents", state_dir=tmp_path, adapter=env.adapter)
    opened.session.policy = RetryPolicy(sleep=clock.sleep, clock=clock.now)
    opened.session.start()
    return opened


def _states(env: Env) -> list[str]:
    return [env.book.status(o) for o in env.book.orders.values()]


def test_an_open_intent_rests_until_valid_to_and_fills_when_the_solver_resumes(
        env: Env, tmp_path: Path) -> None:
    seen: list[tuple[float, list[str]]] = []

    def solver_paused_for_five_minutes(t: float) -> None:
        seen.append((t, _states(env)))
        if t >= 300.0:  # the solvers come back
            env.solver.step()

    clock = Clock(on_sleep=solver_paused_for_five_minutes)
    opened = _open(env, tmp_path, clock)
    try:
        res = opened.session.step()
        rows = opened.journal.orders()
    finally:
        opened.close()
    assert res.decision is not None and len(res.decision.orders) == 1 and res.halted is None
    (row,) = rows
    assert row.state == "filled" and row.filled == res.decision.orders[0].qty
    # it rested five minutes (the old policy gave up after about 3 s), open all along
    paused = [states for t, states in seen if t < 300.0]
    assert clock.t >= 300.0 and len(paused) >= 10 and max(clock.slept) <= 5.0
    assert all(states == ["open"] for states in paused)
    assert _states(env) == ["fulfilled"] and env.server.posts == 1  # posted once, never cancelled


def test_an_intent_that_expires_unfilled_is_replanned_never_reposted(
        env: Env, tmp_path: Path) -> None:
    valid_for = float(env.venue.config.valid_for_s)  # type: ignore[union-attr]
    phase = {"expired": False}

    def nobody_solves_then_time_runs_out(t: float) -> None:
        if not phase["expired"] and t >= valid_for - 10.0:
            increase_time(env.chain.w3, int(valid_for) + 1)  # the chain passes validTo
            phase["expired"] = True
        elif len(env.book.orders) == 2:
            env.solver.step()  # solvers take the re-planned intent

    clock = Clock(on_sleep=nobody_solves_then_time_runs_out)
    opened = _open(env, tmp_path, clock)
    try:
        first = opened.session.step()
        after_first = [(r.client_id, r.state) for r in opened.journal.orders()]
        second = opened.session.step()
        rows = {r.client_id: r for r in opened.journal.orders()}
    finally:
        opened.close()
    assert first.decision is not None and second.decision is not None
    ((cid1, state1),) = after_first
    assert state1 == "expired" and clock.t >= valid_for - 10.0
    (cid2,) = [o.client_id for o in second.decision.orders]
    assert cid2 != cid1 and rows[cid1].state == "expired" and rows[cid2].state == "filled"
    uids = {r.venue_id for r in rows.values()}
    assert len(uids) == 2 and set(env.book.orders) == {bytes.fromhex(u[2:]) for u in uids}
    assert env.server.posts == 2  # each intent posted once: the expired one never again
    assert sorted(_states(env)) == ["expired", "fulfilled"]


def test_a_stop_while_an_intent_rests_leaves_it_resting_and_a_restart_takes_its_fill(
        env: Env, tmp_path: Path) -> None:
    """SIGINT or SIGTERM during the wait (``run_loop`` hands the runner's stop flag to the
    policy): the step ends at once, the intent is neither cancelled nor re-posted, its row
    stays open; the next start's reconciliation takes its fill."""
    from rebal.backends.live.runner import Stop, run_loop

    stop = Stop()

    def signal_after_a_minute(t: float) -> None:
        if t >= 60.0:
            stop.set(2)  # what the SIGINT handler of stop_on_signals does

    clock = Clock(on_sleep=signal_after_a_minute)
    opened = _open(env, tmp_path, clock)
    try:
        steps = run_loop(opened.session, interval_s=0.0, stop=stop)
        (row,) = opened.journal.orders()
    finally:
        opened.close()
    valid_for = float(env.venue.config.valid_for_s)  # type: ignore[union-attr]
    assert steps == 1 and 60.0 <= clock.t < 70.0 < valid_for  # the wait ended at the signal
    assert row.state == "acked" and row.filled == 0.0
    assert _states(env) == ["open"] and env.server.posts == 1  # left resting, not cancelled
    env.solver.step()  # the solvers fill it while the runner is down
    again = _open(env, tmp_path, Clock())
    try:
        (row,) = again.journal.orders()
    finally:
        again.close()
    assert row.state == "filled" and row.filled != 0.0
    assert _states(env) == ["fulfilled"] and env.server.posts == 1
