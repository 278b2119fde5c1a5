"""The registry of backends: found by name, built-ins imported lazily, plugins by entry point.

A backend is known by its capability declaration (a light module: data, no numpy, ccxt or
web3), so `rebal check` can validate every venue without importing any backend library. The
implementation module is imported only by :meth:`Backend.load`, when something runs.

Third-party backends register in the entry-point group ``rebal.backends``::

    [project.entry-points."rebal.backends"]
    mybackend = "my_package.rebal_backend"

The entry point resolves to a :class:`~rebal.compiler.capabilities.Capabilities` or to an
object (module or class) with a ``CAPABILITIES`` attribute holding one; the implementation is
the entry point's module. A plugin cannot shadow a built-in name.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

from rebal.compiler.capabilities import FEATURES, Capabilities

if TYPE_CHECKING:
    from importlib import metadata

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rebal.backends"

#: Built-in backends: name -> package holding `capabilities.py` and the implementation.
BUILTINS: dict[str, str] = {
    "sim": "rebal.backends.sim",
    "ccxt": "rebal.backends.ccxt",
    "keeper": "rebal.backends.keeper",
    "solver": "rebal.backends.solver",
}


class UnknownBackend(LookupError):
    """A backend name that is neither built in nor installed as a plugin."""

    def __init__(self, name: str, known: list[str]) -> None:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"did you mean `{close[0]}`?" if close else "known backends: " + ", ".join(known)
        super().__init__(f"unknown backend `{name}`; {hint}")
        self.name = name
        self.suggestion = close[0] if close else None


@dataclass(frozen=True)
class Backend:
    """A registered backend: its declaration now, its implementation on demand."""

    name: str
    capabilities: Capabilities
    module: str
    builtin: bool

    def load(self) -> ModuleType:
        """Import the implementation (this may import numpy, ccxt or web3)."""
        return importlib.import_module(self.module)


def _builtin(name: str) -> Backend:
    package = BUILTINS[name]
    decl = importlib.import_module(package + ".capabilities")
    caps = decl.CAPABILITIES
    assert isinstance(caps, Capabilities)
    return Backend(name, caps, package, True)


def _plugin(ep: metadata.EntryPoint) -> Backend | None:
    try:
        obj = ep.load()
    except Exception as exc:  # a broken plugin must not break `rebal check`
        log.warning("backend plugin %s (%s) failed to load: %s", ep.name, ep.value, exc)
        return None
    caps = obj if isinstance(obj, Capabilities) else getattr(obj, "CAPABILITIES", None)
    if not isinstance(caps, Capabilities):
        log.warning("backend plugin %s (%s) declares no CAPABILITIES", ep.name, ep.value)
        return None
    return Backend(ep.name, caps, ep.module, False)


@cache
def _plugins() -> dict[str, metadata.EntryPoint]:
    from importlib import metadata  # only when a plugin may be needed: it costs start-up time

    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTINS:
            log.warning("backend plugin %s cannot replace the built-in backend", ep.name)
            continue
        found.setdefault(ep.name, ep)
    return found


def names() -> list[str]:
    """Every backend name: built-ins first, then plugins, each group sorted."""
    return [*BUILTINS, *sorted(_plugins())]


@cache
def get(name: str) -> Backend:
    """The backend called ``name``; :class:`UnknownBackend` (with 'did you mean') if none."""
    if name in BUILTINS:
        return _builtin(name)
    ep = _plugins().get(name)
    backend = _plugin(ep) if ep is not None else None
    if backend is None:
        raise UnknownBackend(name, names())
    return backend


class Declarations(Mapping[str, Capabilities]):
    """Every loadable backend's declaration, by name, looked up lazily.

    Asking for a built-in never scans the installed packages' entry points, so `rebal check`
    on a spec that names only built-in backends does not pay for the plugin search.
    """

    def __getitem__(self, name: str) -> Capabilities:
        try:
            return get(name).capabilities
        except UnknownBackend:  # includes a plugin that failed to load (and was logged)
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in BUILTINS:
            return True
        try:
            get(name)
        except UnknownBackend:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter([n for n in names() if n in self])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def capabilities() -> Mapping[str, Capabilities]:
    """Every loadable backend's declaration, by name (what `rebal check` validates against)."""
    return Declarations()


def capability_table(backends: list[str] | None = None) -> str:
    """A Markdown table of features by backend, generated from the declarations."""
    caps = capabilities()
    cols = backends if backends is not None else [n for n in BUILTINS if n in caps]
    head = "| feature | " + " | ".join(f"`{c}`" for c in cols) + " |"
    rule = "| --- | " + " | ".join("---" for _ in cols) + " |"
    rows = [f"| {words} | " + " | ".join(caps[c].of(feat) for c in cols) + " |"
            for feat, words in FEATURES.items()]
    return "\n".join([head, rule, *rows]) + "\n"


def capability_notes(backends: list[str] | None = None) -> str:
    """Markdown: each backend's summary and the notes behind its non-native entries."""
    caps = capabilities()
    cols = backends if backends is not None else [n for n in BUILTINS if n in caps]
    parts: list[str] = []
    for c in cols:
        decl = caps[c]
        parts.append(f"### `{c}`\n\n{decl.summary}\n")
        notes = [f"- {FEATURES[f]} ({decl.of(f)}): {text}."
                 for f, text in decl.notes.items() if f in FEATURES]
        if notes:
            parts.append("\n".join(notes) + "\n")
    return "\n".join(parts)
