"""Interval arithmetic over expression ranges, used by range and risk checks.

Ranges are closed float intervals with infinities allowed; they are sound
over-approximations: the true value of the expression always lies inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INF = math.inf


@dataclass(frozen=True, slots=True)
class Iv:
    lo: float
    hi: float

    @staticmethod
    def point(x: float) -> Iv:
        return Iv(x, x)

    @property
    def is_point(self) -> bool:
        return self.lo == self.hi

    def contains_zero(self) -> bool:
        return self.lo <= 0.0 <= self.hi

    def __add__(self, o: Iv) -> Iv:
        return Iv(_add(self.lo, o.lo), _add(self.hi, o.hi))

    def __neg__(self) -> Iv:
        return Iv(-self.hi, -self.lo)

    def __sub__(self, o: Iv) -> Iv:
        return self + (-o)

    def __mul__(self, o: Iv) -> Iv:
        ps = [_mul(a, b) for a in (self.lo, self.hi) for b in (o.lo, o.hi)]
        return Iv(min(ps), max(ps))

    def __truediv__(self, o: Iv) -> Iv:
        if o.contains_zero():
            if o.lo == 0.0 and o.hi > 0.0:
                return self * Iv(1.0 / o.hi, INF)
            if o.hi == 0.0 and o.lo < 0.0:
                return self * Iv(-INF, 1.0 / o.lo)
            return Iv(-INF, INF)
        return self * Iv(1.0 / o.hi, 1.0 / o.lo)


def _add(a: float, b: float) -> float:
    s = a + b
    return 0.0 if math.isnan(s) else s


def _mul(a: float, b: float) -> float:
    if a == 0.0 or b == 0.0:
        return 0.0
    return a * b


def iv_abs(x: Iv) -> Iv:
    if x.lo >= 0:
        return x
    if x.hi <= 0:
        return -x
    return Iv(0.0, max(-x.lo, x.hi))


def iv_min(xs: list[Iv]) -> Iv:
    return Iv(min(x.lo for x in xs), min(x.hi for x in xs))


def iv_max(xs: list[Iv]) -> Iv:
    return Iv(max(x.lo for x in xs), max(x.hi for x in xs))


def iv_clamp(x: Iv, lo: Iv, hi: Iv) -> Iv:
    return iv_min([iv_max([x, lo]), hi])


def iv_sqrt(x: Iv) -> Iv:
    return Iv(math.sqrt(max(x.lo, 0.0)), math.sqrt(max(x.hi, 0.0)) if x.hi != INF else INF)


UNBOUNDED = Iv(-INF, INF)
NONNEG = Iv(0.0, INF)
POSITIVE = Iv(1e-300, INF)  # strictly positive (spot): its reciprocal is bounded
