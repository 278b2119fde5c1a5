"""An adapter's own records, keyed by client id, written before the order leaves.

The live journal holds the order (client id) before the adapter is called; an adapter may
need to remember more that only it knows (the keeper: nonce and signed hashes; the solver:
the signed intent, its digest and UID), so that after a crash it finds what it sent instead
of sending again. One JSON file in the state folder, rewritten atomically on every ``put``;
kept in memory when there is no state folder. Only the newest records are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from rebal.compiler.files import atomic_write

__all__ = ["RecordStore"]

class _Record(Protocol):
    client_id: str


R = TypeVar("R", bound=_Record)
KEEP = 200  # records kept (the newest): enough for every order still worth looking up


class RecordStore(Generic[R]):
    def __init__(self, folder: Path | None, file: str, make: Callable[..., R]) -> None:
        self.path = folder / file if folder is not None else None
        self.records: dict[str, R] = {}
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.records = {k: make(**v) for k, v in data.items()}

    def get(self, client_id: str) -> R | None:
        return self.records.get(client_id)

    def put(self, rec: R) -> None:
        """Record (and persist) before the order leaves."""
        self.records[rec.client_id] = rec
        if len(self.records) > KEEP:
            for k in list(self.records)[: len(self.records) - KEEP]:
                del self.records[k]
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            rows: dict[str, Any] = {k: asdict(v) for k, v in self.records.items()}  # type: ignore[call-overload]  # R is a dataclass
            atomic_write(self.path, json.dumps(rows, indent=1, sort_keys=True))
