"""Mark prices and per-unit greeks of every instrument, once per step, across the batch.

Spot, perps and non-par cash have delta 1 and are priced at the underlying's spot; a future at
``S e^{r tau}`` with delta ``e^{r tau}``; a par-currency cash instrument at 1 with delta 0;
options with Black–Scholes at the market's (model's) current vol. Option greeks are per unit
of underlying: ``gamma`` d2V/dS2, ``vega`` per 1.00 of vol, ``theta`` per year.

The option block is the hot path of every simulation, so it computes ``log S`` once per asset,
``d1`` once per option, only the greeks some rule reads, and falls back to
:func:`rebal.backends.kernel.pricing.bs_greeks` (the reference implementation, checked against
QuantLib) whenever an input is degenerate (expired option, zero vol).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from .layout import SECONDS_PER_YEAR, Layout
from .pricing import bs_greeks

__all__ = ["Marks", "Valuer"]

FloatArray = NDArray[np.float64]
_INV_SQRT_2PI = 0.3989422804014327


@dataclass(frozen=True, eq=False)
class Marks:
    """Prices and per-unit greeks at one time, shapes ``(B, I)``; option greeks ``(B, n_opt)``.

    ``gamma``, ``vega`` and ``theta`` are None unless some rule of the spec reads them.
    """

    t_s: float
    spot: FloatArray  # (B, A)
    vol: FloatArray  # (B, A)
    price: FloatArray  # (B, I)
    delta: FloatArray  # (B, I), may be a read-only broadcast view
    gamma: FloatArray | None  # (B, n_opt)
    vega: FloatArray | None
    theta: FloatArray | None
    layout: Layout

    @cached_property
    def notional(self) -> FloatArray:
        """Underlying spot per unit of each instrument (1 for par currencies), ``(B, I)``."""
        lay = self.layout
        out = np.ones((self.spot.shape[0], lay.n_instruments), order="F")
        for c, a in enumerate(lay.underlying):
            if a >= 0:
                out[:, c] = self.spot[:, a]
        return out


class Valuer:
    """Marks instruments for one layout; computes only the option greeks asked for."""

    def __init__(self, layout: Layout, *, gamma: bool = False, vega: bool = False,
                 theta: bool = False, reuse_buffers: bool = False) -> None:
        self.layout = layout
        # With reuse_buffers the outputs live in two alternating sets of arrays: a Marks
        # stays valid until the next-but-one call (what a step loop needs), and the hot path
        # allocates nothing, which spares it the allocator's page faults on large arrays.
        self.reuse = reuse_buffers
        self._slot = 0
        self._bufs: dict[tuple[str, int, int], FloatArray] = {}
        self.want_gamma, self.want_vega, self.want_theta = gamma, vega, theta
        lay = layout
        self._r = lay.costs.rate
        self._spot_cols = np.flatnonzero((lay.underlying >= 0) & ~lay.is_option)
        self._spot_assets = lay.underlying[self._spot_cols]
        self._par_cols = np.flatnonzero(lay.underlying < 0)
        base = np.where(lay.is_par_cash | (lay.underlying < 0), 0.0, 1.0)
        self._base_delta = base
        self._static_delta = lay.opt_cols.size == 0 and lay.fut_cols.size == 0
        self._n_opt = lay.opt_cols.size
        self._log_k = np.log(np.where(lay.opt_strike > 0, lay.opt_strike, 1.0))
        self._put = (~lay.opt_call).astype(np.float64)
        self._any_put = bool(self._put.any())
        self._one_asset = bool(self._n_opt) and bool(np.all(lay.opt_asset == lay.opt_asset[0]))
        self._opt_asset0 = int(lay.opt_asset[0]) if self._n_opt else 0
        self._strikes_ok = bool(np.all(lay.opt_strike > 0.0))
        self._spot_pairs = [(int(c), int(a)) for c, a in zip(self._spot_cols, self._spot_assets,
                                                             strict=True)]
        self._par_list = [int(c) for c in self._par_cols]
        self._unit_delta_cols = [int(c) for c in np.flatnonzero(base == 1.0)
                                 if not lay.is_option[c]]
        oc = lay.opt_cols
        contiguous = oc.size and np.array_equal(oc, np.arange(oc[0], oc[0] + oc.size))
        self._opt_index: Any = slice(int(oc[0]), int(oc[0]) + oc.size) if contiguous else oc
        if oc.size == 1:
            self._opt_index = int(oc[0])
        self._delta_cache: FloatArray | None = None

    def _buf(self, name: str, shape: tuple[int, ...], slot: int = 0, order: str = "C"
             ) -> FloatArray:
        """A reusable work array (fresh each call unless buffers are reused)."""
        if not self.reuse:
            return np.empty(shape, order=order)  # type: ignore[call-overload]
        key = (name, slot, shape[0])
        got = self._bufs.get(key)
        if got is None or got.shape != shape:
            got = np.empty(shape, order=order)  # type: ignore[call-overload]
            self._bufs[key] = got
        return got

    # ------------------------------------------------------------------ options

    def _one_option(self, s: FloatArray, v: float, tau: float, sqrt_t: float, strike: float,
                    log_k: float, put: float, out: tuple[FloatArray, FloatArray] | None
                    ) -> tuple[FloatArray, FloatArray, None, None, None]:
        """Price and delta of a single option at one vol for all paths, into ``out``."""
        b = s.shape[0]
        r = self._r
        sd = v * sqrt_t
        d1 = np.log(s, out=self._buf("d1", (b,)))
        d1 += (r + 0.5 * v * v) * tau - log_k
        d1 *= 1.0 / sd
        d2 = np.subtract(d1, sd, out=self._buf("d2", (b,)))
        price, delta = out if out is not None else (np.empty(b), np.empty(b))
        ndtr(d1, out=delta)
        ndtr(d2, out=d2)
        kd = strike if r == 0.0 else strike * float(np.exp(-r * tau))
        np.multiply(s, delta, out=price)
        d2 *= kd
        price -= d2
        if put:
            price += kd - s  # put-call parity
            delta -= 1.0
        return price, delta, None, None, None

    def _options(self, t_s: float, spot: FloatArray, vol: FloatArray,
                 out: tuple[FloatArray, FloatArray] | None = None) -> tuple[
            FloatArray, FloatArray, FloatArray | None, FloatArray | None, FloatArray | None]:
        """Option prices and greeks ``(B, n_opt)`` (``(B,)`` for one option); ``out`` gives
        the price and delta arrays to fill when there is a single option."""
        lay = self.layout
        tau = (lay.opt_expiry_s - t_s) / SECONDS_PER_YEAR
        if self._n_opt == 1:  # 1-D arrays: measurably faster through the ufunc machinery
            a = self._opt_asset0
            s_a, v_a = spot[:, a], vol[:, a]
        elif self._one_asset:
            a = self._opt_asset0
            s_a, v_a = spot[:, a:a + 1], vol[:, a:a + 1]
        else:
            s_a, v_a = spot[:, lay.opt_asset], vol[:, lay.opt_asset]
        const_vol = vol.strides[0] == 0  # one vol for every path (gbm, jump, replay)
        v0 = v_a[0]
        vol_ok = bool(np.all(v0 > 0.0)) if const_vol else bool(np.all(v_a > 0.0))
        if not (np.all(tau > 0.0) and self._strikes_ok and vol_ok):
            strike, call = lay.opt_strike, lay.opt_call
            if self._n_opt == 1:
                strike, call, tau = strike[0], call[0], tau[0]
            g = bs_greeks(s_a, strike, tau, v_a, self._r, call)
            return (g.price, g.delta, g.gamma if self.want_gamma else None,
                    g.vega if self.want_vega else None, g.theta if self.want_theta else None)
        r = self._r
        if self._n_opt == 1:
            tau, strike, log_k, put = float(tau[0]), float(lay.opt_strike[0]), \
                float(self._log_k[0]), float(self._put[0])
        else:
            strike, log_k, put = lay.opt_strike, self._log_k, self._put
        sqrt_t = np.sqrt(tau)
        if const_vol and self._n_opt == 1 and not (self.want_gamma or self.want_vega
                                                    or self.want_theta):
            return self._one_option(s_a, float(v0), tau, sqrt_t, strike, log_k, put, out)
        log_s = np.log(s_a)
        if const_vol:
            v = v0 if self._n_opt == 1 else np.ascontiguousarray(v0)  # scalar or (n,)
            sd: Any = v * sqrt_t
            shift = (r + 0.5 * v * v) * tau - log_k
            d1 = log_s + shift
            d1 *= 1.0 / sd
        else:
            v = v_a
            sd = v_a * sqrt_t  # (B, n)
            d1 = log_s - log_k
            d1 += (0.5 * tau) * (v_a * v_a) + r * tau
            d1 /= sd
        d2 = d1 - sd
        n1 = ndtr(d1)
        n2 = ndtr(d2)
        kd = strike if r == 0.0 else strike * np.exp(-r * tau)
        price = s_a * n1
        n2 *= kd
        price -= n2  # call value
        delta = n1
        if self._any_put:
            price += put * (kd - s_a)  # put-call parity
            delta = n1 - put
        gamma = vega = theta = None
        if self.want_gamma or self.want_vega or self.want_theta:
            pdf = np.exp(-0.5 * d1 * d1)
            pdf *= _INV_SQRT_2PI
            if self.want_gamma:
                gamma = pdf / (s_a * sd)
            s_pdf = s_a * pdf
            if self.want_vega:
                vega = s_pdf * sqrt_t
            if self.want_theta:
                theta = -0.5 * s_pdf * (v / sqrt_t)
                if r != 0.0:
                    # call: - r K e^{-r tau} N(d2); a put adds r K e^{-r tau}.
                    theta = theta - r * n2 + put * (r * kd)
        return price, delta, gamma, vega, theta

    # ------------------------------------------------------------------ all instruments

    def mark(self, t_s: float, spot: FloatArray, vol: FloatArray) -> Marks:
        """Mark every instrument at ``t_s`` (seconds since the layout's epoch)."""
        lay = self.layout
        b = spot.shape[0]
        n = lay.n_instruments
        slot = self._slot = 1 - self._slot
        price = self._buf("price", (b, n), slot, "F")
        for c, a in self._spot_pairs:
            price[:, c] = spot[:, a]
        for c in self._par_list:
            price[:, c] = 1.0
        gamma = vega = theta = None
        if self._static_delta:
            delta: FloatArray = self._delta_view(b)
        else:
            delta = self._buf("delta", (b, n), slot, "F")
            for c in self._unit_delta_cols:
                delta[:, c] = 1.0
            for c in self._par_list:
                delta[:, c] = 0.0
            if self._n_opt == 1:
                c = self._opt_index
                op, od, gamma, vega, theta = self._options(
                    t_s, spot, vol, (price[:, c], delta[:, c]))
                if not np.may_share_memory(op, price):
                    price[:, c] = op
                    delta[:, c] = od
                # option greeks are (B, n_opt) for every caller
                gamma = None if gamma is None else gamma.reshape(b, 1)
                vega = None if vega is None else vega.reshape(b, 1)
                theta = None if theta is None else theta.reshape(b, 1)
            elif self._n_opt:
                op, od, gamma, vega, theta = self._options(t_s, spot, vol)
                price[:, self._opt_index] = op
                delta[:, self._opt_index] = od
            if lay.fut_cols.size:
                tau = np.maximum(lay.fut_expiry_s - t_s, 0.0) / SECONDS_PER_YEAR
                growth = np.exp(self._r * tau)
                price[:, lay.fut_cols] *= growth
                delta[:, lay.fut_cols] = growth
        return Marks(t_s, spot, vol, price, delta, gamma, vega, theta, lay)

    def _delta_view(self, b: int) -> FloatArray:
        if self._delta_cache is None or self._delta_cache.shape[0] != b:
            self._delta_cache = np.broadcast_to(self._base_delta, (b, self.layout.n_instruments))
        return self._delta_cache
