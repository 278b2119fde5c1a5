"""Validation rules as data: each fixture spec lists the findings it must give.

``tests/fixtures/rules/<CODE>_<what>.rebal`` (or ``ok_<what>.rebal``) starts with comment
lines; among them::

    # policy: policies/house.policy.rebal     (optional, relative to the fixture)
    # expect: E505 16:5                        (one line per finding, code line:col)
    # expect: nothing                          (a clean fixture)

The findings of the file, checked with the registry's backend capabilities (and the policy,
when one is named), must be exactly the expected ones, in order. Every code the rules emit
has a fixture whose expectations include it, and a page in ``docs/diagnostics/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal.backends import registry
from rebal.compiler import check_file, check_source, load_policy
from rebal.dsl.diagnostics import CODES, Diagnostic, Severity
from rebal.dsl.render import render_text

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "rules"
RULES_DIR = ROOT / "compiler" / "rules"
DOCS = ROOT / "docs" / "diagnostics"
#: The shared examples (the syntax contract), with the repository's copies as a fallback.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "specs"
LOCAL = ROOT / "specs"

Finding = tuple[str, int, int]


@dataclass(frozen=True)
class Fixture:
    path: Path
    expected: tuple[Finding, ...]
    policy: Path | None

    @property
    def name(self) -> str:
        return self.path.stem


def load_fixture(path: Path) -> Fixture:
    """Read a fixture's header comments: its policy and its expected findings."""
    expected: list[Finding] = []
    policy: Path | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line[1:].partition(":")
        value = value.strip()
        if key.strip() == "policy":
            policy = path.parent / value
        elif key.strip() == "expect" and value != "nothing":
            m = re.fullmatch(r"([EWPI]\d{3}) (\d+):(\d+)", value)
            assert m, f"{path.name}: cannot read `# expect: {value}`"
            expected.append((m[1], int(m[2]), int(m[3])))
    return Fixture(path, tuple(expected), policy)


def fixtures(folder: Path = FIXTURES) -> list[Fixture]:
    return [load_fixture(p) for p in sorted(folder.glob("*.rebal"))]


def check(path: Path, policy: Path | None = None) -> list[Diagnostic]:
    """Findings of one file, with the registry's capabilities and an optional policy."""
    pol = None
    if policy is not None:
        pol, diags = load_policy(policy)
        assert pol is not None, diags
    return check_file(path, policy=pol, capabilities=registry.capabilities()).diagnostics


def findings(diags: list[Diagnostic]) -> list[Finding]:
    return [(d.code, d.span.line if d.span else 0, d.span.col if d.span else 0) for d in diags]


def emitted_codes() -> set[str]:
    """Every code the rule modules can emit (read from their source; I999 is the safety net)."""
    codes: set[str] = set()
    for p in RULES_DIR.glob("*.py"):
        codes |= set(re.findall(r'make\(\s*"([EWP]\d{3})"', p.read_text(encoding="utf-8")))
    return codes


@pytest.mark.parametrize("fx", fixtures(), ids=lambda f: f.name)
def test_fixture_gives_exactly_its_findings(fx: Fixture) -> None:
    diags = check(fx.path, fx.policy)
    assert findings(diags) == list(fx.expected), "\n".join(
        f"{d.code} {d.span.line if d.span else 0}:{d.span.col if d.span else 0} {d.message}"
        for d in diags)
    for d in diags:
        assert d.help, f"{d.code} has no help line"
        assert d.severity is CODES[d.code].severity or d.code == "W907"


@pytest.mark.parametrize("fx", [f for f in fixtures() if not f.name.startswith("ok_")],
                         ids=lambda f: f.name)
def test_fixture_name_is_its_code(fx: Fixture) -> None:
    code = fx.name.split("_", 1)[0]
    assert code in {c for c, _, _ in fx.expected}, f"{fx.name} does not show {code}"


def test_every_rule_code_has_a_fixture_and_a_doc_page() -> None:
    shown = {c for fx in fixtures() for c, _, _ in fx.expected}
    codes = emitted_codes()
    assert codes, "no codes found in compiler/rules"
    assert codes <= set(CODES), codes - set(CODES)
    assert not codes - shown, f"codes without a fixture: {sorted(codes - shown)}"
    missing = sorted(c for c in codes if not (DOCS / f"{c}.md").is_file())  # E2xx/E4xx: theirs
    assert not missing, f"codes without docs/diagnostics/<CODE>.md: {missing}"
    assert (DOCS / "P704.md").is_file()


_BLOCK = re.compile(r"```rebal\n(.*?)```", re.S)
_GIVES = re.compile(r"```rebal\n((?:(?!```).)*)```\n\ngives\n\n```text\n((?:(?!```).)*)```", re.S)
UPDATE = os.environ.get("REBAL_UPDATE_GOLDEN") == "1"


#: Pages of this file's families whose codes lowering emits (their fixtures are here too).
LOWERING_CODES = {"E802", "E803"}


@pytest.mark.parametrize("code", sorted((emitted_codes() | LOWERING_CODES)
                                        - {"E203", "E212", "E406"}))
def test_doc_page_example_gives_its_code(code: str) -> None:
    """Each page: title, the four parts, and an example whose shown output is current.

    A ```rebal block holding a `policy` is the house policy the example is checked against.
    (E203, E212 and E406 pages belong to the E1xx-E4xx catalogue and are tested there.)
    """
    page = DOCS / f"{code}.md"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {code}: {CODES[code].name}\n"), code
    for head in ("## What it means", "## Why", "## Example", "## Fix"):
        assert head in text, f"{page.name} lacks {head!r}"
    policy = None
    for block in _BLOCK.findall(text):
        if block.lstrip().startswith("policy "):
            res = check_source(block, "policy.rebal")
            assert res.ok and res.policies, res.diagnostics
            policy = res.policies[0]
    examples = _GIVES.findall(text)
    assert examples, f"{page.name} has no ```rebal example followed by its output"
    new = text
    for spec, shown in examples:
        res = check_source(spec, "example.rebal", policy=policy,
                           capabilities=registry.capabilities())
        assert code in [d.code for d in res.diagnostics], [d.code for d in res.diagnostics]
        actual = render_text(res.diagnostics, {res.file: res.source})
        if UPDATE:
            new = new.replace(f"```text\n{shown}```", f"```text\n{actual}```", 1)
        else:
            assert shown == actual, f"{page.name}: the shown output is stale\n{actual}"
    if UPDATE and new != text:
        page.write_text(new, encoding="utf-8")


# ------------------------------------------------------------------ the shared examples


def shared_specs() -> list[Path]:
    folder = SHARED if SHARED.is_dir() else LOCAL
    return sorted(p for p in folder.glob("*.rebal") if "policy" not in p.name)


#: Warnings the shared examples give (file stem -> codes); W907 (expired by today) comes and
#: goes with the calendar and is left out.
SHARED_WARNINGS = {
    "btc_eth_weights": [],
    "btc_optimal_band": [],
    "eth_cppi_vault": ["W906"],
    "eth_leverage_2x": ["W906"],
    "eth_straddle_hedge": ["W904", "W906"],
}


@pytest.mark.parametrize("spec", shared_specs(), ids=lambda p: p.stem)
def test_shared_examples_are_clean_without_policy(spec: Path) -> None:
    diags = check(spec)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    assert not errors, [f"{d.code} {d.span}: {d.message}" for d in errors]
    assert [d.code for d in diags if d.code != "W907"] == SHARED_WARNINGS[spec.stem]


@pytest.mark.parametrize("spec", sorted(LOCAL.glob("*.rebal")), ids=lambda p: p.stem)
def test_repository_specs_have_no_errors(spec: Path) -> None:
    if "policy" in spec.name:
        return
    errors = [d for d in check(spec) if d.severity is Severity.ERROR]
    assert not errors, [f"{d.code} {d.span}: {d.message}" for d in errors]


# ------------------------------------------------------------------ rule decisions


def _variant(spec: str, old: str, new: str) -> list[Finding]:
    text = (LOCAL / spec).read_text(encoding="utf-8")
    assert old in text
    res = check_source(text.replace(old, new), spec, capabilities=registry.capabilities())
    return findings(res.diagnostics)


def test_emergency_slippage_above_base_is_normal() -> None:
    """A mode may pay more slippage to get risk down; that is no E605."""
    got = _variant("eth_leverage_2x.rebal", "max slippage 200 bps", "max slippage 900 bps")
    assert not [f for f in got if f[0] == "E605"]


def test_buffer_just_inside_liquidation_distance_passes() -> None:
    """At 2.3x with 3% maintenance margin a fall of 41.7% liquidates: 41% passes, 42% fails."""
    ok = _variant("eth_leverage_2x.rebal", "liquidation buffer 30%", "liquidation buffer 41%")
    bad = _variant("eth_leverage_2x.rebal", "liquidation buffer 30%", "liquidation buffer 42%")
    assert "E604" not in {c for c, _, _ in ok}
    assert "E604" in {c for c, _, _ in bad}


def test_leverage_band_edge_against_max_leverage() -> None:
    """The 2.3x band edge fits `max leverage 2.3x` and breaks `max leverage 2.2x`."""
    ok = _variant("eth_leverage_2x.rebal", "max leverage 3x", "max leverage 2.3x")
    bad = _variant("eth_leverage_2x.rebal", "max leverage 3x", "max leverage 2.2x")
    assert "E601" not in {c for c, _, _ in ok}
    assert ("E601", 13, 10) in bad


def test_hedge_needed_against_max_position() -> None:
    """Short 10 straddles: the hedge may need 10 ETH of perp (center rebalancing)."""
    limit = "max position PERP 50 ETH"
    ok = _variant("eth_straddle_hedge.rebal", limit, "max position PERP 10 ETH")
    bad = _variant("eth_straddle_hedge.rebal", limit, "max position PERP 9 ETH")
    assert "E602" not in {c for c, _, _ in ok}
    assert ("E602", 21, 10) in bad


def test_weights_need_their_band_edges_of_leverage() -> None:
    """60% + 40% with 5-point bands hold up to 1.1x: fine under 1.1x, not under 1x."""
    ok = _variant("btc_eth_weights.rebal", "max leverage 2x", "max leverage 1.1x")
    bad = _variant("btc_eth_weights.rebal", "max leverage 2x", "max leverage 1x")
    assert "E601" not in {c for c, _, _ in ok}
    assert "E601" in {c for c, _, _ in bad}


def test_min_trade_in_currency_is_converted_at_the_sim_spot() -> None:
    """The straddle's band is at least 0.5 ETH wide = 1500 USD at the sim's 3000 USD."""
    ok = _variant("eth_straddle_hedge.rebal", "min trade 0.1 ETH", "min trade 1500 USD")
    bad = _variant("eth_straddle_hedge.rebal", "min trade 0.1 ETH", "min trade 1501 USD")
    assert "E505" not in {c for c, _, _ in ok}
    assert ("E505", 35, 5) in bad


def test_explicit_start_after_expiry_is_an_error() -> None:
    got = _variant("eth_straddle_hedge.rebal", "horizon 30d", "start 2027-01-01 horizon 30d")
    assert ("E406", 9, 5) in got and ("E406", 10, 5) in got


def test_rules_without_capabilities_skip_backend_checks() -> None:
    text = (FIXTURES / "E801_perp_on_keeper.rebal").read_text(encoding="utf-8")
    assert "E801" not in {d.code for d in check_source(text, "x.rebal").diagnostics}


# ------------------------------------------------------------------ rules never raise

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]*-)")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(sorted(p.name for p in LOCAL.glob("*.rebal"))),
       values=st.lists(st.sampled_from(["0", "1", "0.0001", "2.5", "100", "1000000", "1e400",
                                        "99999999999999999999", "3", "1" + "0" * 40]),
                       min_size=60,
                       max_size=60))
def test_rules_never_raise_on_mutated_numbers(spec: str, values: list[str]) -> None:
    """Every number of a real spec replaced: diagnostics come back, never an exception."""
    text = (LOCAL / spec).read_text(encoding="utf-8")
    it = iter(values * 10)
    mutated = _NUMBER.sub(lambda m: next(it) if not m.group().startswith("0x") else m.group(),
                          text)
    res = check_source(mutated, spec, capabilities=registry.capabilities())
    assert all(d.code in CODES and d.code != "I999" for d in res.diagnostics)


def test_full_maintenance_margin_means_no_room_at_all() -> None:
    """With 100% maintenance margin any leverage is liquidated at once: E604, no crash."""
    got = _variant("eth_leverage_2x.rebal", "maintenance margin 3%", "maintenance margin 100%")
    assert ("E604", 13, 10) in got
