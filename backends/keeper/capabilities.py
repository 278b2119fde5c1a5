"""What the keeper backend (an on-chain vault trading through a router) supports, as data.

Light on purpose: `rebal check` imports this module, never web3 itself.
"""

from __future__ import annotations

from rebal.compiler.capabilities import VENUE_SETTINGS, Capabilities

#: Venue settings a `via keeper` block accepts: the compiler's table, written once.
SETTINGS = VENUE_SETTINGS["keeper"]

_NO_DERIVATIVES = ("the keeper swaps ERC-20 tokens through a router; it holds spot and cash "
                   "only")

CAPABILITIES = Capabilities(
    backend="keeper",
    summary="An on-chain vault rebalanced by a keeper through a DEX router: spot and cash "
    "tokens only.",
    support={
        "instrument.spot": "native",
        "instrument.cash": "native",
        "instrument.perp": "unsupported",
        "instrument.future": "unsupported",
        "instrument.option": "unsupported",
        "target.delta": "native",
        "target.greek": "unsupported",
        "target.weights": "native",
        "target.leverage": "native",
        "target.cppi": "native",
        "band.optimal": "unsupported",
        "costs.split": "native",
        "costs.budget": "native",
        "costs.max_gas": "native",
        "costs.max_funding": "unsupported",
        "risk.max_orders": "native",
        "risk.oracle": "native",
        "modes": "native",
    },
    settings=SETTINGS,
    notes={
        "instrument.perp": _NO_DERIVATIVES,
        "instrument.future": _NO_DERIVATIVES,
        "instrument.option": _NO_DERIVATIVES,
        "target.greek": "gamma, vega and theta need options, which a keeper cannot trade",
        "band.optimal": "the optimal band needs an option book's gamma, which a keeper "
        "cannot hold",
        "costs.max_funding": "funding is paid on perpetuals, which a keeper cannot trade",
    },
)
