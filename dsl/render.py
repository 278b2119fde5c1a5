"""Render diagnostics as text for people (rustc-like), one-line concise, JSON and SARIF.

Pure functions: diagnostics and source texts in, a string out. Nothing here prints; the CLI
writes what these return. Every non-empty result is whole lines, each ending in a newline.
Findings are rendered in the order given; :func:`sorted_diagnostics` gives a stable order.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .diagnostics import CODES, Diagnostic, Label, Severity, Span

#: Source lines wider than this (in characters) are shown as a window around the finding.
MAX_LINE_CHARS = 120
#: How much of a long line is kept to the left of the finding.
_LEFT_CONTEXT = 40
#: Where the catalogue lives, relative to the repository root (SARIF `helpUri`).
DOCS_PAGE = "docs/diagnostics.md"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_RESET = "\x1b[0m"
_STYLE = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "note": "\x1b[1;32m",
    "help": "\x1b[1;36m",
    "gutter": "\x1b[1;34m",
    "bold": "\x1b[1m",
}


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """A stable order: by file, position, code and message; findings without a place first."""

    def key(d: Diagnostic) -> tuple[str, int, int, str, str]:
        s = d.span
        return (s.file, s.line, s.col, d.code, d.message) if s else ("", 0, 0, d.code, d.message)

    return sorted(diags, key=key)


# --------------------------------------------------------------------------- text


class _Paint:
    """ANSI styling that is a no-op when colour is off."""

    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, style: str, text: str) -> str:
        if not self.on or not text:
            return text
        return f"{_STYLE[style]}{text}{_RESET}"


@dataclass(frozen=True, slots=True)
class _Mark:
    """One underline on one source line: 0-based character columns, end exclusive."""

    line: int
    start: int
    end: int
    primary: bool
    message: str


class _Lines:
    """A source text split into lines the way the lexer counts them (only `\\n` ends a line)."""

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")

    def get(self, line: int) -> str | None:
        if 1 <= line <= len(self._lines):
            return self._lines[line - 1].removesuffix("\r")
        return None


def _char_width(ch: str) -> int:
    if ch == "\t":
        return 4
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _visible(ch: str) -> str:
    """A character as shown: tabs as spaces, control and invisible characters made visible."""
    if ch == "\t":
        return "    "
    o = ord(ch)
    if o < 0x20:
        return chr(0x2400 + o)  # control pictures: ␀ ␁ ... ␟
    if o == 0x7F:
        return "\u2421"
    if not ch.isprintable() and not unicodedata.combining(ch):
        return "\ufffd"
    return ch


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe to show to a person: on a terminal, in a CI log, in a report.

    Control and invisible characters become visible symbols (ESC as ␛, NUL as ␀, DEL as ␡,
    other unprintable characters as �), so a string from a spec cannot move the cursor,
    recolour or rewrite what a reviewer sees. Tabs and line breaks become spaces (one line),
    or with ``keep_newlines`` only ``\\n`` is kept (a ``\\r`` is shown as ␍). Every
    human-facing output applies this to strings that came from a spec.
    """
    if keep_newlines:
        return "".join(ch if ch == "\n" else " " if ch == "\t" else _visible(ch) for ch in text)
    return "".join(" " if ch in "\t\r\n" else _visible(ch) for ch in text)


def _clean(text: str) -> str:
    """Message text made safe for a terminal: no escape sequences, one line."""
    return visible(text)


@dataclass(frozen=True, slots=True)
class _Shown:
    """A source line as displayed, with the display column of each character in view.

    Long lines are cut to a window of ``MAX_LINE_CHARS`` characters marked by ellipses; a
    column left of the window maps to its start, one right of it to the closing ellipsis.
    """

    text: str
    lo: int
    cols: tuple[int, ...]  # display column of raw[lo + k], and of the window's end
    cut_right: bool

    def col(self, i: int) -> int:
        k = i - self.lo
        if k <= 0:
            return self.cols[0] if k == 0 else max(0, self.cols[0] - 1)
        if k < len(self.cols):
            return self.cols[k]
        return self.cols[-1] + (0 if self.cut_right else k - len(self.cols) + 1)


def _shown(raw: str, first: int) -> _Shown:
    """Display ``raw``, keeping the character at index ``first`` in view."""
    lo = 0
    if len(raw) > MAX_LINE_CHARS:
        lo = max(0, min(first - _LEFT_CONTEXT, len(raw) - MAX_LINE_CHARS))
    hi = min(len(raw), lo + MAX_LINE_CHARS)
    parts: list[str] = ["\u2026"] if lo > 0 else []
    col = 1 if lo > 0 else 0
    cols: list[int] = []
    for ch in raw[lo:hi]:
        cols.append(col)
        vis = _visible(ch)
        parts.append(vis)
        col += _char_width(ch) if vis == ch or ch == "\t" else 1
    cols.append(col)
    if hi < len(raw):
        parts.append("\u2026")
    return _Shown("".join(parts).rstrip(), lo, tuple(cols), hi < len(raw))


def _underline(mark: _Mark, shown: _Shown, paint: _Paint, sev: str) -> str:
    a, b = shown.col(mark.start), shown.col(mark.end)
    width = max(1, b - a)
    style = sev if mark.primary else "gutter"
    line = " " * a + paint(style, ("^" if mark.primary else "-") * width)
    if mark.message:
        line += " " + paint(style, _clean(mark.message))
    return line


def _mark(span: Span, src: _Lines, primary: bool, message: str) -> _Mark | None:
    raw = src.get(span.line)
    if raw is None:
        return None
    start = max(0, span.col - 1)
    if span.end_line == span.line:
        end = max(start + 1, span.end_col - 1)
    else:  # a multi-line span: underline to the end of its first line
        end = max(start + 1, len(raw))
    start = min(start, len(raw))
    end = min(end, len(raw) + 1)
    return _Mark(span.line, start, max(end, start + 1), primary, message)


def _snippet(marks: list[_Mark], src: _Lines, width: int, paint: _Paint, sev: str) -> list[str]:
    """Source lines with their underlines, in line order; `...` where lines are skipped."""
    gutter_blank = paint("gutter", " " * width + " |")
    out: list[str] = []
    by_line: dict[int, list[_Mark]] = {}
    for m in marks:
        by_line.setdefault(m.line, []).append(m)
    prev: int | None = None
    for ln in sorted(by_line):
        if prev is not None and ln - prev == 2:
            between = src.get(prev + 1) or ""
            out.append(_source_row(prev + 1, _shown(between, 0).text, width, paint))
        elif prev is not None and ln - prev > 2:
            out.append(paint("gutter", "..."))
        group = sorted(by_line[ln], key=lambda m: (not m.primary, m.start))
        shown = _shown(src.get(ln) or "", min(m.start for m in group))
        out.append(_source_row(ln, shown.text, width, paint))
        for m in group:
            out.append(f"{gutter_blank} {_underline(m, shown, paint, sev)}".rstrip())
        prev = ln
    return out


def _source_row(ln: int, text: str, width: int, paint: _Paint) -> str:
    head = paint("gutter", f"{ln:>{width}} |")
    return f"{head} {text}" if text else head


def _render_one(d: Diagnostic, sources: Mapping[str, str], paint: _Paint,
                cache: dict[str, _Lines]) -> str:
    sev = d.severity.value
    out = [paint(sev, f"{sev}[{d.code}]") + paint("bold", f": {_clean(d.message)}")]
    span = d.span

    def lines_of(file: str) -> _Lines | None:
        if file not in sources:
            return None
        if file not in cache:
            cache[file] = _Lines(sources[file])
        return cache[file]

    # Group the primary span and the labels by file, primary file first.
    groups: dict[str, list[_Mark]] = {}
    headers: dict[str, Span] = {}
    stray: list[str] = []
    if span is not None:
        headers[span.file] = span
        src = lines_of(span.file)
        m = _mark(span, src, True, "") if src else None
        groups[span.file] = [m] if m else []
    for lab in d.labels:
        src = lines_of(lab.span.file)
        m = _mark(lab.span, src, False, lab.message) if src else None
        if m is None:
            s = lab.span
            stray.append(f"{lab.message} ({s.file}:{s.line}:{s.col})")
            continue
        headers.setdefault(lab.span.file, lab.span)
        groups.setdefault(lab.span.file, []).append(m)
    width = max((len(str(m.line)) for ms in groups.values() for m in ms), default=1)
    pad = " " * width
    for k, (file, marks) in enumerate(groups.items()):
        h = headers[file]
        arrow = "-->" if k == 0 and span is not None else ":::"
        out.append(paint("gutter", f"{pad}{arrow}") + f" {_clean(file)}:{h.line}:{h.col}")
        src = lines_of(file)
        if marks and src is not None:
            out.append(paint("gutter", f"{pad} |"))
            out.extend(_snippet(marks, src, width, paint, sev))
    tail = [("note", n) for n in stray] + ([("help", d.help)] if d.help else [])
    tail += [("note", n) for n in d.notes]
    if tail:
        if groups:
            out.append(paint("gutter", f"{pad} |"))
        for kind, text in tail:
            out.append(f"{pad} {paint('gutter', '=')} {paint('bold', kind)}: {_clean(text)}")
    return "\n".join(out) + "\n"


def render_text(diags: Iterable[Diagnostic], sources: Mapping[str, str], *,
                color: bool = False) -> str:
    """Diagnostics for people: header, location, source line with carets, help and notes.

    ``sources`` maps a file name (as in the spans) to its text; a file missing from it is
    shown by location only. Blocks are separated by a blank line.
    """
    paint = _Paint(color)
    cache: dict[str, _Lines] = {}
    return "\n".join(_render_one(d, sources, paint, cache) for d in diags)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_summary(diags: Iterable[Diagnostic], nfiles: int, *, color: bool = False) -> str:
    """The closing line, e.g. ``2 errors, 1 warning in 3 files``."""
    paint = _Paint(color)
    counts = {s: 0 for s in Severity}
    for d in diags:
        counts[d.severity] += 1
    parts = [paint(s.value, _plural(counts[s], s.value)) for s in Severity if counts[s]]
    what = ", ".join(parts) if parts else "no problems"
    return f"{what} in {_plural(nfiles, 'file')}\n"


# --------------------------------------------------------------------------- concise


def render_concise(diags: Iterable[Diagnostic]) -> str:
    """One line per finding: ``file:line:col: E301 message`` (no location when there is none)."""
    out: list[str] = []
    for d in diags:
        s = d.span
        where = f"{_clean(s.file)}:{s.line}:{s.col}: " if s else ""
        out.append(f"{where}{d.code} {_clean(d.message)}\n")
    return "".join(out)


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
    "MAX_LINE_CHARS",
    "render_concise",
    "render_json",
    "render_sarif",
    "render_summary",
    "render_text",
    "sarif_rules",
    "sorted_diagnostics",
]
