"""The local CoW counterpart on anvil: the compiled Settlement contract, the order book over
HTTP and the solver. A settled order never settles twice, a cancelled or expired one never
settles, a fill below the limit reverts, a bad signature is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from rebal.backends.chain.anvil import DEV_KEYS
from rebal.backends.chain.client import increase_time
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.local import mint
from rebal.backends.chain.tx import Sender, SendError
from rebal.backends.live.adapter import Rejected
from rebal.backends.solver import api, gpv2
from rebal.backends.solver.appdata import app_data_doc, app_data_hash
from rebal.backends.solver.bookserver import BookServer
from rebal.backends.solver.client import OrderBookClient
from rebal.backends.solver.local import LocalSolver, deploy_settlement
from rebal.backends.solver.orderbook import OrderBook
from rebal.backends.solver.signing import Signer, sign_order

WETH_1 = 10**18


@dataclass
class Env:
    chain: Any
    settlement: Any
    book: OrderBook
    server: BookServer
    client: OrderBookClient
    solver: LocalSolver
    trader: Signer
    trader_tx: Sender

    @property
    def weth(self) -> str:
        return str(self.chain.market.tokens["WETH"])

    @property
    def usdc(self) -> str:
        return str(self.chain.market.tokens["USDC"])

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def order(self, **kw: Any) -> gpv2.Order:
        fields: dict[str, Any] = dict(
            sell_token=self.weth, buy_token=self.usdc, sell_amount=WETH_1,
            buy_amount=2900 * 10**6, valid_to=self.now() + 600,
            app_data=app_data_hash(app_data_doc("rb-test-1-0-0")))
        fields.update(kw)
        return gpv2.Order(**fields)

    def post(self, order: gpv2.Order, signer: Signer | None = None) -> str:
        signed = sign_order(order, self.book.domain, signer or self.trader)
        return self.client.post_order(api.order_creation(signed, app_data_doc("rb-test-1-0-0")))

    def balance(self, token: str, who: str) -> int:
        return int(at(self.chain.w3, "Token", token).functions.balanceOf(who).call())

    def settle_direct(self, order: gpv2.Order, sell: int, buy: int) -> None:
        signed = sign_order(order, self.book.domain, self.trader)
        self.solver._approve(order.buy_token, self.settlement.address)
        data = call_data(self.settlement, "settle", order.as_tuple(), 0,
                         signed.settlement_signature(), sell, buy)
        self.solver.sender.transact(self.settlement.address, data)


@pytest.fixture(scope="session")
def _settlement(_chain_base: Any) -> Any:
    return deploy_settlement(_chain_base.deployer)


@pytest.fixture
def env(_settlement: Any, chain: Any) -> Iterator[Env]:
    w3 = chain.w3
    trader = Signer.from_env("K", {"K": DEV_KEYS[1]})
    trader_tx = Sender(w3, DEV_KEYS[1])
    solver_tx = Sender(w3, DEV_KEYS[2])
    weth, usdc = chain.market.tokens["WETH"], chain.market.tokens["USDC"]
    mint(chain.deployer, weth, trader.address, 10 * WETH_1)
    mint(chain.deployer, usdc, solver_tx.address, 100_000 * 10**6)
    token = at(w3, "Token", weth)
    trader_tx.transact(weth, call_data(token, "approve", _settlement.address, gpv2.MAX_UINT256))
    book = OrderBook(_settlement)
    with BookServer(book) as server:
        yield Env(chain, _settlement, book, server, OrderBookClient(server.url), LocalSolver(
            book, chain.market.router, solver_tx), trader, trader_tx)


def test_domain_of_the_deployed_contract_is_gpv2s(env: Env) -> None:
    chain_id = int(env.chain.w3.eth.chain_id)
    assert env.book.domain == gpv2.domain_separator(chain_id, env.settlement.address)
    order = env.order()
    assert bytes(env.settlement.functions.orderDigest(order.as_tuple()).call()) == (
        gpv2.order_digest(order, env.book.domain))


def test_a_settled_order_never_settles_twice(env: Env) -> None:
    order = env.order()
    uid = env.post(order)
    assert uid == "0x" + gpv2.order_uid(gpv2.order_digest(order, env.book.domain),
                                        env.trader.address, order.valid_to).hex()
    assert env.client.get_order(uid)["status"] == "open"
    usdc_before = env.balance(env.usdc, env.trader.address)
    quote = env.solver.quote(env.weth, env.usdc, WETH_1)
    settled = env.solver.step()
    assert [s.uid.hex() for s in settled] == [uid[2:]]
    assert env.balance(env.usdc, env.trader.address) - usdc_before == quote >= order.buy_amount
    got = env.client.get_order(uid)
    assert got["status"] == "fulfilled" and got["executedBuyAmount"] == str(quote)
    assert env.solver.step() == []
    with pytest.raises(SendError, match="GPv2: order filled"):
        env.settle_direct(order, WETH_1, quote)
    assert env.balance(env.usdc, env.trader.address) - usdc_before == quote
    # the same order posted again is a duplicate, not a second order
    with pytest.raises(Rejected) as dup:
        env.post(order)
    assert dup.value.code == "DuplicatedOrder"


def test_a_fill_below_the_limit_reverts(env: Env) -> None:
    order = env.order()
    with pytest.raises(SendError, match="GPv2: limit price not respected"):
        env.settle_direct(order, WETH_1, order.buy_amount - 1)
    with pytest.raises(SendError, match="GPv2: fill-or-kill order"):
        env.settle_direct(order, WETH_1 // 2, order.buy_amount)
    env.settle_direct(order, WETH_1, order.buy_amount)  # exactly at the limit: allowed
    assert env.balance(env.usdc, env.trader.address) == order.buy_amount


def test_a_buy_order_receives_exactly_its_amount_and_pays_within_the_limit(env: Env) -> None:
    order = env.order(kind="buy", buy_amount=2900 * 10**6)  # pay at most 1 WETH for 2900 USDC
    uid = env.post(order)
    weth = env.balance(env.weth, env.trader.address)
    assert len(env.solver.step()) == 1
    assert env.balance(env.usdc, env.trader.address) == 2900 * 10**6
    paid = weth - env.balance(env.weth, env.trader.address)
    assert 0 < paid < WETH_1
    assert env.client.get_order(uid)["status"] == "fulfilled"


def test_the_solver_leaves_an_order_whose_limit_the_pool_cannot_meet(env: Env) -> None:
    uid = env.post(env.order(buy_amount=3100 * 10**6))
    assert env.solver.step() == []
    assert "below the order's limit" in env.solver.skipped[bytes.fromhex(uid[2:])]
    assert env.client.get_order(uid)["status"] == "open"


def test_an_expired_order_never_settles(env: Env) -> None:
    order = env.order(valid_to=env.now() + 60)
    uid = env.post(order)
    increase_time(env.chain.w3, 120)
    assert env.client.get_order(uid)["status"] == "expired"
    assert env.solver.step() == []
    with pytest.raises(SendError, match="GPv2: order expired"):
        env.settle_direct(order, WETH_1, 3000 * 10**6)
    with pytest.raises(Rejected) as late:
        env.post(env.order(valid_to=env.now() - 1))
    assert late.value.code == "InsufficientValidTo"


def test_a_cancelled_order_never_settles(env: Env) -> None:
    off = env.order(buy_amount=2901 * 10**6)
    uid = env.post(off)
    cancel = env.trader.sign_digest(api.cancellation_digest([bytes.fromhex(uid[2:])],
                                                            env.book.domain))
    with pytest.raises(Rejected):  # somebody else's signature cancels nothing
        other = Signer.from_env("K", {"K": DEV_KEYS[3]})
        env.client.cancel([uid], "0x" + other.sign_digest(api.cancellation_digest(
            [bytes.fromhex(uid[2:])], env.book.domain)).hex())
    env.client.cancel([uid], "0x" + cancel.hex())
    assert env.client.get_order(uid)["status"] == "cancelled"
    # on-chain invalidation: the contract itself refuses the order from then on
    on = env.order(buy_amount=2902 * 10**6)
    uid_on = env.post(on)
    inval = call_data(env.settlement, "invalidateOrder", bytes.fromhex(uid_on[2:]))
    with pytest.raises(SendError, match="does not own order"):  # only the owner may
        env.solver.sender.transact(env.settlement.address, inval)
    env.trader_tx.transact(env.settlement.address, inval)
    assert env.client.get_order(uid_on)["status"] == "cancelled"
    assert env.solver.step() == []
    with pytest.raises(SendError, match="GPv2: order filled"):
        env.settle_direct(on, WETH_1, 3000 * 10**6)


def test_the_book_refuses_a_signature_that_is_not_the_owners(env: Env) -> None:
    order = env.order()
    forged = sign_order(order, env.book.domain, Signer.from_env("K", {"K": DEV_KEYS[3]}))
    body = api.order_creation(forged, app_data_doc("rb-test-1-0-0"))
    body["from"] = env.trader.address
    with pytest.raises(Rejected) as wrong:
        env.client.post_order(body)
    assert wrong.value.code == "WrongOwner"
    body["appData"] = app_data_doc("rb-other")
    with pytest.raises(Rejected) as bad_app:
        env.client.post_order(body)
    assert bad_app.value.code == "InvalidOrder"
    assert env.client.account_orders(env.trader.address) == []


def test_the_emulator_serves_the_book_and_settles_in_the_background(env: Env) -> None:
    import io
    import time

    from rebal.backends.solver.emulate import start

    out = io.StringIO()
    emu = start(env.chain.url, DEV_KEYS[2], router=env.chain.market.router,
                settlement=env.settlement.address, interval_s=0.05, out=out)
    try:
        client = OrderBookClient(emu.server.url)
        signed = sign_order(env.order(), env.book.domain, env.trader)
        uid = client.post_order(api.order_creation(signed, app_data_doc("rb-test-1-0-0")))
        deadline = time.monotonic() + 20
        while client.get_order(uid)["status"] == "open" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get_order(uid)["status"] == "fulfilled"
        assert emu.server.url in out.getvalue() and emu.errors == []
    finally:
        emu.stop()


def test_the_emulate_command_wants_the_solver_key_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rebal.cli import main

    monkeypatch.delenv("REBAL_SOLVER_KEY", raising=False)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    code = main(["emulate", "solver", "--rpc", "http://127.0.0.1:9", "--router",
                 "0x" + "00" * 20])
    assert code == 1 and "REBAL_SOLVER_KEY" in err.getvalue()
    monkeypatch.setenv("REBAL_SOLVER_KEY", DEV_KEYS[2])
    code = main(["emulate", "solver", "--router", "0x" + "00" * 20])
    assert code == 1 and "--rpc" in err.getvalue()
    code = main(["emulate", "solver", "--rpc", "http://127.0.0.1:9", "--router",
                 "0x" + "00" * 20])
    assert code == 1 and "cannot start" in err.getvalue() and DEV_KEYS[2] not in err.getvalue()
