"""The registry of validation rules, in the order they run."""

from __future__ import annotations

from . import (
    Rule,
    capability_rules,
    names,
    policy_rules,
    risk,
    sim_venues,
    targets,
    venue_secrets,
    warnings,
)

RULES: tuple[Rule, ...] = (
    *names.RULES,
    *targets.RULES,
    *risk.RULES,
    *policy_rules.RULES,
    *capability_rules.RULES,
    *venue_secrets.RULES,
    *sim_venues.RULES,
    *warnings.RULES,
)
