"""House style as tests: ruff clean everywhere, `mypy --strict` clean on dsl, compiler and
the decision kernel (backends/kernel).

mypy and the package-dir mapping: dsl/ installs as rebal.dsl, compiler/ as rebal.compiler.
The editable install (`pip install -e .`) maps them with an import hook that mypy cannot
see, and `mypy dsl compiler` would name the modules dsl.* / compiler.*, so the strict
overrides for rebal.dsl.* / rebal.compiler.* in pyproject.toml would not apply. So mypy runs
on the package names (`-p rebal.dsl -p rebal.compiler`) over a tree of symlinks laid out as
the installed package (rebal/ with dsl, compiler and backends linked in), put on MYPYPATH.
`make lint` does the same with build/typecheck.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUFF_PATHS = ("dsl", "compiler", "backends", "rebal", "tests", "benchmarks")
LAYER_DIRS = {"dsl": "dsl", "compiler": "compiler", "backends": "backends"}


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def _shown(proc: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(proc.args)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def test_ruff_check() -> None:
    paths = [p for p in RUFF_PATHS if (ROOT / p).exists()]
    proc = _run([sys.executable, "-m", "ruff", "check", "--no-cache", *paths])
    assert proc.returncode == 0, _shown(proc)


def typecheck_tree(dest: Path) -> Path:
    """Lay out dest/rebal as the installed package, by symlinks into the source tree."""
    package = dest / "rebal"
    package.mkdir(parents=True)
    for entry in (ROOT / "rebal").iterdir():
        if entry.name != "__pycache__" and entry.name not in LAYER_DIRS:
            (package / entry.name).symlink_to(entry)
    for name, source in LAYER_DIRS.items():
        (package / name).symlink_to(ROOT / source, target_is_directory=True)
    return dest


def test_mypy_strict_on_dsl_and_compiler(tmp_path: Path) -> None:
    tree = typecheck_tree(tmp_path / "typecheck")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MYPYPATH"] = str(tree)
    proc = _run(
        # A cache of its own: mypy replays cached findings with the paths they were first
        # reported under, and this tree's path changes every run (cold runs take seconds).
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            "-p",
            "rebal.dsl",
            "-p",
            "rebal.compiler",
            "-p",
            "rebal.backends.kernel",
        ],
        env=env,
    )
    # Point findings at the real files: <tree>/rebal/dsl/x.py -> dsl/x.py.
    for name, source in LAYER_DIRS.items():
        proc.stdout = proc.stdout.replace(f"{tree}/rebal/{name}/", f"{source}/")
    assert proc.returncode == 0, _shown(proc)
    assert "Success" in proc.stdout, _shown(proc)
