"""The syntax tree of a .rebal file: frozen dataclasses that keep their source spans.

The tree is deliberately close to the text. Structure that matters to the compiler
(instruments, targets, venues, modes) gets its own class; the many scalar clauses
(`max slippage 20 bps`, `cooldown 5m`, `fee 3 bps`) are one generic :class:`Clause` keyed by
the clause's name, so the compiler can check them from tables instead of 60 classes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from .diagnostics import Span

# ------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Num:
    """A number with an optional unit: `20 bps`, `0.5 ETH`, `3`."""

    value: Decimal
    unit: str | None
    span: Span
    unit_span: Span | None = None


@dataclass(frozen=True)
class Var:
    """A name used as a value: `delta`, `leverage`, or an asset/instrument argument."""

    name: str
    span: Span


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str  # < <= > >= == !=
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span


Expr = Num | Var | Call | BinOp | Neg | Compare | BoolOp | Not

# ------------------------------------------------------------------ leaves


@dataclass(frozen=True)
class Name:
    text: str
    span: Span


@dataclass(frozen=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True)
class DateLit:
    value: dt.date
    span: Span


@dataclass(frozen=True)
class EnvRef:
    var: str
    span: Span


@dataclass(frozen=True)
class Band:
    """`band W [relative]`, `band LO to HI`, or `band optimal(risk_aversion R)`."""

    kind: str  # sym | asym | optimal
    width: Expr | None
    lo: Expr | None
    hi: Expr | None
    relative: bool
    risk_aversion: Expr | None
    span: Span


Value = Num | Var | Call | BinOp | Neg | Compare | BoolOp | Not | Name | Str | DateLit | EnvRef | Band


@dataclass(frozen=True)
class Clause:
    """A keyword clause: ``key`` is the grammar rule name, ``args`` its operands in order."""

    key: str
    args: tuple[Value, ...]
    span: Span


# ------------------------------------------------------------------ structure


@dataclass(frozen=True)
class Instrument:
    name: Name
    kind: str  # spot | cash | perp | future | option
    asset: Name
    option_kind: str | None
    strike: Expr | None
    expiry: DateLit | None
    settle: Name | None
    span: Span


@dataclass(frozen=True)
class BookEntry:
    name: Name
    quantity: Decimal
    span: Span


@dataclass(frozen=True)
class WeightLine:
    name: Name
    weight: Expr
    band: Band | None
    span: Span


@dataclass(frozen=True)
class Target:
    kind: str  # delta | gamma | vega | theta | weights | leverage | cppi
    value: Expr | None  # delta / leverage target
    lo: Expr | None  # greek `within LO to HI`
    hi: Expr | None
    clauses: tuple[Clause, ...]
    weights: tuple[WeightLine, ...]
    span: Span
    head_span: Span


@dataclass(frozen=True)
class Block:
    """A `trigger`, `costs` or `risk` block."""

    kind: str
    clauses: tuple[Clause, ...]
    span: Span


@dataclass(frozen=True)
class Mode:
    name: Name
    when: Expr
    clauses: tuple[Clause, ...]
    span: Span


@dataclass(frozen=True)
class AssetParams:
    """A sim venue's per-asset line: `ETH spot 3000 USD vol 60% drift 0%`."""

    asset: Name
    spot: Expr
    options: tuple[Clause, ...]
    span: Span


@dataclass(frozen=True)
class SymbolMap:
    instrument: Name
    symbol: Str
    span: Span


@dataclass(frozen=True)
class Venue:
    name: Name
    backend: Name
    clauses: tuple[Clause, ...]
    symbols: tuple[SymbolMap, ...]
    assets: tuple[AssetParams, ...]
    span: Span


@dataclass(frozen=True)
class Strategy:
    name: Name
    clauses: tuple[Clause, ...]  # description, capital, owns
    instruments: tuple[Instrument, ...]
    book: tuple[BookEntry, ...]
    targets: tuple[Target, ...]
    blocks: tuple[Block, ...]
    modes: tuple[Mode, ...]
    venues: tuple[Venue, ...]
    span: Span

    def block_clauses(self, kind: str) -> tuple[Clause, ...]:
        """All clauses of every block of ``kind`` (a file may split a block in two)."""
        return tuple(c for b in self.blocks if b.kind == kind for c in b.clauses)


@dataclass(frozen=True)
class Policy:
    name: Name
    clauses: tuple[Clause, ...]
    span: Span


@dataclass(frozen=True)
class SpecFile:
    """One parsed file: its strategies and policies, plus the text for rendering."""

    path: str
    source: str
    strategies: tuple[Strategy, ...]
    policies: tuple[Policy, ...]
