"""The registry of validation rules, in the order they run."""

from __future__ import annotations

from . import Rule

RULES: tuple[Rule, ...] = ()
