"""Faults an emulated venue injects on demand: what a real venue and network do to a client.

A :class:`Fault` names a kind, which requests it hits (``on``: ``order`` = order placement,
``cancel``, ``private``, ``public``, ``any``, or a path fragment), how many times (``count``;
0 = unlimited) and, for random soak runs, a probability ``p`` drawn from a seeded generator.

Kinds:

* ``timeout``: hold the request ``delay`` seconds (past the client's timeout), then carry it
  out (the order exists although the client saw a timeout);
* ``error5xx``: answer HTTP ``status`` (default 503) without carrying the request out;
* ``ratelimit``: answer 429 (Deribit: its ``too_many_requests`` error) without carrying it out;
* ``drop``: close the connection without carrying the request out;
* ``lost``: carry the request out (the order is placed), then close the connection unanswered;
* ``partial``: the next order fills only ``fraction`` (default 0.5) of its amount;
* ``stale``: prices and their timestamp stop moving for ``delay`` seconds (0: until cleared);
* ``reject``: the next order is refused with the venue's insufficient-funds error.

CLI form (``rebal emulate --fault``): ``KIND[,key=value...]``, e.g. ``lost,on=order,count=2``
or ``error5xx,status=502,p=0.05``.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["KINDS", "Fault", "FaultBook", "parse_fault"]

KINDS = ("timeout", "error5xx", "ratelimit", "drop", "lost", "partial", "stale", "reject")
_ON = ("order", "cancel", "private", "public", "any")


@dataclass
class Fault:
    kind: str
    on: str = "order"
    count: int = 1           # times it fires; 0 = unlimited
    p: float = 1.0           # probability per matching request
    delay: float = 3.0       # timeout: seconds held; stale: seconds frozen (0: until cleared)
    status: int = 503        # error5xx
    fraction: float = 0.5    # partial
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(KINDS)}")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"fault probability p must be within 0..1, got {self.p}")
        if self.kind == "error5xx" and not 500 <= self.status <= 599:
            raise ValueError(f"error5xx status must be 500..599, got {self.status}")
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"partial fraction must be within (0, 1], got {self.fraction}")

    def matches(self, category: str, path: str) -> bool:
        if self.count and self.fired >= self.count:
            return False
        if self.on == "any":
            return True
        if self.on in _ON:
            return self.on == category or (self.on == "private" and category in ("order", "cancel"))
        return self.on in path


def parse_fault(text: str) -> Fault:
    """``KIND[,key=value...]`` -> :class:`Fault` (ValueError with the reason on bad input)."""
    kind, *pairs = [p.strip() for p in text.split(",") if p.strip()]
    kwargs: dict[str, Any] = {}
    types = {"on": str, "count": int, "p": float, "delay": float, "status": int,
             "fraction": float}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in types:
            raise ValueError(f"bad fault setting {pair!r} in {text!r}; "
                             f"expected key=value with key one of {', '.join(types)}")
        try:
            kwargs[key] = types[key](value)
        except ValueError:
            raise ValueError(f"bad value for {key} in {text!r}: {value!r}") from None
    return Fault(kind, **kwargs)


@dataclass
class FaultBook:
    """The faults armed on one emulator and a log of every one fired."""

    faults: list[Fault] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def draw(self, category: str, path: str) -> list[Fault]:
        """The faults that fire on this request (each counted and logged)."""
        hit: list[Fault] = []
        with self._lock:
            for f in self.faults:
                if f.matches(category, path) and (f.p >= 1.0 or self._rng.random() < f.p):
                    f.fired += 1
                    hit.append(f)
                    self.log.append({"kind": f.kind, "path": path, "t": time.time()})
        return hit

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [asdict(f) for f in self.faults], "fired": list(self.log)}
