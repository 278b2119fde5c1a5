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
