"""Per-path counts of a flag raised at some steps (the engine's ``rebalances``), kept cheaply.

Adding a bool array to a float64 one makes numpy convert path by path (about ten
instructions a path, every step). The flags are summed into a ``uint8`` array instead, many
paths per instruction, and folded into the float64 total every 255 steps and when read.
Counts are whole numbers, so the total is exactly the one the float64 sum gives.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["FlagCounts"]

_BYTE_MAX = 255


class FlagCounts:
    """How many times each path's flag was raised, over the calls to :meth:`add`."""

    def __init__(self, paths: int) -> None:
        self._total = np.zeros(paths)
        self._recent = np.zeros(paths, dtype=np.uint8)  # raised since the last fold
        self._adds = 0

    def add(self, flags: NDArray[np.bool_]) -> None:
        """Count one step's flags ``(paths,)`` (a bool array)."""
        np.add(self._recent, flags.view(np.uint8), out=self._recent)
        self._adds += 1
        if self._adds == _BYTE_MAX:
            self._fold()

    @property
    def total(self) -> NDArray[np.float64]:
        """The counts so far, float64 ``(paths,)`` (a fresh array)."""
        self._fold()
        return self._total.copy()

    def _fold(self) -> None:
        if self._adds:
            self._total += self._recent
            self._recent[:] = 0
            self._adds = 0
