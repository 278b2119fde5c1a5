"""Mark prices and per-unit greeks of every instrument, once per step, across the batch.

Spot, perps and non-par cash have delta 1 and are priced at the underlying's spot; a future at
``S e^{r tau}`` with delta ``e^{r tau}`` (an inverse, coin-settled future: delta 1, since its
units are ``N / F`` and its coin P&L is worth ``N (S / F_0 - S / F)``: see ``coins.py``); a par-currency cash instrument at 1 with delta 0;
options with Black–Scholes at the market's (model's) current vol. Option greeks are per unit
of underlying: ``gamma`` d2V/dS2, ``vega`` per 1.00 of vol, ``theta`` per year.

The option block is the hot path of every simulation, so it computes ``log S`` once per asset,
``d1`` once per option, only the greeks some rule reads, and falls back to
:func:`rebal.backends.kernel.pricing.bs_greeks` (the reference implementation, checked against
QuantLib) whenever an input is degenerate (expired option, zero vol).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .layout import SECONDS_PER_YEAR, Layout
from .pricing import bs_greeks, density_greeks, expired_into, price_delta_into, signed_d1_d2_into
from .threads import helper_pool

__all__ = ["Marks", "Valuer"]

FloatArray = NDArray[np.float64]
_INV_SQRT_2PI = 0.3989422804014327
#: Option blocks with at least this many rows, and this many (row, option) cells, are marked
#: on two threads; below that the hand-off costs more than it saves.
_PARALLEL_MIN_ROWS = 1024
_PARALLEL_MIN_CELLS = 40_000
#: The share of option rows :meth:`Valuer.mark_ahead` marks on the helper thread: the helper
#: also draws the market step, the caller also plans and fills, and two thirds balances the
#: two on the benchmark jobs (one option on 20,000 paths, fifty on 2,000).
_AHEAD_SHARE = 2.0 / 3.0


def _pool() -> ThreadPoolExecutor | None:
    """The helper thread for option marking, or None on a single-core machine."""
    return helper_pool("marks")


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


@dataclass(frozen=True, eq=False)
class _OptionBlock:
    """A subset of the layout's options (the live ones), with what the fast path needs."""

    idx: NDArray[np.intp]  # positions in the layout's option arrays
    col: Any  # instrument column(s): an int, a slice or an index array
    strike: FloatArray
    log_k: FloatArray
    put: FloatArray
    call: NDArray[np.bool_]
    expiry_s: FloatArray
    asset: NDArray[np.intp]
    asset0: int  # the single underlying column, -1 when options span several
    any_put: bool
    w: FloatArray  # +1 for calls, -1 for puts

    @property
    def n(self) -> int:
        return int(self.idx.size)

    @staticmethod
    def of(layout: Layout, idx: NDArray[np.intp]) -> _OptionBlock:
        cols = layout.opt_cols[idx]
        col: Any = cols
        if cols.size == 1:
            col = int(cols[0])
        elif np.array_equal(cols, np.arange(cols[0], cols[0] + cols.size)):
            col = slice(int(cols[0]), int(cols[0]) + cols.size)
        strike = layout.opt_strike[idx]
        asset = layout.opt_asset[idx]
        put = (~layout.opt_call[idx]).astype(np.float64)
        return _OptionBlock(
            idx=idx, col=col, strike=strike,
            log_k=np.log(np.where(strike > 0, strike, 1.0)), put=put,
            call=layout.opt_call[idx], expiry_s=layout.opt_expiry_s[idx], asset=asset,
            asset0=int(asset[0]) if bool(np.all(asset == asset[0])) else -1,
            any_put=bool(put.any()), w=1.0 - 2.0 * put)


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
        self._want_greeks = gamma or vega or theta  # more than prices and deltas
        lay = layout
        self._r = lay.costs.rate
        self._spot_cols = np.flatnonzero((lay.underlying >= 0) & ~lay.is_option)
        self._spot_assets = lay.underlying[self._spot_cols]
        self._par_cols = np.flatnonzero(lay.underlying < 0)
        base = np.where(lay.is_par_cash | (lay.underlying < 0), 0.0, 1.0)
        self._base_delta = base
        self._static_delta = lay.opt_cols.size == 0 and lay.fut_cols.size == 0
        self._n_opt = lay.opt_cols.size
        self._strikes_ok = bool(np.all(lay.opt_strike > 0.0))
        self._blocks: dict[bytes, _OptionBlock] = {}
        self._spot_pairs = [(int(c), int(a)) for c, a in zip(self._spot_cols, self._spot_assets,
                                                             strict=True)]
        self._par_list = [int(c) for c in self._par_cols]
        self._unit_delta_cols = [int(c) for c in np.flatnonzero(base == 1.0)
                                 if not lay.is_option[c]]
        self._delta_cache: FloatArray | None = None
        self._fut_inverse = lay.is_inverse[lay.fut_cols]  # inverse futures: delta 1
        self._any_fut_inverse = bool(self._fut_inverse.any())
        # mark_ahead's results by time: written on the helper thread, taken on the caller's.
        self._ahead: dict[float, tuple[Any, ...]] = {}
        self._ahead_slot = 0

    def _buf(self, name: str, shape: tuple[int, ...], slot: int = 0, order: str = "C"
             ) -> FloatArray:
        """A reusable work array (fresh each call unless buffers are reused)."""
        if not self.reuse:
            fresh: FloatArray = np.empty(shape, order=order)  # type: ignore[call-overload]
            return fresh
        key = (name, slot, shape[0])
        got = self._bufs.get(key)
        if got is None or got.shape != shape:
            got = np.empty(shape, order=order)  # type: ignore[call-overload]
            self._bufs[key] = got
        return got

    # ------------------------------------------------------------------ options

    def _block(self, live: NDArray[np.bool_]) -> _OptionBlock:
        key = live.tobytes()
        got = self._blocks.get(key)
        if got is None:
            got = self._blocks[key] = _OptionBlock.of(self.layout, np.flatnonzero(live))
        return got

    def _options(self, blk: _OptionBlock, t_s: float, spot: FloatArray, vol: FloatArray,
                 out: tuple[FloatArray, FloatArray], tag: str = "") -> tuple[
            FloatArray, FloatArray, FloatArray | None, FloatArray | None, FloatArray | None]:
        """Prices, deltas and the greeks asked for of the live options in ``blk``,
        ``(B, n)`` (``(B,)`` for a single option). Prices and deltas are written into ``out``
        unless an input is degenerate (zero vol or strike), in which case the reference
        implementation's fresh arrays come back instead."""
        n = blk.n
        tau: Any = (blk.expiry_s - t_s) / SECONDS_PER_YEAR
        if n == 1:  # 1-D arrays: measurably faster through the ufunc machinery
            a = blk.asset0
            s_a, v_a = spot[:, a], vol[:, a]
        elif blk.asset0 >= 0:
            a = blk.asset0
            s_a, v_a = spot[:, a:a + 1], vol[:, a:a + 1]
        else:
            s_a, v_a = spot[:, blk.asset], vol[:, blk.asset]
        const_vol = vol.strides[0] == 0  # one vol for every path (gbm, jump, replay)
        v0 = v_a[0]
        if const_vol:  # one scalar (a single option) or one row to check
            vol_ok = bool(v0 > 0.0) if n == 1 else bool(np.all(v0 > 0.0))
        else:
            vol_ok = bool(np.all(v_a > 0.0))
        strike: Any
        if not (self._strikes_ok and vol_ok):
            strike, call, t = blk.strike, blk.call, tau
            if n == 1:
                strike, call, t = strike[0], call[0], tau[0]
            g = bs_greeks(s_a, strike, t, v_a, self._r, call)
            return (g.price, g.delta, g.gamma if self.want_gamma else None,
                    g.vega if self.want_vega else None, g.theta if self.want_theta else None)
        r = self._r
        log_k: Any
        put: Any
        if n == 1:
            tau, strike, log_k, put = float(tau[0]), float(blk.strike[0]), \
                float(blk.log_k[0]), float(blk.put[0])
        else:
            strike, log_k, put = blk.strike, blk.log_k, blk.put
        price, delta = out
        shape = price.shape
        sqrt_t = np.sqrt(tau)
        # Puts go through the same formulas with w = -1 (N(w d1), N(w d2)), folded into the
        # per-option scalars: no put-call parity step, and no cancellation for deep puts.
        w: Any = 1.0 - 2.0 * put
        log_s = np.log(s_a, out=self._buf("log_s" + tag, s_a.shape))
        d1 = self._buf("d1" + tag, shape, order="F")
        d2 = self._buf("d2" + tag, shape, order="F")
        v: Any
        if const_vol:
            v = v0 if n == 1 else np.ascontiguousarray(v0)  # scalar or (n,)
            sd = signed_d1_d2_into(log_s, log_k, tau, sqrt_t, v, r, w, d1, d2)
        else:
            v = v_a
            sd = signed_d1_d2_into(log_s, log_k, tau, sqrt_t, v, r, w, d1, d2,
                                   sd_out=self._buf("sd" + tag, shape, order="F"),
                                   tmp=self._buf("tmp" + tag, shape, order="F"),
                                   any_put=blk.any_put)
        kd = strike if r == 0.0 else strike * np.exp(-r * tau)
        scratch = self._buf("n1" + tag, shape, order="F") if blk.any_put else None
        price_delta_into(s_a, d1, d2, kd, w, price, delta, scratch)  # d2 := kd N(w d2)
        gamma = vega = theta = None
        if self._want_greeks:
            gamma, vega, theta = density_greeks(  # d1 holds w d1 and d2 the carry term here
                s_a, d1, sd, sqrt_t, v, r, w, d2,
                gamma=self.want_gamma, vega=self.want_vega, theta=self.want_theta)
        return price, delta, gamma, vega, theta

    def _options_rows(self, blk: _OptionBlock, t_s: float, spot: FloatArray, vol: FloatArray,
                      out: tuple[FloatArray, FloatArray]) -> tuple[
            FloatArray, FloatArray, FloatArray | None, FloatArray | None, FloatArray | None]:
        """:meth:`_options`, on large batches split by rows across two threads.

        numpy's and scipy's ufuncs release the GIL, so on a machine with two or more cores the
        two parts run at once; every element is computed exactly as in one call, so results
        are bit-identical. Only prices and deltas are split (the simulator's hot path);
        when other greeks are asked for, one call does everything. Rows that
        :meth:`mark_ahead` already marked for this step are copied, and only the rest are
        computed here.
        """
        b = spot.shape[0]
        price, delta = out
        ahead = self._take_ahead(blk, t_s, spot)
        if ahead is not None:
            h, op, od = ahead
            price[:h] = op
            delta[:h] = od
            self._rows_into(blk, t_s, spot, vol, out, slice(h, b), "")
            return price, delta, None, None, None
        pool = _pool()
        if (pool is None or b < _PARALLEL_MIN_ROWS or b * blk.n < _PARALLEL_MIN_CELLS
                or self._want_greeks):
            return self._options(blk, t_s, spot, vol, out)
        h = b // 2
        done = pool.submit(self._rows_into, blk, t_s, spot, vol, out, slice(0, h), "@0")
        self._rows_into(blk, t_s, spot, vol, out, slice(h, b), "@1")
        done.result()
        return price, delta, None, None, None

    def _rows_into(self, blk: _OptionBlock, t_s: float, spot: FloatArray, vol: FloatArray,
                   out: tuple[FloatArray, FloatArray], rows: slice, tag: str) -> None:
        """Prices and deltas of ``rows`` of the block, written into those rows of ``out``."""
        price, delta = out
        op, od, *_ = self._options(blk, t_s, spot[rows], vol[rows], (price[rows], delta[rows]),
                                   tag)
        if not np.may_share_memory(op, price):
            price[rows] = op
        if not np.may_share_memory(od, delta):
            delta[rows] = od

    # ------------------------------------------------------------------ marking ahead

    def mark_ahead(self, t_s: float, spot: FloatArray, vol: FloatArray) -> None:
        """Start the option marks of the coming :meth:`mark` at ``t_s`` on the calling thread.

        A step loop whose market is known one step early (the simulator's feed) calls this on
        a helper thread while the loop still works on the step before; the :meth:`mark` call
        for the same ``t_s`` and the same ``spot`` array then copies the first
        ``_AHEAD_SHARE`` of the option rows and computes only the rest. The elements are
        computed exactly as in one call, so the numbers do not change. Calls must alternate
        with the matching ``mark`` (at most one step ahead); without reused buffers, for
        small batches, or when gamma, vega or theta are asked for, this does nothing.
        """
        lay = self.layout
        b = spot.shape[0]
        if not self.reuse or not self._n_opt or b < _PARALLEL_MIN_ROWS or self._want_greeks:
            return
        live = lay.opt_expiry_s > t_s
        if not live.any():
            return
        blk = self._block(live)
        h = int(b * _AHEAD_SHARE) // 64 * 64
        # Two buffer sets, strictly alternating: this step's rows are written while the
        # caller may still be copying the previous step's.
        slot = self._ahead_slot = 1 - self._ahead_slot
        shape: tuple[int, ...] = (h,) if blk.n == 1 else (h, blk.n)
        out = (self._buf("ahead_price", shape, slot, "F"),
               self._buf("ahead_delta", shape, slot, "F"))
        self._rows_into(blk, t_s, spot, vol, out, slice(0, h), "@ahead")
        # Of the earlier starts only the newest may still be taken (it is in the other buffer
        # set); older ones would point at this one's buffers.
        earlier = [key for key in list(self._ahead) if key != t_s]
        for key in earlier:
            if key != max(earlier):
                self._ahead.pop(key, None)
        self._ahead[t_s] = (spot, blk, h, out[0], out[1])

    def _take_ahead(self, blk: _OptionBlock, t_s: float, spot: FloatArray
                    ) -> tuple[int, FloatArray, FloatArray] | None:
        """The rows :meth:`mark_ahead` marked for this block, time and spot, or None."""
        got = self._ahead.pop(t_s, None)
        for key in list(self._ahead):  # starts for earlier times will never be used
            if key < t_s:
                self._ahead.pop(key, None)
        if got is None:
            return None
        at_spot, at_blk, h, op, od = got
        if at_spot is not spot or at_blk is not blk:
            return None
        return h, op, od

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
            if self._n_opt:
                gamma, vega, theta = self._mark_options(t_s, spot, vol, price, delta)
            if lay.fut_cols.size:
                tau = np.maximum(lay.fut_expiry_s - t_s, 0.0) / SECONDS_PER_YEAR
                growth = np.exp(self._r * tau)
                price[:, lay.fut_cols] *= growth
                delta[:, lay.fut_cols] = (np.where(self._fut_inverse, 1.0, growth)
                                          if self._any_fut_inverse else growth)
        return Marks(t_s, spot, vol, price, delta, gamma, vega, theta, lay)

    def _mark_options(self, t_s: float, spot: FloatArray, vol: FloatArray, price: FloatArray,
                      delta: FloatArray) -> tuple[Any, Any, Any]:
        """Fill the option columns of ``price`` and ``delta``; return the greeks asked for,
        ``(B, n_opt)``. Expired options get their limit values (intrinsic, step delta)."""
        lay = self.layout
        b = spot.shape[0]
        live = lay.opt_expiry_s > t_s
        greeks: list[Any] = [None, None, None]
        if live.any():
            blk = self._block(live)
            c = blk.col
            if isinstance(c, int | slice):  # views into the matrices: written in place
                views = (price[:, c], delta[:, c])
            else:
                views = (self._buf("op", (b, blk.n), order="F"),
                         self._buf("od", (b, blk.n), order="F"))
            op, od, *got = self._options_rows(blk, t_s, spot, vol, views)
            if not (np.may_share_memory(op, price) and np.may_share_memory(od, delta)):
                price[:, c] = op
                delta[:, c] = od
            for i, g in enumerate(got):
                if g is None:
                    continue
                g = g.reshape(b, blk.n)
                if blk.n < self._n_opt:
                    full = np.zeros((b, self._n_opt))
                    full[:, blk.idx] = g
                    g = full
                greeks[i] = g
        if not live.all():
            # Expired: the limit values (pricing.expired_into).
            dead = self._block(~live)
            s_d = spot[:, dead.asset0:dead.asset0 + 1] if dead.asset0 >= 0 else spot[:, dead.asset]
            value, step = expired_into(s_d, dead.strike, dead.w, dead.put,
                                       self._buf("dead_x", (b, dead.n), order="F"),
                                       self._buf("dead_wx", (b, dead.n), order="F"))
            cols = slice(dead.col, dead.col + 1) if isinstance(dead.col, int) else dead.col
            price[:, cols] = value
            delta[:, cols] = step
            for i, want in enumerate((self.want_gamma, self.want_vega, self.want_theta)):
                if want and greeks[i] is None:
                    greeks[i] = np.zeros((b, self._n_opt))
        return greeks[0], greeks[1], greeks[2]

    def _delta_view(self, b: int) -> FloatArray:
        if self._delta_cache is None or self._delta_cache.shape[0] != b:
            self._delta_cache = np.broadcast_to(self._base_delta, (b, self.layout.n_instruments))
        return self._delta_cache
