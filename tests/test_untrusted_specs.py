"""Specs from strangers (issue 13): what `rebal check`/`simulate`/`explain` do with hostile or
careless specs, seen as a user sees it: exit code, message, no file content, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rebal.cli import main

ROOT = Path(__file__).resolve().parent.parent
SECRET = "daemon:x:1:1:TOP-SECRET-LINE"


def spec(venue_lines: str, *, description: str = "a hedge", horizon: str = "2h",
         step: str = "1h", paths: int = 4) -> str:
    return f'''strategy hedge {{
  description "{description}"
  instruments {{
    ETH spot ETH
  }}
  owns ETH
  target delta 0 ETH {{
    band 1 ETH
    hedge with ETH
  }}
  trigger {{ on breach }}
  costs {{ max slippage 20 bps }}
  venue paper via sim {{
    ETH spot 3000 USD vol 60%
{venue_lines}
    horizon {horizon}
    step {step}
    paths {paths}
  }}
}}
'''


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err and "I999" not in cap.out + cap.err
    return rc, cap.out, cap.err


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder with a secret that is not a CSV, beside the spec's folder."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "passwd").write_text(f"root:x:0:0:root\n{SECRET}\n", encoding="utf-8")
    return d


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    return d


def test_absolute_replay_path_is_refused_by_check_and_simulate(
        capsys: pytest.CaptureFixture[str], spec_dir: Path, outside: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec(f'    model replay "{outside / "passwd"}"'), encoding="utf-8")
    rc, out, _ = cli(capsys, "check", str(f))
    assert rc == 1 and "E407" in out and "absolute path" in out and "s.rebal:15:5" in out
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper")
    assert rc == 1 and "E407" in err and out == ""
    assert SECRET not in out + err


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_paths_escaping_the_spec_folder_are_refused_unless_allowed(
        capsys: pytest.CaptureFixture[str], spec_dir: Path, outside: Path, how: str) -> None:
    if how == "dotdot":
        raw = "../outside/passwd"
    else:
        (spec_dir / "data.csv").symlink_to(outside / "passwd")
        raw = "data.csv"
    f = spec_dir / "s.rebal"
    f.write_text(spec(f'    model replay "{raw}"'), encoding="utf-8")
    rc, out, _ = cli(capsys, "check", str(f))
    assert rc == 1 and "E407" in out
    assert ("`..`" if how == "dotdot" else "symlink") in out
    # The operator allows the folder: the file is read, and its content never shown.
    rc, out, _ = cli(capsys, "check", "--allow-path", str(outside), str(f))
    assert rc == 0, out
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper",
                       "--allow-path", str(outside))
    assert rc == 1 and out == ""
    assert "passwd: row 2 has 1 column; a candle has 6" in err
    assert SECRET not in err and "root" not in err


def test_csv_errors_name_row_and_column_not_content(
        capsys: pytest.CaptureFixture[str], spec_dir: Path) -> None:
    (spec_dir / "c.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        "1700000000000,1,1,1,3000,5\n"
        "1700003600000,1,1,1,SECRET-CLOSE,5\n", encoding="utf-8")
    f = spec_dir / "s.rebal"
    f.write_text(spec('    model replay "c.csv"'), encoding="utf-8")
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper")
    assert rc == 1 and out == "" and "c.csv: row 3, column 5 (close): not a number" in err
    assert "SECRET" not in err
    (spec_dir / "c.csv").write_text(
        "1700000000000,1,1,1,3000,5\n1700000000000,1,1,1,3001,5\n", encoding="utf-8")
    rc, _, err = cli(capsys, "simulate", str(f), "--venue", "paper")
    assert rc == 1 and "c.csv: row 2, column 1 (timestamp): timestamps must be strictly" in err
    (spec_dir / "c.csv").write_bytes(b"\xff\xfe\x00binary")
    rc, _, err = cli(capsys, "simulate", str(f), "--venue", "paper")
    assert rc == 1 and "not UTF-8 text" in err


def test_a_replay_in_the_spec_folder_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = cli(capsys, "simulate", str(ROOT / "specs" / "eth_replay_backtest.rebal"),
                       "--venue", "replay", "--paths", "2", "--format", "json")
    assert rc == 0, err


ESC = "\x1b[2J\x1b[31mFAKE\x07"


def test_explain_and_simulate_show_control_characters_visibly(
        capsys: pytest.CaptureFixture[str], spec_dir: Path, tmp_path: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec("", description=f"ok{ESC}"), encoding="utf-8")
    rc, out, err = cli(capsys, "explain", str(f))
    assert rc == 0, err
    assert "\x1b" not in out and "\x07" not in out and "ok\u241b[2J\u241b[31mFAKE\u2407" in out
    report = tmp_path / "r.html"
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper", "--report", str(report))
    assert rc == 0, err
    assert "\x1b" not in out + err
    assert "\x1b" not in report.read_text(encoding="utf-8")


def test_check_text_already_shows_them(capsys: pytest.CaptureFixture[str], spec_dir: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec('    model replay "/x\x1b[31m.csv"'), encoding="utf-8")
    rc, out, _ = cli(capsys, "check", str(f))
    assert rc == 1 and "\x1b" not in out and "\u241b" in out


def test_a_run_that_cannot_fit_is_refused_before_allocating(
        capsys: pytest.CaptureFixture[str], spec_dir: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec("", paths=1_000_000_000), encoding="utf-8")
    rc, out, _ = cli(capsys, "check", str(f))
    assert rc == 0 and "W908" in out and "needs about" in out and "more than this machine has free" in out and "s.rebal:18:5" in out
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper")
    assert rc == 1 and out == ""
    assert "needs about" in err and "TB of memory" in err and "free" in err
    assert "--paths" in err


def test_max_seconds_stops_a_runaway_run(capsys: pytest.CaptureFixture[str],
                                         spec_dir: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec("", horizon="100y", step="1s", paths=1), encoding="utf-8")
    started = time.monotonic()
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper", "--max-seconds", "0.3")
    assert rc == 1 and out == ""
    assert "3,153,600,000 steps: about" in err  # the estimate, up front
    assert "stopped after" in err and "(--max-seconds)" in err
    assert time.monotonic() - started < 60
    rc, _, err = cli(capsys, "simulate", str(f), "--venue", "paper", "--max-seconds", "0")
    assert rc == 2 and "--max-seconds must be positive" in err


def test_sigterm_stops_cleanly_without_half_written_output(spec_dir: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec("", horizon="100y", step="1s", paths=1), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rebal", "simulate", str(f), "--venue", "paper"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the estimate: the run has started
    assert "steps: about" in first
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert out == "" and "stopped by SIGTERM" in err and "Traceback" not in err
    assert sorted(p.name for p in spec_dir.iterdir()) == ["s.rebal"]


def test_a_report_that_cannot_fit_says_what_to_drop(capsys: pytest.CaptureFixture[str],
                                                    spec_dir: Path) -> None:
    f = spec_dir / "s.rebal"
    f.write_text(spec("", horizon="100y", step="1s", paths=1), encoding="utf-8")
    rc, out, err = cli(capsys, "simulate", str(f), "--venue", "paper", "--report",
                       str(spec_dir / "r.html"))
    assert rc == 1 and out == "" and "drop --report" in err
    assert not (spec_dir / "r.html").exists()


def test_model_parameters_are_refused_at_check_time(capsys: pytest.CaptureFixture[str],
                                                    spec_dir: Path) -> None:
    f = spec_dir / "s.rebal"
    text = spec("    model jump").replace(
        "vol 60%", "vol 60% jumps 50 per 1y size -100%")
    f.write_text(text, encoding="utf-8")
    rc, out, _ = cli(capsys, "check", str(f))
    assert rc == 1 and "E408" in out and "s.rebal:14:31" in out
