"""Risk arithmetic shared by the compiler's static checks and the kernel's pre-trade gate.

Plain arithmetic that works on floats and on numpy arrays alike, so the static check of a
spec (E604) and the gate's check before every order use one formula.
"""

from __future__ import annotations

from typing import Any


def liquidation_move(cushion: Any, dollar_delta: Any, margin_rate: Any, margined: Any) -> Any:
    """Relative move of one underlying that takes equity down to the maintenance margin.

    ``cushion`` is equity minus ``margin_rate`` times the gross margined notional of every
    asset; ``dollar_delta`` is the portfolio's delta in that asset times its spot; ``margined``
    is the margined notional in that asset. A move ``x`` changes equity by ``dollar_delta·x``
    and the margin by ``margin_rate·margined·x``, so liquidation comes at
    ``|x| = cushion / |dollar_delta - margin_rate·margined|``: for a long at leverage L with
    no margin, ``1/L``. Division by zero (no exposure) is the caller's to handle.
    """
    return cushion / abs(dollar_delta - margin_rate * margined)
