"""Guards for the architecture in docs/architecture.md, checked from the source, not by hope.

* Imports run one way: backends -> compiler -> dsl; the facade in rebal/ sits on top.
* dsl knows nothing of pydantic, numpy, scipy, ccxt, web3 or jinja2; compiler nothing of
  numpy, scipy, ccxt or web3.
* backends/sim, backends/ccxt, backends/keeper and backends/solver never import each other.
* emulators/ (rebal.emulators) may use the kernel and the sim (for prices) and the compiler
  (to read a spec's sim venue), never ccxt, web3 or another backend; no backend imports it.
* ccxt is imported only under backends/ccxt; web3 and eth_* only under backends/chain,
  backends/keeper and backends/solver, vyper only under backends/chain, so `rebal check`
  starts fast and works without them.
* backends/chain is the EVM layer shared by keeper and solver (like backends/live and
  backends/kernel): it imports no particular backend.
* Every source package is listed in pyproject's [tool.setuptools].packages and every data
  file in a package is shipped as package data.

The import check is a small AST walk (no import-linter): it sees `import x`, `from x import y`
(relative ones resolved against the installed package name: dsl/ is rebal.dsl, and so on),
and literal `importlib.import_module("x")` / `__import__("x")` calls, anywhere in a module,
including function bodies and `if TYPE_CHECKING:` blocks.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Source folder -> the import name it installs as (pyproject's package-dir mapping).
SOURCE_ROOTS: dict[str, str] = {
    "rebal": "rebal",
    "dsl": "rebal.dsl",
    "compiler": "rebal.compiler",
    "backends": "rebal.backends",
    "emulators": "rebal.emulators",
    "lsp": "rebal.lsp",
}
LAYERS = ("rebal.dsl", "rebal.compiler", "rebal.backends")
ISOLATED_BACKENDS = tuple(f"rebal.backends.{name}" for name in ("sim", "ccxt", "keeper", "solver"))


@dataclass(frozen=True)
class Import:
    """One imported module, as an absolute dotted name, and where the import is written."""

    importer: str  # module doing the import, e.g. "rebal.compiler.lower"
    path: Path  # its file, relative to the repository root
    line: int
    target: str  # absolute module imported, e.g. "rebal.dsl.parser" or "numpy.linalg"

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.target}"


# --------------------------------------------------------------------------- the walker


def module_name(source_dir: str, prefix: str, file: Path, root: Path) -> str:
    """Installed dotted name of `file` under `root/source_dir` (dsl/a/b.py -> rebal.dsl.a.b)."""
    rel = file.relative_to(root / source_dir).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([prefix, *parts])


def iter_modules(root: Path) -> Iterator[tuple[str, Path, bool]]:
    """(module name, file, is_package) for every .py file under the source folders."""
    for source_dir, prefix in SOURCE_ROOTS.items():
        base = root / source_dir
        if not base.is_dir():
            continue
        for file in sorted(base.rglob("*.py")):
            if "__pycache__" in file.parts:
                continue
            yield module_name(source_dir, prefix, file, root), file, file.name == "__init__.py"


def resolve_relative(package: str, level: int, module: str | None) -> str:
    """Absolute name for `from <level dots><module> import ...` written in `package`."""
    parts = package.split(".")
    if level - 1 >= len(parts):
        raise ValueError(f"relative import beyond the top-level package from {package}")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _literal_import_call(node: ast.Call) -> str | None:
    """The module named by `importlib.import_module("x")`, `import_module("x")`, `__import__("x")`."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in {"import_module", "__import__"} or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def imports_of(
    source: str, importer: str, is_package: bool, known_modules: set[str]
) -> Iterator[tuple[int, str]]:
    """(line, absolute target) for every import written in one module's source."""
    package = importer if is_package else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = resolve_relative(package, node.level, node.module)
            else:
                base = node.module or ""
            for alias in node.names:
                # `from pkg import name` imports the submodule pkg.name when there is one.
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if candidate in known_modules else base
        elif isinstance(node, ast.Call):
            literal = _literal_import_call(node)
            if literal is None:
                continue
            if literal.startswith("."):
                level = len(literal) - len(literal.lstrip("."))
                literal = resolve_relative(package, level, literal.lstrip(".") or None)
            yield node.lineno, literal


def collect_imports(root: Path) -> list[Import]:
    modules = list(iter_modules(root))
    known = {name for name, _, _ in modules}
    found: list[Import] = []
    for name, file, is_package in modules:
        source = file.read_text(encoding="utf-8")
        for line, target in imports_of(source, name, is_package, known):
            found.append(Import(name, file.relative_to(root), line, target))
    return found


# --------------------------------------------------------------------------- the rules


def within(name: str, *prefixes: str) -> bool:
    """True when dotted `name` is one of `prefixes` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def top(name: str) -> str:
    return name.split(".")[0]


def is_facade(target: str) -> bool:
    """rebal itself or rebal.<x> outside the three layers: the public API and the CLI."""
    return within(target, "rebal") and not within(target, *LAYERS)


def is_web3(target: str) -> bool:
    return top(target) == "web3" or top(target).startswith("eth_")


@dataclass(frozen=True)
class Rule:
    name: str
    applies: Callable[[Import], bool]
    forbidden: Callable[[Import], bool]


def _sibling_backend(imp: Import) -> bool:
    own = next(b for b in ISOLATED_BACKENDS if within(imp.importer, b))
    return any(within(imp.target, b) for b in ISOLATED_BACKENDS if b != own)


RULES: tuple[Rule, ...] = (
    Rule(
        "dsl imports nothing of compiler, backends, the rebal facade, pydantic, numpy, "
        "scipy, ccxt, web3 or jinja2",
        lambda i: within(i.importer, "rebal.dsl"),
        lambda i: (
            within(i.target, "rebal.compiler", "rebal.backends")
            or is_facade(i.target)
            or top(i.target) in {"pydantic", "numpy", "scipy", "ccxt", "web3", "jinja2"}
        ),
    ),
    Rule(
        "compiler imports nothing of backends, the rebal facade, numpy, scipy, ccxt or web3",
        lambda i: within(i.importer, "rebal.compiler"),
        lambda i: (
            within(i.target, "rebal.backends")
            or is_facade(i.target)
            or top(i.target) in {"numpy", "scipy", "ccxt", "web3"}
        ),
    ),
    Rule(
        "the language server imports the dsl, the compiler and the backend registry's light "
        "declarations, never a backend or its heavy libraries (numpy, scipy, ccxt, web3)",
        lambda i: within(i.importer, "rebal.lsp"),
        lambda i: (
            (within(i.target, "rebal.backends") and i.target != "rebal.backends.registry")
            or top(i.target) in {"numpy", "scipy", "ccxt", "web3", "jinja2", "pydantic"}
            or is_web3(i.target)
        ),
    ),
    Rule(
        "backends do not import the rebal facade (rebal/ sits on top of every layer)",
        lambda i: within(i.importer, "rebal.backends"),
        lambda i: is_facade(i.target),
    ),
    Rule(
        "backends/sim, ccxt, keeper and solver never import each other "
        "(share code through rebal.backends.kernel or rebal.backends.registry)",
        lambda i: within(i.importer, *ISOLATED_BACKENDS),
        _sibling_backend,
    ),
    Rule(
        "the shared kernel imports no particular backend",
        lambda i: within(i.importer, "rebal.backends.kernel"),
        lambda i: within(i.target, *ISOLATED_BACKENDS),
    ),
    Rule(
        "emulators import only the kernel, the sim and the compiler of rebal, and never "
        "ccxt or web3 (they stand in for the venue a client talks to)",
        lambda i: within(i.importer, "rebal.emulators"),
        lambda i: (
            top(i.target) == "ccxt"
            or is_web3(i.target)
            or (within(i.target, "rebal") and not within(
                i.target, "rebal.emulators", "rebal.backends.kernel", "rebal.backends.sim",
                "rebal.compiler", "rebal.dsl"))
        ),
    ),
    Rule(
        "no backend, compiler or dsl module imports the emulators",
        lambda i: within(i.importer, *LAYERS),
        lambda i: within(i.target, "rebal.emulators"),
    ),
    Rule(
        "the shared chain layer (backends/chain) imports no particular backend",
        lambda i: within(i.importer, "rebal.backends.chain"),
        lambda i: within(i.target, *ISOLATED_BACKENDS),
    ),
    Rule(
        "vyper is imported only under backends/chain",
        lambda i: not within(i.importer, "rebal.backends.chain"),
        lambda i: top(i.target) == "vyper",
    ),
    Rule(
        "ccxt is imported only under backends/ccxt",
        lambda i: not within(i.importer, "rebal.backends.ccxt"),
        lambda i: top(i.target) == "ccxt",
    ),
    Rule(
        "dask and distributed (the rebal[dask] extra) are imported only by "
        "backends/sim/distributed.py",
        lambda i: i.importer != "rebal.backends.sim.distributed",
        lambda i: top(i.target) in {"dask", "distributed"},
    ),
    Rule(
        "web3 and eth_* are imported only under backends/chain, backends/keeper and "
        "backends/solver",
        lambda i: not within(i.importer, "rebal.backends.chain", "rebal.backends.keeper",
                             "rebal.backends.solver"),
        lambda i: is_web3(i.target),
    ),
)


def violations(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for imp in collect_imports(root):
        for rule in RULES:
            if rule.applies(imp) and rule.forbidden(imp):
                found.setdefault(rule.name, []).append(imp.where())
    return found


def _report(found: dict[str, list[str]]) -> str:
    return "\n".join(
        f"{rule}:\n" + "\n".join(f"  {line}" for line in lines) for rule, lines in found.items()
    )


# --------------------------------------------------------------------------- tests


def test_source_imports_follow_the_layers() -> None:
    found = violations(ROOT)
    assert not found, "imports that break docs/architecture.md:\n" + _report(found)


def test_source_tree_is_walked() -> None:
    """The walker finds the real packages, so an empty result above means something."""
    names = {name for name, _, _ in iter_modules(ROOT)}
    assert {"rebal", "rebal.dsl", "rebal.compiler", "rebal.backends"} <= names


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_checker_catches_violations(tmp_path: Path) -> None:
    """The guard itself: a fake tree with one violation of each kind is caught, line by line."""
    _write(
        tmp_path,
        {
            "rebal/__init__.py": "",
            "rebal/cli.py": "",
            "dsl/__init__.py": "from ..compiler import lower\n",
            "dsl/parse.py": "import numpy as np\nfrom . import diag\nfrom rebal import cli\n",
            "dsl/diag.py": "from __future__ import annotations\n",
            "compiler/__init__.py": "",
            "compiler/lower.py": (
                "def f():\n    import scipy.stats\n    from ..backends.sim import x\n"
                "    from ..dsl import parse\n"
            ),
            "backends/__init__.py": "",
            "backends/registry.py": "import importlib\nimportlib.import_module('rebal.backends.sim')\n",
            "backends/kernel/__init__.py": "from ..sim import engine\n",
            "backends/sim/__init__.py": "from .. import ccxt\nfrom ..kernel import plan\n",
            "backends/sim/engine.py": "from rebal.backends.keeper.chain import w\nimport numpy\n",
            "backends/sim/distributed.py": "import distributed\n",
            "backends/sim/runner.py": "def f():\n    from dask import delayed\n",
            "backends/ccxt/__init__.py": "import ccxt.async_support\n",
            "backends/keeper/__init__.py": "from web3 import Web3\nimport eth_account\n",
            "backends/keeper/chain.py": "from ...compiler import lower\n",
            "backends/solver/__init__.py": "__import__('ccxt')\nimportlib.import_module('..sim', 'x')\n",
            "backends/live/__init__.py": "from rebal.emulators import deribit\n",
            "emulators/__init__.py": "import ccxt\nfrom rebal.backends.sim import models\n",
            "emulators/deribit.py": "from rebal.backends.live import adapter\n",
            "backends/chain/__init__.py": "import vyper\nfrom web3 import Web3\nfrom ..keeper import x\n",
            "backends/keeper/deploy.py": "from ..chain import build\nimport vyper\n",
        },
    )
    found = violations(tmp_path)
    flat = {line for lines in found.values() for line in lines}
    expected = {
        "dsl/__init__.py:1: rebal.dsl imports rebal.compiler.lower",
        "dsl/parse.py:1: rebal.dsl.parse imports numpy",
        "dsl/parse.py:3: rebal.dsl.parse imports rebal.cli",
        "compiler/lower.py:2: rebal.compiler.lower imports scipy.stats",
        "compiler/lower.py:3: rebal.compiler.lower imports rebal.backends.sim",
        "backends/kernel/__init__.py:1: rebal.backends.kernel imports rebal.backends.sim.engine",
        "backends/sim/__init__.py:1: rebal.backends.sim imports rebal.backends.ccxt",
        "backends/sim/engine.py:1: rebal.backends.sim.engine imports rebal.backends.keeper.chain",
        "backends/sim/runner.py:2: rebal.backends.sim.runner imports dask",
        "backends/solver/__init__.py:1: rebal.backends.solver imports ccxt",
        "backends/solver/__init__.py:2: rebal.backends.solver imports rebal.backends.sim",
        "backends/live/__init__.py:1: rebal.backends.live imports rebal.emulators.deribit",
        "emulators/__init__.py:1: rebal.emulators imports ccxt",
        "emulators/deribit.py:1: rebal.emulators.deribit imports rebal.backends.live",
        "backends/chain/__init__.py:3: rebal.backends.chain imports rebal.backends.keeper",
        "backends/keeper/deploy.py:2: rebal.backends.keeper.deploy imports vyper",
    }
    assert flat == expected, _report(found)


def test_relative_imports_resolve_against_the_installed_name() -> None:
    assert resolve_relative("rebal.backends.sim", 1, "engine") == "rebal.backends.sim.engine"
    assert resolve_relative("rebal.backends.sim", 2, "kernel") == "rebal.backends.kernel"
    assert resolve_relative("rebal.backends.sim", 3, "compiler") == "rebal.compiler"
    assert resolve_relative("rebal.dsl", 1, None) == "rebal.dsl"
    with pytest.raises(ValueError):
        resolve_relative("rebal.dsl", 3, "x")


# --------------------------------------------------------------------------- packaging lists


def _setuptools_config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        config: dict[str, Any] = tomllib.load(fh)["tool"]["setuptools"]
    return config


def _source_packages() -> dict[str, Path]:
    """Installed package name -> folder, for every folder holding an __init__.py."""
    return {name: file.parent for name, file, is_pkg in iter_modules(ROOT) if is_pkg}


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(_setuptools_config()["packages"])
    found = _source_packages()
    missing = sorted(set(found) - listed)
    assert not missing, (
        "packages with an __init__.py but missing from [tool.setuptools].packages in "
        f"pyproject.toml (they would be left out of the wheel): {missing}"
    )
    stale = sorted(listed - set(found))
    assert not stale, f"[tool.setuptools].packages lists packages with no __init__.py: {stale}"


def test_package_data_files_are_shipped() -> None:
    """Non-Python files inside a package (grammar, templates) match a package-data glob."""
    config = _setuptools_config()
    package_dir: dict[str, str] = config["package-dir"]
    package_data: dict[str, list[str]] = config.get("package-data", {})

    def folder(package: str) -> Path:
        # The longest mapped prefix decides, as setuptools does.
        parts = package.split(".")
        for cut in range(len(parts), 0, -1):
            mapped = package_dir.get(".".join(parts[:cut]))
            if mapped is not None:
                return ROOT.joinpath(mapped, *parts[cut:])
        return ROOT.joinpath(*parts)

    shipped: set[Path] = set()
    for package, patterns in package_data.items():
        base = folder(package)
        for pattern in patterns:
            shipped.update(Path(p).resolve() for p in glob.glob(str(base / pattern)))

    unshipped = []
    for pkg_dir in _source_packages().values():
        for file in pkg_dir.iterdir():
            if file.suffix in {".py", ".pyc"} or not file.is_file():
                continue
            if file.resolve() not in shipped:
                unshipped.append(str(file.relative_to(ROOT)))
    assert not unshipped, (
        "files inside packages that [tool.setuptools.package-data] does not ship "
        f"(add a glob for them, or move them out of the package): {sorted(unshipped)}"
    )


# --------------------------------------------------------------------------- the check path

HEAVY = ("numpy", "scipy", "ccxt", "web3", "vyper", "dask", "distributed")

_PROBE = """
import importlib.abc, json, sys

HEAVY = set(sys.argv[2].split(","))
attempted = []

def heavy(name):
    top = name.split(".")[0]
    return top in HEAVY or top.startswith("eth_")

class Recorder(importlib.abc.MetaPathFinder):
    # Records attempts even for packages that are not installed, then lets the import go on.
    def find_spec(self, name, path=None, target=None):
        if heavy(name):
            attempted.append(name.split(".")[0])
        return None

sys.meta_path.insert(0, Recorder())
import rebal.cli

try:
    rc = rebal.cli.main(json.loads(sys.argv[1]))
except SystemExit as exc:
    rc = exc.code
loaded = sorted({k.split(".")[0] for k in sys.modules if heavy(k)})
sys.stdout.flush()
sys.stderr.write("\\n@@PROBE@@" + json.dumps({"rc": rc, "attempted": sorted(set(attempted)), "loaded": loaded}) + "\\n")
"""


@pytest.mark.parametrize("extra", [[], ["--markets", "tests/fixtures/markets/deribit.json"]],
                         ids=["check", "check-markets"])
def test_check_path_imports_no_heavy_dependencies(extra: list[str]) -> None:
    """`rebal check` works without numpy, scipy, ccxt, web3, dask: it must not even try to
    import them.
    With `--markets` (the offline venue check) it still never imports ccxt."""
    spec = ROOT / "specs" / "eth_straddle_hedge.rebal"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(["check", str(spec), *extra]), ",".join(HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    shown = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "@@PROBE@@" in proc.stderr, f"probe did not finish (exit {proc.returncode})\n{shown}"
    result = json.loads(proc.stderr.rsplit("@@PROBE@@", 1)[1])
    assert result["rc"] in (0, None), f"rebal check {spec.name} exited {result['rc']}\n{shown}"
    assert result["attempted"] == [] and result["loaded"] == [], (
        "the `rebal check` path imports heavy dependencies; import them lazily inside the "
        f"backend that needs them: {result}"
    )


def test_language_server_rule_catches_backend_imports(tmp_path: Path) -> None:
    """rebal.lsp may use the registry's declarations, never a backend or numpy."""
    _write(tmp_path, {
        "rebal/__init__.py": "",
        "backends/__init__.py": "",
        "backends/registry.py": "",
        "backends/sim/__init__.py": "",
        "lsp/__init__.py": "",
        "lsp/server.py": ("from rebal.backends import registry\nfrom ..dsl import fmt\n"
                          "import numpy\nfrom rebal.backends.sim import engine\n"),
        "dsl/__init__.py": "",
        "dsl/fmt.py": "",
    })
    flat = {line for lines in violations(tmp_path).values() for line in lines}
    assert flat == {"lsp/server.py:3: rebal.lsp.server imports numpy",
                    "lsp/server.py:4: rebal.lsp.server imports rebal.backends.sim"}


def test_plain_simulate_path_never_imports_dask(tmp_path: Path) -> None:
    """`rebal simulate` without --cluster runs in process: dask and distributed (the
    rebal[dask] extra) are not even looked for."""
    text = (ROOT / "specs" / "eth_gamma_band.rebal").read_text(encoding="utf-8")
    spec = tmp_path / "short.rebal"
    spec.write_text(text.replace("horizon 60d step 1h", "horizon 6h step 1h"), encoding="utf-8")
    args = ["simulate", str(spec), "--venue", "paper", "--paths", "3", "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), "dask,distributed"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    shown = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "@@PROBE@@" in proc.stderr, f"probe did not finish (exit {proc.returncode})\n{shown}"
    result = json.loads(proc.stderr.rsplit("@@PROBE@@", 1)[1])
    assert result["rc"] in (0, None) and '"steps": 6' in proc.stdout, shown
    assert result["attempted"] == [] and result["loaded"] == [], (
        f"the plain simulate path imports dask; import it only for --cluster: {result}")
