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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rebal.backends.live.records import RecordStore

__all__ = ["FILE", "IntentRecord", "IntentStore"]

FILE = "solver_intents.json"


@dataclass
class IntentRecord:
    client_id: str
    uid: str          # 0x-hex, 56 bytes: digest ‖ owner ‖ validTo
    digest: str       # 0x-hex EIP-712 digest (what the vault's `placed` is keyed by)
    valid_to: int
    body: dict[str, Any] = field(default_factory=dict)  # the POST /api/v1/orders body


class IntentStore(RecordStore[IntentRecord]):
    def __init__(self, folder: Path | None) -> None:
        super().__init__(folder, FILE, IntentRecord)
