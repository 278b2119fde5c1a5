"""`rebal check --markets FILE`: a strategy's venue symbols against a saved venue snapshot.

Offline and without ccxt: the snapshot (:mod:`markets_file`) holds the exchange's metadata
for the mapped symbols and a listing of every market. For each venue the snapshot was taken
for (same venue name; the exchange id must agree), each mapped instrument (cash holdings are
balances, not markets, and are skipped) is checked:

* E811 the symbol names no market (exchange id or ccxt unified symbol, resolved by
  :func:`markets.resolve`, the adapter's own resolution), with the closest names;
* E812 the market is not active;
* E813 its kind, underlying, settle currency, strike (and strike currency), call/put or expiry
  date differs from the instrument the spec declares;
* E814 `min trade` or a `split` child (of the costs block or of any mode) is below the venue's
  minimum amount or minimum notional, for an owned (traded) instrument;
* E815 a `split` child is not a whole number of the venue's amount steps;
* E816 the market's taker fee (orders are limit/IOC: they take) is above `max fee`;
* W910 a size needs a price to be compared (an inverse contract sized in the coin) and no sim
  venue of the spec states one.

Every finding is at the venue's symbol line; the cost clause it concerns is a label.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rebal.dsl.diagnostics import Diagnostic, Label, Span, make

from . import ir
from .markets import SymbolError, resolve
from .markets_file import Snapshot
from .rules import facts
from .units import KNOWN_CURRENCIES
from .words import num

Record = Mapping[str, Any]
_KIND_WORDS = {"spot": "a spot market", "perp": "a perpetual", "future": "a dated future",
               "option": "an option"}


def check_markets(s: ir.Strategy, spans: Mapping[str, Span],
                  snapshots: Sequence[Snapshot]) -> list[Diagnostic]:
    """Every finding for one compiled strategy against the snapshots that fit its venues."""
    out: list[Diagnostic] = []
    for snap in snapshots:
        for v in s.venues:
            if v.name != snap.venue:
                continue
            out.extend(_check_venue(s, v, spans, snap))
    return out


def unmatched(snapshots: Sequence[Snapshot], strategies: Sequence[ir.Strategy]) -> list[Diagnostic]:
    """E810 for each snapshot that fits no venue of the strategies checked: it checked nothing."""
    return [make("E810", f"{snap.path}: no strategy checked has a venue `{snap.venue}`, the "
                 "venue this snapshot was taken for", Span.point(snap.path, 1, 1),
                 "pass the spec the snapshot was taken from, or take one for this spec's venue")
            for snap in snapshots
            if not any(v.name == snap.venue for s in strategies for v in s.venues)]


def _span(spans: Mapping[str, Span], *keys: str) -> Span:
    for k in keys:
        if k in spans:
            return spans[k]
    return spans["strategy"]


def _check_venue(s: ir.Strategy, v: ir.Venue, spans: Mapping[str, Span],
                 snap: Snapshot) -> Iterator[Diagnostic]:
    vkey = f"venues[{v.name}]"
    cfg = v.config
    if not isinstance(cfg, ir.CcxtConfig):
        yield make("E810", f"{snap.path} is a ccxt snapshot, but venue `{v.name}` runs on "
                   f"the {v.backend} backend", _span(spans, vkey),
                   "pass `--markets` files only for `via ccxt` venues")
        return
    if cfg.exchange != snap.exchange:
        yield make("E810", f"{snap.path} was taken from exchange `{snap.exchange}`, but venue "
                   f"`{v.name}` trades on `{cfg.exchange}`", _span(spans, vkey),
                   f"take the snapshot again: `rebal venue snapshot SPEC --venue {v.name}`")
        return
    owned = set(s.owns)
    for name, symbol in v.symbols.items():
        try:
            inst = s.instrument(name)
        except KeyError:
            continue
        if inst.kind == "cash":
            continue
        at = _span(spans, f"{vkey}.symbols[{name}]", vkey)
        rec = _find(snap, symbol, at)
        if isinstance(rec, Diagnostic):
            yield rec
            continue
        if not rec["active"]:
            yield make("E812", f"`{symbol}` is listed by {snap.exchange} but not active "
                       f"(snapshot of {snap.fetched_at})", at,
                       "it may be expired, delisted or suspended: map another market, or take "
                       "a fresh snapshot if it trades again")
        yield from _mismatches(inst, symbol, rec, at)
        if name in owned:
            yield from _sizes(s, inst, symbol, rec, at, spans)
            yield from _fees(s, symbol, rec, at, spans)


def _find(snap: Snapshot, symbol: str, at: Span) -> Record | Diagnostic:
    try:
        return resolve(snap.markets, symbol)
    except SymbolError:
        pass
    try:
        listed = resolve(snap.listing, symbol)
    except SymbolError as exc:
        return make("E811", str(exc).replace("the exchange", snap.exchange, 1), at,
                    "write the exchange's id (\"ETH-PERPETUAL\") or the ccxt unified symbol "
                    "(\"ETH/USD:ETH\") exactly; matching is case-sensitive")
    return make("E810", f"the snapshot lists `{listed['id']}` but holds no details of it",
                at, "the spec changed since the snapshot: take it again with "
                "`rebal venue snapshot SPEC --venue V -o FILE`")


# ------------------------------------------------------------------ the instrument itself


def _expiry_date(rec: Record) -> dt.date | None:
    e = rec.get("expiry")
    if not e:
        return None
    return dt.datetime.fromisoformat(str(e).replace("Z", "+00:00")).astimezone(dt.UTC).date()


def _mismatches(inst: ir.Instrument, symbol: str, rec: Record, at: Span) -> Iterator[Diagnostic]:
    n = inst.name
    kind = str(rec["kind"])
    if kind != inst.kind:
        yield make("E813", f"{n} is declared {_KIND_WORDS.get(inst.kind, inst.kind)}, but "
                   f"`{symbol}` is {_KIND_WORDS.get(kind, kind)}", at,
                   f"map {n} to {_KIND_WORDS.get(inst.kind, inst.kind)} of the exchange, or "
                   "declare the instrument as what the market is")
        return
    if rec["base"] != inst.underlying:
        yield make("E813", f"{n} is on {inst.underlying}, but `{symbol}` is on {rec['base']}", at,
                   f"map {n} to a market on {inst.underlying}")
    if kind != "spot" and rec["settle"] and rec["settle"] != inst.settle:
        s = rec["settle"]
        how = (f"premium and settlement in {s}" if kind == "option" else
               ("an inverse contract, " if rec.get("inverse") else "") + f"P&L and margin in {s}")
        yield make("E813", f"{n} settles in {inst.settle}, but `{symbol}` settles in {s} "
                   f"({how})", at,
                   f"declare `settle {rec['settle']}` on {n}, or map it to a market settled "
                   f"in {inst.settle}")
    if kind == "option":
        strike = rec.get("strike")
        if strike is not None and inst.strike is not None and Decimal(str(strike)) != inst.strike:
            yield make("E813", f"{n} has strike {num(inst.strike)}, but `{symbol}` has strike "
                       f"{num(Decimal(str(strike)))}", at, f"map {n} to the market with its strike")
        if inst.strike_currency and rec["quote"] and rec["quote"] != inst.strike_currency:
            yield make("E813", f"{n}'s strike is in {inst.strike_currency}, but `{symbol}` "
                       f"quotes its strike in {rec['quote']}", at,
                       f"write the strike in {rec['quote']} (`strike ... {rec['quote']}`)")
        if rec.get("option_type") and rec["option_type"] != inst.option_type:
            yield make("E813", f"{n} is a {inst.option_type}, but `{symbol}` is a "
                       f"{rec['option_type']}", at, f"map {n} to the {inst.option_type}")
    if kind in ("future", "option"):
        exp = _expiry_date(rec)
        if exp is not None and inst.expiry is not None and exp != inst.expiry:
            yield make("E813", f"{n} expires on {inst.expiry}, but `{symbol}` expires on {exp}",
                       at, f"map {n} to the market expiring on {inst.expiry}, or correct the date")


# ------------------------------------------------------------------ sizes and fees


def _cost_sets(s: ir.Strategy) -> Iterator[tuple[str, ir.Costs]]:
    yield "costs", s.costs
    for m in s.modes:
        yield f"modes[{m.name}].costs", m.costs


def _price(s: ir.Strategy, asset: str, ccy: str) -> float | None:
    """The spec's own price of ``asset`` in ``ccy`` (a par currency reads at par)."""
    for c in (ccy, *(k for k in KNOWN_CURRENCIES if ccy in KNOWN_CURRENCIES and k != ccy)):
        p = facts.price(s, asset, c)
        if p is not None:
            return p
    return None


def _same_money(a: str, b: str) -> bool:
    return a == b or (a in KNOWN_CURRENCIES and b in KNOWN_CURRENCIES)


def venue_amount(s: ir.Strategy, inst: ir.Instrument, rec: Record,
                 amt: ir.Amount) -> tuple[float | None, bool]:
    """``amt`` in the exchange's order-amount unit (``amount_unit``), and whether that needed
    a price; None when a price was needed and the spec states none."""
    unit = str(rec.get("amount_unit") or "base")
    size = float(rec.get("contract_size") or 1.0) if unit == "contracts" else 1.0
    if unit == "quote" or (unit == "contracts" and rec.get("inverse")):
        value = _notional(s, inst, rec, amt)
        return (None if value is None else value / size), not _same_money(amt.asset, str(rec["quote"]))
    if amt.asset == inst.underlying:
        return float(amt.value) / size, False
    p = _price(s, inst.underlying, amt.asset)
    return (None if p is None else float(amt.value) / p / size), True


def _notional(s: ir.Strategy, inst: ir.Instrument, rec: Record, amt: ir.Amount) -> float | None:
    quote = str(rec.get("quote") or "")
    if _same_money(amt.asset, quote):
        return float(amt.value)
    p = _price(s, inst.underlying, quote) if amt.asset == inst.underlying else None
    return None if p is None else float(amt.value) * p


def _sizes(s: ir.Strategy, inst: ir.Instrument, symbol: str, rec: Record, at: Span,
           spans: Mapping[str, Span]) -> Iterator[Diagnostic]:
    unit = {"contracts": "contracts", "quote": str(rec["quote"])}.get(
        str(rec.get("amount_unit")), str(rec["base"]))
    lo = float(rec.get("min_amount") or 0.0)
    step = float(rec.get("amount_step") or 0.0)
    min_notional = float(rec.get("min_notional") or 0.0)
    for prefix, costs in _cost_sets(s):
        sized = [("min trade", costs.min_trade, f"{prefix}.min_trade")]
        if costs.split is not None:
            sized.append(("split", costs.split.size, f"{prefix}.split"))
        for clause, amt, key in sized:
            if amt is None:
                continue
            label = (Label(spans[key], f"`{clause}` here"),) if key in spans else ()
            words = f"`{clause} {num(amt.value)} {amt.asset}`"
            x, priced = venue_amount(s, inst, rec, amt)
            if x is None:
                yield make("W910", f"{words} cannot be compared with `{symbol}`'s minimum order "
                           f"of {lo:g} {unit}: no price of {inst.underlying} in {rec['quote']}",
                           at, f"give a sim venue a price (`{inst.underlying} spot ... "
                           f"{rec['quote']}`) or write the size in {rec['quote']}", labels=label)
                continue
            if x < lo * (1 - 1e-9):
                at_px = " at the spec's sim price" if priced else ""
                yield make("E814", f"{words} is {x:g} {unit} of `{symbol}`{at_px}, below its "
                           f"minimum order of {lo:g} {unit}", at,
                           "orders of that size would be refused on deploy: raise "
                           f"`{clause}` to at least the venue's minimum", labels=label)
                continue
            value = _notional(s, inst, rec, amt)
            if min_notional > 0 and value is not None and value < min_notional * (1 - 1e-9):
                yield make("E814", f"{words} is worth {value:g} {rec['quote']}, below "
                           f"`{symbol}`'s minimum order value of {min_notional:g} {rec['quote']}",
                           at, f"raise `{clause}` so each order is worth at least "
                           f"{min_notional:g} {rec['quote']}", labels=label)
                continue
            if clause == "split" and step > 0 and not priced:
                k = x / step
                if abs(k - round(k)) > 1e-9 * max(1.0, k):
                    down = math.floor(k + 1e-9) * step
                    yield make("E815", f"{words} is {x:g} {unit} of `{symbol}`, not a whole "
                               f"number of its {step:g}-{unit} step: each child would be rounded "
                               f"to {down:g}", at, "make the child size a multiple of the step",
                               labels=label)


def _fees(s: ir.Strategy, symbol: str, rec: Record, at: Span,
          spans: Mapping[str, Span]) -> Iterator[Diagnostic]:
    fee = rec.get("taker_fee")
    if fee is None:
        return
    taker = Decimal(str(fee))
    for prefix, costs in _cost_sets(s):
        if costs.max_fee is None or taker <= costs.max_fee:
            continue
        key = f"{prefix}.max_fee"
        label = (Label(spans[key], "`max fee` here"),) if key in spans else ()
        yield make("E816", f"`{symbol}` charges a taker fee of {num(taker * 10000)} bps, above "
                   f"`max fee {num(costs.max_fee * 10000)} bps`", at,
                   "orders are limit/IOC and pay the taker fee: raise `max fee`, or map a "
                   "cheaper market", labels=label)
