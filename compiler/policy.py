"""Lower a `policy` block to the IR (the checks against strategies are rules/policy_rules)."""

from __future__ import annotations

from typing import Any

from rebal.dsl import ast
from rebal.dsl.diagnostics import Sink, Span

from . import ir
from .expressions import ExprContext
from .lowering import ClauseReader, words
from .units import GAS, KNOWN_CURRENCIES

_LIMITS = ("max_leverage", "max_slippage", "max_fee", "max_gas", "max_notional")


def lower_policy(p: ast.Policy, sink: Sink) -> tuple[ir.Policy | None, dict[str, Span]]:
    spans: dict[str, Span] = {"policy": p.name.span}
    cx = ExprContext(frozenset(KNOWN_CURRENCIES) | {"BTC", "ETH"}, {}, "USD", None, sink)
    rd = ClauseReader(cx)
    limits: list[ir.PolicyLimit] = []
    out: dict[str, Any] = {}
    required: list[str] = []
    halts: list[str] = []
    for c in p.clauses:
        if c.key in _LIMITS:
            spans[f"limits.{c.key}"] = c.span
            if c.key == "max_notional":
                amt = rd.amount(c.args[0], "`max notional`", c.span)
                if amt is not None:
                    limits.append(ir.PolicyLimit.model_construct(clause="max_notional", value=amt.value, asset=amt.asset))
                continue
            if c.key == "max_gas":
                g = rd.const(c.args[0], GAS, "`max gas`", c.span)
                if g is not None:
                    limits.append(ir.PolicyLimit.model_construct(clause="max_gas", value=g[0]))
                continue
            v = rd.ratio(c.args[0], f"`{words(c.key)}`", c.span)
            if v is not None:
                limits.append(ir.PolicyLimit.model_construct(clause=c.key, value=v))  # type: ignore[arg-type]
        elif c.key == "require_buffer":
            spans["min_liquidation_buffer"] = c.span
            v = rd.ratio(c.args[0], "the required liquidation buffer", c.span, lo=0.0, hi=1.0)
            if v is not None:
                out["min_liquidation_buffer"] = v
        elif c.key == "require_clause":
            n = c.args[0]
            assert isinstance(n, ast.Name)
            spans[f"required.max_{n.text}"] = c.span
            required.append(f"max_{n.text}")
        elif c.key == "require_halt":
            n = c.args[0]
            assert isinstance(n, ast.Name)
            spans[f"required_halts.{n.text}"] = c.span
            halts.append(n.text)
        elif c.key in ("venues_allowed", "backends_allowed"):
            spans[c.key] = c.span
            out[c.key] = tuple(a.text for a in c.args if isinstance(a, ast.Name))
        else:
            sink.emit("E207", f"`{words(c.key)}` does not belong in a policy", c.span)
    if sink.has_errors:
        return None, spans
    return ir.Policy.model_construct(name=p.name.text, limits=tuple(limits), required_clauses=tuple(required),
                     required_halts=tuple(halts), **out), spans
