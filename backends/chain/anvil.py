"""Starting and stopping a local anvil node (tests, the demo, `rebal keeper deploy --local`).

The binary is the pinned npm package's (``make setup`` installs it in
``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil``); ``$REBAL_ANVIL`` overrides the path.
Anvil listens on 127.0.0.1 only, on a free port, and its well-known development accounts
(the ``test test ... junk`` mnemonic) are funded: they are public test keys, never real ones.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

__all__ = ["DEV_KEYS", "Anvil", "AnvilError", "anvil_binary", "free_port"]

_NPM_BIN = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")

#: The first development accounts' private keys of anvil's default mnemonic (public test keys).
DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
)


class AnvilError(Exception):
    """anvil is missing or did not start."""


def anvil_binary() -> Path:
    """The anvil executable: ``$REBAL_ANVIL``, the repository's node_modules, or PATH."""
    override = os.environ.get("REBAL_ANVIL")
    if override:
        return Path(override)
    here = Path(__file__).resolve()
    for base in (Path.cwd(), *here.parents):
        candidate = base / _NPM_BIN
        if candidate.is_file():
            return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise AnvilError("anvil not found: run `make setup` (it installs @foundry-rs/anvil from "
                     "npm) or set REBAL_ANVIL to the binary")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """One anvil process on 127.0.0.1; a context manager (``with Anvil() as node: node.url``)."""

    def __init__(self, *, chain_id: int = 31337, block_time: float | None = None,
                 base_fee_wei: int | None = None, extra: tuple[str, ...] = ()) -> None:
        self.chain_id = chain_id
        self.block_time = block_time
        self.base_fee_wei = base_fee_wei
        self.extra = extra
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> Anvil:
        binary = anvil_binary()
        last = ""
        for _ in range(3):  # a port taken between free_port() and bind: try another
            self.port = free_port()
            args = [str(binary), "--host", "127.0.0.1", "--port", str(self.port),
                    "--chain-id", str(self.chain_id), "--silent", "--accounts", "10",
                    *self.extra]
            if self.block_time is not None:
                args += ["--block-time", str(self.block_time)]
            if self.base_fee_wei is not None:
                args += ["--block-base-fee-per-gas", str(self.base_fee_wei)]
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready(timeout_s):
                return self
            last = self._stop_and_read()
        raise AnvilError(f"anvil did not start: {last.strip()[:300]}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            req = urllib.request.Request(self.url, data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=1.0) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        return False

    def _stop_and_read(self) -> str:
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        return err

    def stop(self) -> None:
        self._stop_and_read()

    def __enter__(self) -> Anvil:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
