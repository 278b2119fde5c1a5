"""Positions in a document's text: the compiler's 1-based spans and editors' 0-based ones.

Both count code points here and lines the way the lexer does (only ``\\n`` ends a line); the
server converts to the client's position encoding (UTF-16 by default) at its boundary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rebal.dsl.diagnostics import Span

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|%")


@dataclass(frozen=True)
class Pos:
    """A 0-based line and code-point column."""

    line: int
    col: int


@dataclass(frozen=True)
class Rng:
    start: Pos
    end: Pos

    def contains(self, p: Pos) -> bool:
        return (self.start.line, self.start.col) <= (p.line, p.col) <= (self.end.line, self.end.col)


def span_range(s: Span) -> Rng:
    """The editor range of a compiler span (end exclusive in both)."""
    return Rng(Pos(s.line - 1, s.col - 1), Pos(s.end_line - 1, max(s.end_col - 1, 0)))


class Lines:
    """A document's text split into lines, with offsets for each."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts: list[int] = []
        at = 0
        for line in self.lines:
            self.starts.append(at)
            at += len(line) + 1

    def offset(self, p: Pos) -> int:
        if p.line >= len(self.lines):
            return len(self.text)
        return self.starts[p.line] + min(p.col, len(self.lines[p.line]))

    def end(self) -> Pos:
        return Pos(len(self.lines) - 1, len(self.lines[-1]))

    def word_at(self, p: Pos) -> tuple[str, Rng] | None:
        """The identifier (or `%`) under or just before the cursor, and its range."""
        if p.line >= len(self.lines):
            return None
        line = self.lines[p.line]
        for m in _WORD.finditer(line):
            if m.start() <= p.col <= m.end():
                return m.group(), Rng(Pos(p.line, m.start()), Pos(p.line, m.end()))
        return None

    def before(self, p: Pos) -> str:
        """The text of the line before the cursor."""
        return self.lines[p.line][: p.col] if p.line < len(self.lines) else ""


__all__ = ["Lines", "Pos", "Rng", "span_range"]
