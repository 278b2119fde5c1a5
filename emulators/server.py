"""The HTTP side of an emulator: one ThreadingHTTPServer on 127.0.0.1, a venue API behind it,
faults applied around each request, and the ``/_control`` endpoint for tests and rehearsals.

Control API (JSON in and out, no authentication, loopback only):

* ``GET /_control/state``: venue time, prices, accounts (balances, positions), armed faults and
  the log of those fired;
* ``GET /_control/orders``: every order the venue has seen, in arrival order;
* ``POST /_control/faults`` ``{"faults": [{"kind": "lost", "on": "order", "count": 1}, ...]}``
  (or ``{"spec": "lost,on=order"}``) arms faults; ``DELETE /_control/faults`` clears them;
* ``POST /_control/price`` ``{"asset": "ETH", "price": 3100, "vol": 0.6}`` fixes a price
  (``"price": null`` follows the model again);
* ``POST /_control/positions`` ``{"account": "main", "positions": {"ETH-PERPETUAL": 1000},
  "balances": {"ETH": 10}, "hedge_mode": false}``;
* ``POST /_control/advance`` ``{"seconds": 3600}`` moves the venue clock;
* ``POST /_control/book`` ``{"contract": "ETH-PERPETUAL" or "*", "depth": 500, "spread": 0.001}``.

A client that goes away before its answer (it timed out during a ``timeout`` fault, or closed
the connection) is expected, not an error: the server counts it (``dropped_clients`` in
``/_control/state``) and logs one line on the ``rebal.emulators`` logger, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from .faults import Fault, FaultBook, parse_fault
from .ledger import Ledger, VenueReject

__all__ = ["Request", "Response", "Server", "VenueAPI"]

log = logging.getLogger("rebal.emulators")


@dataclass
class Request:
    method: str
    target: str                 # the raw request target, path and query as sent
    path: str
    query: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_time_ms: float = field(default_factory=lambda: time.time() * 1000.0)


@dataclass
class Response:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


class VenueAPI(Protocol):
    name: str
    ledger: Ledger

    def category(self, req: Request) -> str:
        """order | cancel | private | public (for fault matching)."""
        ...

    def handle(self, req: Request) -> Response: ...

    def error_response(self, kind: str, status: int) -> Response:
        """The venue's own answer for an injected 429 or 5xx."""
        ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real venues (and ccxt's session) use
    # headers and body leave in two writes: without TCP_NODELAY, Nagle holds the body until
    # the client's delayed ACK of the headers (~40 ms per request on Linux loopback)
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
        return

    def _read(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        return Request(self.command, self.path, parts.path, parts.query, params,
                       {k.lower(): v for k, v in self.headers.items()}, body)

    def _send(self, resp: Response) -> None:
        raw = isinstance(resp.payload, bytes)  # an HTML error page, as a proxy in front sends
        data = resp.payload if raw else json.dumps(resp.payload).encode()
        self.send_response(resp.status)
        self.send_header("Content-Type", "text/html" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        req = self._read()
        owner = self.server.owner
        if req.path.startswith("/_control/"):
            self._send(owner.control(req))
            return
        api = owner.api
        category = api.category(req)
        after: str | None = None
        for f in owner.faults.draw(category, req.path):
            if f.kind == "timeout":
                time.sleep(f.delay)
            elif f.kind == "error5xx":
                self._send(api.error_response("5xx", f.status))
                return
            elif f.kind == "ratelimit":
                self._send(api.error_response("429", 429))
                return
            elif f.kind == "drop":
                self._hang_up()
                return
            elif f.kind == "lost":
                after = "lost"
            elif f.kind == "partial" and category == "order":
                api.ledger.partial_next.append(f.fraction)
            elif f.kind == "reject" and category == "order":
                api.ledger.reject_next.append("insufficient_funds")
            elif f.kind == "stale":
                owner.freeze(f.delay)
        with api.ledger.lock:
            api.ledger.rematch()
            resp = api.handle(req)
        if after == "lost":
            self._hang_up()
            return
        self._send(resp)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_GET


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: Server

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request (broken pipe, reset) is counted and logged in one line;
        anything else is a bug of the emulator and keeps socketserver's traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            self.owner.client_gone(client_address, exc)
            return
        super().handle_error(request, client_address)


class Server:
    """An emulated venue on 127.0.0.1:``port`` (0: a free port), served from a thread."""

    def __init__(self, api: VenueAPI, faults: FaultBook, port: int = 0) -> None:
        self.api = api
        self.faults = faults
        self.httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.owner = self
        self._thread: threading.Thread | None = None
        self._thaw: threading.Timer | None = None
        self.dropped_clients = 0  # connections the client closed before its answer
        self._dropped_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Server:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="emulator",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thaw is not None:
            self._thaw.cancel()

    def client_gone(self, address: Any, exc: BaseException) -> None:
        with self._dropped_lock:
            self.dropped_clients += 1
            n = self.dropped_clients
        peer = ":".join(str(part) for part in tuple(address)[:2])
        log.info("client %s went away before its answer (%s); %d so far", peer,
                 type(exc).__name__, n)

    def freeze(self, seconds: float) -> None:
        market = self.api.ledger.market
        market.freeze()
        if seconds > 0:
            if self._thaw is not None:
                self._thaw.cancel()
            self._thaw = threading.Timer(seconds, market.thaw)
            self._thaw.daemon = True
            self._thaw.start()

    # ------------------------------------------------------------------ control

    def state(self) -> dict[str, Any]:
        ledger = self.api.ledger
        with ledger.lock:
            prices, t_ms = ledger.market.prices()
            accounts = {
                name: {
                    "balances": dict(a.balances),
                    "hedge_mode": a.hedge_mode,
                    "positions": [
                        {"contract": c, "side": s, "size": p.size, "avg_price": p.avg_price,
                         "realized": p.realized}
                        for (c, s), p in a.positions.items() if p.size != 0
                    ],
                }
                for name, a in ledger.accounts.items()
            }
        return {"venue": self.api.name, "time_ms": t_ms, "prices": prices,
                "stale": ledger.market.frozen, "accounts": accounts,
                "dropped_clients": self.dropped_clients, **self.faults.state()}

    def control(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}")
            return Response(200, self._control(req.method, req.path[len("/_control/"):], body))
        except (ValueError, KeyError, TypeError, VenueReject) as exc:
            return Response(400, {"error": str(exc) or type(exc).__name__})

    def _control(self, method: str, what: str, body: dict[str, Any]) -> Any:
        ledger = self.api.ledger
        if what == "state" and method == "GET":
            return self.state()
        if what == "orders" and method == "GET":
            with ledger.lock:
                return [o.as_dict() for o in ledger.orders]
        if what == "faults":
            if method == "DELETE":
                self.faults.clear()
                ledger.market.thaw()
                return self.faults.state()
            if method == "GET":
                return self.faults.state()
            specs = body.get("faults", [])
            armed = [Fault(**f) for f in specs]
            if "spec" in body:
                armed.append(parse_fault(str(body["spec"])))
            self.faults.add(*armed)
            return self.faults.state()
        if what == "price" and method == "POST":
            price = body.get("price")
            ledger.market.set_price(str(body["asset"]), None if price is None else float(price),
                                    None if body.get("vol") is None else float(body["vol"]))
            return self.state()["prices"]
        if what == "positions" and method == "POST":
            name = str(body.get("account", "main"))
            with ledger.lock:
                acct = ledger.account(name)
                for ccy, amount in (body.get("balances") or {}).items():
                    acct.balances[ccy] = float(amount)
                if "hedge_mode" in body:
                    acct.hedge_mode = bool(body["hedge_mode"])
                for contract, size in (body.get("positions") or {}).items():
                    side = "BOTH"
                    if isinstance(size, dict):
                        side, size = str(size.get("side", "BOTH")), size["size"]
                    ledger.set_position(name, contract, float(size), side=side)
            return self.state()["accounts"][name]
        if what == "advance" and method == "POST":
            return {"time_ms": ledger.market.clock.advance(float(body["seconds"]))}
        if what == "book" and method == "POST":
            with ledger.lock:
                names = list(ledger.contracts) if body.get("contract") == "*" else [
                    str(body["contract"])]
                for n in names:
                    changes = {k: float(body[k]) for k in ("depth", "spread") if k in body}
                    ledger.contracts[n] = replace(ledger.contracts[n], **changes)
            return {"contracts": names}
        raise KeyError(f"no control endpoint {method} /_control/{what}")
