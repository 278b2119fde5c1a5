"""Build the syntax tree while parsing, without an intermediate Lark tree.

`rebal check` spends most of its time parsing. Lark's LALR parser can call a transformer's
methods directly as it reduces each rule, which skips building a parse tree and walking it
again. Lark does not pass positions to such callbacks, so the parser keeps every token
(`keep_all_tokens`) and :class:`InlineAdapter` derives each rule's span from its first and
last token or child, drops the keyword tokens, and hands the rest to the same
:class:`~rebal.dsl.transform.ToAst` methods the tree-building path uses. One set of builders,
two ways to drive them; the tree-building parser stays for `rebal fmt` and for syntax errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token

from .transform import ToAst

#: Rules written with `!` in the grammar: their tokens are their content.
_KEEP_TOKENS = frozenset(
    "option_kind signed_number greek rebal_point clause_name cmp_op add_op mul_op func_name".split()
)


class TooDeep(Exception):
    """Raised mid-parse when the tree grows too deep; the caller re-checks the slow way."""


class _Meta:
    """The subset of lark's ``Meta`` that :class:`ToAst` reads."""

    __slots__ = ("column", "empty", "end_column", "end_line", "line")

    def __init__(self, line: int, column: int, end_line: int, end_column: int) -> None:
        self.empty = False
        self.line, self.column = line, column
        self.end_line, self.end_column = end_line, end_column


_EMPTY = _Meta(1, 1, 1, 1)
_EMPTY.empty = True


def _bounds(children: list[Any], pos: dict[int, tuple[int, int, int, int]]
            ) -> tuple[int, int, int, int] | None:
    """(line, col, end_line, end_col) from the first and last child that has a position."""
    first = last = None
    for c in children:
        p = _pos(c, pos)
        if p is not None:
            first = p
            break
    if first is None:
        return None
    for c in reversed(children):
        last = _pos(c, pos)
        if last is not None:
            break
    assert last is not None
    return (first[0], first[1], last[2], last[3])


def _pos(x: Any, pos: dict[int, tuple[int, int, int, int]]) -> tuple[int, int, int, int] | None:
    if isinstance(x, Token):
        line, col = x.line or 1, x.column or 1
        return (line, col, x.end_line or line, x.end_column or col + len(x))
    return pos.get(id(x))


class InlineAdapter:
    """Lark inline transformer: one callback per rule, delegating to a :class:`ToAst`."""

    def __init__(self, named_terminals: frozenset[str], inlined: frozenset[str],
                 max_depth: int) -> None:
        self.named = named_terminals
        self.inlined = inlined
        self.max_depth = max_depth
        self.builder: ToAst | None = None
        self.depth: dict[int, int] = {}
        self.pos: dict[int, tuple[int, int, int, int]] = {}
        # Both keyed by id(): every value built during one parse stays alive until it ends.
        self._callbacks: dict[str, Callable[[list[Any]], Any]] = {}

    def __getattr__(self, rule: str) -> Callable[[list[Any]], Any]:
        if not rule[:1].islower():  # terminals (upper case) and dunders get no callback
            raise AttributeError(rule)
        cb = self._callbacks.get(rule)
        if cb is None:
            cb = self._callbacks[rule] = self._make(rule)
        return cb

    def _make(self, rule: str) -> Callable[[list[Any]], Any]:
        keep_all = rule in _KEEP_TOKENS
        inlined = rule in self.inlined
        named = self.named
        max_depth = self.max_depth

        def callback(children: list[Any]) -> Any:
            builder, depth, pos = self.builder, self.depth, self.pos
            assert builder is not None
            b = _bounds(children, pos)
            meta = _EMPTY if b is None else _Meta(*b)
            if keep_all:
                kept = children
            else:
                kept = [c for c in children if not isinstance(c, Token) or c.type in named]
            d = 1 + max((depth.get(id(c), 0) for c in kept if not isinstance(c, Token)),
                        default=0)
            if d > max_depth:
                raise TooDeep
            method = getattr(builder, rule, None)
            if method is None:
                if inlined and len(kept) == 1:
                    # `?rule: "(" expr ")"`: the parentheses were kept tokens; the value is
                    # the inner one, and what encloses it spans the parentheses too
                    if b is not None:
                        pos[id(kept[0])] = b
                    return kept[0]
                out = builder.__default__(rule, kept, meta)  # type: ignore[arg-type]
            else:
                wrapper = getattr(method, "visit_wrapper", None)
                out = wrapper(method, rule, kept, meta) if wrapper is not None else method(kept)
            if isinstance(out, Token) and out.type not in named:
                # a `!rule` that returns its keyword token (`spot` as a function name): keep it
                # from being dropped as a keyword by the rule that encloses it
                out = Token.new_borrow_pos("NAME", str(out), out)
            depth[id(out)] = d
            if b is not None:
                pos[id(out)] = b
            return out

        return callback


@lru_cache(maxsize=1)
def _grammar_text() -> str:
    return resources.files("rebal.dsl").joinpath("rebal.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def fast_parser(max_depth: int) -> tuple[Lark, InlineAdapter]:
    """The LALR parser that builds syntax trees directly, and its adapter."""
    text = _grammar_text()
    named = frozenset(re.findall(r"^([A-Z][A-Z0-9_]*)(?:\.\d+)?\s*:", text, re.M))
    inlined = frozenset(re.findall(r"^\?([a-z_][a-z0-9_]*)\s*:", text, re.M))
    adapter = InlineAdapter(named, inlined, max_depth)
    lark = Lark(
        text,
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        maybe_placeholders=False,
        transformer=adapter,
        cache=True,
    )
    return lark, adapter


def parse_inline(text: str, builder: ToAst, max_depth: int) -> list[Any]:
    """Parse ``text`` into the file's top-level items with ``builder``; may raise
    lark's ``UnexpectedInput`` or :class:`TooDeep`."""
    lark, adapter = fast_parser(max_depth)
    adapter.builder, adapter.depth, adapter.pos = builder, {}, {}
    try:
        result: list[Any] = lark.parse(text)  # type: ignore[assignment]
    finally:
        adapter.builder, adapter.depth, adapter.pos = None, {}, {}
    return result
