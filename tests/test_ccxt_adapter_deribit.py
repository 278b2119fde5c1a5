"""The ccxt adapter against the Deribit emulator (real sync ccxt, loopback): units both ways,
symbols, snapshot, orders by label, the three Deribit traps, errors and secrets."""

from __future__ import annotations

import io
import itertools
import logging
import math
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from rebal.backends.ccxt.adapter import CcxtAdapter
from rebal.backends.ccxt.client import Settings, make_client, settings_of
from rebal.backends.ccxt.symbols import SymbolProblem
from rebal.backends.ccxt.units import VenueUnits
from rebal.backends.live.adapter import Adapter, OrderRequest, Rejected, Transient
from rebal.compiler import compile_file, ir
from rebal.emulators import Emulator

KEY, SECRET = "deribit-key-7f3a91", "deribit-secret-c0ffee-5eed-0123456789"
SPEC = Path(__file__).resolve().parent.parent / "specs" / "eth_straddle_hedge.rebal"


@pytest.fixture(scope="module")
def strategy() -> ir.Strategy:
    s, diags = compile_file(SPEC)
    assert s is not None, diags
    return s


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator("deribit", api_key=KEY, secret=SECRET, speed=0,
                  prices={"ETH": 3000.0}) as e:
        yield e


def settings(emu: Emulator) -> Settings:
    return Settings("deribit", "DERIBIT", KEY, SECRET, None, emu.url, False)


@pytest.fixture
def adapter(strategy: ir.Strategy, emu: Emulator) -> Iterator[CcxtAdapter]:
    s = settings(emu)
    a = CcxtAdapter(strategy, strategy.venue("deribit"), make_client(s, timeout_ms=1500), s)
    yield a
    a.close()


# ---------------------------------------------------------------------- units


def _market(**kw: object) -> dict:
    base = {"symbol": "X", "base": "ETH", "quote": "USD", "option": False, "inverse": False,
            "contractSize": 1.0, "precision": {"amount": 1.0, "price": 0.05},
            "limits": {"amount": {"min": 1.0}}, "info": {}}
    base.update(kw)
    return base


def test_units_inverse_perp_both_ways() -> None:
    u = VenueUnits.of(_market(inverse=True, contractSize=10.0,
                              precision={"amount": 10.0, "price": 0.5}))
    sent = u.order(0.1234, 95_000.3, 95_000.0, 95_000.0)
    assert sent.price == 95_000.0  # a buy's limit rounds down to the tick
    assert sent.amount == 11_720.0  # 0.1234 BTC x 95000 = 11723 USD -> nearest 10 USD
    assert sent.qty == pytest.approx(11_720.0 / 95_000.0)
    assert u.qty_of(sent.amount, 95_000.0) == pytest.approx(sent.qty)
    sell = u.order(-0.1234, 95_000.3, 95_000.0, 95_000.0)
    assert sell.price == 95_000.5 and sell.qty < 0  # a sell's limit rounds up


def test_units_coin_priced_option_both_ways() -> None:
    u = VenueUnits.of(_market(option=True, inverse=True, precision={"amount": 0.1,
                                                                      "price": 0.0005},
                              limits={"amount": {"min": 0.1}}, base="BTC",
                              info={"quote_currency": "BTC"}))
    assert u.coin_priced and not u.inverse
    sent = u.order(-0.35, 1_234.0, 95_000.0, 95_000.0)  # sell at 1234 USD per BTC option
    assert sent.price == pytest.approx(0.013)  # 1234/95000 = 0.012989 -> up to 0.013
    assert sent.limit_price == pytest.approx(0.013 * 95_000.0)
    assert sent.amount == pytest.approx(0.4) and sent.qty == pytest.approx(-0.4)  # 0.35 -> 0.4
    assert u.price_to_numeraire(0.0135, 95_000.0) == pytest.approx(1282.5)


def test_units_linear_lot_and_tick() -> None:
    u = VenueUnits.of(_market(quote="USDT", precision={"amount": 0.001, "price": 0.01},
                              limits={"amount": {"min": 0.001}}))
    sent = u.order(1.23456, 3001.237, 3000.0, 3000.0)
    assert (sent.amount, sent.price, sent.qty) == (1.235, 3001.23, 1.235)
    assert u.order(0.0004, None, 3000.0, 3000.0).amount == 0.0  # below half a step: nothing


# ---------------------------------------------------------------------- adapter


def test_adapter_satisfies_the_contract(adapter: CcxtAdapter) -> None:
    assert isinstance(adapter, Adapter)


def test_snapshot_in_spec_units(emu: Emulator, adapter: CcxtAdapter) -> None:
    emu.set_position("ETH-PERPETUAL", -6000.0)  # USD contracts
    emu.set_position("ETH-25DEC26-3000-C", 2.0)  # coins
    snap = adapter.snapshot()
    assert snap.positions["PERP"] == pytest.approx(-2.0)  # 6000 USD / 3000
    assert snap.positions["ETH_C"] == 2.0 and snap.positions["ETH_P"] == 0.0
    assert snap.venue_positions == {"PERP": -6000.0, "ETH_C": 2.0, "ETH_P": 0.0}
    assert snap.meta["PERP"].venue_qty_step == 1.0 and snap.meta["ETH_C"].venue_qty_step == 1.0
    assert snap.index["ETH"] == 3000.0
    c = emu.ledger.contracts["ETH-25DEC26-3000-C"]
    coin_mark = emu.ledger.mark(c)
    assert snap.mark["ETH_C"] == pytest.approx(coin_mark * 3000.0, rel=1e-6)  # numeraire
    assert snap.bid["ETH_C"] < snap.mark["ETH_C"] < snap.ask["ETH_C"]
    assert snap.iv["ETH_C"] == pytest.approx(0.65)
    assert snap.funding["PERP"] == pytest.approx(0.10, rel=1e-6)
    eth_equity = emu.ledger.summary(emu.ledger.account("main"), "ETH")["equity"]
    # equity counts the currencies the mapped instruments price (ETH here); the BTC balance
    # is reported in balances, not valued
    assert snap.equity == pytest.approx(eth_equity * 3000.0, rel=1e-9)
    assert snap.balances["BTC"] == 5.0
    meta = snap.meta["PERP"]
    assert meta.qty_step == pytest.approx(1 / 3000.0) and meta.contract_size == 1.0
    assert snap.meta["ETH_C"].strike == 3000.0 and snap.meta["ETH_C"].option_type == "call"
    assert snap.meta["ETH_C"].price_ccy == "ETH" and snap.meta["ETH_C"].expiry_s is not None


def test_submit_reports_what_was_sent_and_lookup_by_label(emu: Emulator,
                                                          adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    st = adapter.submit(OrderRequest("cid-1", "PERP", 0.5004, 3010.0))
    # 0.5004 ETH at 3010 = 1506.2 USD -> 1506 contracts of 1 USD
    assert emu.orders()[0]["amount"] == 1506.0 and emu.orders()[0]["client_id"] == "cid-1"
    assert st.state == "filled" and st.qty == pytest.approx(1506 / 3010.0)
    fill = emu.orders()[0]["avg_price"]
    assert st.filled == pytest.approx(1506 / fill) and st.avg_price == pytest.approx(fill)
    assert st.fee == pytest.approx(0.0005 * 1506 / fill * 3000.0, rel=1e-6)  # coin fee -> USD
    assert (st.venue_qty, st.venue_filled) == (1506.0, 1506.0)  # USD contracts, exact
    again = adapter.lookup("cid-1")
    assert again is not None and again.filled == pytest.approx(st.filled)
    assert adapter.lookup("never-sent") is None


def test_option_order_at_a_numeraire_limit(emu: Emulator, adapter: CcxtAdapter) -> None:
    snap = adapter.snapshot()
    st = adapter.submit(OrderRequest("opt-1", "ETH_P", -3.0, snap.bid["ETH_P"] * 0.99))
    sent = emu.orders()[0]
    assert sent["amount"] == 3.0 and sent["side"] == "sell"
    assert sent["price"] == pytest.approx(math.ceil(snap.bid["ETH_P"] * 0.99 / 3000 / 0.0005)
                                          * 0.0005)
    assert st.filled == -3.0 and st.avg_price == pytest.approx(sent["avg_price"] * 3000.0)


def test_trap_lost_response_leaves_exactly_one_order(emu: Emulator,
                                                     adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    emu.add_fault("lost", on="order")
    with pytest.raises(Transient):
        adapter.submit(OrderRequest("lost-1", "PERP", 1.0, 3010.0))
    found = adapter.lookup("lost-1")  # the live layer looks up before anything else
    assert found is not None and found.state == "filled"
    assert [o["client_id"] for o in emu.orders()] == ["lost-1"]


def test_trap_duplicate_label_is_seen_by_lookup(emu: Emulator, adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    adapter.submit(OrderRequest("dup", "PERP", 1.0, 3010.0))
    adapter.submit(OrderRequest("dup", "PERP", 1.0, 3010.0))  # Deribit accepts it
    st = adapter.lookup("dup")
    assert st is not None and "2 venue orders" in st.reason
    assert st.filled == pytest.approx(2 * 3010 / emu.orders()[0]["avg_price"], rel=1e-9)


def test_trap_amount_rounded_explicitly_never_truncated(emu: Emulator, strategy: ir.Strategy,
                                                        adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    # 0.9999 ETH of perp at 3000 = 2999.7 USD: ccxt's own precision would truncate to 2999;
    # units rounds to the nearest contract, 3000, and the adapter checks ccxt sends just that
    assert adapter.exchange.amount_to_precision("ETH/USD:ETH", 2999.7) == "2999"
    st = adapter.submit(OrderRequest("round-1", "PERP", 0.9999, 3000.0))
    assert emu.orders()[0]["amount"] == 3000.0 and st.qty == pytest.approx(1.0)


def test_partial_fill_and_cancel_by_client_id(emu: Emulator, adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    emu.add_fault("partial", fraction=0.5)
    st = adapter.submit(OrderRequest("part", "ETH_C", 4.0, 10_000.0, time_in_force="IOC"))
    assert st.filled == 2.0 and st.qty == 4.0 and st.state == "cancelled"
    bid = adapter.snapshot().bid["ETH_C"]
    rest = adapter.submit(OrderRequest("rest", "ETH_C", 1.0, bid * 0.5, time_in_force="GTC"))
    assert rest.state == "open"
    assert "rest" in adapter.snapshot().open_orders
    done = adapter.cancel("rest")
    assert done is not None and done.state == "cancelled" and done.filled == 0
    assert adapter.cancel("nothing-here") is None


def test_errors_are_classified(emu: Emulator, adapter: CcxtAdapter) -> None:
    adapter.snapshot()
    emu.add_fault("reject")
    with pytest.raises(Rejected) as rej:
        adapter.submit(OrderRequest("r", "PERP", 1.0, 3010.0))
    assert rej.value.code == "10009"
    for kind in ("error5xx", "ratelimit", "drop"):
        emu.add_fault(kind, on="private")
        with pytest.raises(Transient):
            adapter.snapshot()
    emu.add_fault("timeout", on="public", delay=2.0)
    with pytest.raises(Transient, match="RequestTimeout"):
        adapter.snapshot()


def test_history_from_ohlcv(emu: Emulator, adapter: CcxtAdapter) -> None:
    now = emu.clock.now_ms() / 1000.0
    candles = adapter.history("ETH", now - 3600 * 2, 60)
    assert 100 <= len(candles) <= 121 and candles[-1].close == pytest.approx(3000.0)
    assert all(b.t_s > a.t_s for a, b in itertools.pairwise(candles))


def test_unknown_symbol_names_the_closest(strategy: ir.Strategy, emu: Emulator) -> None:
    venue = strategy.venue("deribit")
    wrong = venue.model_copy(update={"symbols": {**venue.symbols, "PERP": "ETH-PERPETUA"}})
    s = settings(emu)
    with pytest.raises(SymbolProblem, match="closest: `ETH-PERPETUAL`"):
        CcxtAdapter(strategy, wrong, make_client(s), s)
    unified = venue.model_copy(update={"symbols": {**venue.symbols, "PERP": "ETH/USD:ETH"}})
    a = CcxtAdapter(strategy, unified, make_client(s), s)
    assert a.mapped["PERP"].venue_id == "ETH-PERPETUAL"


def test_settings_from_env(strategy: ir.Strategy) -> None:
    venue = strategy.venue("deribit")
    s = settings_of(venue, {"DERIBIT_API_KEY": "k", "DERIBIT_SECRET": "s"})
    assert (s.exchange, s.account_env, s.api_key, s.secret, s.url) == (
        "deribit", "DERIBIT", "k", "s", None)
    named = venue.model_copy(update={"config": venue.config.model_copy(
        update={"account_env": "DESK"})})
    assert settings_of(named, {"DESK_API_KEY": "dk"}).api_key == "dk"


def test_secrets_never_appear_with_debug_and_verbose(emu: Emulator, strategy: ir.Strategy,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    s = settings(emu)
    client = make_client(s, timeout_ms=1500)
    client.verbose = True
    out, err = io.StringIO(), io.StringIO()
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with redirect_stdout(out), redirect_stderr(err):
        a = CcxtAdapter(strategy, strategy.venue("deribit"), client, s)
        a.snapshot()
        a.submit(OrderRequest("sec-1", "PERP", 1.0, 3010.0))
        a.lookup("sec-1")
        for kind in ("reject", "error5xx", "lost"):
            emu.add_fault(kind, on="order")
            try:
                a.submit(OrderRequest(f"sec-{kind}", "PERP", 1.0, 3010.0))
            except (Rejected, Transient) as exc:
                messages.append(str(exc))
        bad = Settings("deribit", "DERIBIT", KEY, "wrong-" + SECRET, None, emu.url, False)
        try:
            CcxtAdapter(strategy, strategy.venue("deribit"), make_client(bad), bad).snapshot()
        except Rejected as exc:
            messages.append(str(exc))
    text = out.getvalue() + err.getvalue() + caplog.text + "\n".join(messages)
    assert "deri-hmac-sha256" in out.getvalue() or "Authorization" in out.getvalue()  # verbose ran
    assert len(messages) == 4
    for secret in (KEY, SECRET, "wrong-" + SECRET):
        assert secret not in text
    assert "sig=" not in "\n".join(messages).replace("sig=***", "")



def test_inverse_fills_reconcile_exactly_in_venue_units(emu: Emulator,
                                                       adapter: CcxtAdapter) -> None:
    """In coins an inverse position moves with the price; its USD contracts do not."""
    adapter.snapshot()
    fills = 0.0
    for i, price in enumerate((3000.0, 3150.0, 2890.0)):
        emu.set_price("ETH", price)
        adapter.snapshot()
        st = adapter.submit(OrderRequest(f"inv-{i}", "PERP", 0.5 if i != 1 else -0.2,
                                         price * (1.01 if i != 1 else 0.99)))
        fills += st.venue_filled or 0.0
    emu.set_price("ETH", 3300.0)
    snap = adapter.snapshot()
    assert snap.venue_positions["PERP"] == fills  # exact, at any price
    coin_fills = sum(o["filled"] / o["avg_price"] * (1 if o["side"] == "buy" else -1)
                     for o in emu.orders())
    assert snap.positions["PERP"] == pytest.approx(fills / 3300.0, rel=1e-9)
    assert abs(snap.positions["PERP"] - coin_fills) > snap.meta["PERP"].qty_step  # drifts


def test_open_adapter_reads_url_and_credentials_from_env(strategy: ir.Strategy,
                                                         emu: Emulator) -> None:
    """The live layer's path: registry -> open_adapter -> settings from the environment.
    The venue carries `url env` as the compiler will once its IR has the setting."""
    from types import SimpleNamespace

    from rebal.backends.ccxt.client import SettingsProblem
    from rebal.backends.live.opening import LiveError
    from rebal.backends.live.opening import open_adapter as live_open

    real = strategy.venue("deribit")
    venue = SimpleNamespace(name="deribit", backend="ccxt", symbols=dict(real.symbols),
                            config=SimpleNamespace(exchange="deribit", account_env="EMU",
                                                   url_env="EMU_URL", sandbox=False))
    env = {"EMU_API_KEY": KEY, "EMU_SECRET": SECRET, "EMU_URL": emu.url}
    adapter = live_open(strategy, venue, env)  # type: ignore[arg-type]
    assert adapter.name == "ccxt"
    assert adapter.snapshot().index["ETH"] == 3000.0
    adapter.close()
    for broken, why in (({**env, "EMU_URL": ""}, "has no EMU_URL"),
                        ({**env, "EMU_URL": "ftp://x"}, "http")):
        with pytest.raises(SettingsProblem, match=why) as caught:
            live_open(strategy, venue, broken)  # type: ignore[arg-type]
        assert isinstance(caught.value, LiveError)
