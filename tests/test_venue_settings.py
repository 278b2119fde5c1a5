"""Venue settings of `via ccxt` in the IR, `on_stray` on every live backend, and an option's
strike currency kept apart from its settle currency (a Deribit option: strike in USD,
premium and settlement in ETH)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebal.backends.kernel.layout import build_layout
from rebal.compiler import check_source, ir

HEAD = """strategy s {{
  {capital}
  instruments {{
    C    option ETH call strike {strike} expiry 2026-12-25{settle}
    PERP perp ETH settle ETH
  }}
  book {{ C -10 }}
  owns PERP
  target delta 0 ETH {{ band 1 ETH; hedge with PERP }}
  trigger {{ on breach }}
  costs {{ max slippage 20 bps }}
  venue deribit via ccxt {{ {ccxt} C = "ETH-25DEC26-3000-C"  PERP = "ETH-PERPETUAL" }}
  venue paper via sim {{ ETH spot 3000 USD vol 60% start 2026-12-01 horizon 2d step 1h paths 4 }}
}}
"""


def spec(capital: str = "capital 150000 USD", strike: str = "3000 USD",
         settle: str = " settle ETH", ccxt: str = "") -> str:
    return HEAD.format(capital=capital, strike=strike, settle=settle, ccxt=ccxt)


def compiled(text: str) -> ir.Strategy:
    res = check_source(text, "s.rebal")
    assert res.ok, [(d.code, d.message) for d in res.diagnostics]
    return res.strategies[0]


def codes(text: str) -> list[str]:
    return [d.code for d in check_source(text, "s.rebal").diagnostics]


def test_ccxt_defaults_are_filled_in_and_explicit() -> None:
    cfg = compiled(spec()).venue("deribit").config
    assert isinstance(cfg, ir.CcxtConfig)
    assert (cfg.exchange, cfg.account_env, cfg.url_env, cfg.sandbox, cfg.on_stray) == (
        "deribit", "DERIBIT", None, False, "halt")


def test_ccxt_settings_reach_the_ir() -> None:
    cfg = compiled(spec(ccxt='exchange "deribit" account env DESK2 url env EMU_URL sandbox '
                        "on_stray flatten")).venue("deribit").config
    assert isinstance(cfg, ir.CcxtConfig)
    assert (cfg.exchange, cfg.account_env, cfg.url_env, cfg.sandbox, cfg.on_stray) == (
        "deribit", "DESK2", "EMU_URL", True, "flatten")


@pytest.mark.parametrize("setting, code", [
    ('url "http://127.0.0.1:8080"', "E805"),
    ('account "k8Jd2LqP0wXz7RtY5vBn"', "E804"),
    ('exchange "api.deribit.com"', "E805"),
    ("on_stray ignore", "E401"),
    ("sandbox url env A url env B", "E206"),  # a setting given twice
])
def test_unsafe_or_wrong_settings_are_refused(setting: str, code: str) -> None:
    assert code in codes(spec(ccxt=setting))


def test_on_stray_is_a_setting_of_every_live_backend() -> None:
    text = """strategy s {
  capital 1000 USDC
  instruments { WETH spot ETH  USDC cash USDC }
  owns WETH, USDC
  target weights { WETH 50% band 5%  USDC 50% band 5% }
  trigger { on breach }
  costs { max slippage 30 bps }
  venue cow via solver { chain 1 signer env SOLVER_KEY on_stray adopt
    WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48" }
}
"""
    cfg = compiled(text).venue("cow").config
    assert isinstance(cfg, ir.SolverConfig) and cfg.on_stray == "adopt"


def test_a_deribit_option_keeps_strike_and_settle_currencies_apart() -> None:
    s = compiled(spec())
    c = s.instrument("C")
    assert (c.strike, c.strike_currency, c.settle) == (Decimal(3000), "USD", "ETH")
    assert s.numeraire == "USD"
    # the kernel reads the strike in the numeraire, at face value
    lay = build_layout(s, s.venue("paper"))
    assert list(lay.opt_strike) == [3000.0]


def test_without_capital_a_coin_settled_book_still_counts_in_the_strike_currency() -> None:
    s = compiled(spec(capital=""))
    assert s.numeraire == "USD" and s.instrument("C").strike_currency == "USD"


def test_a_strike_in_another_par_currency_is_read_at_par() -> None:
    c = compiled(spec(strike="3000 USDT", settle="")).instrument("C")
    assert (c.strike_currency, c.settle) == ("USDT", "USD")


@pytest.mark.parametrize("capital, strike", [
    ("capital 150000 USD", "3000 ETH"),   # a strike in the underlying is no price
    ("capital 50 ETH", "3000 USD"),       # the kernel would read USD as ETH
])
def test_a_strike_the_kernel_cannot_read_in_the_numeraire_is_e303(capital: str, strike: str) -> None:
    res = check_source(spec(capital=capital, strike=strike), "s.rebal")
    e303 = [d for d in res.diagnostics if d.code == "E303"]
    assert e303 and e303[0].span is not None and e303[0].span.line == 4
