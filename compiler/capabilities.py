"""What a backend can carry out, declared as data (ccxt's `has` map, for rebal features).

Backends publish a :class:`Capabilities`; the compiler checks every venue of a strategy
against its backend's declaration. The compiler never imports backends: the caller (the CLI
or the public API) hands it the registry's declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Support = Literal["native", "emulated", "unsupported"]

#: Every feature a strategy can ask of a venue, with words for messages.
FEATURES: dict[str, str] = {
    "instrument.spot": "spot instruments",
    "instrument.cash": "cash instruments",
    "instrument.perp": "perpetual swaps",
    "instrument.future": "dated futures",
    "instrument.option": "options",
    "target.delta": "delta targets",
    "target.greek": "gamma, vega or theta targets",
    "target.weights": "weight targets",
    "target.leverage": "leverage targets",
    "target.cppi": "CPPI targets",
    "band.optimal": "optimal (Whalley–Wilmott) bands",
    "costs.split": "order splitting (`split`)",
    "costs.budget": "cost budgets (`budget`)",
    "costs.max_gas": "gas limits (`max gas`, `max gas cost`)",
    "costs.max_funding": "funding limits (`max funding`)",
    "risk.max_orders": "order-rate limits (`max orders`)",
    "risk.oracle": "oracle conditions (`oracle_deviation`)",
    "modes": "modes",
}


#: Venue settings each built-in backend accepts (clause keys of the grammar), written once.
#: The compiler owns them because its lowering (compiler/venues.py) is what reads each one
#: into a typed config; a built-in backend declares ``settings=VENUE_SETTINGS[name]``.
VENUE_SETTINGS: dict[str, frozenset[str]] = {
    "sim": frozenset(
        "model correlation funding fee slippage impact maintenance_margin gas rate start_date "
        "horizon step paths seed collateral".split()
    ),
    "ccxt": frozenset("exchange account url sandbox on_stray".split()),
    "keeper": frozenset("chain rpc signer vault router oracle token on_stray confirmations"
                        .split()),
    "solver": frozenset("chain rpc signer vault oracle settlement valid_for token on_stray"
                        .split()),
}


@dataclass(frozen=True)
class Capabilities:
    """A backend's declaration: support per feature; anything absent is unsupported."""

    backend: str
    summary: str
    support: dict[str, Support] = field(default_factory=dict)
    settings: frozenset[str] = frozenset()
    notes: dict[str, str] = field(default_factory=dict)

    def of(self, feature: str) -> Support:
        return self.support.get(feature, "unsupported")


def all_native(backend: str, summary: str, settings: frozenset[str] = frozenset()) -> Capabilities:
    """A backend that supports every feature natively (the simulator)."""
    return Capabilities(backend, summary, {f: "native" for f in FEATURES}, settings)
