"""Path blocks: the unit of randomness of a simulation, so that where it runs does not matter.

The paths of a run are cut into blocks of :data:`BLOCK_PATHS` consecutive paths (the last block
holds the remainder). Block ``i`` draws from its own PCG64 generator seeded with child ``i`` of
``numpy.random.SeedSequence(seed).spawn(...)``, i.e. ``SeedSequence(seed, spawn_key=(i,))``,
which does not depend on how many blocks there are or which other blocks are drawn. A model
stepping paths ``[first_block * BLOCK_PATHS, ...)`` therefore gives every path exactly the
numbers it gets in a run of all paths at once: a worker can simulate any run of consecutive
blocks on its own, and the per-path results concatenate into the in-process result bit for bit.

In process, a model still steps all paths as one batch; only the draws are made block by block
into one array (:meth:`BlockStreams.normals`). A model whose every draw is a standard normal
(GBM, Heston) lets its streams draw ``ahead`` steps' worth at once: a generator's normals are a
plain sequence, so drawing them in larger calls gives every path the same numbers, with one
generator call per block every ``ahead`` steps instead of every step. A model that makes other
draws in between (jumps) draws step by step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BLOCK_PATHS", "BlockStreams", "Chunk", "block_generator", "chunks"]

BLOCK_PATHS = 1_000  # paths per random stream; changing it changes every seeded number
_AHEAD_CELLS = 1 << 20  # at most this many normals are drawn ahead (8 MB)


def block_generator(seed: int, block: int) -> np.random.Generator:
    """The generator of block ``block``: child ``block`` of ``SeedSequence(seed).spawn``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


@dataclass(frozen=True)
class Chunk:
    """Paths ``[start, stop)`` of a run (``start`` on a block boundary): one unit of work."""

    start: int
    stop: int

    @property
    def paths(self) -> int:
        return self.stop - self.start

    @property
    def first_block(self) -> int:
        return self.start // BLOCK_PATHS


def chunks(paths: int, blocks_per_chunk: int) -> list[Chunk]:
    """``paths`` cut into chunks of ``blocks_per_chunk`` whole blocks (the last one shorter)."""
    if paths < 1 or blocks_per_chunk < 1:
        raise ValueError(f"need paths >= 1 and blocks_per_chunk >= 1, got {paths}, "
                         f"{blocks_per_chunk}")
    size = blocks_per_chunk * BLOCK_PATHS
    return [Chunk(lo, min(lo + size, paths)) for lo in range(0, paths, size)]


class BlockStreams:
    """The generators of blocks ``first_block, first_block + 1, ...`` covering ``paths`` paths.

    Path ``p`` (counted from this object's first path) belongs to local block ``p // BLOCK_PATHS``.
    Every draw is made per block, in the same order whatever else is drawn, so a block's numbers
    depend only on ``(seed, block index)`` and on the model's sequence of draws.
    """

    def __init__(self, seed: int, paths: int, first_block: int = 0, ahead: int = 1) -> None:
        if paths < 1:
            raise ValueError(f"paths must be at least 1, got {paths}")
        if first_block < 0:
            raise ValueError(f"first_block must be >= 0, got {first_block}")
        self.paths = int(paths)
        self.bounds = [(lo, min(lo + BLOCK_PATHS, self.paths))
                       for lo in range(0, self.paths, BLOCK_PATHS)]
        self.generators = [block_generator(seed, first_block + i) for i in range(len(self.bounds))]
        self.ahead = max(1, int(ahead))  # calls of normals() drawn at once (1: none ahead)
        self._drawn: NDArray[np.float64] | None = None  # rows drawn ahead, not handed out yet
        self._next = 0  # the first of them

    def __iter__(self) -> Iterator[tuple[np.random.Generator, int, int]]:
        """``(generator, lo, hi)`` of every block, in path order (for draws other than
        :meth:`normals`: only when nothing is drawn ahead, which would reorder the streams)."""
        if self.ahead > 1:
            raise RuntimeError("streams that draw normals ahead cannot make other draws")
        for g, (lo, hi) in zip(self.generators, self.bounds, strict=True):
            yield g, lo, hi

    def normals(self, rows: int) -> NDArray[np.float64]:
        """Standard normals of shape ``(rows, paths)``; each block fills its columns row by row
        (a fresh array, or rows of one drawn ahead that nothing else hands out)."""
        if self.ahead == 1:
            out = np.empty((rows, self.paths))
            for g, lo, hi in self:
                for r in range(rows):
                    g.standard_normal(out=out[r, lo:hi])
            return out
        have = 0 if self._drawn is None else self._drawn.shape[0] - self._next
        if have < rows:
            self._draw_ahead(rows, have)
        assert self._drawn is not None
        k = self._next
        self._next = k + rows
        return self._drawn[k:k + rows]

    def _draw_ahead(self, rows: int, have: int) -> None:
        """Draw the next rows of every block: at least ``rows - have``, up to ``ahead`` calls."""
        fresh = max(rows * min(self.ahead, _AHEAD_CELLS // (rows * self.paths)), rows) - have
        drawn = np.empty((have + fresh, self.paths))
        if have:
            assert self._drawn is not None
            drawn[:have] = self._drawn[self._next:]
        for g, (lo, hi) in zip(self.generators, self.bounds, strict=True):
            drawn[have:, lo:hi] = g.standard_normal((fresh, hi - lo))
        self._drawn, self._next = drawn, 0
