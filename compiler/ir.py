"""The typed, versioned intermediate representation (IR) of a strategy or policy.

Every model is frozen, forbids extra fields and is discriminated by a ``kind`` literal where
it is one of several. Limits and money are ``Decimal``. Units are normalised on the way in:

* ratios are fractions (``60%`` -> 0.6, ``20 bps`` -> 0.002, ``3x`` -> 3);
* durations are seconds;
* gas prices are gwei;
* amounts of an asset are :class:`Amount` (value and asset symbol);
* rates ``Q per D`` are :class:`Rate` (amount per ``per_s`` seconds).

The IR holds no file path and no source position, so moving or reformatting a file never
changes it. Defaults are filled in and explicit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .functions import NAMES as FUNCTION_NAMES

#: 1.1: an option's strike names its own currency (`strike_currency`, apart from `settle`);
#: ccxt venues carry `url_env` and `sandbox` and always name their account variable;
#: solver venues carry `on_stray`. 1.2: sim venues carry `collateral`.
IR_VERSION: Literal["1.2"] = "1.2"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


# ------------------------------------------------------------------ expressions


class Const(_Model):
    """A literal, normalised: `unit` is the canonical dimension ('' for a pure ratio)."""

    kind: Literal["const"] = "const"
    value: Decimal
    unit: str = Field(description="Canonical unit: '' ratio, 's' seconds, 'gwei', an asset symbol, or products like 'USD/s'.")


class Ref(_Model):
    """A portfolio or market quantity read at evaluation time."""

    kind: Literal["ref"] = "ref"
    name: Literal[
        "delta", "gamma", "vega", "theta", "leverage", "drawdown", "equity", "price_age",
        "oracle_deviation",
    ]
    unit: str = Field(description="Unit the value is expressed in (e.g. 'ETH' or 'USD' for delta).")
    asset: str | None = Field(default=None, description="Underlying for greeks.")


class Call(_Model):
    """A built-in function. Market functions name their asset or instrument in `symbol`."""

    kind: Literal["call"] = "call"
    fn: str = Field(description="A built-in function (the table in `compiler/functions.py`).",
                    json_schema_extra={"enum": list(FUNCTION_NAMES)})
    args: tuple[Expr, ...] = ()
    symbol: str | None = None
    window_s: Decimal | None = Field(default=None, description="realized_vol window, seconds.")
    unit: str

    @field_validator("fn")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in FUNCTION_NAMES:
            raise ValueError(f"unknown function {name!r}; functions are {', '.join(FUNCTION_NAMES)}")
        return name


class BinOp(_Model):
    kind: Literal["binop"] = "binop"
    op: Literal["+", "-", "*", "/"]
    left: Expr
    right: Expr
    unit: str


class Neg(_Model):
    kind: Literal["neg"] = "neg"
    operand: Expr
    unit: str


class Compare(_Model):
    kind: Literal["compare"] = "compare"
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    left: Expr
    right: Expr


class BoolOp(_Model):
    kind: Literal["bool"] = "bool"
    op: Literal["and", "or"]
    left: Expr
    right: Expr


class Not(_Model):
    kind: Literal["not"] = "not"
    operand: Expr


Expr = Annotated[
    Const | Ref | Call | BinOp | Neg | Compare | BoolOp | Not, Field(discriminator="kind")
]

for _m in (Call, BinOp, Neg, Compare, BoolOp, Not):
    _m.model_rebuild()


class Amount(_Model):
    """An amount of one asset."""

    value: Decimal
    asset: str


class Rate(_Model):
    """`amount per period`: a fraction (asset None) or an asset amount per `per_s` seconds."""

    value: Decimal
    asset: str | None = None
    per_s: Decimal


class Interval(_Model):
    """A closed range computed by interval arithmetic; None is unbounded."""

    lo: Decimal | None
    hi: Decimal | None


# ------------------------------------------------------------------ instruments


class Instrument(_Model):
    name: str
    kind: Literal["spot", "cash", "perp", "future", "option"]
    underlying: str = Field(description="Asset of one unit of the instrument.")
    settle: str = Field(description="Currency P&L and prices are in (the asset itself for spot/cash).")
    option_type: Literal["call", "put"] | None = None
    strike: Decimal | None = Field(default=None, description="In `strike_currency`.")
    strike_currency: str | None = Field(
        default=None, description="Currency the strike is written in (USD for a Deribit option "
        "settled in ETH); the numeraire or a par currency, so the kernel reads it at face value.")
    expiry: dt.date | None = None


class BookPosition(_Model):
    instrument: str
    quantity: Decimal = Field(description="Units of the underlying; negative is short.")


# ------------------------------------------------------------------ bands and targets


class SymmetricBand(_Model):
    kind: Literal["symmetric"] = "symmetric"
    width: Expr = Field(description="Half-width, in the target's unit.")
    relative: bool = Field(default=False, description="Width is a fraction of the target.")
    range: Interval = Field(description="Range of the width by interval arithmetic.")


class AsymmetricBand(_Model):
    kind: Literal["asymmetric"] = "asymmetric"
    lower: Expr = Field(description="Absolute lower level, in the target's unit.")
    upper: Expr = Field(description="Absolute upper level, in the target's unit.")


class OptimalBand(_Model):
    """Whalley–Wilmott asymptotic no-trade band, in delta units of the underlying."""

    kind: Literal["optimal"] = "optimal"
    risk_aversion: Decimal


Band = Annotated[SymmetricBand | AsymmetricBand | OptimalBand, Field(discriminator="kind")]


class Rebalance(_Model):
    """Where a trade goes: center (fraction 1), edge, or recenter by `fraction`."""

    to: Literal["center", "edge", "recenter"] = "center"
    fraction: Decimal = Decimal(1)


class DeltaTarget(_Model):
    kind: Literal["delta"] = "delta"
    asset: str = Field(description="Underlying whose delta is managed.")
    unit: str = Field(description="The asset itself (units) or a currency (delta x spot).")
    value: Decimal
    band: Band | None
    hedge: tuple[str, ...]
    rebalance: Rebalance


class GreekTarget(_Model):
    """gamma (USD per 1% move), vega (per vol point) or theta (per day) kept within a range."""

    kind: Literal["greek"] = "greek"
    greek: Literal["gamma", "vega", "theta"]
    asset: str
    unit: str
    lower: Decimal
    upper: Decimal
    hedge: tuple[str, ...]
    rebalance: Rebalance


class WeightLeg(_Model):
    instrument: str
    weight: Decimal = Field(description="Fraction of equity (signed).")
    band: Band | None


class WeightsTarget(_Model):
    kind: Literal["weights"] = "weights"
    legs: tuple[WeightLeg, ...]
    rebalance: Rebalance


class LeverageTarget(_Model):
    """Net exposure of the hedge instruments over equity."""

    kind: Literal["leverage"] = "leverage"
    value: Decimal
    band: Band | None
    hedge: tuple[str, ...]
    rebalance: Rebalance


class CppiTarget(_Model):
    """Risky value = multiplier x max(equity - floor, 0), at most equity; rest in `safe`."""

    kind: Literal["cppi"] = "cppi"
    risky: str
    safe: str
    floor: Decimal = Field(description="Fraction of capital.")
    multiplier: Decimal
    band: Band | None = Field(description="In fractions of equity (percentage points).")
    rebalance: Rebalance


Target = Annotated[
    DeltaTarget | GreekTarget | WeightsTarget | LeverageTarget | CppiTarget,
    Field(discriminator="kind"),
]

# ------------------------------------------------------------------ trigger, costs, risk


class Trigger(_Model):
    on_breach: bool = False
    every: Expr | None = Field(default=None, description="Period in seconds.")
    cooldown_s: Decimal = Decimal(0)


class Split(_Model):
    size: Amount
    every_s: Decimal


class Costs(_Model):
    max_slippage: Decimal | None = Field(default=None, description="Fraction of mid.")
    max_fee: Decimal | None = None
    max_gas_gwei: Decimal | None = None
    max_gas_cost: Amount | None = None
    min_trade: Amount | None = None
    split: Split | None = None
    budget: Rate | None = None
    max_funding: Rate | None = Field(default=None, description="Funding rate fraction per period.")


class PositionLimit(_Model):
    instrument: str
    limit: Amount


class OrderLimit(_Model):
    count: int
    per_s: Decimal


class Risk(_Model):
    max_leverage: Decimal | None = None
    liquidation_buffer: Decimal | None = None
    max_position: tuple[PositionLimit, ...] = ()
    max_notional: Amount | None = None
    max_orders: OrderLimit | None = None
    halt_when: tuple[Expr, ...] = ()


class TriggerOverride(_Model):
    on_breach: bool | None = None
    every: Expr | None = None
    cooldown_s: Decimal | None = None


class Mode(_Model):
    """Overrides of costs and trigger while `when` holds; a None cost field keeps the base."""

    name: str
    when: Expr
    trigger: TriggerOverride
    costs: Costs


# ------------------------------------------------------------------ venues


class SimAsset(_Model):
    asset: str
    quote: str
    spot: Decimal
    vol: Decimal = Decimal("0.5")
    drift: Decimal = Decimal(0)
    vol_of_vol: Decimal | None = None
    mean_reversion: Decimal | None = None
    vol_correlation: Decimal | None = None
    jump_intensity: Decimal = Field(default=Decimal(0), description="Jumps per year.")
    jump_size: Decimal = Field(default=Decimal(0), description="Relative size of one jump.")


class Correlation(_Model):
    a: str
    b: str
    rho: Decimal


class FundingRate(_Model):
    instrument: str
    rate_per_year: Decimal = Field(description="Positive: longs pay shorts.")


class SimConfig(_Model):
    kind: Literal["sim"] = "sim"
    model: Literal["gbm", "jump", "heston", "replay"] = "gbm"
    replay_file: str | None = None
    assets: tuple[SimAsset, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    funding: tuple[FundingRate, ...] = ()
    fee: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)
    impact: Rate | None = Field(default=None, description="Extra slippage fraction per amount traded.")
    maintenance_margin: Decimal = Decimal(0)
    gas_price_gwei: Decimal | None = None
    gas_used: int | None = None
    rate: Decimal = Decimal(0)
    start: dt.date | None = Field(default=None, description="None: the day the run starts (UTC).")
    horizon_s: Decimal = Decimal(30 * 86400)
    step_s: Decimal = Decimal(3600)
    paths: int = 1000
    seed: int = 0
    collateral: str | None = Field(
        default=None, description="Asset the account holds `capital` in (a coin-margined "
        "exchange account, e.g. ETH on Deribit): capital / first spot coins; None: numeraire cash.")


class CcxtConfig(_Model):
    kind: Literal["ccxt"] = "ccxt"
    exchange: str = Field(description="ccxt exchange id (`exchange \"id\"`; default: the venue name).")
    account_env: str = Field(description="Prefix of the credential variables: the adapter reads "
                             "<NAME>_API_KEY, <NAME>_SECRET and <NAME>_PASSWORD (default: the "
                             "venue name upper-cased).")
    url_env: str | None = Field(default=None, description="Variable holding an API root override "
                                "(testnets, local emulators); None: the exchange's own URLs.")
    sandbox: bool = Field(default=False, description="ccxt's testnet switch (set_sandbox_mode).")
    on_stray: Literal["adopt", "flatten", "halt"] = "halt"


class KeeperConfig(_Model):
    kind: Literal["keeper"] = "keeper"
    chain: int
    rpc_env: str | None = None
    signer_env: str | None = None
    vault: str | None = None
    router: str | None = None
    oracles: dict[str, str] = {}
    on_stray: Literal["adopt", "flatten", "halt"] = "halt"
    confirmations: int = Field(default=1, description="Blocks on top of a rebalance before it counts as filled.")


class SolverConfig(_Model):
    kind: Literal["solver"] = "solver"
    chain: int
    signer_env: str | None = None
    settlement: str | None = None
    valid_for_s: Decimal = Decimal(600)
    rpc_env: str | None = None
    vault: str | None = Field(default=None, description="EIP-1271 owner of the intents (None: the signer's own account).")
    oracles: dict[str, str] = {}
    on_stray: Literal["adopt", "flatten", "halt"] = "halt"


class GenericConfig(_Model):
    """Settings of a third-party backend, passed through as text."""

    kind: Literal["generic"] = "generic"
    settings: dict[str, str] = {}


VenueConfig = Annotated[
    SimConfig | CcxtConfig | KeeperConfig | SolverConfig | GenericConfig,
    Field(discriminator="kind"),
]


class Venue(_Model):
    name: str
    backend: str
    symbols: dict[str, str] = Field(description="Instrument (or token) -> venue symbol/address.")
    config: VenueConfig


# ------------------------------------------------------------------ roots


class Strategy(_Model):
    """A compiled strategy: the unit that backends run."""

    ir_version: Literal["1.2"] = IR_VERSION
    kind: Literal["strategy"] = "strategy"
    name: str
    description: str = ""
    capital: Amount | None = None
    numeraire: str = Field(description="Currency equity and P&L are measured in.")
    assets: tuple[str, ...] = Field(description="Every asset named by the strategy, sorted.")
    instruments: tuple[Instrument, ...]
    book: tuple[BookPosition, ...] = ()
    owns: tuple[str, ...] = ()
    targets: tuple[Target, ...]
    trigger: Trigger
    costs: Costs
    risk: Risk
    modes: tuple[Mode, ...] = ()
    venues: tuple[Venue, ...] = ()

    def instrument(self, name: str) -> Instrument:
        for i in self.instruments:
            if i.name == name:
                return i
        raise KeyError(name)

    def venue(self, name: str) -> Venue:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)


class PolicyLimit(_Model):
    clause: Literal["max_leverage", "max_slippage", "max_fee", "max_gas", "max_notional"]
    value: Decimal
    asset: str | None = None


class Policy(_Model):
    ir_version: Literal["1.2"] = IR_VERSION
    kind: Literal["policy"] = "policy"
    name: str
    limits: tuple[PolicyLimit, ...] = ()
    min_liquidation_buffer: Decimal | None = None
    required_clauses: tuple[str, ...] = ()
    required_halts: tuple[str, ...] = ()
    venues_allowed: tuple[str, ...] | None = None
    backends_allowed: tuple[str, ...] | None = None
