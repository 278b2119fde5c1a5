"""What ``--sweep`` means: swept parameters, their grid, and the strategy of each point.

``--sweep band=0.2:2:10`` is ``numpy.linspace(0.2, 2, 10)`` over the first target's band;
several ``--sweep`` flags make the grid product (:func:`grid`). Values are substituted into the
frozen IR with pydantic's ``model_copy(update=...)`` (:func:`apply_params`), so every point is
an ordinary strategy that the shared kernel runs unchanged. :mod:`.sweep` runs the points.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from rebal.compiler.ir import (
    Amount,
    BinOp,
    Const,
    CppiTarget,
    DeltaTarget,
    Interval,
    LeverageTarget,
    OptimalBand,
    Strategy,
    SymmetricBand,
    WeightsTarget,
)

__all__ = ["PARAMETERS", "SweepAxis", "SweepError", "SweepNotApplicable", "SweepPlan",
           "apply_params", "grid", "parse_sweep"]

PARAMETERS: dict[str, str] = {
    "band": "half-width of the first target's symmetric band, in the target's unit",
    "min_trade": "costs.min_trade, in the unit of the spec's min trade (or the target asset)",
    "every": "trigger every, in seconds (s, m, h, d, w suffixes allowed)",
    "cooldown": "trigger cooldown, in seconds (s, m, h, d, w suffixes allowed)",
    "risk_aversion": "risk aversion of the first target's optimal (Whalley-Wilmott) band",
}
_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RATIO = {"%": Decimal("0.01"), "bps": Decimal("0.0001")}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%]*)\s*$")


class SweepError(ValueError):
    """A malformed --sweep flag or a parameter this spec cannot vary (a user error)."""


class SweepNotApplicable(SweepError):
    """A well-formed --sweep this spec cannot vary (no band, no `min trade`, ...)."""


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: the axes, the grid points and the strategy of each point."""

    axes: tuple[SweepAxis, ...]
    points: tuple[dict[str, float], ...]
    variants: tuple[Strategy, ...]

    @classmethod
    def of(cls, ir: Strategy, axes: Sequence[SweepAxis]) -> SweepPlan:
        """Build every point's strategy once; SweepError (usage) or SweepNotApplicable."""
        points = grid(axes)
        return cls(tuple(axes), tuple(points), tuple(apply_params(ir, p) for p in points))


@dataclass(frozen=True)
class SweepAxis:
    """One swept parameter and its values, in canonical units (seconds, fractions)."""

    name: str
    values: tuple[float, ...]


# ----------------------------------------------------------------------- parsing


def _number(text: str, name: str) -> float:
    m = _NUMBER.match(text)
    if not m:
        raise SweepError(f"--sweep {name}: {text!r} is not a number")
    value = Decimal(m.group(1).replace("_", ""))
    unit = m.group(2)
    if not unit:
        return float(value)
    if name in ("every", "cooldown"):
        if unit not in _DURATION:
            raise SweepError(f"--sweep {name}: unit {unit!r} is not a duration (s, m, h, d, w)")
        return float(value * _DURATION[unit])
    if unit not in _RATIO:
        raise SweepError(
            f"--sweep {name}: unit {unit!r} not understood; write the number in the target's "
            "unit, or use % or bps"
        )
    return float(value * _RATIO[unit])


def parse_sweep(text: str) -> SweepAxis:
    """Parse ``name=lo:hi:n`` (linspace), ``name=v1,v2,...`` or ``name=v``."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not spec.strip():
        raise SweepError(f"--sweep {text!r}: expected NAME=LO:HI:N, e.g. band=0.2:2:10")
    if name not in PARAMETERS:
        close = difflib.get_close_matches(name, PARAMETERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SweepError(
            f"--sweep: unknown parameter {name!r}{hint} (known: {', '.join(PARAMETERS)})"
        )
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise SweepError(f"--sweep {text!r}: a range is LO:HI:N, e.g. {name}=0.2:2:10")
        lo, hi = _number(parts[0], name), _number(parts[1], name)
        try:
            n = int(parts[2].strip())
        except ValueError:
            raise SweepError(f"--sweep {text!r}: N must be a whole number") from None
        if n < 1:
            raise SweepError(f"--sweep {text!r}: N must be at least 1")
        values = tuple(float(f"{v:.12g}") for v in np.linspace(lo, hi, n))
    else:
        values = tuple(_number(p, name) for p in spec.split(","))
    strict = name in ("every", "risk_aversion")
    bad = [v for v in values if v < 0 or (strict and v == 0)]
    if bad:
        which = "positive" if strict else "zero or more"
        raise SweepError(f"--sweep {name}: values must be {which}, got {bad[0]:g}")
    return SweepAxis(name, values)


def grid(axes: Sequence[SweepAxis]) -> list[dict[str, float]]:
    """The product of the axes, first axis slowest; a parameter named twice is an error."""
    names = [a.name for a in axes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SweepError(f"--sweep {dup[0]} given more than once")
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


# ------------------------------------------------------------------ substitution


def _dec(v: float) -> Decimal:
    return Decimal(f"{v:.12g}")


def _scaled_width(width: Any, unit: str, v: Decimal) -> tuple[Any, Decimal]:
    """New width expression and the factor its range scales by."""
    if isinstance(width, Const):
        old = width.value
        return width.model_copy(update={"value": v}), (v / old if old else Decimal(0))
    if isinstance(width, BinOp) and width.op == "*":
        for side in ("left", "right"):
            c = getattr(width, side)
            if isinstance(c, Const) and c.unit == unit and c.value:
                return width.model_copy(update={side: c.model_copy(update={"value": v})}), (
                    v / c.value
                )
    raise SweepNotApplicable(
        "--sweep band needs a constant band width (or a constant times an expression, "
        "like `0.5 ETH * clamp(...)`)"
    )


def _with_width(band: Any, unit: str, v: Decimal) -> SymmetricBand:
    if band is None:
        return SymmetricBand(width=Const(value=v, unit=unit), range=Interval(lo=v, hi=v))
    if not isinstance(band, SymmetricBand):
        raise SweepNotApplicable(f"--sweep band varies a symmetric band; the first target's is {band.kind}")
    width, factor = _scaled_width(band.width, unit, v)
    lo = band.range.lo * factor if band.range.lo is not None else None
    hi = band.range.hi * factor if band.range.hi is not None else None
    if isinstance(width, Const):
        lo = hi = v
    return band.model_copy(update={"width": width, "range": Interval(lo=lo, hi=hi)})


def _band_target(ir: Strategy, name: str, v: Decimal) -> Any:
    if not ir.targets:
        raise SweepNotApplicable(f"--sweep {name}: the strategy has no target")
    t = ir.targets[0]
    if name == "risk_aversion":
        band = getattr(t, "band", None)
        if not isinstance(band, OptimalBand):
            raise SweepNotApplicable("--sweep risk_aversion needs an optimal(...) band on the first target")
        return t.model_copy(update={"band": band.model_copy(update={"risk_aversion": v})})
    if isinstance(t, DeltaTarget):
        return t.model_copy(update={"band": _with_width(t.band, t.unit, v)})
    if isinstance(t, LeverageTarget | CppiTarget):
        return t.model_copy(update={"band": _with_width(t.band, "", v)})
    if isinstance(t, WeightsTarget):
        legs = tuple(
            leg.model_copy(update={"band": _with_width(leg.band, "", v)}) for leg in t.legs
        )
        return t.model_copy(update={"legs": legs})
    raise SweepNotApplicable(f"--sweep band: a {t.kind} target has no band (it is kept within a range)")


def _trade_asset(ir: Strategy) -> str:
    for t in ir.targets:
        if isinstance(t, DeltaTarget):
            return t.asset
    raise SweepNotApplicable("--sweep min_trade: the spec has no `min trade` to give the unit; add one")


def apply_params(ir: Strategy, params: Mapping[str, float]) -> Strategy:
    """A copy of `ir` with the swept parameters substituted (values in canonical units)."""
    for name, value in params.items():
        v = _dec(value)
        if name in ("band", "risk_aversion"):
            ir = ir.model_copy(update={"targets": (_band_target(ir, name, v), *ir.targets[1:])})
        elif name == "min_trade":
            old = ir.costs.min_trade
            amount = Amount(value=v, asset=old.asset if old else _trade_asset(ir))
            ir = ir.model_copy(update={"costs": ir.costs.model_copy(update={"min_trade": amount})})
        elif name == "every":
            trig = ir.trigger.model_copy(update={"every": Const(value=v, unit="s")})
            ir = ir.model_copy(update={"trigger": trig})
        elif name == "cooldown":
            trig = ir.trigger.model_copy(update={"cooldown_s": v})
            ir = ir.model_copy(update={"trigger": trig})
        else:
            raise SweepNotApplicable(f"--sweep: unknown parameter {name!r}")
    return ir
