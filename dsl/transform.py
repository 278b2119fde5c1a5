"""Turn Lark's parse tree into the typed syntax tree of :mod:`rebal.dsl.ast`.

Problems found while building the tree (an impossible date, say) go into a sink; nothing is
raised from inside the transformer, so lark never wraps our errors in ``VisitError``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from lark import Token, Transformer, v_args
from lark.tree import Meta

from . import ast
from .diagnostics import Sink, Span

#: Magnitudes outside this range are refused (E110): they are typos, and they would
#: overflow exact decimal arithmetic in later checks.
MAX_EXPONENT = 15
MIN_EXPONENT = -12

# Clauses whose tree node is a plain list of operands become generic Clauses.
_GENERIC = frozenset(
    """description capital owns on_breach every cooldown max_slippage max_fee max_gas
    max_gas_cost min_trade split budget max_funding max_leverage liquidation_buffer
    max_position max_notional max_orders halt hedge rebalance recenter cppi_risky cppi_safe
    cppi_floor cppi_multiplier model correlation funding fee slippage impact
    maintenance_margin gas rate start_date horizon step paths seed collateral exchange account url sandbox
    on_stray chain rpc signer vault router oracle settlement valid_for token opt_vol opt_drift
    opt_vol_of_vol opt_mean_reversion opt_vol_correlation opt_jumps require_buffer
    require_clause require_halt venues_allowed backends_allowed confirmations""".split()
)


class ToAst(Transformer[Token, Any]):
    """Bottom-up conversion; every method receives ``meta`` for its span."""

    def __init__(self, file: str, sink: Sink) -> None:
        super().__init__(visit_tokens=True)
        self.file = file
        self.sink = sink

    # -------------------------------------------------------------- helpers
    def _span(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> Span:
        return Span(
            self.file,
            tok.line or 1,
            tok.column or 1,
            tok.end_line or tok.line or 1,
            tok.end_column or (tok.column or 1) + len(tok),
        )

    def _name(self, tok: Token) -> ast.Name:
        return ast.Name(str(tok), self._tok_span(tok))

    def __default__(self, data: Any, children: list[Any], meta: Meta) -> Any:
        name = str(data)
        span = self._span(meta)
        if name in _GENERIC:
            return ast.Clause(name, tuple(self._value(c) for c in children), span)
        raise AssertionError(f"grammar rule without a builder: {name}")  # pragma: no cover

    def _value(self, c: Any) -> ast.Value:
        if isinstance(c, Token):
            if c.type == "STRING":
                return self._str(c)
            if c.type == "DATE":
                return self._date(c)
            return self._name(c)
        if isinstance(c, list):  # name_list
            raise AssertionError("name lists are flattened by name_list")  # pragma: no cover
        return c  # type: ignore[no-any-return]

    def _str(self, tok: Token) -> ast.Str:
        raw = str(tok)[1:-1]
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            out.append(ch)
            i += 1
        return ast.Str("".join(out), self._tok_span(tok))

    def _date(self, tok: Token) -> ast.DateLit:
        span = self._tok_span(tok)
        try:
            value = dt.date.fromisoformat(str(tok))
        except ValueError:
            self.sink.emit(
                "E109",
                f"`{tok}` is not a calendar date",
                span,
                "dates are written YYYY-MM-DD, e.g. 2027-03-26",
            )
            value = dt.date(1970, 1, 1)
        return ast.DateLit(value, span)

    def _number(self, tok: Token) -> Decimal:
        try:
            value = Decimal(str(tok).replace("_", ""))
        except InvalidOperation:  # pragma: no cover - the regex admits only numbers
            self.sink.emit("E110", f"`{tok}` is not a number", self._tok_span(tok))
            return Decimal(0)
        if not value.is_zero() and not (MIN_EXPONENT <= value.adjusted() < MAX_EXPONENT):
            self.sink.emit(
                "E110",
                f"`{tok}` is outside the range of numbers rebal accepts",
                self._tok_span(tok),
                f"numbers in specs lie between 1e{MIN_EXPONENT} and 1e{MAX_EXPONENT} "
                "in magnitude; check the exponent or the unit",
            )
            return Decimal(1)
        return value

    # -------------------------------------------------------------- file
    @v_args(meta=True)
    def start(self, meta: Meta, children: list[Any]) -> list[Any]:
        return children

    @v_args(meta=True)
    def strategy(self, meta: Meta, ch: list[Any]) -> ast.Strategy:
        name = self._name(ch[0])
        clauses, insts, book, targets, blocks, modes, venues = [], [], [], [], [], [], []
        for c in ch[1:]:
            if isinstance(c, ast.Clause):
                clauses.append(c)
            elif isinstance(c, tuple) and c and c[0] == "instruments":
                insts.extend(c[1])
            elif isinstance(c, tuple) and c and c[0] == "book":
                book.extend(c[1])
            elif isinstance(c, ast.Target):
                targets.append(c)
            elif isinstance(c, ast.Block):
                blocks.append(c)
            elif isinstance(c, ast.Mode):
                modes.append(c)
            elif isinstance(c, ast.Venue):
                venues.append(c)
        return ast.Strategy(
            name,
            tuple(clauses),
            tuple(insts),
            tuple(book),
            tuple(targets),
            tuple(blocks),
            tuple(modes),
            tuple(venues),
            self._span(meta),
        )

    @v_args(meta=True)
    def policy(self, meta: Meta, ch: list[Any]) -> ast.Policy:
        return ast.Policy(self._name(ch[0]), tuple(ch[1:]), self._span(meta))

    def name_list(self, ch: list[Token]) -> list[ast.Name]:
        return [self._name(t) for t in ch]

    @v_args(meta=True)
    def owns(self, meta: Meta, ch: list[Any]) -> ast.Clause:
        return ast.Clause("owns", tuple(ch[0]), self._span(meta))

    @v_args(meta=True)
    def hedge(self, meta: Meta, ch: list[Any]) -> ast.Clause:
        return ast.Clause("hedge", tuple(ch[0]), self._span(meta))

    @v_args(meta=True)
    def venues_allowed(self, meta: Meta, ch: list[Any]) -> ast.Clause:
        return ast.Clause("venues_allowed", tuple(ch[0]), self._span(meta))

    @v_args(meta=True)
    def backends_allowed(self, meta: Meta, ch: list[Any]) -> ast.Clause:
        return ast.Clause("backends_allowed", tuple(ch[0]), self._span(meta))

    # -------------------------------------------------------------- instruments, book
    def instruments(self, ch: list[Any]) -> tuple[str, list[ast.Instrument]]:
        return ("instruments", ch)

    def _inst(self, meta: Meta, kind: str, ch: list[Any]) -> ast.Instrument:
        name, asset = self._name(ch[0]), self._name(ch[1])
        rest = ch[2:]
        settle = rest.pop() if rest and isinstance(rest[-1], ast.Name) else None
        option_kind = strike = expiry = None
        for r in rest:
            if isinstance(r, tuple) and r[0] == "option_kind":
                option_kind = r[1]
            elif isinstance(r, Token) and r.type == "DATE":
                expiry = self._date(r)
            elif r is not None:
                strike = r
        return ast.Instrument(
            name, kind, asset, option_kind, strike, expiry, settle, self._span(meta)
        )

    @v_args(meta=True)
    def inst_spot(self, meta: Meta, ch: list[Any]) -> ast.Instrument:
        return self._inst(meta, "spot", ch)

    @v_args(meta=True)
    def inst_cash(self, meta: Meta, ch: list[Any]) -> ast.Instrument:
        return self._inst(meta, "cash", ch)

    @v_args(meta=True)
    def inst_perp(self, meta: Meta, ch: list[Any]) -> ast.Instrument:
        return self._inst(meta, "perp", ch)

    @v_args(meta=True)
    def inst_future(self, meta: Meta, ch: list[Any]) -> ast.Instrument:
        return self._inst(meta, "future", ch)

    @v_args(meta=True)
    def inst_option(self, meta: Meta, ch: list[Any]) -> ast.Instrument:
        return self._inst(meta, "option", ch)

    def settle(self, ch: list[Token]) -> ast.Name:
        return self._name(ch[0])

    def option_kind(self, ch: list[Token]) -> tuple[str, str]:
        return ("option_kind", str(ch[0]))

    def book(self, ch: list[Any]) -> tuple[str, list[ast.BookEntry]]:
        return ("book", ch)

    @v_args(meta=True)
    def book_entry(self, meta: Meta, ch: list[Any]) -> ast.BookEntry:
        return ast.BookEntry(self._name(ch[0]), ch[1], self._span(meta))

    def signed_number(self, ch: list[Token]) -> Decimal:
        value = self._number(ch[-1])
        return -value if len(ch) == 2 and str(ch[0]) == "-" else value

    # -------------------------------------------------------------- targets
    @v_args(meta=True)
    def target(self, meta: Meta, ch: list[Any]) -> ast.Target:
        head = ch[0]
        clauses = tuple(c for c in ch[1:] if isinstance(c, ast.Clause))
        weights = tuple(c for c in ch[1:] if isinstance(c, ast.WeightLine))
        return ast.Target(
            head["kind"],
            head.get("value"),
            head.get("lo"),
            head.get("hi"),
            clauses,
            weights,
            self._span(meta),
            head["span"],
        )

    @v_args(meta=True)
    def head_delta(self, meta: Meta, ch: list[Any]) -> dict[str, Any]:
        return {"kind": "delta", "value": ch[0], "span": self._span(meta)}

    @v_args(meta=True)
    def head_greek(self, meta: Meta, ch: list[Any]) -> dict[str, Any]:
        return {"kind": ch[0], "lo": ch[1], "hi": ch[2], "span": self._span(meta)}

    def greek(self, ch: list[Token]) -> str:
        return str(ch[0])

    @v_args(meta=True)
    def head_weights(self, meta: Meta, ch: list[Any]) -> dict[str, Any]:
        return {"kind": "weights", "span": self._span(meta)}

    @v_args(meta=True)
    def head_leverage(self, meta: Meta, ch: list[Any]) -> dict[str, Any]:
        return {"kind": "leverage", "value": ch[0], "span": self._span(meta)}

    @v_args(meta=True)
    def head_cppi(self, meta: Meta, ch: list[Any]) -> dict[str, Any]:
        return {"kind": "cppi", "span": self._span(meta)}

    @v_args(meta=True)
    def band(self, meta: Meta, ch: list[Any]) -> ast.Clause:
        b: ast.Band = ch[0]
        return ast.Clause("band", (b,), self._span(meta))

    @v_args(meta=True)
    def band_sym(self, meta: Meta, ch: list[Any]) -> ast.Band:
        return ast.Band("sym", ch[0], None, None, len(ch) > 1, None, self._span(meta))

    @v_args(meta=True)
    def band_asym(self, meta: Meta, ch: list[Any]) -> ast.Band:
        return ast.Band("asym", None, ch[0], ch[1], False, None, self._span(meta))

    @v_args(meta=True)
    def band_optimal(self, meta: Meta, ch: list[Any]) -> ast.Band:
        return ast.Band("optimal", None, None, None, False, ch[0], self._span(meta))

    def rebal_point(self, ch: list[Token]) -> ast.Name:
        return self._name(ch[0])

    @v_args(meta=True)
    def weight_line(self, meta: Meta, ch: list[Any]) -> ast.WeightLine:
        band = ch[2] if len(ch) > 2 else None
        return ast.WeightLine(self._name(ch[0]), ch[1], band, self._span(meta))

    # -------------------------------------------------------------- blocks
    @v_args(meta=True)
    def trigger(self, meta: Meta, ch: list[Any]) -> ast.Block:
        return ast.Block("trigger", tuple(ch), self._span(meta))

    @v_args(meta=True)
    def costs(self, meta: Meta, ch: list[Any]) -> ast.Block:
        return ast.Block("costs", tuple(ch), self._span(meta))

    @v_args(meta=True)
    def risk(self, meta: Meta, ch: list[Any]) -> ast.Block:
        return ast.Block("risk", tuple(ch), self._span(meta))

    @v_args(meta=True)
    def mode(self, meta: Meta, ch: list[Any]) -> ast.Mode:
        return ast.Mode(self._name(ch[0]), ch[1], tuple(ch[2:]), self._span(meta))

    def clause_name(self, ch: list[Token]) -> ast.Name:
        return self._name(ch[0])

    # -------------------------------------------------------------- venues
    @v_args(meta=True)
    def venue(self, meta: Meta, ch: list[Any]) -> ast.Venue:
        items = ch[2:]
        return ast.Venue(
            self._name(ch[0]),
            self._name(ch[1]),
            tuple(c for c in items if isinstance(c, ast.Clause)),
            tuple(c for c in items if isinstance(c, ast.SymbolMap)),
            tuple(c for c in items if isinstance(c, ast.AssetParams)),
            self._span(meta),
        )

    @v_args(meta=True)
    def symbol_map(self, meta: Meta, ch: list[Token]) -> ast.SymbolMap:
        return ast.SymbolMap(self._name(ch[0]), self._str(ch[1]), self._span(meta))

    @v_args(meta=True)
    def asset_params(self, meta: Meta, ch: list[Any]) -> ast.AssetParams:
        return ast.AssetParams(self._name(ch[0]), ch[1], tuple(ch[2:]), self._span(meta))

    @v_args(meta=True)
    def env_ref(self, meta: Meta, ch: list[Token]) -> ast.EnvRef:
        return ast.EnvRef(str(ch[0]), self._span(meta))

    # -------------------------------------------------------------- expressions
    @v_args(meta=True)
    def quantity(self, meta: Meta, ch: list[Any]) -> ast.Num:
        unit = ch[1] if len(ch) > 1 else None
        return ast.Num(
            self._number(ch[0]),
            str(unit) if unit is not None else None,
            self._span(meta),
            self._tok_span(unit) if unit is not None else None,
        )

    def unit(self, ch: list[Token]) -> Token:
        return ch[0]

    @v_args(meta=True)
    def var(self, meta: Meta, ch: list[Token]) -> ast.Var:
        return ast.Var(str(ch[0]), self._span(meta))

    def func_name(self, ch: list[Token]) -> Token:
        return ch[0]

    @v_args(meta=True)
    def call(self, meta: Meta, ch: list[Any]) -> ast.Call:
        name: Token = ch[0]
        args = tuple(a for a in ch[1:] if a is not None)
        return ast.Call(str(name), args, self._span(meta), self._tok_span(name))

    def cmp_op(self, ch: list[Token]) -> str:
        return str(ch[0])

    add_op = mul_op = cmp_op

    @v_args(meta=True)
    def binop(self, meta: Meta, ch: list[Any]) -> ast.BinOp:
        return ast.BinOp(ch[1], ch[0], ch[2], self._span(meta))

    @v_args(meta=True)
    def compare(self, meta: Meta, ch: list[Any]) -> ast.Compare:
        return ast.Compare(ch[1], ch[0], ch[2], self._span(meta))

    @v_args(meta=True)
    def neg(self, meta: Meta, ch: list[Any]) -> ast.Expr:
        operand = ch[0]
        if isinstance(operand, ast.Num):  # fold `-15%` into a literal
            return ast.Num(-operand.value, operand.unit, self._span(meta), operand.unit_span)
        return ast.Neg(operand, self._span(meta))

    @v_args(meta=True)
    def and_(self, meta: Meta, ch: list[Any]) -> ast.BoolOp:
        return ast.BoolOp("and", ch[0], ch[1], self._span(meta))

    @v_args(meta=True)
    def or_(self, meta: Meta, ch: list[Any]) -> ast.BoolOp:
        return ast.BoolOp("or", ch[0], ch[1], self._span(meta))

    @v_args(meta=True)
    def not_(self, meta: Meta, ch: list[Any]) -> ast.Not:
        return ast.Not(ch[0], self._span(meta))
