"""Which of a strategy's rules an on-chain guard contract enforces, and which it cannot.

One list for both places that state it: the header of the generated guard
(``backends/chain/guard.py``) and ``rebal explain``. Also the facts the guard is built from
(the two halts it can check), so the generator and the words never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from . import ir
from .explain import expr_words
from .words import dur, num, pct

__all__ = ["GUARD_HALTS", "Coverage", "guard_coverage", "guard_halt"]

#: The halts a contract can check from the chain alone: the oracle round's age and the
#: oracle's deviation from the pool's price.
GUARD_HALTS = ("price_age", "oracle_deviation")


@dataclass
class Coverage:
    enforced: list[str] = field(default_factory=list)
    unenforced: list[str] = field(default_factory=list)


def _halt_limit(e: ir.Expr) -> tuple[str, Decimal] | None:
    """(name, limit) of a ``halt when <price_age|oracle_deviation> > CONST``."""
    if (isinstance(e, ir.Compare) and e.op in (">", ">=") and isinstance(e.left, ir.Ref)
            and e.left.name in GUARD_HALTS and isinstance(e.right, ir.Const)):
        return e.left.name, e.right.value
    return None


def guard_halt(strategy: ir.Strategy, name: str) -> Decimal | None:
    """The tightest ``halt when NAME > X`` of the strategy, or None."""
    limits = [h[1] for e in strategy.risk.halt_when if (h := _halt_limit(e)) and h[0] == name]
    return min(limits) if limits else None


def _target_line(t: ir.Target) -> str | None:
    if isinstance(t, ir.WeightsTarget):
        return "weights " + ", ".join(f"{leg.instrument} {pct(leg.weight)}" for leg in t.legs)
    if isinstance(t, ir.CppiTarget):
        return (f"CPPI on {t.risky}/{t.safe}: floor {pct(t.floor)} of capital, multiplier "
                f"{num(t.multiplier)}")
    return None


def guard_coverage(strategy: ir.Strategy) -> Coverage:
    """The guard's enforced rules and the spec's rules it cannot enforce, in words."""
    cov = Coverage()
    on, off = cov.enforced.append, cov.unenforced.append
    on("only the keeper trades, only through the vault's router, only the strategy's tokens "
       "(the numeraire against one risky token per swap); the owner can pause; a client id "
       "executes once")
    c, r, trig = strategy.costs, strategy.risk, strategy.trigger
    slip = c.max_slippage if c.max_slippage is not None else Decimal(0)
    on(f"every swap's amountOutMin at least the oracle-implied amount less {pct(slip)} "
       "(max slippage) and the pool's 0.3% fee")
    if c.max_gas_gwei is not None:
        on(f"the transaction's gas price at most {num(c.max_gas_gwei)} gwei (max gas)")
    targets = [t for t in strategy.targets if _target_line(t)]
    if len(targets) == 1 and len(strategy.targets) == 1:
        on(f"the target ({_target_line(targets[0])}): a new rebalance only when it is outside "
           "its band" + (" or on the `every` clock" if trig.every is not None else "")
           + "; only toward the target, never past it by more than half the band (at least "
           "the slippage allowance)")
    else:
        off("targets other than one weights or CPPI target: the guard checks prices, sizes "
            "and caps, not the band or the direction")
    if trig.every is not None and not isinstance(trig.every, ir.Const):
        off(f"the `every {expr_words(trig.every)}` clock (an expression, not a constant)")
    if trig.cooldown_s > 0:
        on(f"cooldown {dur(trig.cooldown_s)} between rebalances")
    if c.split is not None:
        on(f"split: each swap at most {num(c.split.size.value)} {c.split.size.asset}, the "
           f"children of one rebalance at least {dur(c.split.every_s)} apart")
    if c.min_trade is not None:
        on(f"min trade {num(c.min_trade.value)} {c.min_trade.asset}")
    if r.max_notional is not None:
        on(f"max notional {num(r.max_notional.value)} {r.max_notional.asset} after each swap")
    for p in r.max_position:
        on(f"max position {p.instrument} {num(p.limit.value)} {p.limit.asset} after each swap")
    if r.max_orders is not None:
        on(f"max orders {r.max_orders.count} per {dur(r.max_orders.per_s)}")
    for e in r.halt_when:
        h = _halt_limit(e)
        if h is None:
            off(f"halt when {expr_words(e)} (needs off-chain data: the keeper halts)")
        elif h[0] == "price_age":
            on(f"refuses an oracle round older than {dur(h[1])} (halt when price_age)")
        else:
            on(f"refuses a pool price more than {pct(h[1])} from the oracle "
               "(halt when oracle_deviation)")
    if c.max_gas_cost is not None:
        off(f"max gas cost {num(c.max_gas_cost.value)} {c.max_gas_cost.asset} (gas used is "
            "known only after execution: the keeper skips a rebalance whose estimate exceeds it)")
    if c.max_fee is not None:
        off("max fee (the pool's fee is fixed by the router; the keeper checks it)")
    if c.budget is not None:
        off("the cost budget (needs the history of costs: the keeper enforces it)")
    if strategy.modes:
        off("modes: the guard enforces the base costs and trigger; a mode that loosens them "
            "is refused on chain, one that tightens them is applied by the keeper")
    if any(t.rebalance.to != "center" or t.rebalance.fraction != 1 for t in strategy.targets):
        off("how far to rebalance (edge, recenter): the guard only checks toward and not past "
            "the center")
    off("the numeraire token is valued at par (a stablecoin depeg is not seen on chain)")
    return cov
