"""Symbol resolution (compiler/markets.py): exchange ids and ccxt unified symbols both name a
market; a near miss names the closest; an id shared by two markets is refused."""

from __future__ import annotations

import pytest

from rebal.compiler.markets import (
    AmbiguousSymbol,
    UnknownSymbol,
    closest_symbols,
    market_kind,
    resolve,
)

DERIBIT = {
    "ETH/USD:ETH": {"id": "ETH-PERPETUAL", "symbol": "ETH/USD:ETH", "type": "swap", "swap": True},
    "BTC/USD:BTC": {"id": "BTC-PERPETUAL", "symbol": "BTC/USD:BTC", "type": "swap", "swap": True},
    "ETH/USD:ETH-261225": {"id": "ETH-25DEC26", "symbol": "ETH/USD:ETH-261225", "type": "future",
                           "future": True},
    "ETH/USD:ETH-261225-3000-C": {"id": "ETH-25DEC26-3000-C", "symbol": "ETH/USD:ETH-261225-3000-C",
                                  "type": "option", "option": True},
    "ETH/USD:ETH-261225-3000-P": {"id": "ETH-25DEC26-3000-P", "symbol": "ETH/USD:ETH-261225-3000-P",
                                  "type": "option", "option": True},
}


def test_exchange_id_and_unified_symbol_name_the_same_market() -> None:
    assert resolve(DERIBIT, "ETH-PERPETUAL") is resolve(DERIBIT, "ETH/USD:ETH")
    assert resolve(DERIBIT, "ETH-25DEC26-3000-P")["symbol"] == "ETH/USD:ETH-261225-3000-P"
    # an iterable of records (a snapshot file's list) resolves the same way
    assert resolve(list(DERIBIT.values()), "ETH/USD:ETH-261225")["id"] == "ETH-25DEC26"


def test_unknown_symbol_names_the_closest_in_the_form_written() -> None:
    with pytest.raises(UnknownSymbol) as e:
        resolve(DERIBIT, "ETH-PERPETUALS")
    assert e.value.candidates[0] == "ETH-PERPETUAL"
    assert "closest: `ETH-PERPETUAL`" in str(e.value)
    with pytest.raises(UnknownSymbol) as e:
        resolve(DERIBIT, "ETH/USD:ETH-261225-3100-C")
    assert e.value.candidates[0] == "ETH/USD:ETH-261225-3000-C"
    assert closest_symbols(DERIBIT, "SOL_USDC-PERPETUAL-XYZ-QQQ") == ()


def test_matching_is_exact_a_case_slip_is_an_error_naming_the_market() -> None:
    with pytest.raises(UnknownSymbol) as e:
        resolve(DERIBIT, "eth-perpetual")
    assert e.value.candidates[0] == "ETH-PERPETUAL"


def test_an_id_shared_by_two_markets_is_ambiguous() -> None:
    markets = {"ETH/USDT": {"id": "ETHUSDT", "symbol": "ETH/USDT", "type": "spot", "spot": True},
               "ETH/USDT:USDT": {"id": "ETHUSDT", "symbol": "ETH/USDT:USDT", "type": "swap"}}
    with pytest.raises(AmbiguousSymbol) as e:
        resolve(markets, "ETHUSDT")
    assert e.value.candidates == ("ETH/USDT", "ETH/USDT:USDT")
    assert resolve(markets, "ETH/USDT:USDT")["type"] == "swap"


def test_market_kind_maps_ccxt_types_to_instrument_kinds() -> None:
    kinds = {m["id"]: market_kind(m) for m in DERIBIT.values()}
    assert kinds == {"ETH-PERPETUAL": "perp", "BTC-PERPETUAL": "perp", "ETH-25DEC26": "future",
                     "ETH-25DEC26-3000-C": "option", "ETH-25DEC26-3000-P": "option"}
    assert market_kind({"id": "ETHUSDT", "symbol": "ETH/USDT", "type": "spot"}) == "spot"
