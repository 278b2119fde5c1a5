"""The ccxt adapter against the Binance USD-M emulator (real sync ccxt): lot/tick/min-notional
units, snapshot, client ids, one-way and hedge modes, reduce-only, errors, lookups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rebal.backends.ccxt.adapter import CcxtAdapter
from rebal.backends.ccxt.client import Settings, make_client
from rebal.backends.ccxt.symbols import SymbolProblem
from rebal.backends.live.adapter import OrderRequest, Rejected, Transient
from rebal.compiler import compile_file, ir
from rebal.emulators import Emulator

KEY, SECRET = "binance-key-51d2", "binance-secret-77ee-abcdef012345"
SPECS = Path(__file__).resolve().parent.parent / "specs"


@pytest.fixture(scope="module")
def strategy() -> ir.Strategy:
    s, diags = compile_file(SPECS / "btc_eth_weights.rebal")
    assert s is not None, diags
    return s


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("binanceusdm", api_key=KEY, secret=SECRET, speed=0,
                  prices={"ETH": 3000.0, "BTC": 95000.0}) as e:
        yield e


def open_on(emu: Emulator, strategy: ir.Strategy, venue: ir.Venue | None = None
            ) -> CcxtAdapter:
    s = Settings("binanceusdm", "BINANCE", KEY, SECRET, None, emu.url, False)
    return CcxtAdapter(strategy, venue or strategy.venue("binance"),
                       make_client(s, timeout_ms=1500), s)


@pytest.fixture
def adapter(emu: Emulator, strategy: ir.Strategy) -> Iterator[CcxtAdapter]:
    a = open_on(emu, strategy)
    yield a
    a.close()


def test_snapshot(emu: Emulator, adapter: CcxtAdapter) -> None:
    emu.set_position("ETHUSDT", -2.5)
    snap = adapter.snapshot()
    assert snap.positions == {"BTC_PERP": 0.0, "ETH_PERP": -2.5}
    assert snap.venue_positions == {"BTC_PERP": 0.0, "ETH_PERP": -2.5}
    assert snap.index == {"BTC": 95000.0, "ETH": 3000.0}
    assert snap.bid["ETH_PERP"] < snap.mid["ETH_PERP"] < snap.ask["ETH_PERP"]
    assert snap.funding["ETH_PERP"] == pytest.approx(0.10, rel=1e-4)
    assert snap.equity == pytest.approx(100_000.0) and snap.balances["USDT"] == 100_000.0
    meta = snap.meta["BTC_PERP"]
    assert (meta.qty_step, meta.min_qty, meta.tick, meta.min_notional) == (0.001, 0.001, 0.1,
                                                                            100.0)
    assert meta.kind == "perp" and meta.settle == "USDT" and meta.taker_fee > 0


def test_submit_rounds_to_lot_and_tick_and_reports_it(emu: Emulator,
                                                      adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    st = adapter.submit(OrderRequest("b-1", "ETH_PERP", 1.23456, 3005.678))
    sent = emu.orders()[0]
    assert (sent["amount"], sent["price"], sent["client_id"]) == (1.235, 3005.67, "b-1")
    assert st.qty == 1.235 and st.filled == 1.235 and st.state == "filled"
    assert st.fee == pytest.approx(0.0005 * 1.235 * sent["avg_price"], rel=1e-6)
    assert adapter.lookup("b-1") is not None and adapter.lookup("zzz") is None


def test_min_notional_and_margin_are_rejections(emu: Emulator, adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    with pytest.raises(Rejected) as small:
        adapter.submit(OrderRequest("b-small", "BTC_PERP", 0.001, 95100.0))  # 95 < 100 USDT
    assert small.value.code == "-4164"
    emu.set_balance("USDT", 50.0)
    with pytest.raises(Rejected) as poor:
        adapter.submit(OrderRequest("b-poor", "ETH_PERP", 1.0, 3010.0))
    assert poor.value.code == "-2019" and "InsufficientFunds" in str(poor.value)


def test_reduce_only_one_way_and_hedge(emu: Emulator, strategy: ir.Strategy,
                                       adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    adapter.submit(OrderRequest("o-1", "ETH_PERP", 0.5, 3010.0))
    st = adapter.submit(OrderRequest("o-2", "ETH_PERP", -2.0, 2990.0, reduce_only=True))
    assert st.filled == pytest.approx(-0.5) and adapter.snapshot().positions["ETH_PERP"] == 0.0
    adapter.exchange.set_position_mode(True)
    hedged = open_on(emu, strategy)
    hedged.snapshot()
    hedged.submit(OrderRequest("h-1", "ETH_PERP", 1.0, 3010.0))
    hedged.submit(OrderRequest("h-2", "ETH_PERP", -0.4, 2990.0))
    assert {(o["client_id"], o["position_side"]) for o in emu.orders()[-2:]} == {
        ("h-1", "LONG"), ("h-2", "SHORT")}
    assert hedged.snapshot().positions["ETH_PERP"] == pytest.approx(0.6)  # LONG 1 + SHORT -0.4
    hedged.submit(OrderRequest("h-3", "ETH_PERP", -1.0, 2990.0, reduce_only=True))
    assert emu.orders()[-1]["position_side"] == "LONG"
    assert hedged.snapshot().positions["ETH_PERP"] == pytest.approx(-0.4)


def test_lost_response_then_lookup_and_resend_is_refused(emu: Emulator,
                                                        adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    emu.add_fault("lost", on="order")
    with pytest.raises(Transient):
        adapter.submit(OrderRequest("l-1", "ETH_PERP", 0.1, 3010.0))
    found = adapter.lookup("l-1")
    assert found is not None and found.state == "filled"
    with pytest.raises(Rejected) as dup:  # Binance refuses an id it has (-4116)
        adapter.submit(OrderRequest("l-1", "ETH_PERP", 0.1, 3010.0))
    assert dup.value.code == "-4116"
    assert len(emu.orders()) == 1


def test_cancel_by_client_id(emu: Emulator, adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    rest = adapter.submit(OrderRequest("c-1", "ETH_PERP", 0.1, 2900.0, time_in_force="GTC"))
    assert rest.state == "open" and "c-1" in adapter.snapshot().open_orders
    done = adapter.cancel("c-1")
    assert done is not None and done.state == "cancelled"
    assert adapter.cancel("c-none") is None


def test_history_and_unknown_symbol(emu: Emulator, strategy: ir.Strategy,
                                    adapter: CcxtAdapter) -> None:
    now = emu.clock.now_ms() / 1000.0
    candles = adapter.history("BTC", now - 1800, 60)
    assert 25 <= len(candles) <= 31 and candles[-1].close == pytest.approx(95000.0)
    venue = strategy.venue("binance")
    wrong = venue.model_copy(update={"symbols": {**venue.symbols, "ETH_PERP": "ETHUSD"}})
    with pytest.raises(SymbolProblem, match="ETHUSDT"):
        open_on(emu, strategy, wrong)
