"""The guard's source from the IR (no chain needed): deterministic, hashed, and what it
cannot enforce listed in its header and in `rebal explain`."""

from __future__ import annotations

import pytest
from guard_helpers import CPPI, WEIGHTS, strategy

from rebal.backends.chain.guard import GuardError, guard_sha256, guard_source
from rebal.compiler.explain import explain


def test_guard_source_is_deterministic_and_lists_what_it_cannot_enforce() -> None:
    s = strategy(WEIGHTS)
    src = guard_source(s, "mainnet")
    assert src == guard_source(strategy(WEIGHTS), "mainnet")
    assert len(guard_sha256(src)) == 64
    header = src.split('"""')[1]
    assert "NOT enforced by this contract" in header
    assert "drawdown" in header.split("NOT enforced")[1]
    assert "MAX_SLIPPAGE: constant(uint256) = 3000000000000000" in src
    assert "COOLDOWN: constant(uint256) = 3600" in src
    other = guard_source(strategy(WEIGHTS, {"max slippage 30 bps": "max slippage 20 bps"}),
                         "mainnet")
    assert guard_sha256(other) != guard_sha256(src)


def test_explain_lists_the_guard_and_what_it_cannot_enforce() -> None:
    text = " ".join(explain(strategy(WEIGHTS)).split())
    assert "On-chain guard (the contract `rebal guard` generates for the vault of mainnet)" in text
    assert "Enforced: cooldown 1h between rebalances." in text
    assert "Not enforced on chain: halt when drawdown exceeds 40%" in text
    cppi = " ".join(explain(strategy(CPPI)).split())
    assert "Enforced: the target (CPPI on WETH/USDC: floor 80% of capital, multiplier 4)" in cppi


def test_a_venue_that_is_not_on_chain_is_refused_with_a_reason() -> None:
    with pytest.raises(GuardError, match="sim venue"):
        guard_source(strategy(CPPI), "paper")
    with pytest.raises(GuardError, match="no venue `nope`"):
        guard_source(strategy(CPPI), "nope")
