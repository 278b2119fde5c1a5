"""`rebal fmt`: the canonical layout of a .rebal file, with every comment kept in place.

The formatter works from the same LALR parser as `rebal check`: one interactive parse yields
both the token stream (with positions) and the parse tree. The tree says where statements and
blocks begin and end; the tokens give the exact text of names, numbers and strings, which is
never rewritten (``100_000`` stays ``100_000``). Comments are ignored by the grammar, so they
are read from the gaps between tokens, which hold nothing but whitespace and comments.

Layout rules (see ``docs/language.md``):

* two spaces of indentation per block, one statement per line, `{` ends its head line and `}`
  stands alone;
* one space between tokens, except none before `%`, `,`, `)`, a duration or multiple unit
  (`8h`, `2x`) or a call's `(`, and none after `(` or a unary sign;
* the leading names of consecutive instrument, book and `NAME = "symbol"` lines are padded to
  one column (a blank line or another statement ends the run);
* blank lines between statements are kept, at most one; none after `{` or before `}`;
* `;` is dropped, except where two statements would otherwise read as one (`seed 3; ETH spot
  3000 USD`: without it, `3 ETH` is a quantity);
* a comment on its own line stays before what followed it, at that statement's indentation
  (inside a block's end, at the block's inner indentation); a trailing comment stays at the
  end of its statement's line; a comment inside a statement split over lines moves just
  above that statement.

The output parses to the same tree, with the same tokens (minus `;`) and the same comments,
so the compiled IR cannot change; the formatter checks this before returning.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from lark import Token, Tree, UnexpectedInput

from .diagnostics import Diagnostic, InternalError
from .grammar import _lark
from .parser import parse

#: Nodes that open a `{ ... }` block of statements.
_CONTAINERS = frozenset(
    "strategy policy instruments book target trigger costs risk mode venue".split()
)
#: Units written directly after the number: `8h`, `2x`, `60%`.
_GLUED_UNITS = frozenset({"%", "x", "s", "m", "h", "d", "w", "y"})
#: Statements whose first name is aligned in runs of consecutive lines.
_ALIGN = {
    "symbol_map": "symbol_map",
    "book_entry": "book_entry",
    "inst_spot": "instrument",
    "inst_cash": "instrument",
    "inst_perp": "instrument",
    "inst_future": "instrument",
    "inst_option": "instrument",
}
#: A sim venue's run shape, `horizon 30d step 5m paths 10000 seed 1`, stays on one line.
_SHARE_LINE = frozenset({"horizon", "step", "paths", "seed"})
_COMMENT = re.compile(r"#[^\n]*")
_INDENT = "  "


@dataclass
class _Unit:
    """One output line's worth of tokens: a statement, a block head (to `{`) or a `}`."""

    kind: str  # stmt | head | close
    depth: int
    toks: list[int]  # indices into the token list
    rule: str = ""
    leading: list[_Comment] = field(default_factory=list)
    inside: list[_Comment] = field(default_factory=list)
    trailing: str | None = None


@dataclass
class _Comment:
    text: str
    start: int
    end: int


@dataclass
class _Line:
    kind: str  # stmt | head | close | comment
    depth: int
    head: str  # the first token (the aligned column), or the whole comment
    rest: str
    comment: str | None
    blank: bool
    rule: str = ""


def format_source(text: str, file: str = "<input>") -> tuple[str | None, list[Diagnostic]]:
    """Canonical text of ``text`` and the parse diagnostics; None when it cannot be parsed."""
    tree_ast, diags = parse(text, file)
    if tree_ast is None:
        return None, diags
    text = text.removeprefix("\ufeff")  # a byte-order mark is not kept
    tokens, tree = _tokens_and_tree(text)
    fm = _Formatter(text, tokens, tree)
    same = _Sameness(text, tokens, tree)
    out = fm.render()
    if not same(out):
        # A `;` that separates two statements which would otherwise read as one
        # (`band 1.7x; to 2.3x` with a weight line named `to`) must stay: keep the fewest.
        keep = set(fm.semicolons)
        for u in fm.semicolons:
            if same(fm.render(frozenset(keep - {u}))):
                keep.discard(u)
        out = fm.render(frozenset(keep))
        if not same(out):
            raise InternalError("fmt would change the meaning or the comments of the file")
    return out, diags


def _tokens_and_tree(text: str) -> tuple[list[Token], Tree[Token]]:
    """Every token the parser sees, in order, and the parse tree, from one parse."""
    ip = _lark().parse_interactive(text)
    tokens = list(ip.exhaust_lexer())
    tree: Tree[Token] = ip.feed_eof(tokens[-1] if tokens else None)  # type: ignore[no-untyped-call]
    return tokens, tree


def _start(tok: Token) -> int:
    return tok.start_pos or 0


def _end(tok: Token) -> int:
    return tok.end_pos if tok.end_pos is not None else _start(tok) + len(tok)


def _comments(text: str, tokens: list[Token]) -> list[_Comment]:
    """Comments in the gaps between tokens (gaps hold only whitespace and comments)."""
    out: list[_Comment] = []
    pos = 0
    for tok in [*tokens, None]:
        end = _start(tok) if tok is not None else len(text)
        for m in _COMMENT.finditer(text, pos, end):
            out.append(_Comment(m.group().rstrip(), m.start(), m.end()))
        if tok is not None:
            pos = _end(tok)
    return out


class _Formatter:
    def __init__(self, text: str, tokens: list[Token], tree: Tree[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.starts = [_start(t) for t in tokens]
        self.units: list[_Unit] = []
        self.owner: dict[int, int] = {}  # token index -> unit index
        self.glue_before: set[int] = set()  # token starts with no space before them
        self.glue_after: set[int] = set()  # token starts with no space after them
        self._spacing(tree)
        for child in tree.children:
            if isinstance(child, Tree):
                self._walk(child, 0)
        for i, tok in enumerate(tokens):
            if tok.type != "SEMICOLON" and i not in self.owner:
                raise InternalError(f"fmt: token {tok!r} at {tok.line}:{tok.column} has no line")
        self.tail: list[_Comment] = []
        self._place_comments(_comments(text, tokens))
        #: Units followed by a `;` in the source, in order.
        self.semicolons = sorted(
            {self.owner[k - 1] for k, t in enumerate(tokens) if t.type == "SEMICOLON" and k}
        )

    # -------------------------------------------------------------- structure
    def _span(self, lo: int, hi: int) -> list[int]:
        """Indices of the tokens starting in [lo, hi), semicolons excluded."""
        i, j = bisect_left(self.starts, lo), bisect_left(self.starts, hi)
        return [k for k in range(i, j) if self.tokens[k].type != "SEMICOLON"]

    def _add(self, unit: _Unit) -> None:
        for k in unit.toks:
            if k in self.owner:
                raise InternalError(f"fmt: token {self.tokens[k]!r} is on two lines")
            self.owner[k] = len(self.units)
        self.units.append(unit)

    def _walk(self, node: Tree[Token], depth: int) -> None:
        lo, hi = node.meta.start_pos, node.meta.end_pos
        if node.data not in _CONTAINERS:
            self._add(_Unit("stmt", depth, self._span(lo, hi), str(node.data)))
            return
        toks = self._span(lo, hi)
        open_at = next(k for k in toks if self.tokens[k].type == "LBRACE")
        close_at = toks[-1]
        assert self.tokens[close_at].type == "RBRACE"
        self._add(_Unit("head", depth, [k for k in toks if k <= open_at]))
        brace = self.starts[open_at]
        for child in node.children:
            if isinstance(child, Tree) and child.meta.start_pos > brace:
                self._walk(child, depth + 1)
        self._add(_Unit("close", depth, [close_at]))

    def _spacing(self, tree: Tree[Token]) -> None:
        binary: set[int] = set()
        for sub in tree.iter_subtrees():
            kind = str(sub.data)
            if kind in ("add_op", "mul_op"):
                binary.update(_start(t) for t in sub.children if isinstance(t, Token))
            elif kind == "unit":
                tok = sub.children[0]
                if isinstance(tok, Token) and str(tok) in _GLUED_UNITS:
                    self.glue_before.add(_start(tok))
            elif kind == "func_name":
                tok = sub.children[0]
                if isinstance(tok, Token):
                    k = bisect_left(self.starts, _start(tok)) + 1
                    if k < len(self.tokens):  # the call's `(`
                        self.glue_before.add(self.starts[k])
        for k, tok in enumerate(self.tokens):
            if tok.type in ("MINUS", "PLUS") and self.starts[k] not in binary:
                self.glue_after.add(self.starts[k])
            elif tok.type == "OPTIMAL" and k + 1 < len(self.tokens):
                self.glue_before.add(self.starts[k + 1])

    # -------------------------------------------------------------- comments
    def _place_comments(self, comments: list[_Comment]) -> None:
        for c in comments:
            before = bisect_left(self.starts, c.start) - 1
            while before >= 0 and self.tokens[before].type == "SEMICOLON":
                before -= 1
            after = bisect_left(self.starts, c.start)
            while after < len(self.tokens) and self.tokens[after].type == "SEMICOLON":
                after += 1
            u_before = self.owner.get(before) if before >= 0 else None
            u_after = self.owner.get(after) if after < len(self.tokens) else None
            if u_before is not None and u_before == u_after:
                self.units[u_before].inside.append(c)
                continue
            if u_before is not None and "\n" not in self.text[_end(self.tokens[before]) : c.start]:
                self.units[u_before].trailing = c.text
                continue
            if u_after is None:
                self.tail.append(c)
            else:
                self.units[u_after].leading.append(c)

    def _blank_before(self) -> dict[int, bool]:
        """Source position -> whether a blank line precedes the element starting there."""
        marks = [(_start(t), _end(t)) for t in self.tokens if t.type != "SEMICOLON"]
        for u in self.units:
            marks.extend((c.start, c.end) for c in (*u.leading, *u.inside))
        marks.extend((c.start, c.end) for c in self.tail)
        marks.sort()
        out: dict[int, bool] = {}
        prev_end: int | None = None
        for start, end in marks:
            out[start] = prev_end is not None and self.text.count("\n", prev_end, start) >= 2
            prev_end = end
        return out

    # -------------------------------------------------------------- output
    def _words(self, idx: list[int]) -> list[str]:
        """Token texts with the spacing rules applied: each entry carries its leading space."""
        out: list[str] = []
        prev: Token | None = None
        for k in idx:
            tok = self.tokens[k]
            tight = prev is None or (
                tok.type in ("PERCENT", "COMMA", "RPAR")
                or prev.type == "LPAR"
                or _start(tok) in self.glue_before
                or _start(prev) in self.glue_after
            )
            out.append(("" if tight else " ") + str(tok))
            prev = tok
        return out

    def _lines(self, keep: frozenset[int]) -> list[_Line]:
        blank = self._blank_before()
        lines: list[_Line] = []

        def comment(c: _Comment, depth: int, is_blank: bool) -> None:
            lines.append(_Line("comment", depth, c.text, "", None, is_blank))

        for n, u in enumerate(self.units):
            first = self.starts[u.toks[0]]
            cdepth = u.depth + 1 if u.kind == "close" else u.depth
            for c in u.leading:
                comment(c, cdepth, blank[c.start])
            b = blank[first]
            for c in u.inside:
                comment(c, u.depth, b)
                b = False
            words = self._words(u.toks)
            if n in keep:
                words.append(";")
            prev = lines[-1] if lines else None
            if (prev is not None and u.rule in _SHARE_LINE and prev.rule in _SHARE_LINE
                    and prev.comment is None and not prev.rest.endswith(";") and not b
                    and not u.leading and not u.inside):
                prev.rest += " " + "".join(words).lstrip()
                prev.comment = u.trailing
                continue
            lines.append(_Line(u.kind, u.depth, words[0], "".join(words[1:]), u.trailing,
                               b and u.kind != "close", u.rule))
        for c in self.tail:
            comment(c, 0, blank[c.start])
        # no blank line first, or straight after a `{`
        for i, ln in enumerate(lines):
            if i == 0 or lines[i - 1].kind == "head":
                ln.blank = False
        return lines

    def render(self, keep: frozenset[int] = frozenset()) -> str:
        """The canonical text; ``keep`` are units whose `;` must stay."""
        lines = self._lines(keep)
        widths = _align_widths(lines)
        out: list[str] = []
        for i, ln in enumerate(lines):
            if ln.blank:
                out.append("")
            pad = " " * (widths.get(i, len(ln.head)) - len(ln.head))
            body = ln.head + (pad + ln.rest if ln.rest else "")
            if ln.comment is not None:
                body += "  " + ln.comment
            out.append(_INDENT * ln.depth + body)
        return "\n".join(out) + "\n" if out else ""


def _align_widths(lines: list[_Line]) -> dict[int, int]:
    """Column width for the first name of each line in an aligned run."""
    widths: dict[int, int] = {}
    run: list[int] = []
    kind: str | None = None

    def flush() -> None:
        w = max((len(lines[i].head) for i in run), default=0)
        widths.update({i: w for i in run})

    for i, ln in enumerate(lines):
        align = _ALIGN.get(ln.rule)
        if align is None and ln.kind != "comment":
            flush()
            run, kind = [], None
            continue
        if align is None:  # an own-line comment does not end a run
            continue
        if align != kind or ln.blank:
            flush()
            run, kind = [], align
        run.append(i)
    flush()
    return widths


class _Sameness:
    """Whether a rewrite parses to the same tree, tokens (minus `;`) and comments."""

    def __init__(self, text: str, tokens: list[Token], tree: Tree[Token]) -> None:
        self.sig = _signature(tokens)
        self.tree = tree
        self.comments = [c.text for c in _comments(text, tokens)]

    def __call__(self, out: str) -> bool:
        try:
            tokens, tree = _tokens_and_tree(out)
        except UnexpectedInput:
            return False
        return (
            _signature(tokens) == self.sig
            and tree == self.tree
            and [c.text for c in _comments(out, tokens)] == self.comments
        )


def _signature(tokens: list[Token]) -> list[tuple[str, str]]:
    return [(t.type, str(t)) for t in tokens if t.type != "SEMICOLON"]


__all__ = ["format_source"]
