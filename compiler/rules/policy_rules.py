"""House-policy rules (`rebal check --policy FILE`): limits, required clauses, allowed venues.

* Every limit the policy names must be at most the policy's, in the base costs and in every
  mode (an emergency tier looser than the policy is a violation at the mode's clause). A
  strategy without its own `max leverage` is held to the policy by what its targets need.
* `require liquidation buffer >= X` applies to strategies that can hold perpetuals, futures
  or short options: in the book, or owned (an owned option may be sold).
* `require max CLAUSE` needs the clause present; `require halt when NAME` needs a `halt
  when` condition that reads NAME (`drawdown`, `leverage`, ...).
* `venues allowed` / `backends allowed` list the only venue names / backends permitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from rebal.dsl.diagnostics import Diagnostic, make

from .. import ir, words
from . import RuleContext, exposure, facts

#: `require max NAME` -> does the strategy have the clause?
_PRESENT: dict[str, Callable[[ir.Strategy], bool]] = {
    "max_slippage": lambda s: s.costs.max_slippage is not None,
    "max_fee": lambda s: s.costs.max_fee is not None,
    "max_gas": lambda s: s.costs.max_gas_gwei is not None,
    "max_gas_cost": lambda s: s.costs.max_gas_cost is not None,
    "max_funding": lambda s: s.costs.max_funding is not None,
    "max_leverage": lambda s: s.risk.max_leverage is not None,
    "max_notional": lambda s: s.risk.max_notional is not None,
    "max_position": lambda s: bool(s.risk.max_position),
    "max_orders": lambda s: s.risk.max_orders is not None,
}
_COST_LIMITS = {"max_slippage": "max slippage", "max_fee": "max fee", "max_gas": "max gas"}


def _limit(p: ir.Policy, clause: str) -> ir.PolicyLimit | None:
    return next((x for x in p.limits if x.clause == clause), None)


def _cost_value(c: ir.Costs, clause: str) -> Decimal | None:
    if clause == "max_gas":
        return c.max_gas_gwei
    v = getattr(c, clause)
    assert v is None or isinstance(v, Decimal)
    return v


def _show(clause: str, v: Decimal | float) -> str:
    if clause == "max_gas":
        return f"{words.num(v)} gwei"
    if clause == "max_leverage":
        return words.mult(v)
    return words.bps(v) if float(v) < 0.01 or clause == "max_slippage" else words.pct(v)


def policy_limits(cx: RuleContext) -> Iterator[Diagnostic]:
    """P701: a limit looser than the policy's, in the base blocks or in any mode."""
    s, p = cx.strategy, cx.policy
    if p is None:
        return
    for clause, written in _COST_LIMITS.items():
        lim = _limit(p, clause)
        if lim is None:
            continue
        places: list[tuple[str, str, ir.Costs]] = [
            (f"costs.{clause}", "", s.costs)]
        places += [(f"modes[{m.name}].costs.{clause}", f"mode `{m.name}`'s ", m.costs)
                   for m in s.modes]
        for key, who, costs in places:
            v = _cost_value(costs, clause)
            if v is not None and v > lim.value:
                yield make("P701", f"{who}`{written} {_show(clause, v)}` is above policy "
                           f"`{p.name}`'s {_show(clause, lim.value)}", cx.span(key),
                           f"lower it to at most {_show(clause, lim.value)}")
    lev = _limit(p, "max_leverage")
    if lev is not None:
        yield from _leverage(cx, p, lev.value)
    notional = _limit(p, "max_notional")
    own = s.risk.max_notional
    if notional is not None and notional.asset and own is not None:
        mine = facts.convert(float(own.value), own.asset, notional.asset, s)
        cap = facts.amount(notional.value, notional.asset)
        if mine is not None and mine > float(notional.value):
            yield make("P701", f"`max notional {facts.amount(own.value, own.asset)}` is above "
                       f"policy `{p.name}`'s {cap}", cx.span("risk.max_notional"),
                       f"lower it to at most {cap}")
    yield from _buffer_level(cx, p)


def _leverage(cx: RuleContext, p: ir.Policy, limit: Decimal) -> Iterator[Diagnostic]:
    s = cx.strategy
    mine = s.risk.max_leverage
    if mine is not None:
        if mine > limit:
            yield make("P701", f"`max leverage {words.mult(mine)}` is above policy `{p.name}`'s "
                       f"{words.mult(limit)}", cx.span("risk.max_leverage"),
                       f"lower it to at most {words.mult(limit)}")
        return
    ns = [n for n in exposure.needs(s) if n.leverage is not None]
    total = sum(n.leverage or 0.0 for n in ns) + (exposure.book_leverage(s) or 0.0)
    if ns and total > float(limit) + 1e-12:
        top = max(ns, key=lambda n: n.leverage or 0.0)
        yield make("P701", f"the targets need up to {words.mult(total)} gross leverage, above "
                   f"policy `{p.name}`'s {words.mult(limit)}", cx.span(top.span_key),
                   f"add `max leverage {words.mult(limit)}` to `risk` and fit the targets to it")


def can_be_liquidated(s: ir.Strategy) -> bool:
    """Can the strategy hold perps, futures or short options (book, or owned and traded)?"""
    for p in s.book:
        kind = s.instrument(p.instrument).kind
        if kind in facts.MARGINED or (kind == "option" and p.quantity < 0):
            return True
    return any(s.instrument(n).kind in (*facts.MARGINED, "option") for n in s.owns)


def _buffer_level(cx: RuleContext, p: ir.Policy) -> Iterator[Diagnostic]:
    s, need = cx.strategy, p.min_liquidation_buffer
    buf = s.risk.liquidation_buffer
    if need is None or buf is None or buf >= need or not can_be_liquidated(s):
        return
    yield make("P701", f"`liquidation buffer {words.pct(buf)}` is below policy `{p.name}`'s "
               f"{words.pct(need)}", cx.span("risk.liquidation_buffer"),
               f"raise it to at least {words.pct(need)}")


def policy_required(cx: RuleContext) -> Iterator[Diagnostic]:
    """P702: a clause or a halt the policy requires is missing."""
    s, p = cx.strategy, cx.policy
    if p is None:
        return
    if p.min_liquidation_buffer is not None and s.risk.liquidation_buffer is None \
            and can_be_liquidated(s):
        yield make("P702", f"no `liquidation buffer`: policy `{p.name}` requires at least "
                   f"{words.pct(p.min_liquidation_buffer)} for strategies that can hold perps, "
                   "futures or short options", cx.span("risk", "strategy"),
                   f"add `liquidation buffer {words.pct(p.min_liquidation_buffer)}` to `risk`")
    for clause in p.required_clauses:
        present = _PRESENT.get(clause)
        if present is not None and present(s):
            continue
        written = clause.replace("_", " ")
        block = "costs" if clause in ("max_slippage", "max_fee", "max_gas", "max_gas_cost",
                                      "max_funding") else "risk"
        yield make("P702", f"no `{written}`: policy `{p.name}` requires it",
                   cx.span(block, "strategy"), f"add `{written} ...` to `{block}`")
    for name in p.required_halts:
        if any(name in facts.names_in(h) for h in s.risk.halt_when):
            continue
        yield make("P702", f"no `halt when` on {name}: policy `{p.name}` requires one",
                   cx.span("risk", "strategy"),
                   f"add e.g. `halt when {name} > 20%` to `risk`" if name == "drawdown"
                   else f"add `halt when {name} ...` to `risk`")


def policy_venues(cx: RuleContext) -> Iterator[Diagnostic]:
    """P703: a venue (or its backend) the policy does not allow."""
    s, p = cx.strategy, cx.policy
    if p is None:
        return
    for v in s.venues:
        if p.venues_allowed is not None and v.name not in p.venues_allowed:
            yield make("P703", f"venue `{v.name}` is not allowed by policy `{p.name}`",
                       cx.span(f"venues[{v.name}]"),
                       "allowed venues: " + ", ".join(p.venues_allowed))
        if p.backends_allowed is not None and v.backend not in p.backends_allowed:
            yield make("P703", f"backend `{v.backend}` is not allowed by policy `{p.name}`",
                       cx.span(f"venues[{v.name}].backend"),
                       "allowed backends: " + ", ".join(p.backends_allowed))


RULES = (policy_limits, policy_required, policy_venues)
