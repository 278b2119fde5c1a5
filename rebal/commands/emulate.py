"""`rebal emulate VENUE`: serve an exchange emulator on 127.0.0.1 until interrupted.

Credentials come from the environment, never from flags or output: the emulator accepts the
key in ``REBAL_EMULATOR_API_KEY`` signed with ``REBAL_EMULATOR_SECRET``. (Generating fresh ones
would mean printing a secret, which then sits in scrollback and CI logs; reading both from the
environment is the same path the client takes with ``account env NAME``, so one export
serves both sides, and nothing secret is ever printed.) Each venue is one entry of
:data:`rebal.emulators.VENUES`; the choices below are read from it at run time.
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

COMMANDS = ("emulate",)
KEY_ENV = "REBAL_EMULATOR_API_KEY"
SECRET_ENV = "REBAL_EMULATOR_SECRET"
# Kept here (not imported) so the CLI starts without loading the emulators; a test checks
# this list equals rebal.emulators.VENUES.
VENUE_CHOICES = ("deribit", "binanceusdm")
# On-chain counterparts (not exchange emulators): `solver` serves the CoW-style order book and
# a solver over a chain (rebal/commands/_solver_emulator.py).
CHAIN_CHOICES = ("solver",)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "emulate", help="serve an exchange emulator on 127.0.0.1 (real API, faults on demand)",
        description="Serve a loopback exchange emulator speaking the venue's real REST API. "
        f"It accepts the key in ${KEY_ENV} signed with ${SECRET_ENV}.")
    p.add_argument("venue", choices=VENUE_CHOICES + CHAIN_CHOICES)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--spec", help="a spec whose sim venue drives the prices")
    p.add_argument("--venue", dest="sim_venue", help="the sim venue of --spec")
    p.add_argument("--speed", type=float, default=1.0,
                   help="clock speed: 1 real time, N accelerated, 0 moved only by "
                   "POST /_control/advance")
    p.add_argument("--price", action="append", default=[], metavar="ASSET=PRICE",
                   help="fix a price (repeatable), e.g. ETH=3000")
    p.add_argument("--fault", action="append", default=[], metavar="KIND[,key=value...]",
                   help="arm a fault (repeatable), e.g. lost,on=order,count=1 or "
                   "error5xx,p=0.05,count=0")
    p.add_argument("--seed", type=int, default=0, help="seed of random faults and backfill")
    from ._solver_emulator import add_arguments

    add_arguments(p)
    p.set_defaults(handler=run_emulate)


def run_emulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.venue in CHAIN_CHOICES:
        from ._solver_emulator import run_solver

        return run_solver(args, out, err)
    key, secret = os.environ.get(KEY_ENV, ""), os.environ.get(SECRET_ENV, "")
    if not key or not secret:
        err.write(f"error: set {KEY_ENV} and {SECRET_ENV} to the test credentials the "
                  "emulator should accept (and give the client the same values through its "
                  "`account env NAME` variables)\n")
        return 1
    if (args.spec is None) != (args.sim_venue is None):
        err.write("error: --spec and --venue go together (the spec's sim venue drives prices)\n")
        return 1
    try:
        prices = {}
        for item in args.price:
            asset, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--price wants ASSET=PRICE, got {item!r}")
            prices[asset.strip().upper()] = float(value)
        from rebal.emulators import Emulator, parse_fault

        faults = tuple(parse_fault(f) for f in args.fault)
        emu = Emulator(args.venue, api_key=key, secret=secret, port=args.port,
                       speed=args.speed, spec=args.spec, sim_venue=args.sim_venue,
                       prices=prices, faults=faults, seed=args.seed)
    except (ValueError, KeyError, OSError) as exc:
        err.write(f"error: {exc}\n")
        return 1
    out.write(f"{args.venue} emulator listening on {emu.url}\n")
    out.write(f"control: {emu.url}/_control/state (key from ${KEY_ENV})\n")
    out.flush()
    # one line on stderr per client that went away before its answer (a timeout fault)
    import logging

    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("emulator: %(message)s"))
    log = logging.getLogger("rebal.emulators")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        emu.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        log.removeHandler(handler)
        emu.server.httpd.server_close()
    return 0
