"""The solver venue as the live layer sees it: rebalances as signed GPv2 intents.

``submit`` turns an order of the kernel into an intent (:mod:`.intents`), signs it (EIP-712
by the signer, or EIP-1271 for the venue's vault), remembers its UID *before* the POST and
posts it to the order book at ``$REBAL_ORDERBOOK_URL`` (default: CoW's own order book for
the chain, :data:`~.client.DEFAULT_URLS`). ``lookup`` finds an intent by client id: by the
UID it remembers, else by the ``appData`` document on the owner's orders (after a restart),
so a lost POST answer is reconciled by UID before anything is re-sent. An open intent rests
at the book until its ``validTo`` (:meth:`SolverAdapter.rest_s` tells the live layer so, since
solvers take seconds to minutes); one that expires unfilled is reported ``expired``: the
live layer re-plans, never re-sends blindly.
``cancel`` is CoW's signed off-chain cancellation for an EIP-712 owner and the on-chain
``invalidateOrder`` (through the vault) for an EIP-1271 one.

A vault's intent is *placed* before it is posted (``Vault.place_intent``, a keeper
transaction): the guard checks every rule of the spec, timing included, and counts the intent
as a swap (cooldown, split period, ``max orders per``); the vault validates only placed
intents. A placement the guard refuses is ``Rejected`` with the rule's reason. Each intent is
recorded (:mod:`.store`, in the state folder) before it is placed or posted: after a crash
between the placement and the POST, ``lookup`` finds it placed on chain but not in the book
and posts the very same signed order; an intent is never placed twice.

A local rehearsal (``rebal keeper deploy SPEC --venue V --local``) writes ``deployment.json``
to the state folder; :func:`open_adapter` reads it from ``state_dir`` and uses its chain,
settlement, vault, token and oracle addresses in place of the spec's mainnet ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rebal.backends.chain.client import connect
from rebal.backends.chain.deploy import at, call_data
from rebal.backends.chain.tx import Sender, SendError
from rebal.backends.chain.vault import load_deployment
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

from . import api
from .appdata import client_id_of
from .capabilities import rpc_env_of
from .client import DEFAULT_URLS, OrderBookClient
from .gpv2 import domain_separator, order_uid
from .intents import Intent, IntentVenue, build_intent
from .signing import Signer, sign_order
from .store import IntentRecord, IntentStore

__all__ = ["BOOK_URL_ENV", "SolverAdapter", "open_adapter"]

#: The environment variable that points the adapter at an order book (a local one, a
#: staging one); unset: CoW's public order book of the venue's chain.
BOOK_URL_ENV = "REBAL_ORDERBOOK_URL"

_STATES = {"open": "open", "presignaturePending": "open", "fulfilled": "filled",
           "cancelled": "cancelled", "expired": "expired"}
#: Gas of one Vault.place_intent (the guard's checks and bookkeeping), measured on anvil:
#: what a vault's intent costs its keeper until a receipt gives the real figure.
PLACE_GAS = 150_000
GWEI = 1e9

log = logging.getLogger("rebal.solver")


class SolverAdapter:
    name = "solver"

    def __init__(self, strategy: ir.Strategy, venue: ir.Venue, w3: Any, signer: Signer,
                 book: OrderBookClient, *, state_dir: Path | None = None) -> None:
        cfg = venue.config
        assert isinstance(cfg, ir.SolverConfig)
        if not cfg.settlement:
            raise Rejected(f"venue {venue.name}: `settlement` is not set")
        self.strategy, self.venue, self.w3, self.signer, self.book = (
            strategy, venue, w3, signer, book)
        self.owner = cfg.vault or signer.address
        self.domain = domain_separator(cfg.chain, cfg.settlement)
        self.decimals = {name: int(at(w3, "Token", addr).functions.decimals().call())
                         for name, addr in venue.symbols.items()}
        self.iv = IntentVenue.of(strategy, venue, self.decimals)
        self.store = IntentStore(state_dir)  # what was signed, before it leaves
        self.tip_wei = int(GWEI)
        # an EIP-712 owner pays no gas (solvers do); a vault's keeper pays each placement
        self.gas_used = PLACE_GAS if self.iv.vault is not None else 0
        self._keeper: Sender | None = None

    # ---------------------------------------------------------------- reading
    def _oracle(self, asset: str) -> tuple[float, float]:
        address = self.iv.oracles.get(asset)
        if address is None:
            raise Rejected(f"venue {self.venue.name} has no `oracle {asset}`")
        agg = at(self.w3, "Aggregator", address)
        _, answer, _, updated, _ = agg.functions.latestRoundData().call()
        return float(answer) / 10 ** int(agg.functions.decimals().call()), float(updated)

    def snapshot(self) -> Snapshot:
        try:
            block = self.w3.eth.get_block("latest")
            positions: dict[str, float] = {}
            balances: dict[str, float] = {}
            mid: dict[str, float] = {}
            index: dict[str, float] = {self.strategy.numeraire: 1.0}
            times = []
            meta = {}
            for inst in self.strategy.instruments:
                address = self.venue.symbols.get(inst.name)
                if address is None:
                    continue
                raw = at(self.w3, "Token", address).functions.balanceOf(self.owner).call()
                qty = int(raw) / 10 ** self.decimals[inst.name]
                positions[inst.name] = qty
                balances[inst.underlying] = qty
                if inst.kind == "cash" and inst.underlying == self.strategy.numeraire:
                    mid[inst.name] = 1.0
                else:
                    price, updated = self._oracle(inst.underlying)
                    mid[inst.name] = index[inst.underlying] = price
                    times.append(updated)
                meta[inst.name] = InstrumentMeta(
                    instrument=inst.name, symbol=address, kind=inst.kind,
                    underlying=inst.underlying, settle=self.strategy.numeraire,
                    price_ccy=self.strategy.numeraire,
                    qty_step=10.0 ** -self.decimals[inst.name])
            opens = {st.client_id: st for st in self._rebal_orders() if not st.final}
        except (Rejected, Transient):
            raise
        except Exception as exc:
            raise Transient(f"reading the chain failed: {type(exc).__name__}") from None
        equity = sum(positions[n] * mid[n] for n in positions)
        return Snapshot(
            time_s=float(block["timestamp"]), numeraire=self.strategy.numeraire,
            positions=positions, equity=equity, balances=balances, index=index, mid=mid,
            bid=dict(mid), ask=dict(mid), mark=dict(mid), oracle=dict(index),
            price_time_s=min(times) if times else None,
            base_fee_gwei=float(block.get("baseFeePerGas") or 0) / GWEI,
            gas_price_gwei=(float(block.get("baseFeePerGas") or 0) + self.tip_wei) / GWEI,
            gas_used=float(self.gas_used), open_orders=opens, meta=meta)

    # ---------------------------------------------------------------- intents
    def intent(self, order: OrderRequest, *, now_s: float | None = None,
               mid: float | None = None) -> Intent:
        """The signed intent ``submit`` would post for ``order`` (also what a plan shows)."""
        if now_s is None:
            now_s = float(self.w3.eth.get_block("latest")["timestamp"])
        if mid is None:
            inst = self.strategy.instrument(order.instrument)
            mid = self._oracle(inst.underlying)[0]
        unsigned = build_intent(self.iv, order, now_s=now_s, mid=mid, owner=self.owner)
        signed = sign_order(unsigned.order, self.domain, self.signer,
                            vault=self.iv.vault)
        uid = order_uid(signed.digest, self.owner, unsigned.order.valid_to)
        return unsigned.signed(signed, uid)

    def plan_view(self, orders: Sequence[OrderRequest]) -> list[dict[str, Any]]:
        """For ``rebal plan``: each order's intent (typed data, digest, UID, signature).

        Nothing is posted; the signatures are real, so a reviewer can check them with any
        EIP-712 tool, and ``submit`` later signs the same fields (validTo moves with time)."""
        now = float(self.w3.eth.get_block("latest")["timestamp"])
        return [self.intent(o, now_s=now).plan_view() for o in orders]

    def _chain_time(self) -> float:
        try:
            return float(self.w3.eth.get_block("latest")["timestamp"])
        except Exception as exc:
            raise Transient(f"reading the chain failed: {type(exc).__name__}") from None

    def submit(self, order: OrderRequest) -> OrderStatus:
        now = self._chain_time()
        rec = self.store.get(order.client_id)
        if rec is not None and rec.valid_to <= now:
            if self._placed(rec):  # the guard counted it: one placement per client id
                raise Rejected("this client id's intent was placed and expired; it is not "
                               "placed again (the kernel re-plans)", code="expired")
            rec = None  # never placed nor seen by the book (a send the venue refused)
        if rec is None:
            intent = self.intent(order, now_s=now)
            assert intent.signed_order is not None
            rec = IntentRecord(order.client_id, "0x" + intent.uid.hex(),
                               "0x" + intent.signed_order.digest.hex(), intent.order.valid_to,
                               api.order_creation(intent.signed_order, intent.app_data_doc))
            self.store.put(rec)  # known (on disk) before it is placed or posted
        if self.iv.vault is not None:
            self._place(rec)
        return self._post(rec)

    def _post(self, rec: IntentRecord) -> OrderStatus:
        """POST the recorded signed order (the same bytes every time: the same UID)."""
        try:
            got = self.book.post_order(rec.body)
        except Rejected as exc:
            if exc.code != "DuplicatedOrder":
                raise
            got = rec.uid  # already there: this very intent was accepted before
        if got.lower() != rec.uid.lower():
            raise Rejected(f"the order book answered UID {got[:18]}..., not the intent's")
        data = self.book.get_order(rec.uid)
        if data is None:
            raise Transient("the order book accepted the intent but does not list it yet")
        return self._status(rec.client_id, data)

    def rest_s(self, status: OrderStatus) -> float | None:
        """How long an open intent may still rest at the order book: until its ``validTo``
        (chain time), for solvers take seconds to minutes; the live layer neither cancels
        it before then nor re-plans it until it is filled or expired."""
        uid = bytes.fromhex(status.venue_id.removeprefix("0x")) if status.venue_id else b""
        if len(uid) != 56:
            return None
        return max(0.0, int.from_bytes(uid[52:], "big") - self._chain_time())

    def _sender(self) -> Sender:
        if self._keeper is None:
            self._keeper = Sender(self.w3, self.signer.account.key, self.iv.chain_id)
        return self._keeper

    def _place(self, rec: IntentRecord) -> None:
        """Place a vault's intent on chain (once per digest): the guard meters it like a swap."""
        order = api.parse_creation(rec.body)[0]
        vault = at(self.w3, "Vault", str(self.iv.vault))
        try:
            if vault.functions.placed(api.unhex(rec.digest)).call():
                return  # placed before (a re-send of the same bytes, a restart)
            receipt = self._sender().transact(
                vault.address, call_data(vault, "place_intent", order.as_tuple()))
        except SendError as exc:
            if exc.kind == "revert":
                raise Rejected(f"the vault refused the intent: {exc.reason or exc}",
                               code="revert") from None
            raise Transient(f"placing the intent failed: {exc.kind}", code=exc.kind) from None
        except (Rejected, Transient):
            raise
        except Exception as exc:
            raise Transient(f"placing the intent failed: {type(exc).__name__}") from None
        self.gas_used = int(receipt["gasUsed"])

    def lookup(self, client_id: str) -> OrderStatus | None:
        rec = self.store.get(client_id)
        if rec is not None:
            data = self.book.get_order(rec.uid)
            if data is not None:
                return self._status(client_id, data)
            if self._placed_unposted(rec):  # a crash between the placement and the POST
                log.warning("intent %s is placed on chain but not in the order book; posting "
                            "the same signed order (not placing it again)", client_id)
                return self._post(rec)
            return None
        for st in self._rebal_orders():
            if st.client_id == client_id:
                return st
        return None

    def _placed(self, rec: IntentRecord) -> bool:
        """Whether a vault's intent is placed on chain (the guard counted it)."""
        if self.iv.vault is None:
            return False
        try:
            vault = at(self.w3, "Vault", str(self.iv.vault))
            return bool(vault.functions.placed(api.unhex(rec.digest)).call())
        except Exception as exc:
            raise Transient(f"reading the vault failed: {type(exc).__name__}") from None

    def _placed_unposted(self, rec: IntentRecord) -> bool:
        """A vault's intent placed on chain, still valid (and not in the book: the caller)."""
        return self._placed(rec) and rec.valid_to > self._chain_time()

    def cancel(self, client_id: str) -> OrderStatus | None:
        st = self.lookup(client_id)
        if st is None:
            return None
        if st.final:
            return st
        uid = bytes.fromhex(st.venue_id.removeprefix("0x"))
        if self.iv.vault is None:
            sig = self.signer.sign_digest(api.cancellation_digest([uid], self.domain))
            self.book.cancel([st.venue_id], "0x" + sig.hex())
        else:  # a contract owner cancels on-chain: the vault calls invalidateOrder
            vault = at(self.w3, "Vault", self.iv.vault)
            try:
                self._sender().transact(vault.address,
                                        call_data(vault, "invalidate_order", uid))
            except SendError as exc:
                if exc.kind == "revert":
                    raise Rejected(f"invalidating the intent reverted: {exc.reason}") from None
                raise Transient(f"invalidating the intent failed: {exc.kind}") from None
        return self.lookup(client_id)

    def history(self, asset: str, since_s: float, timeframe_s: float) -> Sequence[Candle]:
        return ()  # an oracle has no candles; realized_vol windows fill from snapshots

    def close(self) -> None:
        pass

    # ---------------------------------------------------------------- shapes
    def _rebal_orders(self) -> list[OrderStatus]:
        out = []
        for data in self.book.account_orders(self.owner):
            cid = client_id_of(str(data.get("appData", "")))
            if cid is not None:
                out.append(self._status(cid, data))
        return out

    def _status(self, client_id: str, data: Mapping[str, Any]) -> OrderStatus:
        return self.iv.status(client_id, data, _STATES.get(str(data.get("status")), "open"))


def with_deployment(venue: ir.Venue, state_dir: Path | None) -> ir.Venue:
    """``venue`` with the addresses of the state folder's ``deployment.json`` (a local
    rehearsal from ``rebal keeper deploy --local``), or unchanged when there is none."""
    dep = load_deployment(Path(state_dir)) if state_dir is not None else None
    if dep is None:
        return venue
    cfg = venue.config
    assert isinstance(cfg, ir.SolverConfig)
    stands_for = dep.spec_chain if dep.local else dep.chain_id
    if stands_for != cfg.chain:
        raise Rejected(f"{state_dir}/deployment.json is for chain {stands_for}, the spec says "
                       f"chain {cfg.chain}")
    if not dep.settlement:
        raise Rejected(f"{state_dir}/deployment.json names no settlement: it is not an intents "
                       f"deployment (`rebal keeper deploy SPEC --venue {venue.name} --local`)")
    new = cfg.model_copy(update={"chain": dep.chain_id, "settlement": dep.settlement,
                                 "vault": dep.vault, "oracles": {**cfg.oracles, **dep.oracles}})
    return venue.model_copy(update={"config": new, "symbols": {**venue.symbols, **dep.tokens}})


def open_adapter(strategy: ir.Strategy, venue: ir.Venue, environ: Mapping[str, str],
                 state_dir: Path | None = None) -> SolverAdapter:
    """The live layer's entry point: settings from the venue (and a local rehearsal's
    ``deployment.json`` in ``state_dir``), secrets from ``environ``."""
    venue = with_deployment(venue, state_dir)
    cfg = venue.config
    assert isinstance(cfg, ir.SolverConfig)
    rpc_env = rpc_env_of(venue)
    if not environ.get(rpc_env):
        how = "its `rpc env`" if cfg.rpc_env else "a venue without `rpc env NAME` reads it there"
        raise Rejected(f"venue {venue.name}: set ${rpc_env} to the chain's RPC URL ({how})")
    if not cfg.signer_env:
        raise Rejected(f"venue {venue.name} needs `signer env NAME`")
    unpriced = sorted({i.underlying for i in strategy.instruments
                       if i.name in venue.symbols and i.underlying not in cfg.oracles
                       and not (i.kind == "cash" and i.underlying == strategy.numeraire)})
    if unpriced:
        raise Rejected(f"venue {venue.name} has no price feed for {', '.join(unpriced)}: add "
                       f"`oracle {unpriced[0]} \"0x...\"` to the venue, or run it on a local "
                       "rehearsal's --state (its deployment.json names the oracles)")
    signer = Signer.from_env(cfg.signer_env, dict(environ))
    w3 = connect(environ[rpc_env], expect_chain=cfg.chain)
    url = environ.get(BOOK_URL_ENV) or DEFAULT_URLS.get(cfg.chain)
    if not url:
        raise Rejected(f"no order book known for chain {cfg.chain}: set {BOOK_URL_ENV}")
    return SolverAdapter(strategy, venue, w3, signer, OrderBookClient(url),
                         state_dir=state_dir)


