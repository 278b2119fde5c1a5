"""The keeper's own transactions: signing and broadcasting them (each one recorded in
:mod:`.pending` before it leaves), and finding out from chain what became of an order by its
client id (``lookup``: the ``Rebalanced`` event carrying it, else the recorded hashes and nonce:
filled, reverted, pending, or provably not there). Every chain error leaves as ``Rejected`` or
``Transient`` with node messages redacted (:func:`venue_call`).

Split from :mod:`.adapter` (the live layer's four verbs), whose
:class:`~.adapter.KeeperAdapter` builds on :class:`KeeperTransactions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rebal.backends.chain.tx import Fees, Sender, SendError, classify
from rebal.backends.live.adapter import OrderStatus, Rejected, Transient

from .pending import PendingStore, PendingTx
from .reader import Reader
from .venue import KeeperVenue

__all__ = ["KeeperTransactions", "cid_bytes", "venue_call"]

T = TypeVar("T")


def cid_bytes(client_id: str) -> bytes:
    """A client id as the vault's ``bytes32``: ASCII, zero-padded; longer is Rejected."""
    raw = client_id.encode("ascii")
    if len(raw) > 32:
        raise Rejected(f"client id {client_id!r} does not fit bytes32")
    return raw.ljust(32, b"\0")


def venue_call(fn: Callable[[], T]) -> T:
    """Run one chain read/write; every error leaves as Rejected or Transient, redacted."""
    try:
        return fn()
    except (Rejected, Transient):
        raise
    except Exception as exc:  # web3, requests and the node raise many types
        err = classify(exc)
        if err.kind == "revert":
            raise Rejected(f"reverted: {err.reason}", code="revert") from None
        raise Transient(_redact(str(err)), code=err.kind) from None


def _redact(text: str) -> str:
    """Node messages may echo the RPC URL (which can hold an API key): cut any URL."""
    import re

    return re.sub(r"https?://\S+", "<rpc>", text)[:300]


class KeeperTransactions:
    """Signing, broadcasting and looking up the keeper's transactions (the chain half of
    ``submit``, ``lookup`` and ``cancel``)."""

    w3: Any
    vault: Any
    venue: KeeperVenue
    sender: Sender
    reader: Reader
    pending: PendingStore
    confirmations: int
    gas_used: int


    def _sign(self, cid: str, nonce: int, fees: Fees, gas: int, to: str, data: str,
              old: PendingTx | None = None, cancel: bool = False, instrument: str = ""
              ) -> PendingTx:
        tx = self.sender.build(to, data, nonce=nonce, fees=fees, gas=gas)
        tx_hash, raw = self.sender.sign(tx)
        rec = old or PendingTx(client_id=cid, nonce=nonce, instrument=instrument)
        rec.nonce, rec.max_fee, rec.tip, rec.gas, rec.to, rec.data = (
            nonce, fees.max_fee, fees.tip, gas, to, data)
        rec.hashes = [*rec.hashes, tx_hash] if old is not None else [tx_hash]
        rec.raw, rec.cancel = "0x" + raw.hex(), cancel
        self.pending.put(rec)  # on disk before the transaction leaves
        return rec

    def _broadcast(self, rec: PendingTx) -> None:
        raw = bytes.fromhex(rec.raw.removeprefix("0x"))
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            if "already known" in str(exc).lower():
                return
            err = exc if isinstance(exc, SendError) else classify(exc)
            if err.kind == "revert":
                raise Rejected(f"reverted: {err.reason}", code="revert") from None
            raise Transient(_redact(str(err)), code=err.kind) from None

    # ------------------------------------------------------------------ lookup
    def lookup(self, client_id: str) -> OrderStatus | None:
        return venue_call(lambda: self._lookup(client_id))

    def _lookup(self, client_id: str) -> OrderStatus | None:
        b = cid_bytes(client_id)
        logs = self.vault.events.Rebalanced().get_logs(
            from_block=self.venue.from_block, argument_filters={"client_id": b})
        if logs:
            ev = logs[-1]
            receipt = self.w3.eth.get_transaction_receipt(ev["transactionHash"])
            return self._filled(client_id, ev, receipt)
        rec = self.pending.get(client_id)
        if rec is None:
            return None
        latest_nonce = int(self.w3.eth.get_transaction_count(self.sender.address, "latest"))
        for h in reversed(rec.hashes):
            receipt = self._receipt(h)
            if receipt is not None:
                if receipt["status"] == 1:
                    if rec.cancel and h == rec.hashes[-1]:
                        return OrderStatus(client_id, self._inst(rec), "cancelled", 0.0, 0.0,
                                           None, venue_id=h)
                    from web3.logs import DISCARD

                    mine = [e for e in self.vault.events.Rebalanced().process_receipt(
                        receipt, errors=DISCARD) if e.args.client_id == b]
                    if mine:  # the node's log index may lag its receipts
                        return self._filled(client_id, mine[-1], receipt)
                    continue
                return OrderStatus(client_id, self._inst(rec), "rejected", 0.0, 0.0, None,
                                   venue_id=h, reason=self._revert_reason(rec, receipt))
        if latest_nonce > rec.nonce:
            return None  # the nonce went to another transaction: ours provably did not run
        for h in reversed(rec.hashes):
            if self._in_pool(h):
                return OrderStatus(client_id, self._inst(rec), "open", 0.0, 0.0, None,
                                   venue_id=h)
        # Not mined, not in the node's pool (dropped or reorged out): re-broadcast the newest
        # signed transaction once (same nonce, same hash: it can only run once).
        try:
            self._broadcast(rec)
        except (Transient, Rejected):
            return None
        return OrderStatus(client_id, self._inst(rec), "open", 0.0, 0.0, None,
                           venue_id=rec.hashes[-1])

    def _receipt(self, h: str) -> Any:
        from web3.exceptions import TransactionNotFound

        try:
            return self.w3.eth.get_transaction_receipt(h)
        except TransactionNotFound:
            return None

    def _in_pool(self, h: str) -> bool:
        from web3.exceptions import TransactionNotFound

        try:
            tx = self.w3.eth.get_transaction(h)
        except TransactionNotFound:
            return False
        return tx is not None

    def _inst(self, rec: PendingTx) -> str:
        return rec.instrument

    def _revert_reason(self, rec: PendingTx, receipt: Any) -> str:
        try:
            self.w3.eth.call({"from": self.sender.address, "to": rec.to, "data": rec.data},
                             receipt["blockNumber"] - 1)
        except Exception as exc:
            return classify(exc).reason or "reverted"
        return "reverted (out of gas or state changed)"

    def _filled(self, client_id: str, ev: Any, receipt: Any) -> OrderStatus:
        rd, u = self.reader, self.reader.units
        by_addr = {v.lower(): k for k, v in self.venue.tokens.items()}
        tin, tout = by_addr[ev.args.token_in.lower()], by_addr[ev.args.token_out.lower()]
        ain, aout = u.to_human(tin, ev.args.amount_in), u.to_human(tout, ev.args.amount_out)
        inst = tout if tout in rd.risky else tin
        qty = aout if inst == tout else -ain
        quote_amt = ain if inst == tout else aout
        latest = int(self.w3.eth.block_number)
        depth = latest - int(receipt["blockNumber"]) + 1
        self.gas_used = int(receipt["gasUsed"])
        state = "filled" if depth >= self.confirmations else "open"
        price = self._native_price_now()
        gas_cost = (receipt["gasUsed"] * receipt["effectiveGasPrice"] / 1e18 * price
                    if price is not None else 0.0)
        return OrderStatus(client_id, inst, state, qty, qty if state == "filled" else 0.0,
                           quote_amt / abs(qty) if qty else None, fee=gas_cost,
                           venue_id="0x" + bytes(receipt["transactionHash"]).hex(),
                           time_s=float(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"]))

    def _native_price_now(self) -> float | None:
        o = self.reader.oracles.get("ETH")
        if o is None:
            return None
        return o.functions.latestRoundData().call()[1] / 10 ** self.reader.units.oracle_decimals["ETH"]
