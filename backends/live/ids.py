"""Deterministic client order ids: the same decision always gets the same id.

An id is derived from (IR hash, venue, decision sequence, leg, child), so a runner that
restarts and re-derives an order it already journaled sends it under the id the venue may
already hold, and a lookup by id finds it. Ids are ASCII ``[a-z0-9-]``, at most 32 characters:
inside Binance's ``newClientOrderId`` (36, ``^[.A-Z:/a-z0-9_-]{1,36}$``), Deribit's ``label``
(64) and what fits an on-chain ``bytes32``/appData field.
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_LEN", "client_id", "run_tag"]

MAX_LEN = 32


def run_tag(ir_hash: str, venue: str) -> str:
    """Eight hex digits naming one (spec, venue) pair: the prefix of all its client ids."""
    return hashlib.sha256(f"{ir_hash}\x00{venue}".encode()).hexdigest()[:8]


def client_id(ir_hash: str, venue: str, seq: int, leg: int, child: int = 0) -> str:
    """``rb-<tag>-<seq>-<leg>-<child>``; unique per (spec, venue, decision, leg, child)."""
    if seq < 0 or leg < 0 or child < 0:
        raise ValueError("sequence, leg and child must not be negative")
    cid = f"rb-{run_tag(ir_hash, venue)}-{seq}-{leg}-{child}"
    if len(cid) > MAX_LEN:
        raise ValueError(f"client id {cid!r} is longer than {MAX_LEN} characters")
    return cid
