"""Lower `venue NAME via BACKEND { ... }` bindings into typed venue configs."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from decimal import Decimal
from typing import Any, Literal

from rebal.dsl import ast
from rebal.dsl.diagnostics import Span

from . import ir
from .capabilities import VENUE_SETTINGS
from .lowering import ClauseReader, check_once, words
from .units import RATIO, SECONDS_PER_YEAR, norm

#: Settings each built-in backend accepts (one table, shared with the backends' declarations).
SETTINGS = VENUE_SETTINGS
_REPEATABLE = frozenset({"correlation", "funding", "oracle", "token"})
_STRAYS = ("adopt", "flatten", "halt")


def _env(cl: dict[str, ast.Clause], key: str) -> str | None:
    """The variable an `env NAME` setting names; None when absent or written as a literal
    (a literal credential or URL is refused by the `venue_secrets` rules: E804, E805)."""
    c = cl.get(key)
    if c is None or not c.args or not isinstance(c.args[0], ast.EnvRef):
        return None
    return c.args[0].var


def _str(v: ast.Value) -> str:
    if isinstance(v, ast.Str):
        return v.value
    if isinstance(v, ast.Name):
        return v.text
    if isinstance(v, ast.EnvRef):
        return v.var
    return ""


def lower_venue(rd: ClauseReader, v: ast.Venue, instruments: dict[str, ast.Instrument],
                spans: dict[str, Span], backends: Collection[str],
                used: frozenset[str] = frozenset()) -> ir.Venue | None:
    """Lower one venue; ``used`` names the instruments held or traded (they need prices)."""
    key = f"venues[{v.name.text}]"
    spans[key] = v.name.span
    spans[f"{key}.backend"] = v.backend.span
    backend = v.backend.text
    accepted = SETTINGS.get(backend)
    if backend not in backends:
        close = difflib.get_close_matches(backend, sorted(backends), n=1, cutoff=0.5)
        rd.sink.emit(
            "E205", f"`{backend}` is not an installed backend", v.backend.span,
            (f"did you mean `{close[0]}`? " if close else "")
            + "installed: " + ", ".join(sorted(backends)) + " (`rebal backends` lists them)",
        )
        return None
    symbols: dict[str, str] = {}
    for s in v.symbols:
        spans[f"{key}.symbols[{s.instrument.text}]"] = s.span
        if s.instrument.text not in instruments:
            rd.undefined(s.instrument.text, list(instruments), "instrument", s.instrument.span)
            continue
        if s.instrument.text in symbols:
            rd.sink.emit("E202", f"`{s.instrument.text}` is mapped twice in venue {v.name.text}", s.span)
            continue
        symbols[s.instrument.text] = s.symbol.value
    if accepted is not None:
        for c in v.clauses:
            if c.key not in accepted:
                rd.sink.emit("E802", f"`{words(c.key)}` is not a setting of the {backend} backend",
                             c.span, f"{backend} venues accept: "
                             + ", ".join(f"`{words(k)}`" for k in sorted(accepted)))
        if v.assets and backend != "sim":
            rd.sink.emit("E802", f"market parameters are settings of a sim venue, not {backend}",
                         v.assets[0].span)
    cl = check_once([c for c in v.clauses if accepted is None or c.key in accepted], rd.sink, _REPEATABLE)
    for k, c in cl.items():
        spans[f"{key}.{k}"] = c.span
    config: Any
    if backend == "sim":
        config = _sim(rd, v, cl, instruments, spans, key, used)
    elif backend == "ccxt":
        config = ir.CcxtConfig.model_construct(
            exchange=_str(cl["exchange"].args[0]) if "exchange" in cl else v.name.text,
            account_env=_env(cl, "account") or v.name.text.upper(),
            url_env=_env(cl, "url"),
            sandbox="sandbox" in cl,
            on_stray=_stray(rd, cl),
        )
    elif backend in ("keeper", "solver"):
        chain = rd.integer(cl["chain"].args[0], "the chain id", cl["chain"].span, lo=1) if "chain" in cl else None
        if chain is None:
            if "chain" not in cl:
                rd.sink.emit("E803", f"a {backend} venue needs `chain ID`", v.name.span, "e.g. `chain 1`")
            return None
        for c in v.clauses:
            if c.key == "token":
                symbols[_str(c.args[0])] = _str(c.args[1])
        if backend == "keeper":
            oracles = {_str(c.args[0]): _str(c.args[1]) for c in v.clauses if c.key == "oracle"}
            config = ir.KeeperConfig.model_construct(
                chain=chain,
                rpc_env=_env(cl, "rpc"),
                signer_env=_env(cl, "signer"),
                vault=_str(cl["vault"].args[0]) if "vault" in cl else None,
                router=_str(cl["router"].args[0]) if "router" in cl else None,
                oracles=oracles,
                on_stray=_stray(rd, cl),
                confirmations=(rd.integer(cl["confirmations"].args[0], "`confirmations`",
                                          cl["confirmations"].span, lo=1) or 1)
                if "confirmations" in cl else 1,
            )
        else:
            valid = (rd.duration(cl["valid_for"].args[0], "`valid for`", cl["valid_for"].span)
                     if "valid_for" in cl else None)
            config = ir.SolverConfig.model_construct(
                chain=chain,
                signer_env=_env(cl, "signer"),
                settlement=_str(cl["settlement"].args[0]) if "settlement" in cl else None,
                valid_for_s=valid if valid is not None else Decimal(600),
                rpc_env=_env(cl, "rpc"),
                vault=_str(cl["vault"].args[0]) if "vault" in cl else None,
                oracles={_str(c.args[0]): _str(c.args[1]) for c in v.clauses if c.key == "oracle"},
                on_stray=_stray(rd, cl),
            )
    else:
        if "on_stray" in cl:
            _stray(rd, cl)  # every live backend takes the same three answers
        config = ir.GenericConfig.model_construct(settings={
            c.key: " ".join(_str(a) for a in c.args) for c in v.clauses
        })
    if config is None:
        return None
    return ir.Venue.model_construct(name=v.name.text, backend=backend, symbols=symbols, config=config)


def _stray(rd: ClauseReader, cl: dict[str, ast.Clause]) -> Literal["adopt", "flatten", "halt"]:
    if "on_stray" not in cl:
        return "halt"
    val = _str(cl["on_stray"].args[0])
    if val not in _STRAYS:
        rd.sink.emit("E401", f"`on_stray {val}`: expected adopt, flatten or halt", cl["on_stray"].span)
        return "halt"
    return val  # type: ignore[return-value]


def _sim(rd: ClauseReader, v: ast.Venue, cl: dict[str, ast.Clause],
         instruments: dict[str, ast.Instrument], spans: dict[str, Span], key: str,
         used: frozenset[str]) -> ir.SimConfig | None:
    out: dict[str, Any] = {}
    if "model" in cl:
        c = cl["model"]
        name = _str(c.args[0])
        if name not in ("gbm", "jump", "heston", "replay"):
            rd.undefined(name, ["gbm", "jump", "heston", "replay"], "model", c.span)
        else:
            out["model"] = name
            if name == "replay":
                if len(c.args) < 2:
                    rd.sink.emit("E803", "`model replay` needs a CSV file", c.span,
                                 'e.g. `model replay "data/eth_1h.csv"`')
                else:
                    out["replay_file"] = _str(c.args[1])
    assets: list[ir.SimAsset] = []
    declared = {i.asset.text for i in instruments.values()} | {
        i.settle.text for i in instruments.values() if i.settle is not None}
    for ap in v.assets:
        spans[f"{key}.assets[{ap.asset.text}]"] = ap.span
        if ap.asset.text not in declared:
            rd.undefined(ap.asset.text, sorted(declared), "asset", ap.asset.span)
            continue
        spot = rd.amount(ap.spot, f"the spot of {ap.asset.text}", ap.span)
        a: dict[str, Any] = {}
        for o in ap.options:
            name = words(o.key)
            spans[f"{key}.assets[{ap.asset.text}].{o.key.removeprefix('opt_')}"] = o.span
            if o.key == "opt_jumps":
                n = rd.const(o.args[0], RATIO, "the jump count", o.span)
                per = rd.duration(o.args[1], "the jump period", o.span)
                size = rd.ratio(o.args[2], "the jump size", o.span, lo=-1.0, hi=10.0)
                if n is not None and per is not None and size is not None:
                    a["jump_intensity"] = norm(n[0] * SECONDS_PER_YEAR / per)
                    a["jump_size"] = size
                continue
            lo, hi = {"opt_vol": (0.0, 10.0), "opt_drift": (-10.0, 10.0), "opt_vol_of_vol": (0.0, 10.0),
                      "opt_mean_reversion": (0.0, 1000.0), "opt_vol_correlation": (-1.0, 1.0)}[o.key]
            val = rd.ratio(o.args[0], f"`{name}`", o.span, lo=lo, hi=hi)
            if val is not None:
                a[o.key.removeprefix("opt_")] = val
        if spot is not None:
            assets.append(ir.SimAsset.model_construct(asset=ap.asset.text, quote=spot.asset, spot=spot.value, **a))
    out["assets"] = tuple(assets)
    priced = {a.asset for a in assets} | {ap.asset.text for ap in v.assets}
    quotes = {a.quote for a in assets}
    held = [i for n, i in instruments.items() if n in used and i.kind != "cash"]
    for asset in sorted({i.asset.text for i in held}):
        if asset not in priced and asset not in quotes:
            rd.sink.emit(
                "E803", f"venue `{v.name.text}` gives no price for {asset}", v.name.span,
                f"add a line like `{asset} spot 100 USD vol 50%` to the venue",
            )
    corr: list[ir.Correlation] = []
    fund: list[ir.FundingRate] = []
    for c in v.clauses:
        if c.key == "correlation":
            spans[f"{key}.correlations[{len(corr)}]"] = c.span
            names = [rd.name(x, [s.asset for s in assets], "sim asset", c.span) for x in c.args[:2]]
            rho = rd.ratio(c.args[2], "the correlation", c.span, lo=-1.0, hi=1.0)
            if None not in names and rho is not None:
                corr.append(ir.Correlation.model_construct(a=names[0], b=names[1], rho=rho))  # type: ignore[arg-type]
        elif c.key == "funding":
            inst = rd.name(c.args[0], [n for n, i in instruments.items() if i.kind == "perp"],
                           "perpetual", c.span)
            r = rd.ratio(c.args[1], "the funding rate", c.span, lo=-10.0, hi=10.0)
            per = rd.duration(c.args[2], "the funding period", c.span)
            if inst is not None and r is not None and per is not None:
                fund.append(ir.FundingRate.model_construct(instrument=inst, rate_per_year=norm(r * SECONDS_PER_YEAR / per)))
    out["correlations"], out["funding"] = tuple(corr), tuple(fund)
    simple = {"fee": (0.0, 1.0), "slippage": (0.0, 1.0), "maintenance_margin": (0.0, 1.0),
              "rate": (-1.0, 1.0)}
    for k, (lo, hi) in simple.items():
        if k in cl:
            val = rd.ratio(cl[k].args[0], f"`{words(k)}`", cl[k].span, lo=lo, hi=hi)
            if val is not None:
                out[k] = val
    if "impact" in cl:
        c = cl["impact"]
        r = rd.ratio(c.args[0], "the impact", c.span)
        amt = rd.amount(c.args[1], "the impact size", c.span)
        if r is not None and amt is not None:
            out["impact"] = ir.Rate.model_construct(value=norm(r / amt.value), asset=amt.asset, per_s=Decimal(1))
    if "gas" in cl:
        c = cl["gas"]
        g = rd.gas(c.args[0], "the gas price", c.span)
        gas_used = rd.integer(c.args[1], "gas_used", c.span, lo=1)
        if g is not None and gas_used is not None:
            out["gas_price_gwei"], out["gas_used"] = g, gas_used
    if "start_date" in cl:
        d = cl["start_date"].args[0]
        if isinstance(d, ast.DateLit):
            out["start"] = d.value
    for k, what in (("horizon", "the horizon"), ("step", "the step")):
        if k in cl:
            val = rd.duration(cl[k].args[0], what, cl[k].span)
            if val is not None:
                out[f"{k}_s"] = val
    if "paths" in cl:
        p = rd.integer(cl["paths"].args[0], "paths", cl["paths"].span, lo=1)
        if p is not None:
            out["paths"] = p
    if "seed" in cl:
        s = rd.integer(cl["seed"].args[0], "the seed", cl["seed"].span, lo=0)
        if s is not None:
            out["seed"] = s
    if "collateral" in cl:
        _collateral(rd, cl["collateral"], instruments, [a.asset for a in assets], out)
    h, st = out.get("horizon_s", Decimal(30 * 86400)), out.get("step_s", Decimal(3600))
    if st > h:
        rd.sink.emit("E401", "the step is longer than the horizon", cl["step"].span if "step" in cl else v.span)
    return ir.SimConfig.model_construct(**out)


def _collateral(rd: ClauseReader, c: ast.Clause, instruments: dict[str, ast.Instrument],
                priced: list[str], out: dict[str, Any]) -> None:
    """`collateral ASSET`: a priced asset that some derivative settles in (the coin margin of
    a coin-margined account); the simulator holds the capital in it."""
    coin = rd.name(c.args[0], priced, "sim asset", c.span)
    if coin is None:
        return
    settled = sorted({i.settle.text for i in instruments.values()
                      if i.settle is not None and i.settle.text == coin})
    if not settled:
        rd.sink.emit("E801", f"`collateral {coin}`: no instrument settles in {coin}, so no "
                     f"account margins in it", c.span,
                     f"a coin-margined account holds the coin its contracts settle in: add "
                     f"`settle {coin}` to the {coin} perps, futures or options, or remove "
                     "`collateral`")
        return
    out["collateral"] = coin
