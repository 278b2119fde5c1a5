"""The keeper's own record of transactions it signed, written before each one is sent.

The live journal holds the order (client id) before the adapter is called; this file holds
what only the adapter knows: the nonce and every hash signed for that client id (the first
send and its fee-bumped replacements), so after a crash between send and receipt the pending
transaction is found by nonce and hash and never sent twice. One JSON file in the state
folder, rewritten atomically; kept in memory when there is no state folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rebal.backends.live.records import RecordStore

__all__ = ["PendingStore", "PendingTx"]

FILE = "keeper_txs.json"


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


class PendingStore(RecordStore[PendingTx]):
    def __init__(self, folder: Path | None) -> None:
        super().__init__(folder, FILE, PendingTx)

    def by_nonce(self, nonce: int) -> list[PendingTx]:
        return [r for r in self.records.values() if r.nonce == nonce]
