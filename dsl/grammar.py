"""The grammar, built once per process: LALR, positions on, cached on disk by lark."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark


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


# Terminals that together mean "a value goes here".


def accepted_terminals(text: str, pos: int) -> set[str]:
    """The terminals the grammar accepts after ``text[:pos]`` (empty if that prefix fails).

    Read from the LALR parser's state, so it is exact for every keyword; syntax errors use
    it for "expected ..." and "did you mean", editors for completion.
    """
    try:
        ip = _lark().parse_interactive(text[:pos])
        ip.exhaust_lexer()
        return set(ip.accepts())  # type: ignore[no-untyped-call]
    except Exception:  # only a hint: any failure just means no hint
        return set()


def keywords_among(terminals: set[str]) -> list[str]:
    """The keywords (words, not punctuation) among a set of terminals, sorted."""
    words = _keyword_terminals()
    return sorted({words[t] for t in terminals if t in words and words[t].isidentifier()})


def accepted_keywords(text: str, pos: int) -> list[str]:
    """The keywords the grammar accepts at ``pos``, sorted."""
    return keywords_among(accepted_terminals(text, pos))
