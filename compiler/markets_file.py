"""The venue snapshot file (`rebal venue snapshot -o markets.json`): its format, in one place.

Written by ``rebal venue snapshot`` (through ``backends/ccxt/snapshot.py``) and read by
``rebal check --markets`` with no network and no ccxt. Canonical JSON: keys sorted, two-space
indent, UTF-8, one trailing newline, markets sorted by exchange id, so taking a snapshot twice
of an unchanged exchange differs only in ``fetched_at``::

    {
      "markets_version": 1,
      "exchange": "deribit",          # ccxt exchange id
      "venue": "deribit",             # the spec's venue it was taken for
      "fetched_at": "2026-12-01T21:30:00Z",
      "markets": [ {record}, ... ],   # full details of every mapped symbol found
      "listing": [ ["ETH-PERPETUAL", "ETH/USD:ETH", true], ... ]   # every market: id, unified, active
    }

A record (every field always present; ``null`` where the exchange gives nothing):
``id``, ``symbol`` (ccxt unified), ``type`` (ccxt: spot, swap, future, option), ``kind`` (the
spec's: spot, perp, future, option), ``active``, ``base``, ``quote``, ``settle``, ``linear``,
``inverse``, ``contract``, ``contract_size``, ``amount_unit`` (what the exchange's order
amount counts, as ``backends/ccxt/units.py`` reads it: ``quote`` money for an inverse
contract, else ``contracts`` of ``contract_size`` base units), ``expiry`` (ISO 8601 UTC; null for perpetuals), ``strike``, ``option_type``, ``min_amount`` and ``amount_step``
(in the exchange's amount unit: contracts or base units), ``tick`` (price step),
``min_notional`` (in the quote currency), ``taker_fee`` and ``maker_fee`` (fractions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebal.dsl.diagnostics import Diagnostic, Span, make

from .files import atomic_write

MARKETS_VERSION = 1
RECORD_FIELDS = (
    "id", "symbol", "type", "kind", "active", "base", "quote", "settle", "linear", "inverse",
    "contract", "contract_size", "amount_unit", "expiry", "strike", "option_type", "min_amount", "amount_step",
    "tick", "min_notional", "taker_fee", "maker_fee",
)


@dataclass(frozen=True)
class Snapshot:
    """One loaded snapshot file."""

    path: str
    exchange: str
    venue: str
    fetched_at: str
    markets: tuple[Mapping[str, Any], ...]
    listing: tuple[Mapping[str, Any], ...]  # {"id", "symbol", "active"} of every market


def document(exchange: str, venue: str, fetched_at: str, records: list[dict[str, Any]],
             listing: list[tuple[str, str, bool]]) -> dict[str, Any]:
    """The snapshot as a JSON-ready dict (records completed and sorted)."""
    full = [{k: r.get(k) for k in RECORD_FIELDS} for r in records]
    return {
        "markets_version": MARKETS_VERSION,
        "exchange": exchange,
        "venue": venue,
        "fetched_at": fetched_at,
        "markets": sorted(full, key=lambda r: (str(r["id"]), str(r["symbol"]))),
        "listing": sorted([list(x) for x in listing], key=lambda x: (str(x[0]), str(x[1]))),
    }


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(path: str | Path, doc: Mapping[str, Any]) -> None:
    atomic_write(Path(path), dumps(doc))


def _bad(path: str, why: str) -> Diagnostic:
    return make("E810", f"{path}: {why}", Span.point(path, 1, 1),
                "take it again with `rebal venue snapshot SPEC --venue V -o FILE`")


def load(path: str | Path) -> tuple[Snapshot | None, list[Diagnostic]]:
    """Read and validate a snapshot; every problem is an E810 at the file."""
    name = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [_bad(name, f"cannot read the file: {exc.strerror or exc}")]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [_bad(name, f"not a JSON file ({exc})")]
    if not isinstance(data, dict) or "markets_version" not in data:
        return None, [_bad(name, "not a venue snapshot (no `markets_version`)")]
    if data["markets_version"] != MARKETS_VERSION:
        return None, [_bad(name, f"snapshot version {data['markets_version']!r}; this rebal "
                                 f"reads version {MARKETS_VERSION}")]
    try:
        markets = tuple(_record(r) for r in data["markets"])
        listing = tuple({"id": str(i), "symbol": str(s), "active": bool(a)}
                        for i, s, a in data["listing"])
        snap = Snapshot(name, str(data["exchange"]), str(data["venue"]),
                        str(data["fetched_at"]), markets, listing)
    except (KeyError, TypeError, ValueError) as exc:
        return None, [_bad(name, f"a field is missing or malformed ({type(exc).__name__}: {exc})")]
    return snap, []


def _record(r: Any) -> dict[str, Any]:
    if not isinstance(r, dict):
        raise TypeError("a market record is not an object")
    missing = [k for k in RECORD_FIELDS if k not in r]
    if missing:
        raise KeyError(f"market {r.get('id')!r} lacks {', '.join(missing)}")
    return {k: r[k] for k in RECORD_FIELDS}
