"""The solver adapter on anvil, through the local order book and solver over HTTP: intents
built from the kernel's orders, settled, found again by client id after a lost POST answer
or a restart, expired and cancelled ones never settled, and a plan view any EIP-712 tool
can check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.client import increase_time
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.local import mint
from rebal.backends.chain.tx import Sender
from rebal.backends.live.adapter import OrderRequest, Rejected, Transient
from rebal.backends.solver.adapter import BOOK_URL_ENV, SolverAdapter, open_adapter
from rebal.backends.solver.bookserver import BookServer
from rebal.backends.solver.client import OrderBookClient
from rebal.backends.solver.gpv2 import MAX_UINT256
from rebal.backends.solver.local import LocalSolver, deploy_settlement
from rebal.backends.solver.orderbook import OrderBook
from rebal.backends.solver.signing import Signer
from rebal.compiler import ir
from rebal.compiler.api import check_source

SPEC = Path(__file__).resolve().parent.parent / "specs" / "eth_cppi_vault.rebal"
TRADER_KEY = DEV_KEYS[1]


def local_venue(strategy: ir.Strategy, chain: Any, settlement: str) -> ir.Venue:
    """The spec's `intents` venue pointed at the local chain's contracts (no vault: the
    signer's own account holds the tokens and signs EIP-712)."""
    venue = strategy.venue("intents")
    cfg = venue.config.model_copy(update={
        "chain": int(chain.w3.eth.chain_id), "settlement": settlement, "vault": None,
        "oracles": {"ETH": chain.market.oracles["ETH"]}})
    return venue.model_copy(update={"config": cfg, "symbols": {
        "WETH": chain.market.tokens["WETH"], "USDC": chain.market.tokens["USDC"]}})


@dataclass
class Env:
    chain: Any
    strategy: ir.Strategy
    venue: ir.Venue
    book: OrderBook
    server: BookServer
    solver: LocalSolver
    adapter: SolverAdapter
    trader: Signer

    def fresh_adapter(self) -> SolverAdapter:
        """A new process's adapter: nothing remembered but what the venue holds."""
        return SolverAdapter(self.strategy, self.venue, self.chain.w3, self.trader,
                             OrderBookClient(self.server.url))

    def balance(self, name: str) -> int:
        token = at(self.chain.w3, "Token", self.venue.symbols[name])
        return int(token.functions.balanceOf(self.trader.address).call())


@pytest.fixture(scope="session")
def _settlement(_chain_base: Any) -> Any:
    return deploy_settlement(_chain_base.deployer)


@pytest.fixture(scope="session")
def _strategy() -> ir.Strategy:
    res = check_source(SPEC.read_text(encoding="utf-8"), str(SPEC))
    assert res.ok
    return res.strategies[0]


@pytest.fixture
def env(_settlement: Any, _strategy: ir.Strategy, chain: Any) -> Iterator[Env]:
    w3 = chain.w3
    trader = Signer.from_env("K", {"K": TRADER_KEY})
    solver_tx = Sender(w3, DEV_KEYS[2])
    weth, usdc = chain.market.tokens["WETH"], chain.market.tokens["USDC"]
    mint(chain.deployer, weth, trader.address, 10 * 10**18)
    mint(chain.deployer, usdc, trader.address, 30_000 * 10**6)
    mint(chain.deployer, usdc, solver_tx.address, 100_000 * 10**6)
    mint(chain.deployer, weth, solver_tx.address, 30 * 10**18)
    trader_tx = Sender(w3, TRADER_KEY)
    for token in (weth, usdc):
        trader_tx.transact(token, call_data(at(w3, "Token", token), "approve",
                                            _settlement.address, MAX_UINT256))
    venue = local_venue(_strategy, chain, _settlement.address)
    book = OrderBook(_settlement)
    with BookServer(book) as server:
        adapter = SolverAdapter(_strategy, venue, w3, trader, OrderBookClient(server.url))
        yield Env(chain, _strategy, venue, book, server,
                  LocalSolver(book, chain.market.router, solver_tx), adapter, trader)


def test_a_sell_intent_settles_once_and_reports_the_fill(env: Env) -> None:
    st = env.adapter.submit(OrderRequest("rb-t-1-0-0", "WETH", -1.5, limit_price=2950.0))
    assert st.state == "open" and st.qty == -1.5 and st.filled == 0.0
    usdc = env.balance("USDC")
    assert len(env.solver.step()) == 1
    done = env.adapter.lookup("rb-t-1-0-0")
    assert done is not None and done.state == "filled" and done.filled == -1.5
    got_usdc = (env.balance("USDC") - usdc) / 1e6
    assert done.avg_price == pytest.approx(got_usdc / 1.5) and done.avg_price >= 2950.0
    assert env.solver.step() == []
    assert env.adapter.lookup("rb-t-1-0-0") == done


def test_a_buy_intent_pays_its_value_at_the_mid_and_receives_at_least_value_over_limit(
        env: Env) -> None:
    weth, usdc = env.balance("WETH"), env.balance("USDC")
    st = env.adapter.submit(OrderRequest("rb-t-2-0-0", "WETH", 2.0, limit_price=3050.0))
    assert st.state == "open"
    assert len(env.solver.step()) == 1
    done = env.adapter.lookup("rb-t-2-0-0")
    assert done is not None and done.state == "filled"
    assert usdc - env.balance("USDC") == 6000 * 10**6  # 2 x the oracle mid of 3000
    received = env.balance("WETH") - weth
    assert received >= 6000 * 10**18 // 3050 and done.filled == received / 1e18
    assert done.avg_price == pytest.approx(6000 / done.filled) and done.avg_price <= 3050.0


def test_a_lost_post_answer_is_reconciled_by_uid_before_anything_is_resent(env: Env) -> None:
    env.server.drop_post_answers = 1
    req = OrderRequest("rb-t-3-0-0", "WETH", -1.0, limit_price=2950.0)
    with pytest.raises(Transient):
        env.adapter.submit(req)
    assert env.server.posts == 1
    found = env.adapter.lookup(req.client_id)
    assert found is not None and found.state == "open"
    # a restarted process finds it too, from the order's appData on the owner's orders
    again = env.fresh_adapter().lookup(req.client_id)
    assert again is not None and again.venue_id == found.venue_id
    # re-submitting the same client id re-posts the same bytes: one order, one UID
    st = env.adapter.submit(req)
    assert st.venue_id == found.venue_id and len(env.book.orders) == 1
    assert env.fresh_adapter().lookup("rb-t-3-9-9") is None


def test_an_intent_that_expires_unfilled_is_reported_expired_and_never_settles(env: Env
                                                                              ) -> None:
    req = OrderRequest("rb-t-4-0-0", "WETH", -1.0, limit_price=3500.0)  # above the pool
    assert env.adapter.submit(req).state == "open"
    assert env.solver.step() == []
    increase_time(env.chain.w3, int(env.venue.config.valid_for_s) + 1)  # type: ignore[union-attr]
    st = env.adapter.lookup(req.client_id)
    assert st is not None and st.state == "expired" and st.filled == 0.0
    assert env.solver.step() == []
    assert env.fresh_adapter().snapshot().open_orders == {}


def test_a_cancelled_intent_never_settles(env: Env) -> None:
    req = OrderRequest("rb-t-5-0-0", "WETH", -1.0, limit_price=2950.0)
    env.adapter.submit(req)
    st = env.adapter.cancel(req.client_id)
    assert st is not None and st.state == "cancelled"
    weth = env.balance("WETH")
    assert env.solver.step() == []
    assert env.balance("WETH") == weth
    assert env.adapter.cancel("rb-t-5-9-9") is None


def test_snapshot_reads_balances_oracle_and_open_intents(env: Env) -> None:
    env.adapter.submit(OrderRequest("rb-t-6-0-0", "WETH", -1.0, limit_price=3500.0))
    snap = env.adapter.snapshot()
    assert snap.positions == {"WETH": 10.0, "USDC": 30_000.0}
    assert snap.mid["WETH"] == 3000.0 and snap.oracle["ETH"] == 3000.0
    assert snap.equity == pytest.approx(10 * 3000.0 + 30_000.0)
    assert set(snap.open_orders) == {"rb-t-6-0-0"}
    assert snap.meta["WETH"].qty_step == 1e-18 and snap.price_time_s is not None


def test_plan_view_can_be_checked_with_an_independent_eip712_tool(env: Env) -> None:
    intent = env.adapter.intent(OrderRequest("rb-t-7-0-0", "WETH", -2.0, limit_price=2985.0),
                                now_s=1_800_000_000.0, mid=3000.0)
    view = intent.plan_view()
    msg = view["typed_data"]["message"]
    assert msg["sellAmount"] == 2 * 10**18 and msg["buyAmount"] == 5970 * 10**6
    assert msg["validTo"] == 1_800_000_000 + 600 and msg["kind"] == "sell"
    assert msg["appData"] == "0x" + keccak(view["app_data"].encode()).hex()
    assert "rb-t-7-0-0" in view["app_data"]
    signable = encode_typed_data(full_message=view["typed_data"])
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert view["digest"] == "0x" + digest.hex()
    assert view["uid"] == view["digest"] + env.trader.address[2:].lower() + f"{1_800_000_600:08x}"
    assert Account.recover_message(signable, signature=bytes.fromhex(view["signature"][2:])
                                   ) == view["owner"] == env.trader.address
    # what `rebal plan` shows: one view per order, nothing posted
    views = env.adapter.plan_view([OrderRequest("rb-t-7-0-0", "WETH", -2.0, 2985.0)])
    assert [v["client_id"] for v in views] == ["rb-t-7-0-0"] and env.book.orders == {}
    assert views[0]["signing_scheme"] == "eip712" and len(views[0]["uid"]) == 2 + 112


def test_open_adapter_reads_settings_from_the_environment_only(env: Env) -> None:
    # the spec's venue names no `rpc env`: the URL is in $INTENTS_RPC_URL (<VENUE>_RPC_URL)
    assert env.venue.config.rpc_env is None  # type: ignore[union-attr]
    environ = {"INTENTS_RPC_URL": env.chain.url, "KEEPER_KEY": TRADER_KEY,
               BOOK_URL_ENV: env.server.url}
    adapter = open_adapter(env.strategy, env.venue, environ)
    assert adapter.book.url == env.server.url and adapter.owner == env.trader.address
    with pytest.raises(Rejected) as missing:
        open_adapter(env.strategy, env.venue, {"KEEPER_KEY": TRADER_KEY, "RPC_URL": "x"})
    assert "$INTENTS_RPC_URL" in str(missing.value)
    # `rpc env NAME` names another variable
    named = env.venue.model_copy(update={"config": env.venue.config.model_copy(
        update={"rpc_env": "MY_NODE"})})
    assert open_adapter(env.strategy, named, {**environ, "MY_NODE": env.chain.url}).owner
    with pytest.raises(Rejected) as other:
        open_adapter(env.strategy, named, environ)
    assert "$MY_NODE" in str(other.value)
    # no `oracle ETH` and no deployment naming one: refused before anything is read
    blind = env.venue.model_copy(update={"config": env.venue.config.model_copy(
        update={"oracles": {}})})
    with pytest.raises(Rejected) as no_oracle:
        open_adapter(env.strategy, blind, environ)
    assert "no price feed for ETH" in str(no_oracle.value)
    with pytest.raises(Rejected) as cash_leg:
        env.adapter.submit(OrderRequest("rb-t-8-0-0", "USDC", 100.0, limit_price=1.0))
    assert TRADER_KEY[2:] not in str(cash_leg.value)
