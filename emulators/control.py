"""A client of an emulator's ``/_control`` endpoint, for tests that run ``rebal emulate`` as a
separate process (crash and soak tests): the same verbs as :class:`rebal.emulators.Emulator`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["ControlClient", "ControlError"]


class ControlError(RuntimeError):
    """The control endpoint refused a request (its JSON ``error`` text)."""


class ControlClient:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_control/{what}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise ControlError(json.loads(exc.read() or b"{}").get("error", str(exc))) from None

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "state"))

    def orders(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "orders"))

    def add_fault(self, kind: str, **settings: Any) -> dict[str, Any]:
        return dict(self._call("POST", "faults", {"faults": [{"kind": kind, **settings}]}))

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_price(self, asset: str, price: float | None, vol: float | None = None) -> None:
        self._call("POST", "price", {"asset": asset, "price": price, "vol": vol})

    def set_positions(self, positions: dict[str, Any] | None = None,
                      balances: dict[str, float] | None = None,
                      hedge_mode: bool | None = None, account: str = "main") -> dict[str, Any]:
        body: dict[str, Any] = {"account": account, "positions": positions or {},
                                "balances": balances or {}}
        if hedge_mode is not None:
            body["hedge_mode"] = hedge_mode
        return dict(self._call("POST", "positions", body))

    def advance(self, seconds: float) -> float:
        return float(self._call("POST", "advance", {"seconds": seconds})["time_ms"])

    def set_book(self, contract: str, *, depth: float | None = None,
                 spread: float | None = None) -> None:
        body: dict[str, Any] = {"contract": contract}
        if depth is not None:
            body["depth"] = depth
        if spread is not None:
            body["spread"] = spread
        self._call("POST", "book", body)
