"""The diagnostics catalogue for hover: a code's registry entry and, when the documentation is
at hand (a source checkout or an editable install), its page's "What it means" and "Fix".

An installed wheel carries no ``docs/``: hover then shows the registry's summary alone, and
the link points at the catalogue's anchor relative to the project.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from rebal.dsl.catalogue import catalogue_path
from rebal.dsl.diagnostics import CODES

_SECTION = re.compile(r"^## (.+)$", re.M)


@lru_cache(maxsize=1)
def docs_root() -> Path | None:
    """The repository root holding ``docs/diagnostics/``, when the sources are installed from one."""
    import rebal.dsl

    root = Path(rebal.dsl.__file__).resolve().parents[1]
    return root if (root / "docs" / "diagnostics").is_dir() else None


def catalogue_uri(code: str) -> str | None:
    """A ``file://`` link to the code's entry in docs/diagnostics.md, when it exists here."""
    root = docs_root()
    if root is None:
        return None
    return catalogue_path(root).as_uri() + f"#{code.lower()}"


@lru_cache(maxsize=128)
def _sections(code: str) -> dict[str, str]:
    root = docs_root()
    page = root / "docs" / "diagnostics" / f"{code}.md" if root else None
    if page is None or not page.is_file():
        return {}
    text = page.read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def code_markdown(code: str) -> str:
    """Markdown for hovering a finding: code, name, summary, and its docs entry when found."""
    info = CODES.get(code)
    if info is None:
        return f"**{code}**"
    out = [f"**{code}** `{info.name}` ({info.severity.value}): {info.summary}"]
    sections = _sections(code)
    for title in ("What it means", "Fix"):
        if title in sections:
            out.append(f"*{title}.* {sections[title]}")
    uri = catalogue_uri(code)
    out.append(f"[docs/diagnostics.md#{code.lower()}]({uri})" if uri else
               f"See docs/diagnostics.md#{code.lower()}.")
    return "\n\n".join(out)


__all__ = ["catalogue_uri", "code_markdown", "docs_root"]
