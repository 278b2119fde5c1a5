"""Hover: a finding's docs entry, an instrument's declaration, or a word's meaning."""

from __future__ import annotations

from .analysis import Checked, message_of
from .docs import code_markdown
from .navigation import assets, describe_instrument, instrument
from .reference import REFERENCE_PAGE, lookup
from .text import Pos, Rng, span_range


def hover(checked: Checked, at: Pos) -> tuple[str, Rng] | None:
    """Markdown for the cursor position and the range it is about, or None."""
    for d in checked.result.diagnostics:
        if d.span is None or d.span.file != checked.file:
            continue
        rng = span_range(d.span)
        if rng.contains(at):
            return f"{message_of(d)}\n\n---\n\n{code_markdown(d.code)}", rng
    word = checked.lines.word_at(at)
    if word is None:
        return None
    text, rng = word
    inst = instrument(checked, text, at)
    if inst is not None:
        line = checked.lines.lines[inst.span.line - 1].strip()
        return f"{describe_instrument(inst)}\n\n```rebal\n{line}\n```", rng
    before = checked.lines.before(Pos(rng.start.line, rng.start.col)).rstrip()
    entry = lookup(text, after_number=bool(before) and before[-1].isdigit())
    if entry is not None:
        return f"{entry.meaning}\n\n*{REFERENCE_PAGE} {entry.section}*", rng
    if text in assets(checked):
        return f"`{text}`: an asset of this strategy (an underlying or settle asset)", rng
    return None


__all__ = ["hover"]
