"""The CI recipes in docs/ci.md work: their YAML parses, every `rebal` command in them is
accepted by the command line, and the GitLab Code Quality converter turns a real
`rebal check --format json` into a report with one entry per finding."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from rebal.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", DOC, flags=re.S)


def _commands(node: Any) -> list[str]:
    if isinstance(node, str):
        return [line for line in node.splitlines() if line.strip().startswith("rebal ")]
    if isinstance(node, dict):
        return [c for v in node.values() for c in _commands(v)]
    if isinstance(node, list):
        return [c for v in node for c in _commands(v)]
    return []


def test_yaml_recipes_parse_and_their_rebal_commands_are_valid() -> None:
    docs = [yaml.safe_load(body) for lang, body in BLOCKS if lang == "yaml"]
    assert len(docs) == 4  # GitHub Actions, GitLab CI, pre-commit, the offline venue step
    commands = [c for d in docs for c in _commands(d)]
    commands += [c for lang, body in BLOCKS if lang == "sh" for c in _commands(body)]
    assert len(commands) >= 7
    assert any("--markets" in c for c in commands) and any("venue snapshot" in c for c in commands)
    for cmd in commands:
        argv = shlex.split(cmd.split(">")[0].split("||")[0])[1:]
        args = _parser().parse_args(argv)  # exits (SystemExit) on an unknown flag
        assert args.command in ("check", "fmt", "venue")
    github = docs[0]["jobs"]["check"]
    assert github["permissions"]["security-events"] == "write"
    upload = next(s for s in github["steps"] if "upload-sarif" in str(s.get("uses", "")))
    assert upload["if"] == "always()"


def test_precommit_recipe_names_the_hooks_of_this_repository() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    config = next(yaml.safe_load(body) for lang, body in BLOCKS
                  if lang == "yaml" and "repos:" in body)
    assert {h["id"] for h in config["repos"][0]["hooks"]} == {h["id"] for h in hooks}


def test_codequality_converter_reports_every_finding(tmp_path: Path) -> None:
    (script,) = [body for lang, body in BLOCKS if lang == "python"]
    (tmp_path / "rebal_codequality.py").write_text(script, encoding="utf-8")
    spec = ROOT / "tests" / "fixtures" / "diagnostics" / "E212_unmapped_instrument.rebal"
    rebal = Path(sys.executable).with_name("rebal")
    checked = subprocess.run([str(rebal), "check", str(spec), "--format", "json"],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1
    (tmp_path / "rebal.json").write_text(checked.stdout, encoding="utf-8")
    report = json.loads(subprocess.run(
        [sys.executable, str(tmp_path / "rebal_codequality.py"), str(tmp_path / "rebal.json")],
        capture_output=True, text=True, check=True, timeout=60).stdout)
    found = json.loads(checked.stdout)["diagnostics"]
    assert len(report) == len(found) >= 1
    e212 = next(r for r in report if r["check_name"] == "E212")
    assert e212["severity"] == "major" and e212["location"]["path"] == str(spec)
    assert e212["location"]["lines"]["begin"] == 16
    assert "`CALL` is declared here at" in e212["description"]
    assert len({r["fingerprint"] for r in report}) == len(report)
