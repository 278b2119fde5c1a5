"""The local counterpart of CoW Protocol: the Settlement contract and a simple solver.

:func:`deploy_settlement` compiles ``contracts/Settlement.vy`` in-process (the chain layer's
cached compiler) and deploys it. :class:`LocalSolver` settles the order book's open sell
orders against the rehearsal AMM when the pool's quote meets the limit: it pays the receiver
the whole quote from its inventory of the buy token (all surplus to the trader, as CoW's
auction aims for), takes the sell tokens, and swaps them through the router back into the
buy token, which restores its inventory (the pool moves as if the order had traded there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebal.backends.chain.build import Artifact, compile_source
from rebal.backends.chain.deploy import at, call_data, deploy
from rebal.backends.chain.tx import Sender, SendError

from .gpv2 import MAX_UINT256
from .orderbook import SCHEME_IDS, OrderBook, StoredOrder

__all__ = ["LocalSolver", "Settled", "deploy_settlement", "settlement_artifact"]

CONTRACTS = Path(__file__).resolve().parent / "contracts"


def settlement_artifact() -> Artifact:
    return compile_source((CONTRACTS / "Settlement.vy").read_text(encoding="utf-8"),
                          "Settlement")


def deploy_settlement(sender: Sender) -> Any:
    """A fresh Settlement on the sender's chain (a web3 contract handle)."""
    return deploy(sender, settlement_artifact())


def settlement_at(w3: Any, address: str) -> Any:
    return at(w3, settlement_artifact(), address)


@dataclass(frozen=True)
class Settled:
    uid: bytes
    sell: int
    buy: int
    tx: str


class LocalSolver:
    """Settles open orders of ``book`` through ``router`` with the ``sender``'s inventory."""

    def __init__(self, book: OrderBook, router: str, sender: Sender) -> None:
        self.book = book
        self.sender = sender
        self.router = at(sender.w3, "Router", router)
        self.settlement = book.settlement
        self.skipped: dict[bytes, str] = {}  # uid -> why it was not settled (last step)
        self._approved: set[tuple[str, str]] = set()

    def quote(self, sell_token: str, buy_token: str, amount: int) -> int:
        return int(self.router.functions.getAmountsOut(amount, [sell_token, buy_token]).call()[-1])

    def amount_in(self, sell_token: str, buy_token: str, out: int) -> int:
        """The least input the pool takes for exactly ``out`` (Uniswap V2's getAmountIn)."""
        pair = at(self.sender.w3, "Pair", str(self.router.functions.pairFor(
            sell_token, buy_token).call()))
        r0, r1, _ = pair.functions.getReserves().call()
        token0 = str(pair.functions.token0().call()).lower()
        r_in, r_out = (r0, r1) if token0 == sell_token.lower() else (r1, r0)
        if out >= r_out:
            return MAX_UINT256
        need = r_in * out * 1000 // ((r_out - out) * 997) + 1
        while self.quote(sell_token, buy_token, need) < out:
            need += 1
        return int(need)

    def _plan(self, stored: StoredOrder) -> tuple[int, int] | str:
        """(sell, buy) the solver would settle at, or why it leaves the order."""
        o = stored.signed.order
        if self.book.filled(stored.uid) != 0:
            return "partially filled orders are not settled again by this solver"
        if o.kind == "sell":
            out = self.quote(o.sell_token, o.buy_token, o.sell_amount)
            if out < o.buy_amount:
                return "the pool's quote is below the order's limit"
            return o.sell_amount, out
        need = self.amount_in(o.sell_token, o.buy_token, o.buy_amount)
        if need > o.sell_amount:
            return "the pool's quote is below the order's limit"
        return need, o.buy_amount

    def step(self) -> list[Settled]:
        """One auction: try every open order once; returns what settled."""
        done = []
        self.skipped = {}
        for stored in self.book.open_orders():
            plan = self._plan(stored)
            if isinstance(plan, str):
                self.skipped[stored.uid] = plan
                continue
            try:
                done.append(self.settle(stored, *plan))
            except SendError as exc:
                self.skipped[stored.uid] = f"settlement reverted: {exc.reason or exc}"
        return done

    def settle(self, stored: StoredOrder, sell: int, buy: int) -> Settled:
        """Pay ``buy`` from inventory, take ``sell``, swap it back through the pool."""
        o = stored.signed.order
        self._approve(o.buy_token, self.settlement.address)
        self._approve(o.sell_token, self.router.address)
        data = call_data(self.settlement, "settle", o.as_tuple(), SCHEME_IDS[stored.signed.scheme],
                         stored.signed.settlement_signature(), sell, buy)
        receipt = self.sender.transact(self.settlement.address, data)
        deadline = int(self.sender.w3.eth.get_block("latest")["timestamp"]) + 600
        swap = call_data(self.router, "swapExactTokensForTokens", sell, buy,
                         [o.sell_token, o.buy_token], self.sender.address, deadline)
        self.sender.transact(self.router.address, swap)
        tx = receipt["transactionHash"]
        return Settled(stored.uid, sell, buy, tx.hex() if hasattr(tx, "hex") else str(tx))

    def _approve(self, token: str, spender: str) -> None:
        if (token, spender) in self._approved:
            return
        erc20 = at(self.sender.w3, "Token", token)
        self.sender.transact(token, call_data(erc20, "approve", spender, MAX_UINT256))
        self._approved.add((token, spender))
