"""`explain`: what a trader relies on (numbers with units, instruments, halts) is said."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import jinja2
import pytest

from rebal.compiler import ir
from rebal.compiler.api import check_source, compile_text
from rebal.compiler.explain import (
    _env,
    bps,
    dur,
    explain,
    explain_policy,
    expr_words,
    num,
    pct,
    per,
)
from rebal.dsl.fmt import format_source

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def explained(name: str) -> str:
    res = check_source((SPECS / name).read_text(encoding="utf-8"), name)
    assert res.ok, [d.message for d in res.diagnostics if d.severity.value == "error"]
    assert len(res.strategies) == 1
    return explain(res.strategies[0])


def flat(text: str) -> str:
    return " ".join(text.split())


# What a trader must be able to read in each shared example, word for word.
PHRASES: dict[str, list[str]] = {
    "eth_straddle_hedge.rebal": [
        "Strategy eth_straddle_hedge: Short 10x ETH 25-Dec-2026 3000 straddle",
        "Capital 150,000 USD",
        "ETH_C: European ETH call, strike 3,000 USD, expiring 2026-12-25",
        "ETH_P: European ETH put, strike 3,000 USD, expiring 2026-12-25",
        "short 10 ETH_C, short 10 ETH_P",
        "It places orders only in PERP.",
        "Keeps the portfolio's ETH delta within 0.25–1.5 ETH of 0 ETH",
        "band = 0.5 ETH × (ETH's 24h realized volatility / 60%, kept between 0.5 and 3)",
        "so it scales with ETH's 24h realized volatility",
        "trading PERP back to the target.",
        "Trades when any target leaves its band, and at least every 8h; never twice within 5m.",
        "at most 20 bps from mid",
        "charging more than 5 bps",
        "Skips trades smaller than 0.1 ETH.",
        "child orders of at most 5 ETH, one every 2m",
        "at most 500 USD per day on fees, slippage and gas",
        "Leverage never above 3x.",
        "move 25% before any position is liquidated",
        "At most 50 ETH in PERP, long or short.",
        "At most 30 orders per hour.",
        "Halts when drawdown exceeds 15%",
        "Halts when the newest price is older than 30s",
        "emergency, while the ETH delta is beyond ±3 ETH: no cooldown; max slippage 100 bps.",
        "deribit: the deribit exchange through ccxt, credentials from $DERIBIT_API_KEY and "
        '$DERIBIT_SECRET; halts on positions it did not open; ETH_C is "ETH-25DEC26-3000-C"',
        "ETH starting at 3,000 USD, 60% volatility, 0% drift",
        "30d from the day it runs in 5m steps, 10,000 paths, seed 0",
    ],
    "btc_eth_weights.rebal": [
        "Capital 100,000 USDT",
        "BTC_PERP: BTC perpetual, settled in USDT.",
        "BTC_PERP at 60% (55%–65%); ETH_PERP at 40% (35%–45%)",
        "trading back to the nearest edge of the band.",
        "Trades when any target leaves its band, and at least every 24h.",
        "at most 15 bps from mid",
        "Skips trades smaller than 50 USDT.",
        "paying more than 30% funding per year",
        "Leverage never above 2x.",
        "Total notional never above 250,000 USDT.",
        "Halts when drawdown exceeds 20%",
        "the binanceusdm exchange through ccxt",
        'BTC_PERP is "BTC/USDT:USDT"',
        "BTC–ETH correlation 0.8",
        "BTC_PERP funding 10% per year",
        "90d from the day it runs in 1h steps, 5,000 paths",
    ],
    "eth_leverage_2x.rebal": [
        "Capital 50,000 USDC",
        "Keeps the exposure of PERP at 2x equity, between 1.7x and 2.3x, trading PERP 50% of the "
        "way back to the target.",
        "at least every 24h; never twice within 1h",
        "child orders of at most 20 ETH, one every 5m",
        "move 30% before any position is liquidated",
        "emergency, while leverage exceeds 2.7x: no cooldown; max slippage 200 bps; child orders "
        "of at most 50 ETH every 1m.",
        "4 jumps per year of -15%",
        "maintenance margin 3%",
        "180d from the day it runs in 15m steps",
    ],
    "eth_cppi_vault.rebal": [
        "keeps 4 × (equity − floor) in WETH, never more than all of equity, and the rest in USDC",
        "the floor is 80% of capital (800,000 USDC)",
        "more than 5 percentage points off its target",
        "never twice within 1h",
        "Never bids more than 40 gwei for gas.",
        "gas would cost more than 25 USD",
        "child orders of at most 100 ETH, one every 10m",
        "Halts when the newest price is older than 1h",
        "Halts when the oracle's deviation from the venue price exceeds 2%",
        "an on-chain keeper on chain 1, RPC from $RPC_URL, signing with $KEEPER_KEY",
        "ETH oracle 0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419",
        "signed EIP-712 intents on chain 1",
        "each valid for 10m",
        "gas 20 gwei × 180,000 gas per rebalance",
        "1y from the day it runs",
    ],
    "btc_optimal_band.rebal": [
        "long 25 C1",
        "It places orders only in PERP and C2.",
        "inside the cost-optimal Whalley–Wilmott no-trade band around 0 BTC (risk aversion 1",
        "Keeps the portfolio's BTC vega (per volatility point) between -5,000 USD and 5,000 USD, "
        "trading C2 back to the nearest edge of the range.",
        "at least every 1h",
        "Skips trades smaller than 0.01 BTC.",
        "At most 40 BTC in PERP, long or short.",
        "At most 200 BTC in C2, long or short.",
        "Leverage never above 5x.",
        "Heston stochastic volatility",
        "vol of vol 80%, mean reversion 3, spot–variance correlation -50%",
    ],
}


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_shared_examples_say_what_a_trader_relies_on(name: str) -> None:
    text = flat(explained(name))
    missing = [p for p in PHRASES[name] if flat(p) not in text]
    assert not missing, f"missing from explain {name}:\n" + "\n".join(missing) + "\n\n" + text


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_every_section_is_present_and_nothing_leaks(name: str) -> None:
    text = explained(name)
    for header in ("What it holds", "What it keeps where", "When it trades", "What it may cost",
                   "What stops it", "Venues"):
        assert f"\n{header}\n" in text
    for leak in ("None", "{{", "{%", "Decimal(", "kind=", "  \n", "\n\n\n"):
        assert leak not in text, leak
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_no_halt_is_said_when_there_is_none() -> None:
    text = explained("btc_optimal_band.rebal")
    assert "Halts" not in text
    assert "No max slippage" not in text
    assert "Modes" not in text


def test_missing_slippage_limit_is_called_out() -> None:
    src = (SPECS / "btc_eth_weights.rebal").read_text(encoding="utf-8")
    s, _ = compile_text(src.replace("max slippage 15 bps", ""))
    assert s is not None
    assert "No max slippage: orders may fill at any price." in explain(s)


def test_policy_in_words() -> None:
    res = check_source((SPECS / "desk.policy.rebal").read_text(encoding="utf-8"))
    text = flat(explain_policy(res.policies[0]))
    for phrase in (
        "Policy desk",
        "Leverage limit at most 5x.",
        "Slippage limit at most 100 bps, in every mode.",
        "A liquidation buffer of at least 20%",
        "`max slippage` must be present.",
        "A halt on drawdown must be present",
        "Venues allowed: deribit, binance, hyperliquid, mainnet, intents, paper, backtest, stress.",
    ):
        assert phrase in text, phrase


@pytest.mark.parametrize(
    ("name", "phrases"),
    [
        ("eth_gamma_band.rebal", [
            "Keeps the portfolio's ETH gamma (change of the USD delta for a 1% move of spot) "
            "between -20,000 USD and 20,000 USD, trading C3000 back to the nearest edge",
            "Keeps the portfolio's ETH delta between -20 ETH and 40 ETH, trading PERP back to "
            "the nearest edge of the band.",
            "short 200 P2800, short 200 C3400",
        ]),
        ("btc_treasury_future.rebal", [
            "BTC_FUT: BTC future expiring 2027-06-25, settled in USD.",
            "Keeps the portfolio's BTC delta (valued in USD) within 150,000 USD of 2,000,000 USD",
            "90d from 2026-12-01 in 1h steps",
            "risk-free rate 4% per year",
            "Halts when the newest price is older than 1m",
        ]),
        ("eth_replay_backtest.rebal", [
            'replay of recorded prices from "data/eth_1h_sample.csv"',
            "20d of the recorded prices in 1h steps, 1 path.",
            "storm, while ETH's 24h realized volatility exceeds 120%: cooldown 4h; max slippage "
            "60 bps.",
        ]),
        ("eth_usdc_relative_weights.rebal", [
            "WETH at 50% (45%–55%, a band of 10% of the target)",
            "flattens positions it did not open",
            "6 jumps per year of -10%",
        ]),
    ],
)
def test_more_examples(name: str, phrases: list[str]) -> None:
    text = flat(explained(name))
    for p in phrases:
        assert flat(p) in text, p


def test_formatting_does_not_change_the_explanation() -> None:
    src = (SPECS / "eth_straddle_hedge.rebal").read_text(encoding="utf-8")
    formatted, _ = format_source(src)
    assert formatted is not None
    a, _ = compile_text(src)
    b, _ = compile_text(formatted)
    assert a is not None and b is not None
    assert explain(a) == explain(b)


# ------------------------------------------------------------------ words for numbers


@pytest.mark.parametrize(
    ("seconds", "want"),
    [(0, "0s"), (30, "30s"), (90, "90s"), (300, "5m"), (5400, "90m"), (28800, "8h"),
     (86400, "24h"), (129600, "36h"), (172800, "2d"), (90 * 86400, "90d"),
     (365 * 86400, "1y"), (Decimal("1.5"), "1.5s")],
)
def test_durations(seconds: int | Decimal, want: str) -> None:
    assert dur(seconds) == want


def test_rates_and_numbers() -> None:
    assert per(86400) == "per day"
    assert per(3600) == "per hour"
    assert per(365 * 86400) == "per year"
    assert per(8 * 3600) == "per 8h"
    assert num(Decimal("100000")) == "100,000"
    assert num(Decimal("1E+6")) == "1,000,000"
    assert num(Decimal("0.0001")) == "0.0001"
    assert num(Decimal("-5000.50")) == "-5,000.5"
    assert num(Decimal("1e999999999")) == "1e+999999999"  # fast, not a billion digits
    assert dur(Decimal("1e30")) == "1e+30s"
    assert per(Decimal("1e30")) == "per 1e+30s"
    assert pct(Decimal("0.6")) == "60%"
    assert pct(Decimal("0.155")) == "15.5%"
    assert bps(Decimal("0.002")) == "20 bps"
    assert bps(Decimal("0.02")) == "200 bps"


def _c(v: str, unit: str = "") -> ir.Const:
    return ir.Const(value=Decimal(v), unit=unit)


def test_expression_words() -> None:
    rv = ir.Call(fn="realized_vol", symbol="ETH", window_s=Decimal(86400), unit="")
    band = ir.BinOp(op="*", left=_c("0.5", "ETH"), unit="ETH", right=ir.Call(
        fn="clamp", unit="", args=(ir.BinOp(op="/", left=rv, right=_c("0.6"), unit=""),
                                   _c("0.5"), _c("3"))))
    assert expr_words(band) == (
        "0.5 ETH × (ETH's 24h realized volatility / 60%, kept between 0.5 and 3)")
    dd = ir.Compare(op=">", left=ir.Ref(name="drawdown", unit=""), right=_c("0.15"))
    lev = ir.Compare(op=">=", left=ir.Ref(name="leverage", unit=""), right=_c("2.5"))
    age = ir.Compare(op=">", left=ir.Ref(name="price_age", unit="s"), right=_c("30", "s"))
    assert expr_words(dd) == "drawdown exceeds 15%"
    assert expr_words(lev) == "leverage reaches 2.5x"
    assert expr_words(age) == "the newest price is older than 30s"
    both = ir.BoolOp(op="or", left=dd, right=ir.BoolOp(op="and", left=lev, right=ir.Not(
        operand=age)))
    assert expr_words(both) == (
        "drawdown exceeds 15% or (leverage reaches 2.5x and not (the newest price is older "
        "than 30s))")
    delta = ir.Ref(name="delta", unit="ETH", asset="ETH")
    far = ir.Compare(op=">", left=ir.Call(fn="abs", args=(delta,), unit="ETH"),
                     right=_c("3", "ETH"))
    assert expr_words(far) == "the ETH delta is beyond ±3 ETH"
    short = ir.Compare(op=">", left=ir.Neg(operand=delta, unit="ETH"), right=_c("2", "ETH"))
    assert expr_words(short) == "the ETH delta falls below -2 ETH"
    diff = ir.BinOp(op="-", left=_c("1", "ETH"), unit="ETH",
                    right=ir.BinOp(op="-", left=delta, right=_c("2", "ETH"), unit="ETH"))
    assert expr_words(diff) == "1 ETH − (the ETH delta − 2 ETH)"


def test_templates_are_strict_and_plain_text() -> None:
    env = _env()
    assert env.undefined is jinja2.StrictUndefined
    assert not env.autoescape
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ s.no_such_field }}").render(s=compile_text(
            (SPECS / "eth_cppi_vault.rebal").read_text(encoding="utf-8"))[0])
