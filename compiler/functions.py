"""The built-in functions of the language: one table, read by every layer that knows them.

Lowering (`expressions.py`: names, argument kinds and counts, the unit of the result, constant
folding), the IR (`ir.Call.fn` accepts exactly these names, and the JSON schema lists them),
interval ranges (`ranges.py`), `rebal explain` (`explain.py`: how a call reads), the
language server (hover and completion) and the kernel's evaluator (the elementwise numpy
implementation of a value function) all read this table. Adding a value function such as
`abs` means adding one `Function` here; a market function (`spot`, `realized_vol`, ...) also
needs the kernel to say where its data comes from (`backends/kernel/evaluator.py`, checked
by `tests/test_functions_table.py`).

The grammar has no list of names: a call is `NAME "(" args ")"`, so an unknown name is a
diagnostic from lowering (E209) with the closest known name, never a syntax error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from typing import Any, Literal

from .intervals import NONNEG, POSITIVE, UNBOUNDED, Iv, iv_abs, iv_clamp, iv_max, iv_min, iv_sqrt

#: What a function's arguments are: values (expressions), or names of market data.
Operands = Literal["values", "asset", "instrument", "asset_window"]
#: The unit of the result: the arguments' own, its square root, a ratio, the numeraire.
Result = Literal["same", "sqrt", "ratio", "numeraire"]


@dataclass(frozen=True)
class Function:
    """One built-in function and everything the layers need to know about it."""

    name: str
    signature: str
    doc: str  # the language reference's sentence (hover, `rebal explain --help` words)
    operands: Operands
    arity: int | None  # None: two or more
    result: Result
    #: The range of the result from the ranges of the arguments (market data: a constant).
    range: Callable[[Sequence[Iv]], Iv]
    #: How `rebal explain` reads a call: the argument words in, a phrase and its binding
    #: strength out (8 binds like a name, 0 needs parentheses inside an operator).
    words: Callable[[Sequence[str], str], tuple[str, int]]
    #: Constant folding of a value function (exact, in Decimal); None for market data.
    fold: Callable[[Sequence[Decimal]], Decimal] | None = None
    #: The elementwise implementation for the kernel (value functions): given the numpy
    #: module, a function of numpy arrays. (The compiler itself never imports numpy.)
    vector: Callable[[Any], Callable[..., Any]] | None = None
    #: A ratio that traders read as a percentage (`rebal explain`).
    percent: bool = False
    #: The result keeps the flavour of its arguments in `rebal explain` (min of two % reads %).
    keeps_flavour: bool = False

    @property
    def is_market(self) -> bool:
        """True when the function reads market data (its kernel source lives in the kernel)."""
        return self.operands != "values"


def listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _extreme(small: bool) -> Callable[[Sequence[str], str], tuple[str, int]]:
    def words(args: Sequence[str], _subject: str) -> tuple[str, int]:
        if len(args) > 2:
            return f"the {'smallest' if small else 'largest'} of {listing(args)}", 0
        return f"the {'smaller' if small else 'larger'} of {listing(args)}", 0

    return words


def _market(phrase: str) -> Callable[[Sequence[str], str], tuple[str, int]]:
    return lambda _args, subject: (phrase.format(subject), 8)


def _const(iv: Iv) -> Callable[[Sequence[Iv]], Iv]:
    return lambda _args: iv


TABLE: tuple[Function, ...] = (
    Function("abs", "abs(x)", "the absolute value, same unit.", "values", 1, "same",
             range=lambda a: iv_abs(a[0]), words=lambda a, _s: (f"|{a[0]}|", 8),
             fold=lambda v: abs(v[0]), vector=lambda np: np.abs, keeps_flavour=True),
    Function("min", "min(a, b, ...)", "the smallest of two or more values of one unit.",
             "values", None, "same", range=lambda a: iv_min(list(a)), words=_extreme(True),
             fold=lambda v: min(v), vector=lambda np: lambda *xs: reduce(np.minimum, xs), keeps_flavour=True),
    Function("max", "max(a, b, ...)", "the largest of two or more values of one unit.",
             "values", None, "same", range=lambda a: iv_max(list(a)), words=_extreme(False),
             fold=lambda v: max(v), vector=lambda np: lambda *xs: reduce(np.maximum, xs), keeps_flavour=True),
    Function("clamp", "clamp(x, lo, hi)",
             "x kept in [lo, hi]; its range is at most [lo, hi] (E403 when lo can exceed hi).",
             "values", 3, "same", range=lambda a: iv_clamp(a[0], a[1], a[2]),
             words=lambda a, _s: (f"{a[0]}, kept between {a[1]} and {a[2]}", 0),
             fold=lambda v: min(max(v[0], v[1]), v[2]), vector=lambda np: lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), keeps_flavour=True),
    Function("sqrt", "sqrt(x)", "the square root; the unit must have even powers.",
             "values", 1, "sqrt", range=lambda a: iv_sqrt(a[0]),
             words=lambda a, _s: (f"√({a[0]})", 8), fold=lambda v: v[0].sqrt(), vector=lambda np: lambda x: np.sqrt(np.maximum(x, 0.0))),
    Function("realized_vol", "realized_vol(ASSET, WINDOW)",
             "annualised realized volatility over a constant window, a ratio ≥ 0.",
             "asset_window", 2, "ratio", range=_const(NONNEG),
             words=_market("{} realized volatility"), percent=True),
    Function("implied_vol", "implied_vol(INSTRUMENT)",
             "an option's implied volatility, a ratio ≥ 0.", "instrument", 1, "ratio",
             range=_const(NONNEG), words=_market("{}'s implied volatility"), percent=True),
    Function("spot", "spot(ASSET)", "the asset's price in the numeraire, > 0.", "asset", 1,
             "numeraire", range=_const(POSITIVE), words=_market("the {} price")),
    Function("funding", "funding(INSTRUMENT)", "a perp's funding rate, a ratio.", "instrument",
             1, "ratio", range=_const(UNBOUNDED), words=_market("{}'s funding rate"),
             percent=True),
    Function("weight", "weight(INSTRUMENT)", "the instrument's signed fraction of equity.",
             "instrument", 1, "ratio", range=_const(UNBOUNDED), words=_market("{}'s weight"),
             percent=True),
)

BY_NAME: dict[str, Function] = {f.name: f for f in TABLE}
NAMES: tuple[str, ...] = tuple(BY_NAME)


def arity_text(f: Function) -> str:
    """How many arguments ``f`` takes, in words ("1 argument", "2 or more arguments")."""
    if f.arity is None:
        return "2 or more arguments"
    return f"{f.arity} argument" + ("" if f.arity == 1 else "s")


__all__ = ["BY_NAME", "NAMES", "TABLE", "Function", "arity_text", "listing"]
