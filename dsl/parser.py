"""The one parsing facade: text in, syntax tree and diagnostics out, never an exception.

The Lark parser is built once per process (LALR, positions on) and cached on disk by lark,
so a cold `rebal check` does not pay for grammar analysis. Lark's exceptions are turned into
diagnostics here and nowhere else.
"""

from __future__ import annotations

from lark import Token, Tree, UnexpectedInput

from . import ast
from .diagnostics import Diagnostic, Sink, Span, make
from .grammar import _lark
from .inline import TooDeep, parse_inline
from .syntax_errors import _syntax_diagnostic
from .transform import ToAst

#: Files larger than this are refused (E108) rather than parsed.
MAX_FILE_BYTES = 256_000
#: Bracket nesting deeper than this is refused (E107): every later stage recurses on it.
MAX_NESTING = 48
#: A syntax tree deeper than this is refused (E107): long operator chains (`1 + 1 + ...`,
#: `- - - 1`, `not not ...`) nest without brackets, and every later stage recurses on them.
MAX_DEPTH = 100
def parse(text: str | bytes, file: str = "<input>") -> tuple[ast.SpecFile | None, list[Diagnostic]]:
    """Parse one file. Returns the tree (None when it could not be built) and diagnostics.

    Never raises: a failure inside rebal itself comes back as an I999 diagnostic.
    """
    sink = Sink()
    try:
        return _parse(text, file, sink)
    except RecursionError:
        sink.items = [d for d in sink.items if d.code != "E107"]
        sink.emit("E107", "the file is nested too deeply to read", Span.point(file, 1, 1),
                  _DEPTH_HELP)
    except Exception as exc:  # a bug in rebal, reported as data rather than a traceback
        sink.emit("I999", f"internal error while reading the file: {type(exc).__name__}: {exc}",
                  Span.point(file, 1, 1), "this is a bug in rebal; please report it with the file")
    return None, sink.items


def _parse(text: str | bytes, file: str, sink: Sink) -> tuple[ast.SpecFile | None, list[Diagnostic]]:
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            sink.emit("E108", _too_large(len(text)), Span.point(file, 1, 1), _TOO_LARGE_HELP)
            return None, sink.items
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            sink.add(_not_utf8(raw, exc, file))
            return None, sink.items
    if len(text) > MAX_FILE_BYTES:
        sink.emit("E108", _too_large(len(text)), Span.point(file, 1, 1), _TOO_LARGE_HELP)
        return None, sink.items
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a byte-order mark: blank it, keeping every column in place
    if _nesting_error(text, file, sink):
        return None, sink.items
    try:
        items = parse_inline(text, ToAst(file, sink), MAX_DEPTH)
    except (UnexpectedInput, TooDeep):
        # The rare slow path: the tree-building parser gives the exact syntax error or
        # depth diagnostic (its messages read the parse tree and parser state).
        sink.items.clear()
        try:
            tree = _lark().parse(text)
        except UnexpectedInput as exc:
            sink.add(_syntax_diagnostic(exc, text, file))
            return None, sink.items
        if _depth_error(tree, file, sink):
            return None, sink.items
        items = ToAst(file, sink).transform(tree)
    strategies = tuple(i for i in items if isinstance(i, ast.Strategy))
    policies = tuple(i for i in items if isinstance(i, ast.Policy))
    return ast.SpecFile(file, text, strategies, policies), sink.items


_TOO_LARGE_HELP = "a spec is a page of text; split very large files or check the path"
_DEPTH_HELP = "simplify the expression; rebal specs never need deep nesting"


def _too_large(n: int) -> str:
    return f"the file is {n:,} bytes; rebal reads specs of at most {MAX_FILE_BYTES:,} bytes"


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, file: str) -> Diagnostic:
    """E100 at the first byte that is not UTF-8, its column counted as the renderer shows it."""
    line = raw[: exc.start].count(b"\n") + 1
    start = raw.rfind(b"\n", 0, exc.start) + 1
    col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
    return make(
        "E100",
        f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
        Span(file, line, col, line, col + 1),
        "rebal specs are plain UTF-8 text files; is this the right file? "
        "Re-save it as UTF-8 if it was written in another encoding",
    )


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
                    _DEPTH_HELP,
                )
                return True
        elif ch in ")}":
            depth = max(0, depth - 1)
    return False


# Rules that build expressions: a too-deep tree is reported at the whole expression.
_EXPR_RULES = frozenset(
    "binop neg compare or_ and_ not_ call var quantity unit add_op mul_op cmp_op func_name".split()
)


def _depth_error(tree: Tree[Token], file: str, sink: Sink) -> bool:
    """E107 for a tree deeper than MAX_DEPTH, found without recursion."""
    stack: list[tuple[Tree[Token], int, Tree[Token]]] = [(tree, 1, tree)]
    while stack:
        node, depth, root = stack.pop()
        if node.data in _EXPR_RULES and root.data not in _EXPR_RULES:
            root = node  # the outermost expression above the nodes below
        if depth > MAX_DEPTH:
            m = root.meta
            span = (Span.point(file, 1, 1) if m.empty
                    else Span(file, m.line, m.column, m.end_line, m.end_column))
            sink.emit(
                "E107",
                f"this expression is nested more than {MAX_DEPTH} levels deep",
                span,
                "break long chains like `a + b + c + ...` into fewer terms; "
                "rebal specs never need this many",
            )
            return True
        stack.extend((c, depth + 1, root) for c in node.children if isinstance(c, Tree))
    return False
