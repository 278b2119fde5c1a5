"""Vectorized Black–Scholes prices and greeks for European options.

Everything broadcasts: spot, strike, expiry, vol, rate and the call/put flag may be scalars or
arrays of any mutually broadcastable shapes (typically a leading batch axis of simulation
paths). The simulation calls these once per step across all paths, so the hot path computes
``d1``/``d2`` once, uses :func:`scipy.special.ndtr`, and only pays for special cases when an
input is actually degenerate.

Conventions (all per unit of underlying, in settle currency):

* ``price``: option value; ``delta``: dV/dS; ``gamma``: d2V/dS2.
* ``vega``: dV/dsigma per 1.00 of vol (divide by 100 for per vol point).
* ``theta``: dV/dt per year of calendar time (``-dV/dT``), negative for a long option
  when r = 0.
* ``T`` in years, ``sigma`` and ``r`` per year, continuous compounding; no dividends.

Degenerate inputs (``T <= 0``, ``sigma * sqrt(T) == 0``, ``S <= 0`` or ``K <= 0``) give the limit value:
the intrinsic value against the discounted strike ``K * exp(-r * max(T, 0))``, delta of that
payoff (a 1/0/-1 step, with ±0.5 exactly at the money so call minus put delta stays 1), and
zero gamma and vega. Theta is zero for expired options; for ``sigma = 0`` and ``T > 0`` it is
the carry of the discounted strike. No NaN and no floating-point warnings are produced.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

__all__ = ["Greeks", "bs_delta", "bs_greeks", "bs_price", "density_greeks", "expired_into",
           "price_delta_into", "signed_d1_d2_into"]

FloatArray = NDArray[np.float64]

_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


class Greeks(NamedTuple):
    """Black–Scholes value and sensitivities, each broadcast to the inputs' common shape."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


class _Setup(NamedTuple):
    """Shared intermediate terms; ``deg`` is None when no element is degenerate."""

    S: FloatArray
    K: FloatArray
    T: FloatArray
    sigma: FloatArray
    r: FloatArray | float
    w: FloatArray | float  # +1 for calls, -1 for puts
    sqrt_t: FloatArray
    sd: FloatArray  # sigma * sqrt(T), made safe (1.0) where degenerate
    d1: FloatArray
    disc: FloatArray | float  # exp(-r T)
    deg: NDArray[np.bool_] | None


def _setup(
    S: ArrayLike, K: ArrayLike, T: ArrayLike, sigma: ArrayLike, r: ArrayLike, is_call: ArrayLike
) -> _Setup:
    S_ = np.asarray(S, dtype=np.float64)
    K_ = np.asarray(K, dtype=np.float64)
    T_ = np.asarray(T, dtype=np.float64)
    sig = np.asarray(sigma, dtype=np.float64)
    call = np.asarray(is_call, dtype=bool)
    w: FloatArray | float
    w = (1.0 if bool(call) else -1.0) if call.ndim == 0 else np.where(call, 1.0, -1.0)

    r_: FloatArray | float
    if np.ndim(r) == 0:
        r_ = float(np.asarray(r, dtype=np.float64))
    else:
        r_ = np.asarray(r, dtype=np.float64)

    sqrt_t = np.sqrt(np.maximum(T_, 0.0))
    sd = sig * sqrt_t
    # Written as "not (x > 0)" so NaN inputs also stay out of the log and divide below.
    deg_mask = ~((sd > 0.0) & (S_ > 0.0) & (K_ > 0.0))
    deg: NDArray[np.bool_] | None = deg_mask if deg_mask.any() else None

    t_pos = np.maximum(T_, 0.0) if deg is not None else T_
    if isinstance(r_, float) and r_ == 0.0:
        disc: FloatArray | float = 1.0
        drift = 0.5 * sig * sig * t_pos
    else:
        disc = np.exp(-np.multiply(r_, t_pos))
        drift = (r_ + 0.5 * sig * sig) * t_pos

    if deg is None:
        d1 = (np.log(S_ / K_) + drift) / sd
    else:
        sd = np.where(deg, 1.0, sd)
        K_safe = np.where(deg, 1.0, K_)
        S_safe = np.where(deg, K_safe, S_)
        d1 = np.where(deg, 0.0, (np.log(S_safe / K_safe) + drift) / sd)
        sqrt_t = np.where(deg, 1.0, sqrt_t)
    return _Setup(S_, K_, T_, sig, r_, w, sqrt_t, sd, d1, disc, deg)


def _intrinsic(s: _Setup) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Limit price, delta and theta where the option has no time value left."""
    kd = s.K * s.disc
    moneyness = s.w * (s.S - kd)  # > 0 means in the money
    price = np.maximum(moneyness, 0.0)
    itm = np.where(moneyness > 0.0, 1.0, np.where(moneyness == 0.0, 0.5, 0.0))
    delta = s.w * itm
    # sigma = 0 but T > 0: V = w (S - K e^{-rT}) in the money, so dV/dt = -w r K e^{-rT}.
    alive = s.T > 0.0
    theta = np.where(alive & (moneyness > 0.0), -s.w * np.multiply(s.r, kd), 0.0)
    return price, delta, theta


def signed_d1_d2_into(log_s: FloatArray, log_k: Any, tau: Any, sqrt_t: Any, v: Any, r: float,
                      w: Any, d1: FloatArray, d2: FloatArray, *, sd_out: FloatArray | None = None,
                      tmp: FloatArray | None = None, any_put: bool = True) -> Any:
    """``w d1`` and ``w d2`` written into ``d1`` and ``d2``; returns ``sigma sqrt(T)``.

    The in-place form of :func:`_setup`'s ``d1`` for the kernel's option marking: ``log_s``
    is ``log S`` ``(B, n)`` or ``(B,)``, ``log_k``, ``tau``, ``sqrt_t`` and ``w`` (+1 call,
    -1 put) per option, ``v`` one vol per option (scalar or ``(n,)``) or, with ``sd_out`` and
    ``tmp`` work arrays given, per path and option ``(B, n)`` (``any_put``: some ``w`` is -1).
    Inputs must be non-degenerate (positive vol, strike and time).
    """
    if sd_out is None:
        sd = v * sqrt_t
        np.add(log_s, (r + 0.5 * v * v) * tau - log_k, out=d1)
        d1 *= w / sd  # w d1
        np.subtract(d1, w * sd, out=d2)  # w d2
        return sd
    assert tmp is not None
    sd_a = np.multiply(v, sqrt_t, out=sd_out)
    np.subtract(log_s, log_k, out=d1)
    np.multiply(v, v, out=tmp)
    tmp *= 0.5 * tau
    if r != 0.0:
        tmp += r * tau
    d1 += tmp
    d1 /= sd_a
    np.subtract(d1, sd_a, out=d2)
    if any_put:
        d1 *= w
        d2 *= w
    return sd_a


def expired_into(S: FloatArray, K: Any, w: Any, put: Any, money: FloatArray, value: FloatArray
                 ) -> tuple[FloatArray, FloatArray]:
    """Limit price and delta of options at or past expiry, in place: with ``x = S - K``,
    price ``max(w x, 0)``; delta ``w`` past the strike, 0 short of it and ``w / 2`` at it
    (``[x > 0] - [put] + [x = 0] / 2``), as :func:`bs_greeks` gives them for ``T <= 0`` with
    ``r = 0``. ``money`` and ``value`` are work arrays; returns (price, delta) in them."""
    np.subtract(S, K, out=money)
    np.multiply(money, w, out=value)
    np.maximum(value, 0.0, out=value)
    past, at = money > 0.0, money == 0.0
    np.subtract(past, put, out=money)
    if at.any():
        money += 0.5 * at
    return value, money


def price_delta_into(S: ArrayLike, wd1: FloatArray, wd2: FloatArray, kd: ArrayLike,
                     w: FloatArray | float, price: FloatArray, delta: FloatArray,
                     scratch: FloatArray | None = None) -> None:
    """Black–Scholes price and delta from ``w d1`` and ``w d2``, written in place.

    ``w`` is +1 for a call and -1 for a put (per element or scalar); ``kd`` is the discounted
    strike. ``price = w (S N(w d1) - kd N(w d2))`` and ``delta = w N(w d1)``: puts go through
    the same formulas, with no put-call parity step and no cancellation for deep puts.
    ``wd2`` is overwritten with ``kd N(w d2)`` (theta's carry term reuses it). ``scratch``
    receives ``N(w d1)``; it defaults to ``delta``, which is right when every ``w`` is +1.
    This is the one implementation of the formulas: :func:`bs_greeks`, :func:`bs_price` and
    the kernel's in-place marking of option books all call it.
    """
    n1 = delta if scratch is None else scratch
    kd_: Any = kd  # an array or a scalar; numpy's stubs cannot multiply "ArrayLike" in place
    ndtr(wd1, out=n1)  # N(w d1)
    np.multiply(S, n1, out=price)
    ndtr(wd2, out=wd2)
    wd2 *= kd_  # kd N(w d2)
    price -= wd2
    if scratch is not None:
        price *= w
        np.multiply(n1, w, out=delta)


def density_greeks(S: ArrayLike, d1: ArrayLike, sd: ArrayLike, sqrt_t: ArrayLike,
                   sigma: ArrayLike, r: ArrayLike, w: ArrayLike, carry: ArrayLike, *,
                   gamma: bool = True, vega: bool = True, theta: bool = True
                   ) -> tuple[Any, Any, Any]:
    """Gamma, vega and theta from ``d1`` (or ``w d1``: the density is even) and the carry
    term ``K e^{-rT} N(w d2)`` that :func:`price_delta_into` leaves; None where not asked.

    The one implementation of these formulas, for :func:`bs_greeks` and the kernel.
    """
    pdf = np.exp(-0.5 * np.multiply(d1, d1))
    pdf *= _INV_SQRT_2PI
    s_pdf = np.multiply(S, pdf)
    g = pdf / np.multiply(S, sd) if gamma else None
    v = s_pdf * sqrt_t if vega else None
    t = None
    if theta:
        t = -0.5 * s_pdf * np.divide(sigma, sqrt_t)
        if not (np.ndim(r) == 0 and float(r) == 0.0):  # type: ignore[arg-type]
            t = t - np.multiply(np.multiply(r, w), carry)  # - w r K e^{-rT} N(w d2)
    return g, v, t


def _price_delta(s: _Setup) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Price, delta and ``K e^{-rT} N(w d2)`` for the broadcast inputs of ``s``."""
    kd = s.K * s.disc
    shape = np.broadcast_shapes(np.shape(s.S), np.shape(s.d1), np.shape(kd), np.shape(s.w))
    price, delta, nd1 = np.empty(shape), np.empty(shape), np.empty(shape)
    carry = np.array(np.broadcast_to(s.w * (s.d1 - s.sd), shape), dtype=np.float64)
    wd1 = np.asarray(np.broadcast_to(s.w * s.d1, shape), dtype=np.float64)
    price_delta_into(s.S, wd1, carry, kd, s.w, price, delta, nd1)
    return price, delta, carry


def bs_greeks(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> Greeks:
    """Price, delta, gamma, vega and theta in one pass (``d1``/``d2`` computed once)."""
    s = _setup(S, K, T, sigma, r, is_call)
    w = s.w
    price, delta, carry = _price_delta(s)  # carry = K e^{-rT} N(w d2)
    # Where the inputs are degenerate, S = 1 keeps the density finite; those elements are
    # replaced by their limit values below.
    s_safe = s.S if s.deg is None else np.where(s.deg, 1.0, s.S)
    gamma, vega, theta = density_greeks(s_safe, s.d1, s.sd, s.sqrt_t, s.sigma, s.r, w, carry)

    if s.deg is not None:
        ip, idelta, itheta = _intrinsic(s)
        price = np.where(s.deg, ip, price)
        delta = np.where(s.deg, idelta, delta)
        gamma = np.where(s.deg, 0.0, gamma)
        vega = np.where(s.deg, 0.0, vega)
        theta = np.where(s.deg, itheta, theta)
    outs = [np.asarray(x, dtype=np.float64) for x in (price, delta, gamma, vega, theta)]
    shape = np.broadcast_shapes(*(x.shape for x in outs))
    return Greeks(*(x if x.shape == shape else np.array(np.broadcast_to(x, shape)) for x in outs))


def bs_price(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Black–Scholes value only (two ``ndtr`` calls, no density)."""
    s = _setup(S, K, T, sigma, r, is_call)
    price = _price_delta(s)[0]
    if s.deg is not None:
        price = np.where(s.deg, _intrinsic(s)[0], price)
    return np.asarray(price, dtype=np.float64)


def bs_delta(
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Black–Scholes delta only (one ``ndtr`` call), for hedging loops."""
    s = _setup(S, K, T, sigma, r, is_call)
    delta = s.w * ndtr(s.w * s.d1)
    if s.deg is not None:
        delta = np.where(s.deg, _intrinsic(s)[1], delta)
    return np.asarray(delta, dtype=np.float64)
