"""The order's appData: a CoW app-data JSON document carrying rebal's client id.

CoW orders commit to a 32-byte ``appData``: the keccak of a JSON document (the app-data
schema, ``version`` 1.1.0) that the order book stores next to the order. rebal writes its
client id in the schema's ``utm.utmContent`` field (``utmSource`` is ``rebal``), so an intent
is findable by client id on any order book, and the same client id always gives the same
appData: an intent re-derived after a restart hashes to the same value.
"""

from __future__ import annotations

import json
from typing import Any

from eth_utils import keccak

__all__ = ["APP_CODE", "app_data_doc", "app_data_hash", "client_id_of"]

APP_CODE = "rebal"
SCHEMA_VERSION = "1.1.0"


def app_data_doc(client_id: str) -> str:
    """The canonical JSON document (sorted keys, no spaces) for ``client_id``."""
    doc: dict[str, Any] = {
        "appCode": APP_CODE,
        "metadata": {"utm": {"utmContent": client_id, "utmSource": APP_CODE}},
        "version": SCHEMA_VERSION,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def app_data_hash(doc: str) -> bytes:
    """The 32 bytes an order signs: keccak of the document's UTF-8 bytes."""
    return keccak(doc.encode())


def client_id_of(doc: str) -> str | None:
    """The rebal client id a document carries, or None (not rebal's, or not JSON)."""
    try:
        data = json.loads(doc)
        utm = data["metadata"]["utm"]
        if utm.get("utmSource") != APP_CODE:
            return None
        cid = utm.get("utmContent")
        return cid if isinstance(cid, str) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
