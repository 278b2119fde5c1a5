"""Validation rules: a tuple of small functions, one concern each, returning diagnostics.

Each rule receives a :class:`RuleContext` (the IR, the side map of spans, the policy and the
backends' capabilities) and yields diagnostics. Rules never raise and never print.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rebal.dsl.diagnostics import Diagnostic, Span, make

from .. import ir
from ..capabilities import Capabilities

if TYPE_CHECKING:
    from ..strategy import Lowered


@dataclass(frozen=True)
class RuleContext:
    strategy: ir.Strategy
    lowered: Lowered
    file: str
    policy: ir.Policy | None
    capabilities: Mapping[str, Capabilities] | None
    allow_paths: tuple[str, ...] = ()  # folders outside the spec's own it may read data from

    def span(self, *keys: str) -> Span:
        """The span of the first key found in the side map, else the strategy name."""
        for k in keys:
            s = self.lowered.spans.get(k)
            if s is not None:
                return s
        return self.lowered.spans["strategy"]


Rule = Callable[[RuleContext], Iterable[Diagnostic]]


def all_rules() -> tuple[Rule, ...]:
    from . import checks

    return checks.RULES


def run_rules(cx: RuleContext) -> list[Diagnostic]:
    """Every rule's findings; a rule that fails is reported as I999 and the others still run."""
    out: list[Diagnostic] = []
    for rule in all_rules():
        try:
            out.extend(rule(cx))
        except Exception as exc:  # a bug in a rule must not hide the other findings
            name = getattr(rule, "__name__", "?")
            out.append(make("I999", f"rebal failed in check `{name}` ({type(exc).__name__}: "
                            f"{exc}); this is a bug in rebal, please report it",
                            cx.span("strategy"), "the other checks ran; this one did not"))
    return out
