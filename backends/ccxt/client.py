"""A ccxt client built from a venue's settings; credentials only from the environment.

Settings of a ``via ccxt`` venue (read defensively: older IRs lack some): ``exchange`` (the
ccxt id), ``account env NAME`` (``NAME_API_KEY``, ``NAME_SECRET``, ``NAME_PASSWORD``; NAME
defaults to the venue name upper-cased), ``url env NAME`` (an API root override in that
variable, for testnets and local emulators), ``sandbox`` (ccxt's testnet switch).

The client is ccxt's **synchronous** one, on purpose: ``ccxt.async_support`` runs on aiohttp,
whose session silently sends a GET again once after a dropped connection, and Deribit places
orders with GET, so a response lost after the venue accepted an order could place it twice.
The synchronous client (requests, no retries) sends each request once; a lost answer surfaces
as a network error and the live layer looks the order up by client id before anything else.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rebal.backends.live.opening import LiveError
from rebal.compiler import ir

__all__ = ["Settings", "SettingsProblem", "make_client", "point_at", "settings_of"]


class SettingsProblem(LiveError):
    """A venue setting that cannot be honoured (unknown exchange, missing variable)."""


@dataclass(frozen=True)
class Settings:
    exchange: str
    account_env: str
    api_key: str | None
    secret: str | None
    password: str | None
    url: str | None
    sandbox: bool

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.secret, self.password) if s)


def settings_of(venue: ir.Venue, environ: Mapping[str, str]) -> Settings:
    cfg = venue.config
    exchange = str(getattr(cfg, "exchange", "") or venue.name)
    account = str(getattr(cfg, "account_env", None) or venue.name.upper())
    url_env = getattr(cfg, "url_env", None)
    url = None
    if url_env:
        url = environ.get(str(url_env))
        if not url:
            raise SettingsProblem(f"venue {venue.name}: `url env {url_env}` is set but the "
                                  f"environment has no {url_env}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsProblem(f"venue {venue.name}: {url_env} must hold an http(s) URL "
                                  "root (its value is not shown)")
    return Settings(exchange, account, environ.get(f"{account}_API_KEY") or None,
                    environ.get(f"{account}_SECRET") or None,
                    environ.get(f"{account}_PASSWORD") or None, url,
                    bool(getattr(cfg, "sandbox", False)))


def is_loopback(url: str | None) -> bool:
    host = urlsplit(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def point_at(exchange: Any, root: str) -> None:
    """Send every API of ``exchange`` to ``root``, keeping each URL's path.

    Binance picks its error table by URL host (``get_exceptions_by_url``), which a
    loopback or proxy root does not match; the table of the exchange's own market type is
    therefore merged into the general one, so ``-2019`` stays ``InsufficientFunds``.
    """
    root = root.rstrip("/")

    def move(url: Any) -> Any:
        if isinstance(url, dict):
            return {k: move(v) for k, v in url.items()}
        if isinstance(url, str) and url.startswith("http"):
            parts = urlsplit(url)
            return root + parts.path
        return url

    exchange.urls["api"] = move(exchange.urls["api"])
    exceptions = getattr(exchange, "exceptions", {})
    sub = exchange.options.get("defaultSubType") or exchange.options.get("defaultType")
    typed = exceptions.get(sub) if isinstance(exceptions, dict) else None
    if isinstance(typed, dict) and "exact" in exceptions:
        exceptions["exact"] = {**exceptions["exact"], **typed.get("exact", {})}
        exceptions["broad"] = {**exceptions.get("broad", {}), **typed.get("broad", {})}


def make_client(s: Settings, *, timeout_ms: int = 10_000) -> Any:
    """A sync ccxt client whose logger and ``verbose`` printer only ever show redacted text."""
    import ccxt

    from .errors import RedactingFilter, redacting_print

    cls = getattr(ccxt, s.exchange, None)
    if cls is None or not isinstance(cls, type):
        raise SettingsProblem(f"ccxt has no exchange `{s.exchange}`")
    wire = logging.getLogger(f"rebal.ccxt.{s.exchange}.{id(s)}")
    wire.addFilter(RedactingFilter(s.secrets))
    config: dict[str, Any] = {"timeout": timeout_ms, "enableRateLimit": not is_loopback(s.url),
                              "logger": wire}
    for key, value in (("apiKey", s.api_key), ("secret", s.secret), ("password", s.password)):
        if value:
            config[key] = value
    client = cls(config)
    client.log = redacting_print(s.secrets)  # ccxt's verbose output prints request headers
    if s.sandbox:
        client.set_sandbox_mode(True)
    if s.url:
        point_at(client, s.url)
    return client
