"""From an order of the kernel to a GPv2 intent, and from the order book's record back to an
order status, in the spec's units.

The limit is the kernel's (``OrderRequest.limit_price``: the oracle mid moved by ``max
slippage``, computed once in ``backends/kernel``); without one the intent's limit is the mid
itself. A sell of the risky token is a ``sell`` order (sell exactly ``|qty|``, receive at least
``|qty| x limit`` of the cash token, rounded up). A buy is a ``sell`` order of the cash token:
pay exactly ``qty x mid`` (the order's value at the oracle, so its size is the size the guard
and ``split`` measure), receive at least ``qty x mid / limit`` of the risky token (rounded
up); what it receives is the fill. ``validTo`` is now plus ``valid for``;
``appData`` carries the client id. The kernel's ``split`` children arrive as separate orders
with their own client ids, so a split becomes a sequence of smaller intents over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from rebal.backends.live.adapter import OrderRequest, OrderState, OrderStatus, Rejected
from rebal.compiler import ir

from .appdata import app_data_doc, app_data_hash
from .gpv2 import Order, typed_data
from .signing import SignedOrder

__all__ = ["Intent", "IntentVenue", "build_intent"]


@dataclass(frozen=True)
class IntentVenue:
    """What building intents needs of a solver venue, resolved once."""

    name: str
    chain_id: int
    settlement: str
    vault: str | None
    valid_for_s: int
    cash: str                       # the cash instrument intents pay and receive
    tokens: Mapping[str, str]       # instrument -> token address
    decimals: Mapping[str, int]     # instrument -> token decimals
    oracles: Mapping[str, str]      # asset -> Chainlink-style aggregator

    @classmethod
    def of(cls, strategy: ir.Strategy, venue: ir.Venue, decimals: Mapping[str, int]
           ) -> IntentVenue:
        cfg = venue.config
        assert isinstance(cfg, ir.SolverConfig)
        cash = [i.name for i in strategy.instruments
                if i.kind == "cash" and i.name in venue.symbols]
        if not cash:
            raise Rejected(f"venue {venue.name} maps no cash token for intents to pay in")
        numeraire = [c for c in cash if strategy.instrument(c).underlying == strategy.numeraire]
        return cls(name=venue.name, chain_id=cfg.chain, settlement=cfg.settlement or "",
                   vault=cfg.vault, valid_for_s=int(cfg.valid_for_s),
                   cash=(numeraire or cash)[0], tokens=dict(venue.symbols),
                   decimals=dict(decimals), oracles=dict(cfg.oracles))

    def units(self, instrument: str, amount: Decimal, rounding: str) -> int:
        scaled = amount.scaleb(self.decimals[instrument])
        return int(scaled.to_integral_value(rounding=rounding))

    def status(self, client_id: str, data: Mapping[str, Any], state: str) -> OrderStatus:
        """An order-book record as an :class:`OrderStatus` of the risky instrument."""
        sell = str(data["sellToken"]).lower()
        inst = next((n for n, a in self.tokens.items()
                     if a.lower() in (sell, str(data["buyToken"]).lower()) and n != self.cash),
                    self.cash)
        scale = 10.0 ** self.decimals[inst]
        cash_scale = 10.0 ** self.decimals[self.cash]
        selling = self.tokens[inst].lower() == sell
        sold = int(data.get("executedSellAmountBeforeFees") or 0)
        bought = int(data.get("executedBuyAmount") or 0)
        if selling:
            qty, filled = -int(data["sellAmount"]) / scale, -sold / scale
            cash_amount = bought / cash_scale
        else:
            qty, filled = int(data["buyAmount"]) / scale, bought / scale
            cash_amount = sold / cash_scale
        if state == "open" and filled != 0.0:
            state = "partial"
        st: OrderState = state  # type: ignore[assignment]
        return OrderStatus(
            client_id=client_id, instrument=inst, state=st, qty=qty, filled=filled,
            avg_price=cash_amount / abs(filled) if filled else None,
            fee=int(data.get("executedFeeAmount") or 0) / (scale if selling else cash_scale),
            venue_id=str(data["uid"]), time_s=None)


@dataclass(frozen=True)
class Intent:
    """One intent: the order, why it has these amounts, and (once signed) its proof."""

    client_id: str
    instrument: str
    qty: float
    mid: float
    limit_price: float
    order: Order
    app_data_doc: str
    chain_id: int
    settlement: str
    signed_order: SignedOrder | None = None
    uid: bytes = b""

    def signed(self, signed: SignedOrder, uid: bytes) -> Intent:
        return replace(self, signed_order=signed, uid=uid)

    def plan_view(self) -> dict[str, Any]:
        """Everything a reviewer needs to check the intent with any EIP-712 tool."""
        out: dict[str, Any] = {
            "client_id": self.client_id, "instrument": self.instrument, "qty": self.qty,
            "mid": self.mid, "limit_price": self.limit_price,
            "typed_data": typed_data(self.order, self.chain_id, self.settlement),
            "app_data": self.app_data_doc,
        }
        if self.signed_order is not None:
            out.update({
                "owner": self.signed_order.owner, "signing_scheme": self.signed_order.scheme,
                "digest": "0x" + self.signed_order.digest.hex(), "uid": "0x" + self.uid.hex(),
                "signature": "0x" + self.signed_order.signature.hex(),
            })
        return out


def build_intent(iv: IntentVenue, order: OrderRequest, *, now_s: float, mid: float,
                 owner: str) -> Intent:
    """The unsigned intent for ``order`` at chain time ``now_s`` and oracle ``mid``."""
    if order.instrument == iv.cash:
        raise Rejected("an intent trades the risky token against the cash token; an order "
                       "on the cash token itself is not an intent")
    if order.instrument not in iv.tokens:
        raise Rejected(f"instrument {order.instrument} has no token on venue {iv.name}")
    if order.qty == 0.0:
        raise Rejected("an intent of zero size")
    limit = order.limit_price if order.limit_price is not None else mid
    if not limit > 0.0:
        raise Rejected(f"limit price {limit} is not positive")
    size = abs(Decimal(repr(order.qty)))
    value = size * Decimal(repr(limit))
    inst, cash = order.instrument, iv.cash
    doc = app_data_doc(order.client_id)
    common: dict[str, Any] = dict(valid_to=int(now_s) + iv.valid_for_s,
                                  app_data=app_data_hash(doc))
    if order.qty < 0:
        gp = Order(sell_token=iv.tokens[inst], buy_token=iv.tokens[cash],
                   sell_amount=iv.units(inst, size, ROUND_FLOOR),
                   buy_amount=iv.units(cash, value, ROUND_CEILING), kind="sell", **common)
    else:  # pay exactly the order's value at the mid, receive at least value / limit
        paid = size * Decimal(repr(mid))
        gp = Order(sell_token=iv.tokens[cash], buy_token=iv.tokens[inst],
                   sell_amount=iv.units(cash, paid, ROUND_FLOOR),
                   buy_amount=iv.units(inst, paid / Decimal(repr(limit)), ROUND_CEILING),
                   kind="sell", **common)
    if gp.sell_amount == 0 or gp.buy_amount == 0:
        raise Rejected(f"intent for {order.qty} {inst} rounds to zero token units")
    del owner  # the owner enters through the signature and the UID, not the struct
    return Intent(order.client_id, inst, order.qty, mid, limit, gp, doc, iv.chain_id,
                  iv.settlement)
