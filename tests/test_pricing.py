"""Black–Scholes kernel: reference values from QuantLib, parity, finite differences, edges."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rebal.backends.kernel.pricing import Greeks, bs_delta, bs_greeks, bs_price

FIXTURE = Path(__file__).parent / "fixtures" / "bs_reference.json"
FIELDS = ("price", "delta", "gamma", "vega", "theta")
INPUTS = ("S", "K", "T", "sigma", "r", "is_call")


def _cases() -> list[dict[str, Any]]:
    with FIXTURE.open() as fh:
        cases: list[dict[str, Any]] = json.load(fh)["cases"]
    return cases


def _close(actual: np.ndarray, expected: np.ndarray, tol: float = 1e-10) -> None:
    """Relative error for magnitudes above 1, absolute error below."""
    err = np.abs(np.asarray(actual) - np.asarray(expected)) / np.maximum(1.0, np.abs(expected))
    assert float(np.max(err)) <= tol, f"max scaled error {np.max(err):.3e}"


def test_fixture_covers_the_grid() -> None:
    cases = _cases()
    assert len(cases) >= 24
    assert {c["is_call"] for c in cases} == {True, False}
    assert any(c["r"] != 0 for c in cases) and any(c["r"] == 0 for c in cases)
    assert any(c["S"] == c["K"] for c in cases)
    assert max(c["sigma"] for c in cases) >= 1.0


def test_matches_quantlib_vectorized() -> None:
    cases = _cases()
    args = [np.array([c[k] for c in cases]) for k in INPUTS]
    greeks = bs_greeks(*args)
    for field in FIELDS:
        _close(getattr(greeks, field), np.array([c[field] for c in cases]))
    _close(bs_price(*args), np.array([c["price"] for c in cases]))
    _close(bs_delta(*args), np.array([c["delta"] for c in cases]))


@pytest.mark.parametrize("case", _cases()[::9], ids=lambda c: f"{c['S']}-{c['K']}-{c['days']}")
def test_matches_quantlib_scalar(case: dict[str, Any]) -> None:
    greeks = bs_greeks(*(case[k] for k in INPUTS))
    assert isinstance(greeks, Greeks)
    for field in FIELDS:
        value = getattr(greeks, field)
        assert value.shape == ()
        _close(value, np.array(case[field]))


def test_put_call_parity() -> None:
    rng = np.random.default_rng(7)
    n = 500
    S = rng.uniform(500, 5000, n)
    K = rng.uniform(500, 5000, n)
    T = rng.uniform(1e-3, 3.0, n)
    sigma = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(-0.02, 0.1, n)
    call = bs_greeks(S, K, T, sigma, r, True)
    put = bs_greeks(S, K, T, sigma, r, False)
    disc = np.exp(-r * T)
    _close((call.price - put.price) / S, (S - K * disc) / S, 1e-13)
    _close(call.delta - put.delta, np.ones(n), 1e-13)
    _close(call.gamma, put.gamma, 1e-13)
    _close(call.vega / S, put.vega / S, 1e-13)
    _close((call.theta - put.theta) / K, -r * disc, 1e-12)


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_match_finite_differences(is_call: bool) -> None:
    S = np.array([3000.0, 3000.0, 2000.0, 90000.0])
    K = np.array([3000.0, 3300.0, 2600.0, 80000.0])
    T = np.array([0.5, 0.1, 2.0, 0.05])
    sigma = np.array([0.6, 0.8, 0.3, 1.2])
    r = np.array([0.0, 0.04, 0.02, -0.01])
    g = bs_greeks(S, K, T, sigma, r, is_call)

    def price(**kw: np.ndarray) -> np.ndarray:
        a = {"S": S, "K": K, "T": T, "sigma": sigma, "r": r} | kw
        return bs_price(a["S"], a["K"], a["T"], a["sigma"], a["r"], is_call)

    h = S * 1e-4
    fd_delta = (price(S=S + h) - price(S=S - h)) / (2 * h)
    fd_gamma = (price(S=S + h) - 2 * g.price + price(S=S - h)) / h**2
    fd_vega = (price(sigma=sigma + 1e-5) - price(sigma=sigma - 1e-5)) / 2e-5
    fd_theta = -(price(T=T + 1e-6) - price(T=T - 1e-6)) / 2e-6
    np.testing.assert_allclose(g.delta, fd_delta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.gamma, fd_gamma, rtol=1e-4)
    np.testing.assert_allclose(g.vega, fd_vega, rtol=1e-6)
    np.testing.assert_allclose(g.theta, fd_theta, rtol=1e-5)
    np.testing.assert_allclose(bs_delta(S, K, T, sigma, r, is_call), g.delta, rtol=1e-14)


def test_long_option_theta_negative_at_zero_rate() -> None:
    g = bs_greeks(3000.0, [2000.0, 3000.0, 4000.0], 0.25, 0.7, 0.0, [True, False, True])
    assert np.all(g.theta < 0)
    assert np.all(g.vega > 0) and np.all(g.gamma > 0)


def test_expired_is_intrinsic_without_warnings() -> None:
    S = np.array([2500.0, 3000.0, 3500.0, 2500.0, 3000.0, 3500.0])
    call = np.array([True, True, True, False, False, False])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for T in (0.0, -0.5):
            g = bs_greeks(S, 3000.0, T, 0.6, 0.05, call)
            np.testing.assert_array_equal(g.price, [0, 0, 500, 500, 0, 0])
            np.testing.assert_array_equal(g.delta, [0, 0.5, 1, -1, -0.5, 0])
            for field in ("gamma", "vega", "theta"):
                np.testing.assert_array_equal(getattr(g, field), 0.0)
            np.testing.assert_array_equal(bs_price(S, 3000.0, T, 0.6, 0.05, call), g.price)
            np.testing.assert_array_equal(bs_delta(S, 3000.0, T, 0.6, 0.05, call), g.delta)
        # Mixed live and expired elements in one batch: live ones are unaffected.
        T_mixed = np.array([0.0, 0.5, 0.0, 0.5, 0.0, 0.5])
        g = bs_greeks(S, 3000.0, T_mixed, 0.6, 0.05, call)
        live = bs_greeks(S[1::2], 3000.0, 0.5, 0.6, 0.05, call[1::2])
        for field in FIELDS:
            assert np.all(np.isfinite(getattr(g, field)))
            np.testing.assert_array_equal(getattr(g, field)[1::2], getattr(live, field))


def test_zero_vol_is_discounted_intrinsic() -> None:
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        g = bs_greeks(3000.0, 3000.0, 1.0, 0.0, 0.05, [True, False])
    kd = 3000.0 * np.exp(-0.05)
    np.testing.assert_allclose(g.price, [3000.0 - kd, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(g.delta, [1.0, 0.0])
    np.testing.assert_allclose(g.theta, [-0.05 * kd, 0.0], rtol=1e-15)
    # The limit of small vol agrees.
    near = bs_greeks(3000.0, 3000.0, 1.0, 1e-6, 0.05, True)
    np.testing.assert_allclose(near.price, g.price[0], rtol=1e-12)


def test_broadcasts_over_batch_axis() -> None:
    paths = np.linspace(2000.0, 4000.0, 7)[:, None]  # (paths, 1)
    strikes = np.array([2800.0, 3000.0, 3200.0])  # (instruments,)
    calls = np.array([True, False, True])
    g = bs_greeks(paths, strikes, 0.2, np.full((7, 1), 0.6), 0.01, calls)
    for field in FIELDS:
        assert getattr(g, field).shape == (7, 3)
        assert getattr(g, field).flags.writeable
    one = bs_greeks(paths[3, 0], strikes[1], 0.2, 0.6, 0.01, False)
    for field in FIELDS:
        assert getattr(g, field)[3, 1] == pytest.approx(float(getattr(one, field)), rel=1e-15)
    assert bs_price(paths, strikes, 0.2, 0.6, 0.01, calls).shape == (7, 3)
    assert bs_delta(paths, strikes, 0.2, 0.6, 0.01, calls).shape == (7, 3)
