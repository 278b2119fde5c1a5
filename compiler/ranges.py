"""The range of an IR expression by interval arithmetic: one definition for lowering and rules.

Market data is unbounded unless its nature bounds it: volatility and ages are non-negative,
spot is strictly positive, drawdown lies in [0, 1]. The result is a sound over-approximation.
"""

from __future__ import annotations

from . import ir
from .intervals import NONNEG, POSITIVE, UNBOUNDED, Iv, iv_abs, iv_clamp, iv_max, iv_min, iv_sqrt


def expr_range(e: ir.Expr) -> Iv:
    """A sound range of an IR expression by interval arithmetic (market data unbounded)."""
    if isinstance(e, ir.Const):
        return Iv.point(float(e.value))
    if isinstance(e, ir.Ref):
        if e.name == "drawdown":
            return Iv(0.0, 1.0)
        if e.name in ("price_age", "leverage", "oracle_deviation"):
            return NONNEG
        return UNBOUNDED
    if isinstance(e, ir.Neg):
        return -expr_range(e.operand)
    if isinstance(e, ir.BinOp):
        a, b = expr_range(e.left), expr_range(e.right)
        return a + b if e.op == "+" else a - b if e.op == "-" else a * b if e.op == "*" else a / b
    if isinstance(e, ir.Call):
        args = [expr_range(a) for a in e.args]
        if e.fn == "abs" and args:
            return iv_abs(args[0])
        if e.fn == "sqrt" and args:
            return iv_sqrt(args[0])
        if e.fn == "min" and args:
            return iv_min(args)
        if e.fn == "max" and args:
            return iv_max(args)
        if e.fn == "clamp" and len(args) == 3:
            return iv_clamp(args[0], args[1], args[2])
        if e.fn in ("realized_vol", "implied_vol"):
            return NONNEG
        if e.fn == "spot":
            return POSITIVE
        return UNBOUNDED
    return Iv(0.0, 1.0)  # a condition
