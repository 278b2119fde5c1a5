"""The one vectorized evaluator of IR expressions: compiled to closures once, run per step.

``compile_expr`` walks an IR expression once at ``Kernel.build`` time and returns a closure
``f(ctx) -> value`` where ``ctx`` is the step's :class:`StepContext`. Values are Python floats
when constant and ``(B,)`` arrays otherwise; conditions give booleans or ``(B,)`` boolean
arrays. Sub-expressions without market or portfolio inputs are folded to constants at compile
time, so a step never re-interprets the tree.

Units of what references return (the compiler has already checked dimensions):

* ``delta``: units of its asset, or times spot when written in a currency;
* ``gamma``: ``Gamma S^2 / 100`` in the currency (USD delta change for a 1% move), or
  ``Gamma S / 100`` in the asset; ``vega`` per vol point; ``theta`` per day;
* ``equity`` and ``spot(A)`` in the numeraire (par currencies are worth 1);
* ``leverage``, ``drawdown``, ``oracle_deviation``, ``weight(I)``, ``implied_vol``,
  ``realized_vol`` as fractions (vols annualised); ``funding(I)`` a fraction per year;
  ``price_age`` in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rebal.compiler import ir
from rebal.compiler.functions import BY_NAME

from .context import StepContext
from .history import PriceHistory
from .layout import PAR_CURRENCIES, Layout

__all__ = ["Compiled", "Needs", "as_mask", "as_values", "compile_expr", "is_constant"]

Value = Any  # float | bool | NDArray
Compiled = Callable[[StepContext], Value]
FloatArray = NDArray[np.float64]


@dataclass
class Needs:
    """What the compiled expressions read, so the kernel computes only that per step."""

    gamma: bool = False
    vega: bool = False
    theta: bool = False
    drawdown: bool = False
    windows: set[tuple[int, float]] = field(default_factory=set)


class _Const:
    """A folded constant: the closure and its value, so callers can test for constness."""

    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value

    def __call__(self, ctx: StepContext) -> Value:
        return self.value


def is_constant(f: Compiled) -> bool:
    """True when ``f`` was folded to a constant at compile time."""
    return isinstance(f, _Const)


def as_values(v: Value, batch: int) -> FloatArray:
    """A value as a ``(B,)`` float array (a read-only broadcast for constants)."""
    arr = np.asarray(v, dtype=np.float64)
    return arr if arr.shape == (batch,) else np.broadcast_to(arr, (batch,))


def as_mask(v: Value, batch: int) -> NDArray[np.bool_]:
    """A condition as a ``(B,)`` boolean array."""
    arr = np.asarray(v, dtype=bool)
    return arr if arr.shape == (batch,) else np.broadcast_to(arr, (batch,))


def is_currency(unit: str, layout: Layout) -> bool:
    """The one greek-unit convention: a greek or delta written in this unit is a value in
    currency (a par currency or the numeraire), not a quantity of the underlying asset."""
    return unit in PAR_CURRENCIES or unit == layout.numeraire


class _Compiler:
    def __init__(self, layout: Layout, history: PriceHistory, needs: Needs) -> None:
        self.layout = layout
        self.history = history
        self.needs = needs

    def compile(self, e: Any) -> Compiled:
        f = self._compile(e)
        return f

    def _fold(self, f: Compiled, *parts: Compiled) -> Compiled:
        if all(isinstance(p, _Const) for p in parts):
            return _Const(f(None))  # type: ignore[arg-type]
        return f

    def _assets_for(self, asset: str | None) -> list[int]:
        if asset is None:
            return list(range(self.layout.n_assets))
        a = self.layout.asset_col(asset)
        return [] if a < 0 else [a]

    def _compile(self, e: Any) -> Compiled:
        if isinstance(e, ir.Const):
            return _Const(float(e.value))
        if isinstance(e, ir.Ref):
            return self._ref(e)
        if isinstance(e, ir.Call):
            return self._call(e)
        if isinstance(e, ir.Neg):
            g = self._compile(e.operand)
            return self._fold(lambda c: -g(c), g)
        if isinstance(e, ir.BinOp):
            left, right = self._compile(e.left), self._compile(e.right)
            op = e.op
            if op == "+":
                return self._fold(lambda c: left(c) + right(c), left, right)
            if op == "-":
                return self._fold(lambda c: left(c) - right(c), left, right)
            if op == "*":
                return self._fold(lambda c: left(c) * right(c), left, right)

            def div(c: StepContext) -> Value:
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.divide(left(c), right(c))

            return self._fold(div, left, right)
        if isinstance(e, ir.Compare):
            left, right = self._compile(e.left), self._compile(e.right)
            cmp = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                   "==": np.equal, "!=": np.not_equal}[e.op]
            return self._fold(lambda c: cmp(left(c), right(c)), left, right)
        if isinstance(e, ir.BoolOp):
            left, right = self._compile(e.left), self._compile(e.right)
            fn = np.logical_and if e.op == "and" else np.logical_or
            return self._fold(lambda c: fn(left(c), right(c)), left, right)
        if isinstance(e, ir.Not):
            g = self._compile(e.operand)
            return self._fold(lambda c: np.logical_not(g(c)), g)
        raise TypeError(f"not an IR expression: {e!r}")

    # ------------------------------------------------------------------ references

    def _ref(self, e: ir.Ref) -> Compiled:
        name, lay = e.name, self.layout
        if name in ("delta", "gamma", "vega", "theta"):
            cols = self._assets_for(e.asset)
            in_ccy = is_currency(e.unit, lay) or e.asset is None
            if name != "delta":
                setattr(self.needs, name, True)
            return _greek_ref(name, cols, in_ccy)
        if name == "equity":
            return lambda c: c.equity
        if name == "leverage":
            return lambda c: c.leverage
        if name == "drawdown":
            self.needs.drawdown = True
            return lambda c: c.drawdown
        if name == "price_age":
            return lambda c: c.price_age
        if name == "oracle_deviation":
            return lambda c: c.oracle_deviation
        raise ValueError(f"unknown reference {name!r}")

    def _call(self, e: ir.Call) -> Compiled:
        fn, lay = e.fn, self.layout
        if fn == "spot":
            a = lay.asset_col(e.symbol or "")
            return _Const(1.0) if a < 0 else (lambda c: c.spot[:, a])
        if fn == "implied_vol":
            a = int(lay.underlying[lay.col(e.symbol or "")])
            return _Const(0.0) if a < 0 else (lambda c: c.marks.vol[:, a])
        if fn == "realized_vol":
            a = lay.asset_col(e.symbol or "")
            if a < 0:
                return _Const(0.0)
            window = float(e.window_s or 0)
            self.needs.windows.add((a, window))
            rv = self.history.window(a, window)
            return lambda c: rv.vol(c.marks.vol[:, a])
        if fn == "funding":
            i = lay.col(e.symbol or "")
            return lambda c: c.funding(i)
        if fn == "weight":
            i = lay.col(e.symbol or "")

            def weight(c: StepContext) -> Value:
                with np.errstate(divide="ignore", invalid="ignore"):
                    return c.positions[:, i] * c.exposure_price[:, i] / c.equity

            return weight
        make = BY_NAME[fn].vector
        if make is None:
            raise ValueError(f"the kernel has no source for the market function {fn!r}")
        vector = make(np)
        args = [self._compile(a) for a in e.args]
        return self._fold(lambda c: vector(*(g(c) for g in args)), *args)


def _greek_ref(name: str, cols: list[int], in_ccy: bool) -> Compiled:
    """Portfolio greek summed over ``cols`` in the language's conventions."""

    def value(c: StepContext) -> Value:
        total: Value = 0.0
        for a in cols:
            s = c.spot[:, a]
            if name == "delta":
                v = c.delta_of(a) * s if in_ccy else c.delta_of(a)
            elif name == "gamma":
                v = c.gamma_units[:, a] * s * (s if in_ccy else 1.0) / 100.0
            elif name == "vega":
                v = c.vega_units[:, a] / 100.0 if in_ccy else c.vega_units[:, a] / (100.0 * s)
            else:
                v = c.theta_units[:, a] / 365.0 if in_ccy else c.theta_units[:, a] / (365.0 * s)
            total = total + v
        return total

    return value


def compile_expr(e: Any, layout: Layout, history: PriceHistory, needs: Needs) -> Compiled:
    """Compile one IR expression (or condition) to a closure over a :class:`StepContext`."""
    return _Compiler(layout, history, needs).compile(e)
