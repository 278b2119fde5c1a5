"""``rebal solver emulate``: the local order book and solver, serving until interrupted.

The order book listens on 127.0.0.1; the solver settles open orders every ``interval_s``
seconds with the key in ``$REBAL_SOLVER_KEY`` (a local test key: it pays gas and holds the
inventory it settles from). Without a settlement address, a fresh Settlement is deployed
with that key and its address printed.
"""

from __future__ import annotations

import threading
from typing import TextIO

from rebal.backends.chain.client import connect
from rebal.backends.chain.tx import Sender

from .bookserver import BookServer
from .local import LocalSolver, deploy_settlement, settlement_at
from .orderbook import OrderBook

__all__ = ["KEY_ENV", "Emulation", "start"]

KEY_ENV = "REBAL_SOLVER_KEY"


class Emulation:
    """A running order book and solver loop; ``stop()`` ends both."""

    def __init__(self, server: BookServer, solver: LocalSolver, interval_s: float) -> None:
        self.server, self.solver, self.interval_s = server, solver, interval_s
        self.stopped = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._loop, name="solver", daemon=True)

    def _loop(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                self.solver.step()
            except Exception as exc:  # one bad auction must not end the emulation
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.server.stop()


def start(rpc_url: str, key: str, *, router: str, settlement: str | None = None,
          port: int = 0, interval_s: float = 2.0, out: TextIO | None = None) -> Emulation:
    w3 = connect(rpc_url)
    sender = Sender(w3, key)
    contract = (settlement_at(w3, settlement) if settlement
                else deploy_settlement(sender))
    book = OrderBook(contract)
    server = BookServer(book, port=port).start()
    emu = Emulation(server, LocalSolver(book, router, sender), interval_s)
    emu.thread.start()
    if out is not None:
        out.write(f"settlement {contract.address}\n")
        out.write(f"order book listening on {server.url} (export REBAL_ORDERBOOK_URL="
                  f"{server.url})\n")
        out.flush()
    return emu
