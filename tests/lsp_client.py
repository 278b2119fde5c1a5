"""An editor's side of `rebal lsp`, for tests and benchmarks: starts the installed `rebal lsp`
as a subprocess and speaks JSON-RPC to it over stdio with pygls' client and lsprotocol types.

``Session`` opens, edits and closes documents and waits for the diagnostics the server
publishes for each version, as an editor does.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

REBAL = Path(sys.executable).with_name("rebal")


class Session:
    """One running server and the diagnostics it has published, by document URI."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.published: dict[str, list[types.PublishDiagnosticsParams]] = {}
        self._arrived = asyncio.Condition()
        self.versions: dict[str, int] = {}

    async def _on_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        async with self._arrived:
            self.published.setdefault(params.uri, []).append(params)
            self._arrived.notify_all()

    async def diagnostics(self, uri: str, version: int | None = None,
                          timeout: float = 60.0) -> list[types.Diagnostic]:
        """The diagnostics published for ``uri`` (at ``version``, when given), waiting for them."""

        def ready() -> bool:
            got = self.published.get(uri, [])
            return bool(got) and (version is None or got[-1].version == version)

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(ready), timeout)
            return list(self.published[uri][-1].diagnostics)

    async def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="rebal", version=1,
                text=path.read_text(encoding="utf-8") if text is None else text)))
        return uri

    def change(self, uri: str, text: str, at: types.Range | None = None) -> int:
        """Replace the whole text, or ``at`` only (an incremental edit); returns the version."""
        self.versions[uri] += 1
        change: Any = (types.TextDocumentContentChangeWholeDocument(text=text) if at is None
                       else types.TextDocumentContentChangePartial(range=at, text=text))
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[change]))
        return self.versions[uri]

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    async def hover(self, uri: str, line: int, col: int) -> types.Hover | None:
        return await self.client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col)))

    async def definition(self, uri: str, line: int, col: int) -> Any:
        return await self.client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col)))

    async def completion(self, uri: str, line: int, col: int) -> list[types.CompletionItem]:
        res = await self.client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col)))
        return list(res.items if isinstance(res, types.CompletionList) else res or [])

    async def formatting(self, uri: str) -> list[types.TextEdit]:
        return list(await self.client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                options=types.FormattingOptions(tab_size=2, insert_spaces=True))) or [])

    async def symbols(self, uri: str) -> list[types.DocumentSymbol]:
        return list(await self.client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri)))
            or [])


@asynccontextmanager
async def session(root: Path, options: dict[str, Any] | None = None,
                  cwd: Path | None = None) -> AsyncIterator[Session]:
    """`rebal lsp` started, initialized with ``options`` and shut down cleanly afterwards."""
    client = LanguageClient("rebal-tests", "1")
    s = Session(client)

    async def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        await s._on_diagnostics(params)

    client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(on_diagnostics)
    await client.start_io(str(REBAL), "lsp", cwd=str(cwd or root))
    try:
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.resolve().as_uri(),
            initialization_options=options))
        client.initialized(types.InitializedParams())
        yield s
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
    finally:
        server = client._server
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(server.wait(), 10)
            except TimeoutError:  # the session failed before `exit`: end it
                server.kill()
        await client.stop()


__all__ = ["REBAL", "Session", "session"]
