"""What the simulator supports: everything, natively (it is the reference backend).

Light on purpose: `rebal check` imports this module, never the simulator itself (numpy).
"""

from __future__ import annotations

from rebal.compiler.capabilities import Capabilities, all_native

#: Venue settings a `via sim` block accepts (clause keys of the grammar).
SETTINGS = frozenset(
    "model correlation funding fee slippage impact maintenance_margin gas rate start_date "
    "horizon step paths seed".split()
)

CAPABILITIES: Capabilities = all_native(
    "sim",
    "Monte Carlo or replay simulation; models every instrument kind and feature natively.",
    SETTINGS,
)
