"""Kernel state survives a restart: save mid-cooldown, mid-TWAP, mid-budget and halted, restore
into a fresh kernel (another process would build the same one), and the next decisions equal
an uninterrupted run's, array for array."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rebal.backends.kernel import Fills, Kernel, MarketView, PortfolioView
from rebal.backends.kernel.state import STATE_VERSION
from rebal.compiler import compile_text, ir

SPEC = """
strategy rt {{
  capital 100000 USD
  instruments {{
    C    option ETH call strike 3000 USD expiry 2026-03-01
    PERP perp ETH
  }}
  book {{ C -20 }}
  owns PERP
  target delta 0 ETH {{
    band 0.5 ETH * clamp(realized_vol(ETH, 6h) / 60%, 0.5, 3)
    hedge with PERP
  }}
  trigger {{ on breach every 4h cooldown 30m }}
  costs {{ max slippage 20 bps split 2 ETH every 5m budget {budget} USD per 1d }}
  risk {{ max orders 6 per 1h halt when drawdown > {halt}% }}
  venue sim via sim {{
    ETH spot 3000 USD vol 80% fee 5 bps start 2026-01-01 horizon 2d step 5m paths 3
  }}
  venue deribit via ccxt {{ C = "ETH-1MAR26-3000-C"  PERP = "ETH-PERPETUAL" }}
}}
"""
STEP = 300.0
FIELDS = ("hedge_orders", "reason", "refused", "halted", "triggered", "limit_price",
          "children", "est_cost", "measure", "band_hi")


def compiled(budget: float = 30.0, halt: float = 50.0) -> ir.Strategy:
    s, diags = compile_text(SPEC.format(budget=budget, halt=halt))
    assert s is not None, [f"{d.code} {d.message}" for d in diags]
    return s


class Run:
    """A small deterministic market and account around one kernel: perps settle into cash,
    the short call is marked by the kernel, every order fills at the mid plus the fee.
    ``late_fills``: report them through ``sent`` + ``report_fill`` instead of ``record``."""

    def __init__(self, kernel: Kernel, seed: int = 3, late_fills: bool = False) -> None:
        self.k = kernel
        self.late_fills = late_fills
        b = kernel.batch
        rng = np.random.default_rng(seed)
        self.moves = rng.normal(0.0, 0.012, size=(600, b))
        self.spot = np.full((b, 1), 3000.0)
        self.vol = np.full((b, 1), 0.8)
        self.pos = np.tile(kernel.layout.book, (b, 1))
        self.cash = np.full(b, 100000.0)
        self.prev = self.spot[:, 0].copy()
        self.started = False

    def step(self, k: int, t_offset: float = 0.0) -> dict[str, np.ndarray]:
        lay = self.k.layout
        t = k * STEP + t_offset
        self.spot = self.prev[:, None] * np.exp(self.moves[k])[:, None]
        market = MarketView(spot=self.spot, vol=self.vol)
        self.k.observe(t, self.spot)
        marks = self.k.mark(t, market)
        c, perp = lay.col("C"), lay.col("PERP")
        if not self.started:  # the short call's premium is cash
            self.cash -= self.pos[:, c] * marks.price[:, c]
            self.started = True
        self.cash += self.pos[:, perp] * (self.spot[:, 0] - self.prev)
        self.prev = self.spot[:, 0].copy()
        equity = self.cash + self.pos[:, c] * marks.price[:, c]
        dec = self.k.decide(t, market, PortfolioView(self.pos.copy(), equity), marks)
        if dec.any_orders:
            qty = dec.hedge_orders.copy()
            cost = (np.abs(qty) * marks.price[:, dec.hedge_cols]).sum(axis=1) * 0.0005
            self.pos[:, dec.hedge_cols] += qty
            self.cash -= cost
            if self.late_fills:
                self._report(dec, qty, cost)
            else:
                self.k.record(dec, Fills(qty=qty, cost=cost))
        return {f: _arr(getattr(dec, f)) for f in FIELDS}

    def _report(self, dec: object, qty: np.ndarray, cost: np.ndarray) -> None:
        self.k.sent(dec)  # type: ignore[arg-type]
        ids = dec.order_ids  # type: ignore[attr-defined]
        for row in range(self.k.batch):
            for leg in range(qty.shape[1]):
                if ids[row, leg, 0] >= 0:
                    self.k.report_fill(row, leg, ids[row, leg], float(qty[row, leg]),
                                       float(cost[row]) if leg == 0 else 0.0,
                                       dec.t_s, final=True)  # type: ignore[attr-defined]

    def save(self) -> tuple[str, dict[str, object]]:
        """The kernel's state as JSON text (strict: no NaN/inf) and the account beside it."""
        text = json.dumps(self.k.save_state(), allow_nan=False)
        return text, {"spot": self.spot.copy(), "pos": self.pos.copy(), "cash": self.cash.copy(),
                      "prev": self.prev.copy(), "started": self.started}

    def load(self, text: str, account: dict[str, object]) -> None:
        self.k.restore_state(json.loads(text))
        for name, value in account.items():
            setattr(self, name, value.copy() if isinstance(value, np.ndarray) else value)


def _arr(v: object) -> np.ndarray:
    return np.asarray(v if v is not None else np.nan, dtype=np.float64)


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray], k: int) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(a[f], b[f], err_msg=f"step {k}: {f}")


def _checkpoints(s: ir.Strategy, n: int, wanted: dict[str, object]) -> dict[str, int]:
    """First step after which each wanted condition holds in the saved state."""
    run = Run(Kernel.build(s, "sim", 3))
    found: dict[str, int] = {}
    for k in range(n):
        run.step(k)
        data = run.k.save_state()
        for name, cond in wanted.items():
            if name not in found and cond(data, k * STEP + run.k.layout.epoch_s):  # type: ignore[operator]
                found[name] = k
    assert set(found) == set(wanted), f"conditions never met: {set(wanted) - set(found)}"
    return found


def _mid_cooldown(data: dict, now: float) -> bool:
    return any(r["last_fill_t"] is not None and now - r["last_fill_t"] < 1800.0
               for r in data["rows"])


def _mid_twap(data: dict, now: float) -> bool:
    return any(any(q != 0.0 for q in r["parent"]) and r["split_started"] for r in data["rows"])


def _mid_budget(data: dict, now: float) -> bool:
    return any(sum(r["budget_spent"]) > 0.0 for r in data["rows"])


def _halted(data: dict, now: float) -> bool:
    return any(r["halted"] for r in data["rows"])


def _resumed_equals_uninterrupted(s: ir.Strategy, at: int, n: int) -> None:
    whole = Run(Kernel.build(s, "sim", 3))
    want = [whole.step(k) for k in range(n)]
    first = Run(Kernel.build(s, "sim", 3))
    for k in range(at + 1):
        first.step(k)
    text, account = first.save()
    again = Run(Kernel.build(s, "sim", 3))  # a fresh kernel, as after a restart
    again.load(text, account)
    for k in range(at + 1, n):
        _same(again.step(k), want[k], k)


def test_restore_mid_cooldown_mid_twap_and_mid_budget_continues_identically() -> None:
    s = compiled()
    n = 160
    at = _checkpoints(s, n, {"cooldown": _mid_cooldown, "twap": _mid_twap,
                             "budget": _mid_budget})
    both = _checkpoints(s, n, {"all": lambda d, now: _mid_cooldown(d, now)
                               and _mid_twap(d, now) and _mid_budget(d, now)})
    for k in sorted({*at.values(), both["all"]}):
        _resumed_equals_uninterrupted(s, k, n)


def test_a_restored_halt_stays_halted_and_the_equity_peak_is_kept() -> None:
    s = compiled(halt=0.3)
    n = 160
    at = _checkpoints(s, n, {"halted": _halted})["halted"]
    run = Run(Kernel.build(s, "sim", 3))
    for k in range(at + 1):
        run.step(k)
    text, account = run.save()
    data = json.loads(text)
    peaks = [r["equity_peak"] for r in data["rows"]]
    assert all(p is not None and p > 0 for p in peaks)
    fresh = Run(Kernel.build(s, "sim", 3))
    fresh.load(text, account)
    np.testing.assert_array_equal(fresh.k.halted, run.k.halted)
    np.testing.assert_array_equal(fresh.k.peak, run.k.peak)
    _resumed_equals_uninterrupted(s, at, n)
    # a halted row never trades again after the restart
    halted = fresh.k.halted.copy()
    for k in range(at + 1, n):
        got = fresh.step(k)
        assert not got["hedge_orders"][halted].any()


def test_a_state_restored_in_another_epoch_keeps_its_absolute_times() -> None:
    """The same instants, told as t_s from another day's midnight, decide the same."""
    s = compiled()
    n, at, day = 120, 40, 86400.0
    base = Kernel.build(s, "sim", 3)
    whole = Run(base)
    want = [whole.step(k) for k in range(n)]
    first = Run(Kernel.build(s, "sim", 3))
    for k in range(at + 1):
        first.step(k)
    text, account = first.save()
    later = Kernel.build(s, "sim", 3, epoch_s=base.layout.epoch_s - day)
    again = Run(later)
    again.load(text, account)
    for k in range(at + 1, n):
        _same(again.step(k, t_offset=day), want[k], k)


def test_saved_state_is_plain_versioned_json_with_absolute_times() -> None:
    s = compiled()
    run = Run(Kernel.build(s, "sim", 3))
    for k in range(30):
        run.step(k)
    data = json.loads(run.save()[0])
    assert data["state_version"] == STATE_VERSION and data["batch"] == 3 and len(data["rows"]) == 3
    epoch = run.k.layout.epoch_s
    assert data["clock"]["observed_t"] == epoch + 29 * STEP
    fired = [r["last_decision_t"] for r in data["rows"] if r["last_decision_t"] is not None]
    assert fired and all(epoch <= t <= epoch + 29 * STEP for t in fired)


def test_restore_refuses_another_version_strategy_layout_or_batch() -> None:
    s = compiled()
    data = Kernel.build(s, "sim", 3).save_state()
    k = Kernel.build(s, "sim", 3)
    with pytest.raises(ValueError, match="version 99"):
        k.restore_state({**data, "state_version": 99})
    with pytest.raises(ValueError, match="not a kernel state"):
        k.restore_state({"rows": []})
    other = compile_text(SPEC.format(budget=30, halt=50).replace("strategy rt", "strategy x"))[0]
    assert other is not None
    with pytest.raises(ValueError, match="strategy 'rt', not 'x'"):
        Kernel.build(other, "sim", 3).restore_state(data)
    no_split = compile_text(SPEC.format(budget=30, halt=50).replace("budget 30 USD per 1d", ""))[0]
    assert no_split is not None
    with pytest.raises(ValueError, match="another layout: budget_buckets"):
        Kernel.build(no_split, "sim", 3).restore_state(data)
    with pytest.raises(ValueError, match="holds 3 rows, this kernel has 1"):
        Kernel.build(s, "sim", 1).restore_state(data)


def test_a_live_kernel_measures_expiries_in_unix_time_and_round_trips() -> None:
    """The live runner's kernel: a ccxt venue, batch of one, epoch 0 so t_s is unix time."""
    s = compiled()
    k = Kernel.build(s, "deribit", 1, epoch_s=0.0)
    expiry = k.layout.opt_expiry_s[0]
    assert expiry == 1772323200.0  # 2026-03-01T00:00Z
    now = expiry - 30 * 86400.0
    market = MarketView(spot=np.array([[3000.0]]), vol=np.array([[0.8]]))
    k.observe(now, market.spot)
    marks = k.mark(now, market)
    from rebal.backends.kernel.pricing import bs_price

    want = bs_price(3000.0, 3000.0, 30 / 365, 0.8, 0.0, True)
    assert math.isclose(float(marks.price[0, k.layout.col("C")]), float(want), rel_tol=1e-12)
    pos = np.tile(k.layout.book, (1, 1))
    pos[0, k.layout.col("PERP")] = 5.0  # far outside the band: decide, fill, save
    dec = k.decide(now, market, PortfolioView(pos, np.array([1e5])), marks)
    assert dec.any_orders
    k.record(dec, Fills(qty=dec.hedge_orders.copy(), cost=np.array([1.0])))
    data = json.loads(json.dumps(k.save_state(), allow_nan=False))
    assert data["rows"][0]["last_fill_t"] == now  # absolute: epoch 0
    again = Kernel.build(s, "deribit", 1, epoch_s=0.0)
    again.restore_state(data)
    assert again.save_state() == data
