"""Maintenance margin from the venue: the emulators compute it as the venues do, the ccxt
adapter carries it into the snapshot (a fraction of each instrument's notional, converted in
``backends/ccxt/units.py``), and the kernel's ``liquidation buffer`` refuses on it.

Real ccxt against the emulators; closed forms from the venues' rules (``emulators/margin.py``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from live_support import (
    CALL,
    PERP,
    PUT,
    adapter,
    binance,
    deribit,
    levered_spec,
    read_venue,
    strategy,
)

from rebal.backends.live.driver import KernelDriver
from rebal.emulators.margin import binance_brackets, binance_maintenance

SPEC = levered_spec("400%", "max leverage 5x\n    liquidation buffer 24.8%")


def test_binance_brackets_are_continuous_and_priced_as_binance_does() -> None:
    rows = binance_brackets("ETH")
    assert [r["notionalFloor"] for r in rows[1:]] == [r["notionalCap"] for r in rows[:-1]]
    for r in rows[:-1]:  # `cum` makes the margin continuous at every bracket's cap
        cap = r["notionalCap"]
        assert cap * r["maintMarginRatio"] - r["cum"] == pytest.approx(
            binance_maintenance("ETH", cap + 1e-6), abs=1e-3)
    assert rows[1]["cum"] == pytest.approx(50_000 * (0.005 - 0.004))
    assert binance_maintenance("ETH", 90_000) == pytest.approx(90_000 * 0.005 - 50)
    assert binance_maintenance("ETH", -20_000) == pytest.approx(20_000 * 0.004)


def test_binance_snapshot_carries_the_brackets_margin(tmp_path: Path) -> None:
    spec = tmp_path / "levered.rebal"
    spec.write_text(SPEC)
    s = strategy(spec)
    with binance(spec=spec) as emu:
        a = adapter(emu, s, "binance")
        try:
            flat = a.snapshot()
            emu.set_position("ETHUSDT", 100.0)
            held = a.snapshot()
        finally:
            a.close()
    # no position: the rate of the lowest bracket (ccxt's unified leverage tiers)
    assert flat.maintenance == {"ETH_PERP": pytest.approx(0.004)}
    # 100 ETH at the mark: bracket 2 (50k..500k), 0.5% of notional less its cum of 50 USDT
    notional = 100.0 * held.mark["ETH_PERP"]
    want = (0.005 * notional - 50.0) / notional
    assert held.maintenance["ETH_PERP"] == pytest.approx(want, rel=1e-6)

    # the liquidation buffer reads it: from 300% to the 400% center, the post-trade move to
    # liquidation is E / N = 24.95% with no margin (allowed: buffer 24.8%), and
    # (E - m N) / (N (1 - m)) = 24.59% with the venue's m (refused)
    driver = KernelDriver(s, s.venue("binance"))
    decided = driver.decide(held, 1, lambda seq, leg, child: f"id-{seq}-{leg}-{child}")
    assert decided.triggered and decided.refused == "liquidation buffer"
    assert not decided.orders
    blind = dataclasses.replace(held, maintenance={}, margin_tiers={})
    driver = KernelDriver(s, s.venue("binance"))
    decided = driver.decide(blind, 1, lambda seq, leg, child: f"id-{seq}-{leg}-{child}")
    assert decided.refused == "" and decided.orders
    assert decided.liquidation_after == pytest.approx(0.25, abs=1e-4)  # E / N, before costs


def test_deribit_snapshot_carries_the_coin_margin_as_a_fraction(tmp_path: Path) -> None:
    s = strategy()
    with deribit() as emu:
        emu.set_position(PERP, 30_000.0)  # USD contracts: 10 ETH at 3000
        snap = read_venue(emu, s)
        summary = emu.api.get_account_summary("main", {"currency": "ETH"})
        perp = emu.api._position("main", emu.ledger.contracts[PERP])
    qty = snap.positions["PERP"]
    # Deribit's rule: (2% + 0.0001% per ETH held) of the position, in ETH; as a fraction of
    # the USD notional it is the rate itself
    assert snap.maintenance["PERP"] == pytest.approx(0.02 + 1e-6 * qty, rel=1e-9)
    assert perp["maintenance_margin"] == pytest.approx((0.02 + 1e-6 * qty) * qty)
    # the account's figure adds the short options' (0.075 + mark) per ETH sold
    options = sum((0.075 + emu.ledger.mark(emu.ledger.contracts[o])) * 10 for o in (CALL, PUT))
    assert summary["maintenance_margin"] == pytest.approx(perp["maintenance_margin"] + options)
    # and the short options' own figures, as fractions of their underlying notional
    # (tests/test_live_option_margin.py: the kernel's requirement counts them)
    assert set(snap.maintenance) == {"PERP", "ETH_C", "ETH_P"}
