"""Market path generators for the sim venue: streaming, seeded, vectorized across paths.

Every model advances ``paths x assets`` spots one step at a time, so memory stays flat in the
number of steps, and draws from per-block PCG64 generators seeded in :meth:`reset`
(:mod:`.blocks`): the same seed and step sequence give every path bit-identical numbers,
whether it is stepped with all other paths or in a block range of its own. Arrays returned by ``step``,
``spot`` and ``vol`` are never written to afterwards by the model (each step makes new ones),
so callers may keep them; ``vol`` may be a read-only broadcast view.

Conventions: times in years of 365 days; ``drift`` mu is the arithmetic drift, so
``E[S_T] = S_0 exp(mu T)`` in every stochastic model; ``vol`` is the log-return volatility.
Models: ``gbm`` (exact log-normal), ``jump`` (Merton, compensated), ``heston`` (Andersen QE)
and ``replay`` (CSV closes, in :mod:`.replay`); see each class. :func:`make_model` builds one from the sim
venue's settings. The stochastic models' shared base (spots, block streams, correlated normals,
the step) and :func:`~.stochastic.correlation_factor` are in :mod:`.stochastic`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from .arrays import FloatArray, per_asset
from .replay import Closes, ReplayModel
from .stochastic import StochasticModel, as_column

_PSI_C = 1.5  # Andersen's switching level between the quadratic and exponential QE branches


@runtime_checkable
class MarketModel(Protocol):
    """What the simulator needs from a path generator."""

    assets: tuple[str, ...]

    def reset(self, paths: int, seed: int, first_block: int = 0) -> None: ...

    def step(self, dt_years: float) -> FloatArray: ...

    @property
    def spot(self) -> FloatArray: ...

    @property
    def vol(self) -> FloatArray: ...


class GBMModel(StochasticModel):
    """Correlated GBM, exact for any step: ``S *= exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z)``."""

    def _log_drift(self) -> FloatArray:
        return self.mu - 0.5 * self.sigma**2

    def _set_dt(self, dt: float) -> None:
        self._drift_dt = as_column(self._log_drift() * dt)
        self._vol_sqdt = as_column(self.sigma * np.sqrt(dt))

    def _log_return(self) -> FloatArray:
        z = self._normals()  # fresh: drift + vol sqrt(dt) z computed in it
        np.multiply(self._vol_sqdt, z, out=z)
        np.add(self._drift_dt, z, out=z)
        return z


class JumpModel(GBMModel):
    """Merton jump diffusion: GBM plus compound Poisson jumps, independent across assets.

    A jump maps ``S -> S (1 + J)`` with ``E[J] = size`` (``jumps 4 per 1y size -15%``);
    ``log(1 + J)`` is normal with the given jump vol, or exactly ``log(1 + size)`` when it is 0.
    The diffusion drift is lowered by ``intensity * size`` so ``E[S_T] = S_0 exp(mu T)``.
    """

    _draw_ahead = 1  # Poisson counts and jump sizes come between the normals of a stream

    def __init__(
        self,
        assets: Sequence[str],
        spot: ArrayLike,
        vol: ArrayLike,
        drift: ArrayLike | None = None,
        corr: ArrayLike | None = None,
        *,
        intensity: ArrayLike,
        size: ArrayLike,
        jump_vol: ArrayLike | None = None,
    ) -> None:
        n = len(assets)
        self.intensity = per_asset("jump intensity", intensity, n)
        self.size = per_asset("jump size", size, n)
        self.jump_vol = np.zeros(n) if jump_vol is None else per_asset("jump vol", jump_vol, n)
        if np.any(self.intensity < 0) or np.any(self.size <= -1) or np.any(self.jump_vol < 0):
            raise ValueError("jump intensity and vol must be >= 0 and jump size > -100%")
        # log(1 + J) ~ N(m, s^2) with E[1 + J] = exp(m + s^2 / 2) = 1 + size.
        self._log_jump_mean = np.log1p(self.size) - 0.5 * self.jump_vol**2
        super().__init__(assets, spot, vol, drift, corr)

    def _log_drift(self) -> FloatArray:
        return self.mu - 0.5 * self.sigma**2 - self.intensity * self.size

    def _set_dt(self, dt: float) -> None:
        super()._set_dt(dt)
        self._lam_dt = self.intensity * dt

    def _log_return(self) -> FloatArray:
        log_ret = super()._log_return()
        # Independent Poisson counts per path, drawn per block as a Poisson total scattered
        # uniformly over the block's paths (the same joint law), so the cost scales with jumps.
        for i in range(len(self.assets)):
            for rng, lo, hi in self._streams:
                total = int(rng.poisson(self._lam_dt[i] * (hi - lo)))
                if total:
                    where = lo + rng.integers(0, hi - lo, total)
                    sizes = self._log_jump_mean[i] + self.jump_vol[i] * rng.standard_normal(total)
                    np.add.at(log_ret[i], where, sizes)
        return log_ret


# Spec setting -> (HestonModel argument, default); None defaults to the asset's vol**2.
_HESTON_PARAMS: dict[str, tuple[str, float | None]] = {
    "mean_reversion": ("kappa", 1.0),
    "vol_of_vol": ("xi", 0.0),
    "vol_correlation": ("rho", 0.0),
    "long_run_variance": ("theta", None),
    "v0": ("v0", None),
}


class HestonModel(StochasticModel):
    """Heston stochastic variance with Andersen's QE scheme (psi_c = 1.5) for the variance and
    his central (gamma1 = gamma2 = 1/2) log-spot step with martingale correction, so that
    ``E[S_{t+dt} | S_t] = S_t exp(mu dt)`` exactly. The correlation matrix acts on both the
    spot and the variance shocks across assets; ``vol`` is ``sqrt(v)`` per path.

    Per asset: ``kappa`` mean reversion (per year), ``xi`` vol of vol, ``rho`` spot–variance
    correlation, ``theta`` long-run variance and ``v0`` initial variance (both default to
    ``vol**2``). ``xi = 0`` gives deterministic variance (GBM when ``v0 == theta``).
    """

    def __init__(
        self,
        assets: Sequence[str],
        spot: ArrayLike,
        vol: ArrayLike,
        drift: ArrayLike | None = None,
        corr: ArrayLike | None = None,
        *,
        kappa: ArrayLike,
        xi: ArrayLike,
        rho: ArrayLike,
        theta: ArrayLike | None = None,
        v0: ArrayLike | None = None,
    ) -> None:
        n = len(assets)
        var = per_asset("vol", vol, n) ** 2
        self.kappa = per_asset("mean_reversion", kappa, n)
        self.xi = per_asset("vol_of_vol", xi, n)
        self.rho = per_asset("vol_correlation", rho, n)
        self.theta = var if theta is None else per_asset("long-run variance", theta, n)
        self.v0 = var if v0 is None else per_asset("v0", v0, n)
        if np.any(self.kappa < 0) or np.any(self.xi < 0) or np.any(np.abs(self.rho) > 1):
            raise ValueError("Heston needs mean_reversion >= 0, vol_of_vol >= 0, |rho| <= 1")
        if np.any(self.theta < 0) or np.any(self.v0 < 0):
            raise ValueError("Heston variances must be non-negative")
        super().__init__(assets, spot, np.sqrt(self.v0), drift, corr)

    def _reset_state(self) -> None:
        self._v = np.repeat(self.v0[:, None], self.paths, axis=1)

    @property
    def vol(self) -> FloatArray:
        """Instantaneous vol ``sqrt(v)`` per path, shape ``(paths, assets)``."""
        return np.sqrt(self._v).T

    @property
    def variance(self) -> FloatArray:
        """Instantaneous variance ``v`` per path, shape ``(paths, assets)``."""
        return self._v.T

    def _set_dt(self, dt: float) -> None:
        k, th, xi = self.kappa, self.theta, self.xi
        ekd = np.exp(-k * dt)
        one_minus = -np.expm1(-k * dt)
        frac = np.where(k > 0, one_minus / np.where(k > 0, k, 1.0), dt)  # (1 - e^{-k dt}) / k
        rho_xi = np.where(xi > 0, self.rho / np.where(xi > 0, xi, 1.0), 0.0)
        rho = np.where(xi > 0, self.rho, 0.0)
        # Andersen's K0..K4 with gamma1 = gamma2 = 1/2, so K3 = K4.
        k0 = -rho_xi * k * th * dt
        k1 = 0.5 * dt * (k * rho_xi - 0.5) - rho_xi
        k2 = 0.5 * dt * (k * rho_xi - 0.5) + rho_xi
        k3 = 0.5 * dt * (1 - rho**2)
        cols = (th, ekd, xi**2 * ekd * frac, th * xi**2 * one_minus * frac / 2, k0, k1, k2, k3)
        self._th, self._ekd, self._c1, self._c2, self._k0, self._k1, self._k2, self._k3 = (
            as_column(np.asarray(c, dtype=np.float64)) for c in cols
        )
        self._big_a = self._k2 + 0.5 * self._k3
        self._mu_dt = as_column(self.mu * dt)

    def _log_return(self) -> FloatArray:
        v, big_a = self._v, self._big_a
        zv = self._normals()
        zs = self._normals()
        m = np.maximum(self._th + (v - self._th) * self._ekd, 1e-150)  # m**2 stays normal
        psi = (v * self._c1 + self._c2) / (m * m)
        # Quadratic branch, V = a (b + Zv)^2, and ln E[exp(A V)] for the martingale correction;
        # psi is clipped so the formula stays finite where the other branch applies.
        inv = 2.0 / np.clip(psi, 1e-100, _PSI_C)
        b2 = inv - 1.0 + np.sqrt(inv * (inv - 1.0))
        a = m / (1.0 + b2)
        v_new = a * (np.sqrt(b2) + zv) ** 2
        one_2aa = 1.0 - 2.0 * big_a * a
        ok = one_2aa > 0.0
        one_2aa = np.where(ok, one_2aa, 1.0)
        log_mgf = big_a * b2 * a / one_2aa - 0.5 * np.log(one_2aa)
        tail = psi > _PSI_C
        if tail.any():
            # Exponential branch: V = 0 with probability p, else exponential; 1 - U = N(-Zv).
            psi_e, m_e, a_e = psi[tail], m[tail], np.broadcast_to(big_a, psi.shape)[tail]
            p = (psi_e - 1.0) / (psi_e + 1.0)
            beta = (1.0 - p) / m_e
            q = np.maximum(ndtr(-zv[tail]), 1e-300)
            v_new[tail] = np.log(np.maximum(1.0 - p, q) / q) / np.where(beta > 0, beta, 1.0)
            ok_e = beta > a_e
            log_mgf[tail] = np.log(p + beta * (1.0 - p) / np.where(ok_e, beta - a_e, 1.0))
            ok[tail] = ok_e
        # K0* = -ln E[exp(A V)] - (K1 + K3/2) v makes E[S_{t+dt} | S_t] = S_t exp(mu dt);
        # where that expectation does not exist, fall back to Andersen's plain K0.
        drift = self._k2 * v_new - log_mgf - 0.5 * self._k3 * v
        if not ok.all():
            drift = np.where(ok, drift, self._k0 + self._k1 * v + self._k2 * v_new)
        self._v = v_new
        log_ret: FloatArray = self._mu_dt + drift + np.sqrt(self._k3 * (v + v_new)) * zs
        return log_ret


def make_model(
    kind: str,
    *,
    assets: Sequence[str],
    spot: Sequence[float],
    vol: Sequence[float],
    drift: Sequence[float] | None = None,
    corr: ArrayLike | None = None,
    jumps: Sequence[tuple[float, ...] | None] | None = None,
    heston: Sequence[Mapping[str, float] | None] | None = None,
    replay_path: str | Path | Sequence[str | Path] | None = None,
    replay_closes: Closes | None = None,
) -> MarketModel:
    """Build the model named by the spec's ``model`` setting; unused parameters are ignored.

    ``jumps``: per asset ``(intensity per year, relative size[, jump vol])``, None for none.
    ``heston``: per asset mapping of ``mean_reversion`` (default 1), ``vol_of_vol`` (0),
    ``vol_correlation`` (0), ``long_run_variance`` and ``v0`` (both default ``vol**2``).
    ``replay_path``: one CSV for a single asset, or one per asset; ``replay_closes``: the
    closes of a single asset's CSV already read (:func:`.replay.load_closes`), used instead.
    """
    n = len(assets)
    if kind == "gbm":
        return GBMModel(assets, spot, vol, drift, corr)
    if kind == "jump":
        rows = [(*j, 0.0)[:3] if j else (0.0, 0.0, 0.0) for j in (jumps or [None] * n)]
        if len(rows) != n or any(j is not None and len(j) not in (2, 3) for j in jumps or []):
            raise ValueError("jumps needs one (intensity, size[, jump_vol]) per asset")
        lam, size, jump_vol = zip(*rows, strict=True)
        return JumpModel(
            assets, spot, vol, drift, corr, intensity=lam, size=size, jump_vol=jump_vol
        )
    if kind == "heston":
        specs = [dict(h or {}) for h in (heston or [None] * n)]
        unknown = {key for h in specs for key in h} - set(_HESTON_PARAMS)
        if len(specs) != n or unknown:
            raise ValueError(f"heston needs one mapping per asset; unknown keys {sorted(unknown)}")
        var = per_asset("vol", vol, n) ** 2
        params = {
            arg: [
                float(h.get(key, var[i] if default is None else default))
                for i, h in enumerate(specs)
            ]
            for key, (arg, default) in _HESTON_PARAMS.items()
        }
        return HestonModel(assets, spot, vol, drift, corr, **params)
    if kind == "replay":
        if replay_closes is not None:
            return ReplayModel(assets, [replay_closes], vol)
        if replay_path is None:
            raise ValueError("replay needs a CSV file")
        if isinstance(replay_path, str | Path):
            return ReplayModel(assets, [replay_path], vol)
        return ReplayModel(assets, list(replay_path), vol)
    raise ValueError(f"unknown market model {kind!r}; expected gbm, jump, heston or replay")
