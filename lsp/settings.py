"""The project setting that gives `rebal lsp` its house policy (as `rebal check --policy`).

Looked up, first found wins: the client's ``initializationOptions`` or ``rebal`` settings
(``{"policy": "path"}``, relative to the workspace root), then the nearest ``rebal.toml``
(``policy = "path"``) or ``pyproject.toml`` (``[tool.rebal] policy = "path"``) above the
document, relative to that file. The policy file is checked once and again only when it
changes on disk.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rebal.compiler import ir
from rebal.compiler.api import CheckResult, check_file, policy_of


def _from_toml(path: Path) -> str | None:
    try:
        return _read_toml(path, path.stat().st_mtime)
    except OSError:
        return None


@lru_cache(maxsize=64)
def _read_toml(path: Path, mtime: float) -> str | None:
    """The policy a settings file names; cached until the file changes (``mtime``)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    table: Any = doc if path.name == "rebal.toml" else doc.get("tool", {}).get("rebal", {})
    value = table.get("policy") if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def project_policy_path(document: Path, options: dict[str, Any], root: Path | None) -> Path | None:
    """Where the policy for ``document`` is, or None when the project names none."""
    given = options.get("policy")
    if isinstance(given, str) and given:
        p = Path(given).expanduser()
        return p if p.is_absolute() else (root or document.parent) / p
    for folder in document.resolve().parents:
        for name in ("rebal.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file():
                value = _from_toml(candidate)
                if value:
                    return folder / value
    return None


@dataclass
class PolicyCache:
    """Checked policy files by path, reloaded when their modification time changes."""

    _seen: dict[Path, tuple[float, CheckResult, ir.Policy | None]] = field(default_factory=dict)

    def load(self, path: Path) -> tuple[CheckResult, ir.Policy | None]:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = -1.0
        hit = self._seen.get(path)
        if hit is None or hit[0] != mtime:
            res = check_file(path)
            hit = (mtime, res, policy_of(res))
            self._seen[path] = hit
        return hit[1], hit[2]


__all__ = ["PolicyCache", "project_policy_path"]
