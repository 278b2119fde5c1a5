"""Source-like text of a syntax-tree expression, so hints quote the spec's own expression."""

from __future__ import annotations

from . import ast

#: Units written right after their number (`60%`, `12h`); others take a space (`20 bps`).
_TIGHT_UNITS = frozenset({"%", "s", "m", "h", "d", "w", "y"})
_PRECEDENCE = {"or": 1, "and": 2, "cmp": 3, "+": 4, "-": 4, "*": 5, "/": 5}


def expr_text(e: ast.Expr) -> str:
    """``clamp(60% / realized_vol(SOL, 12h), 0.25, 2)`` for the tree of that expression."""
    return _text(e, 0)


def _num(n: ast.Num) -> str:
    value = format(n.value.normalize(), "f") if n.value == n.value.to_integral() else str(n.value)
    if not n.unit:
        return value
    return f"{value}{n.unit}" if n.unit in _TIGHT_UNITS else f"{value} {n.unit}"


def _text(e: ast.Expr, outer: int) -> str:
    if isinstance(e, ast.Num):
        return _num(e)
    if isinstance(e, ast.Var):
        return e.name
    if isinstance(e, ast.Call):
        return f"{e.name}({', '.join(_text(a, 0) for a in e.args)})"
    if isinstance(e, ast.Neg):
        return "-" + _text(e.operand, 6)
    if isinstance(e, ast.Not):
        return "not " + _text(e.operand, 3)
    key = "cmp" if isinstance(e, ast.Compare) else e.op
    prec = _PRECEDENCE[key]
    # Left-associative: the right operand of `-` and `/` needs brackets at equal precedence.
    body = f"{_text(e.left, prec)} {e.op} {_text(e.right, prec + 1)}"
    return f"({body})" if prec < outer else body


__all__ = ["expr_text"]
