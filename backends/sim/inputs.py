"""What a simulation run needs, checked once before anything is allocated.

The sim venue (:func:`sim_venue`), the replay file it may read (:func:`replay_path`, through
the compiler's data-path rule) and its closes read once (:func:`replay_closes`), how many paths
it runs (:func:`run_paths`) and whether the run fits in memory (:func:`check_fits`).
`rebal simulate` and the engine both go through these, so each check has one wording.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rebal.compiler import ir
from rebal.compiler.data_paths import PathRefused, resolve_data_path
from rebal.compiler.run_size import RunSize, available_memory, human_bytes, run_size

if TYPE_CHECKING:
    from .replay import Closes

__all__ = ["SimulationError", "check_fits", "replay_closes", "replay_path", "run_paths",
           "sim_venue", "venue_problem"]


class SimulationError(Exception):
    """The strategy cannot be simulated on that venue (a user error, with the reason)."""


def venue_problem(strategy: Any, venue: str) -> str | None:
    """Why `venue` cannot be simulated, or None when it is a sim venue of `strategy`."""
    if not isinstance(strategy, ir.Strategy):
        return (f"simulate needs a strategy; {getattr(strategy, 'name', 'this file')!r} is a "
                "policy")
    names = [v.name for v in strategy.venues]
    sims = [v.name for v in strategy.venues if isinstance(v.config, ir.SimConfig)]
    listing = ", ".join(sims) if sims else "none: add `venue NAME via sim { ... }`"
    if venue not in names:
        close = difflib.get_close_matches(venue, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names) if names else "none"
        return (f"strategy {strategy.name!r} has no venue {venue!r}{hint} "
                f"(venues: {known}; sim venues: {listing})")
    if venue not in sims:
        return (f"venue {venue!r} runs via {strategy.venue(venue).backend}; simulate needs a "
                f"sim venue (sim venues of {strategy.name!r}: {listing})")
    return None


def sim_venue(strategy: ir.Strategy, venue: str) -> tuple[ir.Venue, ir.SimConfig]:
    """The sim venue named `venue` and its settings; SimulationError saying why not."""
    problem = venue_problem(strategy, venue)
    if problem:
        raise SimulationError(problem)
    v = strategy.venue(venue)
    assert isinstance(v.config, ir.SimConfig)
    return v, v.config


def replay_path(cfg: ir.SimConfig, base_dir: str | Path | None,
                allow_paths: Sequence[str | Path] = ()) -> Path:
    """The replay CSV of `cfg`, resolved against `base_dir` (the spec's folder; the current
    directory when None) and refused outside it and the `allow_paths` folders."""
    if not cfg.replay_file:
        raise SimulationError("model replay needs a CSV file")
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    try:
        path = resolve_data_path(cfg.replay_file, base, allow_paths)
    except PathRefused as exc:
        raise SimulationError(f"replay file {cfg.replay_file!r}: {exc}") from None
    if not path.is_file():
        raise SimulationError(f"replay file not found: {cfg.replay_file} (relative to {base})")
    return path


def check_fits(strategy: ir.Strategy, cfg: ir.SimConfig, paths: int | None,
               sample_paths: int = 0) -> RunSize:
    """The run's size; SimulationError when its memory estimate exceeds what is free."""
    size = run_size(strategy, cfg, paths, sample_paths)
    free = available_memory()
    if free is None or size.bytes <= free:
        return size
    need = (f"this run needs about {human_bytes(size.bytes)} of memory ({size.paths:,} paths x "
            f"{size.steps:,} steps); this machine has {human_bytes(free)} free")
    if sample_paths and run_size(strategy, cfg, paths).bytes <= free:
        raise SimulationError(f"{need}. --report keeps every step of {sample_paths} sample "
                              "paths: drop --report, or shorten the horizon or lengthen the step")
    lower = max(1, int(size.paths * free / size.bytes / 2))
    raise SimulationError(f"{need}. Lower the paths (--paths or `paths` in the venue), e.g. "
                          f"--paths {lower:,}")


def run_paths(strategy: ir.Strategy, venue_name: str, paths: int | None = None) -> int:
    """The number of paths a run of ``strategy`` on ``venue_name`` simulates (checked)."""
    _, cfg = sim_venue(strategy, venue_name)
    n_paths = int(paths if paths is not None else cfg.paths)
    if n_paths < 1:
        raise SimulationError(f"paths must be at least 1, got {n_paths}")
    return n_paths


def replay_closes(strategy: ir.Strategy, venue_name: str, base_dir: str | Path | None = None,
                  allow_paths: Sequence[str | Path] = ()) -> Closes | None:
    """The closes of the venue's replay CSV, read once (None for a stochastic model).

    Pass them to :func:`.engine.simulate` as ``replay_data`` to run without reading the file again
    (a distributed run scatters them to the workers once).
    """
    _, cfg = sim_venue(strategy, venue_name)
    if cfg.model != "replay":
        return None
    path = replay_path(cfg, base_dir, allow_paths)
    from .replay import load_closes  # numpy: only for a run

    try:
        return load_closes(path)
    except (OSError, ValueError) as exc:
        raise SimulationError(f"cannot build the replay market model: {exc}") from None
