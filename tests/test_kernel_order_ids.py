"""The order-id counters (backends/kernel/order_ids.py) against the rule they stand for.

The rule, per row: opening a parent adds 1 to its sequence number and restarts its child index
at -1; releasing a child adds 1 to the index. The counters keep byte counts instead (parents
opened since a base, releases of the current parent); these tests drive them with random steps,
far past what a byte holds, and compare every snapshot with the rule kept in plain int arrays,
including snapshots read long after they were taken.
"""

from __future__ import annotations

import numpy as np

from rebal.backends.kernel.order_ids import OrderIds


class _Rule:
    def __init__(self, batch: int) -> None:
        self.parent = np.zeros(batch, dtype=np.int64)
        self.child = np.full(batch, -1, dtype=np.int64)

    def open(self, fire: np.ndarray) -> None:
        self.parent += fire
        self.child[fire] = -1

    def release(self, has: np.ndarray) -> None:
        self.child += has


def _drive(ids: OrderIds, rule: _Rule, rng: np.random.Generator, steps: int, batch: int,
           p_open: float, p_release: float, one_child: bool, read_every: int = 1) -> None:
    """``steps`` random steps; the counters are read every ``read_every`` steps (a read folds
    the parent counts), every step's snapshot at the end."""
    kept = []
    for k in range(steps):
        fire = rng.random(batch) < p_open
        opened = bool(fire.any()) and k % 7 != 3  # some steps open nothing
        if opened:
            ids.open(fire)
            rule.open(fire)
        if one_child:  # without split only a row that just opened releases
            has = fire & (rng.random(batch) < p_release) if opened else np.zeros(batch, bool)
        else:  # with split a parent releases a child on many steps
            has = rng.random(batch) < p_release
        ids.release(has)
        rule.release(has)
        kept.append((ids.seq(), rule.parent.copy(), rule.child.copy()))
        if k % read_every:
            continue
        np.testing.assert_array_equal(ids.parent_seq(), rule.parent)
        np.testing.assert_array_equal(ids.child_seq(), rule.child)
    for seq, parent, child in kept:  # every snapshot still reads as it was taken
        np.testing.assert_array_equal(seq.parent_seq(), parent)
        np.testing.assert_array_equal(seq.child_seq(), child)


def test_counters_follow_the_rule_without_split_past_a_byte_of_parents() -> None:
    rng = np.random.default_rng(3)
    ids, rule = OrderIds(6), _Rule(6)
    _drive(ids, rule, rng, 700, 6, p_open=0.4, p_release=0.8, one_child=True, read_every=1000)
    assert rule.parent.max() > 255  # the parent counts were folded into the base on the way
    _drive(ids, rule, rng, 50, 6, p_open=0.4, p_release=0.8, one_child=True)
    assert set(np.unique(rule.child)) <= {-1, 0}


def test_counters_follow_the_rule_with_long_splits_past_a_byte_of_children() -> None:
    rng = np.random.default_rng(4)
    ids, rule = OrderIds(5), _Rule(5)
    _drive(ids, rule, rng, 150, 5, p_open=0.2, p_release=0.5, one_child=False)
    # a parent that releases every step for 400 steps: its index passes a byte's range
    _drive(ids, rule, rng, 400, 5, p_open=0.001, p_release=1.0, one_child=False)
    assert rule.child.max() > 255


def test_restored_counters_continue_the_sequence() -> None:
    rng = np.random.default_rng(6)
    ids, rule = OrderIds(3), _Rule(3)
    _drive(ids, rule, rng, 30, 3, p_open=0.4, p_release=0.8, one_child=True)
    again = OrderIds(3)
    again.set(ids.parent_seq().copy(), ids.child_seq().copy())
    _drive(again, rule, rng, 30, 3, p_open=0.4, p_release=0.8, one_child=True)
    odd = OrderIds(2)  # restored indices beyond a byte's range are kept exactly
    odd.set(np.array([4, 2]), np.array([900, -1]))
    np.testing.assert_array_equal(odd.child_seq(), [900, -1])
    np.testing.assert_array_equal(odd.parent_seq(), [4, 2])
    odd.release(np.array([True, True]))
    np.testing.assert_array_equal(odd.child_seq(), [901, 0])
