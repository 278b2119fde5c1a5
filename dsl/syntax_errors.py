"""Syntax errors in words a trader understands: what was expected, and a hint.

Turns Lark's exceptions into one diagnostic each: "did you mean" for misspelled keywords,
the opening brace of an unclosed block, an incomplete statement on the line before, etc.
"""

from __future__ import annotations

import re
from decimal import Decimal

from lark import (
    Token,
    Tree,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from .diagnostics import Diagnostic, Label, Span, make
from .grammar import _keyword_terminals
from .grammar import accepted_terminals as _accepts_at
from .syntax_words import (
    _OUTER_KEYWORDS,
    _block_name,
    _did_you_mean,
    _expected_words,
    _line_start_word,
    _line_text,
    _open_braces,
    _point,
    _token_words,
    _unclosed_brace,
    _unclosed_paren,
    _word_at,
)


def _pos(v: Token | Tree[Token]) -> tuple[int, int, int, int, int, int] | None:
    """(line, col, end_line, end_col, start, end) of a token or subtree, if known."""
    if isinstance(v, Token):
        if v.line is None or v.column is None or v.start_pos is None:
            return None
        return (v.line, v.column, v.end_line or v.line, v.end_column or v.column + len(v),
                v.start_pos, v.end_pos if v.end_pos is not None else v.start_pos + len(v))
    m = v.meta
    if m.empty:
        return None
    return m.line, m.column, m.end_line, m.end_column, m.start_pos, m.end_pos


def _statement_so_far(exc: UnexpectedInput) -> list[tuple[Token | Tree[Token], tuple[int, ...]]]:
    """The values already read of the statement the parser was in, with their positions.

    Taken from the parser's value stack back to the last `{`, `}` or `;`, within one line:
    statements are written one per line, so this is what the trader sees as "the statement".
    """
    ip = getattr(exc, "interactive_parser", None)
    if ip is None:
        return []
    out: list[tuple[Token | Tree[Token], tuple[int, ...]]] = []
    for v in reversed(ip.parser_state.value_stack):
        if isinstance(v, Token) and v.type in ("LBRACE", "RBRACE", "SEMICOLON"):
            break
        if not isinstance(v, Token | Tree):
            break
        if isinstance(v, Tree) and v.data.startswith("__"):
            break
        p = _pos(v)
        if p is None or (out and p[2] != out[-1][1][0]):
            break
        out.append((v, p))
    return out[::-1]


def _span_of(file: str, run: list[tuple[Token | Tree[Token], tuple[int, ...]]]) -> Span:
    first, last = run[0][1], run[-1][1]
    return Span(file, first[0], first[1], last[2], last[3])


_NUMBER_THEN_NAME = re.compile(r"(?<![\w.])(\d[\d_]*(?:\.\d[\d_]*)?)\s+([A-Za-z_]\w*)\s*\Z")


def _name_read_as_unit(text: str, pos: int) -> tuple[str, str] | None:
    """(number, name) when the text before ``pos`` ends in a bare number and a name on a later
    line: the grammar took the name as that number's unit (`BTC_PERP 0.6` / `ETH_PERP 0.4`)."""
    m = _NUMBER_THEN_NAME.search(text, max(0, pos - 200), pos)
    if m is None or "\n" not in text[m.end(1):m.start(2)]:
        return None
    return m.group(1), m.group(2)


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = exc.line if isinstance(exc.line, int) and exc.line > 0 else 1
    col = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, text, file, line, col)
    run = _statement_so_far(exc)
    expected = _expected_at(exc)
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return _unexpected_end(text, file, run, expected)
    assert isinstance(exc, UnexpectedToken)
    tok: Token = exc.token
    span = Span(file, line, col, tok.end_line or line, tok.end_column or col + max(1, len(tok)))
    tok_line = tok.line or line
    if run and tok_line > run[-1][1][2] and expected & {"RBRACE", "SEMICOLON"}:
        run = []  # the statement before is complete; the new line is the problem
    start = run[0][1][4] if run else tok.start_pos or 0
    if "RPAR" in expected and tok.type != "RPAR" and (
        tok_line > (run[-1][1][2] if run else tok_line) or tok.type in ("RBRACE", "NAME")
    ):
        opened = _unclosed_paren(text, tok.start_pos or 0)
        if opened is not None:
            return make("E101", "this `(` is never closed", Span.point(file, *opened),
                        "add the missing `)`",
                        labels=[Label(span, "expected `)` before this")])
    for pos in dict.fromkeys((start, tok.start_pos or 0)):
        for check in (_misspelled_statement, _previous_line_incomplete,
                      _outer_keyword_inside_block, _outside_strategy):
            found = check(text, file, pos)
            if found is not None:
                return found
    if tok.type == "NUMBER" and "DATE" in expected:
        return _bad_date_shape(text, file, tok, span)
    if tok.type == "NUMBER":
        eaten = _name_read_as_unit(text, tok.start_pos or 0)
        if eaten is not None:
            number, name = eaten
            as_pct = format(Decimal(number.replace("_", "")) * 100, "f").rstrip("0").rstrip(".")
            return make(
                "E101", f"unexpected number `{tok}` after `{name}`", span,
                f"`{name}` was read as the unit of `{number}` before it, because newlines do "
                f"not end statements: give `{number}` a unit (`{as_pct}%` if it is a "
                "fraction) or end that statement with `;`",
            )
    if tok.type == "EQUAL" and "EQ_EQ" in expected:
        return make("E101", "`=` is not a comparison", span,
                    "to compare, write `==` (or `<`, `<=`, `>`, `>=`, `!=`); "
                    "`=` only maps an instrument to a venue symbol")
    if tok.type == "PERCENT" and "NUMBER" in expected:
        return make("E101", "`%` comes after the number", span,
                    "write the number first, then its unit: `25%`, `20 bps`, `3x`")
    if tok.type == "RPAR" and "RPAR" not in expected:
        return make("E101", "this `)` has no matching `(`", span, "remove it")
    if run and (tok.type == "RBRACE" or tok_line > run[-1][1][2]):
        stmt = _statement_text(text, run)
        return make(
            "E101",
            f"`{stmt}` is incomplete",
            _span_of(file, run),
            f"expected {_expected_words(expected)} after `{stmt}`",
        )
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
        if not run:
            return make(
                "E101",
                f"`{tok}` cannot start a statement here",
                span,
                f"expected {_expected_words(expected)}",
            )
    after = f" after `{_statement_text(text, run)}`" if run else ""
    return make(
        "E101",
        f"unexpected {_token_words(tok)}{after}",
        span,
        f"expected {_expected_words(expected)}",
    )


def _expected_at(exc: UnexpectedInput) -> set[str]:
    """What the parser accepts at the error, by simulation (LALR's own lookahead set merges
    states, so it names tokens that would fail a step later); lark's set as the fallback."""
    try:
        acc = getattr(exc, "accepts", None)
        if acc:
            return set(acc)
    except Exception:  # only wording depends on it
        pass
    return set(getattr(exc, "expected", None) or ())


def _bad_date_shape(text: str, file: str, tok: Token, span: Span) -> Diagnostic:
    """`2026-12-5`: the lexer saw a number where a YYYY-MM-DD date must be."""
    start = tok.start_pos or 0
    end = start
    while end < len(text) and (text[end].isdigit() or text[end] == "-"):
        end += 1
    word = text[start:end]
    return make("E109", f"`{word}` is not a date", Span(file, span.line, span.col, span.line,
                span.col + len(word)),
                "dates are written YYYY-MM-DD with a two-digit month and day, e.g. 2026-12-05")


def _statement_text(text: str, run: list[tuple[Token | Tree[Token], tuple[int, ...]]]) -> str:
    words = " ".join(text[run[0][1][4] : run[-1][1][5]].split())
    return words if len(words) <= 40 else words[:39] + "…"


def _unexpected_end(text: str, file: str, run: list[tuple[Token | Tree[Token], tuple[int, ...]]],
                    expected: set[str]) -> Diagnostic:
    opened = _unclosed_brace(text, file)
    last = text.rstrip().count("\n") + 1
    end_span = Span.point(file, last, len(_line_text(text, last).rstrip()) + 1)
    if opened is not None:
        name = _block_name(text, opened.line)
        return make(
            "E103",
            f"this `{name}` block is never closed" if name else "this `{` is never closed",
            opened,
            "add the missing `}` at the end of the block",
            labels=[Label(end_span, "the file ends here")],
        )
    if run:
        stmt = _statement_text(text, run)
        return make(
            "E104",
            f"the file ends in the middle of `{stmt}`",
            _span_of(file, run),
            f"expected {_expected_words(expected)} after `{stmt}`" if expected else None,
        )
    return make(
        "E104",
        "the file ends in the middle of a statement",
        end_span,
        f"expected {_expected_words(expected)}" if expected else None,
    )


def _outer_keyword_inside_block(text: str, file: str, pos: int) -> Diagnostic | None:
    """`trigger` (say) inside a `target { ... }`: usually that block's `}` is missing.

    The contextual lexer may have read the keyword as a name (inside a venue, `venue paper`
    looks like a symbol map), so the line's first word is what is checked.
    """
    word, start = _line_start_word(text, pos)
    stack = _open_braces(text[:start])
    if word not in _OUTER_KEYWORDS or len(stack) < (1 if word in ("strategy", "policy") else 2):
        return None
    span = _point(file, text, start, len(word))
    ln, cl, _ = stack[-1]
    opener = Span.point(file, ln, cl)
    name = _block_name(text, ln)
    block = f"`{name}` block" if name else "block"
    if text.count("{") > text.count("}"):
        return make(
            "E103",
            f"this {block} is not closed before `{word}`",
            opener,
            f"add `}}` to close the {block} before `{word}`",
            labels=[Label(span, f"`{word}` cannot appear inside the {block}")],
        )
    where = "file" if word in ("strategy", "policy") else "strategy"
    return make(
        "E101",
        f"`{word}` cannot appear inside a {block}",
        span,
        f"`{word}` belongs at the top level of the {where}; "
        f"move it after the `}}` that closes the {block}",
        labels=[Label(opener, f"the {block} opens here")],
    )


def _outside_strategy(text: str, file: str, pos: int) -> Diagnostic | None:
    """`costs { ... }` after the strategy's `}`: an extra `}` closed the strategy early."""
    word, start = _line_start_word(text, pos)
    if word not in _OUTER_KEYWORDS or word in ("strategy", "policy") or _open_braces(text[:start]):
        return None
    close = text.rfind("}", 0, start)
    labels = [Label(_point(file, text, close), "the strategy ends here")] if close >= 0 else []
    return make(
        "E101",
        f"`{word}` is outside any strategy",
        _point(file, text, start, len(word)),
        "remove the extra `}` before it, or move it inside a `strategy { ... }`",
        labels=labels,
    )


def _previous_line_incomplete(text: str, file: str, pos: int) -> Diagnostic | None:
    """`max fee` with no value, then `min trade 0.1 ETH`: the next line was read as the value.

    When the error line starts with a keyword and the statement on the line before cannot
    end where that line ends, the line before is the one to fix.
    """
    word, start = _line_start_word(text, pos)
    if not word or word not in _keyword_terminals().values():
        return None
    prev_end = text.rfind("\n", 0, start)
    while prev_end > 0:
        prev_start = text.rfind("\n", 0, prev_end) + 1
        content = text[prev_start:prev_end].split("#", 1)[0].rstrip()
        if content.strip():
            break
        prev_end = prev_start - 1
    else:
        return None
    end = prev_start + len(content)
    lead = len(content) - len(content.lstrip())
    if content.rstrip().endswith(("{", "}", ";")):
        return None
    acc = _accepts_at(text, end)
    if not acc or acc & {"RBRACE", "SEMICOLON", "$END"}:
        return None
    stmt = " ".join(content.split())
    return make(
        "E101",
        f"`{stmt}` is incomplete",
        _point(file, text, prev_start + lead, len(content) - lead),
        f"expected {_expected_words(acc)} after `{stmt}`; "
        f"`{word}` on the next line starts a new statement",
    )


def _misspelled_statement(text: str, file: str, pos: int) -> Diagnostic | None:
    """`hegde with PERP` in a target: `hegde` was read as a weight line's instrument name.

    When the line of the error starts with a name close to a keyword that the grammar
    accepts at the start of that line, the name is most likely that keyword misspelled.
    """
    word, start = _line_start_word(text, pos)
    if not word or not word.isidentifier() or word in _keyword_terminals().values():
        return None
    hint = _did_you_mean(word, _accepts_at(text, start))
    if hint is None:
        return None
    return make("E102", f"`{word}` is not a keyword here", _point(file, text, start, len(word)),
                hint)


def _bad_character(exc: UnexpectedCharacters, text: str, file: str, line: int,
                   col: int) -> Diagnostic:
    pos = exc.pos_in_stream or 0
    ch = text[pos] if pos < len(text) else ""
    span = Span.point(file, line, col)
    if ch == '"':
        return make("E106", "this string has no closing quote", span,
                    'end the string with `"` on the same line')
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
    if ch == "'":
        return make("E105", "strings are written with double quotes", span,
                    'write "text", not \'text\'')
    if ch == ":":
        return make("E105", "rebal does not use `:`", span,
                    "a clause is its keywords then its value, e.g. `max leverage 3x`")
    if (ch and not (ch.isprintable() and ch.isascii())) or (ch and ch in "@$`!&|^~?[]\\'"):
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
