"""The pre-commit hooks in .pre-commit-hooks.yaml, run by pre-commit (pinned in the dev
extras) against a temporary git repository of specs, offline.

The hooks repository is a temporary git repository holding this checkout's
.pre-commit-hooks.yaml, cloned by pre-commit from a local path. Network access is cut off
for every run: git may only use file:// repositories, pip has no index, HTTP(S) goes to a
closed port, and where the system allows it the run is inside a user namespace with no
network at all (`unshare -rn`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SPECS = ROOT / "specs"


@cache
def _no_network_prefix() -> tuple[str, ...]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return (unshare, "-rn")
    return ()


def offline_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRE_COMMIT", "GIT_"))}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(home / "cache"),
        "HOME": str(home),
        "GIT_ALLOW_PROTOCOL": "file",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PIP_NO_INDEX": "1",
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
        "no_proxy": "", "NO_PROXY": "",
    })
    return env


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def pre_commit(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_no_network_prefix(), str(BIN / "pre-commit"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_hooks_check_and_format_specs_offline(tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    git(hooks, env, "init", "-q")
    git(hooks, env, "add", "-A")
    git(hooks, env, "commit", "-qm", "hooks")
    rev = git(hooks, env, "rev-parse", "HEAD")

    repo = tmp_path / "specs"
    repo.mkdir()
    git(repo, env, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hooks.as_uri()}\n  rev: {rev}\n"
        "  hooks:\n  - id: rebal-fmt\n  - id: rebal-check\n", encoding="utf-8")
    good = (SPECS / "eth_gamma_band.rebal").read_text(encoding="utf-8")
    (repo / "good.rebal").write_text(good, encoding="utf-8")
    messy = good.replace("    every 4h\n", "      every   4h\n")
    (repo / "messy.rebal").write_text(messy, encoding="utf-8")
    (repo / "bad.rebal").write_text(good.replace("max slippage 25 bps", "max slippage 25 ETH"),
                                    encoding="utf-8")
    (repo / "notes.txt").write_text("not a spec: max slippage 25 ETH\n", encoding="utf-8")
    git(repo, env, "add", "-A")

    first = pre_commit(repo, env, "run", "--all-files")
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    assert "rebal fmt" in out and "files were modified by this hook" in out
    assert "reformatted messy.rebal" in out
    assert (repo / "messy.rebal").read_text(encoding="utf-8") == good  # fmt rewrote it
    assert "error[E301]" in out and "bad.rebal:" in out and "notes.txt" not in out

    # Fixed: both hooks pass, and `git commit` through the installed hook goes through.
    (repo / "bad.rebal").write_text(good, encoding="utf-8")
    git(repo, env, "add", "-A")
    second = pre_commit(repo, env, "run", "--all-files")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("Passed") == 2

    assert pre_commit(repo, env, "install").returncode == 0
    git(repo, env, "commit", "-qm", "specs")
    (repo / "new.rebal").write_text(good.replace("horizon 60d", "horizon 60 ETH"), encoding="utf-8")
    git(repo, env, "add", "new.rebal")
    refused = subprocess.run([*_no_network_prefix(), "git", "-c", "user.name=t", "-c",
                              "user.email=t@example.com", "commit", "-qm", "bad spec"],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "new.rebal" in refused.stdout + refused.stderr
