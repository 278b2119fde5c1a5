"""Compiling Vyper sources in-process (the ``vyper`` package), with a cache.

A compiled artifact is keyed by the SHA-256 of (vyper version, source): the same source always
gives the same bytecode, so the key is safe to share. The cache lives in memory and on disk
(``$REBAL_CACHE_DIR/vyper`` or ``~/.cache/rebal/vyper``), written atomically; a corrupt cache
file is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rebal.compiler.files import atomic_write

from . import CONTRACTS_DIR

__all__ = ["Artifact", "CompileError", "artifact", "cache_dir", "compile_source", "source_of"]

_MEMORY: dict[str, Artifact] = {}


class CompileError(Exception):
    """The Vyper compiler refused a source (its message, without a traceback)."""


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode (0x-hex), and the source's hash."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    source_sha256: str


def source_of(name: str) -> str:
    """The shipped source of contract ``name`` (``Token``, ``Pair``, ``Router``, ...)."""
    path = CONTRACTS_DIR / f"{name}.vy"
    if not path.is_file():
        known = sorted(p.stem for p in CONTRACTS_DIR.glob("*.vy"))
        raise CompileError(f"no shipped contract {name!r}; known: {', '.join(known)}")
    return path.read_text(encoding="utf-8")


def cache_dir() -> Path:
    root = os.environ.get("REBAL_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "rebal"
    return base / "vyper"


def _key(source: str) -> str:
    # The installed version from metadata: importing vyper itself costs half a second.
    from importlib.metadata import version

    return hashlib.sha256(f"vyper {version('vyper')}\n{source}".encode()).hexdigest()


def compile_source(source: str, name: str = "Contract") -> Artifact:
    """Compile one Vyper source (cached); raises :class:`CompileError` on a bad source."""
    key = _key(source)
    hit = _MEMORY.get(key)
    if hit is not None:
        return hit if hit.name == name else Artifact(name, hit.abi, hit.bytecode, hit.source_sha256)
    sha = hashlib.sha256(source.encode()).hexdigest()
    path = cache_dir() / f"{key}.json"
    out: Artifact | None = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = Artifact(name, data["abi"], data["bytecode"], sha)
    except (OSError, ValueError, KeyError, TypeError):
        out = None
    if out is None:
        out = _compile(source, name, sha)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps({"abi": out.abi, "bytecode": out.bytecode}))
        except OSError:
            pass  # a read-only home: compile again next time
    _MEMORY[key] = out
    return out


def _compile(source: str, name: str, sha: str) -> Artifact:
    import vyper
    from vyper.exceptions import VyperException

    try:
        out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    except VyperException as exc:
        raise CompileError(f"{name}: {exc}") from None
    return Artifact(name, out["abi"], out["bytecode"], sha)


def artifact(name: str) -> Artifact:
    """The compiled shipped contract ``name``."""
    return compile_source(source_of(name), name)
