"""The order journal: one SQLite file per (strategy, venue), written before anything is sent.

Every order's life is a row (``intent → sent → acked → partial → filled | cancelled |
rejected | expired``, plus ``unknown`` when a request's outcome was not learned). A decision
step is one transaction: the step's orders as ``intent`` rows together with the kernel's
state after the decision, so a crash can never leave orders without the state that made them
or the other way round. WAL mode; every write is committed before the next request leaves.

The journal also holds the *baseline*: the venue positions adopted when the strategy first
ran (or last adopted a stray), so ``baseline + fills`` is what the journal explains, and the
halt record (cleared only by ``rebal resume``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FINAL", "JOURNAL_VERSION", "Journal", "JournalOrder", "LIVE_STATES"]

JOURNAL_VERSION = 1
#: Every state a journal row can be in.
LIVE_STATES = ("intent", "sent", "acked", "partial", "filled", "cancelled", "rejected",
               "expired", "unknown")
FINAL = frozenset({"filled", "cancelled", "rejected", "expired"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id   TEXT PRIMARY KEY,
    step        INTEGER NOT NULL,
    leg         INTEGER NOT NULL,
    child       INTEGER NOT NULL,
    instrument  TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    qty         REAL NOT NULL,
    limit_price REAL,
    mid         REAL,
    reduce_only INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    filled      REAL NOT NULL DEFAULT 0,
    venue_filled REAL,
    avg_price   REAL,
    fee         REAL NOT NULL DEFAULT 0,
    venue_id    TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    accounted   INTEGER NOT NULL DEFAULT 0,
    created_s   REAL NOT NULL,
    updated_s   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_state ON orders (state);
CREATE TABLE IF NOT EXISTS steps (
    step         INTEGER PRIMARY KEY,
    t_s          REAL NOT NULL,
    kernel_state TEXT NOT NULL,
    summary      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    t_s     REAL NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS halts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    t_s       REAL NOT NULL,
    reason    TEXT NOT NULL,
    cleared_s REAL
);
"""


@dataclass(frozen=True)
class JournalOrder:
    """One journal row."""

    client_id: str
    step: int
    leg: int
    child: int
    instrument: str
    symbol: str
    qty: float
    limit_price: float | None
    mid: float | None
    reduce_only: bool
    state: str
    filled: float
    venue_filled: float | None
    avg_price: float | None
    fee: float
    venue_id: str
    reason: str
    attempts: int
    accounted: bool
    created_s: float
    updated_s: float

    @property
    def final(self) -> bool:
        return self.state in FINAL


class Journal:
    """The SQLite journal of one (strategy, venue)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self.transaction():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
        version = self.meta("journal_version")
        if version is None:
            self.set_meta("journal_version", JOURNAL_VERSION)
        elif int(version) != JOURNAL_VERSION:
            raise ValueError(f"{self.path}: journal version {version}, this rebal reads "
                             f"{JOURNAL_VERSION}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it is committed, or none of it."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ meta

    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any, db: sqlite3.Connection | None = None) -> None:
        (db or self._db).execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 (key, json.dumps(value, sort_keys=True)))

    # ------------------------------------------------------------------ steps

    def last_step(self) -> tuple[int, float, dict[str, Any], dict[str, Any]] | None:
        """(step, t_s, kernel state, summary) of the newest step, None before the first."""
        row = self._db.execute("SELECT * FROM steps ORDER BY step DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return (int(row["step"]), float(row["t_s"]), json.loads(row["kernel_state"]),
                json.loads(row["summary"]))

    def next_step(self) -> int:
        row = self._db.execute("SELECT MAX(step) AS s FROM steps").fetchone()
        return 1 if row["s"] is None else int(row["s"]) + 1

    def record_step(self, step: int, t_s: float, kernel_state: Mapping[str, Any],
                    summary: Mapping[str, Any], orders: Sequence[Mapping[str, Any]] = ()
                    ) -> None:
        """Journal a decision: its orders as ``intent`` rows and the kernel's state, atomically."""
        now = time.time()
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO steps (step, t_s, kernel_state, summary) "
                       "VALUES (?, ?, ?, ?)",
                       (step, t_s, json.dumps(kernel_state, sort_keys=True),
                        json.dumps(summary, sort_keys=True)))
            for o in orders:
                db.execute(
                    "INSERT INTO orders (client_id, step, leg, child, instrument, symbol, qty,"
                    " limit_price, mid, reduce_only, state, created_s, updated_s) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?)",
                    (o["client_id"], step, o["leg"], o["child"], o["instrument"], o["symbol"],
                     o["qty"], o["limit_price"], o.get("mid"), int(bool(o.get("reduce_only"))),
                     now, now))

    def save_kernel_state(self, step: int, kernel_state: Mapping[str, Any],
                          summary: Mapping[str, Any] | None = None) -> None:
        """Replace the kernel state stored with ``step`` (after its fills were accounted)."""
        with self.transaction() as db:
            db.execute("UPDATE steps SET kernel_state = ? WHERE step = ?",
                       (json.dumps(kernel_state, sort_keys=True), step))
            if summary is not None:
                db.execute("UPDATE steps SET summary = ? WHERE step = ?",
                           (json.dumps(summary, sort_keys=True), step))

    def recent_steps(self, n: int = 10) -> list[tuple[int, float, dict[str, Any]]]:
        rows = self._db.execute("SELECT step, t_s, summary FROM steps ORDER BY step DESC "
                                "LIMIT ?", (n,)).fetchall()
        return [(int(r["step"]), float(r["t_s"]), json.loads(r["summary"])) for r in rows]

    # ------------------------------------------------------------------ orders

    def order(self, client_id: str) -> JournalOrder | None:
        row = self._db.execute("SELECT * FROM orders WHERE client_id = ?",
                               (client_id,)).fetchone()
        return None if row is None else _order(row)

    def orders(self, *, step: int | None = None, final: bool | None = None
               ) -> list[JournalOrder]:
        sql, args = "SELECT * FROM orders", []
        where = []
        if step is not None:
            where.append("step = ?")
            args.append(step)
        if final is True:
            where.append("state IN ({})".format(",".join("?" * len(FINAL))))
            args.extend(sorted(FINAL))
        elif final is False:
            where.append("state NOT IN ({})".format(",".join("?" * len(FINAL))))
            args.extend(sorted(FINAL))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY step, leg, child"
        return [_order(r) for r in self._db.execute(sql, args).fetchall()]

    def update(self, client_id: str, *, state: str, filled: float | None = None,
               avg_price: float | None = None, fee: float | None = None,
               venue_filled: float | None = None,
               venue_id: str | None = None, reason: str | None = None,
               attempt: bool = False, accounted: bool | None = None) -> None:
        """Move one order along its lifecycle (committed before this returns)."""
        if state not in LIVE_STATES:
            raise ValueError(f"unknown order state {state!r}")
        sets, args = ["state = ?", "updated_s = ?"], [state, time.time()]
        for col, val in (("filled", filled), ("avg_price", avg_price), ("fee", fee),
                         ("venue_filled", venue_filled),
                         ("venue_id", venue_id), ("reason", reason)):
            if val is not None:
                sets.append(f"{col} = ?")
                args.append(val)
        if attempt:
            sets.append("attempts = attempts + 1")
        if accounted is not None:
            sets.append("accounted = ?")
            args.append(int(accounted))
        args.append(client_id)
        with self.transaction() as db:
            db.execute(f"UPDATE orders SET {', '.join(sets)} WHERE client_id = ?", args)

    def step_summary(self, step: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT summary FROM steps WHERE step = ?", (step,)).fetchone()
        return None if row is None else dict(json.loads(row["summary"]))

    def filled_by_instrument(self, venue_units: bool = False) -> dict[str, float]:
        """Signed filled quantity per instrument over every journaled order (in underlying
        units, or in the venue's own order units where the venue reported them)."""
        col = "venue_filled" if venue_units else "filled"
        rows = self._db.execute(f"SELECT instrument, SUM({col}) AS q FROM orders "
                                "GROUP BY instrument").fetchall()
        return {r["instrument"]: float(r["q"] or 0.0) for r in rows}

    # ------------------------------------------------------------------ events and halts

    def event(self, kind: str, message: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO events (t_s, kind, message) VALUES (?, ?, ?)",
                       (time.time(), kind, message))

    def events(self, n: int = 20) -> list[tuple[float, str, str]]:
        rows = self._db.execute("SELECT t_s, kind, message FROM events ORDER BY id DESC "
                                "LIMIT ?", (n,)).fetchall()
        return [(float(r["t_s"]), r["kind"], r["message"]) for r in rows][::-1]

    def halt(self, reason: str) -> None:
        """Record a halt (idempotent while one is active)."""
        if self.active_halt() is not None:
            return
        with self.transaction() as db:
            db.execute("INSERT INTO halts (t_s, reason) VALUES (?, ?)", (time.time(), reason))
            db.execute("INSERT INTO events (t_s, kind, message) VALUES (?, 'halt', ?)",
                       (time.time(), reason))

    def active_halt(self) -> str | None:
        row = self._db.execute("SELECT reason FROM halts WHERE cleared_s IS NULL "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else str(row["reason"])

    def clear_halt(self) -> str | None:
        """Clear the active halt (operator action); the reason that was cleared."""
        reason = self.active_halt()
        if reason is not None:
            with self.transaction() as db:
                db.execute("UPDATE halts SET cleared_s = ? WHERE cleared_s IS NULL",
                           (time.time(),))
                db.execute("INSERT INTO events (t_s, kind, message) VALUES (?, 'resume', ?)",
                           (time.time(), f"halt cleared: {reason}"))
        return reason


def _order(row: sqlite3.Row) -> JournalOrder:
    return JournalOrder(
        client_id=row["client_id"], step=int(row["step"]), leg=int(row["leg"]),
        child=int(row["child"]), instrument=row["instrument"], symbol=row["symbol"],
        qty=float(row["qty"]),
        limit_price=None if row["limit_price"] is None else float(row["limit_price"]),
        mid=None if row["mid"] is None else float(row["mid"]),
        reduce_only=bool(row["reduce_only"]), state=row["state"], filled=float(row["filled"]),
        venue_filled=None if row["venue_filled"] is None else float(row["venue_filled"]),
        avg_price=None if row["avg_price"] is None else float(row["avg_price"]),
        fee=float(row["fee"]), venue_id=row["venue_id"], reason=row["reason"],
        attempts=int(row["attempts"]), accounted=bool(row["accounted"]),
        created_s=float(row["created_s"]), updated_s=float(row["updated_s"]),
    )
