"""Reading the keeper venue's state from chain: vault balances, oracle rounds, pool reserves,
fees and the keeper's nonces, in the spec's units (one conversion place: :class:`Units`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from rebal.backends.chain.deploy import at
from rebal.compiler import ir

from .venue import KeeperVenue

__all__ = ["ChainState", "Reader", "Units"]

POOL_FEE = 0.003  # Uniswap V2's fee, inside its price


@dataclass
class Units:
    """Token decimals and oracle decimals: human amounts <-> base units, once."""

    decimals: dict[str, int]            # instrument -> token decimals
    oracle_decimals: dict[str, int]     # asset -> aggregator decimals

    def to_base(self, instrument: str, amount: float) -> int:
        return round(abs(amount) * 10 ** self.decimals[instrument])

    def to_human(self, instrument: str, base: int) -> float:
        return base / 10 ** self.decimals[instrument]


@dataclass
class ChainState:
    block: int
    time_s: float
    balances: dict[str, float]          # instrument -> human units held by the vault
    oracle: dict[str, float]            # asset -> numeraire price
    oracle_time_s: dict[str, float]     # asset -> round's updatedAt
    pool_mid: dict[str, float]          # risky instrument -> numeraire per unit
    reserves: dict[str, tuple[int, int]]  # risky instrument -> (risky base, quote base)
    base_fee_wei: int
    gas_price_wei: int
    nonce_latest: int
    nonce_pending: int


class Reader:
    def __init__(self, w3: Web3, strategy: ir.Strategy, venue: KeeperVenue, keeper: str) -> None:
        self.w3 = w3
        self.venue = venue
        self.keeper = keeper
        self.numeraire = strategy.numeraire
        insts = {i.name: i for i in strategy.instruments}
        self.quote = next(n for n, i in insts.items()
                          if i.kind == "cash" and i.underlying == strategy.numeraire)
        self.risky = [n for n, i in insts.items() if i.kind == "spot"]
        self.asset_of = {n: insts[n].underlying for n in self.risky}
        self.tokens = {n: at(w3, "Token", venue.tokens[n]) for n in [self.quote, *self.risky]}
        self.oracles = {a: at(w3, "Aggregator", venue.oracles[a])
                        for a in {self.asset_of[n] for n in self.risky}}
        self.router = at(w3, "Router", venue.router)
        self.pairs: dict[str, Any] = {}
        for n in self.risky:
            addr = venue.pairs.get(n) or self.router.functions.pairFor(
                venue.tokens[n], venue.tokens[self.quote]).call()
            self.pairs[n] = at(w3, "Pair", addr)
        self.token0 = {n: p.functions.token0().call() for n, p in self.pairs.items()}
        self.units = Units(
            decimals={n: int(t.functions.decimals().call()) for n, t in self.tokens.items()},
            oracle_decimals={a: int(o.functions.decimals().call())
                             for a, o in self.oracles.items()})

    def state(self) -> ChainState:
        block = self.w3.eth.get_block("latest")
        pending = self.w3.eth.get_block("pending")
        balances = {n: self.units.to_human(n, int(t.functions.balanceOf(self.venue.vault).call()))
                    for n, t in self.tokens.items()}
        oracle, otime = {}, {}
        for a, o in self.oracles.items():
            _, answer, _, updated, _ = o.functions.latestRoundData().call()
            oracle[a] = answer / 10 ** self.units.oracle_decimals[a]
            otime[a] = float(updated)
        mids, reserves = {}, {}
        for n, p in self.pairs.items():
            r0, r1, _ = p.functions.getReserves().call()
            rr, rq = (r0, r1) if self.token0[n] == self.venue.tokens[n] else (r1, r0)
            reserves[n] = (rr, rq)
            mids[n] = (self.units.to_human(self.quote, rq) / self.units.to_human(n, rr)
                       if rr else 0.0)
        return ChainState(
            block=int(block["number"]), time_s=float(block["timestamp"]), balances=balances,
            oracle=oracle, oracle_time_s=otime, pool_mid=mids, reserves=reserves,
            base_fee_wei=int(pending.get("baseFeePerGas") or 0),
            gas_price_wei=int(self.w3.eth.gas_price),
            nonce_latest=int(self.w3.eth.get_transaction_count(self.keeper, "latest")),
            nonce_pending=int(self.w3.eth.get_transaction_count(self.keeper, "pending")))

    def amount_in_for(self, instrument: str, buy_units: int, st: ChainState) -> int:
        """Uniswap V2's getAmountIn: quote base units that buy ``buy_units`` of ``instrument``."""
        rr, rq = st.reserves[instrument]
        if buy_units >= rr:
            return 2**255
        return rq * buy_units * 1000 // ((rr - buy_units) * 997) + 1
