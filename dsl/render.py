"""Render diagnostics as text for people (rustc-like) and as one-line concise findings.

Pure functions: diagnostics and source texts in, a string out. Nothing here prints; the CLI
writes what these return. Every non-empty result is whole lines, each ending in a newline.
Findings are rendered in the order given; :func:`sorted_diagnostics` gives a stable order.
JSON and SARIF are in :mod:`.render_machine`; messages and source lines are shown through
:func:`.safe_text.visible`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .diagnostics import Diagnostic, Severity, Span
from .safe_text import char_width, visible, visible_char

#: Source lines wider than this (in characters) are shown as a window around the finding.
MAX_LINE_CHARS = 120
#: How much of a long line is kept to the left of the finding.
_LEFT_CONTEXT = 40

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
        vis = visible_char(ch)
        parts.append(vis)
        col += char_width(ch) if vis == ch or ch == "\t" else 1
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


__all__ = [
    "MAX_LINE_CHARS",
    "render_concise",
    "render_summary",
    "render_text",
    "sorted_diagnostics",
]
