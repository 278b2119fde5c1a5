"""The tutorial's first steps are followed literally: its spec, its fixes, its outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rebal.cli import main

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
TEXT = TUTORIAL.read_text(encoding="utf-8")
SPEC = re.findall(r"```rebal\n(.*?)```", TEXT, re.S)[0]
CONSOLE = re.findall(r"```console\n(.*?)```", TEXT, re.S)


def shown(command: str) -> list[str]:
    """The outputs the tutorial shows after `$ COMMAND`, in order."""
    out = []
    for block in CONSOLE:
        lines = block.splitlines()
        if lines and lines[0] == f"$ {command}":
            out.append("\n".join(lines[1:]).rstrip())
    return out


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check", "first.rebal"])
    return code, capsys.readouterr().out.rstrip()


def test_the_first_two_checks_print_what_the_tutorial_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = shown("rebal check first.rebal")
    assert len(expected) >= 2
    Path("first.rebal").write_text(SPEC, encoding="utf-8")
    code, out = check(capsys)
    assert (code, out) == (1, expected[0])
    Path("first.rebal").write_text(SPEC.replace("hedge wth PERP", "hedge with PERP"),
                                   encoding="utf-8")
    code, out = check(capsys)
    assert (code, out) == (1, expected[1])
