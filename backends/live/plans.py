"""Plan files: Terraform's saved plan, for trades.

``rebal plan -o plan.json`` writes the kernel's decision on one snapshot as canonical JSON
(sorted keys, ``plan_version``): the IR hash, venue, creation time and expiry, the state it
was made from (positions, equity, prices, the journal's next step) with a fingerprint, the
target rows and the orders with their client ids. ``rebal apply plan.json`` re-reads the
venue and refuses a stale plan (:func:`staleness`): expired, another IR, another journal
step (something ran since), positions changed, or prices moved beyond the plan's tolerance.
A plan whose step is already in the journal has been applied: applying it again sends
nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .adapter import Snapshot
from .driver import OrderPlan, StepDecision

__all__ = ["PLAN_VERSION", "PlanError", "build_plan", "load_plan", "plan_json", "plan_orders",
           "staleness"]

PLAN_VERSION = 1
#: Default life of a plan and how far prices may move before it is stale.
DEFAULT_TTL_S = 300.0
DEFAULT_PRICE_TOLERANCE = 0.005


class PlanError(ValueError):
    """A plan file that cannot be read or does not fit this spec/venue."""


def _state(snap: Snapshot, d: StepDecision, next_step: int) -> dict[str, Any]:
    return {
        "time_s": snap.time_s, "equity": snap.equity, "next_step": next_step,
        "positions": {k: float(v) for k, v in sorted(d.positions.items())},
        "index": {k: float(v) for k, v in sorted(snap.index.items())},
        "mid": {k: float(v) for k, v in sorted(snap.mid.items())},
    }


def fingerprint(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def build_plan(*, strategy: str, venue: str, backend: str, ir_hash: str, snap: Snapshot,
               decision: StepDecision, extra: Mapping[str, Any] | None = None,
               ttl_s: float = DEFAULT_TTL_S,
               price_tolerance: float = DEFAULT_PRICE_TOLERANCE,
               venue_orders: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The plan document of ``decision`` made on ``snap``; ``venue_orders``: what the venue
    would be sent for each order, where the adapter shows it (a solver's signed intents)."""
    state = _state(snap, decision, decision.seq)
    doc: dict[str, Any] = {
        "plan_version": PLAN_VERSION, "strategy": strategy, "venue": venue,
        "backend": backend, "ir_hash": ir_hash, "created_s": snap.time_s,
        "expires_s": snap.time_s + ttl_s, "price_tolerance": price_tolerance,
        "step": decision.seq, "state": state, "state_fingerprint": fingerprint(state),
        "decision": decision.summary(),
    }
    if extra:
        doc["extra"] = dict(extra)
    if venue_orders:
        doc["venue_orders"] = list(venue_orders)
    return doc


def plan_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, allow_nan=False) + "\n"


def load_plan(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path}: cannot read the plan ({exc})") from None
    if not isinstance(doc, dict) or doc.get("plan_version") != PLAN_VERSION:
        raise PlanError(f"{path}: not a rebal plan (plan_version {PLAN_VERSION} expected)")
    if fingerprint(doc["state"]) != doc.get("state_fingerprint"):
        raise PlanError(f"{path}: the plan's state does not match its fingerprint "
                        "(the file was edited)")
    return doc


def plan_orders(doc: Mapping[str, Any]) -> tuple[OrderPlan, ...]:
    return tuple(OrderPlan(**o) for o in doc["decision"]["orders"])


def staleness(doc: Mapping[str, Any], *, ir_hash: str, snap: Snapshot, next_step: int,
              positions: Mapping[str, float], now_s: float) -> list[str]:
    """Why the plan may no longer be applied (empty: it is fresh)."""
    why = []
    if doc["ir_hash"] != ir_hash:
        why.append("the spec changed since the plan was made (IR hash differs)")
    if now_s > float(doc["expires_s"]):
        why.append(f"the plan expired {now_s - float(doc['expires_s']):.0f} s ago")
    if next_step != int(doc["step"]):
        why.append(f"the journal moved on (next step {next_step}, plan made for "
                   f"{doc['step']})")
    state = doc["state"]
    for name, q in state["positions"].items():
        now = float(positions.get(name, 0.0))
        if abs(now - float(q)) > 1e-9 * max(1.0, abs(float(q))):
            why.append(f"position {name} changed: {float(q):g} then, {now:g} now")
    tol = float(doc["price_tolerance"])
    for name, p in state["mid"].items():
        now = snap.mid.get(name)
        if now is not None and float(p) > 0 and abs(float(now) / float(p) - 1.0) > tol:
            why.append(f"price of {name} moved {100 * (float(now) / float(p) - 1):+.2f}% "
                       f"(tolerance {100 * tol:.2f}%)")
    return why
