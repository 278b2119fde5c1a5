"""Venue symbols resolved against plain market dicts: the one place that does it.

A *market* is a mapping with at least ``id`` (the exchange's own id: ``ETH-PERPETUAL``,
``ETHUSDT``) and ``symbol`` (the ccxt unified symbol: ``ETH/USD:ETH``, ``ETH/USDT:USDT``).
The values of ccxt's ``exchange.load_markets()`` qualify, and so do the records of a
``rebal venue snapshot`` file (``rebal check --markets``). This module imports no ccxt: the
offline check (compiler side) and the ccxt adapter (``backends/ccxt``) both resolve through
:func:`resolve`, so a symbol means the same market in CI and on deploy.

Resolution, in order:

1. a market whose unified ``symbol`` equals the text exactly;
2. a market whose exchange ``id`` equals the text exactly; when several markets share that
   id (one exchange listing a spot and a swap market under ``ETHUSDT``), the text is
   ambiguous and :class:`AmbiguousSymbol` names the unified symbols to write instead;
3. otherwise :class:`UnknownSymbol`, naming the closest ids and unified symbols.

Matching is exact (case included): a symbol one character off trades a different
instrument, so a near miss is an error that names the candidate, never a silent guess.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AmbiguousSymbol",
    "Market",
    "SymbolError",
    "UnknownSymbol",
    "closest_symbols",
    "market_kind",
    "resolve",
]

Market = Mapping[str, Any]
#: Markets as ccxt keeps them (unified symbol -> market) or any iterable of markets.
Markets = Mapping[str, Market] | Iterable[Market]


class SymbolError(LookupError):
    """A venue symbol that does not name exactly one market."""

    def __init__(self, symbol: str, message: str, candidates: tuple[str, ...]) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.candidates = candidates


class UnknownSymbol(SymbolError):
    """No market has this id or unified symbol; ``candidates`` are the closest names."""


class AmbiguousSymbol(SymbolError):
    """Several markets share this exchange id; ``candidates`` are their unified symbols."""


def _values(markets: Markets) -> list[Market]:
    if isinstance(markets, Mapping):
        return list(markets.values())
    return list(markets)


def resolve(markets: Markets, symbol: str) -> Market:
    """The one market ``symbol`` names (exchange id or ccxt unified symbol).

    Raises :class:`UnknownSymbol` (with the closest names) or :class:`AmbiguousSymbol`.
    """
    values = _values(markets)
    for m in values:
        if m.get("symbol") == symbol:
            return m
    by_id = [m for m in values if m.get("id") == symbol]
    if len(by_id) == 1:
        return by_id[0]
    if by_id:
        unified = tuple(sorted(str(m.get("symbol")) for m in by_id))
        raise AmbiguousSymbol(
            symbol, f"`{symbol}` is the id of {len(by_id)} markets: "
            + ", ".join(f"`{u}`" for u in unified) + "; write the unified symbol", unified)
    close = closest_symbols(values, symbol)
    hint = ("; closest: " + ", ".join(f"`{c}`" for c in close)) if close else ""
    raise UnknownSymbol(symbol, f"the exchange lists no market `{symbol}`{hint}", close)


def closest_symbols(markets: Markets, symbol: str, n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` ids or unified symbols nearest to ``symbol`` (case-insensitive), best first.

    A name is offered in the form the text was written in: an id for an id-like text, a
    unified symbol for a text with ``/``.
    """
    values = _values(markets)
    key = "symbol" if "/" in symbol else "id"
    names: dict[str, str] = {}
    for m in values:
        for k in (key, "symbol" if key == "id" else "id"):
            name = m.get(k)
            if isinstance(name, str) and name:
                names.setdefault(name.upper(), name)
                break
    found = difflib.get_close_matches(symbol.upper(), list(names), n=n, cutoff=0.6)
    return tuple(names[f] for f in found)


def market_kind(market: Market) -> str:
    """The spec's instrument kind a market is: ``spot``, ``perp``, ``future`` or ``option``."""
    kind = str(market.get("type") or "")
    if kind == "swap" or market.get("swap"):
        return "perp"
    if kind in ("future", "option", "spot"):
        return kind
    for flag, name in (("option", "option"), ("future", "future"), ("spot", "spot")):
        if market.get(flag):
            return name
    return kind or "unknown"
