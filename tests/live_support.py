"""Shared set-up of the live tests: Deribit and Binance USD-M emulators on 127.0.0.1 and real
ccxt against them.

Nothing here stands in for a component: the emulator speaks Deribit's API with signatures
checked, the adapter is rebal's ccxt adapter over real ccxt, the session is the live layer.
Only the client timeout is shortened (a timeout fault then costs seconds, not ten).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rebal.backends.ccxt.adapter import CcxtAdapter
from rebal.backends.ccxt.client import make_client, settings_of
from rebal.backends.live.adapter import Snapshot
from rebal.backends.live.execution import RetryPolicy
from rebal.backends.live.opening import Opened, open_session
from rebal.compiler import check_file, ir
from rebal.emulators import Emulator

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "fixtures" / "live" / "deribit_hedge.rebal"
# Test credentials (fixtures of this suite, valid only against its own emulators).
KEY = "rebal-test-key-7f3a2b"
SECRET = "rebal-test-secret-91c2d8e4"
CALL, PUT, PERP = "ETH-25DEC26-3000-C", "ETH-25DEC26-3000-P", "ETH-PERPETUAL"
#: A 40% ETH weight held with Binance USD-M's linear ETHUSDT perpetual (venue ``binance``).
BINANCE_SPEC = ROOT / "tests" / "fixtures" / "live" / "binance_weights.rebal"
ETHUSDT = "ETHUSDT"


def strategy(spec: Path = SPEC) -> ir.Strategy:
    res = check_file(str(spec))
    assert res.ok, res.diagnostics
    return res.strategies[0]


def environ(emu: Emulator) -> dict[str, str]:
    return {"EMU_API_KEY": KEY, "EMU_SECRET": SECRET, "EMU_URL": emu.url}


@contextmanager
def deribit(spec: Path = SPEC, speed: float = 0.0, sim_venue: str = "paper",
            **kw: Any) -> Iterator[Emulator]:
    """A Deribit emulator whose prices follow the spec's sim venue, clock moved by hand,
    holding the short straddle of the spec's book."""
    with Emulator("deribit", api_key=KEY, secret=SECRET, speed=speed, spec=spec,
                  sim_venue=sim_venue, **kw) as emu:
        emu.set_position(CALL, -10)
        emu.set_position(PUT, -10)
        yield emu


@contextmanager
def binance(spec: Path = BINANCE_SPEC, speed: float = 0.0, sim_venue: str = "paper",
            **kw: Any) -> Iterator[Emulator]:
    """A Binance USD-M emulator whose prices follow the spec's sim venue, clock moved by hand,
    with the default 100,000 USDT of margin (the spec's capital) and no position."""
    with Emulator("binanceusdm", api_key=KEY, secret=SECRET, speed=speed, spec=spec,
                  sim_venue=sim_venue, **kw) as emu:
        yield emu


FAST = RetryPolicy(attempts=4, base_s=0.01, cap_s=0.05, polls=2, poll_s=0.01,
                   unknown_grace_s=2.0)


def adapter(emu: Emulator, s: ir.Strategy, venue: str = "deribit",
            timeout_ms: int = 3000) -> CcxtAdapter:
    v = s.venue(venue)
    settings = settings_of(v, environ(emu))
    return CcxtAdapter(s, v, make_client(settings, timeout_ms=timeout_ms), settings)


def levered_spec(weight: str, risk: str) -> str:
    """A linear ETHUSDT perp held at ``weight`` of 100,000 USDT on the Binance emulator, with
    the ``risk`` block's lines (the margin tests' spec)."""
    return f"""strategy levered {{
  capital 100000 USDT
  instruments {{
    ETH_PERP perp ETH settle USDT
  }}
  owns ETH_PERP
  target weights {{
    ETH_PERP {weight} band 1%
    rebalance to center
  }}
  trigger {{
    on breach
  }}
  costs {{
    max slippage 15 bps
  }}
  risk {{
    {risk}
  }}
  venue binance via ccxt {{
    exchange "binanceusdm"
    account env EMU
    url env EMU_URL
    ETH_PERP = "ETH/USDT:USDT"
  }}
  venue paper via sim {{
    model gbm
    ETH spot 3000 USDT vol 60%
    horizon 1d step 1h paths 1
  }}
}}
"""


def read_venue(emu: Emulator, s: ir.Strategy, venue: str = "deribit") -> Snapshot:
    """One snapshot through a fresh adapter (real ccxt), closed afterwards."""
    a = adapter(emu, s, venue)
    try:
        return a.snapshot()
    finally:
        a.close()


def session(emu: Emulator, state: Path, s: ir.Strategy | None = None,
            venue: str = "deribit", policy: RetryPolicy = FAST,
            timeout_ms: int = 3000) -> Opened:
    s = s or strategy()
    opened = open_session(s, venue, state_dir=state,
                          adapter=adapter(emu, s, venue, timeout_ms))
    opened.session.policy = policy
    return opened


def venue_orders(emu: Emulator) -> list[Mapping[str, Any]]:
    """Orders the emulated venue holds (every one it accepted)."""
    return emu.orders()
