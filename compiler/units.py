"""Dimensions and units: what a number means, checked by the compiler.

A dimension is a product of base units with integer exponents: asset symbols (`ETH`,
`USD`), time (`s`) and gas price (`gwei`). A pure ratio has no bases. ``%``, ``bps`` and
``x`` are ratios with a scale; ``s m h d w y`` are durations.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

#: Ratio units and their scale to a plain fraction.
RATIO_UNITS: dict[str, Decimal] = {"%": Decimal("0.01"), "bps": Decimal("0.0001"), "x": Decimal(1)}
#: Duration units in seconds (a year is 365 days).
DURATION_UNITS: dict[str, Decimal] = {
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(7 * 86400),
    "y": Decimal(365 * 86400),
}
GAS_UNITS: dict[str, Decimal] = {"gwei": Decimal(1)}
#: Stablecoins known without declaration (they are still distinct assets).
KNOWN_CURRENCIES = ("USD", "USDT", "USDC")
SECONDS_PER_YEAR = DURATION_UNITS["y"]


@dataclass(frozen=True, slots=True)
class Dim:
    """A dimension: sorted (base, exponent) pairs, exponents never zero."""

    bases: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def of(base: str) -> Dim:
        return Dim(((base, 1),))

    def __mul__(self, other: Dim) -> Dim:
        acc = dict(self.bases)
        for b, e in other.bases:
            acc[b] = acc.get(b, 0) + e
        return Dim(tuple(sorted((b, e) for b, e in acc.items() if e)))

    def inverse(self) -> Dim:
        return Dim(tuple((b, -e) for b, e in self.bases))

    def __truediv__(self, other: Dim) -> Dim:
        return self * other.inverse()

    def sqrt(self) -> Dim | None:
        if any(e % 2 for _, e in self.bases):
            return None
        return Dim(tuple((b, e // 2) for b, e in self.bases))

    @property
    def is_ratio(self) -> bool:
        return not self.bases

    @property
    def is_duration(self) -> bool:
        return self.bases == (("s", 1),)

    @property
    def is_gas(self) -> bool:
        return self.bases == (("gwei", 1),)

    @property
    def asset(self) -> str | None:
        """The asset symbol when this is a plain amount of one asset."""
        if len(self.bases) == 1 and self.bases[0][1] == 1 and self.bases[0][0] not in ("s", "gwei"):
            return self.bases[0][0]
        return None

    def __str__(self) -> str:
        if not self.bases:
            return ""
        num = [b if e == 1 else f"{b}^{e}" for b, e in self.bases if e > 0]
        den = [b if e == -1 else f"{b}^{-e}" for b, e in self.bases if e < 0]
        text = "*".join(num) or "1"
        return text + ("/" + "/".join(den) if den else "")

    def describe(self) -> str:
        """Words for messages: 'a ratio', 'a duration', 'an amount of ETH'."""
        if self.is_ratio:
            return "a ratio (%, bps, x or a plain number)"
        if self.is_duration:
            return "a duration (s, m, h, d, w, y)"
        if self.is_gas:
            return "a gas price (gwei)"
        if self.asset:
            return f"an amount of {self.asset}"
        return f"a quantity in {self}"


RATIO = Dim()
DURATION = Dim.of("s")
GAS = Dim.of("gwei")


def norm(d: Decimal) -> Decimal:
    """Canonical Decimal: no exponent noise, so equal values serialise equally in the IR."""
    if d == d.to_integral_value():
        try:
            return d.quantize(Decimal(1))
        except InvalidOperation:  # more digits than the context holds: keep the exponent
            return d.normalize()
    return d.normalize()


def unit_dim(unit: str | None, assets: frozenset[str]) -> tuple[Dim, Decimal] | None:
    """Dimension and scale of a unit word; None when the word is not a unit."""
    if unit is None:
        return RATIO, Decimal(1)
    if unit in RATIO_UNITS:
        return RATIO, RATIO_UNITS[unit]
    if unit in DURATION_UNITS:
        return DURATION, DURATION_UNITS[unit]
    if unit in GAS_UNITS:
        return GAS, GAS_UNITS[unit]
    if unit in assets:
        return Dim.of(unit), Decimal(1)
    return None


def all_unit_words(assets: frozenset[str]) -> list[str]:
    return sorted({*RATIO_UNITS, *DURATION_UNITS, *GAS_UNITS, *assets})
