"""Words for syntax errors: what the parser expected, in a trader's terms, and where.

Helpers shared by the syntax-error messages: describing terminals, listing what was expected,
"did you mean", and reading the source text around an error (open braces, line starts).
"""

from __future__ import annotations

import difflib

from lark import Token

from .diagnostics import Span
from .grammar import _keyword_terminals

# Words a trader reads in an "expected ..." message, by Lark terminal name.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a "string"',
    "DATE": "a date (YYYY-MM-DD)",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "SEMICOLON": "`;`",
    "EQUAL": "`=`",
    "PERCENT": "`%`",
    "MINUS": "`-`",
    "PLUS": "`+`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "$END": "the end of the file",
}


_VALUE_START = frozenset({"NUMBER", "LPAR", "MINUS", "PLUS", "NOT", "SPOT", "NAME"})
_VALUE_WORDS = "a value (a number with its unit such as `20 bps`, a name or an expression)"
# Keywords that start a file item or a strategy's top-level clause or block. Seen where only
# the items of an inner block may appear, they usually mean that block was never closed.
_OUTER_KEYWORDS = frozenset(
    "strategy policy description capital instruments book owns target trigger costs risk "
    "mode venue".split()
)
_CLOSERS = ("`}`", "`)`", "the end of the file")


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    kw = _keyword_terminals().get(terminal)
    return f"`{kw}`" if kw else terminal.lower()


def _or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _expected_words(expected: set[str]) -> str:
    """What the parser would have accepted, in words; closing brackets are never cut off."""
    names = {t for t in expected if not t.startswith("__") or t in _keyword_terminals()}
    if len(names) > 1:
        names.discard("SEMICOLON")  # a `;` may end any statement: never the useful hint
    lead: list[str] = []
    if {"NUMBER", "LPAR"} <= names:
        names -= _VALUE_START
        lead.append(_VALUE_WORDS)
    words = sorted({_describe(t) for t in names})
    closers = [w for w in _CLOSERS if w in words]
    words = [w for w in words if w not in closers]
    if len(words) > 8:
        words = [*words[:8], "…"]
    return _or_list(lead + words + closers)


def _line_text(text: str, line: int) -> str:
    """Line ``line`` (1-based) as the lexer counts lines: only `\\n` ends one."""
    lines = text.split("\n")
    return lines[line - 1].removesuffix("\r") if 0 < line <= len(lines) else ""


def _open_braces(text: str) -> list[tuple[int, int, int]]:
    """(line, col, offset) of every `{` still open at the end of ``text``, outermost first.

    Comments and strings are skipped.
    """
    stack: list[tuple[int, int, int]] = []
    line, col, i = 1, 0, 0
    n = len(text)
    while i < n:
        ch = text[i]
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif ch == "#":
            while i + 1 < n and text[i + 1] != "\n":
                i += 1
        elif ch == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                step = 2 if text[i] == "\\" and i + 1 < n and text[i + 1] != "\n" else 1
                i += step
                col += step
            if i < n and text[i] == '"':
                col += 1
                i += 1
            continue
        elif ch == "{":
            stack.append((line, col, i))
        elif ch == "}" and stack:
            stack.pop()
        i += 1
    return stack


def _unclosed_brace(text: str, file: str) -> Span | None:
    """Where the innermost `{` that is never closed was opened."""
    stack = _open_braces(text)
    if not stack:
        return None
    ln, cl, _ = stack[-1]
    return Span.point(file, ln, cl)


def _block_name(text: str, line: int) -> str | None:
    """The keyword that opens the block whose `{` is on ``line`` (`target`, `venue`, ...)."""
    word = _word_at(_line_text(text, line).lstrip(), 0)
    return word if word and word in _keyword_terminals().values() else None


def _unclosed_paren(text: str, pos: int) -> tuple[int, int] | None:
    """(line, col) of the innermost `(` left open before ``pos`` in its statement."""
    depth = 0
    i = pos - 1
    while i >= 0 and text[i] not in "{};":
        ch = text[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                return text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i)
            depth -= 1
        i -= 1
    return None


def _line_start_word(text: str, pos: int) -> tuple[str, int]:
    """The first word of the line holding ``pos`` and its offset."""
    start = text.rfind("\n", 0, pos) + 1
    while start < len(text) and text[start] in " \t\r;":
        start += 1
    return _word_at(text, start), start


def _point(file: str, text: str, pos: int, width: int = 1) -> Span:
    line = text.count("\n", 0, pos) + 1
    col = pos - text.rfind("\n", 0, pos)
    return Span(file, line, col, line, col + width)


def _token_words(tok: Token) -> str:
    if tok.type in ("NAME", "NUMBER", "STRING", "DATE"):
        return f"{tok.type.lower()} `{tok}`"
    return f"`{tok}`"


def _word_at(text: str, pos: int) -> str:
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[pos:end]


def _did_you_mean(word: str, expected: set[str]) -> str | None:
    kws = {_keyword_terminals().get(t, "") for t in expected}
    kws = {k for k in kws if k.isidentifier()}
    close = difflib.get_close_matches(word.lower(), sorted(kws), n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return None
