"""Numbers, ratios and durations in words, for messages and explanations: one definition.

Exact values (``Decimal``, ``int``: what a spec states) are written exactly; computed figures
(``float``: ranges, required positions, simulation results) by :func:`figure`, the one format
of every computed number in `rebal explain`, `rebal simulate`'s table and its report:
``FIGURE_DIGITS`` significant digits, never fewer than the whole units, thousands separators,
infinities as "unbounded". ``100000`` -> ``100,000``; ``-142.819`` -> ``-142.8``; ``0.6`` as a
percentage -> ``60%``; ``28800`` seconds -> ``8h``.
"""

from __future__ import annotations

import math
from decimal import Decimal

from . import ir

_DAY = 86400
_PER = {365 * _DAY: "year", 7 * _DAY: "week", _DAY: "day", 3600: "hour", 60: "minute", 1: "second"}

Number = Decimal | int | float

#: Significant digits of a computed figure (whole units are never rounded away).
FIGURE_DIGITS = 4


def figure(x: float, digits: int = FIGURE_DIGITS, *, signed: bool = False) -> str:
    """A computed number: ``digits`` significant digits but all of its whole units, trailing
    zeros dropped, thousands separators: -142.819 -> '-142.8', 44.9247 -> '44.92', 0.23537 ->
    '0.2354', 1234567.8 -> '1,234,568'. ``signed`` writes a '+' on positive numbers."""
    v = float(x)
    if not math.isfinite(v):
        return _unbounded(v)
    plus = "+" if signed and v > 0 else ""
    a = abs(v)
    if a == 0.0:
        return "0"
    if a < 1e-6 or a >= 1e18:
        return plus + f"{v:.{digits}g}"
    places = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{v:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else plus + text


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
    """A number with thousands separators and no exponent: 100000 -> '100,000'; a computed
    (float) one by :func:`figure`."""
    if isinstance(x, float):
        return figure(x)
    d = _dec(x)
    if d is None:
        return _unbounded(x)
    if not d.is_finite() or (d != 0 and not -12 <= d.adjusted() <= 20):
        return format(d, ".6g")  # absurd magnitudes: never expand 1e999999999 digit by digit
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return format(d.normalize(), ",f")


def pct(x: Number) -> str:
    """A fraction as a percentage: 0.6 -> '60%'; a computed one by :func:`figure` (43.48%)."""
    if isinstance(x, float):
        return f"{figure(x * 100)}%" if math.isfinite(x) else _unbounded(x)
    return f"{num(Decimal(x) * 100)}%"


def bps(x: Number) -> str:
    """A fraction in basis points: 0.002 -> '20 bps'."""
    if isinstance(x, float):
        return f"{figure(x * 10000)} bps" if math.isfinite(x) else _unbounded(x)
    return f"{num(Decimal(x) * 10000)} bps"


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


