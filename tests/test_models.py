"""Market models against known theory: moments, correlation, jumps, Heston, replay, seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rebal.backends.sim.models import (
    HestonModel,
    MarketModel,
    make_model,
)
from rebal.backends.sim.replay import ReplayModel, load_closes
from rebal.backends.sim.stochastic import correlation_factor

SAMPLE = Path(__file__).resolve().parents[1] / "specs" / "data" / "eth_1h_sample.csv"
HOUR = 1 / 8760


def _run(model: MarketModel, paths: int, seed: int, steps: int, dt: float) -> np.ndarray:
    model.reset(paths, seed)
    for _ in range(steps):
        model.step(dt)
    return model.spot


def _within(sample: np.ndarray, expected: float, sigmas: float = 4.0) -> None:
    """Sample mean equals ``expected`` within ``sigmas`` standard errors."""
    se = sample.std(ddof=1) / np.sqrt(sample.size)
    assert abs(sample.mean() - expected) < sigmas * se, (sample.mean(), expected, se)


def test_gbm_log_return_moments_and_mean() -> None:
    s0, sigma, mu, T, paths = 3000.0, 0.7, 0.1, 1.0, 40_000
    model = make_model("gbm", assets=["ETH"], spot=[s0], vol=[sigma], drift=[mu])
    s_t = _run(model, paths, 1, 12, T / 12)[:, 0]
    log_ret = np.log(s_t / s0)
    _within(log_ret, (mu - 0.5 * sigma**2) * T)
    var_se = sigma**2 * T * np.sqrt(2 / (paths - 1))
    assert abs(log_ret.var(ddof=1) - sigma**2 * T) < 4 * var_se
    _within(s_t, s0 * np.exp(mu * T))
    np.testing.assert_array_equal(model.vol, np.full((paths, 1), sigma))


def test_gbm_correlation_of_log_returns() -> None:
    model = make_model(
        "gbm",
        assets=["BTC", "ETH", "SOL"],
        spot=[90000.0, 3000.0, 150.0],
        vol=[0.55, 0.7, 0.9],
        drift=None,
        corr=np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]]),
    )
    start = model.spot.copy()
    model.reset(20_000, 3)
    log_ret = np.log(model.step(HOUR) / start[:1])
    observed = np.corrcoef(log_ret.T)
    np.testing.assert_allclose(observed[np.triu_indices(3, 1)], [0.8, 0.3, 0.5], atol=0.03)


def test_correlation_factor_validation_and_singular_fallback() -> None:
    ones = np.ones((2, 2))
    factor = correlation_factor(ones, 2)
    np.testing.assert_allclose(factor @ factor.T, ones, atol=1e-12)
    model = make_model("gbm", assets=["A", "B"], spot=[1.0, 1.0], vol=[0.5, 0.5], corr=ones)
    s = _run(model, 100, 0, 3, 0.01)
    np.testing.assert_allclose(s[:, 0], s[:, 1], rtol=1e-12)
    with pytest.raises(ValueError, match="semidefinite"):
        correlation_factor([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]], 3)
    with pytest.raises(ValueError):
        correlation_factor([[1, 0.2], [0.3, 1]], 2)
    with pytest.raises(ValueError):
        correlation_factor(np.eye(3), 2)


@pytest.mark.parametrize("kind", ["gbm", "jump", "heston"])
def test_same_seed_is_bit_identical(kind: str) -> None:
    def build() -> MarketModel:
        return make_model(
            kind,
            assets=["BTC", "ETH"],
            spot=[90000.0, 3000.0],
            vol=[0.55, 0.7],
            drift=[0.0, 0.05],
            corr=np.array([[1.0, 0.7], [0.7, 1.0]]),
            jumps=[(4.0, -0.15, 0.1), (2.0, 0.1)],
            heston=[{"mean_reversion": 3, "vol_of_vol": 0.8, "vol_correlation": -0.5}, None],
        )

    a, b = build(), build()
    a.reset(500, 42)
    b.reset(500, 42)
    for _ in range(20):
        before = a.spot
        kept = before.copy()
        np.testing.assert_array_equal(a.step(HOUR), b.step(HOUR))
        np.testing.assert_array_equal(a.vol, b.vol)
        np.testing.assert_array_equal(before, kept)  # returned arrays are never mutated
    b.reset(500, 43)
    assert not np.array_equal(a.spot, _run(b, 500, 43, 20, HOUR))
    assert np.array_equal(a.spot, _run(b, 500, 42, 20, HOUR))
    assert a.spot.shape == (500, 2) and a.spot.dtype == np.float64


def test_jump_frequency_and_sizes() -> None:
    # With no diffusion, every log-return is drift plus a whole number of log(0.85) jumps.
    lam, size, T, paths = 4.0, -0.15, 0.5, 20_000
    model = make_model("jump", assets=["ETH"], spot=[3000.0], vol=[0.0], jumps=[(lam, size)])
    s_t = _run(model, paths, 5, 50, T / 50)[:, 0]
    counts = (np.log(s_t / 3000.0) + lam * size * T) / np.log1p(size)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    _within(np.round(counts), lam * T)
    assert np.round(counts).var() == pytest.approx(lam * T, rel=0.05)


@pytest.mark.parametrize("jump", [(4.0, -0.15), (6.0, -0.1, 0.2)])
def test_jump_drift_compensation(jump: tuple[float, ...]) -> None:
    mu, T = 0.05, 1.0
    model = make_model("jump", assets=["ETH"], spot=[3000.0], vol=[0.8], drift=[mu], jumps=[jump])
    s_t = _run(model, 40_000, 9, 24, T / 24)[:, 0]
    _within(s_t, 3000.0 * np.exp(mu * T))


def test_heston_variance_mean_reversion_and_martingale() -> None:
    kappa, theta, v0, T, steps = 3.0, 0.55**2, 0.9**2, 0.5, 60
    model = make_model(
        "heston",
        assets=["BTC"],
        spot=[95000.0],
        vol=[0.55],
        heston=[{"mean_reversion": kappa, "vol_of_vol": 0.8, "vol_correlation": -0.5, "v0": v0}],
    )
    assert isinstance(model, HestonModel)
    s_t = _run(model, 40_000, 11, steps, T / steps)[:, 0]
    v_t = model.variance[:, 0]
    np.testing.assert_allclose(model.vol[:, 0], np.sqrt(v_t))
    assert np.all(v_t >= 0)
    _within(v_t, theta + (v0 - theta) * np.exp(-kappa * T))
    _within(s_t, 95000.0)


def test_heston_with_drift_and_strong_vol_of_vol() -> None:
    # psi often above 1.5 here, so the exponential QE branch is exercised too.
    model = HestonModel(
        ["ETH"], [3000.0], [0.7], [0.1], None, kappa=[1.0], xi=[1.5], rho=[-0.9], v0=[0.2]
    )
    s_t = _run(model, 40_000, 13, 30, 1 / 30)[:, 0]
    _within(s_t, 3000.0 * np.exp(0.1))
    _within(model.variance[:, 0], 0.49 + (0.2 - 0.49) * np.exp(-1.0))
    assert np.mean(model.variance[:, 0] == 0.0) > 0.001  # the branch's atom at zero


def test_heston_without_vol_of_vol_is_gbm() -> None:
    model = make_model("heston", assets=["BTC"], spot=[95000.0], vol=[0.55], heston=None)
    s_t = _run(model, 20_000, 2, 10, 0.05)[:, 0]
    np.testing.assert_allclose(model.vol, 0.55, rtol=1e-12)
    log_ret = np.log(s_t / 95000.0)
    _within(log_ret, -0.5 * 0.55**2 * 0.5)
    assert log_ret.var() == pytest.approx(0.55**2 * 0.5, rel=0.03)


def test_replay_returns_csv_closes() -> None:
    ts, closes = load_closes(SAMPLE)
    assert len(closes) >= 200 and np.all(np.diff(ts) == 3_600_000)
    model = make_model("replay", assets=["ETH"], spot=[3000.0], vol=[0.6], replay_path=str(SAMPLE))
    assert isinstance(model, ReplayModel)
    model.reset(4, 123)
    seen = [model.spot.copy()]
    seen += [model.step(HOUR).copy() for _ in range(len(closes) - 1)]
    path = np.array(seen)  # (steps, paths, assets)
    np.testing.assert_array_equal(path[:, 0, 0], closes)
    np.testing.assert_array_equal(path, np.repeat(path[:, :1], 4, axis=1))
    np.testing.assert_array_equal(model.vol, 0.6)
    assert not model.exhausted
    assert model.step(HOUR)[0, 0] == closes[-1] and model.exhausted
    # Finer steps hold each close until the next candle's time.
    model.reset(1, 0)
    quarter = [model.step(HOUR / 4)[0, 0] for _ in range(8)]
    assert quarter == [closes[0]] * 3 + [closes[1]] * 4 + [closes[2]]


def test_replay_without_header_and_two_assets(tmp_path: Path) -> None:
    rows = SAMPLE.read_text().splitlines()[1:]
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(rows[:50]) + "\n")
    later = tmp_path / "later.csv"
    later.write_text("\n".join(rows[10:60]) + "\n")
    _, closes = load_closes(SAMPLE)
    model = make_model(
        "replay",
        assets=["A", "B"],
        spot=[1.0, 1.0],
        vol=[0.5, 0.5],
        replay_path=[plain, later],
    )
    # Aligned on the later start: both columns show the same candle.
    np.testing.assert_array_equal(model.spot[0], [closes[10], closes[10]])
    np.testing.assert_array_equal(model.step(HOUR)[0], [closes[11], closes[11]])


def test_factory_errors() -> None:
    kw = {"assets": ["ETH"], "spot": [3000.0], "vol": [0.6]}
    with pytest.raises(ValueError, match="unknown market model"):
        make_model("brownian", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_model("replay", **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_model("heston", heston=[{"vol_of_volatility": 1.0}], **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_model("gbm", assets=["ETH"], spot=[3000.0, 1.0], vol=[0.6])
    with pytest.raises(ValueError):
        make_model("gbm", **kw).step(0.0)  # type: ignore[arg-type]
    assert isinstance(make_model("gbm", **kw), MarketModel)  # type: ignore[arg-type]
