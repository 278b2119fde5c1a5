"""Parameter sweeps: vary spec parameters over a grid and report the cost/hedge-error frontier.

``--sweep band=0.2:2:10`` is ``numpy.linspace(0.2, 2, 10)`` over the first target's band;
several ``--sweep`` flags make the grid product. Values are substituted into the frozen IR
with pydantic's ``model_copy(update=...)``, so every point is an ordinary strategy that the
shared kernel runs unchanged. Every point uses the same seed (common random numbers), so the
differences between points come from the parameter and not from sampling noise.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from rebal.backends.sim.metrics import json_float, summarize
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

if TYPE_CHECKING:
    from rebal.backends.sim.engine import SimResult

__all__ = [
    "PARAMETERS",
    "SweepAxis",
    "SweepError",
    "SweepNotApplicable",
    "SweepPlan",
    "SweepPoint",
    "SweepResult",
    "apply_params",
    "grid",
    "parse_sweep",
    "run_sweep",
    "sweep_json",
    "sweep_result",
]

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


@dataclass(frozen=True)
class SweepPoint:
    """The headline figures of one grid point; `summary` is the full `summarize` object."""

    values: dict[str, float]
    cost_total: float | None
    tracking_error: float | None
    pnl_std: float | None
    pnl_mean: float | None
    trades_mean: float | None
    efficient: bool
    summary: dict[str, Any]


@dataclass(frozen=True)
class SweepResult:
    strategy: str
    venue: str
    params: tuple[str, ...]
    paths: int
    steps: int
    seed: int
    elapsed_s: float
    points: tuple[SweepPoint, ...]
    numeraire: str = ""
    target_unit: str = ""


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


# ------------------------------------------------------------------------ running

Simulate = Callable[..., "SimResult"]
MapFn = Callable[[Callable[[int], "SimResult"], Iterable[int]], Iterable["SimResult"]]


def _efficient(points: Sequence[tuple[float | None, float | None]]) -> list[bool]:
    """Pareto flags: no other point is at least as cheap and as tight, and better in one."""
    flags = []
    for i, (c, e) in enumerate(points):
        if c is None or e is None:
            flags.append(False)
            continue
        dominated = any(
            j != i
            and c2 is not None
            and e2 is not None
            and c2 <= c
            and e2 <= e
            and (c2 < c or e2 < e)
            for j, (c2, e2) in enumerate(points)
        )
        flags.append(not dominated)
    return flags


def run_sweep(
    ir: Strategy,
    venue: str,
    axes: Sequence[SweepAxis] | SweepPlan,
    *,
    paths: int | None = None,
    seed: int | None = None,
    simulate: Simulate | None = None,
    map_fn: MapFn = map,
    on_point: Callable[[int, int], None] | None = None,
    **options: Any,
) -> SweepResult:
    """Simulate every grid point with the same seed; `map_fn` may be a Dask/Ray client's map.

    `axes` may be a :class:`SweepPlan` already validated by the caller (then nothing is
    built twice); `options` go to every point's `simulate` call (base_dir, on_step, ...).
    """
    if simulate is None:
        from rebal.backends.sim.engine import simulate as engine_simulate

        simulate = engine_simulate
    plan = axes if isinstance(axes, SweepPlan) else SweepPlan.of(ir, axes)
    variants, total = plan.variants, len(plan.points)
    sim = simulate

    def one(i: int) -> SimResult:
        return sim(variants[i], venue, paths=paths, seed=seed, **options)

    results: list[SimResult] = []
    for k, res in enumerate(map_fn(one, range(total)), start=1):
        results.append(res)
        if on_point is not None:
            on_point(k, total)
    return sweep_result(ir, venue, plan, results)


def sweep_result(ir: Strategy, venue: str, plan: SweepPlan, results: Sequence[SimResult], *,
                 elapsed_s: float | None = None) -> SweepResult:
    """The sweep from its points' results, in grid order (however they were run: in process
    or on a cluster); ``elapsed_s`` defaults to the sum of the points' times."""
    summaries = [summarize(res) for res in results]
    costs = [s["metrics"]["cost"]["total"] for s in summaries]
    tes = [s["metrics"]["tracking_error"]["mean"] for s in summaries]
    eff = _efficient(list(zip(costs, tes, strict=True)))
    pts = tuple(
        SweepPoint(
            values=p,
            cost_total=c,
            tracking_error=e,
            pnl_std=s["metrics"]["pnl"]["std"],
            pnl_mean=s["metrics"]["pnl"]["mean"],
            trades_mean=s["metrics"]["trades"]["mean"],
            efficient=f,
            summary=s,
        )
        for p, c, e, s, f in zip(plan.points, costs, tes, summaries, eff, strict=True)
    )
    first = results[0] if results else None
    return SweepResult(
        strategy=ir.name,
        venue=venue,
        params=tuple(a.name for a in plan.axes),
        paths=int(first.paths) if first else 0,
        steps=int(first.steps) if first else 0,
        seed=int(first.seed) if first else 0,
        elapsed_s=float(sum(r.elapsed_s for r in results)) if elapsed_s is None else elapsed_s,
        points=pts,
        numeraire=first.numeraire if first else "",
        target_unit=first.target_unit if first else "",
    )


def sweep_json(result: SweepResult) -> dict[str, Any]:
    """``{"sweep": {"param", "params", "points": [...]}}`` (see docs/simulation.md)."""
    single = len(result.params) == 1

    def point(p: SweepPoint) -> dict[str, Any]:
        vals = [json_float(p.values[n]) for n in result.params]
        return {
            "value": vals[0] if single else vals,
            "values": dict(zip(result.params, vals, strict=True)),
            "cost_total": p.cost_total,
            "tracking_error": p.tracking_error,
            "pnl_std": p.pnl_std,
            "pnl_mean": p.pnl_mean,
            "trades_mean": p.trades_mean,
            "efficient": p.efficient,
        }

    return {
        "strategy": result.strategy,
        "venue": result.venue,
        "paths": result.paths,
        "steps": result.steps,
        "seed": result.seed,
        "elapsed_s": json_float(result.elapsed_s),
        "sweep": {
            "param": result.params[0] if single else list(result.params),
            "params": list(result.params),
            "points": [point(p) for p in result.points],
        },
    }
