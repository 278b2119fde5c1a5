"""Rendering diagnostics (text, concise, JSON, SARIF) and the diagnostics catalogue.

The renderers are pure: hand-built diagnostics in, strings out. SARIF output is validated
against a subset of the SARIF 2.1.0 schema written below (no network). The catalogue test
keeps docs/diagnostics.md current and every code documented; the docs test runs each
example of the E1xx-E4xx and I999 pages through the checker and keeps its shown output true
(``REBAL_UPDATE_GOLDEN=1`` rewrites the output blocks).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rebal.compiler.api import check_source
from rebal.dsl import catalogue
from rebal.dsl.diagnostics import CODES, CodeInfo, Diagnostic, Label, Severity, Span, make
from rebal.dsl.render import (
    MAX_LINE_CHARS,
    render_concise,
    render_summary,
    render_text,
    sorted_diagnostics,
)
from rebal.dsl.render_machine import render_json, render_sarif, sarif_rules

ROOT = Path(__file__).resolve().parent.parent
UPDATE = os.environ.get("REBAL_UPDATE_GOLDEN") == "1"

SRC = """strategy hedge {
  costs {
    max slippage 20 bps
    max fee 5 bps
    max slippage 50 bps
  }
}
"""


def diag(code: str = "E206", line: int = 5, col: int = 5, end_col: int = 24, **kw: Any) -> Diagnostic:
    return make(code, kw.pop("message", "`max slippage` is given twice"),
                Span("a.rebal", line, col, kw.pop("end_line", line), end_col), **kw)


# --------------------------------------------------------------------------- text


def test_text_has_header_location_source_and_caret() -> None:
    out = render_text([diag(help="keep one")], {"a.rebal": SRC})
    assert out == (
        "error[E206]: `max slippage` is given twice\n"
        " --> a.rebal:5:5\n"
        "  |\n"
        "5 |     max slippage 50 bps\n"
        "  |     ^^^^^^^^^^^^^^^^^^^\n"
        "  |\n"
        "  = help: keep one\n"
    )


def test_labels_are_secondary_underlines_with_their_message() -> None:
    d = diag(labels=[Label(Span("a.rebal", 3, 5, 3, 24), "first given here")],
             notes=["the later one would win"])
    out = render_text([d], {"a.rebal": SRC})
    assert out == (
        "error[E206]: `max slippage` is given twice\n"
        " --> a.rebal:5:5\n"
        "  |\n"
        "3 |     max slippage 20 bps\n"
        "  |     ------------------- first given here\n"
        "4 |     max fee 5 bps\n"
        "5 |     max slippage 50 bps\n"
        "  |     ^^^^^^^^^^^^^^^^^^^\n"
        "  |\n"
        "  = note: the later one would win\n"
    )


def test_distant_lines_are_elided_and_the_gutter_fits_the_widest_number() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 13)) + "\n"
    d = make("E201", "x", Span("a.rebal", 12, 1, 12, 5),
             labels=[Label(Span("a.rebal", 2, 1, 2, 5), "here")])
    out = render_text([d], {"a.rebal": text})
    assert " 2 | line 2\n" in out
    assert "\n...\n12 | line 12\n" in out
    assert "   --> a.rebal:12:1" not in out and "  --> a.rebal:12:1" in out


def test_multiline_span_underlines_to_the_end_of_its_first_line() -> None:
    d = diag(line=2, col=3, end_line=6, end_col=4)
    out = render_text([d], {"a.rebal": SRC})
    assert "2 |   costs {\n  |   ^^^^^^^\n" in out


def test_point_past_the_end_of_a_line_gets_one_caret() -> None:
    d = make("E104", "ends", Span("a.rebal", 1, 17, 1, 18))
    out = render_text([d], {"a.rebal": "strategy hedge {"})
    assert out.splitlines()[4] == "  |                 ^"


def test_without_span_only_header_and_help() -> None:
    d = make("I999", "boom", None, "report it")
    assert render_text([d], {}) == "error[I999]: boom\n  = help: report it\n"


def test_unknown_source_or_line_shows_location_only() -> None:
    d = diag()
    assert render_text([d], {}) == "error[E206]: `max slippage` is given twice\n --> a.rebal:5:5\n"
    far = diag(line=99)
    assert "99 |" not in render_text([far], {"a.rebal": SRC})


def test_label_in_another_file_gets_its_own_header() -> None:
    d = diag(labels=[Label(Span("policy.rebal", 1, 1, 1, 7), "policy here")])
    out = render_text([d], {"a.rebal": SRC, "policy.rebal": "policy desk {}\n"})
    assert " ::: policy.rebal:1:1\n" in out
    assert "1 | policy desk {}\n  | ------ policy here\n" in out


def test_label_without_source_becomes_a_note() -> None:
    d = diag(labels=[Label(Span("gone.rebal", 3, 2, 3, 4), "defined here")])
    out = render_text([d], {"a.rebal": SRC})
    assert "  = note: defined here (gone.rebal:3:2)\n" in out


def test_tabs_and_wide_characters_keep_the_caret_aligned() -> None:
    text = '\tdescription "日本" x\n'
    col = text.index("x") + 1
    out = render_text([make("E101", "x", Span("t.rebal", 1, col, 1, col + 1))], {"t.rebal": text})
    src_line, caret_line = out.splitlines()[3:5]
    assert "\t" not in src_line
    # display columns: the tab is 4 wide and each CJK character 2
    assert caret_line.index("^") - len("  | ") == 4 + len('description "') + 4 + len('" ')
    assert src_line.startswith("1 |     description")


def test_control_characters_are_made_visible() -> None:
    text = "a\x1b[31mb\x00c\u202e\n"
    out = render_text([make("E105", "bad \x1b[0m char", Span("c.rebal", 1, 2, 1, 3))],
                      {"c.rebal": text})
    assert "\x1b" not in out and "\x00" not in out and "\u202e" not in out
    assert "\u241b" in out and "\u2400" in out


def test_crlf_line_endings_are_not_shown() -> None:
    out = render_text([diag()], {"a.rebal": SRC.replace("\n", "\r\n")})
    assert "\r" not in out and "5 |     max slippage 50 bps\n" in out


def test_long_lines_are_windowed_around_the_finding() -> None:
    line = "x = " + "a" * 5000 + " BAD " + "b" * 5000
    col = line.index("BAD") + 1
    out = render_text([make("E101", "bad", Span("l.rebal", 1, col, 1, col + 3))], {"l.rebal": line})
    src_line, caret_line = out.splitlines()[3:5]
    assert len(src_line) <= MAX_LINE_CHARS + 10
    assert src_line.startswith("1 | \u2026") and src_line.endswith("\u2026")
    at = caret_line.index("^")
    assert src_line[at : at + 3] == "BAD" and caret_line.count("^") == 3


def test_blocks_are_separated_by_a_blank_line() -> None:
    out = render_text([diag(), diag(code="W902", message="w")], {"a.rebal": SRC})
    assert "\n\nwarning[W902]: w\n" in out


def test_color_only_when_asked() -> None:
    plain = render_text([diag(help="h")], {"a.rebal": SRC})
    colored = render_text([diag(help="h")], {"a.rebal": SRC}, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;31merror[E206]\x1b[0m" in colored
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_empty_input_renders_nothing() -> None:
    assert render_text([], {}) == "" and render_concise([]) == ""


# --------------------------------------------------------------------------- summary


@pytest.mark.parametrize(
    ("codes", "nfiles", "expected"),
    [
        (["E201", "E301", "W902"], 3, "2 errors, 1 warning in 3 files\n"),
        (["E201"], 1, "1 error in 1 file\n"),
        (["W902", "W903"], 2, "2 warnings in 2 files\n"),
        ([], 4, "no problems in 4 files\n"),
    ],
)
def test_summary(codes: list[str], nfiles: int, expected: str) -> None:
    ds = [make(c, "m", None) for c in codes]
    assert render_summary(ds, nfiles) == expected


def test_summary_counts_severity_overrides() -> None:
    ds = [make("E201", "m", None, severity=Severity.NOTE)]
    assert render_summary(ds, 1) == "1 note in 1 file\n"


# --------------------------------------------------------------------------- concise


def test_concise_is_one_line_each() -> None:
    ds = [diag(), make("I999", "multi\nline", None)]
    assert render_concise(ds) == (
        "a.rebal:5:5: E206 `max slippage` is given twice\nI999 multi line\n"
    )


# --------------------------------------------------------------------------- JSON

JSON_KEYS = {"file", "line", "col", "end_line", "end_col", "severity", "code", "message", "help",
             "labels"}


def test_json_has_exactly_the_documented_keys() -> None:
    doc = json.loads(render_json([diag(help="keep one"), make("W902", "w", None)]))
    assert list(doc) == ["diagnostics"]
    first, second = doc["diagnostics"]
    assert set(first) == JSON_KEYS and set(second) == JSON_KEYS
    assert first == {"file": "a.rebal", "line": 5, "col": 5, "end_line": 5, "end_col": 24,
                     "severity": "error", "code": "E206",
                     "message": "`max slippage` is given twice", "help": "keep one",
                     "labels": []}
    assert second["help"] is None and second["line"] is None and second["severity"] == "warning"


def test_json_is_stable_with_sorted_keys() -> None:
    ds = [diag(), diag(code="E301", message="é")]
    a, b = render_json(ds), render_json(list(ds))
    assert a == b
    keys = re.findall(r'^\s+"(\w+)":', a, flags=re.M)
    assert keys[0] == "diagnostics" and keys[1:11] == sorted(JSON_KEYS)
    assert "é" in a and a.endswith("}\n")


def test_json_of_no_diagnostics() -> None:
    assert json.loads(render_json([])) == {"diagnostics": []}


# --------------------------------------------------------------------------- SARIF

_LEVEL = {"enum": ["none", "note", "warning", "error"]}
_INT1 = {"type": "integer", "minimum": 1}

#: A subset of the SARIF 2.1.0 schema (OASIS), enough to catch structural mistakes:
#: required members, types, enums and misspelled property names.
SARIF_SUBSET: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["version", "runs"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/run"}},
    },
    "definitions": {
        "run": {
            "type": "object",
            "required": ["tool"],
            "additionalProperties": False,
            "properties": {
                "tool": {"$ref": "#/definitions/tool"},
                "results": {"type": "array", "items": {"$ref": "#/definitions/result"}},
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
            },
        },
        "tool": {
            "type": "object",
            "required": ["driver"],
            "additionalProperties": False,
            "properties": {"driver": {"$ref": "#/definitions/toolComponent"}},
        },
        "toolComponent": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "informationUri": {"type": "string"},
                "rules": {"type": "array", "items": {"$ref": "#/definitions/reportingDescriptor"}},
            },
        },
        "reportingDescriptor": {
            "type": "object",
            "required": ["id"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "shortDescription": {"$ref": "#/definitions/multiformatMessageString"},
                "fullDescription": {"$ref": "#/definitions/multiformatMessageString"},
                "helpUri": {"type": "string"},
                "defaultConfiguration": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"level": _LEVEL, "enabled": {"type": "boolean"}},
                },
            },
        },
        "multiformatMessageString": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}},
        },
        "message": {
            "type": "object",
            "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string"}, "id": {"type": "string"}},
        },
        "result": {
            "type": "object",
            "required": ["message"],
            "additionalProperties": False,
            "properties": {
                "ruleId": {"type": "string"},
                "ruleIndex": {"type": "integer", "minimum": -1},
                "level": _LEVEL,
                "message": {"$ref": "#/definitions/message"},
                "locations": {"type": "array", "items": {"$ref": "#/definitions/location"}},
                "relatedLocations": {"type": "array",
                                     "items": {"$ref": "#/definitions/location"}},
                "properties": {"type": "object"},
            },
        },
        "location": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": -1},
                "physicalLocation": {"$ref": "#/definitions/physicalLocation"},
                "message": {"$ref": "#/definitions/message"},
            },
        },
        "physicalLocation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "artifactLocation": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"uri": {"type": "string"}, "uriBaseId": {"type": "string"}},
                },
                "region": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"startLine": _INT1, "startColumn": _INT1,
                                   "endLine": _INT1, "endColumn": _INT1},
                },
            },
        },
    },
}


def _sarif(ds: list[Diagnostic]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render_sarif(ds, tool_version="9.9.9"))
    jsonschema.validate(doc, SARIF_SUBSET)
    return doc


def test_sarif_validates_and_carries_the_whole_catalogue() -> None:
    doc = _sarif([diag()])
    assert doc["version"] == "2.1.0" and "sarif" in doc["$schema"]
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "rebal" and driver["version"] == "9.9.9"
    assert [r["id"] for r in driver["rules"]] == list(CODES)
    e206 = driver["rules"][list(CODES).index("E206")]
    assert e206 == {
        "id": "E206", "name": "duplicate-clause",
        "shortDescription": {"text": CODES["E206"].summary},
        "helpUri": "docs/diagnostics.md#e206",
        "defaultConfiguration": {"level": "error"},
    }
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in driver["rules"]}
    assert levels["W902"] == "warning" and levels["P701"] == "error"


def test_sarif_results_point_at_rule_and_region() -> None:
    ds = [
        diag(labels=[Label(Span("a.rebal", 3, 5, 3, 24), "first given here")], help="keep one"),
        make("W902", "no max slippage", Span("/abs/dir/my spec.rebal", 2, 1, 2, 9)),
        make("E201", "note-level", Span("b.rebal", 1, 1, 1, 2), severity=Severity.NOTE),
        make("I999", "no place", None),
    ]
    doc = _sarif(ds)
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    r0, r1, r2, r3 = doc["runs"][0]["results"]
    for r in (r0, r1, r2, r3):
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    assert r0["level"] == "error" and r0["message"]["text"] == "`max slippage` is given twice"
    loc = r0["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "a.rebal"
    assert loc["region"] == {"startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 24}
    assert r0["relatedLocations"][0]["message"]["text"] == "first given here"
    assert r0["properties"]["help"] == "keep one"
    assert r1["level"] == "warning"
    assert r1["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "file:///abs/dir/my%20spec.rebal")
    assert r2["level"] == "note"
    assert "locations" not in r3


def test_sarif_for_a_real_check_validates() -> None:
    text = (ROOT / "tests" / "fixtures" / "diagnostics" / "E206_duplicate_clause.rebal").read_text()
    res = check_source(text, "specs/dup.rebal")
    doc = _sarif(res.diagnostics)
    assert doc["runs"][0]["results"][0]["ruleId"] == "E206"


def test_sarif_rules_match_the_registry() -> None:
    assert len(sarif_rules()) == len(CODES)


def test_sorted_diagnostics_orders_by_file_and_position() -> None:
    a = make("E201", "a", Span("b.rebal", 1, 1, 1, 2))
    b = make("E201", "b", Span("a.rebal", 9, 1, 9, 2))
    c = make("E201", "c", Span("a.rebal", 2, 7, 2, 8))
    d = make("I999", "d", None)
    assert sorted_diagnostics([a, b, c, d]) == [d, c, b, a]


def test_renderers_do_not_print(capsys: pytest.CaptureFixture[str]) -> None:
    ds = [diag()]
    render_text(ds, {"a.rebal": SRC}, color=True)
    render_concise(ds)
    render_json(ds)
    render_sarif(ds, tool_version="1")
    render_summary(ds, 1)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- catalogue


def test_catalogue_is_current() -> None:
    path = catalogue.catalogue_path(ROOT)
    assert path.is_file(), "docs/diagnostics.md is missing: run `python -m rebal.dsl.catalogue`"
    assert path.read_text(encoding="utf-8") == catalogue.build(ROOT), (
        "docs/diagnostics.md is stale: run `python -m rebal.dsl.catalogue`"
    )


def test_every_code_has_a_page() -> None:
    missing = catalogue.missing_pages(ROOT)
    assert not missing, f"codes without docs/diagnostics/<CODE>.md: {', '.join(missing)}"


def test_catalogue_has_an_anchor_per_code_for_sarif_help_uris() -> None:
    text = catalogue.render_catalogue(list(CODES.values()), {})
    for rule in sarif_rules():
        anchor = rule["helpUri"].split("#", 1)[1]
        assert f'<a id="{anchor}"></a>' in text
    assert text.count("Not documented yet") == len(CODES)


def test_catalogue_page_headings_are_nested_under_the_code() -> None:
    info = CodeInfo("E999", "made-up", Severity.ERROR, "A | pipe.")
    page = "# E999: made-up\n\n## What it means\n\nx\n\n```rebal\n# not a heading\n```\n"
    text = catalogue.render_catalogue([info], {"E999": page})
    assert "#### What it means" in text and "# E999: made-up" not in text
    assert "# not a heading" in text and "A \\| pipe." in text


def test_catalogue_check_mode(tmp_path: Path) -> None:
    assert catalogue.main(["--check", "--root", str(tmp_path)]) == 1
    assert catalogue.main(["--root", str(tmp_path)]) == 0
    assert catalogue.main(["--check", "--root", str(tmp_path)]) == 0


# --------------------------------------------------------------------------- docs pages

OWNED = re.compile(r"^(E[1-4]\d\d|I999)$")
PAGES = sorted(p for p in (ROOT / "docs" / "diagnostics").glob("*.md") if OWNED.match(p.stem))
SPEC_BLOCK = re.compile(r"```rebal\n(.*?)```", re.S)
SHOWN = re.compile(r"```rebal\n(.*?)```\n\ngives\n\n```text\n(.*?)```", re.S)
#: Pages whose example cannot be a spec in a Markdown block.
NO_EXAMPLE = {"E100", "E107", "E108", "I999"}
WITH_EXAMPLE = [p for p in PAGES if p.stem not in NO_EXAMPLE]


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_docs_page_has_the_four_sections(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for head in ("## What it means", "## Why", "## Example", "## Fix"):
        assert head in text, f"{page.name} lacks {head!r}"
    if page.stem in NO_EXAMPLE:
        assert not SPEC_BLOCK.search(text)
    else:
        assert SPEC_BLOCK.search(text), f"{page.name} has no ```rebal example"


@pytest.mark.parametrize("page", WITH_EXAMPLE, ids=[p.stem for p in WITH_EXAMPLE])
def test_docs_example_produces_its_code(page: Path) -> None:
    code = page.stem
    text = page.read_text(encoding="utf-8")
    specs = SPEC_BLOCK.findall(text)
    assert specs
    for spec in specs:
        res = check_source(spec, "example.rebal")
        assert code in [d.code for d in res.diagnostics], (
            f"{page.name}: example gives {[d.code for d in res.diagnostics]}")


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_docs_shown_output_is_what_rebal_prints(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    new = text
    for spec, shown in SHOWN.findall(text):
        res = check_source(spec, "example.rebal")
        actual = render_text(res.diagnostics, {res.file: res.source})
        if UPDATE:
            new = new.replace(f"```text\n{shown}```", f"```text\n{actual}```", 1)
        else:
            assert shown == actual, f"{page.name}: the shown output is stale\n{actual}"
    if UPDATE and new != text:
        page.write_text(new, encoding="utf-8")


def test_json_and_sarif_carry_the_related_locations_of_a_real_check(capsys: Any) -> None:
    """`--format json` gives each label's place and message; SARIF gives relatedLocations."""
    from rebal.cli import main

    spec = str(ROOT / "tests" / "fixtures" / "diagnostics" / "E212_unmapped_instrument.rebal")
    assert main(["check", "--format", "json", spec]) == 1
    (found,) = [d for d in json.loads(capsys.readouterr().out)["diagnostics"]
                if d["code"] == "E212"]
    assert found["line"] == 16 and found["labels"] == [
        {"file": spec, "line": 3, "col": 5, "end_line": 3, "end_col": 59,
         "message": "`CALL` is declared here"}]
    assert main(["check", "--format", "sarif", spec]) == 1
    (result,) = [r for r in json.loads(capsys.readouterr().out)["runs"][0]["results"]
                 if r["ruleId"] == "E212"]
    (related,) = result["relatedLocations"]
    assert related["message"]["text"] == "`CALL` is declared here"
    assert related["physicalLocation"]["region"] == {
        "startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 59}
