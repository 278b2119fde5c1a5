"""The keeper adapter: a guarded vault on an EVM chain, traded through a Uniswap V2 router.

The live layer's four verbs (``backends/live/adapter.py``), on chain:

* ``snapshot``: vault balances as positions, oracle prices and the oldest round's time (for
  ``price_age``), pool mids, gas price and base fee, the keeper's transactions still pending;
* ``submit``: one ``Vault.rebalance`` transaction per order (the client id rides in the call
  and in the ``Rebalanced`` event; the vault refuses a client id twice), EIP-1559 fees capped
  at ``max gas``, skipped when the estimated gas cost is above ``max gas cost`` (both numbers
  logged), replaced with a 10%+ fee bump while stuck under the base fee and the cap allows,
  re-signed after "nonce too low" (an outside transaction took the nonce), a revert decoded
  and returned as ``Rejected`` (never retried); filled after ``confirmations`` blocks;
* ``lookup``: from chain: the ``Rebalanced`` event carrying the client id, else the nonce and
  hashes this adapter signed (:mod:`.pending`): pending, reverted, or provably not there
  (dropped, reorged out, nonce taken by another transaction) so the live layer may resend;
* ``cancel``: a 0-value self-transfer at the same nonce, fees bumped.

Signing, broadcasting and the lookup by client id are in :mod:`.transactions`
(:class:`~.transactions.KeeperTransactions`, which :class:`KeeperAdapter` extends).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rebal.backends.chain.client import connect
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.tx import GWEI, Fees, Sender, fees_under_cap
from rebal.backends.live.adapter import (
    Candle,
    InstrumentMeta,
    OrderRequest,
    OrderStatus,
    Rejected,
    Snapshot,
    Transient,
)
from rebal.compiler import ir

from .pending import PendingStore, PendingTx
from .reader import POOL_FEE, ChainState, Reader
from .transactions import KeeperTransactions, cid_bytes, venue_call
from .venue import KeeperVenue, resolve_venue

__all__ = ["KeeperAdapter", "cid_bytes", "open_adapter"]

log = logging.getLogger("rebal.keeper")
_USD_LIKE = frozenset({"USD", "USDC", "USDT", "DAI"})
#: Gas of one Vault.rebalance (guard checks, approve, swap, after_swap), measured on anvil,
#: stated in the snapshot until a receipt gives the real figure.
GAS_USED = 260_000


def open_adapter(strategy: ir.Strategy, venue: ir.Venue, environ: Mapping[str, str],
                 state_dir: Path | None = None) -> KeeperAdapter:
    """The live layer's entry point (found through the backend registry)."""
    return KeeperAdapter(strategy, resolve_venue(strategy, venue, environ, state_dir))


class KeeperAdapter(KeeperTransactions):
    name = "keeper"

    def __init__(self, strategy: ir.Strategy, venue: KeeperVenue, *, w3: Any = None,
                 wait_s: float = 60.0, poll_s: float = 0.25, tip_gwei: float = 1.0,
                 timeout_s: float = 10.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.strategy = strategy
        self.venue = venue
        self.w3 = w3 or venue_call(lambda: connect(venue.rpc_url, timeout_s=timeout_s,
                                                    expect_chain=venue.chain_id))
        self.sender = Sender(self.w3, venue.key, venue.chain_id)
        self.reader = venue_call(lambda: Reader(self.w3, strategy, venue, self.sender.address))
        self.vault = at(self.w3, "Vault", venue.vault)
        self.pending = PendingStore(venue.state_dir)
        c = strategy.costs
        self.cap_wei = int(c.max_gas_gwei * GWEI) if c.max_gas_gwei is not None else None
        self.max_gas_cost = c.max_gas_cost
        self.slippage = float(c.max_slippage or 0)
        self.tip_wei = int(tip_gwei * GWEI)
        self.confirmations = venue.confirmations
        self.wait_s, self.poll_s, self.sleep = wait_s, poll_s, sleep
        self.skipped: list[str] = []  # messages of rebalances skipped for gas (newest last)
        self.gas_used = GAS_USED  # the gas of one rebalance: the newest receipt's, once seen

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> Snapshot:
        st = venue_call(self.reader.state)
        rd = self.reader
        mid = {rd.quote: 1.0, **st.pool_mid}
        index = {self.strategy.numeraire: 1.0, **{rd.asset_of[n]: p for n, p in st.pool_mid.items()}}
        meta = {n: InstrumentMeta(
            instrument=n, symbol=self.venue.tokens[n], kind="cash" if n == rd.quote else "spot",
            underlying=self.strategy.numeraire if n == rd.quote else rd.asset_of[n],
            settle=self.strategy.numeraire, price_ccy=self.strategy.numeraire,
            qty_step=10.0 ** -rd.units.decimals[n], taker_fee=0.0 if n == rd.quote else POOL_FEE)
            for n in [rd.quote, *rd.risky]}
        positions = {n: st.balances[n] for n in meta}
        return Snapshot(
            time_s=st.time_s, numeraire=self.strategy.numeraire, positions=positions,
            equity=sum(positions[n] * mid[n] for n in positions),
            balances={n: st.balances[n] for n in positions}, index=index, mid=mid,
            bid={n: p * (1 - POOL_FEE) for n, p in st.pool_mid.items()},
            ask={n: p * (1 + POOL_FEE) for n, p in st.pool_mid.items()},
            mark=dict(mid), oracle=dict(st.oracle),
            price_time_s=min(st.oracle_time_s.values()) if st.oracle_time_s else st.time_s,
            gas_price_gwei=(st.base_fee_wei + self.tip_wei) / GWEI,
            base_fee_gwei=st.base_fee_wei / GWEI, gas_used=float(self.gas_used),
            open_orders=self._open_orders(st), meta=meta)

    def _open_orders(self, st: ChainState) -> dict[str, OrderStatus]:
        out = {}
        for rec in self.pending.records.values():
            if rec.nonce >= st.nonce_latest and not rec.cancel:
                out[rec.client_id] = OrderStatus(rec.client_id, "", "open", 0.0, 0.0, None,
                                                 venue_id=rec.hashes[-1] if rec.hashes else "")
        return out

    # ------------------------------------------------------------------ submit
    def submit(self, order: OrderRequest) -> OrderStatus:
        cid = order.client_id
        known = self.lookup(cid)
        if known is not None:
            return known  # already on chain (or pending): never twice
        st = venue_call(self.reader.state)
        token_in, token_out, amount_in, min_out = self._amounts(order, st)
        deadline = int(st.time_s + max(600.0, 2 * self.wait_s))
        data = call_data(self.vault, "rebalance", cid_bytes(cid), token_in, token_out, amount_in,
                         min_out, deadline)
        if self.cap_wei is not None and st.base_fee_wei > self.cap_wei:
            raise Rejected(f"base fee {st.base_fee_wei / GWEI:.2f} gwei is above max gas "
                           f"{self.cap_wei / GWEI:g} gwei: not sent", code="max_gas")
        fees = fees_under_cap(st.base_fee_wei, self.tip_wei, self.cap_wei)
        gas = venue_call(lambda: self.sender.estimate(self.vault.address, data))
        self._check_gas_cost(cid, gas, fees, st)
        for _ in range(4):
            nonce = int(venue_call(lambda: self.sender.nonce("pending")))
            rec = self._sign(cid, nonce, fees, int(gas * 1.25) + 20_000, self.vault.address, data,
                             instrument=order.instrument)
            try:
                self._broadcast(rec)
                break
            except Transient as exc:
                if exc.code != "nonce_too_low":
                    raise
                log.warning("order %s: nonce %d taken by another transaction; re-signing", cid,
                            nonce)
        else:
            raise Transient("nonce kept changing under the keeper", code="nonce_too_low")
        return self._wait(rec)

    def _amounts(self, order: OrderRequest, st: ChainState) -> tuple[str, str, int, int]:
        """(token in, token out, amount in, min out) in base units. The min out honours the
        order's limit (the pool's fee is inside its price) and never falls under the guard's
        floor (the oracle-implied amount less max slippage and the fee)."""
        rd, u = self.reader, self.reader.units
        inst = order.instrument
        if inst not in rd.risky:
            raise Rejected(f"the keeper trades the risky tokens ({', '.join(rd.risky)}), not "
                           f"{inst}")
        mid, oracle = st.pool_mid[inst], st.oracle.get(rd.asset_of[inst], st.pool_mid[inst])
        keep = (1 - self.slippage - POOL_FEE) * (1 + 1e-9)  # above the guard's floor, not on it
        quote, tok = self.venue.tokens[rd.quote], self.venue.tokens[inst]
        if order.qty > 0:
            limit = order.limit_price or mid * (1 + self.slippage)
            pay = limit * (1 + POOL_FEE)
            amount_in = min(rd.amount_in_for(inst, u.to_base(inst, order.qty), st),
                            u.to_base(rd.quote, order.qty * pay))
            spent = u.to_human(rd.quote, amount_in)
            min_out = max(u.to_base(inst, spent / pay), u.to_base(inst, spent / oracle * keep) + 1)
            return quote, tok, amount_in, min_out
        limit = order.limit_price or mid * (1 - self.slippage)
        amount_in = u.to_base(inst, -order.qty)
        min_out = max(u.to_base(rd.quote, -order.qty * limit * (1 - POOL_FEE)),
                      u.to_base(rd.quote, -order.qty * oracle * keep) + 1)
        return tok, quote, amount_in, min_out

    def _native_price(self, st: ChainState) -> float | None:
        if "ETH" in st.oracle:
            return st.oracle["ETH"]
        for n, a in self.reader.asset_of.items():
            if a == "ETH":
                return st.pool_mid[n]
        return None

    def _check_gas_cost(self, cid: str, gas: int, fees: Fees, st: ChainState) -> None:
        lim = self.max_gas_cost
        price = self._native_price(st)
        if lim is None or price is None or lim.asset not in _USD_LIKE | {self.strategy.numeraire}:
            return
        per_gas = min(fees.max_fee, st.base_fee_wei + fees.tip)
        cost = gas * per_gas / 1e18 * price
        if cost > float(lim.value):
            msg = (f"rebalance {cid} skipped: estimated gas cost {cost:.2f} {lim.asset} "
                   f"({gas} gas at {per_gas / GWEI:.2f} gwei) exceeds max gas cost "
                   f"{float(lim.value):g} {lim.asset}")
            log.warning(msg)
            self.skipped.append(msg)
            raise Rejected(msg, code="max_gas_cost")

    # ------------------------------------------------------------------ waiting
    def _wait(self, rec: PendingTx) -> OrderStatus:
        deadline = time.monotonic() + self.wait_s
        while True:
            st = self.lookup(rec.client_id)
            if st is None:
                raise Transient(f"transaction of {rec.client_id} dropped before it was mined",
                                code="dropped")
            if st.final or time.monotonic() >= deadline:
                return st
            self._maybe_replace(rec)
            self.sleep(self.poll_s)

    def _maybe_replace(self, rec: PendingTx) -> None:
        """Stuck under the base fee: the same nonce with fees bumped 10%+, while the cap allows."""
        base = int(venue_call(lambda: self.w3.eth.get_block("pending")).get("baseFeePerGas") or 0)
        if rec.max_fee >= base:
            return
        bumped = Fees(rec.max_fee, rec.tip).bumped(0.125)
        want = fees_under_cap(base, bumped.tip, self.cap_wei)
        fees = Fees(max(bumped.max_fee, want.max_fee), max(bumped.tip, want.tip))
        if self.cap_wei is not None and (fees.max_fee > self.cap_wei or base > self.cap_wei):
            log.info("order %s stuck under base fee %.2f gwei; max gas %.2f gwei allows no "
                     "bump: waiting", rec.client_id, base / GWEI, self.cap_wei / GWEI)
            return
        log.info("order %s stuck under base fee %.2f gwei: replacing at nonce %d with max fee "
                 "%.2f gwei", rec.client_id, base / GWEI, rec.nonce, fees.max_fee / GWEI)
        new = self._sign(rec.client_id, rec.nonce, fees, rec.gas, rec.to, rec.data, old=rec,
                         cancel=rec.cancel)
        self._broadcast(new)

    # ------------------------------------------------------------------ cancel
    def cancel(self, client_id: str) -> OrderStatus | None:
        rec = self.pending.get(client_id)
        known = self.lookup(client_id)
        if rec is None or known is None or known.final or known.state != "open" or any(
                self._receipt(h) is not None for h in rec.hashes):
            return known
        bumped = Fees(rec.max_fee, rec.tip).bumped(0.125)
        if self.cap_wei is not None and bumped.max_fee > self.cap_wei:
            raise Transient(f"cannot replace {client_id} under max gas {self.cap_wei / GWEI:g} "
                            "gwei: waiting for it", code="max_gas")
        new = self._sign(client_id, rec.nonce, bumped, 21_000, self.sender.address, "0x",
                         old=rec, cancel=True)
        self._broadcast(new)
        end = time.monotonic() + self.wait_s
        while time.monotonic() < end:
            st = self.lookup(client_id)
            if st is None or st.final:
                return st
            self.sleep(self.poll_s)
        return self.lookup(client_id)

    # ------------------------------------------------------------------ history, close
    def history(self, asset: str, since_s: float, timeframe_s: float) -> Sequence[Candle]:
        o = self.reader.oracles.get(asset)
        if o is None:
            return []
        scale = 10 ** self.reader.units.oracle_decimals[asset]
        out: list[Candle] = []
        rid = int(venue_call(lambda: o.functions.latestRoundData().call())[0])
        for r in range(rid, max(0, rid - 500), -1):
            try:
                _, answer, _, updated, _ = o.functions.getRoundData(r).call()
            except Exception:
                break
            if updated < since_s:
                break
            p = answer / scale
            out.append(Candle(float(updated), p, p, p, p))
        return sorted(out, key=lambda c: c.t_s)

    def close(self) -> None:
        """Nothing to release: web3's HTTP sessions are pooled per process."""
