"""EIP-1271 intents of a guarded vault on anvil: the vault validates an order only inside the
spec's envelope (the guard generated from the spec), whoever signed it, and only once the
keeper placed it (the guard meters intents like swaps: cooldown, split period, `max orders
per`); an in-envelope intent goes through the order book and the solver end to end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.client import increase_time
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.local import mint, set_oracle_price
from rebal.backends.chain.tx import Sender, SendError
from rebal.backends.chain.vault import deploy_guarded_vault
from rebal.backends.live.adapter import OrderRequest, Rejected
from rebal.backends.solver import gpv2
from rebal.backends.solver.adapter import SolverAdapter
from rebal.backends.solver.appdata import app_data_doc, app_data_hash
from rebal.backends.solver.bookserver import BookServer
from rebal.backends.solver.client import OrderBookClient
from rebal.backends.solver.local import LocalSolver, deploy_settlement
from rebal.backends.solver.orderbook import OrderBook
from rebal.backends.solver.signing import Signer, sign_order
from rebal.compiler import ir
from rebal.compiler.api import check_source, compile_text

SPEC = Path(__file__).resolve().parent.parent / "specs" / "eth_cppi_vault.rebal"
KEEPER_KEY = DEV_KEYS[3]


@dataclass
class Env:
    chain: Any
    settlement: Any
    vault: Any
    venue: ir.Venue
    book: OrderBook
    adapter: SolverAdapter
    solver: LocalSolver
    keeper: Signer

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def vault_balance(self, name: str) -> int:
        token = at(self.chain.w3, "Token", self.venue.symbols[name])
        return int(token.functions.balanceOf(self.vault.address).call())

    def check(self, order: gpv2.Order, signer: Signer | None = None) -> str:
        """The settlement's verdict on the vault's signature: the owner, or the revert."""
        signed = sign_order(order, self.book.domain, signer or self.keeper,
                            vault=self.vault.address)
        try:
            return str(self.settlement.functions.recoverOwner(
                order.as_tuple(), 2, signed.settlement_signature()).call())
        except Exception as exc:
            return str(exc)

    def buy(self, **kw: Any) -> gpv2.Order:
        fields: dict[str, Any] = dict(
            sell_token=self.venue.symbols["USDC"], buy_token=self.venue.symbols["WETH"],
            sell_amount=30_150 * 10**6, buy_amount=10 * 10**18, kind="buy",
            valid_to=self.now() + 300, app_data=app_data_hash(app_data_doc("rb-v-0-0-0")))
        fields.update(kw)
        return gpv2.Order(**fields)


@pytest.fixture(scope="session")
def _strategy() -> ir.Strategy:
    res = check_source(SPEC.read_text(encoding="utf-8"), str(SPEC))
    assert res.ok
    return res.strategies[0]


@pytest.fixture
def env(_strategy: ir.Strategy, chain: Any) -> Iterator[Env]:
    with _env(_strategy, chain) as e:
        yield e


@contextmanager
def _env(_strategy: ir.Strategy, chain: Any) -> Iterator[Env]:
    w3, m, owner = chain.w3, chain.market, chain.deployer
    keeper = Signer.from_env("K", {"K": KEEPER_KEY})
    tokens = {"WETH": m.tokens["WETH"], "USDC": m.tokens["USDC"]}
    dep = deploy_guarded_vault(owner, _strategy, "intents", router=m.router, tokens=tokens,
                               oracles=dict(m.oracles), pairs={"WETH": m.pairs["WETH"]},
                               keeper=keeper.address, local=True)
    settlement = deploy_settlement(owner)
    vault = at(w3, "Vault", dep.vault)
    owner.transact(vault.address, call_data(vault, "set_settlement", settlement.address, 600))
    for token in tokens.values():
        owner.transact(vault.address, call_data(vault, "approve_settlement", token,
                                                gpv2.MAX_UINT256))
    mint(owner, tokens["USDC"], vault.address, 1_000_000 * 10**6)  # all cash: CPPI buys WETH
    solver_tx = Sender(w3, DEV_KEYS[2])
    mint(owner, tokens["WETH"], solver_tx.address, 50 * 10**18)
    mint(owner, tokens["USDC"], solver_tx.address, 100_000 * 10**6)
    base = _strategy.venue("intents")
    venue = base.model_copy(update={"symbols": tokens, "config": base.config.model_copy(update={
        "chain": int(w3.eth.chain_id), "settlement": settlement.address,
        "vault": vault.address, "oracles": dict(m.oracles)})})
    book = OrderBook(settlement)
    with BookServer(book) as server:
        adapter = SolverAdapter(_strategy, venue, w3, keeper, OrderBookClient(server.url))
        yield Env(chain, settlement, vault, venue, book, adapter,
                  LocalSolver(book, m.router, solver_tx), keeper)


def test_an_in_envelope_intent_of_the_vault_settles_end_to_end(env: Env) -> None:
    assert "Vault: intent not placed" in env.check(env.buy())  # in the envelope, not placed
    st = env.adapter.submit(OrderRequest("rb-v-1-0-0", "WETH", 10.0, limit_price=3015.0))
    assert st.state == "open"
    assert env.adapter.intent(OrderRequest("rb-v-1-0-0", "WETH", 10.0, limit_price=3015.0)
                              ).signed_order.scheme == "eip1271"  # type: ignore[union-attr]
    assert len(env.solver.step()) == 1
    done = env.adapter.lookup("rb-v-1-0-0")
    assert done is not None and done.state == "filled" and done.filled >= 30_000 / 3015
    assert env.vault_balance("WETH") / 1e18 == pytest.approx(done.filled, rel=1e-12)
    assert env.adapter.snapshot().positions["WETH"] == pytest.approx(done.filled, rel=1e-12)


@pytest.mark.parametrize("change, reason", [
    ({"sell_amount": 31_500 * 10**6}, "Guard"),            # limit far above oracle + slippage
    ({"buy_token": "0x" + "11" * 20}, "Guard"),             # a token the spec does not hold
    ({"receiver": "0x" + "22" * 20}, "Vault: receiver"),    # proceeds sent elsewhere
    ({"valid_to_ahead": 3600}, "Vault: validTo beyond valid for"),
    ({"sell_token_balance": "external"}, "Vault: token balance"),
])
def test_an_order_outside_the_envelope_is_refused_by_the_vault(env: Env, change: dict[str, Any],
                                                             reason: str) -> None:
    change = dict(change)
    if "valid_to_ahead" in change:
        change["valid_to"] = env.now() + change.pop("valid_to_ahead")
    verdict = env.check(env.buy(**change))
    assert verdict != env.vault.address and reason in verdict


def test_the_wrong_direction_and_a_foreign_signer_are_refused(env: Env) -> None:
    sell = env.buy(sell_token=env.venue.symbols["WETH"], buy_token=env.venue.symbols["USDC"],
                   sell_amount=10**18, buy_amount=2985 * 10**6, kind="sell")
    assert "Guard" in env.check(sell)  # the vault holds no WETH and CPPI wants more of it
    other = Signer.from_env("K", {"K": DEV_KEYS[4]})
    assert "not signed by the keeper" in env.check(env.buy(), other)


def test_the_vault_refuses_to_place_an_out_of_envelope_intent(env: Env) -> None:
    with pytest.raises(Rejected) as refused:
        env.adapter.submit(OrderRequest("rb-v-2-0-0", "WETH", 10.0, limit_price=3200.0))
    assert "Guard: slippage" in str(refused.value)
    assert env.book.orders == {}


def test_the_order_book_refuses_an_intent_the_keeper_did_not_place(env: Env) -> None:
    """A keeper signature alone (an order posted past the vault) is not a valid intent."""
    from rebal.backends.solver import api

    intent = env.adapter.intent(OrderRequest("rb-v-4-0-0", "WETH", 10.0, limit_price=3015.0))
    assert intent.signed_order is not None
    with pytest.raises(Rejected) as refused:
        env.adapter.book.post_order(api.order_creation(intent.signed_order,
                                                       intent.app_data_doc))
    assert refused.value.code == "InvalidSignature" and env.book.orders == {}


def _place(env: Env, order: gpv2.Order, sender: Sender) -> str:
    try:
        sender.transact(env.vault.address, call_data(env.vault, "place_intent", order.as_tuple()))
    except SendError as exc:
        return exc.reason or str(exc)
    return ""


def test_only_the_keeper_places_and_an_intent_is_placed_once(env: Env) -> None:
    order = env.buy()
    outsider = Sender(env.chain.w3, DEV_KEYS[4])
    assert _place(env, order, outsider) == "Vault: only the keeper"
    keeper = Sender(env.chain.w3, KEEPER_KEY)
    assert _place(env, order, keeper) == ""
    assert env.check(order) == env.vault.address  # placed and in the envelope: valid
    assert _place(env, order, keeper) == "Vault: intent placed twice"


def test_intents_are_metered_like_swaps_split_period_then_cooldown(env: Env) -> None:
    """Every placed intent counts on chain: a second one right after the first is refused
    (`split 100 ETH every 10m`), a split child 10 minutes later passes, a new rebalance
    within `cooldown 1h` is refused; settled or not, the keeper cannot trade faster."""
    def buy(cid: str) -> OrderRequest:
        return OrderRequest(cid, "WETH", 10.0, limit_price=3015.0)

    assert env.adapter.submit(buy("rb-m-1-0-0")).state == "open"
    assert len(env.solver.step()) == 1
    with pytest.raises(Rejected) as early:
        env.adapter.submit(buy("rb-m-1-0-1"))
    assert "Guard: split period" in str(early.value)
    increase_time(env.chain.w3, 601)
    set_oracle_price(env.chain.deployer, env.chain.market.oracles["ETH"], 3000)
    assert env.adapter.submit(buy("rb-m-1-0-1")).state == "open"  # the next split child
    increase_time(env.chain.w3, 1600)  # the split episode is over, the cooldown is not
    set_oracle_price(env.chain.deployer, env.chain.market.oracles["ETH"], 3000)
    with pytest.raises(Rejected) as cooling:
        env.adapter.submit(buy("rb-m-2-0-0"))
    assert "Guard: cooldown" in str(cooling.value)
    guard = at(env.chain.w3, "Vault", env.vault.address).functions.guard().call()
    events = env.chain.w3.eth.get_logs({"address": guard, "fromBlock": 0})
    assert len(events) == 2  # two IntentPlaced: the refused ones left no trace


def test_max_orders_per_window_counts_intents(_strategy: ir.Strategy, chain: Any) -> None:
    text = SPEC.read_text(encoding="utf-8").replace(
        "halt when price_age > 1h", "halt when price_age > 1h\n    max orders 1 per 1d")
    strategy, diags = compile_text(text, str(SPEC))
    assert strategy is not None, diags
    with _env(strategy, chain) as env:
        assert env.adapter.submit(OrderRequest("rb-o-1-0-0", "WETH", 10.0, 3015.0)
                                  ).state == "open"
        increase_time(chain.w3, 3700)  # past the cooldown, within the day
        set_oracle_price(chain.deployer, chain.market.oracles["ETH"], 3000)
        with pytest.raises(Rejected) as refused:
            env.adapter.submit(OrderRequest("rb-o-2-0-0", "WETH", 10.0, 3015.0))
        assert "Guard: max_orders" in str(refused.value)


def test_a_vault_intent_is_cancelled_on_chain_and_never_settles(env: Env) -> None:
    env.adapter.submit(OrderRequest("rb-v-3-0-0", "WETH", 10.0, limit_price=3015.0))
    st = env.adapter.cancel("rb-v-3-0-0")
    assert st is not None and st.state == "cancelled"
    assert env.solver.step() == []
    assert env.vault_balance("WETH") == 0


def test_eth_cppi_vault_intents_venue_runs_a_live_step_through_book_and_solver(
        env: Env, _strategy: ir.Strategy, tmp_path: Path, caplog: pytest.LogCaptureFixture
        ) -> None:
    import logging
    import threading

    caplog.set_level(logging.DEBUG)  # web3, urllib and rebal at their most talkative

    from rebal.backends.live.execution import RetryPolicy
    from rebal.backends.live.opening import open_session

    # The kernel checks `max gas` and `max gas cost` against the keeper's placement gas
    # (the snapshot states it; solvers pay the settlement's).
    strategy = _strategy.model_copy(update={"venues": tuple(
        env.venue if v.name == "intents" else v for v in _strategy.venues)})
    env.adapter.strategy = strategy
    # a pool deep enough for a 100 ETH child within `max slippage 50 bps` (0.3% fee + impact)
    m, owner = env.chain.market, env.chain.deployer
    mint(owner, m.tokens["WETH"], m.pairs["WETH"], 150_000 * 10**18)
    mint(owner, m.tokens["USDC"], m.pairs["WETH"], 450_000_000 * 10**6)
    mint(owner, m.tokens["WETH"], env.solver.sender.address, 200 * 10**18)  # its inventory
    pair = at(env.chain.w3, "Pair", m.pairs["WETH"])
    owner.transact(pair.address, call_data(pair, "sync"))
    stop = threading.Event()

    def auctions() -> None:
        while not stop.wait(0.05):
            env.solver.step()

    thread = threading.Thread(target=auctions, daemon=True)
    thread.start()
    opened = open_session(strategy, "intents", state_dir=tmp_path, adapter=env.adapter)
    policy = RetryPolicy(polls=8, poll_s=0.1)
    try:
        opened.session.policy = policy
        opened.session.start()
        res = opened.session.step()  # snapshot, decide, journal, send, poll/cancel, verify
        d = res.decision
        assert d is not None and res.halted is None, res
        rows = opened.journal.orders()
    finally:
        stop.set()
        thread.join(5)
        opened.close()
    assert d.orders and all(o.instrument == "WETH" and o.qty > 0 for o in d.orders)
    assert rows and all(r.final for r in rows), [(r.client_id, r.state) for r in rows]
    filled = sum(r.filled for r in rows)
    assert filled > 0, env.solver.skipped
    assert env.vault_balance("WETH") == pytest.approx(filled * 10**18, rel=1e-12)
    texts = [caplog.text] + [f.read_bytes().decode("latin-1") for f in tmp_path.rglob("*")
                             if f.is_file()]
    assert all(KEEPER_KEY[2:].lower() not in t.lower() for t in texts)  # the signer's key
