"""A JSON-RPC proxy on 127.0.0.1 in front of anvil that injects network faults on demand:
``fail`` (503 before the request reaches the node) and ``lose`` (forwarded, the node acts,
the answer is replaced by a 502: "the response was lost after the order was accepted")."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultPlan:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queued: dict[str, deque[str]] = {}
        self.injected: list[tuple[str, str]] = []

    def add(self, method: str, action: str, times: int = 1) -> None:
        with self.lock:
            self.queued.setdefault(method, deque()).extend([action] * times)

    def take(self, method: str) -> str | None:
        with self.lock:
            q = self.queued.get(method)
            if q:
                action = q.popleft()
                self.injected.append((method, action))
                return action
        return None


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.plan = FaultPlan()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    method = str(json.loads(body).get("method", ""))
                except ValueError:
                    method = ""
                action = proxy.plan.take(method)
                if action == "fail":
                    self._reply(503, b"service unavailable")
                    return
                req = urllib.request.Request(proxy.upstream, data=body,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as resp:
                    answer = resp.read()
                if action == "lose":
                    self._reply(502, b"bad gateway")
                    return
                self._reply(200, answer, "application/json")

            def _reply(self, code: int, data: bytes, ctype: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RpcProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
