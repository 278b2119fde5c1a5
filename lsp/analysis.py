"""Checking an open document: the same check as `rebal check`, kept per document for the
other features, and its findings as LSP diagnostics (codes, spans, help, related places)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types

from rebal.compiler import ir
from rebal.compiler.api import CheckResult, check_source
from rebal.compiler.capabilities import Capabilities
from rebal.dsl import ast
from rebal.dsl.diagnostics import Diagnostic, Severity, Span

from .docs import catalogue_uri
from .text import Lines, Rng, span_range

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.NOTE: types.DiagnosticSeverity.Information,
}


@dataclass
class Checked:
    """One open document after a check: its text, the result, and the last tree that parsed.

    ``tree`` outlives a syntax error typed mid-edit, so completion still knows the
    instruments and assets while the file is briefly broken.
    """

    file: str
    text: str
    result: CheckResult
    tree: ast.SpecFile | None
    lines: Lines = field(init=False)

    def __post_init__(self) -> None:
        self.lines = Lines(self.text)


def check_document(text: str, file: str, *, policy: ir.Policy | None,
                   capabilities: Mapping[str, Capabilities],
                   previous: Checked | None = None) -> Checked:
    """Check ``text`` as the file ``file`` (labels in it point back into the document)."""
    res = check_source(text, file, policy=policy, capabilities=capabilities)
    tree = res.tree if res.tree is not None else (previous.tree if previous else None)
    return Checked(file, text, res, tree)


def _uri_of(file: str, own_file: str, own_uri: str) -> str:
    return own_uri if file == own_file else Path(file).resolve().as_uri()


def message_of(d: Diagnostic) -> str:
    """The finding as one text: message, then help and notes as `rebal check` shows them."""
    parts = [d.message]
    if d.help:
        parts.append(f"help: {d.help}")
    parts.extend(f"note: {n}" for n in d.notes)
    return "\n".join(parts)


@dataclass(frozen=True)
class Finding:
    """A diagnostic placed in the editor: its range and related places in code points."""

    diagnostic: Diagnostic
    range: Rng
    related: tuple[tuple[str, Rng, str], ...]  # (uri, range, message)


def findings(checked: Checked, uri: str) -> list[Finding]:
    out: list[Finding] = []
    for d in checked.result.diagnostics:
        span = d.span or Span.point(checked.file, 1, 1)
        if span.file != checked.file:  # a finding in another file (the policy): at the top
            span = Span.point(checked.file, 1, 1)
        related = tuple((_uri_of(lab.span.file, checked.file, uri), span_range(lab.span),
                         lab.message) for lab in d.labels)
        out.append(Finding(d, span_range(span), related))
    return out


def to_lsp(f: Finding, range_: types.Range, related: list[types.Location]) -> types.Diagnostic:
    """An LSP diagnostic from a finding whose ranges the server has converted to client units."""
    d = f.diagnostic
    href = catalogue_uri(d.code)
    return types.Diagnostic(
        range=range_,
        message=message_of(d),
        severity=_SEVERITY[d.severity],
        code=d.code,
        code_description=types.CodeDescription(href=href) if href else None,
        source="rebal",
        related_information=[
            types.DiagnosticRelatedInformation(location=loc, message=msg)
            for loc, (_, _, msg) in zip(related, f.related, strict=True)
        ] or None,
        data={"help": d.help, "notes": list(d.notes)},
    )


__all__ = ["Checked", "Finding", "check_document", "findings", "message_of", "to_lsp"]
