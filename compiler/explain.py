"""`rebal explain`: a compiled strategy or policy in plain words, from jinja2 templates.

The templates in ``templates/`` hold the layout and the sentences; this module gives them
the words for numbers, units and expressions. It reads only the IR, so what it says is what
the backends will do (defaults included), never a paraphrase of the source text.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import jinja2

from . import ir
from .functions import BY_NAME, listing
from .ir_walk import walk
from .words import amount, bps, dur, mult, num, pct, per

_TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Ratio-valued market quantities that traders read as percentages.
_PCT_REFS = frozenset({"drawdown", "oracle_deviation"})
_CMP = {">": "exceeds", ">=": "reaches", "<": "falls below", "<=": "is at most",
        "==": "equals", "!=": "is not"}
_ABS = {">": "beyond", ">=": "at or beyond", "<": "inside", "<=": "within"}
_OPS = {"+": ("+", 5), "-": ("−", 5), "*": ("×", 6), "/": ("/", 6)}


# ------------------------------------------------------------------ numbers and units


def quantity(value: Decimal, unit: str) -> str:
    """A value in a target's unit: 'x' multiple, '%' of equity, 'pp' points, or an asset."""
    if unit == "x":
        return mult(value)
    if unit == "%":
        return pct(value)
    if unit == "pp":
        return f"{num(value * 100)} percentage points"
    return f"{num(value)} {unit}".rstrip()


def span_words(lo: Decimal | None, hi: Decimal | None, unit: str) -> str:
    """A range in one unit: '0.25–1.5 ETH', '55%–65%', 'at least 0.5 ETH'."""
    if lo is None and hi is None:
        return "any size"
    if hi is None:
        assert lo is not None
        return f"at least {quantity(lo, unit)}"
    if lo is None:
        return f"at most {quantity(hi, unit)}"
    if unit in ("x", "%"):
        return f"{quantity(lo, unit)}–{quantity(hi, unit)}"
    return f"{num(lo)}–{quantity(hi, unit)}"


# ------------------------------------------------------------------ expressions


def _flavour(e: ir.Expr) -> str | None:
    """How a ratio-valued expression reads: 'pct', 'x', 'plain', or None (a bare constant)."""
    if isinstance(e, ir.Const):
        return None if e.unit == "" else "unit"
    if isinstance(e, ir.Ref):
        if e.name in _PCT_REFS:
            return "pct"
        return "x" if e.name == "leverage" else ("plain" if e.unit == "" else "unit")
    if isinstance(e, ir.Call):
        f = BY_NAME[e.fn]
        if f.percent:
            return "pct"
        if f.keeps_flavour:
            return next((fl for fl in map(_flavour, e.args) if fl is not None), None)
        return "plain" if e.unit == "" else "unit"
    if isinstance(e, ir.Neg):
        return _flavour(e.operand)
    if isinstance(e, ir.BinOp):
        a, b = _flavour(e.left), _flavour(e.right)
        if e.op in "+-":
            return a or b
        if e.op == "/" and a == "pct" and b in ("pct", None):
            return "plain"
        return a if a not in (None, "plain") else b if b not in (None, "plain") else a or b
    return None


def _reads_pct(e: ir.Expr) -> bool:
    """Whether a percentage-valued market quantity (a volatility, drawdown, ...) is inside."""
    return any(
        (isinstance(n, ir.Ref) and n.name in _PCT_REFS)
        or (isinstance(n, ir.Call) and BY_NAME[n.fn].percent)
        for n in walk(e)
    )


def _const(c: ir.Const, flavour: str | None, *, factor: bool = False) -> str:
    v = c.value
    if c.unit == "":
        if flavour == "pct" and not (factor and v == v.to_integral_value()):
            return pct(v)
        return mult(v) if flavour == "x" else num(v)
    if c.unit == "s":
        return dur(v)
    return f"{num(v)} {c.unit}"


def _ref(r: ir.Ref) -> str:
    if r.name == "delta":
        if r.asset is None:
            return f"the portfolio's delta in {r.unit}"
        return f"the {r.asset} delta" + ("" if r.unit == r.asset else f" in {r.unit}")
    return {
        "leverage": "leverage",
        "drawdown": "drawdown",
        "equity": "equity",
        "price_age": "the age of the newest price",
        "oracle_deviation": "the oracle's deviation from the venue price",
    }.get(r.name, f"the portfolio's {r.name}")


def _call(c: ir.Call, flavour: str | None) -> tuple[str, int]:
    f = BY_NAME[c.fn]
    subject = c.symbol or ""
    if f.operands == "asset_window":
        subject = f"{c.symbol}'s {dur(c.window_s or 0)}"
    return f.words([_words(a, flavour)[0] for a in c.args], subject)


def _words(e: ir.Expr, flavour: str | None = None) -> tuple[str, int]:
    """Words for ``e`` and their binding strength (higher binds tighter)."""
    if isinstance(e, ir.Const):
        return _const(e, flavour), 8
    if isinstance(e, ir.Ref):
        return _ref(e), 8
    if isinstance(e, ir.Call):
        return _call(e, _flavour(e) or flavour)
    if isinstance(e, ir.Neg):
        text, p = _words(e.operand, flavour)
        return "−" + (text if isinstance(e.operand, ir.Const) else f"({text})"), 7
    if isinstance(e, ir.BinOp):
        sym, prec = _OPS[e.op]
        fl = _flavour(e.left) or _flavour(e.right) or flavour
        sides = []
        for side, other, right in ((e.left, e.right, False), (e.right, e.left, True)):
            if isinstance(side, ir.Const) and e.op in "*/":
                fl_other = "pct" if _reads_pct(other) else _flavour(other)
                text, p = _const(side, fl_other, factor=True), 8
            else:
                text, p = _words(side, fl)
            if p < prec or (right and p == prec and e.op in "-/"):
                text = f"({text})"
            sides.append(text)
        return f"{sides[0]} {sym} {sides[1]}", prec
    if isinstance(e, ir.Compare):
        return _compare(e), 4
    if isinstance(e, ir.BoolOp):
        prec = 1 if e.op == "or" else 2
        parts = []
        for side in (e.left, e.right):
            text, p = _words(side)
            mixed = isinstance(side, ir.BoolOp) and side.op != e.op
            parts.append(text if p >= prec and not mixed else f"({text})")
        return f" {e.op} ".join(parts), prec
    assert isinstance(e, ir.Not)
    return f"not ({_words(e.operand)[0]})", 3


_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


def _compare(c: ir.Compare) -> str:
    if isinstance(c.left, ir.Neg) and isinstance(c.right, ir.Const):  # -delta > 2 ETH
        flipped = c.right.model_copy(update={"value": -c.right.value})
        c = ir.Compare(op=_FLIP[c.op], left=c.left.operand, right=flipped)
    fl = _flavour(c.left) or _flavour(c.right)
    left, right = _words(c.left, fl)[0], _words(c.right, fl)[0]
    if isinstance(c.left, ir.Ref) and c.left.name == "price_age" and c.op in (">", ">="):
        return f"the newest price is {'older than' if c.op == '>' else 'at least'} {right}" + (
            "" if c.op == ">" else " old")
    if isinstance(c.left, ir.Call) and c.left.fn == "abs" and c.op in _ABS:
        return f"{_words(c.left.args[0], fl)[0]} is {_ABS[c.op]} ±{right}"
    return f"{left} {_CMP[c.op]} {right}"


def expr_words(e: ir.Expr) -> str:
    """An IR expression in readable words, with units: '0.5 ETH × (… kept between 0.5 and 3)'."""
    return _words(e)[0]


def drivers(e: ir.Expr | None) -> list[str]:
    """The market data an expression moves with, in words (empty for a constant)."""
    out: list[str] = []
    for node in walk(e):
        if isinstance(node, ir.Call) and BY_NAME[node.fn].is_market:
            out.append(_call(node, None)[0])
        elif isinstance(node, ir.Ref):
            out.append(_ref(node))
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------ instruments


def instrument_words(i: ir.Instrument) -> str:
    """'ETH call, strike 3,000 USD, expiring 2026-12-25' and the like."""
    if i.kind == "spot":
        return f"spot {i.underlying}"
    if i.kind == "cash":
        return f"{i.underlying} cash"
    if i.kind == "perp":
        return f"{i.underlying} perpetual, settled in {i.settle}"
    if i.kind == "future":
        return f"{i.underlying} future expiring {i.expiry}, settled in {i.settle}"
    strike = num(i.strike) if i.strike is not None else "?"
    settled = f", settled in {i.settle}" if i.settle != i.strike_currency else ""
    return (f"European {i.underlying} {i.option_type}, strike {strike} {i.strike_currency}, "
            f"expiring {i.expiry}{settled}")


def position_words(q: Decimal, name: str) -> str:
    return f"{'short' if q < 0 else 'long'} {num(abs(q))} {name}"


# ------------------------------------------------------------------ rendering


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    from .guard_coverage import guard_coverage  # it uses this module's number words

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(num=num, pct=pct, bps=bps, mult=mult, amount=amount, dur=dur, per=per,
                       words=expr_words, listing=listing)
    env.globals.update(quantity=quantity, span_words=span_words, drivers=drivers,
                       instrument_words=instrument_words, position_words=position_words,
                       expr_flavour=_flavour, isinstance=isinstance, ir=ir,
                       guard_coverage=guard_coverage)
    return env


def _tidy(text: str) -> str:
    """At most one blank line in a row, none at either end."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def explain(strategy: ir.Strategy) -> str:
    """What a compiled strategy holds, keeps, trades, may cost and what stops it, in words."""
    return _tidy(_env().get_template("strategy.txt.j2").render(s=strategy))


def explain_policy(policy: ir.Policy) -> str:
    """A house policy's limits and requirements in words."""
    return _tidy(_env().get_template("policy.txt.j2").render(p=policy))


__all__ = ["dur", "explain", "explain_policy", "expr_words", "num", "per"]
