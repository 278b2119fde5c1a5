"""ccxt's exception hierarchy mapped to the live contract's two kinds, messages redacted.

* :class:`~rebal.backends.live.adapter.Transient` (look up, then maybe retry): every
  ``NetworkError`` (``RequestTimeout``, ``ExchangeNotAvailable``, ``OnMaintenance``,
  ``DDoSProtection``/``RateLimitExceeded``, ``InvalidNonce``), ``BadResponse``/``NullResponse``
  and ``CancelPending`` (an ``OperationFailed`` that is no ``ExchangeError``), and any error of
  the HTTP stack itself (a dropped connection);
* :class:`~rebal.backends.live.adapter.Rejected` (permanent, never retried): every
  ``ExchangeError`` (``InsufficientFunds``, ``InvalidOrder``, ``BadRequest``,
  ``AuthenticationError``, ``PermissionDenied``, ``OrderNotFound``, ...).

Messages keep the venue's code and reason but never a key, secret, password, signature or
authorization header: the known secret values are replaced, and so is anything shaped like a
signature parameter, whatever the exchange.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable

from rebal.backends.live.adapter import AdapterError, Rejected, Transient

__all__ = ["RedactingFilter", "classify", "redact", "redacting_print", "venue_code"]

_PATTERNS = (
    re.compile(r"(signature=)[^&\s\"']+", re.I),
    re.compile(r"(sig=)[^,&\s\"']+", re.I),
    re.compile(r"(id=)[^,&\s\"']+(?=,ts=)", re.I),
    re.compile(r"((?:authorization|x-mbx-apikey|api[-_]?key|secret|password)[\"']?\s*[:=]\s*"
               r"[\"']?)[^\"',}\s]+", re.I),
)
_CODE = re.compile(r"[\"']code[\"']\s*:\s*(-?\d+)")
MAX_MESSAGE = 600


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without any of ``secrets`` or anything shaped like a credential."""
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    for pattern in _PATTERNS:
        out = pattern.sub(r"\1***", out)
    return out if len(out) <= MAX_MESSAGE else out[:MAX_MESSAGE] + "..."


class RedactingFilter(logging.Filter):
    """Rewrites every record of a logger to its redacted text (ccxt logs request headers)."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        return True


def redacting_print(secrets: Iterable[str | None]) -> Callable[..., None]:
    """A stand-in for ccxt's ``verbose`` printer that prints redacted text only."""
    kept = tuple(s for s in secrets if s)

    def log(*args: object) -> None:
        print(redact(" ".join(str(a) for a in args), kept)[:4000], file=sys.stdout)

    return log


def venue_code(text: str) -> str:
    m = _CODE.search(text)
    return m.group(1) if m else ""


def classify(exc: BaseException, secrets: Iterable[str | None] = ()) -> AdapterError:
    """The contract's error for one exception raised by ccxt (or the HTTP stack below it)."""
    import ccxt

    if isinstance(exc, AdapterError):
        return exc
    message = redact(f"{type(exc).__name__}: {exc}", secrets)
    code = venue_code(message) or type(exc).__name__
    if isinstance(exc, ccxt.ExchangeError):
        return Rejected(message, code=code)
    # a rate-limit refusal is an answer: the venue did not carry the request out
    return Transient(message, code=code, not_executed=isinstance(exc, ccxt.DDoSProtection))
