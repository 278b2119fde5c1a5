"""The keeper's own record of transactions it signed, written before each one is sent.

The live journal holds the order (client id) before the adapter is called; this file holds
what only the adapter knows: the nonce and every hash signed for that client id (the first
send and its fee-bumped replacements), so after a crash between send and receipt the pending
transaction is found by nonce and hash and never sent twice. One JSON file in the state
folder, rewritten atomically; kept in memory when there is no state folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rebal.compiler.files import atomic_write

__all__ = ["PendingStore", "PendingTx"]

FILE = "keeper_txs.json"
_KEEP = 200  # records kept (the newest): enough for every order still worth looking up


@dataclass
class PendingTx:
    client_id: str
    nonce: int
    instrument: str = ""
    hashes: list[str] = field(default_factory=list)  # oldest first; the last is the newest
    raw: str = ""          # the newest signed transaction (0x hex), to re-broadcast
    max_fee: int = 0
    tip: int = 0
    gas: int = 0
    to: str = ""
    data: str = ""
    cancel: bool = False   # the newest hash is a cancellation (a 0-value self transfer)


class PendingStore:
    def __init__(self, folder: Path | None) -> None:
        self.path = folder / FILE if folder is not None else None
        self.records: dict[str, PendingTx] = {}
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.records = {k: PendingTx(**v) for k, v in data.items()}

    def get(self, client_id: str) -> PendingTx | None:
        return self.records.get(client_id)

    def put(self, rec: PendingTx) -> None:
        """Record (and persist) before the transaction leaves."""
        self.records[rec.client_id] = rec
        if len(self.records) > _KEEP:
            for k in list(self.records)[: len(self.records) - _KEEP]:
                del self.records[k]
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps({k: asdict(v) for k, v in self.records.items()},
                                               indent=1, sort_keys=True))

    def by_nonce(self, nonce: int) -> list[PendingTx]:
        return [r for r in self.records.values() if r.nonce == nonce]
