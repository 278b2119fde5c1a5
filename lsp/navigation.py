"""What a name in the document is: instruments and their declarations, and the outline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rebal.dsl import ast
from rebal.dsl.exprtext import expr_text

from .analysis import Checked
from .text import Pos, Rng, span_range


def strategies(checked: Checked) -> tuple[ast.Strategy, ...]:
    return checked.tree.strategies if checked.tree is not None else ()


def instruments(checked: Checked) -> Iterator[ast.Instrument]:
    for s in strategies(checked):
        yield from s.instruments


def instrument(checked: Checked, name: str, at: Pos | None = None) -> ast.Instrument | None:
    """The declaration of instrument ``name`` (in the strategy around ``at`` when given)."""
    for s in strategies(checked):
        if at is not None and not span_range(s.span).contains(at):
            continue
        for i in s.instruments:
            if i.name.text == name:
                return i
    return None


def assets(checked: Checked) -> list[str]:
    """The declared assets: underlyings and settle assets, and USD, USDT, USDC."""
    found = {"USD", "USDT", "USDC"}
    for i in instruments(checked):
        found.add(i.asset.text)
        if i.settle is not None:
            found.add(i.settle.text)
    return sorted(found)


def describe_instrument(i: ast.Instrument) -> str:
    """`PERP`: perp SOL, settles in USD; an option with its strike and expiry."""
    parts = [f"{i.kind} {i.asset.text}"]
    if i.option_kind:
        parts.append(i.option_kind)
    if i.strike is not None:
        parts.append(f"strike {expr_text(i.strike)}")
    if i.expiry is not None:
        parts.append(f"expiry {i.expiry.value.isoformat()}")
    settle = i.settle.text if i.settle else ("USD" if i.kind in ("perp", "future", "option")
                                             else i.asset.text)
    return f"`{i.name.text}`: " + " ".join(parts) + f", settles in {settle}"


@dataclass(frozen=True)
class Symbol:
    """One outline entry: name, kind (strategy, policy, target, venue, instrument), detail."""

    name: str
    kind: str
    detail: str
    range: Rng
    selection: Rng
    children: tuple[Symbol, ...] = ()


def _target_name(t: ast.Target) -> str:
    if t.kind in ("gamma", "vega", "theta") and t.lo is not None and t.hi is not None:
        return f"target {t.kind} within {expr_text(t.lo)} to {expr_text(t.hi)}"
    if t.value is not None:
        return f"target {t.kind} {expr_text(t.value)}"
    return f"target {t.kind}"


def outline(checked: Checked) -> list[Symbol]:
    """Strategies with their instruments, targets and venues; policies."""
    if checked.tree is None:
        return []
    out: list[Symbol] = []
    for s in checked.tree.strategies:
        kids = [Symbol(i.name.text, "instrument", describe_instrument(i).split(": ", 1)[1],
                       span_range(i.span), span_range(i.name.span)) for i in s.instruments]
        kids += [Symbol(_target_name(t), "target", "", span_range(t.span),
                        span_range(t.head_span)) for t in s.targets]
        kids += [Symbol(f"venue {v.name.text}", "venue", f"via {v.backend.text}",
                        span_range(v.span), span_range(v.name.span)) for v in s.venues]
        out.append(Symbol(s.name.text, "strategy", "strategy", span_range(s.span),
                          span_range(s.name.span), tuple(kids)))
    for p in checked.tree.policies:
        out.append(Symbol(p.name.text, "policy", "policy", span_range(p.span),
                          span_range(p.name.span)))
    return out


def definition(checked: Checked, at: Pos) -> Rng | None:
    """The declaration of the instrument named at ``at`` (a use or the declaration itself)."""
    word = checked.lines.word_at(at)
    if word is None:
        return None
    decl = instrument(checked, word[0], at)
    return span_range(decl.name.span) if decl is not None else None


__all__ = ["Symbol", "assets", "definition", "describe_instrument", "instrument", "instruments",
           "outline", "strategies"]
