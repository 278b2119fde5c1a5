"""Lower syntax-tree expressions to IR expressions, checking dimensions and computing ranges.

Each lowered expression comes back as a :class:`Typed`: the IR node, its dimension, and its
range by interval arithmetic. Problems are pushed into the sink; a failed sub-expression
yields ``None`` so one run reports every problem without cascades.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property

from rebal.dsl import ast
from rebal.dsl.diagnostics import Sink, Span

from . import ir
from .division import OpenDivision, division_by_zero, one_sided_quotient, unbounded_quotient
from .functions import BY_NAME, TABLE, Function, arity_text
from .intervals import Iv
from .ranges import expr_range
from .units import DURATION, RATIO, Dim, all_unit_words, norm, unit_dim

BOOL = Dim((("<bool>", 1),))

#: The built-in functions: one table (`functions.py`); name -> signature, for messages.
FUNCTIONS: dict[str, str] = {f.name: f.signature for f in TABLE}
#: Names usable as values.
REFS = ("delta", "gamma", "vega", "theta", "leverage", "drawdown", "equity", "price_age",
        "oracle_deviation")


@dataclass(frozen=True)
class Typed:
    node: ir.Const | ir.Ref | ir.Call | ir.BinOp | ir.Neg | ir.Compare | ir.BoolOp | ir.Not
    dim: Dim
    #: A division in this value whose divisor can reach zero and which leaves the range
    #: unbounded on one side: harmless if something downstream bounds it (`clamp`, `min`),
    #: an error (E405) where the value itself is used.
    open_division: OpenDivision | None = None

    @cached_property
    def range(self) -> Iv:
        """The node's range by interval arithmetic (the one definition in `ranges`)."""
        return expr_range(self.node)

    @property
    def const(self) -> Decimal | None:
        return self.node.value if isinstance(self.node, ir.Const) else None


@dataclass
class ExprContext:
    """What names mean while lowering one strategy's expressions."""

    assets: frozenset[str]
    instruments: Mapping[str, ast.Instrument]
    numeraire: str
    underlying: str | None  # the asset `delta` is measured in by default
    sink: Sink


def fmt_range(r: Iv, dim: Dim) -> str:
    """`0.25 ETH to 1.5 ETH`, `unbounded below to 28800s`: a range in words with its unit."""
    unit = str(dim)

    def one(x: float) -> str:
        if x in (float("inf"), float("-inf")):
            return "unbounded" if x > 0 else "-unbounded"
        if not unit:
            return f"{x:g}"
        return f"{x:g}{unit}" if unit == "s" else f"{x:g} {unit}"

    return f"{one(r.lo)} to {one(r.hi)}"


def _unit_str(d: Dim) -> str:
    return str(d)


def _const(value: Decimal, dim: Dim) -> Typed:
    return Typed(ir.Const.model_construct(value=norm(value), unit=_unit_str(dim)), dim)


def lower_expr(e: ast.Expr, cx: ExprContext, *, delta_unit: str | None = None) -> Typed | None:
    """Lower one expression; ``delta_unit`` makes `delta` mean its value in that currency."""
    if isinstance(e, ast.Num):
        ud = unit_dim(e.unit, cx.assets)
        if ud is None:
            words = all_unit_words(cx.assets)
            close = difflib.get_close_matches(e.unit or "", words, n=1, cutoff=0.5)
            next_line = e.unit_span is not None and e.unit_span.line > e.span.line
            if e.unit in cx.instruments and next_line:  # `X 0.6` then `Y ...` on the next line
                hint = (f"`{e.unit}` is an instrument, read here as the unit of the number on "
                        "the line before (newlines do not end statements): give that number "
                        "its unit, e.g. `60%`, or end its statement with `;`")
            elif close:
                hint = f"did you mean `{close[0]}`?"
            else:
                hint = "units are %, bps, x, s, m, h, d, w, y, gwei or an asset named by an instrument"
            cx.sink.emit("E302", f"`{e.unit}` is not a unit or a declared asset",
                         e.unit_span or e.span, hint)
            return None
        dim, scale = ud
        return _const(e.value * scale, dim)
    if isinstance(e, ast.Var):
        return _lower_var(e, cx, delta_unit)
    if isinstance(e, ast.Neg):
        t = lower_expr(e.operand, cx, delta_unit=delta_unit)
        if t is None:
            return None
        if isinstance(t.node, ir.Const):
            return _const(-t.node.value, t.dim)
        return _carry(Typed(ir.Neg.model_construct(operand=t.node, unit=_unit_str(t.dim)), t.dim), t)
    if isinstance(e, ast.BinOp):
        return _lower_binop(e, cx, delta_unit)
    if isinstance(e, ast.Call):
        return _lower_call(e, cx, delta_unit)
    if isinstance(e, ast.Compare):
        return _lower_compare(e, cx)
    if isinstance(e, ast.BoolOp):
        a, b = lower_cond(e.left, cx), lower_cond(e.right, cx)
        if a is None or b is None:
            return None
        return Typed(ir.BoolOp.model_construct(op=e.op, left=a.node, right=b.node), BOOL)  # type: ignore[arg-type]
    if isinstance(e, ast.Not):
        a = lower_cond(e.operand, cx)
        if a is None:
            return None
        return Typed(ir.Not.model_construct(operand=a.node), BOOL)
    raise AssertionError(f"unknown expression node {e!r}")  # pragma: no cover


def lower_cond(e: ast.Expr, cx: ExprContext) -> Typed | None:
    """Lower a condition: it must be a comparison or a boolean combination of them."""
    t = lower_expr(e, cx)
    if t is None:
        return None
    if t.dim != BOOL:
        cx.sink.emit(
            "E304",
            "this is a value, but a condition is expected here",
            e.span,
            "compare it with something, e.g. `drawdown > 20%`",
        )
        return None
    return t


def lower_value(e: ast.Expr, cx: ExprContext, *, delta_unit: str | None = None) -> Typed | None:
    """Lower an expression used as a value: not a condition, and bounded where it divides."""
    t = _value(e, cx, delta_unit)
    if t is not None and t.open_division is not None:
        unbounded_quotient(cx.sink, t.open_division)
        return None
    return t


def _carry(t: Typed, *operands: Typed) -> Typed:
    """``t`` keeps an operand's open division while its own range is still unbounded."""
    open_div = next((o.open_division for o in operands if o.open_division is not None), None)
    if open_div is None or not (math.isinf(t.range.lo) or math.isinf(t.range.hi)):
        return t
    return replace(t, open_division=open_div)


def _value(e: ast.Expr, cx: ExprContext, delta_unit: str | None) -> Typed | None:
    """An operand that must be a value, not a condition (its range may still be open)."""
    t = lower_expr(e, cx, delta_unit=delta_unit)
    if t is not None and t.dim == BOOL:
        cx.sink.emit(
            "E304",
            "a condition is used where a value is expected",
            e.span,
            "conditions belong in `when` and `halt when`",
        )
        return None
    return t


def _lower_var(e: ast.Var, cx: ExprContext, delta_unit: str | None) -> Typed | None:
    name = e.name
    if name not in REFS:
        close = difflib.get_close_matches(name, REFS, n=1, cutoff=0.6)
        what = (f"`{name}` is an instrument, not a value" if name in cx.instruments else
                f"`{name}` is an asset, not a value" if name in cx.assets else
                f"`{name}` is not defined")
        cx.sink.emit(
            "E201",
            what,
            e.span,
            f"did you mean `{close[0]}`?" if close else
            "values are " + ", ".join(f"`{r}`" for r in REFS) +
            "; market data comes from spot(), realized_vol(), implied_vol(), funding(), weight()",
        )
        return None
    if name in ("delta",):
        asset = cx.underlying
        unit = delta_unit or asset or cx.numeraire
        return Typed(ir.Ref.model_construct(name="delta", unit=unit, asset=asset), Dim.of(unit))
    if name in ("gamma", "vega", "theta"):
        return Typed(
            ir.Ref.model_construct(name=name, unit=cx.numeraire, asset=cx.underlying),  # type: ignore[arg-type]
            Dim.of(cx.numeraire),
        )
    if name == "equity":
        return Typed(ir.Ref.model_construct(name="equity", unit=cx.numeraire), Dim.of(cx.numeraire))
    if name == "price_age":
        return Typed(ir.Ref.model_construct(name="price_age", unit="s"), DURATION)
    if name == "drawdown":
        return Typed(ir.Ref.model_construct(name="drawdown", unit=""), RATIO)
    return Typed(ir.Ref.model_construct(name=name, unit=""), RATIO)  # type: ignore[arg-type]


def _same_dim_error(cx: ExprContext, span: Span, a: Typed, b: Typed, what: str) -> None:
    code = "E303" if (a.dim.asset and b.dim.asset) else "E301"
    cx.sink.emit(
        code,
        f"cannot {what} {a.dim.describe()} and {b.dim.describe()}",
        span,
        "convert with spot(ASSET) to compare amounts of different assets"
        if code == "E303" else "both sides must have the same unit",
    )


def _has_delta(e: ast.Expr) -> bool:
    if isinstance(e, ast.Var):
        return e.name == "delta"
    if isinstance(e, ast.Call):
        return any(_has_delta(a) for a in e.args)
    if isinstance(e, ast.BinOp | ast.Compare):
        return _has_delta(e.left) or _has_delta(e.right)
    if isinstance(e, ast.Neg):
        return _has_delta(e.operand)
    return False


def _pair(
    left: ast.Expr, right: ast.Expr, cx: ExprContext, delta_unit: str | None
) -> tuple[Typed | None, Typed | None]:
    """Lower two operands that must agree; `delta` takes the currency of the other side."""
    a = _value(left, cx, delta_unit)
    b = _value(right, cx, delta_unit)
    if a is None or b is None or a.dim == b.dim:
        return a, b
    if _has_delta(left) and b.dim.asset and not _has_delta(right):
        a = _value(left, cx, b.dim.asset)
    elif _has_delta(right) and a.dim.asset and not _has_delta(left):
        b = _value(right, cx, a.dim.asset)
    return a, b


def _lower_binop(e: ast.BinOp, cx: ExprContext, delta_unit: str | None) -> Typed | None:
    if e.op in "+-":
        a, b = _pair(e.left, e.right, cx, delta_unit)
    else:
        a = _value(e.left, cx, delta_unit)
        b = _value(e.right, cx, delta_unit)
    if a is None or b is None:
        return None
    if e.op in "+-":
        if a.dim != b.dim:
            _same_dim_error(cx, e.span, a, b, "add or subtract")
            return None
        dim = a.dim
    elif e.op == "*":
        dim = a.dim * b.dim
    else:
        opens = b.range.contains_zero()
        if opens and not one_sided_quotient(a.range, b.range):
            division_by_zero(cx.sink, e, a.range, b.range, str(b.dim), b.const is not None,
                             fmt_range(b.range, b.dim))
            return None
        dim = a.dim / b.dim
    if a.const is not None and b.const is not None:
        x, y = a.const, b.const
        value = x + y if e.op == "+" else x - y if e.op == "-" else x * y if e.op == "*" else x / y
        return _const(value, dim)
    op = e.op
    t = Typed(ir.BinOp.model_construct(op=op, left=a.node, right=b.node, unit=_unit_str(dim)), dim)  # type: ignore[arg-type]
    if op == "/" and b.range.contains_zero():
        return replace(t, open_division=OpenDivision(e, str(b.dim)))
    return _carry(t, a, b)


def _lower_compare(e: ast.Compare, cx: ExprContext) -> Typed | None:
    a, b = _pair(e.left, e.right, cx, None)
    if a is None or b is None:
        return None
    if a.dim != b.dim:
        _same_dim_error(cx, e.span, a, b, "compare")
        return None
    return Typed(
        ir.Compare.model_construct(op=e.op, left=a.node, right=b.node),  # type: ignore[arg-type]
        BOOL,
    )


def _symbol_arg(e: ast.Call, i: int, cx: ExprContext, kind: str) -> str | None:
    if len(e.args) <= i or not isinstance(e.args[i], ast.Var):
        cx.sink.emit(
            "E210",
            f"{FUNCTIONS[e.name]}: argument {i + 1} must be an {kind} name",
            e.span,
            f"write {FUNCTIONS[e.name]}",
        )
        return None
    arg = e.args[i]
    assert isinstance(arg, ast.Var)
    pool = cx.assets if kind == "asset" else frozenset(cx.instruments)
    if arg.name not in pool:
        close = difflib.get_close_matches(arg.name, sorted(pool), n=1, cutoff=0.5)
        cx.sink.emit(
            "E201",
            f"`{arg.name}` is not a declared {kind}",
            arg.span,
            f"did you mean `{close[0]}`?" if close else f"declare it, or use one of: {', '.join(sorted(pool))}",
        )
        return None
    return arg.name


def _lower_call(e: ast.Call, cx: ExprContext, delta_unit: str | None) -> Typed | None:
    f = BY_NAME.get(e.name)
    if f is None:
        close = difflib.get_close_matches(e.name, list(FUNCTIONS), n=1, cutoff=0.5)
        cx.sink.emit(
            "E209",
            f"`{e.name}` is not a rebal function",
            e.name_span,
            f"did you mean `{close[0]}`?" if close else "functions are " + ", ".join(FUNCTIONS),
        )
        return None
    nargs = len(e.args)
    if (f.arity is not None and nargs != f.arity) or (f.arity is None and nargs < 2):
        cx.sink.emit("E210", f"{f.signature} takes {arity_text(f)}, not {nargs}", e.span,
                     f"write {f.signature}")
        return None
    if f.is_market:
        return _lower_market_call(e, f, cx)
    args = [_value(a, cx, delta_unit) for a in e.args]
    if any(a is None for a in args):
        return None
    targs = [a for a in args if a is not None]
    dim = _call_dim(e, f, targs, cx)
    if dim is None:
        return None
    if f.fold is not None and all(a.const is not None for a in targs):
        return _const(f.fold([a.const for a in targs if a.const is not None]), dim)
    node = ir.Call.model_construct(fn=f.name, args=tuple(a.node for a in targs),
                                   unit=_unit_str(dim))
    return _carry(Typed(node, dim), *targs)


def _call_dim(e: ast.Call, f: Function, targs: list[Typed], cx: ExprContext) -> Dim | None:
    """The unit of a value function's result, or None after a diagnostic."""
    if f.result == "sqrt":
        d = targs[0].dim.sqrt()
        if d is None:
            cx.sink.emit("E301", f"sqrt of {targs[0].dim.describe()} has no unit", e.span)
            return None
        if targs[0].range.hi < 0:
            cx.sink.emit("E401", "sqrt of a value that is always negative", e.span)
            return None
        return d
    dim = targs[0].dim
    for a, src in zip(targs[1:], e.args[1:], strict=True):
        if a.dim != dim:
            _same_dim_error(cx, src.span, targs[0], a, f"mix in {f.name}()")
            return None
    if f.name == "clamp" and targs[1].range.lo > targs[2].range.hi:
        cx.sink.emit(
            "E403",
            "clamp bounds are inverted: the lower bound is above the upper bound",
            e.span,
            "write clamp(x, lo, hi) with lo <= hi",
        )
        return None
    return dim


def _lower_market_call(e: ast.Call, f: Function, cx: ExprContext) -> Typed | None:
    """A call naming market data: an asset or instrument (and, for windows, a duration)."""
    kind = "instrument" if f.operands == "instrument" else "asset"
    sym = _symbol_arg(e, 0, cx, kind)
    window: Decimal | None = None
    if f.operands == "asset_window":
        w = _value(e.args[1], cx, None)
        if sym is None or w is None:
            return None
        if w.dim != DURATION or w.const is None or w.const <= 0:
            cx.sink.emit("E301", f"the window of {f.name} must be a positive duration",
                         e.args[1].span, f"e.g. {f.name}(ETH, 24h)")
            return None
        window = w.const
    if sym is None:
        return None
    if f.result == "numeraire":
        dim, unit = Dim.of(cx.numeraire), cx.numeraire
    else:
        dim, unit = RATIO, ""
    if window is None:
        node = ir.Call.model_construct(fn=f.name, symbol=sym, unit=unit)
    else:
        node = ir.Call.model_construct(fn=f.name, symbol=sym, window_s=window, unit=unit)
    return Typed(node, dim)
