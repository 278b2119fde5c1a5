"""Orders with stable ids, and fills that arrive later: a resting or slow order is accounted
exactly (parents, budgets, cooldowns), and the immediate case (the simulation's
``record``) equals ``sent`` followed by a final ``report_fill`` of every leg."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_kernel_state import Run, _same, compiled

from rebal.backends.kernel import Kernel, MarketView, PortfolioView
from rebal.compiler import compile_text, ir

MIN = 60.0
SPEC = """
strategy lf {{
  capital 100000 USD
  instruments {{ PERP perp ETH }}
  owns PERP
  target delta 0 ETH {{ band 0.5 ETH hedge with PERP }}
  trigger {{ on breach cooldown {cooldown} }}
  costs {{ {costs} budget 100 USD per 1d }}
  venue deribit via ccxt {{ PERP = "ETH-PERPETUAL" }}
  venue sim via sim {{ ETH spot 3000 USD vol 60% start 2026-01-01 horizon 1d step 5m }}
}}
"""


def kernel(costs: str = "split 3000 USD every 5m", cooldown: str = "30m") -> Kernel:
    s, diags = compile_text(SPEC.format(costs=costs, cooldown=cooldown))
    assert s is not None, [d.message for d in diags]
    return Kernel.build(s, "deribit", 1, epoch_s=0.0)


class Desk:
    """A live-shaped loop: batch of one, the position is what the venue reports."""

    def __init__(self, k: Kernel, delta: float = 4.0) -> None:
        self.k = k
        self.pos = np.zeros((1, 1))
        self.pos[0, 0] = delta
        self.market = MarketView(spot=np.array([[3000.0]]), vol=np.array([[0.6]]),
                                 fee=np.array([0.0005]))

    def decide(self, t: float):
        self.k.observe(t, self.market.spot)
        return self.k.decide(t, self.market, PortfolioView(self.pos.copy(), np.array([1e5])))

    def fill(self, dec, qty: float, t: float, final: bool, cost: float = 1.0) -> bool:
        self.pos[0, 0] += qty
        return self.k.report_fill(0, 0, dec.order_ids[0, 0], qty, cost, t, final=final)


def test_each_released_order_has_a_stable_parent_child_id() -> None:
    d = Desk(kernel())
    dec = d.decide(0.0)
    assert dec.orders[0, 0] == pytest.approx(-1.0)  # 3000 USD child of a -4 ETH parent
    assert tuple(dec.order_ids[0, 0]) == (1, 0)
    d.k.record(dec, _fills(dec))
    d.pos[0, 0] += dec.hedge_orders[0, 0]
    dec2 = d.decide(5 * MIN)
    assert tuple(dec2.order_ids[0, 0]) == (1, 1)  # the same parent's next child
    quiet = d.decide(5.5 * MIN)
    assert (quiet.order_ids == -1).all()  # nothing released: no id


def test_a_resting_child_blocks_the_next_until_final_and_partial_fills_reduce_the_parent() -> None:
    d = Desk(kernel())
    dec = d.decide(0.0)
    d.k.sent(dec)
    for t in (5 * MIN, 10 * MIN):  # the child rests: nothing new goes out
        later = d.decide(t)
        assert not later.any_orders and not later.triggered[0]
    assert d.fill(dec, -0.4, 11 * MIN, final=False)
    assert d.k.order_book.parent[0, 0] == pytest.approx(-3.6)
    assert not d.decide(12 * MIN).any_orders  # still in flight
    assert d.fill(dec, -0.1, 13 * MIN, final=True)  # done: 0.5 of the 1.0 child filled
    nxt = d.decide(15 * MIN)
    assert tuple(nxt.order_ids[0, 0]) == (1, 1)
    assert nxt.orders[0, 0] == pytest.approx(-1.0)  # the parent's remainder goes on
    assert d.k.order_book.parent[0, 0] == pytest.approx(-3.5)


def test_an_unfilled_child_cancels_its_parent_and_the_triggers_decide_afresh() -> None:
    d = Desk(kernel(cooldown="0s"))
    dec = d.decide(0.0)
    d.k.sent(dec)
    assert d.fill(dec, 0.0, 1 * MIN, final=True)  # IOC expired, nothing filled
    assert d.k.order_book.parent[0, 0] == 0.0
    again = d.decide(5 * MIN)  # still 4 ETH out of band: a new parent, next split slot
    assert tuple(again.order_ids[0, 0]) == (2, 0)


def test_the_cooldown_starts_at_the_fills_time() -> None:
    d = Desk(kernel(costs="max slippage 50 bps"))  # no split: one child for the whole trade
    dec = d.decide(0.0)
    d.k.sent(dec)
    d.fill(dec, -4.0, 10 * MIN, final=True)
    d.pos[0, 0] = 4.0  # pushed out of band again
    assert not d.decide(35 * MIN).any_orders  # 25 min after the fill: cooling down
    assert d.decide(40 * MIN).any_orders


def test_a_late_fills_cost_counts_in_the_rolling_budget() -> None:
    d = Desk(kernel(costs="max slippage 50 bps", cooldown="0s"))
    dec = d.decide(0.0)
    d.k.sent(dec)
    d.fill(dec, -4.0, 1 * MIN, final=True, cost=99.0)
    d.pos[0, 0] = 4.0
    nxt = d.decide(2 * MIN)
    assert d.k.refusal_names[int(nxt.refused[0])] == "budget"  # 99 + ~6 estimated > 100


def test_a_fill_of_an_order_no_longer_in_flight_only_books_cost_and_cooldown() -> None:
    d = Desk(kernel())
    dec = d.decide(0.0)
    d.k.sent(dec)
    d.fill(dec, 0.0, 1 * MIN, final=True)  # done, parent cancelled
    assert not d.fill(dec, -0.2, 2 * MIN, final=True, cost=3.0)  # a straggler
    assert d.k.triggers.last_trade[0] == 2 * MIN
    assert d.k.order_book.parent[0, 0] == 0.0


def test_an_order_in_flight_survives_a_restart() -> None:
    d = Desk(kernel())
    dec = d.decide(0.0)
    d.k.sent(dec)
    data = json.loads(json.dumps(d.k.save_state(), allow_nan=False))
    assert data["rows"][0]["flight_id"] == [1, 0]
    fresh = Desk(kernel())
    fresh.k.restore_state(data)
    assert not fresh.decide(5 * MIN).any_orders  # still waiting: nothing sent twice
    assert fresh.fill(dec, -1.0, 6 * MIN, final=True)
    nxt = fresh.decide(10 * MIN)
    assert tuple(nxt.order_ids[0, 0]) == (1, 1)


def _fills(dec):
    from rebal.backends.kernel import Fills

    return Fills(qty=dec.hedge_orders.copy(), cost=np.zeros(dec.hedge_orders.shape[0]))


def test_immediate_record_equals_sent_then_final_reports() -> None:
    """The simulation's ``record`` is the immediate case of ``sent`` + ``report_fill``."""
    s: ir.Strategy = compiled()
    a = Run(Kernel.build(s, "sim", 3))
    b = Run(Kernel.build(s, "sim", 3), late_fills=True)
    for k in range(160):
        _same(a.step(k), b.step(k), k)
