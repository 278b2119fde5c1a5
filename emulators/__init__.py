"""Exchange emulators: loopback servers that speak real venue APIs, for tests and rehearsals.

Start one in a test (it serves from a background thread on a free port)::

    from rebal.emulators import Emulator

    with Emulator("deribit", api_key="k", secret="s", speed=0) as emu:
        exchange = ccxt.deribit({"apiKey": "k", "secret": "s"})
        exchange.urls["api"] = {"rest": emu.url}
        emu.set_price("ETH", 3100)
        emu.add_fault("lost", on="order")
        ...
        emu.orders()        # every order the venue saw

``speed``: 1 real time, N accelerated, 0 a clock moved only by :meth:`Emulator.advance`.
Prices follow a sim venue of a spec (``spec=``/``sim_venue=``) or stay at their defaults until
set. Venues are listed in :data:`VENUES` (name -> builder), so a new one is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .control import ControlClient
from .faults import Fault, FaultBook, parse_fault
from .ledger import Contract, Ledger
from .market import Clock, Market
from .server import Server, VenueAPI

__all__ = ["VENUES", "ControlClient", "Emulator", "Fault", "VenueKit", "parse_fault"]


@dataclass(frozen=True)
class VenueKit:
    """What one venue brings: its contracts, default prices/vols/balances, its API class."""

    contracts: Callable[[], list[Contract]]
    spots: Mapping[str, float]
    vols: Mapping[str, float]
    balances: Mapping[str, float]
    api: Callable[[Ledger, dict[str, tuple[str, str]]], VenueAPI]
    default_funding: float = 0.10  # annual rate on every perpetual unless a spec says


def _deribit() -> VenueKit:
    from . import deribit

    return VenueKit(deribit.contracts, deribit.DEFAULT_SPOTS, deribit.DEFAULT_VOLS,
                    deribit.DEFAULT_BALANCES, deribit.DeribitAPI)


def _binance() -> VenueKit:
    from . import binance

    return VenueKit(binance.contracts, binance.DEFAULT_SPOTS, binance.DEFAULT_VOLS,
                    binance.DEFAULT_BALANCES, binance.BinanceAPI)


VENUES: dict[str, Callable[[], VenueKit]] = {"deribit": _deribit, "binanceusdm": _binance}


def _perp_names(contracts: list[Contract]) -> dict[str, str]:
    """Venue id and ccxt unified symbol of each perpetual -> its venue id."""
    out: dict[str, str] = {}
    for c in contracts:
        if c.kind == "perp":
            quote = "USD" if c.inverse else c.quote
            out[c.name] = out[f"{c.base}/{quote}:{c.settle}"] = c.name
    return out


def _sim_market(clock: Clock, kit: VenueKit, spec: str | Path, sim_venue: str,
                ) -> tuple[Market, dict[str, float]]:
    """A market following ``sim_venue`` of ``spec``; the funding its sim venue gives the
    perpetuals the spec's venue blocks map (by exchange id or unified symbol)."""
    from rebal.compiler import compile_file
    from rebal.compiler.ir import SimConfig

    ir, diagnostics = compile_file(str(spec))
    if ir is None:
        shown = "; ".join(str(d) for d in diagnostics[:3])
        raise ValueError(f"{spec} does not compile: {shown}")
    names = [v.name for v in ir.venues]
    if sim_venue not in names:
        raise ValueError(f"{spec} has no venue {sim_venue!r} (venues: {', '.join(names)})")
    venue = ir.venue(sim_venue)
    if not isinstance(venue.config, SimConfig):
        raise ValueError(f"venue {sim_venue!r} of {spec} runs via {venue.backend}, not via sim")
    market = Market.from_sim_venue(clock, venue.config, kit.spots, kit.vols,
                                   base_dir=Path(spec).resolve().parent)
    perps = _perp_names(kit.contracts())
    funding: dict[str, float] = {}
    for f in venue.config.funding:
        for v in ir.venues:
            name = perps.get(v.symbols.get(f.instrument, ""))
            if name is not None:
                funding[name] = float(f.rate_per_year)
    return market, funding


class Emulator:
    """One emulated venue: ledger, market, faults and an HTTP server on 127.0.0.1."""

    def __init__(self, venue: str, *, api_key: str, secret: str, port: int = 0,
                 speed: float = 1.0, spec: str | Path | None = None,
                 sim_venue: str | None = None, prices: Mapping[str, float] | None = None,
                 vols: Mapping[str, float] | None = None,
                 balances: Mapping[str, float] | None = None,
                 faults: tuple[Fault | str, ...] = (), funding: float | None = None,
                 seed: int = 0, start_s: float | None = None) -> None:
        if venue not in VENUES:
            raise ValueError(f"no emulator for {venue!r}; known: {', '.join(VENUES)}")
        if not api_key or not secret:
            raise ValueError("an emulator needs an API key and secret to check signatures")
        kit = VENUES[venue]()
        self.venue = venue
        # venue time starts now, or at ``start_s`` (epoch seconds: a simulator's start date,
        # so options have the time to expiry they have there)
        self.clock = Clock(speed, None if start_s is None else start_s * 1000.0)
        spec_funding: dict[str, float] = {}
        if spec is not None:
            if not sim_venue:
                raise ValueError("--spec needs --venue naming one of its sim venues")
            self.market, spec_funding = _sim_market(self.clock, kit, spec, sim_venue)
        else:
            self.market = Market(self.clock, kit.spots, {**kit.vols, **(vols or {})},
                                 seed=seed)
        for asset, price in (prices or {}).items():
            self.market.set_price(asset, price)
        contracts = kit.contracts()
        rate = kit.default_funding if funding is None else funding
        funding_map = {c.name: rate for c in contracts if c.kind == "perp"}
        funding_map.update(spec_funding)
        self.ledger = Ledger(self.market, contracts, funding_map)
        self.ledger.open_account("main", dict(balances or kit.balances))
        self.credentials = {api_key: (secret, "main")}
        self.api = kit.api(self.ledger, self.credentials)
        self.faults = FaultBook(seed=seed)
        self.faults.add(*(parse_fault(f) if isinstance(f, str) else f for f in faults))
        self.server = Server(self.api, self.faults, port)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> Emulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    def add_fault(self, kind: str, **settings: Any) -> Fault:
        fault = Fault(kind, **settings)
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()
        self.market.thaw()

    def set_price(self, asset: str, price: float | None, vol: float | None = None) -> None:
        self.market.set_price(asset, price, vol)

    def set_position(self, contract: str, size: float, *, side: str = "BOTH",
                     account: str = "main") -> None:
        self.ledger.set_position(account, contract, size, side=side)

    def set_balance(self, currency: str, amount: float, account: str = "main") -> None:
        with self.ledger.lock:
            self.ledger.account(account).balances[currency] = float(amount)

    def advance(self, seconds: float) -> float:
        return self.clock.advance(seconds)

    def orders(self) -> list[dict[str, Any]]:
        with self.ledger.lock:
            return [o.as_dict() for o in self.ledger.orders]

    def state(self) -> dict[str, Any]:
        return self.server.state()
