"""Text safe to show to a person: control and invisible characters made visible, and the
display width of a character (tabs 4, wide East Asian characters 2, combining marks 0).

Every human-facing output (diagnostics, ``explain``, sim tables and reports, live plans) shows
strings that came from a spec or a venue through :func:`visible`. Split from
:mod:`.render` (diagnostics as text), which uses it for messages and source lines.
"""

from __future__ import annotations

import unicodedata

__all__ = ["char_width", "visible", "visible_char"]


def char_width(ch: str) -> int:
    """Display columns of ``ch`` on a terminal: a tab 4, a wide character 2, a mark 0."""
    if ch == "\t":
        return 4
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def visible_char(ch: str) -> str:
    """A character as shown: tabs as spaces, control and invisible characters made visible."""
    if ch == "\t":
        return "    "
    o = ord(ch)
    if o < 0x20:
        return chr(0x2400 + o)  # control pictures: ␀ ␁ ... ␟
    if o == 0x7F:
        return "\u2421"
    if not ch.isprintable() and not unicodedata.combining(ch):
        return "\ufffd"
    return ch


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe to show to a person: on a terminal, in a CI log, in a report.

    Control and invisible characters become visible symbols (ESC as ␛, NUL as ␀, DEL as ␡,
    other unprintable characters as �), so a string from a spec cannot move the cursor,
    recolour or rewrite what a reviewer sees. Tabs and line breaks become spaces (one line),
    or with ``keep_newlines`` only ``\\n`` is kept (a ``\\r`` is shown as ␍). Every
    human-facing output applies this to strings that came from a spec.
    """
    if keep_newlines:
        return "".join(ch if ch == "\n" else " " if ch == "\t" else visible_char(ch) for ch in text)
    return "".join(" " if ch in "\t\r\n" else visible_char(ch) for ch in text)
