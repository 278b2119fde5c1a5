"""The language server: pygls wiring of the pure features to LSP messages over stdio.

Every open document is checked on open and on each change, exactly as `rebal check` checks
a file (same codes, spans, help and related locations; the policy from the project setting),
and its diagnostics are published at once. Positions arrive and leave in the client's
encoding (UTF-16 unless negotiated otherwise); pygls converts them at this boundary.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from rebal import __version__
from rebal.backends import registry
from rebal.dsl.fmt import format_source

from .analysis import Checked, check_document, findings, to_lsp
from .completion import complete
from .hover import hover
from .navigation import Symbol, definition, outline
from .settings import PolicyCache, project_policy_path
from .text import Pos, Rng

log = logging.getLogger("rebal.lsp")

_SYMBOL_KIND = {
    "strategy": types.SymbolKind.Class,
    "policy": types.SymbolKind.Namespace,
    "instrument": types.SymbolKind.Variable,
    "target": types.SymbolKind.Property,
    "venue": types.SymbolKind.Module,
}
_ITEM_KIND = {
    "keyword": types.CompletionItemKind.Keyword,
    "instrument": types.CompletionItemKind.Variable,
    "asset": types.CompletionItemKind.Constant,
    "unit": types.CompletionItemKind.Unit,
    "backend": types.CompletionItemKind.Module,
    "function": types.CompletionItemKind.Function,
    "name": types.CompletionItemKind.Value,
}


class RebalServer(LanguageServer):
    """pygls server holding each open document's last check and the project settings."""

    def __init__(self) -> None:
        super().__init__("rebal", __version__)
        self.checked: dict[str, Checked] = {}
        self.options: dict[str, Any] = {}
        self.root: Path | None = None
        self.policies = PolicyCache()
        self.capabilities_by_backend = registry.capabilities()

    # ------------------------------------------------------------------ positions

    def to_client(self, doc: TextDocument, r: Rng) -> types.Range:
        return doc.range_to_client_units(ServerTextRange(
            ServerTextPosition(r.start.line, r.start.col), ServerTextPosition(r.end.line, r.end.col)))

    def from_client(self, doc: TextDocument, p: types.Position) -> Pos:
        sp = doc.position_from_client_units(p)
        return Pos(sp.line, sp.character)

    # ------------------------------------------------------------------ checking

    def check(self, uri: str) -> None:
        first = not self.checked
        self._check(uri)
        if first:
            # Everything alive now (pygls, lsprotocol, the grammar, the first check) lives as
            # long as the server: keep it out of the collector's way, so a check as you type
            # does not pay for scanning it (about half the time of a check otherwise).
            gc.freeze()

    def _check(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        path = Path(to_fs_path(uri) or uri)
        policy_path = project_policy_path(path, self.options, self.root)
        policy = None
        if policy_path is not None:
            pres, policy = self.policies.load(policy_path)
            self.publish_policy_problems(policy_path, pres.diagnostics if policy is None else [])
        checked = check_document(doc.source, str(path), policy=policy,
                                 capabilities=self.capabilities_by_backend,
                                 previous=self.checked.get(uri))
        self.checked[uri] = checked
        diags = []
        for f in findings(checked, uri):
            related = [types.Location(uri=u, range=self.to_client(doc, r) if u == uri else
                                      types.Range(types.Position(r.start.line, r.start.col),
                                                  types.Position(r.end.line, r.end.col)))
                       for u, r, _ in f.related]
            diags.append(to_lsp(f, self.to_client(doc, f.range), related))
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=diags))

    def publish_policy_problems(self, path: Path, problems: list[Any]) -> None:
        """A broken policy file gets its own diagnostics, as `rebal check --policy` prints."""
        uri = path.resolve().as_uri()
        diags = [types.Diagnostic(
            range=types.Range(types.Position(max(d.span.line - 1, 0), max(d.span.col - 1, 0)),
                              types.Position(max(d.span.end_line - 1, 0), max(d.span.end_col - 1, 0)))
            if d.span else types.Range(types.Position(0, 0), types.Position(0, 1)),
            message=d.message + (f"\nhelp: {d.help}" if d.help else ""),
            severity=types.DiagnosticSeverity.Error, code=d.code, source="rebal")
            for d in problems]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diags))


server = RebalServer()


@server.feature(types.INITIALIZE)
def _initialize(ls: RebalServer, params: types.InitializeParams) -> None:
    opts = params.initialization_options
    if isinstance(opts, dict):
        ls.options = dict(opts.get("rebal", opts))
    if params.root_uri:
        ls.root = Path(to_fs_path(params.root_uri) or ".")


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def _configuration(ls: RebalServer, params: types.DidChangeConfigurationParams) -> None:
    settings = params.settings
    if isinstance(settings, dict) and isinstance(settings.get("rebal"), dict):
        ls.options = dict(settings["rebal"])
        for uri in list(ls.checked):
            ls.check(uri)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _open(ls: RebalServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _change(ls: RebalServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _save(ls: RebalServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.check(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _close(ls: RebalServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.checked.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


def _current(ls: RebalServer, uri: str) -> tuple[TextDocument, Checked] | None:
    checked = ls.checked.get(uri)
    return (ls.workspace.get_text_document(uri), checked) if checked is not None else None


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: RebalServer, params: types.HoverParams) -> types.Hover | None:
    cur = _current(ls, params.text_document.uri)
    if cur is None:
        return None
    doc, checked = cur
    found = hover(checked, ls.from_client(doc, params.position))
    if found is None:
        return None
    text, rng = found
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=ls.to_client(doc, rng))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: RebalServer, params: types.DefinitionParams) -> types.Location | None:
    cur = _current(ls, params.text_document.uri)
    if cur is None:
        return None
    doc, checked = cur
    rng = definition(checked, ls.from_client(doc, params.position))
    return types.Location(uri=params.text_document.uri, range=ls.to_client(doc, rng)) if rng else None


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=[" ", "("]))
def _completion(ls: RebalServer, params: types.CompletionParams) -> types.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    checked = ls.checked.get(params.text_document.uri)
    if checked is None or checked.text != doc.source:
        ls.check(params.text_document.uri)
        checked = ls.checked[params.text_document.uri]
    items = complete(checked, ls.from_client(doc, params.position), sorted(ls.capabilities_by_backend))
    return types.CompletionList(is_incomplete=False, items=[
        types.CompletionItem(label=i.label, kind=_ITEM_KIND[i.kind], detail=i.detail or None)
        for i in items])


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def _formatting(ls: RebalServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    new, _ = format_source(doc.source, to_fs_path(doc.uri) or doc.uri)
    if new is None or new == doc.source:
        return []  # a file with syntax errors is left alone; its diagnostics say why
    lines = doc.lines
    end = types.Position(len(lines), 0)
    return [types.TextEdit(range=types.Range(types.Position(0, 0), end), new_text=new)]


def _symbol(ls: RebalServer, doc: TextDocument, s: Symbol) -> types.DocumentSymbol:
    return types.DocumentSymbol(
        name=s.name, kind=_SYMBOL_KIND[s.kind], detail=s.detail or None,
        range=ls.to_client(doc, s.range), selection_range=ls.to_client(doc, s.selection),
        children=[_symbol(ls, doc, c) for c in s.children] or None)


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: RebalServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    cur = _current(ls, params.text_document.uri)
    if cur is None:
        return []
    doc, checked = cur
    return [_symbol(ls, doc, s) for s in outline(checked)]


def main() -> int:
    """Serve one client over stdin and stdout until it exits."""
    server.start_io()
    return 0


__all__ = ["RebalServer", "main", "server"]
