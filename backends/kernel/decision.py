"""What the kernel returns and is told back, over a batch of paths: a :class:`Decision` (the
orders one step wants sent, their limits, reasons, refusals and ids, and the target rows it
measured) and :class:`Fills` (what the venue did with them).

Split from :mod:`.planner` (the :class:`~.planner.Kernel` that makes decisions and records
fills), which re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .order_ids import OrderSeq
from .solver import Solution
from .triggers import REASONS
from .valuation import Marks

__all__ = ["Decision", "Fills", "any_rows"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Decision:
    """What the kernel wants sent at one step, and why; arrays over the batch.

    ``orders`` are signed quantities ``(B, I)`` in units of each instrument's underlying (only
    hedge columns are ever non-zero; ``hedge_orders`` is the same over ``hedge_cols``).
    ``limit_price`` is the worst acceptable price per order (mid moved by ``max slippage``; nan
    where there is no order, None when the spec sets no ``max slippage`` at all).
    ``reason`` indexes :data:`REASONS` (``mode`` reasons name the path's ``mode``);
    ``refused`` indexes ``refusal_names`` (0: nothing refused). ``measure``, ``center``,
    ``band_lo``, ``band_hi`` are per target row ``(B, K)``; ``unmet`` flags rows a solve could
    not bring inside their band.
    """

    t_s: float
    hedge_orders: FloatArray
    hedge_cols: NDArray[np.intp]
    limit_price: FloatArray | None
    reason: NDArray[np.int8]
    triggered: BoolArray
    mode: NDArray[np.intp] | None
    halted: BoolArray
    refused: NDArray[np.int16]
    unmet_rows: BoolArray | None
    rows: Solution
    est_cost: FloatArray | None
    any_orders: bool
    marks: Marks
    children: FloatArray | None = None  # child orders per leg (B, H); None: one per order
    order_seq: OrderSeq | None = None  # the order-id counters after this step

    @cached_property
    def order_ids(self) -> NDArray[np.int64]:
        """Stable id ``(parent, child)`` of each released order, ``(B, H, 2)``; -1 where a leg
        sends nothing. Parents count per row from 1, children per parent from 0."""
        b, h = self.hedge_orders.shape
        out = np.full((b, h, 2), -1, dtype=np.int64)
        if self.order_seq is None:
            return out
        live = self.hedge_orders != 0.0
        out[:, :, 0] = np.where(live, self.order_seq.parent_seq()[:, None], -1)
        out[:, :, 1] = np.where(live, self.order_seq.child_seq()[:, None], -1)
        return out

    @cached_property
    def orders(self) -> FloatArray:
        b = self.hedge_orders.shape[0]
        out = np.zeros((b, self.marks.layout.n_instruments), order="F")
        out[:, self.hedge_cols] = self.hedge_orders
        return out

    @cached_property
    def measure(self) -> FloatArray:
        return self.rows.stack("measure")

    @cached_property
    def center(self) -> FloatArray:
        return self.rows.stack("center")

    @cached_property
    def band_lo(self) -> FloatArray:
        return self.rows.stack("lo")

    @cached_property
    def band_hi(self) -> FloatArray:
        return self.rows.stack("hi")

    @cached_property
    def unmet(self) -> BoolArray:
        if self.unmet_rows is not None:
            return self.unmet_rows
        return np.zeros((self.hedge_orders.shape[0], len(self.rows.measure)), dtype=bool)

    def reason_name(self, path: int, mode_names: tuple[str, ...]) -> str:
        """The reason of ``path``'s order as text: breach, clock, split or mode:<name>."""
        code = int(self.reason[path])
        if REASONS[code] == "mode" and self.mode is not None:
            return f"mode:{mode_names[int(self.mode[path])]}"
        return REASONS[code]


@dataclass(frozen=True, eq=False)
class Fills:
    """What the venue did with a decision: filled quantities over the hedge columns ``(B, H)``
    and total cost (fees + slippage + gas, numeraire, positive = paid) per path ``(B,)``."""

    qty: FloatArray
    cost: FloatArray
    filled: BoolArray | None = None  # (B,) any leg filled; derived from qty when None

    def any_filled(self) -> BoolArray:
        """Paths where at least one leg filled."""
        return self.filled if self.filled is not None else any_rows(self.qty)


def any_rows(a: FloatArray) -> BoolArray:
    """Rows of ``a`` ``(B, H)`` with any non-zero entry."""
    out: BoolArray = a[:, 0] != 0.0
    for j in range(1, a.shape[1]):
        out |= a[:, j] != 0.0
    return out
