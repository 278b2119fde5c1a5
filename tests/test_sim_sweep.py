"""Sweeps: grid parsing, substitution into the frozen IR, and the frontier."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rebal.backends.sim.sweep import (
    SweepAxis,
    SweepError,
    apply_params,
    grid,
    parse_sweep,
    run_sweep,
    sweep_json,
)
from rebal.compiler import compile_file, compile_text
from rebal.compiler.ir import BinOp, Const, Strategy, SymmetricBand

ROOT = Path(__file__).resolve().parent.parent
STRADDLE = ROOT / "specs" / "eth_straddle_hedge.rebal"

SIMPLE = """
strategy simple {
  capital 100000 USD
  instruments {
    C    option ETH call strike 3000 USD expiry 2027-01-01
    PERP perp ETH
  }
  book { C -1 }
  owns PERP
  target delta 0 ETH { band 0.02 ETH  hedge with PERP }
  trigger { on breach }
  costs { max slippage 50 bps }
  venue paper via sim {
    ETH spot 3000 USD vol 60%
    fee 10 bps
    start 2026-01-01
    horizon 30d step 1h paths 200
  }
}
"""


def straddle() -> Strategy:
    ir, diags = compile_file(STRADDLE)
    assert ir is not None, diags
    return ir


def simple() -> Strategy:
    ir, diags = compile_text(SIMPLE, "simple.rebal")
    assert ir is not None, [str(d) for d in diags]
    return ir


# ----------------------------------------------------------------------- parsing


def test_linspace_grid() -> None:
    axis = parse_sweep("band=0.2:2:10")
    assert axis.name == "band"
    assert axis.values == pytest.approx(tuple(np.linspace(0.2, 2, 10)))
    assert axis.values[1] == 0.4  # rounded to 12 significant digits, no 0.4000000000000001


def test_lists_single_values_and_units() -> None:
    assert parse_sweep("band=0.5").values == (0.5,)
    assert parse_sweep("min_trade=0.1,0.2, 0.5").values == (0.1, 0.2, 0.5)
    assert parse_sweep("every=1h:8h:3").values == (3600.0, 16200.0, 28800.0)
    assert parse_sweep("cooldown=30s,5m").values == (30.0, 300.0)
    assert parse_sweep("band=1%:5%:2").values == pytest.approx((0.01, 0.05))
    assert parse_sweep("band=20bps").values == pytest.approx((0.002,))


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("band", "expected NAME=LO:HI:N"),
        ("bnad=1:2:3", "did you mean 'band'"),
        ("band=1:2", "LO:HI:N"),
        ("band=1:2:x", "whole number"),
        ("band=1:2:0", "at least 1"),
        ("band=abc", "not a number"),
        ("every=0:1h:3", "positive"),
        ("band=-1:1:3", "zero or more"),
        ("every=1ETH", "not a duration"),
        ("band=1h", "not understood"),
    ],
)
def test_bad_flags_name_the_problem(flag: str, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        parse_sweep(flag)


def test_grid_is_the_product_first_axis_slowest() -> None:
    pts = grid([SweepAxis("band", (0.1, 0.2)), SweepAxis("every", (60.0, 120.0, 180.0))])
    assert len(pts) == 6
    assert pts[0] == {"band": 0.1, "every": 60.0}
    assert pts[2] == {"band": 0.1, "every": 180.0}
    assert pts[3] == {"band": 0.2, "every": 60.0}
    with pytest.raises(SweepError, match="more than once"):
        grid([SweepAxis("band", (1.0,)), SweepAxis("band", (2.0,))])


# ------------------------------------------------------------------ substitution


def test_constant_band_width_is_replaced_in_the_same_unit() -> None:
    ir = simple()
    new = apply_params(ir, {"band": 0.5})
    band = new.targets[0].band
    assert isinstance(band, SymmetricBand)
    assert band.width == Const(value=Decimal("0.5"), unit="ETH")
    assert band.range.lo == band.range.hi == Decimal("0.5")
    assert ir.targets[0].band.width.value == Decimal("0.02")  # original untouched (frozen)
    assert new.model_dump()["targets"][1:] == ir.model_dump()["targets"][1:]


def test_scaled_expression_band_keeps_its_expression() -> None:
    ir = straddle()  # band 0.5 ETH * clamp(realized_vol(ETH, 24h) / 60%, 0.5, 3)
    new = apply_params(ir, {"band": 1.0})
    band = new.targets[0].band
    assert isinstance(band, SymmetricBand) and isinstance(band.width, BinOp)
    assert band.width.left == Const(value=Decimal("1"), unit="ETH")
    assert band.width.right == ir.targets[0].band.width.right
    # range [0.25, 1.5] scales with the constant: x2
    assert (band.range.lo, band.range.hi) == (Decimal("0.5"), Decimal("3.0"))


def test_trigger_and_cost_parameters() -> None:
    ir = straddle()
    new = apply_params(ir, {"every": 3600.0, "cooldown": 60.0, "min_trade": 0.25})
    assert new.trigger.every == Const(value=Decimal("3600"), unit="s")
    assert new.trigger.cooldown_s == Decimal("60")
    assert new.trigger.on_breach is True
    assert new.costs.min_trade is not None
    assert (new.costs.min_trade.value, new.costs.min_trade.asset) == (Decimal("0.25"), "ETH")
    assert new.costs.max_slippage == ir.costs.max_slippage
    # min trade added where the spec had none, in the delta target's asset
    added = apply_params(simple(), {"min_trade": 0.01})
    assert added.costs.min_trade is not None and added.costs.min_trade.asset == "ETH"


def test_parameters_the_spec_does_not_have() -> None:
    with pytest.raises(SweepError, match="optimal"):
        apply_params(simple(), {"risk_aversion": 1.0})
    text = (ROOT / "specs" / "btc_optimal_band.rebal").read_text()
    ir, _ = compile_text(text, "btc_optimal_band.rebal")
    assert ir is not None
    with pytest.raises(SweepError, match="symmetric band"):
        apply_params(ir, {"band": 0.1})
    assert apply_params(ir, {"risk_aversion": 2.0}).targets[0].band.risk_aversion == 2


# ------------------------------------------------------------------------ running


class FakeEngine:
    """Stands in for engine.simulate: cost falls and error grows with the band."""

    def __init__(self) -> None:
        self.calls: list[tuple[Strategy, str, dict[str, Any]]] = []

    def __call__(self, ir: Strategy, venue: str, **kw: Any) -> Any:
        from test_sim_metrics import make_result

        self.calls.append((ir, venue, kw))
        b = float(ir.targets[0].band.width.value)
        p = kw["paths"] or 50
        cost, error = (10.0 / (1 + b), b) if b != 0.3 else (20.0, 5.0)  # 0.3 is dominated
        return make_result(
            p,
            fees=np.full(p, cost),
            tracking_error=np.full(p, error),
            pnl=np.linspace(-b, b, p),
            seed=kw["seed"] or 0,
        )


def test_run_sweep_frontier_and_json() -> None:
    fake = FakeEngine()
    res = run_sweep(
        simple(), "paper", [parse_sweep("band=0.1,0.2,0.3")], paths=40, seed=3, simulate=fake
    )
    assert [c[2] for c in fake.calls] == [{"paths": 40, "seed": 3}] * 3  # same seed everywhere
    assert [p.efficient for p in res.points] == [True, True, False]
    obj = sweep_json(res)
    assert obj["sweep"]["param"] == "band"
    pts = obj["sweep"]["points"]
    assert [p["value"] for p in pts] == [0.1, 0.2, 0.3]
    assert set(pts[0]) >= {"value", "cost_total", "tracking_error", "pnl_std"}
    assert pts[0]["cost_total"] == pytest.approx(10 / 1.1 - 0.25 + 0.5)
    assert pts[0]["tracking_error"] == pytest.approx(0.1)
    assert pts[0]["pnl_std"] == pytest.approx(float(np.linspace(-0.1, 0.1, 40).std(ddof=1)))
    assert obj["paths"] == 40 and obj["seed"] == 3


def test_product_sweep_json_lists_params() -> None:
    fake = FakeEngine()
    axes = [parse_sweep("band=0.1,0.2"), parse_sweep("every=1h,2h")]
    obj = sweep_json(run_sweep(simple(), "paper", axes, simulate=fake))
    assert obj["sweep"]["param"] == ["band", "every"]
    assert [p["value"] for p in obj["sweep"]["points"]] == [
        [0.1, 3600.0],
        [0.1, 7200.0],
        [0.2, 3600.0],
        [0.2, 7200.0],
    ]
    assert obj["sweep"]["points"][1]["values"] == {"band": 0.1, "every": 7200.0}
    assert fake.calls[1][0].trigger.every == Const(value=Decimal("7200"), unit="s")
