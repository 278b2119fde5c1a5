"""Command modules of the `rebal` command line beyond the core ones in :mod:`rebal.cli`.

Each module here defines ``register(sub)``, which adds its sub-commands to the argparse
sub-parsers and sets ``handler=fn(args, out, err) -> int`` on each of them with
``set_defaults``. Modules must stay light at import (argparse only): heavy libraries are
imported inside the handlers, so `rebal check` keeps its fast start. One module per group of
commands (`live.py`: plan/apply/run/status/resume, `emulate.py`, ...), found by name, so adding
a command never edits a shared list.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["modules"]


def modules() -> list[ModuleType]:
    """Every command module in this package, in name order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{n}") for n in names]
