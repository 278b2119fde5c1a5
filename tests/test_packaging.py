"""The wheel works outside the source tree: build it, install it in a fresh venv, run it.

This catches what an editable install hides: a package missing from pyproject's package
list, a grammar or template not shipped as package data, code that reads files relative to
the repository. The wheel is built from a copy of the source tree so the build does not
write into the work tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "eth_straddle_hedge.rebal"
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "node_modules",
    "out",
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(
    args: list[str | Path], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
    )
    return proc


def _shown(proc: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(proc.args)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORE, symlinks=True)

    # 1. Build the wheel (pip's isolated build of setuptools, no dependencies).
    wheels = tmp_path / "wheels"
    proc = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, "."],
        cwd=source,
    )
    assert proc.returncode == 0, _shown(proc)
    (wheel,) = wheels.glob("rebal-*.whl")

    # Every source package is in it.
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for package in ("rebal", "rebal/dsl", "rebal/compiler", "rebal/backends"):
        assert f"{package}/__init__.py" in names, f"{package} missing from {wheel.name}"

    # 2. A fresh venv; pip from this interpreter installs into it (`pip --python`), which
    #    saves seeding pip into the new venv.
    venv = tmp_path / "venv"
    proc = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    assert proc.returncode == 0, _shown(proc)
    python = venv / "bin" / "python"
    proc = _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", wheel],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, _shown(proc)

    # 3. Use it from a folder that has nothing of the source tree in it.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    spec = outside / SPEC.name
    spec.write_text(SPEC.read_text(encoding="utf-8"), encoding="utf-8")

    proc = _run(
        [
            python,
            "-c",
            (
                "import json, rebal, rebal.dsl, rebal.compiler, rebal.backends\n"
                "mods = (rebal, rebal.dsl, rebal.compiler, rebal.backends)\n"
                "print(json.dumps([m.__file__ for m in mods]))"
            ),
        ],
        cwd=outside,
    )
    assert proc.returncode == 0, _shown(proc)
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=outside
        ).stdout.strip()
    ).resolve()
    for file in json.loads(proc.stdout):
        resolved = Path(file).resolve()
        assert resolved.is_relative_to(site), f"{file} is not in the venv's {site}"
        assert not resolved.is_relative_to(ROOT), f"{file} comes from the source tree"

    proc = _run([venv / "bin" / "rebal", "check", spec.name], cwd=outside)
    assert proc.returncode == 0, _shown(proc)

    proc = _run([python, "-m", "rebal", "--help"], cwd=outside)
    assert proc.returncode == 0, _shown(proc)
    assert "check" in proc.stdout, _shown(proc)
