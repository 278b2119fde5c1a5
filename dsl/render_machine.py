"""Render diagnostics for machines: JSON (the documented keys per finding) and SARIF 2.1.0
(the code catalogue as rules, one result per finding, for code-scanning UIs).

Pure functions, like :mod:`.render` (text for people, concise lines), from which they were
split: diagnostics in, a string out, whole lines ending in a newline; nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from .diagnostics import CODES, Diagnostic, Label, Severity, Span

#: Where the catalogue lives, relative to the repository root (SARIF `helpUri`).
DOCS_PAGE = "docs/diagnostics.md"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


# --------------------------------------------------------------------------- JSON


def _label_json(lab: Label) -> dict[str, Any]:
    s = lab.span
    return {"file": s.file, "line": s.line, "col": s.col, "end_line": s.end_line,
            "end_col": s.end_col, "message": lab.message}


def _as_json(d: Diagnostic) -> dict[str, Any]:
    s = d.span
    return {
        "file": s.file if s else None,
        "line": s.line if s else None,
        "col": s.col if s else None,
        "end_line": s.end_line if s else None,
        "end_col": s.end_col if s else None,
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
        "help": d.help,
        "labels": [_label_json(lab) for lab in d.labels],
    }


def render_json(diags: Iterable[Diagnostic]) -> str:
    """``{"diagnostics": [...]}`` with exactly the documented keys per finding, sorted keys.

    ``labels`` holds the secondary locations the text output underlines ("limit set here"),
    each with its file, line, col, end_line, end_col and message, so CI can annotate both.
    """
    doc = {"diagnostics": [_as_json(d) for d in diags]}
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- SARIF

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def _uri(path: str) -> str:
    """A file path as a SARIF URI: relative paths stay relative, absolute ones get file://."""
    p = path.replace("\\", "/")
    if p.startswith("/"):
        return "file://" + quote(p, safe="/")
    return quote(p, safe="/")


def _region(s: Span) -> dict[str, int]:
    return {
        "startLine": max(1, s.line),
        "startColumn": max(1, s.col),
        "endLine": max(1, s.end_line, s.line),
        "endColumn": max(1, s.end_col) if s.end_line > s.line else max(s.col + 1, s.end_col),
    }


def _location(s: Span) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(s.file)}, "region": _region(s)}}


def sarif_rules(help_page: str = DOCS_PAGE) -> list[dict[str, Any]]:
    """The whole code catalogue as SARIF reporting descriptors, in registry order."""
    return [
        {
            "id": c.code,
            "name": c.name,
            "shortDescription": {"text": c.summary},
            "helpUri": f"{help_page}#{c.code.lower()}",
            "defaultConfiguration": {"level": _LEVEL[c.severity]},
        }
        for c in CODES.values()
    ]


def render_sarif(diags: Iterable[Diagnostic], *, tool_version: str,
                 help_page: str = DOCS_PAGE) -> str:
    """A SARIF 2.1.0 log with one run: the rule catalogue and one result per finding."""
    index = {code: i for i, code in enumerate(CODES)}
    results: list[dict[str, Any]] = []
    for d in diags:
        r: dict[str, Any] = {
            "ruleId": d.code,
            "level": _LEVEL[d.severity],
            "message": {"text": d.message},
        }
        if d.code in index:
            r["ruleIndex"] = index[d.code]
        if d.span is not None:
            r["locations"] = [_location(d.span)]
        related = [
            {"id": k, "message": {"text": lab.message}, **_location(lab.span)}
            for k, lab in enumerate(d.labels)
        ]
        if related:
            r["relatedLocations"] = related
        if d.help or d.notes:
            r["properties"] = {k: v for k, v in (("help", d.help), ("notes", list(d.notes))) if v}
        results.append(r)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rebal",
                        "version": tool_version,
                        "rules": sarif_rules(help_page),
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "DOCS_PAGE",
    "SARIF_SCHEMA",
    "render_json",
    "render_sarif",
    "sarif_rules",
]
