"""When a division is allowed although its divisor's range contains zero (E405).

Interval arithmetic with infinities: a divisor that touches zero from one side, over a
numerator that never reaches zero, gives a quotient that is defined everywhere and only runs
off to one infinity (`60% / realized_vol(SOL, 12h)` at zero volatility). That quotient is an
*open division*: it passes when something downstream bounds it (`clamp`, `min`), and is an
error where the value itself is used. 0/0, and a divisor that crosses zero (the sign of the
quotient depends on the side), are errors at once. Hints quote the spec's own expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

from rebal.dsl import ast
from rebal.dsl.diagnostics import Sink
from rebal.dsl.exprtext import expr_text

from .intervals import Iv


@dataclass(frozen=True)
class OpenDivision:
    """A division whose quotient is unbounded on one side, and the divisor's unit."""

    node: ast.BinOp
    divisor_unit: str


def one_sided_quotient(num: Iv, div: Iv) -> bool:
    """True when ``num / div`` is defined for every value but unbounded on one side."""
    touches = (div.lo == 0.0 < div.hi) or (div.lo < 0.0 == div.hi)
    return touches and not num.contains_zero()


def _floor(unit: str) -> str:
    """A small positive literal in ``unit`` for a `max(x, floor)` hint."""
    return "10%" if not unit else (f"1{unit}" if unit == "s" else f"1 {unit}")


def division_by_zero(sink: Sink, e: ast.BinOp, num: Iv, div: Iv, divisor_unit: str,
                     div_is_const: bool, range_text: str) -> None:
    """E405 for a division that is undefined somewhere (0/0, zero from both sides, `/ 0`)."""
    if div_is_const:
        sink.emit("E405", "division by zero", e.right.span, "divide by a nonzero value")
        return
    why = ("and so can the numerator (0/0 has no value)" if num.contains_zero()
           else "from either side (the sign of the quotient is undefined)")
    sink.emit(
        "E405",
        f"this divisor can be zero (its range is {range_text}), {why}",
        e.right.span,
        f"bound it away from zero, e.g. `max({expr_text(e.right)}, {_floor(divisor_unit)})`",
    )


def unbounded_quotient(sink: Sink, open_div: OpenDivision) -> None:
    """E405 for an open division used where a bounded value is needed."""
    div = open_div.node
    sink.emit(
        "E405",
        "this divisor can be zero, and nothing bounds the quotient: at zero it is unbounded",
        div.right.span,
        f"bound the quotient, e.g. `clamp({expr_text(div)}, LO, HI)`, or the divisor, "
        f"e.g. `max({expr_text(div.right)}, {_floor(open_div.divisor_unit)})`",
    )


__all__ = ["OpenDivision", "division_by_zero", "one_sided_quotient", "unbounded_quotient"]
