"""Lower one `strategy` syntax tree to the IR, resolving names and normalising units."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rebal.dsl import ast
from rebal.dsl.diagnostics import Label, Sink, Span

from . import ir
from .blocks import COST_KEYS, TRIGGER_KEYS, lower_costs, lower_mode, lower_risk, lower_trigger
from .expressions import ExprContext
from .intervals import Iv
from .lowering import ClauseReader, check_once, words
from .targets import TargetLowerer
from .units import KNOWN_CURRENCIES, norm
from .venues import lower_venue

BUILTIN_BACKENDS = frozenset({"sim", "ccxt", "keeper", "solver"})


@dataclass
class Lowered:
    """A lowered strategy plus what rules need to point back at the text."""

    ir: ir.Strategy | None
    spans: dict[str, Span] = field(default_factory=dict)
    band_ranges: dict[str, Iv] = field(default_factory=dict)
    syntax: ast.Strategy | None = None


def _numeraire(s: ast.Strategy, insts: dict[str, ast.Instrument]) -> str:
    """The currency equity is measured in: `capital`'s, else the first derivative settled in a
    par currency (USD when unstated), else an option's strike currency, else a cash holding,
    else a coin a derivative settles in, else USD. A coin-settled contract (Deribit's
    `settle ETH`) does not make the coin the numeraire while a par currency is in sight."""
    for c in s.clauses:
        if c.key == "capital" and isinstance(c.args[0], ast.Num) and c.args[0].unit:
            return c.args[0].unit
    derivs = [i for i in insts.values() if i.kind in ("perp", "future", "option")]
    for i in derivs:
        settle = i.settle.text if i.settle else "USD"
        if settle in KNOWN_CURRENCIES:
            return settle
    for i in derivs:
        if isinstance(i.strike, ast.Num) and i.strike.unit in KNOWN_CURRENCIES:
            return i.strike.unit
    for i in insts.values():
        if i.kind == "cash":
            return i.asset.text
    for i in derivs:
        if i.settle:
            return i.settle.text
    return "USD"


def strike_currencies(underlying: str, numeraire: str) -> list[str]:
    """Currencies a strike may be written in: a price of the underlying that the kernel reads
    at face value in the numeraire, so the numeraire itself, or any par currency (USD, USDT,
    USDC) when the numeraire is one. Never the underlying: that is no price."""
    ok = [numeraire, *(c for c in KNOWN_CURRENCIES if c != numeraire)] \
        if numeraire in KNOWN_CURRENCIES else [numeraire]
    return [c for c in ok if c != underlying]


def lower_strategy(s: ast.Strategy, sink: Sink, backends: Collection[str] = BUILTIN_BACKENDS) -> Lowered:
    spans: dict[str, Span] = {"strategy": s.name.span}
    out = Lowered(None, spans, {}, s)
    insts: dict[str, ast.Instrument] = {}
    for i in s.instruments:
        if i.name.text in insts:
            sink.emit("E202", f"instrument `{i.name.text}` is declared twice", i.name.span,
                      "rename one of them", labels=[Label(insts[i.name.text].name.span, "first declared here")])
            continue
        insts[i.name.text] = i
        spans[f"instruments[{i.name.text}]"] = i.span
    assets = frozenset({i.asset.text for i in insts.values()}
                       | {i.settle.text for i in insts.values() if i.settle}
                       | set(KNOWN_CURRENCIES))
    numeraire = _numeraire(s, insts)
    unders = sorted({i.asset.text for i in insts.values() if i.kind not in ("cash",)})
    cx = ExprContext(assets | {numeraire}, insts, numeraire, unders[0] if len(unders) == 1 else None, sink)
    rd = ClauseReader(cx)

    top = check_once(s.clauses, sink, frozenset())
    description = ""
    if "description" in top:
        d = top["description"].args[0]
        description = d.value if isinstance(d, ast.Str) else ""
    capital: ir.Amount | None = None
    if "capital" in top:
        spans["capital"] = top["capital"].span
        capital = rd.amount(top["capital"].args[0], "`capital`", top["capital"].span)

    instruments: list[ir.Instrument] = []
    for i in insts.values():
        settle = i.settle.text if i.settle else ("USD" if i.kind in ("perp", "future", "option") else (
            i.asset.text if i.kind == "cash" else numeraire))
        strike: ir.Amount | None = None
        if i.strike is not None:
            ccys = strike_currencies(i.asset.text, numeraire)
            if ccys:
                strike = rd.amount(i.strike, "the strike", i.span, assets=ccys)
            else:
                sink.emit("E303", f"the strike of an {i.asset.text} option cannot be in "
                          f"{i.asset.text}, the strategy's numeraire", getattr(i.strike, "span", i.span),
                          "state `capital` in the currency the strike is written in, e.g. `capital 100000 USD`")
        if i.kind == "option" and strike is None:
            continue
        instruments.append(ir.Instrument.model_construct(
            name=i.name.text, kind=i.kind, underlying=i.asset.text, settle=settle,  # type: ignore[arg-type]
            option_type=i.option_kind, strike=strike.value if strike else None,  # type: ignore[arg-type]
            strike_currency=strike.asset if strike else None,
            expiry=i.expiry.value if i.expiry else None,
        ))

    owned: list[str] = []
    if "owns" in top:
        for n in top["owns"].args:
            assert isinstance(n, ast.Name)
            spans[f"owns[{n.text}]"] = n.span
            if n.text not in insts:
                rd.undefined(n.text, list(insts), "instrument", n.span)
            elif n.text in owned:
                sink.emit("E202", f"`{n.text}` is owned twice", n.span)
            else:
                owned.append(n.text)
    book: list[ir.BookPosition] = []
    for b in s.book:
        spans[f"book[{b.name.text}]"] = b.span
        if b.name.text not in insts:
            rd.undefined(b.name.text, list(insts), "instrument", b.name.span)
            continue
        if any(p.instrument == b.name.text for p in book):
            sink.emit("E202", f"`{b.name.text}` appears twice in the book", b.span, "add the two lines up")
            continue
        if b.name.text in owned:
            sink.emit("E204", f"`{b.name.text}` is both in the book and owned", b.span,
                      "the book is what this strategy hedges but never trades; remove it from one",
                      labels=[Label(spans[f"owns[{b.name.text}]"], "owned here")])
        book.append(ir.BookPosition.model_construct(instrument=b.name.text, quantity=norm(b.quantity)))

    tl = TargetLowerer(rd, set(owned), spans, out.band_ranges)
    targets = [t for t in (tl.lower(k, t) for k, t in enumerate(s.targets)) if t is not None]
    if not s.targets:
        sink.emit("E208", "the strategy has no target", s.name.span,
                  "add a `target` block: delta, gamma/vega/theta, weights, leverage or cppi")

    for blk in s.blocks:
        allowed = {"trigger": TRIGGER_KEYS, "costs": COST_KEYS}.get(blk.kind)
        if allowed is not None:
            for c in blk.clauses:
                if c.key not in allowed:
                    sink.emit("E207", f"`{words(c.key)}` does not belong in `{blk.kind}`", c.span)
        spans.setdefault(blk.kind, blk.span)
    trig = lower_trigger(rd, tuple(c for c in s.block_clauses("trigger") if c.key in TRIGGER_KEYS), spans)
    costs = lower_costs(rd, tuple(c for c in s.block_clauses("costs") if c.key in COST_KEYS), spans)
    risk = lower_risk(rd, s.block_clauses("risk"), spans, insts)
    modes: list[ir.Mode] = []
    for k, m in enumerate(s.modes):
        if any(x.name == m.name.text for x in modes):
            sink.emit("E202", f"mode `{m.name.text}` is declared twice", m.name.span)
            continue
        lm = lower_mode(rd, k, m, spans)
        if lm is not None:
            modes.append(lm)
    venues: list[ir.Venue] = []
    for v in s.venues:
        if any(x.name == v.name.text for x in venues):
            sink.emit("E202", f"venue `{v.name.text}` is declared twice", v.name.span, "rename one")
            continue
        lv = lower_venue(rd, v, insts, spans, backends,
                         frozenset(owned) | {b.instrument for b in book})
        if lv is not None:
            venues.append(lv)

    if sink.has_errors:
        return out
    all_assets = sorted({i.underlying for i in instruments} | {i.settle for i in instruments}
                        | ({capital.asset} if capital else set()))
    kw: dict[str, Any] = {}
    out.ir = ir.Strategy.model_construct(
        name=s.name.text, description=description, capital=capital, numeraire=numeraire,
        assets=tuple(all_assets), instruments=tuple(instruments), book=tuple(book),
        owns=tuple(owned), targets=tuple(targets), trigger=ir.Trigger.model_construct(**trig),
        costs=ir.Costs.model_construct(**costs), risk=risk, modes=tuple(modes), venues=tuple(venues), **kw,
    )
    return out


def decimal_or_zero(x: Decimal | None) -> Decimal:
    return x if x is not None else Decimal(0)
