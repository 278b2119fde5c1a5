"""The one walker over IR expressions: every node, parent before children, in source order.

Explain (which market data an expression moves with) and the validation rules (which names
and instruments it reads) both walk expressions through :func:`walk`.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import ir

__all__ = ["walk"]


def walk(e: ir.Expr | None) -> Iterator[ir.Expr]:
    """``e`` and every expression inside it (nothing for None)."""
    if e is None:
        return
    yield e
    if isinstance(e, ir.Call):
        for a in e.args:
            yield from walk(a)
    elif isinstance(e, ir.BinOp | ir.Compare | ir.BoolOp):
        yield from walk(e.left)
        yield from walk(e.right)
    elif isinstance(e, ir.Neg | ir.Not):
        yield from walk(e.operand)
