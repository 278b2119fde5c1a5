"""Numbers, ratios and durations in words, for messages and explanations: one definition.

Exact values (``Decimal``, ``int``: what a spec states) are written exactly; computed figures
(``float``: ranges, required positions) to six significant digits (percentages and basis
points to four), with infinities as "unbounded". ``100000`` -> ``100,000``; ``0.6`` as a percentage -> ``60%``; ``28800`` seconds
-> ``8h``.
"""

from __future__ import annotations

import math
from decimal import Decimal

from . import ir

_DAY = 86400
_PER = {365 * _DAY: "year", 7 * _DAY: "week", _DAY: "day", 3600: "hour", 60: "minute", 1: "second"}

Number = Decimal | int | float


def _dec(x: Number) -> Decimal | None:
    """``x`` as a Decimal; a float is rounded to 6 significant digits; None if not finite."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return Decimal(f"{x:.6g}")
    return Decimal(x)


def _unbounded(x: Number) -> str:
    return "undefined" if x != x else ("unbounded" if x > 0 else "-unbounded")


def num(x: Number) -> str:
    """A number with thousands separators and no exponent: 100000 -> '100,000'."""
    d = _dec(x)
    if d is None:
        return _unbounded(x)
    if not d.is_finite() or (d != 0 and not -12 <= d.adjusted() <= 20):
        return format(d, ".6g")  # absurd magnitudes: never expand 1e999999999 digit by digit
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return format(d.normalize(), ",f")


def _scaled(x: Number, scale: int) -> Decimal | None:
    """``x * scale``; a computed (float) figure to 4 significant digits: 43.48%, not 43.4783%."""
    if isinstance(x, float):
        return Decimal(f"{x * scale:.4g}") if math.isfinite(x) else None
    return Decimal(x) * scale


def pct(x: Number) -> str:
    """A fraction as a percentage: 0.6 -> '60%'."""
    d = _scaled(x, 100)
    return _unbounded(x) if d is None else f"{num(d)}%"


def bps(x: Number) -> str:
    """A fraction in basis points: 0.002 -> '20 bps'."""
    d = _scaled(x, 10000)
    return _unbounded(x) if d is None else f"{num(d)} bps"


def mult(x: Number) -> str:
    """A multiple: 3 -> '3x'."""
    return f"{num(x)}x"


def amount(a: ir.Amount) -> str:
    return f"{num(a.value)} {a.asset}"


def dur(seconds: Number) -> str:
    """Seconds as a trader writes them: 28800 -> '8h', 86400 -> '24h', 90 days -> '90d'.

    Years when whole, days from two days up, then hours, minutes, seconds.
    """
    s = _dec(seconds)
    if s is None:
        return _unbounded(seconds)
    if not s.is_finite() or s.adjusted() > 15:
        return f"{num(s)}s"
    if s != 0 and s % (365 * _DAY) == 0:
        return f"{num(s / (365 * _DAY))}y"
    if s >= 2 * _DAY and s % _DAY == 0:
        return f"{num(s / _DAY)}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if s != 0 and s % size == 0:
            return f"{num(s / size)}{unit}"
    return f"{num(s)}s"


def per(seconds: Decimal | int) -> str:
    """'per day' for exactly one year, week, day, hour, minute or second; 'per 8h' otherwise."""
    s = Decimal(seconds)
    if s == s.to_integral_value() and int(s) in _PER:
        return f"per {_PER[int(s)]}"
    return f"per {dur(s)}"


