"""The local order book over HTTP, in the shape of CoW's REST API, on 127.0.0.1.

Routes (``api.py`` holds the JSON shapes): ``POST /api/v1/orders`` (201, the UID as a JSON
string), ``GET /api/v1/orders/{uid}``, ``GET /api/v1/account/{owner}/orders``, ``DELETE
/api/v1/orders`` (off-chain cancellation). Errors answer CoW's ``{"errorType",
"description"}``.

Faults on demand, for the reliability tests: :attr:`BookServer.drop_post_answers` makes the
next N POSTs be *accepted* and their answer lost (the connection is closed without a
response), the "response lost after the order was accepted" case of ``live.md``;
:attr:`BookServer.hold_posts` makes the next N POSTs wait (``held`` counts them) until
:attr:`BookServer.release` is set and then be dropped unseen: the book never has the order,
so a test can kill the client while its POST is in the air (a crash between a vault's
placement and the POST).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import hex0x
from .orderbook import BookError, OrderBook

__all__ = ["BookServer"]

_ORDER = re.compile(r"^/api/v1/orders/(0x[0-9a-fA-F]+)$")
_ACCOUNT = re.compile(r"^/api/v1/account/(0x[0-9a-fA-F]{40})/orders$")


class BookServer:
    """``with BookServer(book) as srv: srv.url`` serves ``book`` until the block ends."""

    def __init__(self, book: OrderBook, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.book = book
        self.drop_post_answers = 0
        self.posts = 0  # POSTs received, for tests
        self.hold_posts = 0
        self.held = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw or b"null")
                except ValueError:
                    raise BookError(400, "InvalidJson", "the body is not JSON") from None

            def _run(self, fn: Any) -> None:
                try:
                    status, body = fn()
                except BookError as exc:
                    status, body = exc.status, exc.body()
                if status < 0:  # the answer is lost on purpose
                    self.close_connection = True
                    return
                self._reply(status, body)

            def do_POST(self) -> None:
                def go() -> tuple[int, Any]:
                    if self.path != "/api/v1/orders":
                        raise BookError(404, "NotFound", "no such route")
                    if server.hold_posts > 0:
                        server.hold_posts -= 1
                        server.held += 1
                        server.release.wait(120)
                        return -1, None  # dropped: the book never saw it
                    server.posts += 1
                    body = self._body()
                    if not isinstance(body, dict):
                        raise BookError(400, "InvalidOrder", "an order is a JSON object")
                    uid = server.book.create(body)
                    if server.drop_post_answers > 0:
                        server.drop_post_answers -= 1
                        return -1, None
                    return 201, hex0x(uid)
                self._run(go)

            def do_GET(self) -> None:
                def go() -> tuple[int, Any]:
                    m = _ORDER.match(self.path)
                    if m:
                        return 200, server.book.get(m.group(1))
                    m = _ACCOUNT.match(self.path)
                    if m:
                        return 200, server.book.by_owner(m.group(1))
                    raise BookError(404, "NotFound", "no such route")
                self._run(go)

            def do_DELETE(self) -> None:
                def go() -> tuple[int, Any]:
                    if self.path != "/api/v1/orders":
                        raise BookError(404, "NotFound", "no such route")
                    body = self._body()
                    if not isinstance(body, dict):
                        raise BookError(400, "InvalidCancellation", "a JSON object")
                    server.book.cancel(body)
                    return 200, "Cancelled"
                self._run(go)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BookServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="orderbook",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(5)

    def __enter__(self) -> BookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
