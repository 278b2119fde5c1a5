"""Where a spec may read data files from: its own folder, or folders the operator allows.

Specs come from strangers (pull requests, CI), so a file named in a spec (``model replay
"data/eth.csv"``) is resolved against the spec's folder, and refused when it is absolute or
leads outside that folder (``..`` or a symlink), unless it lies inside a folder the operator
named with ``--allow-path DIR``. `rebal check` reports a refusal as E407 at the path; the
simulator resolves through the same function before it opens anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

__all__ = ["PathRefused", "resolve_data_path"]


@dataclass(frozen=True)
class PathRefused(Exception):
    """A data path the spec may not read; ``reason`` and ``hint`` are for the diagnostic."""

    reason: str
    hint: str

    def __str__(self) -> str:
        return f"{self.reason} ({self.hint})"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def resolve_data_path(raw: str, spec_dir: str | Path,
                      allowed: Sequence[str | Path] = ()) -> Path:
    """The file ``raw`` names, resolved (symlinks followed) against ``spec_dir``.

    Raises :class:`PathRefused` when the result is outside ``spec_dir`` and outside every
    folder of ``allowed``. The file need not exist (the caller reports a missing file).
    """
    base = Path(spec_dir).resolve()
    target = (base / raw).resolve()  # an absolute `raw` replaces the base
    roots = [base, *(Path(a).resolve() for a in allowed)]
    if any(_inside(target, r) for r in roots):
        return target
    hint = ("move the file into the spec's folder, or let the operator allow its folder with "
            "`--allow-path DIR`")
    pure = PurePath(raw)
    if pure.is_absolute():
        raise PathRefused("an absolute path: a spec reads data only from its own folder", hint)
    if ".." in pure.parts and not _inside(Path(os.path.normpath(base / raw)), base):
        raise PathRefused("the path leaves the spec's folder (`..`)", hint)
    raise PathRefused("the path leads outside the spec's folder through a symlink", hint)
