"""The built-in function table (`compiler/functions.py`) is the one place functions live.

Every layer that knows functions reads it: lowering (arity, argument kinds, units, folding),
the IR schema, ranges, `rebal explain`, the language server and the kernel's evaluator. The
tests check each layer against the table, that constant folding (Decimal) and the kernel's
vector implementation agree, and that a value function added to the table alone works end to
end: it compiles, has a range, reads in `rebal explain` and is evaluated by the kernel.
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from rebal.backends.kernel import Kernel, MarketView, PortfolioView
from rebal.backends.kernel.context import StepContext
from rebal.backends.kernel.evaluator import Needs, compile_expr
from rebal.compiler import compile_text, functions, ir
from rebal.compiler.canonical import ir_schema_json
from rebal.compiler.explain import explain
from rebal.compiler.functions import BY_NAME, NAMES, TABLE, Function
from rebal.compiler.intervals import Iv
from rebal.compiler.ranges import expr_range
from rebal.lsp.analysis import check_document
from rebal.lsp.completion import complete
from rebal.lsp.reference import FUNCTIONS as HOVER
from rebal.lsp.text import Pos

SIM = "ETH spot 3000 USD vol 60% start 2026-01-01 horizon 1d step 1h paths 2"


def _strategy(mode_when: str) -> tuple[ir.Strategy | None, list[str]]:
    text = f"""strategy t {{
  capital 100000 USD
  instruments {{ C option ETH call strike 3000 USD expiry 2026-07-02  PERP perp ETH }}
  book {{ C 10 }}
  owns PERP
  target delta 0 ETH {{ band 0.5 ETH hedge with PERP }}
  trigger {{ on breach }}
  mode m when {mode_when} {{ cooldown 0s }}
  venue sim via sim {{ {SIM} }}
}}"""
    s, diags = compile_text(text)
    return s, [f"{d.code} {d.message}" for d in diags]


def _condition(s: ir.Strategy) -> ir.Compare:
    cond = s.modes[0].when
    assert isinstance(cond, ir.Compare)
    return cond


def _context(s: ir.Strategy, batch: int = 1) -> tuple[Kernel, StepContext]:
    k = Kernel.build(s, "sim", batch)
    market = MarketView(spot=np.full((batch, 1), 3000.0), vol=np.full((batch, 1), 0.6))
    marks = k.mark(0.0, market)
    pos = np.asfortranarray(np.tile(k.layout.book, (batch, 1)))
    ctx = StepContext(0.0, k.layout, market, PortfolioView(pos, np.full(batch, 1e5)), marks,
                      np.full(batch, 1e5), 0.0)
    return k, ctx


def _eval(k: Kernel, ctx: StepContext, e: ir.Expr) -> np.ndarray:
    f = compile_expr(e, k.layout, k.history, Needs())
    return np.broadcast_to(np.asarray(f(ctx), dtype=float), (ctx.equity.shape[0],))


def test_every_layer_lists_exactly_the_table() -> None:
    schema = json.loads(ir_schema_json())
    assert tuple(schema["$defs"]["Call"]["properties"]["fn"]["enum"]) == NAMES
    text = "strategy t {\n  mode m when "
    checked = check_document(text, "t.rebal", policy=None, capabilities={})
    labels = {i.label for i in complete(checked, Pos(1, 14), [])}  # `spot` is a keyword too
    for f in TABLE:
        entry = HOVER[f.name]  # hover (`min`/`max` are also keywords: their word entry wins)
        assert f.signature in entry.meaning and f.doc in entry.meaning
        assert f.name in labels, f"completion does not offer {f.name}"
    with pytest.raises(ValueError, match="unknown function 'nope'"):
        ir.Call(fn="nope", unit="")


@pytest.mark.parametrize("f", [f for f in TABLE if f.arity is not None], ids=lambda f: f.name)
def test_a_wrong_argument_count_names_the_signature(f: Function) -> None:
    args = ", ".join(["1"] * (f.arity + 1))  # type: ignore[operator]
    s, diags = _strategy(f"{f.name}({args}) > 0")
    assert s is None
    assert any(d.startswith("E210") and f.signature in d for d in diags), diags


VALUE_CASES = {
    "abs": ["-2.5", "-0.5"], "min": ["3", "-1", "2"], "max": ["3", "-1", "2"],
    "clamp": ["7", "0", "5"], "sqrt": ["2.25"],
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_folding_and_the_kernel_agree_for_each_value_function(name: str) -> None:
    f = BY_NAME[name]
    args = VALUE_CASES[name][: f.arity] if f.arity else VALUE_CASES[name]
    folded = f.fold([Decimal(a) for a in args])  # type: ignore[misc]
    # The same call with its first argument read from the market (not foldable): the kernel
    # evaluates it with the table's vector implementation.
    first = f"spot(ETH) / 3000 USD * {args[0]}"
    s, diags = _strategy(f"{name}({', '.join([first, *args[1:]])}) > -1000")
    assert s is not None, diags
    call = _condition(s).left
    assert isinstance(call, ir.Call) and call.fn == name
    k, ctx = _context(s, batch=3)
    got = _eval(k, ctx, call)
    assert got == pytest.approx([float(folded)] * 3)
    rng = expr_range(call)
    assert rng.lo <= float(folded) <= rng.hi
    # constant arguments fold at compile time to the same number
    s2, _ = _strategy(f"{name}({', '.join(args)}) > -1000")
    assert s2 is not None
    const = _condition(s2).left
    assert isinstance(const, ir.Const) and const.value == folded


def test_each_market_function_has_a_kernel_source_and_its_value() -> None:
    s, diags = _strategy("spot(ETH) + 0 USD > 0 USD and implied_vol(C) >= 0 and "
                         "funding(PERP) > -1 and weight(PERP) <= 1 and "
                         "realized_vol(ETH, 24h) >= 0")
    assert s is not None, diags
    k, ctx = _context(s)
    calls = {n.fn: n for n in _walk_calls(s.modes[0].when)}
    assert set(calls) == {f.name for f in TABLE if f.is_market}
    assert _eval(k, ctx, calls["spot"])[0] == 3000.0
    assert _eval(k, ctx, calls["implied_vol"])[0] == pytest.approx(0.6)
    assert _eval(k, ctx, calls["weight"])[0] == 0.0  # no PERP held yet
    assert np.isfinite(_eval(k, ctx, calls["funding"])[0])
    assert _eval(k, ctx, calls["realized_vol"])[0] >= 0.0


def _walk_calls(e: ir.Expr | None) -> list[ir.Call]:
    from rebal.compiler.ir_walk import walk

    return [n for n in walk(e) if isinstance(n, ir.Call)]


def test_a_function_added_to_the_table_alone_works_end_to_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`twice(x)`, written once in the table: lowering, range, explain and kernel follow."""
    twice = Function("twice", "twice(x)", "x doubled, same unit.", "values", 1, "same",
                     range=lambda a: a[0] * Iv.point(2.0),
                     words=lambda a, _s: (f"twice {a[0]}", 8),
                     fold=lambda v: 2 * v[0], vector=lambda np: lambda x: np.multiply(x, 2.0), keeps_flavour=True)
    monkeypatch.setitem(functions.BY_NAME, "twice", twice)
    s, diags = _strategy("twice(spot(ETH)) > 7000 USD")
    assert s is not None, diags
    call = _condition(s).left
    assert isinstance(call, ir.Call) and call.fn == "twice" and call.unit == "USD"
    assert expr_range(call).lo > 0  # twice a positive price
    k, ctx = _context(s)
    assert _eval(k, ctx, call)[0] == 6000.0
    assert "twice the ETH price" in explain(s)
    s2, _ = _strategy("twice(2 USD) > 3 USD")
    assert s2 is not None and isinstance(_condition(s2).left, ir.Const)
