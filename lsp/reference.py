"""What each word of the language means, for hover: one line per word, from docs/language.md.

Keyed by the word as written; each entry gives its meaning and the section of the language
reference that says more. A test checks that every keyword of the grammar, every function,
name and unit has an entry, so the table cannot fall behind the grammar.
"""

from __future__ import annotations

from dataclasses import dataclass

from rebal.compiler.functions import TABLE as FUNCTION_TABLE

REFERENCE_PAGE = "docs/language.md"


@dataclass(frozen=True)
class Entry:
    """A word's meaning and the reference section (``§5.4 trigger``) that explains it."""

    meaning: str
    section: str


def _e(section: str, **words: str) -> dict[str, Entry]:
    return {w.rstrip("_"): Entry(m, section) for w, m in words.items()}


WORDS: dict[str, Entry] = {
    **_e("§4 File structure",
         strategy="`strategy NAME { ... }`: one rebalancing strategy: what exposure to keep, how far "
                  "it may drift, when to act, what it may cost and what must never happen.",
         policy="`policy NAME { ... }`: a house policy, checked against strategies with "
                "`rebal check --policy FILE`.",
         description='`description "..."`: a sentence shown by `rebal explain`.',
         capital="`capital QTY`: starting equity (simulation); live backends read equity from "
                 "the venue. Risk checks on leverage, drawdown or a liquidation buffer need it."),
    **_e("§5.1 instruments",
         instruments="`instruments { ... }`: what exists: one line `NAME KIND ASSET ...` per "
                     "instrument.",
         spot="`NAME spot ASSET` (an instrument): a spot holding; `spot(ASSET)` (a function): "
              "the asset's price in the numeraire, > 0.",
         cash="`NAME cash ASSET`: a cash or stable holding (the numeraire leg).",
         perp="`NAME perp ASSET [settle ASSET]`: a perpetual swap; settles in USD by default.",
         future="`NAME future ASSET expiry DATE [settle ASSET]`: a dated future.",
         option="`NAME option ASSET call|put strike QTY expiry DATE`: a European option; "
                "the strike is an amount of the settle asset.",
         call="A call option (`option ETH call strike 3000 USD ...`).",
         put="A put option (`option ETH put strike 2800 USD ...`).",
         strike="`strike QTY`: an option's strike, an amount of its settle asset.",
         expiry="`expiry DATE`: the expiry of a future or an option (YYYY-MM-DD, UTC).",
         settle="`settle ASSET`: the asset a perp, future or option settles in (default USD)."),
    **_e("§5.2 book and owns",
         book="`book { NAME QTY ... }`: positions this strategy hedges but never trades, in "
              "units of the underlying (negative is short).",
         owns="`owns A, B`: the only instruments the strategy may place orders in (its hedges)."),
    **_e("§5.3 Targets",
         target="`target KIND ... { ... }`: what to keep: delta, gamma/vega/theta within a "
                "range, weights, leverage or cppi.",
         delta="`target delta QTY`: keep the portfolio's delta at QTY; as a value, the managed "
               "portfolio's delta (in the underlying, or valued in a currency when compared "
               "with one).",
         gamma="The change of the USD delta for a 1% move of spot (Γ·S²/100); "
               "`target gamma within LO to HI` keeps it in a range.",
         vega="The portfolio's vega, per one volatility point; `target vega within LO to HI`.",
         theta="The portfolio's theta, per day; `target theta within LO to HI`.",
         within="`within LO to HI`: the range a greek target keeps (rebalances to its edge).",
         weights="`target weights { I P% band B ... }`: signed fractions of equity per "
                 "instrument.",
         leverage="`target leverage Nx`: net exposure over equity kept at N; as a value, gross "
                  "delta-equivalent exposure over equity; `max leverage Nx` limits it.",
         cppi="`target cppi { risky I; safe I; floor P%; multiplier N; band B }`: constant "
              "proportion portfolio insurance.",
         risky="`risky I`: the CPPI's risky instrument.",
         safe="`safe I`: the CPPI's safe instrument.",
         floor="`floor P%`: the CPPI floor, a fraction of `capital`.",
         multiplier="`multiplier N`: the CPPI multiplier: risky value = N × max(equity − floor, 0).",
         band="`band W` (symmetric), `band LO to HI` (absolute levels), `band W relative`, "
              "`band EXPR` or `band optimal(risk_aversion R)`: how far a target may drift "
              "before `on breach` acts.",
         relative="`band W relative`: the band is a fraction of the target, not an amount.",
         optimal="`band optimal(risk_aversion R)`: the Whalley–Wilmott asymptotic no-trade band.",
         risk_aversion="`risk_aversion R`: γ of the Whalley–Wilmott optimal band.",
         hedge="`hedge with I, ...`: the owned instruments a target trades.",
         with_="`hedge with I, ...`: the owned instruments a target trades.",
         rebalance="`rebalance to center|edge`: where a trade goes (default: center; greek "
                   "targets: edge).",
         to="`rebalance to ...`, `band LO to HI`, `within LO to HI`.",
         center="`rebalance to center`: trade back to the target.",
         edge="`rebalance to edge`: trade only back to the nearest band edge.",
         recenter="`recenter P%`: trade P% of the way from the current value to the target."),
    **_e("§5.4 trigger",
         trigger="`trigger { ... }`: when to act: `on breach`, `every DURATION`, `cooldown "
                 "DURATION` (combined with OR; the cooldown applies to all).",
         on="`on breach`: act when any target is outside its band.",
         breach="`on breach`: act when any target is outside its band.",
         every="`every DURATION`: act at least this often; an expression is allowed if its "
               "range stays above zero. In `split QTY every D`: one child order per D.",
         cooldown="`cooldown DURATION`: never act twice within this time (`0s` allowed)."),
    **_e("§5.5 costs",
         costs="`costs { ... }`: what trading may cost: slippage, fees, gas, dust, splitting, "
               "budgets, funding.",
         max="`max slippage|fee|gas|gas cost|funding|leverage|position|notional|orders ...`: a "
             "limit; `max(a, b, ...)` (a function): the largest of its arguments.",
         min="`min trade QTY`: skip smaller trades; `min(a, b, ...)` (a function): the smallest "
             "of its arguments.",
         slippage="`max slippage R`: worst price vs. mid for any order (orders are limit/IOC at "
                  "that price); in a sim venue, the one-way slippage modelled.",
         fee="`max fee R`: refuse venues or order types charging more; in a sim venue, the "
             "one-way fee modelled.",
         gas="`max gas G gwei`, `max gas cost QTY`: on-chain limits; in a sim venue, `gas G "
             "gwei gas_used N`.",
         cost="`max gas cost QTY`: skip a rebalance whose gas costs more.",
         trade="`min trade QTY`: skip smaller trades (dust).",
         split="`split QTY every DURATION`: child orders of at most QTY, one per DURATION (TWAP).",
         budget="`budget QTY per DURATION`: a rolling cap on fees + slippage + gas.",
         funding="`max funding R per DURATION`: refuse to open perp exposure paying more; "
                 "`funding(I)` (a function): the funding rate; in a sim venue `funding I R per D`.",
         per="`QTY per DURATION`: a rate (`30% per 1y`, `500 USD per 1d`)."),
    **_e("§5.6 risk",
         risk="`risk { ... }`: what must never happen: leverage, liquidation buffer, positions, "
              "notional, order rate, halts.",
         liquidation="`liquidation buffer P%`: after every trade, price must be able to move P% "
                     "before liquidation.",
         buffer="`liquidation buffer P%`: after every trade, price must be able to move P% "
                "before liquidation.",
         position="`max position I QTY`: per instrument, long or short.",
         notional="`max notional QTY`: gross notional limit.",
         orders="`max orders N per DURATION`: order rate limit.",
         halt="`halt when COND`: stop trading and alert; only an operator resumes.",
         when="`halt when COND`, `mode NAME when COND`: a condition.",
         and_="`a and b`: both conditions hold.",
         or_="`a or b`: either condition holds.",
         not_="`not c`: the condition does not hold."),
    **_e("§5.7 mode",
         mode="`mode NAME when COND { ... }`: overrides trigger and cost settings while COND "
              "holds (risk limits cannot be changed by a mode)."),
    **_e("§5.8 venue",
         venue="`venue NAME via BACKEND { ... }`: binds the strategy to one place to trade or "
               "simulate.",
         via="`via BACKEND`: the backend of a venue: sim, ccxt, keeper, solver or a plugin.",
         env="`env NAME`: an environment variable holding a secret (never written in a spec).",
         model="`model gbm|jump|heston` or `model replay \"file.csv\"`: the sim market model.",
         vol="`vol R`: an asset's annual volatility in a sim venue.",
         drift="`drift R`: an asset's annual drift in a sim venue.",
         vol_of_vol="`vol_of_vol R`: Heston volatility of variance.",
         mean_reversion="`mean_reversion N`: Heston mean-reversion speed.",
         vol_correlation="`vol_correlation R`: Heston correlation of price and variance shocks.",
         jumps="`jumps N per D size P%`: Merton jumps in a sim venue.",
         size="`jumps N per D size P%`: the jump size.",
         correlation="`correlation A B r`: correlation of two assets' shocks, in [-1, 1].",
         impact="`impact R per QTY`: extra slippage per amount traded (sim).",
         maintenance="`maintenance margin P%`: margin below which positions are liquidated (sim).",
         margin="`maintenance margin P%`: margin below which positions are liquidated (sim).",
         gas_used="`gas G gwei gas_used N`: gas per rebalance (sim).",
         rate="`rate R`: the risk-free rate per year (sim: cash interest, option pricing).",
         start="`start DATE`: the first day of a simulation (default: today, UTC).",
         horizon="`horizon D step D paths N`: run length, time step and number of paths (sim).",
         step="`step D`: the simulation time step.",
         paths="`paths N`: the number of Monte Carlo paths.",
         seed="`seed N`: the random seed of a simulation.",
         collateral="`collateral ASSET`: the simulated account holds its capital in ASSET "
                    "(a coin-margined account), as Deribit holds ETH.",
         exchange='`exchange "id"`: the ccxt exchange id (default: the venue\'s name).',
         account="`account env NAME`: the environment variable naming the account credentials.",
         on_stray="`on_stray adopt|flatten|halt`: what to do on start with positions the strategy "
                  "did not open (default halt).",
         chain="`chain ID`: the EVM chain id of a keeper or solver venue.",
         rpc="`rpc env NAME`: the environment variable holding the node URL.",
         signer="`signer env NAME`: the environment variable holding the signing key.",
         vault='`vault "0x..."`: the keeper\'s vault contract.',
         router='`router "0x..."`: the AMM router a keeper trades through.',
         oracle='`oracle ASSET "0x..."`: a price oracle of a keeper venue.',
         token='`token NAME "0x..."`: a token address (added to the symbol map).',
         settlement='`settlement "0x..."`: the solver\'s settlement contract.',
         valid="`valid for DURATION`: how long a solver intent stays valid (default 10m).",
         for_="`valid for DURATION`: how long a solver intent stays valid."),
    **_e("§5.9 policy",
         require="`require ...`: a clause a strategy must have (`require halt when drawdown`).",
         allowed="`venues allowed a, b`, `backends allowed sim, ccxt`: what a strategy may bind.",
         venues="`venues allowed a, b, ...`: venue names a strategy may bind.",
         backends="`backends allowed sim, ccxt, ...`: backends a strategy may use."),
}

#: The built-in functions' sentences come from the one table (`compiler/functions.py`).
FUNCTIONS: dict[str, Entry] = {
    f.name: Entry(f"`{f.signature}`: {f.doc}", "§3.2 Functions") for f in FUNCTION_TABLE
}

NAMES: dict[str, Entry] = _e(
    "§3.3 Names",
    delta="`delta`: the managed portfolio's delta, in the underlying (or valued in the currency "
          "it is compared with).",
    gamma="`gamma`: the change of the USD delta for a 1% move of spot, in the numeraire.",
    vega="`vega`: the portfolio's vega per volatility point, in the numeraire.",
    theta="`theta`: the portfolio's theta per day, in the numeraire.",
    leverage="`leverage`: gross delta-equivalent exposure over equity, Σ|delta × spot| / equity.",
    drawdown="`drawdown`: the fall of equity from its running peak, in [0, 1].",
    equity="`equity`: `capital` plus P&L in simulation; the venue's equity live.",
    price_age="`price_age`: the age of the newest price used, a duration.",
    oracle_deviation="`oracle_deviation`: the relative gap between the oracle and the venue's "
                     "price.",
)

UNITS: dict[str, Entry] = _e(
    "§2 Quantities and units",
    bps="`bps`: basis points, a ratio: `20 bps` is 0.002.",
    x="`x`: a multiple, a ratio: `3x` is 3.",
    s="`s`: seconds.",
    m="`m`: minutes.",
    h="`h`: hours.",
    d="`d`: days.",
    w="`w`: weeks.",
    y="`y`: years of 365 days.",
    gwei="`gwei`: a gas price.",
)
UNITS["%"] = Entry("`%`: percent, a ratio: `60%` is 0.6.", "§2 Quantities and units")


def lookup(word: str, *, after_number: bool = False) -> Entry | None:
    """The meaning of ``word``; a unit first when it follows a number (`8h`, `20 bps`)."""
    if after_number and word in UNITS:
        return UNITS[word]
    return WORDS.get(word) or NAMES.get(word) or FUNCTIONS.get(word) or UNITS.get(word)


__all__ = ["FUNCTIONS", "NAMES", "REFERENCE_PAGE", "UNITS", "WORDS", "Entry", "lookup"]
