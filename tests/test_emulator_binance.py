"""The Binance USD-M emulator, driven by real ccxt (sync binanceusdm) over loopback: filters,
signatures, error codes, position modes, reduce-only, client ids, funding, klines, faults."""

from __future__ import annotations

from collections.abc import Iterator

import ccxt
import pytest

from rebal.backends.ccxt.client import point_at
from rebal.emulators import Emulator

KEY, SECRET = "bin-emu-key-44", "bin-emu-secret-99aa"
SYM = "ETH/USDT:USDT"


def client(emu: Emulator, secret: str = SECRET, timeout_ms: int = 3000) -> ccxt.binanceusdm:
    ex = ccxt.binanceusdm({"apiKey": KEY, "secret": secret, "enableRateLimit": False,
                           "timeout": timeout_ms})
    point_at(ex, emu.url)
    return ex


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("binanceusdm", api_key=KEY, secret=SECRET, speed=0,
                  prices={"ETH": 3000.0}) as e:
        yield e


@pytest.fixture
def ex(emu: Emulator) -> ccxt.binanceusdm:
    ex = client(emu)
    ex.load_markets()
    return ex


def test_exchange_info_filters_become_ccxt_limits(ex: ccxt.binanceusdm) -> None:
    m = ex.market(SYM)
    assert m["id"] == "ETHUSDT" and m["linear"] and m["swap"] and m["settle"] == "USDT"
    assert m["precision"]["amount"] == 0.001 and m["precision"]["price"] == 0.01
    assert m["limits"]["cost"]["min"] == 20.0 and m["limits"]["amount"]["min"] == 0.001
    assert ex.market("BTC/USDT:USDT")["limits"]["cost"]["min"] == 100.0


def test_signature_key_and_timestamp_are_checked(emu: Emulator) -> None:
    with pytest.raises(ccxt.AuthenticationError):  # -1022 bad signature
        client(emu, secret="wrong").fetch_balance()
    other = ccxt.binanceusdm({"apiKey": "unknown", "secret": SECRET, "enableRateLimit": False})
    point_at(other, emu.url)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        other.fetch_balance()
    late = client(emu)
    late.options["recvWindow"] = 5000
    late.nonce = lambda: late.milliseconds() - 20_000  # a clock 20 s behind the venue's
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        late.fetch_balance()


def test_filters_and_margin_are_enforced_with_real_codes(emu: Emulator,
                                                         ex: ccxt.binanceusdm) -> None:
    def raw(qty: str, price: str) -> None:
        ex.fapiPrivatePostOrder({"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT",
                                 "quantity": qty, "price": price, "timeInForce": "GTC"})

    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        raw("0.0015", "3000")
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        raw("1", "3000.005")
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        raw("0.001", "3000")
    emu.set_balance("USDT", 10.0)
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        ex.create_order(SYM, "market", "buy", 1.0)
    assert emu.orders() == []


def test_loopback_error_codes_need_the_url_table_merged(emu: Emulator) -> None:
    plain = ccxt.binanceusdm({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
    plain.urls["api"] = {k: emu.url + "/" + v.split("/", 3)[3]
                         for k, v in plain.urls["api"].items()}
    plain.load_markets()
    emu.set_balance("USDT", 10.0)
    with pytest.raises(ccxt.ExchangeError) as caught:  # ccxt reads the host for the table
        plain.create_order(SYM, "market", "buy", 1.0)
    assert type(caught.value) is ccxt.ExchangeError
    fixed = client(emu)
    fixed.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        fixed.create_order(SYM, "market", "buy", 1.0)


def test_order_round_trip_positions_balance_and_client_ids(emu: Emulator,
                                                           ex: ccxt.binanceusdm) -> None:
    o = ex.create_order(SYM, "limit", "buy", 1.5, 3010, {"newClientOrderId": "c-1",
                                                         "timeInForce": "IOC"})
    assert o["status"] == "closed" and o["filled"] == 1.5 and o["clientOrderId"] == "c-1"
    fill = o["average"]
    pos = ex.fetch_positions()
    assert [(p["symbol"], p["contracts"], p["side"]) for p in pos] == [(SYM, 1.5, "long")]
    bal = ex.fetch_balance()["USDT"]["total"]
    assert bal == pytest.approx(100_000 - 0.0005 * 1.5 * fill + 1.5 * (3000 - fill))
    assert ex.fetch_order(None, SYM, {"origClientOrderId": "c-1"})["filled"] == 1.5
    with pytest.raises(ccxt.OrderNotFound):  # -2013
        ex.fetch_order(None, SYM, {"origClientOrderId": "never"})
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):  # an id the venue has is refused
        ex.create_order(SYM, "market", "buy", 0.1, None, {"newClientOrderId": "c-1"})


def test_ioc_remainder_expires_and_gtc_rests(emu: Emulator, ex: ccxt.binanceusdm) -> None:
    emu.add_fault("partial", fraction=0.5)
    o = ex.create_order(SYM, "limit", "sell", 1.0, 2990, {"newClientOrderId": "p-1",
                                                          "timeInForce": "IOC"})
    assert o["status"] == "expired" and o["filled"] == 0.5
    rest = ex.create_order(SYM, "limit", "buy", 0.5, 2900, {"newClientOrderId": "g-1"})
    assert rest["status"] == "open"
    assert [x["clientOrderId"] for x in ex.fetch_open_orders(SYM)] == ["g-1"]
    done = ex.cancel_order(rest["id"], SYM)
    assert done["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):  # -2011 on an order the venue does not have
        ex.cancel_order("99999", SYM)


def test_reduce_only_and_hedge_mode(emu: Emulator, ex: ccxt.binanceusdm) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        ex.create_order(SYM, "market", "sell", 0.1, None, {"reduceOnly": True})
    ex.create_order(SYM, "market", "buy", 0.2)
    closed = ex.create_order(SYM, "market", "sell", 0.5, None, {"reduceOnly": True})
    assert closed["filled"] == pytest.approx(0.2)  # never beyond the position
    ex.set_position_mode(True)
    assert ex.fetch_position_mode(SYM)["hedged"] is True
    with pytest.raises(ccxt.OperationRejected, match="-4061"):
        ex.create_order(SYM, "market", "buy", 0.1)  # hedge mode needs positionSide
    ex.create_order(SYM, "market", "buy", 0.3, None, {"positionSide": "LONG"})
    ex.create_order(SYM, "market", "sell", 0.1, None, {"positionSide": "SHORT"})
    sides = sorted((p["side"], p["contracts"]) for p in ex.fetch_positions())
    assert sides == [("long", 0.3), ("short", 0.1)]
    with pytest.raises(ccxt.BadRequest, match="-1106"):
        ex.create_order(SYM, "market", "sell", 0.1, None, {"positionSide": "LONG",
                                                           "reduceOnly": True})


def test_funding_index_and_klines(emu: Emulator, ex: ccxt.binanceusdm) -> None:
    fr = ex.fetch_funding_rate(SYM)
    assert fr["fundingRate"] == pytest.approx(0.10 * 8 / (365 * 24), rel=1e-4)  # 8 decimals
    assert fr["indexPrice"] == 3000.0 and fr["markPrice"] == 3000.0
    ex.create_order(SYM, "market", "buy", 10.0)
    before = ex.fetch_balance()["USDT"]["total"]
    emu.advance(365 * 24 * 3600 / 100)  # a hundredth of a year: longs pay 0.1% of notional
    after = ex.fetch_balance()["USDT"]["total"]
    assert before - after == pytest.approx(0.001 * 10 * 3000.0, rel=1e-6)
    bars = ex.fetch_ohlcv(SYM, "1m", limit=30)
    assert len(bars) == 30 and bars[-1][4] == pytest.approx(3000.0)


def test_faults_lost_429_and_5xx(emu: Emulator) -> None:
    ex = client(emu, timeout_ms=500)
    ex.load_markets()
    emu.add_fault("lost", on="order")
    with pytest.raises(ccxt.NetworkError):
        ex.create_order(SYM, "market", "buy", 0.1, None, {"newClientOrderId": "l-1"})
    assert [o["client_id"] for o in emu.orders()] == ["l-1"]
    assert ex.fetch_order(None, SYM, {"origClientOrderId": "l-1"})["status"] == "closed"
    emu.add_fault("ratelimit", on="private")
    with pytest.raises(ccxt.DDoSProtection):
        ex.fetch_balance()
    emu.add_fault("error5xx", on="public", status=503)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_funding_rate(SYM)
