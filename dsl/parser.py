"""The one parsing facade: text in, syntax tree and diagnostics out, never an exception.

The Lark parser is built once per process (LALR, positions on) and cached on disk by lark,
so a cold `rebal check` does not pay for grammar analysis. Lark's exceptions are turned into
diagnostics here and nowhere else.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Diagnostic, Label, Sink, Span, make
from .transform import ToAst

#: Files larger than this are refused (E108) rather than parsed.
MAX_FILE_BYTES = 1_000_000
#: Bracket nesting deeper than this is refused (E107): every later stage recurses on it.
MAX_NESTING = 48

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


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("rebal.dsl").joinpath("rebal.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


@lru_cache(maxsize=1)
def _keyword_terminals() -> dict[str, str]:
    """Terminal name -> keyword text, for every keyword of the grammar."""
    out: dict[str, str] = {}
    for t in _lark().terminals:
        pattern = t.pattern
        if pattern.type == "str" and pattern.value.isidentifier():
            out[t.name] = pattern.value
        elif pattern.type == "str":
            out.setdefault(t.name, pattern.value)
    return out


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    kw = _keyword_terminals().get(terminal)
    return f"`{kw}`" if kw else terminal.lower()


def _expected_words(expected: set[str]) -> str:
    words = sorted({_describe(t) for t in expected if not t.startswith("__")})
    if len(words) > 8:
        words = [*words[:8], "…"]
    return ", ".join(words)


def parse(text: str | bytes, file: str = "<input>") -> tuple[ast.SpecFile | None, list[Diagnostic]]:
    """Parse one file. Returns the tree (None when it could not be built) and diagnostics."""
    sink = Sink()
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            sink.emit("E108", _too_large(len(text)), Span.point(file, 1, 1), _TOO_LARGE_HELP)
            return None, sink.items
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            sink.emit(
                "E100",
                f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                Span.point(file, line, 1),
                "rebal specs are plain UTF-8 text files; is this the right file?",
            )
            return None, sink.items
    if len(text) > MAX_FILE_BYTES:
        sink.emit("E108", _too_large(len(text)), Span.point(file, 1, 1), _TOO_LARGE_HELP)
        return None, sink.items
    if _nesting_error(text, file, sink):
        return None, sink.items
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        sink.add(_syntax_diagnostic(exc, text, file))
        return None, sink.items
    items = ToAst(file, sink).transform(tree)
    strategies = tuple(i for i in items if isinstance(i, ast.Strategy))
    policies = tuple(i for i in items if isinstance(i, ast.Policy))
    return ast.SpecFile(file, text, strategies, policies), sink.items


_TOO_LARGE_HELP = "a spec is a page of text; split very large files or check the path"


def _too_large(n: int) -> str:
    return f"the file is {n:,} bytes; rebal reads specs of at most {MAX_FILE_BYTES:,} bytes"


def _nesting_error(text: str, file: str, sink: Sink) -> bool:
    depth = 0
    line, col = 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif ch in "({":
            depth += 1
            if depth > MAX_NESTING:
                sink.emit(
                    "E107",
                    f"brackets are nested more than {MAX_NESTING} deep",
                    Span.point(file, line, col),
                    "simplify the expression; rebal specs never need deep nesting",
                )
                return True
        elif ch in ")}":
            depth = max(0, depth - 1)
    return False


def _line_text(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _unclosed_brace(text: str, file: str) -> Span | None:
    """Where the innermost `{` that is never closed was opened (comments and strings skipped)."""
    stack: list[tuple[int, int]] = []
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
                i += 2 if text[i] == "\\" else 1
            col += 1
        elif ch == "{":
            stack.append((line, col))
        elif ch == "}" and stack:
            stack.pop()
        i += 1
    if not stack:
        return None
    ln, cl = stack[-1]
    return Span.point(file, ln, cl)


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = exc.line if isinstance(exc.line, int) and exc.line > 0 else 1
    col = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        opened = _unclosed_brace(text, file)
        last = text.rstrip().count("\n") + 1
        end_span = Span.point(file, last, len(_line_text(text, last)) + 1)
        if opened is not None:
            return make(
                "E103",
                "this `{` is never closed",
                opened,
                "add the missing `}` at the end of the block",
                labels=[Label(end_span, "the file ends here")],
            )
        expected = getattr(exc, "expected", None) or set()
        return make(
            "E104",
            "the file ends in the middle of a statement",
            end_span,
            f"expected {_expected_words(set(expected))}" if expected else None,
        )
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        span = Span.point(file, line, col)
        if ch == '"':
            return make(
                "E106", "this string has no closing quote", span, 'end the string with `"`'
            )
        allowed = getattr(exc, "allowed", None) or set()
        word = _word_at(text, pos)
        if word and allowed:
            hint = _did_you_mean(word, allowed)
            if hint:
                return make(
                    "E102",
                    f"`{word}` is not a keyword here",
                    Span(file, line, col, line, col + len(word)),
                    hint,
                )
        if (ch and not (ch.isprintable() and ch.isascii())) or ch in "@$`!&|^~?[]\\'":
            return make(
                "E105",
                f"unexpected character {ch!r}",
                span,
                "rebal uses letters, digits, `_ . , ; = % + - * / < > ( ) { }`, quotes and `#` comments",
            )
        return make(
            "E101",
            f"unexpected {ch!r}",
            span,
            f"expected {_expected_words(set(allowed))}" if allowed else None,
        )
    assert isinstance(exc, UnexpectedToken)
    tok: Token = exc.token
    span = Span(file, line, col, tok.end_line or line, tok.end_column or col + max(1, len(tok)))
    expected = set(exc.expected or ())
    if tok.type == "RBRACE" and "RBRACE" not in expected:
        return make(
            "E101",
            "this `}` closes the block before the statement is complete",
            span,
            f"expected {_expected_words(expected)}",
        )
    if tok.type == "NAME":
        hint = _did_you_mean(str(tok), expected)
        if hint:
            return make("E102", f"`{tok}` is not a keyword here", span, hint)
        if "RBRACE" in expected and _keyword_terminals():
            return make(
                "E101",
                f"`{tok}` cannot start a statement here",
                span,
                f"expected {_expected_words(expected)}",
            )
    return make(
        "E101",
        f"unexpected {_token_words(tok)}",
        span,
        f"expected {_expected_words(expected)}",
    )


def _token_words(tok: Token) -> str:
    if tok.type in ("NAME", "NUMBER", "STRING", "DATE"):
        return f"{_TERMINAL_WORDS.get(tok.type, tok.type)} `{tok}`"
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
