"""A rehearsal market on a local chain: ERC-20 tokens, one pair per risky token against the
quote token, a router, and one settable Chainlink-style oracle per risky asset.

Used by the tests, the demo and ``rebal keeper deploy --local``. Everything is the shipped
minimal implementation of a real interface, so the keeper talks to it exactly as it would
to Uniswap V2 and Chainlink on mainnet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from web3.contract import Contract

from .deploy import at, call_data, deploy
from .tx import Sender

__all__ = ["AssetSpec", "LocalMarket", "deploy_market", "set_oracle_price", "to_units"]

ORACLE_DECIMALS = 8


@dataclass(frozen=True)
class AssetSpec:
    """A risky token of the rehearsal: its symbol, decimals, the asset its oracle prices,
    the starting price in the quote token, and pool depth (quote-token value of each side)."""

    symbol: str
    decimals: int
    asset: str
    price: float
    depth_quote: float = 500_000_000.0


@dataclass
class LocalMarket:
    """Addresses of a deployed rehearsal market (checksummed hex)."""

    quote: str                                       # quote token symbol (USDC)
    tokens: dict[str, str] = field(default_factory=dict)     # symbol -> token address
    decimals: dict[str, int] = field(default_factory=dict)   # symbol -> decimals
    pairs: dict[str, str] = field(default_factory=dict)      # risky symbol -> pair address
    oracles: dict[str, str] = field(default_factory=dict)    # asset -> aggregator address
    router: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"quote": self.quote, "tokens": dict(self.tokens), "decimals": dict(self.decimals),
                "pairs": dict(self.pairs), "oracles": dict(self.oracles), "router": self.router}


def to_units(amount: float | Decimal | str, decimals: int) -> int:
    """Token base units of a human amount (exact for decimal strings)."""
    return int(Decimal(str(amount)).scaleb(decimals).to_integral_value())


def _send(sender: Sender, contract: Contract, fn: str, *args: object) -> None:
    sender.transact(contract.address, call_data(contract, fn, *args))


def deploy_market(sender: Sender, assets: Sequence[AssetSpec], *, quote: str = "USDC",
                  quote_decimals: int = 6) -> LocalMarket:
    """Deploy the quote token, each risky token, a funded pair for each, a router and oracles."""
    market = LocalMarket(quote=quote)
    q = deploy(sender, "Token", quote, quote, quote_decimals)
    market.tokens[quote] = q.address
    market.decimals[quote] = quote_decimals
    router = deploy(sender, "Router")
    market.router = router.address
    for a in assets:
        tok = deploy(sender, "Token", a.symbol, a.symbol, a.decimals)
        market.tokens[a.symbol] = tok.address
        market.decimals[a.symbol] = a.decimals
        pair = deploy(sender, "Pair", *sorted([tok.address, q.address], key=str.lower))
        market.pairs[a.symbol] = pair.address
        _send(sender, tok, "mint", pair.address, to_units(a.depth_quote / a.price, a.decimals))
        _send(sender, q, "mint", pair.address, to_units(a.depth_quote, quote_decimals))
        _send(sender, pair, "sync")
        _send(sender, router, "addPair", pair.address, tok.address, q.address)
        oracle = deploy(sender, "Aggregator", ORACLE_DECIMALS, f"{a.asset} / {quote}",
                        to_units(a.price, ORACLE_DECIMALS))
        market.oracles[a.asset] = oracle.address
    return market


def set_oracle_price(sender: Sender, oracle: str, price: float, *, updated_at: int | None = None
                     ) -> None:
    """Post a new round (now, or at ``updated_at`` for a stale one) on a rehearsal oracle."""
    agg = at(sender.w3, "Aggregator", oracle)
    answer = to_units(price, int(agg.functions.decimals().call()))
    if updated_at is None:
        _send(sender, agg, "setAnswer", answer)
    else:
        _send(sender, agg, "setRound", answer, updated_at)


def mint(sender: Sender, token: str, to: str, amount_units: int) -> None:
    _send(sender, at(sender.w3, "Token", token), "mint", to, amount_units)


def move_price(sender: Sender, market: LocalMarket, symbol: str, asset: str, price: float
               ) -> None:
    """Move a rehearsal pool to ``price`` (an arbitrage swap straight on the pair, paid with
    freshly minted tokens) and post the same price on the asset's oracle."""
    import math

    w3 = sender.w3
    pair = at(w3, "Pair", market.pairs[symbol])
    risky, quote = market.tokens[symbol], market.tokens[market.quote]
    dr, dq = market.decimals[symbol], market.decimals[market.quote]
    r0, r1, _ = pair.functions.getReserves().call()
    risky_is_0 = pair.functions.token0().call() == risky
    rr, rq = (r0, r1) if risky_is_0 else (r1, r0)
    ratio = price * 10**dq / 10**dr
    target_rr = int(math.sqrt(rr * rq / ratio))

    def out_for(amount_in: int, r_in: int, r_out: int) -> int:
        return amount_in * 997 * r_out // (r_in * 1000 + amount_in * 997)

    if target_rr < rr:  # risky gets dearer: pay quote in, take risky out
        amount_in = int((rr * rq / target_rr - rq) / 0.997) + 1
        mint(sender, quote, pair.address, amount_in)
        out = out_for(amount_in, rq, rr)
        args = (out, 0) if risky_is_0 else (0, out)
    elif target_rr > rr:
        amount_in = int((target_rr - rr) / 0.997) + 1
        mint(sender, risky, pair.address, amount_in)
        out = out_for(amount_in, rr, rq)
        args = (0, out) if risky_is_0 else (out, 0)
    else:
        args = (0, 0)
    if args != (0, 0):
        _send(sender, pair, "swap", args[0], args[1], sender.address)
    set_oracle_price(sender, market.oracles[asset], price)
