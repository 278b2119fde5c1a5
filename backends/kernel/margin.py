"""The venue's maintenance margin as the kernel weighs it: one formula, tiered by notional.

A venue states, per instrument, a table of *tiers* (Binance's leverage brackets, ccxt's
unified leverage tiers): from a notional floor upward a position needs ``rate x |N| - cum``
of maintenance margin, ``N`` its notional in the numeraire. ``cum`` is Binance's
"maintenance amount", ``cum_n = cum_(n-1) + floor_n x (rate_n - rate_(n-1))``, which keeps the
requirement continuous where one tier ends and the next begins; a venue that states no ``cum``
charges the tier's rate on the whole notional (``cum`` 0). A venue that states one fraction
of notional per instrument (the rate of the position held: Deribit, or a venue with no tiers)
is the one-tier table :meth:`MarginTiers.flat`, so every stated margin goes through
:func:`tiered_requirement` and nothing else:

* the requirement of each instrument is read at the notional it *has* (after the trade, for
  the gate), so a trade that moves a position into a higher tier is weighed at that tier;
* its first-order sensitivity to the underlying's price, ``rate x |N|`` at the current tier
  (the requirement's slope when ``N`` moves in proportion to the price), is what the
  liquidation distance linearises on. The requirement is convex in the price (rates rise with
  the notional), so a move that crosses a tier boundary reaches liquidation a little sooner
  than the tangent says.

The notional is ``|q| x S`` (units of underlying at its spot) for perps and futures and, when
the venue states a figure for them, for options: a short option's maintenance margin as a
fraction of its underlying notional (Deribit's ``(0.075 + mark) x size`` coins is
``0.075 + mark`` in the coin per coin). An inverse contract's notional is fixed in the
numeraire, so its requirement does not move with the price (the caller drops its slope).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MarginTiers", "Tier", "tiered_requirement"]

FloatArray = NDArray[np.float64]
#: One tier: (notional floor in the numeraire, maintenance rate, cum in the numeraire).
Tier = tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class MarginTiers:
    """Per instrument ``(I, K)`` tier tables, lowest tier first, padded to ``K`` tiers with a
    floor of +inf (never reached). ``floor[:, 0]`` is 0."""

    floor: FloatArray
    rate: FloatArray
    cum: FloatArray

    @staticmethod
    def flat(rate: FloatArray) -> MarginTiers:
        """One tier per instrument: ``rate`` ``(I,)`` of every notional."""
        r = np.asarray(rate, dtype=np.float64).reshape(-1, 1)
        return MarginTiers(np.zeros_like(r), r.copy(), np.zeros_like(r))

    @staticmethod
    def of(instruments: Sequence[str], fraction: FloatArray,
           tables: Mapping[str, Sequence[Tier]]) -> MarginTiers:
        """The venue's ``tables`` where it states one (instrument -> tiers), else the one
        tier of ``fraction`` ``(I,)``."""
        rows = [sorted(tables[n]) if tables.get(n) else [(0.0, float(fraction[i]), 0.0)]
                for i, n in enumerate(instruments)]
        k = max((len(r) for r in rows), default=1)
        floor = np.full((len(rows), k), np.inf)
        rate = np.zeros((len(rows), k))
        cum = np.zeros((len(rows), k))
        for i, r in enumerate(rows):
            for j, (f, m, c) in enumerate(r):
                floor[i, j], rate[i, j], cum[i, j] = (0.0 if j == 0 else f), m, c
            rate[i, len(r):] = r[-1][1]
            cum[i, len(r):] = r[-1][2]
        return MarginTiers(floor, rate, cum)


def as_tiers(margin: FloatArray | MarginTiers) -> MarginTiers:
    """A per-instrument fraction ``(I,)`` as its one-tier table; tiers unchanged."""
    return margin if isinstance(margin, MarginTiers) else MarginTiers.flat(margin)


def tiered_requirement(tiers: MarginTiers, notional: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Maintenance requirement and its price slope per instrument, both ``(B, I)`` in the
    numeraire, for absolute notionals ``notional`` ``(B, I)``: ``rate_k x N - cum_k`` with
    ``k`` the highest tier whose floor is below ``N``, and ``rate_k x N``."""
    n = np.asarray(notional, dtype=np.float64)
    if tiers.floor.shape[1] == 1:  # one tier (a stated fraction): no look-up
        slope: FloatArray = tiers.rate[:, 0] * n
        req: FloatArray = slope - tiers.cum[:, 0]
    else:
        k = np.maximum((tiers.floor[None, :, :] < n[:, :, None]).sum(axis=2) - 1, 0)
        cols = np.arange(n.shape[1])[None, :]
        slope = tiers.rate[cols, k] * n
        req = slope - tiers.cum[cols, k]
    req = np.where(n > 0.0, np.maximum(req, 0.0), 0.0)
    return req, slope
