"""The range of an IR expression by interval arithmetic: one definition for lowering and rules.

Market data is unbounded unless its nature bounds it: volatility and ages are non-negative,
spot is strictly positive, drawdown lies in [0, 1]. The result is a sound over-approximation.
"""

from __future__ import annotations

from . import ir
from .functions import BY_NAME
from .intervals import NONNEG, UNBOUNDED, Iv


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
        return BY_NAME[e.fn].range([expr_range(a) for a in e.args])
    return Iv(0.0, 1.0)  # a condition
