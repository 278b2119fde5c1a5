"""The solver's own record of the intents it signed, written before each is placed or posted.

The live journal holds the order (client id) before the adapter is called; this file holds
what only the adapter knows: the signed order as it is posted (the order book's creation
body), its digest, UID and ``validTo``. A vault's intent is placed on chain
(``Vault.place_intent``, counted by the guard) *before* it is posted, so a crash between the
two leaves a placed intent the order book has never seen; after a restart, the record finds
it by its digest and the very same signed order is posted, never placed again. One JSON file
in the state folder, rewritten atomically; kept in memory when there is no state folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rebal.compiler.files import atomic_write

__all__ = ["FILE", "IntentRecord", "IntentStore"]

FILE = "solver_intents.json"
_KEEP = 200  # records kept (the newest): enough for every intent still worth looking up


@dataclass
class IntentRecord:
    client_id: str
    uid: str          # 0x-hex, 56 bytes: digest ‖ owner ‖ validTo
    digest: str       # 0x-hex EIP-712 digest (what the vault's `placed` is keyed by)
    valid_to: int
    body: dict[str, Any] = field(default_factory=dict)  # the POST /api/v1/orders body


class IntentStore:
    def __init__(self, folder: Path | None) -> None:
        self.path = folder / FILE if folder is not None else None
        self.records: dict[str, IntentRecord] = {}
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.records = {k: IntentRecord(**v) for k, v in data.items()}

    def get(self, client_id: str) -> IntentRecord | None:
        return self.records.get(client_id)

    def put(self, rec: IntentRecord) -> None:
        """Record (and persist) before the intent is placed or posted."""
        self.records[rec.client_id] = rec
        if len(self.records) > _KEEP:
            for k in list(self.records)[: len(self.records) - _KEEP]:
                del self.records[k]
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps({k: asdict(v) for k, v in self.records.items()},
                                               indent=1, sort_keys=True))
