"""Lower `target` blocks: delta, greek ranges, weights, leverage and CPPI."""

from __future__ import annotations

from decimal import Decimal

from rebal.dsl import ast
from rebal.dsl.diagnostics import Span

from . import ir
from .expressions import fmt_range, lower_value
from .intervals import Iv
from .lowering import ClauseReader, check_once, words
from .units import RATIO, Dim, norm

_ALLOWED = {
    "delta": {"band", "hedge", "rebalance", "recenter"},
    "greek": {"band", "hedge", "rebalance", "recenter"},
    "weights": {"rebalance", "recenter"},
    "leverage": {"band", "hedge", "rebalance", "recenter"},
    "cppi": {"band", "cppi_risky", "cppi_safe", "cppi_floor", "cppi_multiplier", "rebalance",
             "recenter"},
}


def _iv(r: Iv) -> ir.Interval:
    def d(x: float) -> Decimal | None:
        return None if x in (float("inf"), float("-inf")) else norm(Decimal(repr(x)))

    return ir.Interval.model_construct(lo=d(r.lo), hi=d(r.hi))


class TargetLowerer:
    """Lowers each target; records spans under `targets[i]...` for later rules."""

    def __init__(self, rd: ClauseReader, owned: set[str], spans: dict[str, Span],
                 band_ranges: dict[str, Iv]) -> None:
        self.rd = rd
        self.owned = owned
        self.spans = spans
        self.band_ranges = band_ranges

    @property
    def insts(self) -> dict[str, ast.Instrument]:
        return dict(self.rd.cx.instruments)

    def lower(self, i: int, t: ast.Target) -> ir.Target | None:
        key = f"targets[{i}]"
        self.spans[key] = t.head_span
        group = "greek" if t.kind in ("gamma", "vega", "theta") else t.kind
        for c in t.clauses:
            if c.key not in _ALLOWED[group]:
                self.rd.sink.emit("E207", f"`{words(c.key)}` does not belong in a {t.kind} target",
                                  c.span, f"a {t.kind} target takes: "
                                  + ", ".join(f"`{words(k)}`" for k in sorted(_ALLOWED[group])))
        if t.weights and t.kind != "weights":
            self.rd.sink.emit("E207", f"instrument weight lines belong in `target weights`, not {t.kind}",
                              t.weights[0].span)
        cl = check_once(t.clauses, self.rd.sink, frozenset())
        if "rebalance" in cl and "recenter" in cl:
            self.rd.sink.emit("E206", "`rebalance to` and `recenter` both say where to trade to",
                              cl["recenter"].span, "keep one of them")
        reb = self._rebalance(cl, group)
        if t.kind == "delta":
            return self._delta(key, t, cl, reb)
        if group == "greek":
            return self._greek(key, t, cl, reb)
        if t.kind == "weights":
            return self._weights(key, t, reb)
        if t.kind == "leverage":
            return self._leverage(key, t, cl, reb)
        return self._cppi(key, t, cl, reb)

    # -------------------------------------------------------------- pieces
    def _rebalance(self, cl: dict[str, ast.Clause], group: str) -> ir.Rebalance:
        if "recenter" in cl:
            c = cl["recenter"]
            f = self.rd.ratio(c.args[0], "recenter", c.span, lo=0.0, hi=1.0)
            if f is not None and f == 0:
                self.rd.sink.emit("E401", "recenter 0% never trades", c.span, "use a fraction above 0%")
            return ir.Rebalance.model_construct(to="recenter", fraction=f if f else Decimal(1))
        if "rebalance" in cl:
            arg = cl["rebalance"].args[0]
            to = arg.text if isinstance(arg, ast.Name) else "center"
            return ir.Rebalance.model_construct(to=to, fraction=Decimal(1))  # type: ignore[arg-type]
        return ir.Rebalance.model_construct(to="edge" if group == "greek" else "center")

    def _hedges(self, key: str, cl: dict[str, ast.Clause], *, required: bool, span: Span) -> tuple[str, ...]:
        if "hedge" not in cl:
            if required:
                self.rd.sink.emit("E208", "this target says nothing about what to trade",
                                  span, "add `hedge with INSTRUMENT`")
            return ()
        out: list[str] = []
        for n in cl["hedge"].args:
            assert isinstance(n, ast.Name)
            self.spans[f"{key}.hedge[{n.text}]"] = n.span
            if n.text not in self.insts:
                self.rd.undefined(n.text, list(self.insts), "instrument", n.span)
                continue
            if n.text not in self.owned:
                self.rd.sink.emit("E211", f"`{n.text}` is not owned, so the strategy cannot trade it",
                                  n.span, "add it to `owns`")
                continue
            out.append(n.text)
        self.spans[f"{key}.hedge"] = cl["hedge"].span
        return tuple(out)

    def _band(self, key: str, b: ast.Band | None, dim: Dim, target: Decimal | None,
              *, allow_optimal: bool) -> ir.Band | None:
        if b is None:
            return None
        self.spans[f"{key}.band"] = b.span
        if b.kind == "optimal":
            if not allow_optimal:
                self.rd.sink.emit("E207", "an optimal band is defined for delta targets only", b.span)
                return None
            assert b.risk_aversion is not None
            ra = self.rd.ratio(b.risk_aversion, "risk_aversion", b.span)
            if ra is None:
                return None
            if ra <= 0:
                self.rd.sink.emit("E401", "risk_aversion must be positive", b.span)
                return None
            return ir.OptimalBand.model_construct(risk_aversion=ra)
        if b.kind == "asym":
            assert b.lo is not None and b.hi is not None
            lo, hi = lower_value(b.lo, self.rd.cx), lower_value(b.hi, self.rd.cx)
            if lo is None or hi is None:
                return None
            for side, e in ((lo, b.lo), (hi, b.hi)):
                if side.dim != dim:
                    self._dim_error(e.span, "band edge", dim, side.dim)
                    return None
            if lo.range.lo > hi.range.hi or (lo.const is not None and hi.const is not None
                                              and lo.const >= hi.const):
                self.rd.sink.emit("E401", "the lower edge of the band is not below the upper edge",
                                  b.span, "write `band LOW to HIGH`")
                return None
            self.band_ranges[key] = Iv(lo.range.lo, hi.range.hi)
            return ir.AsymmetricBand.model_construct(lower=lo.node, upper=hi.node)
        assert b.width is not None
        w = lower_value(b.width, self.rd.cx)
        if w is None:
            return None
        want = RATIO if b.relative else dim
        if w.dim != want:
            self._dim_error(b.width.span, "band width", want, w.dim)
            return None
        if w.range.lo <= 0:
            self.rd.sink.emit(
                "E402",
                "the band width can be zero or negative"
                + (f" (its range is {fmt_range(w.range, w.dim)})" if not w.range.is_point else ""),
                b.width.span,
                "a band must stay positive; bound it, e.g. with clamp(x, lo, hi) and lo > 0",
            )
            return None
        self.band_ranges[key] = w.range
        return ir.SymmetricBand.model_construct(width=w.node, relative=b.relative, range=_iv(w.range))

    def _dim_error(self, span: Span, what: str, want: Dim, got: Dim) -> None:
        self.rd.sink.emit("E301", f"the {what} must be {want.describe()}, not {got.describe()}",
                          span, "a band is in the same unit as its target")

    def _band_clause(self, cl: dict[str, ast.Clause]) -> ast.Band | None:
        if "band" not in cl:
            return None
        b = cl["band"].args[0]
        assert isinstance(b, ast.Band)
        return b

    def _delta(self, key: str, t: ast.Target, cl: dict[str, ast.Clause], reb: ir.Rebalance) -> ir.Target | None:
        assert t.value is not None
        hedges = self._hedges(key, cl, required=True, span=t.head_span)
        v = lower_value(t.value, self.rd.cx)
        if v is None:
            return None
        asset = v.dim.asset
        unders = {self.insts[h].asset.text for h in hedges} or {
            i.asset.text for i in self.insts.values() if i.kind != "cash"}
        if asset is None or v.const is None:
            self.rd.sink.emit("E301", "a delta target is an amount of the underlying or its value",
                              t.value.span, "e.g. `target delta 0 ETH` or `target delta 5000 USD`")
            return None
        underlying = asset if asset in {i.asset.text for i in self.insts.values()} else (
            sorted(unders)[0] if len(unders) == 1 else None)
        if underlying is None:
            self.rd.sink.emit("E303", f"cannot tell which underlying's delta {asset} refers to",
                              t.value.span, "write the target in the underlying, e.g. `0 ETH`")
            return None
        band = self._band(key, self._band_clause(cl), Dim.of(asset), v.const, allow_optimal=True)
        return ir.DeltaTarget.model_construct(asset=underlying, unit=asset, value=norm(v.const), band=band,
                              hedge=hedges, rebalance=reb)

    def _greek(self, key: str, t: ast.Target, cl: dict[str, ast.Clause], reb: ir.Rebalance) -> ir.Target | None:
        assert t.lo is not None and t.hi is not None
        hedges = self._hedges(key, cl, required=True, span=t.head_span)
        lo, hi = lower_value(t.lo, self.rd.cx), lower_value(t.hi, self.rd.cx)
        if lo is None or hi is None:
            return None
        if "band" in cl:
            self.rd.sink.emit("E207", f"a {t.kind} target is a range already; `band` does not apply",
                              cl["band"].span, "widen `within LO to HI` instead")
        unit = lo.dim.asset
        if unit is None or hi.dim != lo.dim or lo.const is None or hi.const is None:
            self.rd.sink.emit("E301", f"{t.kind} limits must be constant amounts of one currency",
                              t.head_span, f"e.g. `target {t.kind} within -5000 USD to 5000 USD`")
            return None
        if lo.const >= hi.const:
            self.rd.sink.emit("E401", "the lower limit is not below the upper limit", t.head_span)
            return None
        unders = sorted({self.insts[h].asset.text for h in hedges}) or sorted(
            {i.asset.text for i in self.insts.values() if i.kind == "option"})
        return ir.GreekTarget.model_construct(greek=t.kind, asset=unders[0] if unders else "", unit=unit,  # type: ignore[arg-type]
                              lower=norm(lo.const), upper=norm(hi.const), hedge=hedges, rebalance=reb)

    def _weights(self, key: str, t: ast.Target, reb: ir.Rebalance) -> ir.Target | None:
        legs: list[ir.WeightLeg] = []
        seen: set[str] = set()
        for w in t.weights:
            name = w.name.text
            lk = f"{key}.legs[{name}]"
            self.spans[lk] = w.span
            if name not in self.insts:
                self.rd.undefined(name, list(self.insts), "instrument", w.name.span)
                continue
            if name in seen:
                self.rd.sink.emit("E202", f"`{name}` has two weights", w.span)
                continue
            seen.add(name)
            if name not in self.owned:
                self.rd.sink.emit("E211", f"`{name}` is not owned, so its weight cannot be traded",
                                  w.name.span, "add it to `owns`")
            wt = self.rd.ratio(w.weight, "a weight", w.span, lo=-10.0, hi=10.0)
            if wt is None:
                continue
            band = self._band(lk, w.band, RATIO, wt, allow_optimal=False)
            legs.append(ir.WeightLeg.model_construct(instrument=name, weight=wt, band=band))
        if not t.weights:
            self.rd.sink.emit("E208", "a weights target lists no instruments", t.head_span,
                              "add lines like `BTC_PERP 60% band 5%`")
            return None
        return ir.WeightsTarget.model_construct(legs=tuple(legs), rebalance=reb)

    def _leverage(self, key: str, t: ast.Target, cl: dict[str, ast.Clause], reb: ir.Rebalance) -> ir.Target | None:
        assert t.value is not None
        hedges = self._hedges(key, cl, required=True, span=t.head_span)
        v = self.rd.ratio(t.value, "a leverage target", t.head_span, lo=-100.0, hi=100.0)
        band = self._band(key, self._band_clause(cl), RATIO, v, allow_optimal=False)
        if v is None:
            return None
        return ir.LeverageTarget.model_construct(value=v, band=band, hedge=hedges, rebalance=reb)

    def _cppi(self, key: str, t: ast.Target, cl: dict[str, ast.Clause], reb: ir.Rebalance) -> ir.Target | None:
        def one(k: str) -> ast.Clause | None:
            if k not in cl:
                self.rd.sink.emit("E208", f"a cppi target needs `{words(k)}`", t.head_span)
                return None
            return cl[k]

        risky, safe, floor, mult = (one(k) for k in ("cppi_risky", "cppi_safe", "cppi_floor",
                                                     "cppi_multiplier"))
        names: list[str | None] = []
        for c in (risky, safe):
            if c is None:
                names.append(None)
                continue
            n = self.rd.name(c.args[0], list(self.insts), "instrument", c.span)
            if n is not None and n not in self.owned:
                self.rd.sink.emit("E211", f"`{n}` is not owned, so CPPI cannot trade it", c.span,
                                  "add it to `owns`")
            names.append(n)
            self.spans[f"{key}.{words(c.key)}"] = c.span
        fl = self.rd.ratio(floor.args[0], "the floor", floor.span, lo=0.0, hi=1.0) if floor else None
        m = self.rd.ratio(mult.args[0], "the multiplier", mult.span, lo=0.0, hi=100.0) if mult else None
        band = self._band(key, self._band_clause(cl), RATIO, None, allow_optimal=False)
        if None in names or fl is None or m is None:
            return None
        return ir.CppiTarget.model_construct(risky=names[0], safe=names[1], floor=fl, multiplier=m, band=band,  # type: ignore[arg-type]
                             rebalance=reb)
