"""What the simulator supports: everything, natively (it is the reference backend).

Light on purpose: `rebal check` imports this module, never the simulator itself (numpy).
"""

from __future__ import annotations

from rebal.compiler.capabilities import VENUE_SETTINGS, Capabilities, all_native

#: Venue settings a `via sim` block accepts: the compiler's table, written once.
SETTINGS = VENUE_SETTINGS["sim"]

CAPABILITIES: Capabilities = all_native(
    "sim",
    "Monte Carlo or replay simulation; models every instrument kind and feature natively.",
    SETTINGS,
)
