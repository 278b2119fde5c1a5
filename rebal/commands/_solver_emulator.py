"""`rebal emulate solver`: the local CoW-style order book and solver (see emulate.py).

Not a command module of its own (the leading underscore keeps discovery off it): the
`emulate` command adds these options and hands `solver` to :func:`run_solver`.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TextIO

KEY_ENV = "REBAL_SOLVER_KEY"  # the same name as rebal.backends.solver.emulate.KEY_ENV


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "solver", f"`rebal emulate solver`: an order book in CoW's API shape and a solver "
        f"settling against the pool; the solver's key is read from ${KEY_ENV}")
    g.add_argument("--rpc", help="JSON-RPC URL of the (local) chain")
    g.add_argument("--router", help="Uniswap-V2-style router the solver trades through")
    g.add_argument("--settlement", help="a deployed Settlement (default: deploy one)")
    g.add_argument("--state", help="a state folder whose deployment.json (from `rebal keeper "
                   "deploy SPEC --venue V --local`) gives the router and settlement")
    g.add_argument("--interval", type=float, default=1.0, help="seconds between auctions")


def run_solver(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    router, settlement = args.router, args.settlement
    if args.state:
        from rebal.backends.chain.vault import load_deployment

        dep = load_deployment(Path(args.state))
        if dep is None or not dep.settlement:
            err.write(f"error: no intents deployment in {args.state} (run `rebal keeper deploy "
                      "SPEC --venue V --local --state DIR` first)\n")
            return 1
        router, settlement = router or dep.router, settlement or dep.settlement
    if not args.rpc or not router:
        err.write("error: `rebal emulate solver` needs --rpc URL and --router ADDRESS "
                  "(or --state DIR)\n")
        return 1
    key = os.environ.get(KEY_ENV, "")
    if not key:
        err.write(f"error: set {KEY_ENV} to the solver's (local test) private key\n")
        return 1
    try:
        from rebal.backends.solver.emulate import start

        emu = start(args.rpc, key, router=router, settlement=settlement,
                    port=args.port, interval_s=args.interval, out=out)
    except Exception as exc:  # a bad URL, an unreachable node, a wrong address
        text = str(exc).replace(key, "***")
        err.write(f"error: cannot start the solver emulator: {type(exc).__name__}: "
                  f"{text[:300]}\n")
        return 1
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0
