"""Order ids: per row, the last parent's sequence number and the index of its last child.

Every parent a row opens gets the row's next *parent sequence number* (1, 2, ...) and every
release of it the next *child index* (0, 1, ...); a released leg's order is ``(parent,
child)`` (:mod:`.orders`, ``Decision.order_ids``). A simulation changes these counters on
thousands of rows every step and never reads them, so they are kept as byte counts, which
numpy updates many rows per instruction, and worked out when read:

* the parent number is a base plus a ``uint8`` count of the parents opened since the base
  (folded into the base every 255 steps that open parents, and when read);
* the child index is a ``uint8`` count of the releases of the row's current parent, minus one.
  A row releases at most one child per step, so the count grows by at most one per step; every
  ``_CHECK_EVERY`` steps that release, counts near the byte's limit switch the child indices
  to exact ``int64`` for good (a long ``split``), so no count ever wraps.

No array is changed in place once made: every update makes new ones, so an :class:`OrderSeq`
(the counters after one step, for that step's ``Decision``) holds references, not copies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["OrderIds", "OrderSeq"]

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
ByteArray = NDArray[np.uint8]
_BYTE_MAX = 255
_CHECK_EVERY = 100  # releases between checks that no child count can pass _BYTE_MAX


class OrderSeq(NamedTuple):
    """The counters as they were after one step (arrays never changed afterwards)."""

    base: IntArray
    opened: ByteArray | None  # parents opened since ``base`` (None: none)
    child: IntArray | None  # the exact child indices, or (None)
    released: ByteArray | None  # releases of each row's current parent (index = count - 1)

    def parent_seq(self) -> IntArray:
        """The last parent's sequence number per row ``(B,)`` (0: none opened yet)."""
        if self.opened is None:
            return self.base
        out: IntArray = self.base + self.opened
        return out

    def child_seq(self) -> IntArray:
        """The index of the last parent's last child released per row ``(B,)`` (-1: none)."""
        if self.child is not None:
            return self.child
        assert self.released is not None
        out: IntArray = self.released.astype(np.int64) - 1
        return out


class OrderIds:
    """The order-id counters of a batch of rows."""

    def __init__(self, batch: int) -> None:
        self._base: IntArray = np.zeros(batch, dtype=np.int64)
        self._opened: ByteArray | None = None
        self._n_opened = 0  # steps that opened parents since the base
        self._child: IntArray | None = None
        self._released: ByteArray | None = np.zeros(batch, dtype=np.uint8)
        self._n_released = 0  # steps that released since the last check

    def open(self, fire: BoolArray) -> None:
        """The rows of ``fire`` open their next parent (its children count from 0 again)."""
        add = fire.view(np.uint8)
        self._opened = add.copy() if self._opened is None else self._opened + add
        self._n_opened += 1
        if self._n_opened >= _BYTE_MAX:
            self._fold()
        if self._released is not None:
            self._released = self._released & (add - 1)  # 0 where a parent opened, else kept
        else:
            assert self._child is not None
            self._child = np.where(fire, -1, self._child)

    def release(self, has: BoolArray) -> None:
        """The rows of ``has`` released their parent's next child."""
        if self._released is None:
            assert self._child is not None
            self._child = self._child + has
            return
        self._released = self._released + has.view(np.uint8)
        self._n_released += 1
        if self._n_released >= _CHECK_EVERY:
            self._n_released = 0
            if int(self._released.max()) > _BYTE_MAX - _CHECK_EVERY:
                self._child = self.child_seq()
                self._released = None

    def seq(self) -> OrderSeq:
        """The counters now (for a ``Decision``; later steps do not change it)."""
        return OrderSeq(self._base, self._opened, self._child, self._released)

    def parent_seq(self) -> IntArray:
        self._fold()
        return self._base

    def child_seq(self) -> IntArray:
        return self.seq().child_seq()

    def set(self, parent_seq: IntArray, child_seq: IntArray) -> None:
        """Restore the counters (from :mod:`.state`)."""
        self._base = np.array(parent_seq, dtype=np.int64)
        self._opened, self._n_opened, self._n_released = None, 0, 0
        child = np.array(child_seq, dtype=np.int64)
        if bool(((child >= -1) & (child < _BYTE_MAX - _CHECK_EVERY)).all()):
            self._child, self._released = None, (child + 1).astype(np.uint8)
        else:
            self._child, self._released = child, None

    def _fold(self) -> None:
        if self._opened is not None:
            self._base = self._base + self._opened
            self._opened, self._n_opened = None, 0
