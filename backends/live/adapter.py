"""The contract between the live layer and a venue adapter: normalised data and four verbs.

An adapter does four things and nothing else (``live.md``): :meth:`Adapter.snapshot`,
:meth:`Adapter.submit`, :meth:`Adapter.lookup`, :meth:`Adapter.cancel`, plus
:meth:`Adapter.history` for ``realized_vol`` windows at start. Every decision lives in the
kernel and in ``backends/live``; an adapter converts between venue units and the spec's units
in one place (its own ``units`` module) and classifies every venue error as
:class:`Rejected` (permanent) or :class:`Transient` (retry after a lookup).

Units, everywhere in this module:

* quantities are in units of the instrument's underlying (one option = one unit), signed
  (+ long / buy, - short / sell) where a sign is meaningful;
* prices (snapshot prices and limit prices alike) are per unit of underlying in the
  strategy's numeraire: the adapter converts a venue that quotes in the coin (a Deribit option
  priced in ETH) at the venue's index, and back when it sends a limit price, in its ``units``
  module; ``price_ccy`` of :class:`InstrumentMeta` records what the venue itself quotes in;
* money (equity, fees, costs) is in the strategy's numeraire;
* times are unix epoch seconds (float).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "FINAL_STATES",
    "Adapter",
    "AdapterError",
    "Candle",
    "InstrumentMeta",
    "OrderRequest",
    "OrderState",
    "OrderStatus",
    "Rejected",
    "Snapshot",
    "Transient",
]

OrderState = Literal["open", "partial", "filled", "cancelled", "rejected", "expired"]
#: States after which the venue will never fill more of an order.
FINAL_STATES: frozenset[str] = frozenset({"filled", "cancelled", "rejected", "expired"})


class AdapterError(Exception):
    """A venue error, already redacted (no key, secret or signature in ``str(self)``)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # the venue's own error code or class name, for the journal


class Rejected(AdapterError):
    """Permanent: the venue refused the request (funds, invalid amount, revert). Never retried."""


class Transient(AdapterError):
    """The outcome is not known or the venue is briefly unavailable (network, 5xx, 429,
    timeout). The live layer looks the order up by client id before anything is re-sent.

    ``not_executed``: the venue answered that it did not carry the request out (a rate-limit
    refusal); only then may an order the lookup does not find be re-sent at once. Any other
    transient error may hide a request still in flight at the venue."""

    def __init__(self, message: str, *, code: str = "", not_executed: bool = False) -> None:
        super().__init__(message, code=code)
        self.not_executed = not_executed


@dataclass(frozen=True)
class InstrumentMeta:
    """Venue facts of one mapped instrument, in the spec's units."""

    instrument: str          # the spec's name (PERP)
    symbol: str              # the venue's symbol (ETH-PERPETUAL, or a token address)
    kind: str                # spot | cash | perp | future | option
    underlying: str          # ETH
    settle: str              # the currency P&L and margin are in (ETH for Deribit inverse)
    price_ccy: str           # the currency the venue quotes this instrument in (informative)
    min_qty: float = 0.0     # smallest order, underlying units
    qty_step: float = 0.0    # order size increment, underlying units (0: any)
    tick: float = 0.0        # price increment, in price_ccy (0: any; the adapter rounds)
    min_notional: float = 0.0  # smallest order value in the numeraire (Binance MIN_NOTIONAL)
    contract_size: float = 1.0  # the venue's contract size in its own units (informative)
    taker_fee: float = 0.0   # fraction of notional, one way
    maker_fee: float = 0.0
    expiry_s: float | None = None
    strike: float | None = None
    strike_ccy: str | None = None
    option_type: str | None = None  # call | put
    active: bool = True
    # venue amount units (additive, ccxt adapter): the step of ``Snapshot.venue_positions`` and
    # ``OrderStatus.venue_filled`` (an inverse perp: its contract size in USD)
    venue_qty_step: float = 0.0


@dataclass(frozen=True)
class OrderRequest:
    """One order the live layer wants placed: limit/IOC at ``limit_price`` (None: market)."""

    client_id: str
    instrument: str
    qty: float               # signed, underlying units (+ buy, - sell)
    limit_price: float | None  # numeraire per unit of underlying (None: market order)
    reduce_only: bool = False
    time_in_force: Literal["IOC", "GTC"] = "IOC"
    # numeraire per unit of underlying: the price the decision was made at (additive; None:
    # not known). An inverse contract's amount (USD) is converted from ``qty`` at this price,
    # the one it is expected to fill near, not at the limit (``max slippage`` away)
    ref_price: float | None = None


@dataclass(frozen=True)
class OrderStatus:
    """What the venue says about one order (found by client id)."""

    client_id: str
    instrument: str
    state: OrderState
    qty: float               # signed requested quantity, underlying units
    filled: float            # signed filled quantity, underlying units
    avg_price: float | None  # numeraire per unit of underlying
    fee: float = 0.0         # numeraire, positive = paid
    venue_id: str = ""
    reason: str = ""         # redacted venue message when rejected
    time_s: float | None = None
    # the same order in the venue's own amount units, signed (additive; None: not stated).
    # An inverse perp's underlying quantity depends on the price it is converted at, its
    # USD contracts do not: reconcile those in venue units.
    venue_qty: float | None = None
    venue_filled: float | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Candle:
    """One OHLCV bar of an asset's price in the numeraire (epoch seconds at the bar's open)."""

    t_s: float
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    """Normalised venue state at one time (``live.md``: The snapshot)."""

    time_s: float                                  # venue time of the snapshot
    numeraire: str
    positions: Mapping[str, float]                 # instrument -> underlying units (signed)
    equity: float                                  # numeraire
    balances: Mapping[str, float] = field(default_factory=dict)  # currency -> amount
    index: Mapping[str, float] = field(default_factory=dict)     # asset -> numeraire price
    mid: Mapping[str, float] = field(default_factory=dict)       # instrument -> numeraire
    bid: Mapping[str, float] = field(default_factory=dict)
    ask: Mapping[str, float] = field(default_factory=dict)
    mark: Mapping[str, float] = field(default_factory=dict)
    iv: Mapping[str, float] = field(default_factory=dict)        # option -> implied vol (1.0 = 100%)
    funding: Mapping[str, float] = field(default_factory=dict)   # instrument -> annual rate
    price_time_s: float | None = None              # time of the newest price used
    oracle: Mapping[str, float] = field(default_factory=dict)    # asset -> independent price
    gas_price_gwei: float | None = None            # on-chain: current gas price
    base_fee_gwei: float | None = None
    gas_used: float | None = None                  # on-chain: gas of one rebalance transaction
    maintenance_margin: float | None = None        # fraction of notional, as the venue states
    open_orders: Mapping[str, OrderStatus] = field(default_factory=dict)  # client id -> status
    meta: Mapping[str, InstrumentMeta] = field(default_factory=dict)      # instrument -> facts
    foreign: Mapping[str, float] = field(default_factory=dict)  # unmapped venue positions
    # instrument -> signed position in the venue's own amount units (additive; USD contracts
    # of an inverse perp, coins otherwise), exact where ``positions`` moves with the price
    venue_positions: Mapping[str, float] = field(default_factory=dict)
    # instrument -> maintenance margin as a fraction of its notional, as the venue states it
    # for that instrument (additive; the venue's margin of the position held, else its rate
    # for a small one); an option's is a fraction of its underlying notional |q| x index (a
    # short option's margin; none for a long); perps and futures not listed take
    # ``maintenance_margin``, options not listed none
    maintenance: Mapping[str, float] = field(default_factory=dict)
    # instrument -> the venue's maintenance tiers, lowest first, each (notional floor in the
    # numeraire, rate of notional, cum in the numeraire): the requirement of a notional N in
    # tier k is rate_k |N| - cum_k (additive; ccxt's unified leverage tiers, Binance's
    # brackets). Where listed they take precedence over ``maintenance`` (the kernel reads
    # the tier of the post-trade notional, ``kernel/margin.py``)
    margin_tiers: Mapping[str, tuple[tuple[float, float, float], ...]] = field(
        default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    """A venue as the live layer sees it. Implementations raise only :class:`AdapterError`s."""

    name: str  # backend name: ccxt, keeper, solver

    def snapshot(self) -> Snapshot:
        """Read the venue now: positions, equity, prices, metadata, open orders."""
        ...

    def submit(self, order: OrderRequest) -> OrderStatus:
        """Place one order with its client id; the returned status may be final (IOC)."""
        ...

    def lookup(self, client_id: str) -> OrderStatus | None:
        """The venue's record of ``client_id`` (open or recent), or None when the venue
        provably does not have it (only then may the live layer re-send it)."""
        ...

    def cancel(self, client_id: str) -> OrderStatus | None:
        """Cancel an open order; its final status, or None when the venue has no such order."""
        ...

    def history(self, asset: str, since_s: float, timeframe_s: float) -> Sequence[Candle]:
        """Candles of ``asset`` in the numeraire from ``since_s`` (for ``realized_vol``)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
