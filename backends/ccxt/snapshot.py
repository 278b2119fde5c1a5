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
from urllib.parse import urlsplit

import ccxt

from rebal.compiler import ir
from rebal.compiler.markets import SymbolError, market_kind, resolve
from rebal.compiler.markets_file import document

__all__ = ["SnapshotError", "amount_unit", "api_root_override", "market_record", "open_public", "take_snapshot"]


class SnapshotError(Exception):
    """The exchange could not be read (network, an unknown exchange, an error answer)."""


def api_root_override(api: Any, root: str) -> Any:
    """ccxt's ``urls['api']`` with every URL's scheme and host replaced by ``root`` (paths
    kept): ``https://fapi.binance.com/fapi/v1`` -> ``http://127.0.0.1:9000/fapi/v1``."""
    base = root.rstrip("/")
    if isinstance(api, str):
        return base + urlsplit(api).path
    if isinstance(api, Mapping):
        return {k: api_root_override(v, root) for k, v in api.items()}
    return api


def open_public(cfg: ir.CcxtConfig, url: str | None) -> Any:
    """A ccxt exchange for public calls: no credentials; testnet and API root as configured."""
    cls = getattr(ccxt, cfg.exchange, None)
    if cls is None or cfg.exchange not in ccxt.exchanges:
        raise ValueError(f"ccxt has no exchange `{cfg.exchange}`")
    ex = cls({"enableRateLimit": False, "timeout": 10_000})
    if cfg.sandbox:
        ex.set_sandbox_mode(True)
    if url:
        ex.urls["api"] = api_root_override(ex.urls["api"], url)
    return ex


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


def amount_unit(exchange_id: str, m: Mapping[str, Any]) -> str:
    """What ccxt's ``amount`` counts on this market: ``base`` (units of the base coin),
    ``quote`` (quote money, e.g. USD) or ``contracts`` (of ``contractSize`` base, or quote
    for an inverse contract). ccxt says contracts for derivatives, but Deribit's API (which
    ccxt passes through) takes inverse perpetuals and futures in USD and linear contracts and
    options in the coin."""
    if not m.get("contract"):
        return "base"
    if exchange_id == "deribit":
        return "quote" if m.get("inverse") and market_kind(m) != "option" else "base"
    return "contracts"


def market_record(m: Mapping[str, Any], precision_mode: int, exchange_id: str = "") -> dict[str, Any]:
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
        "amount_unit": amount_unit(exchange_id, m),
        "expiry": None if kind in ("perp", "spot") else _iso(m.get("expiry")),
        "strike": _num(m.get("strike")),
        "option_type": m.get("optionType"),
        "min_amount": _num((limits.get("amount") or {}).get("min")),
        "amount_step": _step(precision.get("amount"), precision_mode),
        "tick": _step(precision.get("price"), precision_mode),
        "min_notional": _num((limits.get("cost") or {}).get("min")),
        "taker_fee": _num(m.get("taker")), "maker_fee": _num(m.get("maker")),
    }


def take_snapshot(strategy: ir.Strategy, venue: ir.Venue, url: str | None) -> dict[str, Any]:
    """The snapshot document of ``venue``'s mapped symbols (symbols the exchange does not list
    are left out: `rebal check --markets` reports them with the closest names)."""
    assert isinstance(venue.config, ir.CcxtConfig)
    try:
        ex = open_public(venue.config, url)
        markets: dict[str, Any] = ex.load_markets()
    except ValueError as exc:
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
            rec = market_record(resolve(markets, symbol), ex.precisionMode, venue.config.exchange)
            records[str(rec["id"])] = rec
        except SymbolError:
            continue
    listing = [(str(m.get("id")), str(m.get("symbol")), m.get("active") is not False)
               for m in markets.values()]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return document(venue.config.exchange, venue.name, now, list(records.values()), listing)
