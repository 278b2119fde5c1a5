"""Maintenance margin as each emulated venue computes it, in the position's settle currency.

**Binance USD-M** (cross margin): a position's notional falls in one *leverage bracket* of its
symbol (``GET /fapi/v1/leverageBracket``: ``notionalFloor``, ``notionalCap``,
``maintMarginRatio``, ``cum``) and its maintenance margin is ``|notional| x maintMarginRatio -
cum``. ``cum`` is Binance's "maintenance amount": ``cum_n = cum_(n-1) + floor_n x (ratio_n -
ratio_(n-1))``, which keeps the margin continuous where one bracket ends and the next begins.
The tiers below have the shape and the magnitudes of Binance's published tiers for its large
perpetuals (125x up to 50,000 USDT at 0.4%, and so on); they are the emulator's table, not a
copy of today's live one (Binance revises them by announcement).

**Deribit** (standard margin, in the coin): a future or perpetual needs ``(2% + size x k) x
size`` with ``size`` the position in coins at the mark (``k``: 0.005% per BTC, 0.0001% per
ETH), the form of Deribit's published rule for inverse futures (whose initial margin starts at
4%: the emulator's contracts state 4%). A short option needs ``(0.075 + mark) x size`` coins (mark in the coin per coin); a
long option none. (Deribit's published rule for a short put is ``max(0.075, 0.075 x mark) +
mark``: the same unless the put's mark exceeds one coin, which the emulator does not model.)
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["binance_brackets", "binance_maintenance", "deribit_maintenance"]

#: (initial leverage, notional cap in USDT, maintenance margin ratio), lowest bracket first.
_LARGE = ((125, 50_000, 0.004), (100, 500_000, 0.005), (50, 10_000_000, 0.01),
          (20, 80_000_000, 0.025), (10, 150_000_000, 0.05), (5, 300_000_000, 0.10),
          (4, 450_000_000, 0.125), (3, 600_000_000, 0.15), (2, 800_000_000, 0.25),
          (1, 1_000_000_000, 0.50))
_MID = ((75, 5_000, 0.005), (50, 50_000, 0.01), (25, 600_000, 0.02), (20, 3_000_000, 0.025),
        (10, 6_000_000, 0.05), (5, 15_000_000, 0.10), (4, 30_000_000, 0.125),
        (2, 50_000_000, 0.25), (1, 100_000_000, 0.50))
BINANCE_TIERS: dict[str, tuple[tuple[int, int, float], ...]] = {
    "BTC": _LARGE, "ETH": _LARGE, "SOL": _MID}

#: Deribit's size coefficient of the futures margin rate, per coin of position.
DERIBIT_SIZE_RATE = {"BTC": 0.00005, "ETH": 0.000001}


@cache
def binance_brackets(coin: str) -> tuple[dict[str, Any], ...]:
    """The ``brackets`` of one symbol as ``/fapi/v1/leverageBracket`` lists them."""
    out: list[dict[str, Any]] = []
    floor, cum, prev = 0, 0.0, 0.0
    for n, (lev, cap, ratio) in enumerate(BINANCE_TIERS[coin], start=1):
        cum += floor * (ratio - prev)
        out.append({"bracket": n, "initialLeverage": lev, "notionalCap": cap,
                    "notionalFloor": floor, "maintMarginRatio": ratio,
                    "cum": round(cum, 8)})
        floor, prev = cap, ratio
    return tuple(out)


def binance_maintenance(coin: str, notional: float) -> float:
    """USDT of maintenance margin for a position of ``|notional|`` USDT."""
    n = abs(notional)
    if n == 0.0:
        return 0.0
    rows = binance_brackets(coin)
    row = next((b for b in rows if n <= b["notionalCap"]), rows[-1])
    return n * float(row["maintMarginRatio"]) - float(row["cum"])


def deribit_maintenance(coin: str, kind: str, size_coin: float, mark_coin: float = 0.0
                        ) -> float:
    """Coins of maintenance margin: a future/perpetual of ``size_coin`` coins at the mark, or
    an option position of ``size_coin`` (negative: short) marked at ``mark_coin``."""
    if kind == "option":
        return (0.075 + mark_coin) * -size_coin if size_coin < 0 else 0.0
    return (0.02 + abs(size_coin) * DERIBIT_SIZE_RATE.get(coin, 0.0)) * abs(size_coin)
