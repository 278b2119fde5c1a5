"""The editor integrations in editors/ agree with the language: the VS Code TextMate grammar
highlights every keyword, function, name and unit, and the extension starts `rebal lsp`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rebal.compiler.expressions import FUNCTIONS, REFS
from rebal.compiler.units import all_unit_words
from rebal.dsl.grammar import _keyword_terminals

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"


def _scopes(line: str) -> dict[str, str]:
    """Word -> scope, by applying the grammar's top-level patterns left to right as TextMate does."""
    g = json.loads((VSCODE / "syntaxes" / "rebal.tmLanguage.json").read_text(encoding="utf-8"))
    rules = [g["repository"][p["include"][1:]] for p in g["patterns"]]
    out: dict[str, str] = {}
    pos = 0
    while pos < len(line):
        best: tuple[int, int, dict[str, object], re.Match[str]] | None = None
        for k, rule in enumerate(rules):
            m = re.compile(str(rule.get("match") or rule["begin"])).search(line, pos)
            if m and m.end() > m.start() and (best is None or (m.start(), k) < (best[0], best[1])):
                best = (m.start(), k, rule, m)
        if best is None:
            break
        _, _, rule, m = best
        caps = rule.get("captures")
        if isinstance(caps, dict):
            for group, scope in caps.items():
                if m.group(int(group)):
                    out[m.group(int(group))] = scope["name"]
        else:
            out[m.group()] = str(rule["name"])
        pos = m.end()
    return out


def test_textmate_grammar_highlights_every_keyword() -> None:
    words = sorted(v for v in _keyword_terminals().values() if v.isidentifier())
    scopes = _scopes(" ".join(words))
    missing = [w for w in words if not scopes.get(w, "").startswith("keyword.")]
    assert missing == []


def test_textmate_grammar_highlights_functions_names_units_and_instruments() -> None:
    scopes = _scopes("max position PERP 20 ETH when drawdown > 10% and 25 bps")
    assert scopes["PERP"].startswith("entity.name.type") and scopes["drawdown"].startswith("variable")
    assert scopes["%"].startswith("keyword.other.unit") and scopes["bps"].startswith("keyword.other.unit")
    assert scopes["and"] == "keyword.operator.logical.rebal"
    fn = _scopes(" ".join(f"{f}(x)" for f in FUNCTIONS))
    assert all(fn[f] == "support.function.rebal" for f in FUNCTIONS)
    names = _scopes(" ".join(REFS))
    assert all(names[r].startswith(("variable.language", "keyword.")) for r in REFS)
    units = [u for u in all_unit_words(frozenset()) if u != "%"]
    got = _scopes(" ".join(f"1 {u}" for u in units))
    assert all(got[u] == "keyword.other.unit.rebal" for u in units)
    # A string opens before the `#` inside it could start a comment.
    assert _scopes('x "a # b" # c')['"'].startswith("string")


def test_vscode_extension_starts_rebal_lsp_for_rebal_files() -> None:
    pkg = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (lang,) = pkg["contributes"]["languages"]
    assert lang["id"] == "rebal" and lang["extensions"] == [".rebal"]
    (grammar,) = pkg["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).is_file() and grammar["scopeName"] == "source.rebal"
    js = (VSCODE / pkg["main"]).read_text(encoding="utf-8")
    assert 'args: ["lsp"]' in js and 'language: "rebal"' in js
    assert set(pkg["contributes"]["configuration"]["properties"]) == {"rebal.path", "rebal.policy"}
