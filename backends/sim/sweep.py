"""Parameter sweeps: vary spec parameters over a grid and report the cost/hedge-error frontier.

``--sweep band=0.2:2:10`` is ``numpy.linspace(0.2, 2, 10)`` over the first target's band;
several ``--sweep`` flags make the grid product; the grid and each point's strategy are
:mod:`.sweep_grid`'s (re-exported here), so every point is an ordinary strategy that the
shared kernel runs unchanged. Every point uses the same seed (common random numbers), so the
differences between points come from the parameter and not from sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rebal.backends.sim.metrics import json_float, summarize
from rebal.compiler.ir import Strategy

from .sweep_grid import (
    PARAMETERS,
    SweepAxis,
    SweepError,
    SweepNotApplicable,
    SweepPlan,
    apply_params,
    grid,
    parse_sweep,
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
