"""`rebal lsp` tested as an editor uses it: the installed command started as a subprocess,
JSON-RPC over its stdin and stdout (pygls' client, lsprotocol types), documents opened,
edited, formatted and closed.

One server serves the module, as one editor window serves many files: each test opens its
own documents. Starting a server costs about a second (the test for initialization options
starts a second one)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_client import Session, session
from lsprotocol import types

from rebal.cli import main
from rebal.dsl.fmt import format_source

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
FIXTURES = ROOT / "tests" / "fixtures" / "diagnostics"


Body = Callable[[Session], Awaitable[None]]


class Editor:
    """A server session on an event loop of its own thread; tests hand it coroutines."""

    def __init__(self, root: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._cm = session(root)
        self.session: Session = self._submit(self._cm.__aenter__())

    def _submit(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(coro, 120), self.loop).result()  # type: ignore[arg-type]

    def run(self, body: Body) -> None:
        self._submit(body(self.session))

    def close(self) -> None:
        try:
            self._submit(self._cm.__aexit__(None, None, None))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


@pytest.fixture(scope="module")
def editor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Editor]:
    e = Editor(tmp_path_factory.mktemp("workspace"))
    yield e
    e.close()


def run_alone(root: Path, body: Body, **kw: Any) -> None:
    """A server of its own (other initialization options)."""

    async def go() -> None:
        async with session(root, **kw) as s:
            await body(s)

    asyncio.run(asyncio.wait_for(go(), 120))


def at(text: str, needle: str, nth: int = 0, shift: int = 0) -> tuple[int, int]:
    """(line, character) of the ``nth`` occurrence of ``needle`` in ``text``, plus ``shift``."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += shift
    return text.count("\n", 0, i), i - (text.rfind("\n", 0, i) + 1)


def cli_json(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    main(["check", "--format", "json", *extra, str(path)])
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["diagnostics"]
    return found


def as_cli(d: types.Diagnostic) -> tuple[Any, ...]:
    """The fields `--format json` has (its notes are not in JSON; the message ends with them)."""
    r = d.range
    related = tuple((x.location.range.start.line + 1, x.location.range.start.character + 1,
                     x.message) for x in d.related_information or ())
    return (d.code, r.start.line + 1, r.start.character + 1, r.end.line + 1,
            r.end.character + 1, d.message.split("\nnote: ")[0], related)


def expected(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(f["code"], f["line"], f["col"], f["end_line"], f["end_col"],
             f["message"] + (f"\nhelp: {f['help']}" if f["help"] else ""),
             tuple((lab["line"], lab["col"], lab["message"]) for lab in f["labels"]))
            for f in found]


def test_diagnostics_as_you_type_are_those_of_rebal_check(
        editor: Editor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "lev.rebal"
    shutil.copy(SPECS / "eth_leverage_2x.rebal", spec)
    good = spec.read_text(encoding="utf-8")
    bad = good.replace("max slippage 30 bps", "max slippage 30 ETH", 1)
    want_clean = expected(cli_json(spec, capsys))
    spec.write_text(bad, encoding="utf-8")
    want_bad = expected(cli_json(spec, capsys))
    assert any(w[0] == "E301" for w in want_bad) and any(w[6] for w in want_clean)

    async def body(s: Session) -> None:
        uri = await s.open(spec, good)
        assert [as_cli(d) for d in await s.diagnostics(uri, 1)] == want_clean
        # An incremental edit, as an editor sends it: `bps` -> `ETH` on the slippage line.
        line, col = at(good, "30 bps", shift=3)
        v = s.change(uri, "ETH", types.Range(types.Position(line, col), types.Position(line, col + 3)))
        got = await s.diagnostics(uri, v)
        assert [as_cli(d) for d in got] == want_bad
        e301 = next(d for d in got if d.code == "E301")
        assert e301.severity == types.DiagnosticSeverity.Error and e301.source == "rebal"
        assert e301.code_description is not None
        assert e301.code_description.href.endswith("docs/diagnostics.md#e301")
        # A syntax error while typing, then the fix.
        v = s.change(uri, good.replace("risk {", "risk {\n    max levrage 3x", 1))
        (syntax,) = await s.diagnostics(uri, v)
        assert syntax.code == "E102" and "did you mean" in syntax.message
        v = s.change(uri, good)
        assert [as_cli(d) for d in await s.diagnostics(uri, v)] == want_clean
        s.close(uri)
        await s.diagnostics(uri, None)
        await asyncio.sleep(0)

    editor.run(body)


def test_policy_comes_from_the_project_setting(editor: Editor, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "lev.rebal"
    shutil.copy(SPECS / "eth_leverage_2x.rebal", spec)
    shutil.copy(SPECS / "desk.policy.rebal", tmp_path / "desk.policy.rebal")
    (tmp_path / "rebal.toml").write_text('policy = "desk.policy.rebal"\n', encoding="utf-8")
    want = expected(cli_json(spec, capsys, "--policy", str(tmp_path / "desk.policy.rebal")))
    assert {w[0] for w in want} >= {"P701", "P702"}

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        assert [as_cli(d) for d in await s.diagnostics(uri, 1)] == want

    editor.run(body)


def test_policy_from_initialization_options(tmp_path: Path) -> None:
    spec = tmp_path / "lev.rebal"
    shutil.copy(SPECS / "eth_leverage_2x.rebal", spec)

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        codes = {d.code for d in await s.diagnostics(uri, 1)}
        assert {"P701", "P702"} <= codes

    run_alone(tmp_path, body, options={"policy": str(SPECS / "desk.policy.rebal")})


def test_related_locations_point_at_the_declaration(editor: Editor, tmp_path: Path) -> None:
    spec = FIXTURES / "E212_unmapped_instrument.rebal"
    text = spec.read_text(encoding="utf-8")

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        (e212,) = [d for d in await s.diagnostics(uri, 1) if d.code == "E212"]
        (rel,) = e212.related_information or []
        assert rel.message == "`CALL` is declared here" and rel.location.uri == uri
        assert (rel.location.range.start.line, rel.location.range.start.character) == at(
            text, "CALL option")

    editor.run(body)


def test_hover_explains_words_instruments_and_findings(editor: Editor, tmp_path: Path) -> None:
    spec = tmp_path / "gamma.rebal"
    text = (SPECS / "eth_gamma_band.rebal").read_text(encoding="utf-8").replace(
        "max slippage 25 bps", "max slippage 25 ETH")
    spec.write_text(text, encoding="utf-8")

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        await s.diagnostics(uri, 1)

        async def hover(needle: str, nth: int = 0, shift: int = 0) -> str:
            h = await s.hover(uri, *at(text, needle, nth, shift))
            assert h is not None and isinstance(h.contents, types.MarkupContent)
            return h.contents.value

        assert "act at least this often" in await hover("every 4h")
        assert "§5.4 trigger" in await hover("every 4h")
        assert (await hover("every 4h", shift=7)).startswith("`h`: hours")
        assert "x kept in [lo, hi]" not in await hover("cooldown")
        assert "units of the underlying" in await hover("book {")
        assert (await hover("hedge with C3000", shift=12)).startswith(
            "`C3000`: option ETH call strike 3000 USD expiry 2027-03-26, settles in USD")
        finding = await hover("25 ETH")
        assert finding.startswith("`max slippage` must be a ratio")
        assert "**E301** `unit-mismatch`" in finding and "*What it means.*" in finding
        assert await s.hover(uri, 0, 0) is None  # a comment

    editor.run(body)


def test_definition_goes_from_a_use_to_the_declaration(editor: Editor, tmp_path: Path) -> None:
    spec = SPECS / "eth_gamma_band.rebal"
    text = spec.read_text(encoding="utf-8")

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        await s.diagnostics(uri, 1)
        for use in ("hedge with PERP", "owns C3000, PERP", 'PERP  = "ETH-PERPETUAL"'):
            shift = use.index("PERP") + 2
            loc = await s.definition(uri, *at(text, use, shift=shift))
            assert isinstance(loc, types.Location) and loc.uri == uri
            assert (loc.range.start.line, loc.range.start.character) == at(text, "PERP  perp")
            assert loc.range.end.character - loc.range.start.character == 4
        assert await s.definition(uri, *at(text, "trigger")) is None

    editor.run(body)


def test_completion_offers_what_fits_at_the_cursor(editor: Editor, tmp_path: Path) -> None:
    spec = tmp_path / "gamma.rebal"
    base = (SPECS / "eth_gamma_band.rebal").read_text(encoding="utf-8")
    spec.write_text(base, encoding="utf-8")

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        await s.diagnostics(uri, 1)

        async def labels(text: str, needle: str, shift: int) -> dict[str, types.CompletionItemKind]:
            s.change(uri, text)
            items = await s.completion(uri, *at(text, needle, shift=shift))
            return {i.label: i.kind for i in items if i.kind is not None}

        # In a trigger block, exactly the trigger clauses (the parser state decides).
        text = base.replace("  trigger {\n", "  trigger {\n    \n")
        got = await labels(text, "trigger {\n    ", len("trigger {\n    "))
        assert {k for k, v in got.items() if v == types.CompletionItemKind.Keyword} == {
            "on", "every", "cooldown"}
        # After `hedge with`: the instruments (and other names), no keywords of blocks.
        text = base.replace("hedge with PERP", "hedge with P", 1)
        got = await labels(text, "hedge with P", len("hedge with P"))
        assert {"PERP", "P2800", "C3000"} <= {k for k, v in got.items()
                                              if v == types.CompletionItemKind.Variable}
        assert "trigger" not in got
        # After a number: units and the strategy's assets.
        text = base.replace("max slippage 25 bps", "max slippage 25 b", 1)
        got = await labels(text, "max slippage 25 b", len("max slippage 25 b"))
        assert got["bps"] == types.CompletionItemKind.Unit and got["h"] == types.CompletionItemKind.Unit
        assert got["ETH"] == types.CompletionItemKind.Constant
        # After `via`: the installed backends.
        text = base.replace("venue paper via sim", "venue paper via s", 1)
        got = await labels(text, "venue paper via s", len("venue paper via s"))
        assert {"sim", "ccxt", "keeper", "solver"} <= set(got)
        # At the top level of a strategy: its clauses and blocks.
        text = base.replace("  trigger {", "  \n  trigger {", 1)
        got = await labels(text, "  \n  trigger {", 2)
        assert {"target", "risk", "venue", "mode", "costs"} <= set(got)

    editor.run(body)


def test_formatting_is_rebal_fmt(editor: Editor, tmp_path: Path) -> None:
    spec = tmp_path / "messy.rebal"
    messy = (SPECS / "eth_gamma_band.rebal").read_text(encoding="utf-8").replace(
        "    every 4h\n", "      every    4h\n").replace("  costs {", "costs   {")
    spec.write_text(messy, encoding="utf-8")
    canonical, _ = format_source(messy, str(spec))
    assert canonical is not None and canonical != messy

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        await s.diagnostics(uri, 1)
        (edit,) = await s.formatting(uri)
        assert edit.new_text == canonical and edit.range.start == types.Position(0, 0)
        s.change(uri, canonical)
        assert await s.formatting(uri) == []
        v = s.change(uri, canonical + "\nstrategy broken {\n")
        await s.diagnostics(uri, v)
        assert await s.formatting(uri) == []  # a file with syntax errors is left alone

    editor.run(body)


def test_document_symbols_outline_strategy_targets_and_venues(editor: Editor, tmp_path: Path) -> None:
    spec = SPECS / "eth_gamma_band.rebal"

    async def body(s: Session) -> None:
        uri = await s.open(spec)
        await s.diagnostics(uri, 1)
        (strategy,) = await s.symbols(uri)
        assert strategy.name == "eth_gamma_band" and strategy.kind == types.SymbolKind.Class
        kids = [(c.name, c.kind, c.detail) for c in strategy.children or []]
        assert ("target delta 10 ETH", types.SymbolKind.Property, None) in kids
        assert ("target gamma within -20000 USD to 20000 USD", types.SymbolKind.Property,
                None) in kids
        assert ("venue paper", types.SymbolKind.Module, "via sim") in kids
        assert ("venue deribit", types.SymbolKind.Module, "via ccxt") in kids
        assert ("PERP", types.SymbolKind.Variable, "perp ETH, settles in USD") in kids

    editor.run(body)
