"""Shared helpers for lowering clauses: constant operands of a given dimension.

Every helper pushes a diagnostic and returns ``None`` when the operand is wrong, so the
caller simply skips the field and lowering goes on to find the next problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from decimal import Decimal

from rebal.dsl import ast
from rebal.dsl.diagnostics import Sink, Span

from . import ir
from .expressions import ExprContext, Typed, lower_value
from .units import DURATION, GAS, RATIO, Dim, norm

CLAUSE_WORDS = {
    "max_slippage": "max slippage", "max_fee": "max fee", "max_gas": "max gas",
    "max_gas_cost": "max gas cost", "min_trade": "min trade", "split": "split",
    "budget": "budget", "max_funding": "max funding", "max_leverage": "max leverage",
    "liquidation_buffer": "liquidation buffer", "max_position": "max position",
    "max_notional": "max notional", "max_orders": "max orders", "halt": "halt when",
    "on_breach": "on breach", "every": "every", "cooldown": "cooldown", "band": "band",
    "hedge": "hedge with", "rebalance": "rebalance to", "recenter": "recenter",
    "cppi_risky": "risky", "cppi_safe": "safe", "cppi_floor": "floor",
    "cppi_multiplier": "multiplier", "description": "description", "capital": "capital",
    "owns": "owns", "start_date": "start", "valid_for": "valid for",
    "maintenance_margin": "maintenance margin", "opt_vol": "vol", "opt_drift": "drift",
    "opt_vol_of_vol": "vol_of_vol", "opt_mean_reversion": "mean_reversion",
    "opt_vol_correlation": "vol_correlation", "opt_jumps": "jumps",
}


def words(key: str) -> str:
    """How a clause key is written in a spec."""
    return CLAUSE_WORDS.get(key, key)


class ClauseReader:
    """Reads typed constant operands out of clauses for one strategy."""

    def __init__(self, cx: ExprContext) -> None:
        self.cx = cx
        self.sink: Sink = cx.sink

    # ------------------------------------------------------------ operands
    def expr(self, e: ast.Value, span: Span) -> Typed | None:
        if not isinstance(e, ast.Num | ast.Var | ast.Call | ast.BinOp | ast.Neg | ast.Compare
                          | ast.BoolOp | ast.Not):
            self.sink.emit("E101", "a value is expected here", span)
            return None
        return lower_value(e, self.cx)

    def const(self, e: ast.Value, want: Dim | None, what: str, span: Span) -> tuple[Decimal, Dim] | None:
        t = self.expr(e, span)
        if t is None:
            return None
        if want is not None and t.dim != want:
            self.sink.emit(
                "E301",
                f"{what} must be {want.describe()}, not {t.dim.describe()}",
                getattr(e, "span", span),
                _unit_hint(want),
            )
            return None
        if t.const is None:
            self.sink.emit(
                "E401", f"{what} must be a constant here, not an expression of market data",
                getattr(e, "span", span), "write a number with its unit",
            )
            return None
        return t.const, t.dim

    def ratio(self, e: ast.Value, what: str, span: Span, *, lo: float | None = 0.0,
              hi: float | None = None) -> Decimal | None:
        r = self.const(e, RATIO, what, span)
        if r is None:
            return None
        return self._bounded(r[0], what, getattr(e, "span", span), lo, hi)

    def duration(self, e: ast.Value, what: str, span: Span, *, positive: bool = True) -> Decimal | None:
        r = self.const(e, DURATION, what, span)
        if r is None:
            return None
        v = r[0]
        if v < 0 or (positive and v == 0):
            self.sink.emit("E401", f"{what} must be {'positive' if positive else 'zero or more'}",
                           getattr(e, "span", span), "durations are written like 30s, 5m, 8h, 1d")
            return None
        return norm(v)

    def gas(self, e: ast.Value, what: str, span: Span) -> Decimal | None:
        r = self.const(e, GAS, what, span)
        return None if r is None else self._bounded(r[0], what, getattr(e, "span", span), 0.0, None)

    def amount(self, e: ast.Value, what: str, span: Span, *, positive: bool = True,
               assets: Iterable[str] | None = None) -> ir.Amount | None:
        t = self.expr(e, span)
        if t is None:
            return None
        asset = t.dim.asset
        esp = getattr(e, "span", span)
        if asset is None:
            self.sink.emit("E301", f"{what} must be an amount of an asset, not {t.dim.describe()}",
                           esp, "write the asset after the number, e.g. `50 USDT` or `0.1 ETH`")
            return None
        allowed = list(assets) if assets is not None else None
        if allowed is not None and asset not in allowed:
            self.sink.emit("E303", f"{what} is in {asset}, but it must be in {' or '.join(allowed)}",
                           esp, "amounts of different assets cannot be compared without a price")
            return None
        if t.const is None:
            self.sink.emit("E401", f"{what} must be a constant", esp, "write a number with its unit")
            return None
        if positive and t.const <= 0:
            self.sink.emit("E401", f"{what} must be positive", esp)
            return None
        return ir.Amount.model_construct(value=norm(t.const), asset=asset)

    def integer(self, e: ast.Value, what: str, span: Span, *, lo: int = 0) -> int | None:
        r = self.const(e, RATIO, what, span)
        if r is None:
            return None
        v = r[0]
        if v != v.to_integral_value() or v < lo:
            self.sink.emit("E401", f"{what} must be a whole number of at least {lo}",
                           getattr(e, "span", span))
            return None
        return int(v)

    def _bounded(self, v: Decimal, what: str, span: Span, lo: float | None,
                 hi: float | None) -> Decimal | None:
        if (lo is not None and v < Decimal(str(lo))) or (hi is not None and v > Decimal(str(hi))):
            rng = (f"between {_pct(lo)} and {_pct(hi)}" if lo is not None and hi is not None
                   else f"at least {_pct(lo)}" if lo is not None else f"at most {_pct(hi)}")
            unit = "written as a ratio: 0.5, 50%, 50 bps or 2x" if hi is not None and hi <= 1 else ""
            self.sink.emit("E401", f"{what} must be {rng}", span,
                           f"use a value {rng}" + (f", {unit}" if unit else ""))
            return None
        return norm(v)

    def name(self, v: ast.Value, pool: Sequence[str], what: str, span: Span) -> str | None:
        """A declared name (instrument, asset, venue), with 'did you mean'."""
        if not isinstance(v, ast.Name | ast.Var):
            self.sink.emit("E101", f"{what} name expected here", span)
            return None
        text = v.text if isinstance(v, ast.Name) else v.name
        if text not in pool:
            self.undefined(text, pool, what, v.span)
            return None
        return text

    def undefined(self, text: str, pool: Sequence[str], what: str, span: Span) -> None:
        close = difflib.get_close_matches(text, list(pool), n=1, cutoff=0.5)
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif pool:
            hint = f"declared {what}s: {', '.join(sorted(pool))}"
        else:
            hint = f"declare the {what} first"
        self.sink.emit("E201", f"`{text}` is not a declared {what}", span, hint)


def _pct(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:g}" if x >= 10 or x == 0 else f"{x * 100:g}%"


def _unit_hint(d: Dim) -> str:
    if d.is_ratio:
        return "write a ratio such as 20 bps, 5%, 3x or 0.5"
    if d.is_duration:
        return "write a duration such as 30s, 5m, 8h, 1d"
    if d.is_gas:
        return "write a gas price such as 40 gwei"
    return f"write an amount of {d}"


def check_once(clauses: Iterable[ast.Clause], sink: Sink, repeatable: frozenset[str]) -> dict[str, ast.Clause]:
    """First clause per key; a second one of a non-repeatable key is E206."""
    seen: dict[str, ast.Clause] = {}
    for c in clauses:
        if c.key in seen and c.key not in repeatable:
            first = seen[c.key]
            from rebal.dsl.diagnostics import Label

            sink.emit("E206", f"`{words(c.key)}` is given twice", c.span,
                      "keep one; the later one would silently win", labels=[Label(first.span, "first given here")])
            continue
        seen.setdefault(c.key, c)
    return seen
