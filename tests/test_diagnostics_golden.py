"""Golden fixtures as data: spec -> rendered diagnostics, and spec -> IR.

* ``tests/fixtures/diagnostics/<CODE>_<what>.rebal`` is checked and rendered with
  ``render_text``; the output must equal ``<CODE>_<what>.expected`` byte for byte, and the
  code in the file name must be among the findings.
* ``tests/fixtures/ir/<spec>.json`` is the canonical JSON of each shared example's IR.

Regenerate both after an intended change with ``REBAL_UPDATE_GOLDEN=1 pytest
tests/test_diagnostics_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rebal.compiler.api import check_source
from rebal.dsl.diagnostics import CODES
from rebal.dsl.parser import MAX_FILE_BYTES
from rebal.dsl.render import render_text

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "diagnostics"
IR_FIXTURES = ROOT / "tests" / "fixtures" / "ir"
SPECS = ROOT / "specs"
UPDATE = os.environ.get("REBAL_UPDATE_GOLDEN") == "1"

#: Inputs too large to commit, built in code; their expected output is still a fixture file.
GENERATED: dict[str, Callable[[], bytes]] = {
    "E108_file_too_large": lambda: b"# filler\n" * (MAX_FILE_BYTES // 9 + 1),
}

#: Codes of the E1xx-E4xx families and I999 that no fixture shows, and why. A code listed
#: here must not have a fixture; once the compiler emits it, add one and drop it from here.
NO_FIXTURE: dict[str, str] = {
    "I999": "an internal error cannot be provoked from a spec (it is a bug by definition)",
}
OWNED_FAMILIES = re.compile(r"^(E[1-4]\d\d|I999)$")


@dataclass(frozen=True)
class Case:
    """One golden fixture: an input, the file name it is checked under, the expected text."""

    name: str
    source: bytes
    expected: Path

    @property
    def code(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def file(self) -> str:
        return f"{self.name}.rebal"


def load_cases(folder: Path = FIXTURES) -> list[Case]:
    """Every ``*.rebal`` fixture in ``folder`` plus the generated inputs, sorted by name."""
    cases = [Case(p.stem, p.read_bytes(), p.with_suffix(".expected"))
             for p in folder.glob("*.rebal")]
    cases += [Case(n, make(), folder / f"{n}.expected") for n, make in GENERATED.items()]
    return sorted(cases, key=lambda c: c.name)


def render_case(case: Case) -> str:
    res = check_source(case.source, case.file)
    return render_text(res.diagnostics, {res.file: res.source})


def _compare(actual: str, path: Path) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert path.is_file(), f"{path} is missing; run with REBAL_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{path.name} differs (REBAL_UPDATE_GOLDEN=1 regenerates it)\n"
        f"--- expected\n{expected}\n--- actual\n{actual}"
    )


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rendered_diagnostics_match_golden(case: Case) -> None:
    assert case.code in CODES, f"fixture {case.name} is not named after a registered code"
    res = check_source(case.source, case.file)
    codes = [d.code for d in res.diagnostics]
    assert case.code in codes, f"{case.name}: expected {case.code}, got {codes}"
    _compare(render_case(case), case.expected)


def test_every_expected_file_has_an_input() -> None:
    names = {c.name for c in CASES}
    orphans = sorted(p.name for p in FIXTURES.glob("*.expected") if p.stem not in names)
    assert not orphans, f"expected output without an input: {orphans}"


def test_every_owned_code_has_a_fixture_or_a_reason() -> None:
    shown = {c.code for c in CASES}
    owned = {c for c in CODES if OWNED_FAMILIES.match(c)}
    missing = sorted(owned - shown - set(NO_FIXTURE))
    assert not missing, f"codes without a golden fixture: {missing}"
    stale = sorted(set(NO_FIXTURE) & shown)
    assert not stale, f"codes with a fixture are still listed in NO_FIXTURE: {stale}"


_RENDER_ALL = """
import sys
sys.path.insert(0, sys.argv[1])
from test_diagnostics_golden import CASES, render_case
sys.stdout.write("".join(render_case(c) for c in CASES))
"""


def test_rendering_does_not_depend_on_the_hash_seed() -> None:
    """Set and dict orders change with PYTHONHASHSEED: two processes with different seeds
    must render every fixture exactly as this one does (findings, labels, suggestions)."""
    here = "".join(render_case(c) for c in CASES)
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _RENDER_ALL, str(ROOT / "tests")],
                              capture_output=True, text=True, env=env, check=True, cwd=ROOT)
        assert done.stdout == here, f"rendering differs under PYTHONHASHSEED={seed}"


# --------------------------------------------------------------------------- spec -> IR


def canonical(doc: object) -> str:
    """Canonical JSON for golden IR files: sorted keys, two-space indent, UTF-8, newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


#: The shared examples (the syntax contract); other specs in specs/ are not golden.
SHARED_EXAMPLES = ("btc_eth_weights", "btc_optimal_band", "desk.policy", "eth_cppi_vault",
                   "eth_leverage_2x", "eth_straddle_hedge")
EXAMPLES = [SPECS / f"{name}.rebal" for name in SHARED_EXAMPLES]


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_ir_matches_golden(spec: Path) -> None:
    res = check_source(spec.read_text(encoding="utf-8"), str(spec.relative_to(ROOT)))
    assert res.ok, render_text(res.diagnostics, {res.file: res.source})
    doc = res.strategies[0] if res.strategies else res.policies[0]
    name = spec.name.removesuffix(".rebal")
    _compare(canonical(doc.model_dump(mode="json")), IR_FIXTURES / f"{name}.json")


def test_ir_does_not_depend_on_the_file_name() -> None:
    spec = SPECS / "eth_straddle_hedge.rebal"
    text = spec.read_text(encoding="utf-8")
    a = check_source(text, "a.rebal").strategies[0].model_dump(mode="json")
    b = check_source(text, "elsewhere/b.rebal").strategies[0].model_dump(mode="json")
    assert a == b


def test_every_ir_golden_belongs_to_an_example() -> None:
    files = {p.name.removesuffix(".json") for p in IR_FIXTURES.glob("*.json")}
    assert files == set(SHARED_EXAMPLES)
