"""`rebal venue snapshot`: read an exchange's markets through ccxt and save the mapped ones.

Public data only: ``load_markets`` needs no credentials, so none are read. The file format
is :mod:`rebal.compiler.markets_file`; symbols resolve through
:func:`rebal.compiler.markets.resolve`, the same function the offline check uses, so the
snapshot holds exactly the markets ``rebal check --markets`` will look up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import ccxt

from rebal.compiler import ir
from rebal.compiler.markets import SymbolError, market_kind, resolve
from rebal.compiler.markets_file import document

from .client import SettingsProblem, make_client, settings_of
from .units import VenueUnits

__all__ = ["SnapshotError", "amount_unit", "market_record", "open_public", "take_snapshot"]


class SnapshotError(Exception):
    """The exchange could not be read (network, an unknown exchange, an error answer)."""


def open_public(venue: ir.Venue, environ: Mapping[str, str]) -> Any:
    """The adapter's own ccxt client (``client.make_client``: testnet switch, API root from
    ``url env NAME``) built without credentials: market data is public."""
    cfg = venue.config
    url_env = getattr(cfg, "url_env", None)
    only_url = {url_env: environ[url_env]} if url_env and url_env in environ else {}
    return make_client(settings_of(venue, only_url))


def _step(value: Any, mode: int) -> float | None:
    """A precision value as a step: ccxt gives a tick size (TICK_SIZE) or a number of decimals."""
    if value is None:
        return None
    if mode == ccxt.DECIMAL_PLACES:
        return float(10.0 ** -float(value))
    if mode == ccxt.TICK_SIZE:
        return float(value)
    return None  # SIGNIFICANT_DIGITS: no fixed step


def _iso(ms: Any) -> str | None:
    if ms is None:
        return None
    t = dt.datetime.fromtimestamp(float(ms) / 1000.0, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def amount_unit(m: Mapping[str, Any]) -> str:
    """What an order amount counts on this market, as the adapter's one conversion
    (``units.VenueUnits``) reads it: ``quote`` money for an inverse contract (Deribit's
    perpetuals and futures take USD), else ``contracts`` of ``contract_size`` base units
    (coins where the size is 1: Binance USD-M, Deribit options, spot)."""
    return "quote" if VenueUnits.of(m).inverse else "contracts"


def market_record(m: Mapping[str, Any], precision_mode: int) -> dict[str, Any]:
    """One ccxt market as a snapshot record (fields of :data:`markets_file.RECORD_FIELDS`)."""
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}
    kind = market_kind(m)
    return {
        "id": m.get("id"), "symbol": m.get("symbol"), "type": m.get("type"),
        "kind": kind, "active": m.get("active") is not False,
        "base": m.get("base"), "quote": m.get("quote"), "settle": m.get("settle"),
        "linear": m.get("linear"), "inverse": m.get("inverse"),
        "contract": bool(m.get("contract")), "contract_size": _num(m.get("contractSize")),
        "amount_unit": amount_unit(m),
        "expiry": None if kind in ("perp", "spot") else _iso(m.get("expiry")),
        "strike": _num(m.get("strike")),
        "option_type": m.get("optionType"),
        "min_amount": _num((limits.get("amount") or {}).get("min")),
        "amount_step": _step(precision.get("amount"), precision_mode),
        "tick": _step(precision.get("price"), precision_mode),
        "min_notional": _num((limits.get("cost") or {}).get("min")),
        "taker_fee": _num(m.get("taker")), "maker_fee": _num(m.get("maker")),
    }


def take_snapshot(strategy: ir.Strategy, venue: ir.Venue, environ: Mapping[str, str]) -> dict[str, Any]:
    """The snapshot document of ``venue``'s mapped symbols (symbols the exchange does not list
    are left out: `rebal check --markets` reports them with the closest names)."""
    assert isinstance(venue.config, ir.CcxtConfig)
    try:
        ex = open_public(venue, environ)
        markets: dict[str, Any] = ex.load_markets()
    except SettingsProblem as exc:
        raise SnapshotError(str(exc)) from None
    except ccxt.BaseError as exc:
        raise SnapshotError(f"cannot read {venue.config.exchange}'s markets: "
                            f"{type(exc).__name__}: {str(exc)[:300]}") from None
    records: dict[str, dict[str, Any]] = {}
    for name, symbol in sorted(venue.symbols.items()):
        try:
            if strategy.instrument(name).kind == "cash":
                continue
        except KeyError:
            continue
        try:
            rec = market_record(resolve(markets, symbol), ex.precisionMode)
            records[str(rec["id"])] = rec
        except SymbolError:
            continue
    listing = [(str(m.get("id")), str(m.get("symbol")), m.get("active") is not False)
               for m in markets.values()]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return document(venue.config.exchange, venue.name, now, list(records.values()), listing)
