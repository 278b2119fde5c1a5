"""The guard contract generated from a strategy's IR (``templates/Guard.vy.j2``).

The spec's limits become constants of a Vyper contract the vault asks before and after every
swap; addresses (vault, router, tokens, oracles, pairs) are constructor arguments, so the same
source, with the same hash, guards a mainnet vault and its local rehearsal. What the guard
enforces and what it cannot comes from :func:`rebal.compiler.guard_coverage.guard_coverage`
(the same words ``rebal explain`` prints).

Public API: :func:`guard_model`, :func:`guard_source`, :func:`guard_sha256`,
:class:`GuardError`. The vault-facing ABI of every generated guard:
``check_swap(token_in, token_out, amount_in, amount_out_min, router) -> bool`` (view,
reverts ``Guard: <rule>``), ``check_intent(sell, buy, sell_amount, buy_amount, valid_to) ->
bool`` (view, the same envelope for a signed intent), ``after_swap(...)`` (vault only),
``set_paused(bool)`` (owner only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from rebal.compiler import ir
from rebal.compiler.canonical import canonical_json, content_hash
from rebal.compiler.guard_coverage import guard_coverage, guard_halt

__all__ = ["GuardError", "GuardModel", "RiskyToken", "guard_model", "guard_sha256",
           "guard_source"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
WAD = Decimal(10) ** 18


class GuardError(Exception):
    """The strategy cannot be guarded on this venue (the message says why)."""


def wad(x: Decimal | float | int) -> int:
    return int((Decimal(str(x)) * WAD).to_integral_value())


@dataclass
class RiskyToken:
    symbol: str          # the instrument (WETH)
    asset: str           # its underlying, priced by the oracle (ETH)
    split_units_wad: int = 0
    max_position_wad: int = 0
    max_position_value_wad: int = 0


@dataclass
class GuardModel:
    """Everything the template needs, in integers (WAD = 1e18 fixed point, seconds, wei)."""

    strategy: str
    venue: str
    ir_hash: str
    quote: str
    risky: list[RiskyToken]
    enforced: list[str]
    unenforced: list[str]
    target: str = "weights"          # weights | cppi
    slippage_wad: int = 0
    pool_fee_wad: int = 3 * 10**15  # Uniswap V2's 0.3%
    max_gas_wei: int = 0
    price_age_s: int = 0
    deviation_wad: int = 0
    min_trade_wad: int = 0
    split_notional_wad: int = 0
    split_every_s: int = 0
    cooldown_s: int = 0
    every_s: int = 0
    on_breach: bool = True
    max_notional_wad: int = 0
    max_orders: int = 0
    orders_per_s: int = 0
    centers_wad: list[int] = field(default_factory=list)
    bands_wad: list[int] = field(default_factory=list)
    bands_relative: list[bool] = field(default_factory=list)
    has_target: list[bool] = field(default_factory=list)
    cppi_risky: int = 0
    floor_value_wad: int = 0
    multiplier_wad: int = 0
    cppi_band_wad: int = 0
    cppi_band_relative: bool = False

    @property
    def tokens(self) -> list[str]:
        """Token order of the constructor: the numeraire first, then the risky tokens."""
        return [self.quote, *(r.symbol for r in self.risky)]


def _band(band: ir.Band | None) -> tuple[int, bool]:
    if band is None:
        return 0, False
    if isinstance(band, ir.SymmetricBand) and isinstance(band.width, ir.Const):
        return wad(band.width.value), band.relative
    raise GuardError("the guard needs a constant symmetric band (an expression band or an "
                     "asymmetric one is checked by the keeper only)")


def _venue(strategy: ir.Strategy, venue: str) -> ir.Venue:
    for v in strategy.venues:
        if v.name == venue:
            if v.backend not in ("keeper", "solver"):
                raise GuardError(f"venue `{venue}` is a {v.backend} venue; a guard protects "
                                 "an on-chain vault (keeper or solver)")
            return v
    names = ", ".join(v.name for v in strategy.venues) or "none"
    raise GuardError(f"strategy {strategy.name} has no venue `{venue}` (venues: {names})")


def guard_model(strategy: ir.Strategy, venue: str) -> GuardModel:
    """The guard's constants for ``strategy`` on ``venue``; raises :class:`GuardError`."""
    _venue(strategy, venue)
    quote_inst = [i for i in strategy.instruments
                  if i.kind == "cash" and i.underlying == strategy.numeraire]
    if not quote_inst:
        raise GuardError(f"the vault needs a cash token in the numeraire {strategy.numeraire}")
    quote = quote_inst[0].name
    risky = [RiskyToken(i.name, i.underlying) for i in strategy.instruments
             if i.kind == "spot" and (not strategy.owns or i.name in strategy.owns)]
    if not risky:
        raise GuardError("the vault holds no risky token (a spot instrument) to rebalance")
    bad = [i.name for i in strategy.instruments if i.kind not in ("spot", "cash")]
    if bad:
        raise GuardError(f"a vault holds tokens only; {', '.join(bad)} cannot be guarded")
    cov = guard_coverage(strategy)
    m = GuardModel(strategy=strategy.name, venue=venue,
                   ir_hash=content_hash(canonical_json(strategy)), quote=quote, risky=risky,
                   enforced=cov.enforced, unenforced=cov.unenforced)
    c, r, t = strategy.costs, strategy.risk, strategy.trigger
    m.slippage_wad = wad(c.max_slippage or 0)
    m.max_gas_wei = int(Decimal(c.max_gas_gwei or 0) * 10**9)
    age, dev = guard_halt(strategy, "price_age"), guard_halt(strategy, "oracle_deviation")
    m.price_age_s = int(age) if age is not None else 0
    m.deviation_wad = wad(dev) if dev is not None else 0
    if c.min_trade is not None and c.min_trade.asset == strategy.numeraire:
        m.min_trade_wad = wad(c.min_trade.value)
    if c.split is not None:
        m.split_every_s = int(c.split.every_s)
        if c.split.size.asset == strategy.numeraire:
            m.split_notional_wad = wad(c.split.size.value)
        for tok in risky:
            if c.split.size.asset in (tok.asset, tok.symbol):
                tok.split_units_wad = wad(c.split.size.value)
    m.cooldown_s = int(t.cooldown_s)
    m.every_s = int(t.every.value) if isinstance(t.every, ir.Const) else 0
    m.on_breach = t.on_breach
    if r.max_notional is not None and r.max_notional.asset == strategy.numeraire:
        m.max_notional_wad = wad(r.max_notional.value)
    for pl in r.max_position:
        for tok in risky:
            if pl.instrument == tok.symbol:
                if pl.limit.asset == strategy.numeraire:
                    tok.max_position_value_wad = wad(pl.limit.value)
                else:
                    tok.max_position_wad = wad(pl.limit.value)
    if r.max_orders is not None:
        m.max_orders, m.orders_per_s = r.max_orders.count, int(r.max_orders.per_s)
    _targets(strategy, m)
    return m


def _targets(strategy: ir.Strategy, m: GuardModel) -> None:
    legs = m.tokens
    m.centers_wad = [0] * len(legs)
    m.bands_wad = [0] * len(legs)
    m.bands_relative = [False] * len(legs)
    m.has_target = [False] * len(legs)
    guarded = [t for t in strategy.targets if isinstance(t, ir.WeightsTarget | ir.CppiTarget)]
    if len(guarded) != 1 or len(strategy.targets) != 1:
        m.on_breach, m.every_s = True, 0  # no band to check: the keeper decides when
        return
    t = guarded[0]
    if isinstance(t, ir.CppiTarget):
        if t.safe != m.quote or t.risky not in legs:
            raise GuardError(f"the CPPI target's safe leg must be the numeraire token {m.quote}")
        if strategy.capital is None:
            raise GuardError("a CPPI guard needs `capital` (its floor is a fraction of it)")
        m.target = "cppi"
        m.cppi_risky = legs.index(t.risky)
        m.floor_value_wad = wad(t.floor * strategy.capital.value)
        m.multiplier_wad = wad(t.multiplier)
        m.cppi_band_wad, m.cppi_band_relative = _band(t.band)
        return
    for leg in t.legs:
        if leg.instrument not in legs:
            continue
        k = legs.index(leg.instrument)
        if leg.weight < 0:
            raise GuardError(f"a vault cannot hold a negative weight of {leg.instrument}")
        m.centers_wad[k] = wad(leg.weight)
        m.bands_wad[k], m.bands_relative[k] = _band(leg.band)
        m.has_target[k] = True


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                             undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True)
    env.filters["pybool"] = lambda b: "True" if b else "False"
    return env


def render(model: GuardModel) -> str:
    return _env().get_template("Guard.vy.j2").render(m=model)


def guard_source(strategy: ir.Strategy, venue: str) -> str:
    """The Vyper source of the guard for ``strategy`` on ``venue`` (deterministic)."""
    return render(guard_model(strategy, venue))


def guard_sha256(source: str) -> str:
    """The content hash recorded in plans (hex SHA-256 of the UTF-8 source)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def constructor_args(model: GuardModel, *, vault: str, router: str, tokens: dict[str, str],
                     oracles: dict[str, str], pairs: dict[str, str]) -> list[Any]:
    """The guard's constructor arguments in order, from symbol/asset -> address maps."""
    return [vault, router, tokens[model.quote], [tokens[r.symbol] for r in model.risky],
            [oracles[r.asset] for r in model.risky], [pairs[r.symbol] for r in model.risky]]
