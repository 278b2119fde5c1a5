"""Sim venues a run would refuse, found at check time: data paths, model parameters, size.

* E407: a replay file outside the spec's folder (absolute, ``..``, a symlink) and outside
  every ``--allow-path`` folder (:mod:`rebal.compiler.data_paths`).
* E408: a market-model parameter the model refuses (a jump of -100% or less, a negative jump
  rate, a correlation of an asset with itself other than 1).
* E409: correlations that no set of assets can have together (not positive semidefinite).
* W908: a run whose memory estimate exceeds what this machine has free now.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from rebal.dsl.diagnostics import Diagnostic, make

from .. import ir
from ..data_paths import PathRefused, resolve_data_path
from ..run_size import available_memory, human_bytes, run_size
from . import RuleContext

_PSD_TOLERANCE = 1e-8  # the model's own tolerance for round-off negatives


def _sims(cx: RuleContext) -> Iterator[tuple[ir.Venue, ir.SimConfig]]:
    for v in cx.strategy.venues:
        if isinstance(v.config, ir.SimConfig):
            yield v, v.config


def data_paths(cx: RuleContext) -> Iterator[Diagnostic]:
    spec_dir = Path(cx.file).parent
    for v, cfg in _sims(cx):
        if cfg.model != "replay" or not cfg.replay_file:
            continue
        try:
            resolve_data_path(cfg.replay_file, spec_dir, cx.allow_paths)
        except PathRefused as exc:
            yield make("E407", f"venue `{v.name}` may not read this replay file: {exc.reason}",
                       cx.span(f"venues[{v.name}].model", f"venues[{v.name}]"), exc.hint)


def model_parameters(cx: RuleContext) -> Iterator[Diagnostic]:
    for v, cfg in _sims(cx):
        key = f"venues[{v.name}]"
        for a in cfg.assets:
            where = cx.span(f"{key}.assets[{a.asset}].jumps", f"{key}.assets[{a.asset}]")
            if cfg.model == "jump" and a.jump_size <= -1:
                yield make("E408", f"a jump of {float(a.jump_size):.0%} takes {a.asset} to zero "
                           "or below; the jump model needs sizes above -100%", where,
                           "use a size above -100%, e.g. `size -50%`")
            if cfg.model == "jump" and a.jump_intensity < 0:
                yield make("E408", f"{a.asset} has a negative number of jumps", where,
                           "write how many jumps per period, zero or more")
        for i, c in enumerate(cfg.correlations):
            if c.a == c.b and c.rho != 1:
                yield make("E408", f"the correlation of {c.a} with itself is 1, not "
                           f"{float(c.rho):g}", cx.span(f"{key}.correlations[{i}]", key),
                           "remove this line; correlations pair two different assets")
        yield from _correlations(cx, v, cfg)


def _correlations(cx: RuleContext, v: ir.Venue, cfg: ir.SimConfig) -> Iterator[Diagnostic]:
    names = sorted({n for c in cfg.correlations for n in (c.a, c.b)})
    if len(names) < 3:  # one pair with |rho| <= 1 is always a correlation
        return
    m = [[1.0 if i == j else 0.0 for j in range(len(names))] for i in range(len(names))]
    for c in cfg.correlations:
        if c.a != c.b:
            i, j = names.index(c.a), names.index(c.b)
            m[i][j] = m[j][i] = float(c.rho)
    if _positive_semidefinite(m):
        return
    last = len(cfg.correlations) - 1
    yield make("E409", "these correlations cannot hold together: "
               + ", ".join(f"{c.a}-{c.b} {float(c.rho):g}" for c in cfg.correlations)
               + " (the matrix is not positive semidefinite)",
               cx.span(f"venues[{v.name}].correlations[{last}]", f"venues[{v.name}]"),
               "if A and B move together and B and C move together, A and C cannot move "
               "opposite: loosen one of them")


def _positive_semidefinite(m: Sequence[Sequence[float]]) -> bool:
    """Cholesky with pivots down to a tolerance: every leading Schur complement >= -tol."""
    n = len(m)
    a = [list(row) for row in m]
    for k in range(n):
        if a[k][k] < -_PSD_TOLERANCE:
            return False
        if a[k][k] <= _PSD_TOLERANCE:  # a zero pivot: its column must vanish too
            if any(abs(a[i][k]) > 1e-6 for i in range(k + 1, n)):
                return False
            continue
        root = math.sqrt(a[k][k])
        for i in range(k + 1, n):
            a[i][k] /= root
        for i in range(k + 1, n):
            for j in range(k + 1, i + 1):
                a[i][j] -= a[i][k] * a[j][k]
                a[j][i] = a[i][j]
    return True


def run_fits(cx: RuleContext) -> Iterator[Diagnostic]:
    free = available_memory()
    if free is None:
        return
    for v, cfg in _sims(cx):
        size = run_size(cx.strategy, cfg)
        if size.bytes > free:
            yield make("W908", f"simulating venue `{v.name}` needs about "
                       f"{human_bytes(size.bytes)} of memory, more than this machine has "
                       "free", cx.span(f"venues[{v.name}].paths",
                                                             f"venues[{v.name}]"),
                       "lower `paths` (memory grows with paths, not with steps)")


RULES = (data_paths, model_parameters, run_fits)
