"""From a spec file and a venue name to a ready :class:`~.session.LiveSession`.

The adapter is found through the backend registry, never imported by name: the backend's
package holds ``adapter.py`` with ``open_adapter(strategy, venue, environ)``; credentials and
URLs come only from ``environ`` (the process environment). An opener that declares a
``state_dir`` keyword also gets the session's state folder (the keeper and solver read the
``deployment.json`` of a local rehearsal there); openers without it are called as before.
An adapter whose ``venue`` attribute is an :class:`~rebal.compiler.ir.Venue` of the same name
(the solver's, with a rehearsal's token addresses) gives the session that venue, so plans
show the addresses actually used.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebal.compiler import ir
from rebal.compiler.canonical import canonical_json, content_hash

from .adapter import Adapter
from .folder import StateFolder, default_state_dir
from .journal import Journal
from .session import LiveSession

__all__ = ["LiveError", "Opened", "ir_hash_of", "live_venue", "open_adapter", "open_session"]


class LiveError(RuntimeError):
    """A user-facing problem opening a live session (wrong venue, missing backend...)."""


def ir_hash_of(strategy: ir.Strategy) -> str:
    return content_hash(canonical_json(strategy))


def live_venue(strategy: ir.Strategy, name: str) -> ir.Venue:
    names = [v.name for v in strategy.venues]
    try:
        venue = strategy.venue(name)
    except KeyError:
        raise LiveError(f"strategy {strategy.name} has no venue `{name}` (venues: "
                        f"{', '.join(names) or 'none'})") from None
    if venue.backend == "sim":
        raise LiveError(f"venue `{name}` is a sim venue: use `rebal simulate`, not a live "
                        "command")
    return venue


def _takes_state_dir(opener: Any) -> bool:
    try:
        params = inspect.signature(opener).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "state_dir" or p.kind is p.VAR_KEYWORD for p in params)


def open_adapter(strategy: ir.Strategy, venue: ir.Venue,
                 environ: Mapping[str, str] | None = None, *,
                 state_dir: str | Path | None = None) -> Adapter:
    from rebal.backends import registry

    try:
        backend = registry.get(venue.backend)
    except LookupError as exc:
        raise LiveError(str(exc)) from None
    try:
        module = importlib.import_module(backend.module + ".adapter")
    except ModuleNotFoundError as exc:
        raise LiveError(f"the `{venue.backend}` backend cannot run live here ({exc.name} is "
                        f"not installed; `pip install 'rebal[all]'`)") from None
    opener = getattr(module, "open_adapter", None)
    if opener is None:
        raise LiveError(f"the `{venue.backend}` backend has no live adapter")
    extra: dict[str, Any] = {}
    if state_dir is not None and _takes_state_dir(opener):
        extra["state_dir"] = Path(state_dir)
    try:
        adapter: Adapter = opener(strategy, venue,
                                  dict(os.environ if environ is None else environ), **extra)
    except ValueError as exc:  # a venue setting the adapter cannot honour
        raise LiveError(str(exc)) from None
    return adapter


@dataclass
class Opened:
    """A live session with the resources it holds (closed together)."""

    session: LiveSession
    folder: StateFolder
    journal: Journal
    adapter: Adapter

    def close(self) -> None:
        try:
            self.adapter.close()
        finally:
            self.journal.close()
            self.folder.unlock()


class _Offline:
    """The adapter of a session opened without the venue (``status --offline``, ``resume``)."""

    name = "offline"

    def __getattr__(self, verb: str) -> Any:
        if verb in ("snapshot", "submit", "lookup", "cancel", "history"):
            raise LiveError("this command was opened without the venue")
        raise AttributeError(verb)

    def close(self) -> None:
        pass


def open_session(strategy: ir.Strategy, venue_name: str, *, state_dir: str | Path | None = None,
                 environ: Mapping[str, str] | None = None, adapter: Adapter | None = None,
                 lock: bool = True, connect: bool = True) -> Opened:
    """Lock the state folder, open the journal and the adapter, build the session
    (``connect=False``: no adapter, for commands that only read or clear the journal)."""
    venue = live_venue(strategy, venue_name)
    folder = StateFolder(state_dir or default_state_dir(strategy.name, venue.name))
    if lock:
        folder.lock()
    try:
        journal = Journal(folder.journal)
        try:
            ad = adapter or (open_adapter(strategy, venue, environ, state_dir=folder.path)
                             if connect else _Offline())  # type: ignore[assignment]
        except BaseException:
            journal.close()
            raise
    except BaseException:
        folder.unlock()
        raise
    # an adapter that runs the venue with other addresses than the spec's (a local
    # rehearsal's deployment.json) states it as ``venue``: the plan shows what is used
    used = getattr(ad, "venue", None)
    if isinstance(used, ir.Venue) and used.name == venue.name:
        venue = used
    session = LiveSession(strategy, venue, ad, journal, ir_hash=ir_hash_of(strategy))
    return Opened(session, folder, journal, ad)
