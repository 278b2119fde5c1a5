"""The rebal compiler: lowering to a typed, versioned IR, and validation rules."""

from __future__ import annotations

from .api import CheckResult, check_file, check_source, compile_file, compile_text, load_policy
from .ir import IR_VERSION

__all__ = [
    "IR_VERSION",
    "CheckResult",
    "check_file",
    "check_source",
    "compile_file",
    "compile_text",
    "load_policy",
]
