"""The command line as a user drives it: exit codes, canonical IR, schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from rebal.cli import main
from rebal.compiler import check_file
from rebal.compiler.canonical import canonical_json, content_hash, ir_schema_json

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.rebal"))
STRATEGY_SPECS = [p for p in SPECS if "policy" not in p.name]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_check_shared_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    shared = ROOT.parent / "shared" / "specs"
    target = shared if shared.is_dir() else ROOT / "specs"
    code, out, _ = run(capsys, "check", str(target))
    assert code == 0, out


def test_check_reports_error_with_location_and_exit_1(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.rebal"
    bad.write_text((ROOT / "specs" / "eth_straddle_hedge.rebal").read_text()
                   .replace("max slippage 20 bps", "max slippage 20 ETH"))
    code, out, _ = run(capsys, "check", str(bad), "--format", "json")
    assert code == 1
    found = json.loads(out)["diagnostics"]
    units = [d for d in found if d["code"] == "E301"]
    line = 1 + bad.read_text().split("max slippage 20 ETH")[0].count("\n")
    col = 1 + len(bad.read_text().splitlines()[line - 1].split("20 ETH")[0])
    assert units and units[0]["file"] == str(bad)
    assert (units[0]["line"], units[0]["col"]) == (line, col)


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", str(tmp_path / "missing.rebal"))[0] == 2
    with pytest.raises(SystemExit) as exc:
        main(["chek", "x"])
    assert exc.value.code == 2
    assert "did you mean `check`" in capsys.readouterr().err


@pytest.mark.parametrize("spec", STRATEGY_SPECS, ids=lambda p: p.stem)
def test_compile_is_canonical_and_stable(spec: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "compile", str(spec))
    assert code == 0, err
    text = out.strip()
    assert json.loads(text)["ir_version"] == "1.2"
    assert err.strip() == f"sha256:{content_hash(text)}"
    # Moving the file (and reformatting whitespace) never changes the IR bytes.
    moved = tmp_path / "elsewhere" / "renamed.rebal"
    moved.parent.mkdir()
    shutil.copy(spec, moved)
    moved.write_text(moved.read_text().replace("\n", "\n\n  "))
    code2, out2, _ = run(capsys, "compile", str(moved))
    assert code2 == 0 and out2.strip() == text
    assert str(spec) not in text and "rebal\"" not in text


def test_compile_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "ir.json"
    code, out, _ = run(capsys, "compile", str(STRATEGY_SPECS[0]), "-o", str(dest))
    assert code == 0
    digest = content_hash(dest.read_text().strip())
    assert f"sha256:{digest}" in out


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "docs" / "ir.schema.json").read_text()
    assert committed.strip() == ir_schema_json().strip(), (
        "docs/ir.schema.json is stale: run `rebal schema > docs/ir.schema.json`")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_compiled_spec_validates_against_schema(spec: Path) -> None:
    schema = json.loads(ir_schema_json())
    res = check_file(spec)
    assert res.ok, res.diagnostics
    docs = [*res.strategies, *res.policies]
    assert docs
    for doc in docs:
        jsonschema.validate(json.loads(canonical_json(doc)), schema)


def test_schema_rejects_unknown_fields() -> None:
    schema = json.loads(ir_schema_json())
    res = check_file(STRATEGY_SPECS[0])
    data = json.loads(canonical_json(res.strategies[0]))
    data["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_python_dash_m(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "rebal" in capsys.readouterr().out


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_lowered_ir_passes_full_model_validation(spec: Path) -> None:
    """Lowering builds the IR without re-validating it (start-up speed); prove it is valid."""
    res = check_file(spec)
    for doc in [*res.strategies, *res.policies]:
        again = type(doc).model_validate(doc.model_dump())
        assert again == doc
        assert canonical_json(again) == canonical_json(doc)


def test_commands_on_one_strategy_refuse_a_file_with_two(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "specs" / "eth_straddle_hedge.rebal").read_text()
    two = tmp_path / "two.rebal"
    two.write_text(text + text.replace("strategy eth_straddle_hedge", "strategy second"))
    assert run(capsys, "check", str(two))[0] == 0  # a file may hold several strategies
    for command in (["compile"], ["explain"], ["simulate", "--venue", "paper"]):
        code, out, err = run(capsys, command[0], str(two), *command[1:])
        assert code == 1 and out == ""
        assert "holds 2 strategies (eth_straddle_hedge, second)" in err


def test_files_are_replaced_whole_and_keep_their_mode(tmp_path: Path) -> None:
    from rebal.compiler.files import atomic_write

    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


def test_a_policy_option_naming_a_strategy_file_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(STRATEGY_SPECS[0])
    code, out, _ = run(capsys, "check", spec, "--policy", spec, "--format", "concise")
    assert code == 2
    assert f"{spec}:1:1: P704 this file holds no policy" in out
