"""Path blocks: the unit of randomness of a simulation, so that where it runs does not matter.

The paths of a run are cut into blocks of :data:`BLOCK_PATHS` consecutive paths (the last block
holds the remainder). Block ``i`` draws from its own PCG64 generator seeded with child ``i`` of
``numpy.random.SeedSequence(seed).spawn(...)``, i.e. ``SeedSequence(seed, spawn_key=(i,))``,
which does not depend on how many blocks there are or which other blocks are drawn. A model
stepping paths ``[first_block * BLOCK_PATHS, ...)`` therefore gives every path exactly the
numbers it gets in a run of all paths at once: a worker can simulate any run of consecutive
blocks on its own, and the per-path results concatenate into the in-process result bit for bit.

In process, a model still steps all paths as one batch; only the draws are made block by block
into one array (:meth:`BlockStreams.normals`), a few generator calls per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BLOCK_PATHS", "BlockStreams", "Chunk", "block_generator", "chunks"]

BLOCK_PATHS = 1_000  # paths per random stream; changing it changes every seeded number


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

    def __init__(self, seed: int, paths: int, first_block: int = 0) -> None:
        if paths < 1:
            raise ValueError(f"paths must be at least 1, got {paths}")
        if first_block < 0:
            raise ValueError(f"first_block must be >= 0, got {first_block}")
        self.paths = int(paths)
        self.bounds = [(lo, min(lo + BLOCK_PATHS, self.paths))
                       for lo in range(0, self.paths, BLOCK_PATHS)]
        self.generators = [block_generator(seed, first_block + i) for i in range(len(self.bounds))]

    def __iter__(self) -> Iterator[tuple[np.random.Generator, int, int]]:
        """``(generator, lo, hi)`` of every block, in path order."""
        for g, (lo, hi) in zip(self.generators, self.bounds, strict=True):
            yield g, lo, hi

    def normals(self, rows: int) -> NDArray[np.float64]:
        """Standard normals of shape ``(rows, paths)``; each block fills its columns row by row."""
        out = np.empty((rows, self.paths))
        for g, lo, hi in self:
            for r in range(rows):
                g.standard_normal(out=out[r, lo:hi])
        return out
