"""Any input, however broken, gets diagnostics and never a traceback.

Hypothesis feeds `check_source` random bytes, random text from the grammar's alphabet, token
soup from its vocabulary and mutations of the example specs (tokens deleted, duplicated,
swapped or replaced, the text truncated, braces inserted); explicit cases cover deep
nesting and a 10 MB file. The CLI runs on a few such files and must exit 1 with findings,
never a traceback. The budget is kept small (about 20 s); raise it for a long local run
with ``REBAL_FUZZ_EXAMPLES=5000``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal.compiler.api import CheckResult, check_source
from rebal.dsl.diagnostics import CODES, Severity
from rebal.dsl.parser import MAX_DEPTH, MAX_NESTING
from rebal.dsl.render import render_concise, render_text
from rebal.dsl.render_machine import render_json, render_sarif

ROOT = Path(__file__).resolve().parent.parent
SPECS = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.rebal"))}
FILE = "fuzz.rebal"
EXAMPLES = int(os.environ.get("REBAL_FUZZ_EXAMPLES", "0"))


def budget(n: int) -> settings:
    return settings(
        max_examples=EXAMPLES or n,
        deadline=None,  # the first call builds the parser; timing is not what is tested
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def check(data: str | bytes) -> CheckResult:
    """Check ``data`` and every rendering of the result; assert the invariants."""
    res = check_source(data, FILE)
    codes = [d.code for d in res.diagnostics]
    assert all(c in CODES for c in codes), codes
    assert "I999" not in codes, render_text(res.diagnostics, {FILE: res.source})
    if not (res.strategies or res.policies):
        assert any(d.severity is Severity.ERROR for d in res.diagnostics), (
            "input that yields no strategy or policy must have an error")
    for d in res.diagnostics:
        if d.span is not None:
            assert d.span.file == FILE and d.span.line >= 1 and d.span.col >= 1, d
    render_text(res.diagnostics, {FILE: res.source}, color=True)
    render_concise(res.diagnostics)
    json.loads(render_json(res.diagnostics))
    json.loads(render_sarif(res.diagnostics, tool_version="0"))
    return res


# --------------------------------------------------------------------------- generators

ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    ' \t\n\r{}()=,;%+-*/<>!#".:@$é日\x00'
)
WORDS = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(SPECS.values()))))
VOCAB = [*WORDS, "{", "}", "(", ")", "=", "==", "<=", ">", ",", ";", "%", "-", "+", "*", "/",
         "0", "1", "3000", "0.5", "1_000", ".5", "2e3", "2026-12-25", "2026-02-30", '"x"',
         '"unterminated', "# comment\n", "\n", "bps", "ETH", "USD", "x", "h", "gwei"]
TOKEN = re.compile(r"\s+|#[^\n]*|\"[^\"\n]*\"?|[A-Za-z_][A-Za-z0-9_]*|\d[\d_.eE-]*|\S")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    """An example spec with one to four token-level mutations."""
    toks = tokens(SPECS[draw(st.sampled_from(sorted(SPECS)))])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert",
                                   "truncate"]))
        i = draw(st.integers(0, len(toks) - 1))
        if op == "delete":
            del toks[i]
        elif op == "duplicate":
            toks.insert(i, toks[i])
        elif op == "swap":
            j = draw(st.integers(0, len(toks) - 1))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "replace":
            toks[i] = draw(st.sampled_from(VOCAB))
        elif op == "insert":
            toks.insert(i, draw(st.sampled_from(["{", "}", "(", ")", "{ {", "} }", " "])))
        else:
            toks = toks[:i]
        if not toks:
            toks = [""]
    return "".join(toks)


# --------------------------------------------------------------------------- properties


@budget(150)
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    check(data)


@budget(150)
@given(st.text(alphabet=ALPHABET, max_size=600))
def test_random_text_from_the_alphabet(text: str) -> None:
    check(text)


@budget(200)
@given(st.lists(st.sampled_from(VOCAB), max_size=120).map(" ".join))
def test_token_soup(text: str) -> None:
    check(text)


@budget(400)
@given(mutated_spec())
def test_mutated_examples(text: str) -> None:
    check(text)


@budget(60)
@given(st.sampled_from(sorted(SPECS)), st.integers(0, 10_000))
def test_truncated_examples_end_in_an_error(name: str, cut: int) -> None:
    text = SPECS[name]
    cut = cut % len(text)
    head = text[:cut]
    if head.count("{") > head.count("}"):
        res = check(head)
        assert not res.ok


def test_examples_are_clean() -> None:
    for name, text in SPECS.items():
        res = check(text)
        assert res.ok, (name, [d.code for d in res.diagnostics])


# --------------------------------------------------------------------------- explicit cases

BRACKETS = (MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1, 100_000)
CHAINS = (MAX_DEPTH - 10, MAX_DEPTH, MAX_DEPTH + 1, 10_000)
DEEP: dict[str, tuple[Callable[[int], str], tuple[int, ...]]] = {
    "parens": (lambda n: "(" * n, BRACKETS),
    "braces": (lambda n: "{" * n, BRACKETS),
    "unbalanced": (lambda n: "}" * n + "{" * n, BRACKETS),
    "nested": (lambda n: "strategy s { capital " + "(" * n + "1 USD" + ")" * n + " }", BRACKETS),
    "calls": (lambda n: "strategy s { capital " + "max(" * n + "1 USD" + ", 1 USD)" * n + " }",
              BRACKETS),
    "negations": (lambda n: "strategy s { capital " + "- " * n + "1 USD }", CHAINS),
    "nots": (lambda n: "strategy s { risk { halt when " + "not " * n + "drawdown > 1% } }",
             CHAINS),
    "sum": (lambda n: "strategy s { capital 1 USD" + " + 1 USD" * n + " }", CHAINS),
    "product": (lambda n: "strategy s { capital 1" + " * 1" * n + " USD }", CHAINS),
    "many-lines": (lambda n: "strategy s { instruments { " + "P perp ETH\n" * n + "} }", CHAINS),
}


@pytest.mark.parametrize(
    ("name", "n"), [(name, n) for name, (_, ns) in DEEP.items() for n in ns]
)
def test_deep_and_long_inputs(name: str, n: int) -> None:
    build, _ = DEEP[name]
    check(build(n))


def test_a_10_mb_file() -> None:
    res = check(b"strategy s {\n" + b"  capital 1 USD\n" * 700_000 + b"}\n")
    assert [d.code for d in res.diagnostics] == ["E108"]
    res = check("x" * 10_000_000)
    assert [d.code for d in res.diagnostics] == ["E108"]


# --------------------------------------------------------------------------- the CLI

BROKEN: dict[str, bytes] = {
    "junk.rebal": bytes(range(256)) * 8,
    "big.rebal": b"# big\n" * 1_800_000,
    "braces.rebal": b"strategy s {\n  costs {\n    max slippage 20 bps\n",
    "nested.rebal": b"strategy s { capital " + b"(" * 5000 + b"1 USD" + b")" * 5000 + b" }",
    "chain.rebal": b"strategy s { capital 1 USD" + b" + 1 USD" * 5000 + b" }",
    "empty.rebal": b"",
    "nul.rebal": b"strategy s {\x00}",
    "latin1.rebal": "strategy s { description \"café\" }".encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_cli_check_exits_1_without_a_traceback(
    name: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rebal.cli import main

    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    code = main(["check", str(path), "--format", fmt])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert "Traceback" not in out + err and "[I999]" not in out + err
    assert '"ruleId": "I999"' not in out and '"code": "I999"' not in out
    if fmt != "text":
        json.loads(out)
    else:
        assert "error[E" in out


def test_cli_check_on_mutated_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory of broken copies of every example: one run, exit 1, every file reported."""
    from rebal.cli import main

    for name, text in SPECS.items():
        toks = tokens(text)
        (tmp_path / f"cut_{name}").write_text("".join(toks[: len(toks) // 2]), encoding="utf-8")
        (tmp_path / f"brace_{name}").write_text(text.replace("}", "", 1), encoding="utf-8")
    code = main(["check", str(tmp_path), "--format", "concise"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    for name in SPECS:
        assert f"cut_{name}" in out and f"brace_{name}" in out


# --------------------------------------------------------------------------- known bugs

#: Inputs the fuzzing once found crashing `check_source` (huge literals overflowing exact
#: decimal arithmetic in rules). They must now give E110 at the literal, nothing else.
HUGE_NUMBERS = {
    "split-every-1e30m": ("eth_leverage_2x.rebal", "split 50 ETH every 1m",
                          "split 50 ETH every 1e30m"),  # InvalidOperation, rules/warnings.py
    "slippage-1e999999999-bps": ("desk.policy.rebal", "max slippage 100 bps",
                                 "max slippage 1e999999999 bps"),  # Overflow, expressions.py
}


@pytest.mark.parametrize("name", sorted(HUGE_NUMBERS))
def test_huge_numbers_are_refused_at_the_literal(name: str) -> None:
    spec, old, new = HUGE_NUMBERS[name]
    assert old in SPECS[spec]
    text = SPECS[spec].replace(old, new)
    res = check_source(text, spec)
    assert [d.code for d in res.diagnostics] == ["E110"]
    line = 1 + text.split(new)[0].count("\n")
    assert res.diagnostics[0].span is not None and res.diagnostics[0].span.line == line
