"""A hypothesis campaign over sim venues and market models (issue 13): extreme vols, spots,
drifts, correlations at ±1, negative rates, Heston parameters violating Feller, one- or
few-step horizons, empty and malformed replay files. Every spec ends either in diagnostics
from `rebal check`, or in `rebal simulate` exiting 0 with finite metrics, or exiting 1 with
an `error:` message: never NaN metrics, never a traceback. Path counts and horizons are tiny
so the campaign stays within seconds (``REBAL_FUZZ_EXAMPLES`` raises the example count)."""

from __future__ import annotations

import io
import json
import math
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal.backends.sim.command import run_simulate
from rebal.compiler.api import check_source

EXAMPLES = int(os.environ.get("REBAL_FUZZ_EXAMPLES", "0"))
CAMPAIGN = settings(max_examples=EXAMPLES or 40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

REPLAYS = {
    "empty": "",
    "header_only": "timestamp,open,high,low,close,volume\n",
    "one_candle": "1700000000000,1,1,1,3000,5\n",
    "two_candles": "1700000000000,1,1,1,3000,5\n1700003600000,1,1,1,2900,5\n",
    "malformed": "1700000000000,1,1\nnot,a,candle,at,all,!\n",
    "zero_close": "1700000000000,1,1,1,0,5\n1700003600000,1,1,1,1,5\n",
    "nan_close": "1700000000000,1,1,1,nan,5\n",
    "backwards": "1700003600000,1,1,1,3000,5\n1700000000000,1,1,1,3000,5\n",
}


def number(x: float) -> str:
    """A decimal literal the grammar reads (no exponent)."""
    return format(Decimal(repr(x)).normalize(), "f")


pct = st.floats(min_value=-1000.0, max_value=1000.0, allow_nan=False).map(
    lambda v: f"{number(round(v, 6))}%")
spot = st.sampled_from([1e-8, 1e-4, 0.5, 3000.0, 1e6, 1e12]) | st.floats(1e-8, 1e12)
vol = st.sampled_from([0.0, 1e-6, 0.6, 5.0, 10.0]) | st.floats(0.0, 10.0)
rho = st.sampled_from([-1.0, -0.999, 0.0, 0.999, 1.0])


@st.composite
def venues(draw: Any) -> tuple[str, str | None]:
    model = draw(st.sampled_from(["gbm", "jump", "heston", "replay"]))
    lines: list[str] = []
    replay = None
    if model == "replay":
        replay = draw(st.sampled_from(sorted(REPLAYS)))
        lines.append('model replay "candles.csv"')
    else:
        lines.append(f"model {model}")
    for asset, default in (("ETH", 3000.0), ("BTC", 60000.0)):
        parts = [f"{asset} spot {number(draw(spot) if asset == 'ETH' else default)} USD",
                 f"vol {number(round(draw(vol) * 100, 6))}%"]
        if draw(st.booleans()):
            parts.append(f"drift {draw(pct)}")
        if model == "heston":  # Feller 2 kappa theta >= xi^2 is violated by large xi
            parts += [f"vol_of_vol {number(round(draw(st.floats(0, 10)) * 100, 4))}%",
                      f"mean_reversion {number(round(draw(st.floats(0, 1000)), 4))}",
                      f"vol_correlation {number(round(draw(rho) * 100, 4))}%"]
        if model == "jump":
            parts.append(f"jumps {draw(st.integers(-2, 200))} per 1y size {draw(pct)}")
        lines.append(" ".join(parts))
    lines.append(f"correlation ETH BTC {number(round(draw(rho) * 100, 4))}%")
    lines.append(f"rate {draw(st.sampled_from(['-100%', '-5%', '0%', '3%', '100%']))}")
    lines.append(f"fee {draw(st.sampled_from(['0%', '0.05%', '100%']))}")
    step = draw(st.sampled_from(["1s", "1h", "1d"]))
    steps = draw(st.sampled_from([0, 1, 2, 3]))
    lines.append(f"step {step}")
    lines.append(f"horizon {steps}{step[-1]}" if step != "1s" else f"horizon {steps}s")
    lines.append("paths 2")
    return "\n    ".join(lines), replay


def spec(venue: str) -> str:
    return f"""strategy campaign {{
  capital 100000 USD
  instruments {{
    ETH spot ETH
    BTC spot BTC
    USD cash USD
  }}
  owns ETH, BTC, USD
  target weights {{
    ETH 40% band 5%
    BTC 30% band 5%
    USD 30%
  }}
  trigger {{ on breach }}
  costs {{ max slippage 50 bps }}
  venue paper via sim {{
    {venue}
  }}
}}
"""


def finite_metrics(obj: Any) -> bool:
    m = obj["metrics"]
    values = [m["pnl"]["mean"], m["pnl"]["std"], m["cost"]["total"], m["max_drawdown"]["mean"]]
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


@CAMPAIGN
@given(venues())
def test_every_sim_venue_ends_in_metrics_or_a_diagnostic(tmp_path_factory: Any,
                                                         venue: tuple[str, str | None]) -> None:
    text, replay = venue
    folder = Path(tmp_path_factory.mktemp("campaign"))
    if replay is not None:
        (folder / "candles.csv").write_text(REPLAYS[replay], encoding="utf-8")
    res = check_source(spec(text), str(folder / "c.rebal"))
    codes = [d.code for d in res.diagnostics]
    assert "I999" not in codes, codes
    if not res.ok:
        return  # a diagnostic at check time is an accepted end
    out, err = io.StringIO(), io.StringIO()
    rc = run_simulate(res.strategies[0], "paper", fmt="json", out=out, err=err,
                      base_dir=folder)
    assert rc in (0, 1), (rc, err.getvalue())
    if rc == 1:
        assert err.getvalue().startswith("error: ") and out.getvalue() == "", err.getvalue()
        return
    assert finite_metrics(json.loads(out.getvalue())), out.getvalue()
