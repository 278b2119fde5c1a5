"""`rebal venue snapshot SPEC --venue V -o markets.json`: save an exchange's market metadata
for the venue's mapped symbols, for `rebal check --markets` (offline, in CI).

Light at import: ccxt is loaded only inside the handler, through ``backends/ccxt``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

COMMANDS = ("venue",)


def register(sub: Any) -> None:
    p = sub.add_parser("venue", help="venue metadata for offline checks (`venue snapshot`)")
    vsub = p.add_subparsers(dest="venue_command", metavar="ACTION", required=True)
    s = vsub.add_parser("snapshot", help="save the exchange's metadata of the mapped symbols "
                        "(public data: no credentials) for `rebal check --markets`")
    s.add_argument("spec")
    s.add_argument("--venue", required=True, help="a `via ccxt` venue of the spec")
    s.add_argument("-o", "--output", required=True, help="the snapshot file to write")
    s.set_defaults(handler=_snapshot)


def _snapshot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from rebal.cli import _load_one
    from rebal.compiler import ir

    strategy = _load_one(args.spec, err)
    if not isinstance(strategy, ir.Strategy):
        return 1
    try:
        venue = strategy.venue(args.venue)
    except KeyError:
        names = ", ".join(v.name for v in strategy.venues) or "none"
        print(f"rebal: {args.spec} has no venue `{args.venue}` (venues: {names})", file=err)
        return 1
    if not isinstance(venue.config, ir.CcxtConfig):
        print(f"rebal: venue `{venue.name}` runs on the {venue.backend} backend; snapshots are "
              "of `via ccxt` venues", file=err)
        return 1
    from rebal.backends.ccxt.snapshot import SnapshotError, take_snapshot
    from rebal.compiler import markets_file

    try:
        doc = take_snapshot(strategy, venue, os.environ)
    except SnapshotError as exc:
        print(f"rebal: {exc}", file=err)
        return 1
    markets_file.write(args.output, doc)
    mapped = sum(1 for n in venue.symbols if strategy.instrument(n).kind != "cash")
    found = len(doc["markets"])
    print(f"wrote {args.output}: {found} of {mapped} mapped markets of {doc['exchange']} "
          f"({len(doc['listing'])} listed); check offline with `rebal check {args.spec} "
          f"--markets {args.output}`", file=out)
    return 0
