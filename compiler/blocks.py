"""Lower the `trigger`, `costs` and `risk` blocks and `mode` overrides."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rebal.dsl import ast
from rebal.dsl.diagnostics import Span

from . import ir
from .expressions import fmt_range, lower_cond, lower_value
from .lowering import ClauseReader, check_once, words
from .units import DURATION, norm

COST_KEYS = frozenset(
    "max_slippage max_fee max_gas max_gas_cost min_trade split budget max_funding".split()
)
TRIGGER_KEYS = frozenset("on_breach every cooldown".split())


def lower_trigger(rd: ClauseReader, clauses: tuple[ast.Clause, ...], spans: dict[str, Span],
                  prefix: str = "trigger") -> dict[str, Any]:
    out: dict[str, Any] = {}
    cl = check_once(clauses, rd.sink, frozenset())
    for key, c in cl.items():
        spans[f"{prefix}.{key}"] = c.span
        if key == "on_breach":
            out["on_breach"] = True
        elif key == "cooldown":
            v = rd.duration(c.args[0], "the cooldown", c.span, positive=False)
            if v is not None:
                out["cooldown_s"] = v
        elif key == "every":
            e = c.args[0]
            assert not isinstance(e, ast.Name | ast.Str | ast.DateLit | ast.EnvRef | ast.Band)
            t = lower_value(e, rd.cx)
            if t is None:
                continue
            if t.dim != DURATION:
                rd.sink.emit("E301", f"`every` needs a duration, not {t.dim.describe()}", e.span,
                             "e.g. `every 8h`")
                continue
            if t.range.lo <= 0:
                rd.sink.emit(
                    "E404",
                    "this period can reach zero" + ("" if t.range.is_point else
                                                    f" (its range is {fmt_range(t.range, t.dim)})"),
                    e.span, "a period must stay positive; bound it with clamp(x, lo, hi), lo > 0",
                )
                continue
            out["every"] = t.node
    return out


def lower_costs(rd: ClauseReader, clauses: tuple[ast.Clause, ...], spans: dict[str, Span],
                prefix: str = "costs") -> dict[str, Any]:
    out: dict[str, Any] = {}
    cl = check_once(clauses, rd.sink, frozenset())
    for key, c in cl.items():
        spans[f"{prefix}.{key}"] = c.span
        a = c.args
        w = f"`{words(key)}`"
        if key == "max_slippage" or key == "max_fee":
            out[key] = rd.ratio(a[0], w, c.span, lo=0.0, hi=1.0)
        elif key == "max_gas":
            out["max_gas_gwei"] = rd.gas(a[0], w, c.span)
        elif key == "max_gas_cost" or key == "min_trade":
            out[key] = rd.amount(a[0], w, c.span)
        elif key == "split":
            size = rd.amount(a[0], "the split size", c.span)
            every = rd.duration(a[1], "the split period", c.span, positive=False)
            if size is not None and every is not None:
                out[key] = ir.Split.model_construct(size=size, every_s=every)
        elif key == "budget":
            amt = rd.amount(a[0], "the budget", c.span)
            per = rd.duration(a[1], "the budget window", c.span)
            if amt is not None and per is not None:
                out[key] = ir.Rate.model_construct(value=amt.value, asset=amt.asset, per_s=per)
        elif key == "max_funding":
            r = rd.ratio(a[0], "the funding limit", c.span, lo=-10.0, hi=10.0)
            per = rd.duration(a[1], "the funding period", c.span)
            if r is not None and per is not None:
                out[key] = ir.Rate.model_construct(value=r, per_s=per)
    return {k: v for k, v in out.items() if v is not None}


def lower_risk(rd: ClauseReader, clauses: tuple[ast.Clause, ...], spans: dict[str, Span],
               instruments: dict[str, ast.Instrument]) -> ir.Risk:
    out: dict[str, Any] = {}
    cl = check_once(clauses, rd.sink, frozenset({"max_position", "halt"}))
    positions: list[ir.PositionLimit] = []
    halts: list[Any] = []
    seen_pos: set[str] = set()
    for c in clauses:
        key = c.key
        if key not in ("max_position", "halt") and cl.get(key) is not c:
            continue
        a = c.args
        w = f"`{words(key)}`"
        if key == "max_leverage":
            spans["risk.max_leverage"] = c.span
            out[key] = rd.ratio(a[0], w, c.span, lo=0.0, hi=1000.0)
            if out[key] is not None and out[key] == 0:
                rd.sink.emit("E401", "max leverage 0x forbids every position", c.span)
        elif key == "liquidation_buffer":
            spans["risk.liquidation_buffer"] = c.span
            out[key] = rd.ratio(a[0], w, c.span, lo=0.0, hi=1.0)
        elif key == "max_notional":
            spans["risk.max_notional"] = c.span
            out[key] = rd.amount(a[0], w, c.span)
        elif key == "max_orders":
            spans["risk.max_orders"] = c.span
            n = rd.integer(a[0], "the order count", c.span, lo=1)
            per = rd.duration(a[1], "the order window", c.span)
            if n is not None and per is not None:
                out[key] = ir.OrderLimit.model_construct(count=n, per_s=per)
        elif key == "max_position":
            name = rd.name(a[0], list(instruments), "instrument", c.span)
            if name is None:
                continue
            spans[f"risk.max_position[{name}]"] = c.span
            if name in seen_pos:
                rd.sink.emit("E206", f"`max position {name}` is given twice", c.span)
                continue
            seen_pos.add(name)
            inst = instruments[name]
            amt = rd.amount(a[1], f"max position of {name}", c.span,
                            assets=[inst.asset.text])
            if amt is not None:
                positions.append(ir.PositionLimit.model_construct(instrument=name, limit=amt))
        elif key == "halt":
            e = a[0]
            assert not isinstance(e, ast.Name | ast.Str | ast.DateLit | ast.EnvRef | ast.Band)
            spans[f"risk.halt_when[{len(halts)}]"] = c.span
            t = lower_cond(e, rd.cx)
            if t is not None:
                halts.append(t.node)
    out = {k: v for k, v in out.items() if v is not None}
    return ir.Risk.model_construct(max_position=tuple(positions), halt_when=tuple(halts), **out)


def lower_mode(rd: ClauseReader, i: int, m: ast.Mode, spans: dict[str, Span]) -> ir.Mode | None:
    prefix = f"modes[{m.name.text}]"
    spans[prefix] = m.span
    when = lower_cond(m.when, rd.cx)
    trig = tuple(c for c in m.clauses if c.key in TRIGGER_KEYS)
    costs = tuple(c for c in m.clauses if c.key in COST_KEYS)
    t = lower_trigger(rd, trig, spans, f"{prefix}.trigger")
    cs = lower_costs(rd, costs, spans, f"{prefix}.costs")
    if when is None:
        return None
    return ir.Mode.model_construct(name=m.name.text, when=when.node, trigger=ir.TriggerOverride.model_construct(**t),
                   costs=ir.Costs.model_construct(**cs))


def cooldown_default() -> Decimal:
    return norm(Decimal(0))
