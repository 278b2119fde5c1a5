"""E405 by interval arithmetic with infinities: a quotient that only runs off to one infinity
passes when something downstream bounds it; 0/0, a divisor crossing zero, and an unbounded
quotient where a bound is needed stay errors. Hints quote the spec's own expressions."""

from __future__ import annotations

import json
import math

import pytest

from rebal.cli import main
from rebal.compiler import check_source

SPEC = """\
strategy sol {
  instruments {
    PERP perp SOL
  }
  owns PERP
  target delta 0 SOL {
    band 1 SOL
    hedge with PERP
  }
  trigger { every TRIGGER }
  costs { max slippage 20 bps }
  venue paper via sim {
    model gbm
    SOL spot 150 USD vol VOL
    horizon 2d step 1h paths 4 seed 1
  }
}
"""

TRADER = "4h * clamp(60% / realized_vol(SOL, 12h), 0.25, 2)"


def findings(trigger: str) -> list[tuple[str, str, str | None]]:
    res = check_source(SPEC.replace("TRIGGER", trigger).replace("VOL", "80%"), "sol.rebal")
    return [(d.code, d.message, d.help) for d in res.diagnostics if d.severity.value == "error"]


@pytest.mark.parametrize("trigger", [
    TRADER,
    "4h * min(60% / realized_vol(SOL, 12h), 2) + 1h",
    "4h * clamp(-60% / realized_vol(SOL, 12h), -2, -0.25) * -1",
    "clamp(1h / realized_vol(SOL, 12h), 1h, 8h)",
])
def test_a_quotient_bounded_downstream_passes(trigger: str) -> None:
    assert findings(trigger) == []


def test_the_trader_spec_simulates_at_zero_volatility(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """At zero volatility the quotient is +inf and the clamp's top (8h) is the period."""
    spec = tmp_path / "sol.rebal"
    spec.write_text(SPEC.replace("TRIGGER", TRADER).replace("VOL", "0%"), encoding="utf-8")
    assert main(["check", str(spec)]) == 0
    assert capsys.readouterr().out == "no problems in 1 file\n"
    assert main(["simulate", str(spec), "--venue", "paper", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all(math.isfinite(v) for v in doc["metrics"]["pnl"].values())


def test_an_unbounded_quotient_where_a_bound_is_needed_is_refused() -> None:
    ((code, message, hint),) = findings("4h * (60% / realized_vol(SOL, 12h))")
    assert code == "E405" and "nothing bounds the quotient" in message
    assert hint == ("bound the quotient, e.g. `clamp(60% / realized_vol(SOL, 12h), LO, HI)`, "
                    "or the divisor, e.g. `max(realized_vol(SOL, 12h), 10%)`")


def test_zero_over_zero_stays_an_error_with_the_specs_own_divisor() -> None:
    ((code, message, hint),) = findings(
        "4h * clamp((realized_vol(SOL, 12h) - 10%) / realized_vol(SOL, 12h), 0.25, 2)")
    assert code == "E405" and "0/0" in message
    assert hint == "bound it away from zero, e.g. `max(realized_vol(SOL, 12h), 10%)`"
    assert "ETH" not in hint


def test_a_divisor_crossing_zero_stays_an_error() -> None:
    ((code, message, hint),) = findings(
        "4h * clamp(60% / (realized_vol(SOL, 12h) - 50%), 0.25, 2)")
    assert code == "E405" and "from either side" in message
    assert hint == "bound it away from zero, e.g. `max(realized_vol(SOL, 12h) - 50%, 10%)`"


def test_a_literal_zero_divisor_stays_an_error() -> None:
    ((code, message, _),) = findings("4h / 0")
    assert (code, message) == ("E405", "division by zero")


def test_a_condition_needs_no_bound() -> None:
    spec = SPEC.replace("TRIGGER", "4h").replace("VOL", "80%").replace(
        "  costs {", "  risk { halt when 1 / realized_vol(SOL, 12h) > 20 }\n  costs {")
    assert check_source(spec, "sol.rebal").ok
