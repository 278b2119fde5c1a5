"""FlagCounts (the engine's per-path rebalance counts) against the float64 sum it replaces."""

from __future__ import annotations

import numpy as np

from rebal.backends.sim.counts import FlagCounts


def test_counts_equal_the_float_sum_past_a_byte_of_steps() -> None:
    rng = np.random.default_rng(2)
    counts, plain = FlagCounts(300), np.zeros(300)
    for k in range(700):  # past 255 adds: the byte counts are folded into the total
        flags = rng.random(300) < (0.99 if k < 400 else 0.3)
        counts.add(flags)
        np.add(plain, flags, out=plain)
        if k in (10, 254, 255, 699):  # reading folds too, and changes nothing later
            assert np.array_equal(counts.total, plain)
    assert plain.max() > 255
    got = counts.total
    got[:] = -1.0  # a fresh array: the counter is not the caller's to change
    assert np.array_equal(counts.total, plain)
