"""A client of CoW's order-book REST API (the real one, or the local one: only the URL differs).

Errors are classified once, as the live layer's contract wants: a 4xx answer is
:class:`~rebal.backends.live.adapter.Rejected` (carrying CoW's ``errorType`` as its code),
a connection failure, timeout, 429 or 5xx is :class:`~rebal.backends.live.adapter.Transient`
(the request may or may not have been accepted: look the order up by UID first).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from rebal.backends.live.adapter import Rejected, Transient

__all__ = ["DEFAULT_URLS", "OrderBookClient"]

#: CoW's public order books by chain id (used when no URL override is set).
DEFAULT_URLS: dict[int, str] = {
    1: "https://api.cow.fi/mainnet",
    100: "https://api.cow.fi/xdai",
    11155111: "https://api.cow.fi/sepolia",
    42161: "https://api.cow.fi/arbitrum_one",
    8453: "https://api.cow.fi/base",
}


class OrderBookClient:
    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            payload = _json_or_empty(exc.read())
            kind = str(payload.get("errorType", "")) if isinstance(payload, dict) else ""
            text = str(payload.get("description", "")) if isinstance(payload, dict) else ""
            message = f"order book {method} {path.split('/0x')[0]}: HTTP {exc.code} {kind} {text}"
            if exc.code == 429 or exc.code >= 500:
                raise Transient(message.strip(), code=kind or str(exc.code)) from None
            raise Rejected(message.strip(), code=kind or str(exc.code)) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise Transient(f"order book {method} unreachable: {type(exc).__name__}",
                            code="network") from None
        return _json_or_empty(raw)

    def post_order(self, creation: dict[str, Any]) -> str:
        """POST /api/v1/orders: the new order's UID (0x-hex)."""
        return str(self._request("POST", "/api/v1/orders", creation))

    def get_order(self, uid: str) -> dict[str, Any] | None:
        """GET /api/v1/orders/{uid}; None when the book answers 404 (it has no such order)."""
        try:
            return dict(self._request("GET", f"/api/v1/orders/{uid}"))
        except Rejected as exc:
            if exc.code in ("NotFound", "404"):
                return None
            raise

    def account_orders(self, owner: str) -> list[dict[str, Any]]:
        """GET /api/v1/account/{owner}/orders (newest first)."""
        return list(self._request("GET", f"/api/v1/account/{owner}/orders"))

    def cancel(self, uids: list[str], signature: str) -> None:
        """DELETE /api/v1/orders: CoW's signed off-chain cancellation."""
        self._request("DELETE", "/api/v1/orders",
                      {"orderUids": uids, "signature": signature, "signingScheme": "eip712"})


def _json_or_empty(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {}
