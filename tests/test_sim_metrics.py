"""`summarize`: the JSON object of `rebal simulate --format json`, checked by hand."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from rebal.backends.sim.engine import SimResult
from rebal.backends.sim.metrics import expected_shortfall, json_float, summarize


def make_result(p: int = 20, **over: Any) -> SimResult:
    """A SimResult from synthetic arrays: P&L -5..14, simple cost and count columns."""
    fields: dict[str, Any] = dict(
        strategy="s",
        venue="paper",
        paths=p,
        steps=100,
        seed=7,
        assets=("ETH",),
        numeraire="USD",
        target_unit="ETH",
        book_value0=-1234.5,
        elapsed_s=2.0,
        pnl=np.arange(p, dtype=float) - 5.0,
        fees=np.full(p, 2.0),
        slippage=np.linspace(0.0, 1.0, p),
        gas=np.zeros(p),
        funding=np.full(p, -0.25),
        trades=np.arange(p, dtype=np.int64),
        rebalances=np.full(p, 3, dtype=np.int64),
        tracking_error=np.full(p, 0.1),
        max_drawdown=np.arange(p, dtype=float) / 100,
        liquidated=np.arange(p) < 3,
        halted=np.zeros(p, dtype=bool),
        refusals={},
        samples=None,
    )
    fields.update(over)
    return SimResult(**fields)


CONTRACT: dict[str, Any] = {
    "strategy": str,
    "venue": str,
    "paths": int,
    "steps": int,
    "seed": int,
    "book_value0": float,
    "elapsed_s": float,
    "path_steps_per_s": float,
    "metrics": {
        "pnl": {k: float for k in ("mean", "std", "p05", "p50", "p95", "es95")},
        "cost": {k: float for k in ("fees", "slippage", "gas", "funding", "total")},
        "trades": {"mean": float},
        "rebalances": {"mean": float},
        "tracking_error": {"mean": float},
        "max_drawdown": {"mean": float, "p95": float},
        "liquidations": {"paths": int, "fraction": float},
        "halts": {"paths": int, "fraction": float},
    },
}


def check_contract(obj: dict[str, Any], shape: dict[str, Any], where: str = "") -> None:
    """Exactly the keys of `shape`, with values of the given type (None allowed for floats)."""
    assert set(obj) == set(shape), f"{where}: keys {sorted(obj)} != {sorted(shape)}"
    for key, kind in shape.items():
        value = obj[key]
        if isinstance(kind, dict):
            check_contract(value, kind, f"{where}.{key}")
        elif kind is float:
            assert value is None or type(value) is float, f"{where}.{key}: {value!r}"
        else:
            assert type(value) is kind, f"{where}.{key}: {value!r} is not {kind.__name__}"


def test_hand_computed_figures() -> None:
    s = summarize(make_result())
    m = s["metrics"]
    assert s["path_steps_per_s"] == pytest.approx(20 * 100 / 2.0)
    assert s["book_value0"] == -1234.5 and s["seed"] == 7
    # P&L = -5, -4, ..., 14: mean 4.5; sum of squared deviations 665 -> sample var 665/19 = 35
    assert m["pnl"]["mean"] == pytest.approx(4.5)
    assert m["pnl"]["std"] == pytest.approx(math.sqrt(35.0))
    # linear interpolation at position q*(P-1): 0.95 -> -4.05, 9.5 -> 4.5, 18.05 -> 13.05
    assert m["pnl"]["p05"] == pytest.approx(-4.05)
    assert m["pnl"]["p50"] == pytest.approx(4.5)
    assert m["pnl"]["p95"] == pytest.approx(13.05)
    assert m["pnl"]["es95"] == pytest.approx(-5.0)  # ceil(5% of 20) = 1 worst path
    assert m["cost"] == pytest.approx(
        {"fees": 2.0, "slippage": 0.5, "gas": 0.0, "funding": -0.25, "total": 2.25}
    )
    assert m["trades"]["mean"] == pytest.approx(9.5)
    assert m["rebalances"]["mean"] == pytest.approx(3.0)
    assert m["tracking_error"]["mean"] == pytest.approx(0.1)
    assert m["max_drawdown"]["mean"] == pytest.approx(0.095)
    assert m["max_drawdown"]["p95"] == pytest.approx(0.1805)
    assert m["liquidations"] == {"paths": 3, "fraction": pytest.approx(0.15)}
    assert m["halts"] == {"paths": 0, "fraction": 0.0}


def test_expected_shortfall_averages_the_worst_tail() -> None:
    pnl = np.array([5.0, -100.0, 3.0, -50.0, *np.zeros(26)])  # 30 paths: ceil(1.5) = 2 worst
    assert expected_shortfall(pnl) == pytest.approx(-75.0)
    assert expected_shortfall(np.arange(100.0)) == pytest.approx(2.0)  # mean of 0..4
    assert expected_shortfall(np.array([3.0])) == 3.0
    assert expected_shortfall(np.array([])) is None


def test_json_keys_and_types_are_the_contract() -> None:
    s = summarize(make_result())
    check_contract(s, CONTRACT)
    json.dumps(s, allow_nan=False)


def test_undefined_figures_are_null_not_nan() -> None:
    r = make_result(
        1,
        elapsed_s=0.0,
        tracking_error=np.array([np.nan]),
        max_drawdown=np.array([np.inf]),
    )
    s = summarize(r)
    check_contract(s, CONTRACT)
    text = json.dumps(s, allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text
    assert s["path_steps_per_s"] is None
    assert s["metrics"]["tracking_error"]["mean"] is None
    assert s["metrics"]["pnl"]["std"] == 0.0  # one path
    assert json_float(np.float32(1.5)) == 1.5 and json_float(None) is None
