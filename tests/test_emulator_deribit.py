"""The Deribit emulator, driven by real ccxt (sync) over loopback: markets, units, signatures,
orders, fills, positions, balances, history, faults, the control endpoint and the CLI."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import ccxt
import pytest

from rebal.backends.kernel.pricing import bs_greeks
from rebal.backends.sim.models import make_model
from rebal.emulators import VENUES, Emulator

KEY, SECRET = "emu-test-key", "emu-test-secret-0123456789"


def client(emu: Emulator, *, secret: str = SECRET, timeout_ms: int = 3000) -> ccxt.deribit:
    ex = ccxt.deribit({"apiKey": KEY, "secret": secret, "enableRateLimit": False,
                       "timeout": timeout_ms})
    ex.urls["api"] = {"rest": emu.url}
    return ex


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("deribit", api_key=KEY, secret=SECRET, speed=0) as e:
        yield e


@pytest.fixture
def ex(emu: Emulator) -> ccxt.deribit:
    ex = client(emu)
    ex.load_markets()
    return ex


def control(emu: Emulator, method: str, what: str, body: dict | None = None) -> object:
    req = urllib.request.Request(f"{emu.url}/_control/{what}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_markets_have_the_venue_units(ex: ccxt.deribit) -> None:
    perp = ex.market("ETH-PERPETUAL")
    assert perp["symbol"] == "ETH/USD:ETH" and perp["inverse"] and perp["swap"]
    assert perp["contractSize"] == 1.0 and ex.market("BTC-PERPETUAL")["contractSize"] == 10.0
    opt = ex.market("ETH-25DEC26-3000-C")
    assert opt["symbol"] == "ETH/USD:ETH-261225-3000-C" and opt["option"]
    assert opt["settle"] == "ETH" and opt["strike"] == 3000 and opt["optionType"] == "call"
    assert ex.market("BTC-26MAR27-100000-C")["precision"]["amount"] == 0.1
    for name in ("ETH-25DEC26-3000-P", "ETH-26MAR27-2800-P", "ETH-26MAR27-3400-C",
                 "BTC-26MAR27-120000-C", "ETH-26MAR27", "BTC-25DEC26"):
        assert name in ex.markets_by_id


def test_signatures_are_checked(emu: Emulator) -> None:
    bad = client(emu, secret="not-the-secret")
    bad.load_markets()  # public calls need no signature
    with pytest.raises(ccxt.AuthenticationError):
        bad.fetch_balance({"code": "ETH"})


def test_option_ticker_prices_in_coin_with_kernel_greeks(emu: Emulator,
                                                         ex: ccxt.deribit) -> None:
    emu.set_price("ETH", 3200.0, vol=0.7)
    info = ex.fetch_ticker("ETH-25DEC26-3000-C")["info"]
    c = emu.ledger.contracts["ETH-25DEC26-3000-C"]
    g = bs_greeks(3200.0, 3000.0, emu.ledger.years_left(c), 0.7, 0.0, True)
    assert info["mark_price"] == pytest.approx(float(g.price) / 3200.0, rel=1e-6)
    assert info["mark_iv"] == pytest.approx(70.0)
    assert info["greeks"]["delta"] == pytest.approx(float(g.delta), abs=1e-5)
    assert info["index_price"] == 3200.0
    assert info["best_bid_price"] < info["mark_price"] < info["best_ask_price"]
    perp = ex.fetch_ticker("ETH-PERPETUAL")["info"]
    assert perp["funding_8h"] == pytest.approx(0.10 * 8 / (365 * 24))


def test_inverse_perp_round_trip_in_usd_and_coin(emu: Emulator, ex: ccxt.deribit) -> None:
    emu.set_price("ETH", 3000.0)
    before = ex.fetch_balance({"code": "ETH"})["ETH"]["total"]
    o = ex.create_order("ETH-PERPETUAL", "limit", "buy", 3000, 3010,
                        {"label": "r1", "timeInForce": "IOC"})
    assert o["status"] == "closed" and o["filled"] == 3000 and o["info"]["label"] == "r1"
    fill = o["average"]
    pos = ex.fetch_positions(params={"currency": "ETH"})
    assert [(p["symbol"], p["contracts"]) for p in pos] == [("ETH/USD:ETH", 3000.0)]
    assert pos[0]["info"]["size_currency"] == pytest.approx(3000 / 3000.0, rel=1e-9)
    # the fee is in the coin: 5 bps of 3000 USD at the fill price
    after = ex.fetch_balance({"code": "ETH"})["ETH"]["total"]
    upl = 3000 * (1 / fill - 1 / 3000.0)
    assert after == pytest.approx(before - 0.0005 * 3000 / fill + upl, rel=1e-9)
    # the inverse payoff: +10% in USD is 3000*(1/3000 - 1/3300) ETH
    emu.set_price("ETH", 3300.0)
    upl = ex.fetch_positions(params={"currency": "ETH"})[0]["unrealizedPnl"]
    assert upl == pytest.approx(3000 * (1 / fill - 1 / 3300.0), rel=1e-9)


def test_amount_must_be_a_contract_multiple(ex: ccxt.deribit) -> None:
    with pytest.raises(ccxt.BadRequest, match="multiple of contract size"):
        ex.privateGetBuy({"instrument_name": "BTC-PERPETUAL", "amount": 15, "type": "limit",
                          "price": 96000})


def test_partial_fill_when_larger_than_depth(emu: Emulator, ex: ccxt.deribit) -> None:
    control(emu, "POST", "book", {"contract": "ETH-25DEC26-3000-C", "depth": 3})
    ask = ex.fetch_ticker("ETH-25DEC26-3000-C")["ask"]
    o = ex.create_order("ETH-25DEC26-3000-C", "limit", "buy", 5, ask,
                        {"label": "p1", "timeInForce": "IOC"})
    assert o["filled"] == 3 and o["amount"] == 5 and o["status"] == "canceled"
    # a GTC remainder rests, and fills from the depth the book shows at the next request
    o2 = ex.create_order("ETH-25DEC26-3000-C", "limit", "buy", 5, ask, {"label": "p2"})
    assert o2["filled"] == 3 and o2["status"] == "open"
    later = ex.fetch_order(o2["id"])
    assert later["filled"] == 5 and later["status"] == "closed"


def test_partial_and_reject_faults(emu: Emulator, ex: ccxt.deribit) -> None:
    emu.add_fault("partial", fraction=0.4)
    o = ex.create_order("ETH-PERPETUAL", "market", "sell", 100, None, {"label": "f1"})
    assert o["filled"] == 40
    emu.add_fault("reject")
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("ETH-PERPETUAL", "market", "sell", 100, None, {"label": "f2"})
    assert [o["client_id"] for o in emu.orders()] == ["f1"]


def test_real_insufficient_funds(emu: Emulator, ex: ccxt.deribit) -> None:
    emu.set_balance("ETH", 0.01)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("ETH-PERPETUAL", "market", "buy", 100_000, None, {"label": "big"})


def test_lost_response_places_exactly_one_order_with_sync_ccxt(emu: Emulator,
                                                               ex: ccxt.deribit) -> None:
    emu.add_fault("lost", on="order")
    with pytest.raises(ccxt.NetworkError):
        ex.create_order("ETH-PERPETUAL", "market", "buy", 10, None, {"label": "lost-1"})
    assert [(o["client_id"], o["state"]) for o in emu.orders()] == [("lost-1", "filled")]
    found = ex.privateGetGetOrderStateByLabel({"currency": "ETH", "label": "lost-1"})["result"]
    assert len(found) == 1 and found[0]["filled_amount"] == 10


def test_network_faults_map_to_ccxt_errors(emu: Emulator) -> None:
    ex = client(emu, timeout_ms=400)
    ex.load_markets()
    emu.add_fault("error5xx", on="public", status=502)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.fetch_ticker("ETH-PERPETUAL")
    emu.add_fault("ratelimit", on="private")
    with pytest.raises(ccxt.DDoSProtection):  # Deribit's 10028 too_many_requests
        ex.fetch_balance({"code": "ETH"})
    emu.add_fault("timeout", on="order", delay=0.8)
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order("ETH-PERPETUAL", "market", "buy", 10, None, {"label": "slow"})
    time.sleep(0.6)  # the held request is carried out after the client gave up
    assert [o["client_id"] for o in emu.orders()] == ["slow"]
    fired = [f["kind"] for f in emu.state()["fired"]]
    assert fired == ["error5xx", "ratelimit", "timeout"]


def test_duplicate_label_is_accepted_like_the_real_venue(ex: ccxt.deribit) -> None:
    for _ in range(2):
        ex.create_order("ETH-PERPETUAL", "market", "buy", 10, None, {"label": "same"})
    found = ex.privateGetGetOrderStateByLabel({"currency": "ETH", "label": "same"})["result"]
    assert len(found) == 2


def test_history_leaves_out_unfilled_unless_asked(emu: Emulator, ex: ccxt.deribit) -> None:
    bid = ex.fetch_ticker("ETH-PERPETUAL")["bid"]
    ex.create_order("ETH-PERPETUAL", "limit", "buy", 10, bid - 50, {"label": "nofill",
                                                                     "timeInForce": "IOC"})
    plain = ex.fetch_closed_orders("ETH-PERPETUAL")
    assert plain == []
    full = ex.fetch_closed_orders("ETH-PERPETUAL", params={"include_unfilled": "true"})
    assert [o["info"]["label"] for o in full] == ["nofill"]


def test_stale_fault_freezes_prices_and_time(emu: Emulator, ex: ccxt.deribit) -> None:
    t0 = ex.fetch_ticker("ETH-PERPETUAL")["timestamp"]
    emu.add_fault("stale", on="public", delay=0)
    ex.fetch_ticker("ETH-PERPETUAL")
    emu.advance(120)
    emu.set_price("ETH", 3500.0)
    t = ex.fetch_ticker("ETH-PERPETUAL")
    assert t["timestamp"] == t0 and t["info"]["index_price"] == 3000.0
    emu.clear_faults()
    assert ex.fetch_ticker("ETH-PERPETUAL")["info"]["index_price"] == 3500.0


def test_prices_follow_the_spec_sim_model(tmp_path: object) -> None:
    spec = os.path.join(os.path.dirname(__file__), "..", "specs", "eth_gamma_band.rebal")
    with Emulator("deribit", api_key=KEY, secret=SECRET, speed=0, spec=spec,
                  sim_venue="paper") as emu:
        model = make_model("gbm", assets=["ETH"], spot=[3000.0], vol=[0.65])
        model.reset(1, 7)
        ex = client(emu)
        ex.load_markets()
        expected = []
        for _ in range(3):
            emu.advance(3600)
            expected.append(float(model.step(3600 / (365 * 24 * 3600.0))[0, 0]))
        got = ex.fetch_ohlcv("ETH-PERPETUAL", "1h", since=int(emu.clock.now_ms() - 3 * 3.6e6))
        assert [c[4] for c in got[-3:]] == pytest.approx(expected, rel=1e-12)
        assert ex.fetch_ticker("ETH-PERPETUAL")["info"]["index_price"] == pytest.approx(
            expected[-1], rel=1e-12)


def test_history_is_backfilled_for_vol_windows(ex: ccxt.deribit) -> None:
    bars = ex.fetch_ohlcv("ETH-PERPETUAL", "1m", limit=200)
    closes = [b[4] for b in bars]
    assert len(closes) >= 199 and bars[-1][4] == pytest.approx(3000.0)
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    assert max(rets) > 0 > min(rets)  # a moving path, not a flat line


def test_control_endpoint_over_http(emu: Emulator, ex: ccxt.deribit) -> None:
    control(emu, "POST", "faults", {"spec": "reject,on=order"})
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("ETH-PERPETUAL", "market", "buy", 10, None)
    control(emu, "POST", "positions", {"positions": {"ETH-PERPETUAL": -500},
                                       "balances": {"ETH": 7}})
    state = control(emu, "GET", "state")
    assert state["accounts"]["main"]["balances"]["ETH"] == 7
    assert state["accounts"]["main"]["positions"][0]["size"] == -500
    control(emu, "POST", "price", {"asset": "ETH", "price": 2500})
    assert ex.fetch_ticker("ETH-PERPETUAL")["info"]["index_price"] == 2500
    assert control(emu, "GET", "orders") == []
    control(emu, "DELETE", "faults")
    assert control(emu, "GET", "faults")["faults"] == []


def test_cli_serves_and_needs_credentials_from_env() -> None:
    assert "deribit" in VENUES
    from rebal.commands.emulate import VENUE_CHOICES

    assert tuple(VENUES) == VENUE_CHOICES
    env = {k: v for k, v in os.environ.items() if not k.startswith("REBAL_EMULATOR")}
    bare = subprocess.run([sys.executable, "-m", "rebal", "emulate", "deribit"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert bare.returncode == 1 and "REBAL_EMULATOR_API_KEY" in bare.stderr
    env.update(REBAL_EMULATOR_API_KEY=KEY, REBAL_EMULATOR_SECRET=SECRET)
    proc = subprocess.Popen([sys.executable, "-m", "rebal", "emulate", "deribit", "--speed", "0",
                             "--price", "ETH=2900", "--fault", "error5xx,on=public,count=1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("deribit emulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        ex = ccxt.deribit({"apiKey": KEY, "secret": SECRET, "enableRateLimit": False})
        ex.urls["api"] = {"rest": url}
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.load_markets()
        ex.load_markets()
        assert ex.fetch_ticker("ETH-PERPETUAL")["info"]["index_price"] == 2900
        assert ex.fetch_balance({"code": "ETH"})["ETH"]["total"] == 100
    finally:
        proc.terminate()
        _, errs = proc.communicate(timeout=10)
    assert SECRET not in line and "Traceback" not in errs
