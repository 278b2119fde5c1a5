"""What the ccxt backend (centralized exchanges) supports, as data.

Light on purpose: `rebal check` imports this module, never ccxt itself.
"""

from __future__ import annotations

from rebal.compiler.capabilities import VENUE_SETTINGS, Capabilities

#: Venue settings a `via ccxt` block accepts: the compiler's table, written once.
SETTINGS = VENUE_SETTINGS["ccxt"]

CAPABILITIES = Capabilities(
    backend="ccxt",
    summary="Centralized exchanges through ccxt: spot, perpetuals, dated futures and options.",
    support={
        "instrument.spot": "native",
        "instrument.cash": "native",
        "instrument.perp": "native",
        "instrument.future": "native",
        "instrument.option": "native",
        "target.delta": "native",
        "target.greek": "native",
        "target.weights": "native",
        "target.leverage": "native",
        "target.cppi": "native",
        "band.optimal": "native",
        "costs.split": "emulated",
        "costs.budget": "emulated",
        "costs.max_gas": "unsupported",
        "costs.max_funding": "native",
        "risk.max_orders": "native",
        "risk.oracle": "emulated",
        "modes": "native",
    },
    settings=SETTINGS,
    notes={
        "target.greek": "greeks are moved with the exchange's options",
        "costs.split": "rebal sends one child order per period itself (exchanges have no "
        "common TWAP order type)",
        "costs.budget": "rebal adds up fees and slippage from the fills it receives",
        "costs.max_gas": "an exchange has no gas; remove `max gas`/`max gas cost` or give "
        "this strategy an on-chain venue only",
        "risk.oracle": "the exchange's index price stands in for the oracle",
    },
)
