"""Carrying out one journaled order: send, learn the outcome, never send blind.

The row is already in the journal as ``intent`` (committed) when :func:`send_order` runs.
Then, for each attempt:

1. the row moves to ``sent`` (committed) and the request leaves;
2. an answer moves it to its venue state (``acked``/``partial``/``filled``/...);
3. a :class:`~.adapter.Rejected` error is final (``rejected``, reason kept, never retried);
4. a :class:`~.adapter.Transient` error leaves the outcome unknown: the row becomes
   ``unknown``, and before anything else the order is **looked up by its client id**. Found:
   its venue state is taken. Not found after a refusal the venue answered (a rate limit:
   ``Transient.not_executed``): it is sent again, same id. Not found after a timeout, a
   dropped connection or a 5xx: the request may still be in flight at the venue, so nothing
   is re-sent; the row stays ``unknown`` and the reconciliation settles it (found later, its
   state is taken; still absent after the grace period, it is closed and the kernel decides
   afresh). A lookup that itself fails is retried (backoff with jitter).

An order still ``open`` after its answer (a venue slow to match an IOC) is polled, then
cancelled, so every step ends with final rows or ``unknown`` ones. An adapter whose orders
*rest* says how long with ``rest_s(status)`` (:func:`rest_s`, the one place this is read):
the solver's intents rest until their ``validTo``, since solvers take seconds to minutes. Such
an order is polled (backoff capped at ``cap_s``) until filled or until that time has passed
on the policy's clock; only then is it looked up a last time and, if still open, cancelled.
When the runner is asked to stop (``RetryPolicy.stop``: SIGINT or SIGTERM) while an order
rests, the wait ends at once and the order is left resting, neither cancelled nor re-sent:
its row stays open in the journal, and the next start's reconciliation takes its state.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .adapter import Adapter, AdapterError, OrderRequest, OrderStatus, Rejected, Transient
from .journal import Journal

__all__ = ["RetryPolicy", "apply_status", "rest_s", "send_order"]

log = logging.getLogger("rebal.live")

_STATE = {"open": "acked", "partial": "partial", "filled": "filled", "cancelled": "cancelled",
          "rejected": "rejected", "expired": "expired"}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per order and exponential backoff with full jitter."""

    attempts: int = 5
    base_s: float = 0.2
    cap_s: float = 5.0
    polls: int = 5
    poll_s: float = 0.2
    #: how long an unknown order the venue does not show may still be in flight there
    unknown_grace_s: float = 15.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # how long a resting order has waited
    rng: random.Random = random.Random()  # noqa: RUF009 - shared jitter source is fine
    #: True once the runner is asked to stop: a resting order is no longer waited for
    stop: Callable[[], bool] = lambda: False

    def backoff(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** attempt))


def rest_s(adapter: Adapter, st: OrderStatus) -> float | None:
    """Seconds an open order may still rest at the venue before it is given up, as the
    adapter states it (optional ``rest_s(status)``: the solver's intents rest until their
    ``validTo``); None for an adapter that states none (ccxt's IOC orders, the keeper's
    transactions): the policy's few polls, then a cancel."""
    stated = getattr(adapter, "rest_s", None)
    if st.final or not callable(stated):
        return None
    try:
        got = stated(st)
    except AdapterError as exc:
        log.warning("order %s: how long it may rest is unknown (%s)", st.client_id, exc)
        return None
    return None if got is None else max(0.0, float(got))


def apply_status(journal: Journal, st: OrderStatus) -> None:
    """Write what the venue says about an order into its journal row."""
    state = _STATE[st.state]
    if st.state == "open" and st.filled != 0.0:
        state = "partial"
    journal.update(st.client_id, state=state, filled=st.filled, avg_price=st.avg_price,
                   fee=st.fee, venue_id=st.venue_id or None, reason=st.reason or None,
                   venue_filled=st.venue_filled)


def send_order(adapter: Adapter, journal: Journal, req: OrderRequest,
               policy: RetryPolicy = RetryPolicy()) -> OrderStatus | None:
    """Send ``req`` (already journaled as ``intent``) and return its final status, or None
    when its outcome is still unknown after every attempt (the row is then ``unknown``); a
    resting order left open because the runner was asked to stop returns its open status."""
    cid = req.client_id
    lookups = 0
    attempt = 0
    while attempt < policy.attempts:
        journal.update(cid, state="sent", attempt=True)
        try:
            st = adapter.submit(req)
        except Rejected as exc:
            journal.update(cid, state="rejected", reason=_reason(exc))
            log.warning("order %s rejected by the venue: %s", cid, _reason(exc))
            return None
        except Transient as exc:
            journal.update(cid, state="unknown", reason=_reason(exc))
            log.warning("order %s: outcome unknown (%s); looking it up before anything else",
                        cid, _reason(exc))
            found, known = _look_up(adapter, cid, policy, lookups)
            lookups += 1
            if not known:
                return None  # stays unknown: reconciliation settles it, nothing re-sent
            if found is not None:
                apply_status(journal, found)
                return _finish(adapter, journal, found, policy)
            if not exc.not_executed:
                log.warning("order %s: not at the venue yet, but the request may still be in "
                            "flight; left unknown for the reconciliation (not re-sent)", cid)
                return None
            attempt += 1
            log.info("order %s refused unexecuted by the venue; sending it again with the "
                     "same id", cid)
            policy.sleep(policy.backoff(attempt))
            continue
        apply_status(journal, st)
        return _finish(adapter, journal, st, policy)
    return None


def _look_up(adapter: Adapter, cid: str, policy: RetryPolicy, lookups: int
             ) -> tuple[OrderStatus | None, bool]:
    """(status or None if absent, whether the venue's answer is known)."""
    for k in range(policy.attempts):
        policy.sleep(policy.backoff(k + lookups))
        try:
            return adapter.lookup(cid), True
        except Transient as exc:
            log.warning("lookup of %s failed (%s); retrying", cid, _reason(exc))
        except Rejected as exc:
            log.warning("lookup of %s refused (%s); retrying", cid, _reason(exc))
    return None, False


def _finish(adapter: Adapter, journal: Journal, st: OrderStatus, policy: RetryPolicy
            ) -> OrderStatus | None:
    """Poll an order that is still open (a resting one until its time is up), then cancel
    it: every step ends final."""
    wait = rest_s(adapter, st)
    deadline = policy.clock() + wait if wait is not None else None
    k = 0
    while not st.final:
        if deadline is None:
            if k >= policy.polls:
                break
            pause = policy.poll_s * (k + 1)
        else:
            if policy.stop():
                log.warning("stopping: order %s is left resting at the venue (not cancelled); "
                            "the next start reconciles it", st.client_id)
                return st
            left = deadline - policy.clock()
            if left <= 0.0 and k > 0:
                break  # its validity is over: one last look above, then the cancel below
            pause = max(0.0, min(left, policy.cap_s, policy.poll_s * (k + 1)))
        policy.sleep(pause)
        k += 1
        try:
            got = adapter.lookup(st.client_id)
        except (Transient, Rejected):
            continue
        if got is not None:
            st = got
            apply_status(journal, st)
    if st.final:
        return st
    try:
        done = adapter.cancel(st.client_id)
    except (Transient, Rejected) as exc:
        log.warning("cancel of %s failed (%s); reconciliation will settle it", st.client_id,
                    _reason(exc))
        return None
    if done is None:
        try:
            done = adapter.lookup(st.client_id)
        except (Transient, Rejected):
            return None
    if done is not None:
        apply_status(journal, done)
        if done.final:
            return done
    return None


def _reason(exc: Exception) -> str:
    code = getattr(exc, "code", "")
    text = str(exc)
    return f"{code}: {text}" if code and code not in text else text
