"""What the solver backend (signed EIP-712 intents for a settlement contract) supports.

Light on purpose: `rebal check` imports this module, never web3 itself.
"""

from __future__ import annotations

from typing import Any

from rebal.compiler.capabilities import VENUE_SETTINGS, Capabilities

#: Venue settings a `via solver` block accepts: the compiler's table, written once.
SETTINGS = VENUE_SETTINGS["solver"]


def rpc_env_of(venue: Any) -> str:
    """The environment variable holding a solver venue's RPC URL: its `rpc env NAME`, else
    ``<VENUE>_RPC_URL`` (the venue's name upper-cased, e.g. ``INTENTS_RPC_URL``), as ccxt's
    `account env` defaults to the venue's name."""
    named = getattr(venue.config, "rpc_env", None)
    return str(named) if named else f"{venue.name.upper().replace('-', '_')}_RPC_URL"

_NO_DERIVATIVES = "intents swap ERC-20 tokens; a solver venue holds spot and cash only"

CAPABILITIES = Capabilities(
    backend="solver",
    summary="Signed intents (EIP-712 orders) settled by solvers on-chain: spot and cash "
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
        "costs.split": "emulated",
        "costs.budget": "emulated",
        "costs.max_gas": "emulated",
        "costs.max_funding": "unsupported",
        "risk.max_orders": "native",
        "risk.oracle": "emulated",
        "modes": "native",
    },
    settings=SETTINGS,
    notes={
        "instrument.perp": _NO_DERIVATIVES,
        "instrument.future": _NO_DERIVATIVES,
        "instrument.option": _NO_DERIVATIVES,
        "target.greek": "gamma, vega and theta need options, which intents cannot trade",
        "band.optimal": "the optimal band needs an option book's gamma, which a solver "
        "venue cannot hold",
        "costs.split": "rebal signs one intent per period, each valid for `valid for`",
        "costs.budget": "solver fees are inside the quoted price; rebal counts the quote's "
        "fee and the surplus it gave up",
        "costs.max_gas": "solvers pay gas; rebal checks the quote's fee against `max gas "
        "cost` and the chain's base fee against `max gas` before signing",
        "costs.max_funding": "funding is paid on perpetuals, which intents cannot trade",
        "risk.oracle": "the solver's quote is the venue price compared with the oracle",
    },
)
