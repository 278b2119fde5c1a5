"""The compiler's entry points: text or file in, IR and diagnostics out."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rebal.dsl import ast
from rebal.dsl.diagnostics import Diagnostic, Sink, Span, make
from rebal.dsl.parser import parse

from . import ir
from .capabilities import Capabilities
from .policy import lower_policy
from .rules import RuleContext, run_rules
from .strategy import BUILTIN_BACKENDS, Lowered, lower_strategy


@dataclass
class CheckResult:
    """Everything `rebal check` learns about one file."""

    file: str
    source: str
    strategies: list[ir.Strategy] = field(default_factory=list)
    policies: list[ir.Policy] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lowered: list[Lowered] = field(default_factory=list)
    #: The syntax tree (None when the file could not be parsed), for editors' outlines.
    tree: ast.SpecFile | None = None

    @property
    def ok(self) -> bool:
        return not any(d.severity.value == "error" for d in self.diagnostics)


def check_source(
    text: str | bytes,
    file: str = "<input>",
    *,
    policy: ir.Policy | None = None,
    capabilities: Mapping[str, Capabilities] | None = None,
    allow_paths: Sequence[str | Path] = (),
) -> CheckResult:
    """Parse, lower and validate one file; every problem found is in ``diagnostics``.

    ``allow_paths``: folders besides the spec's own that its data files may be read from.
    """
    tree, diags = parse(text, file)
    src = text if isinstance(text, str) else text.decode("utf-8", "replace")
    res = CheckResult(file, src, diagnostics=list(diags), tree=tree)
    if tree is None or any(d.severity.value == "error" for d in diags):
        # A tree built around a syntax-level error holds placeholders (a bad number reads
        # as 1, a bad date as 1970-01-01); checking it further would only add false findings.
        return res
    backends: Collection[str] = capabilities if capabilities is not None else BUILTIN_BACKENDS
    for s in tree.strategies:
        sink = Sink()
        low = lower_strategy(s, sink, backends)
        res.lowered.append(low)
        if low.ir is not None:
            sink.extend(run_rules(RuleContext(low.ir, low, file, policy, capabilities,
                                               tuple(str(a) for a in allow_paths))))
            res.strategies.append(low.ir)
        res.diagnostics.extend(sink.items)
    for p in tree.policies:
        sink = Sink()
        pir, _ = lower_policy(p, sink)
        if pir is not None:
            res.policies.append(pir)
        res.diagnostics.extend(sink.items)
    if not tree.strategies and not tree.policies:
        res.diagnostics.append(make(
            "E208", "the file declares no strategy and no policy", Span.point(file, 1, 1),
            "start with `strategy NAME { ... }` or `policy NAME { ... }`"))
    res.diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
    return res


def check_file(path: str | Path, **kw: object) -> CheckResult:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        res = CheckResult(str(path), "")
        res.diagnostics.append(make("E100", f"cannot read the file: {exc.strerror or exc}",
                                    Span.point(str(path), 1, 1), "check the path"))
        return res
    return check_source(data, str(path), **kw)  # type: ignore[arg-type]


def compile_text(text: str, file: str = "<input>") -> tuple[ir.Strategy | None, list[Diagnostic]]:
    """The first strategy of ``text`` (None when it has errors) and all diagnostics."""
    res = check_source(text, file)
    return (res.strategies[0] if res.strategies and res.ok else None), res.diagnostics


def compile_file(path: str | Path) -> tuple[ir.Strategy | None, list[Diagnostic]]:
    res = check_file(path)
    return (res.strategies[0] if res.strategies and res.ok else None), res.diagnostics


def policy_of(res: CheckResult) -> ir.Policy | None:
    """The policy of a checked file, or None (a clean file without one gets P704)."""
    if res.ok and not res.policies:
        res.diagnostics.append(make("P704", "this file holds no policy", Span.point(res.file, 1, 1),
                                    "a policy file starts with `policy NAME { ... }`"))
    return res.policies[0] if res.policies and res.ok else None


def load_policy(path: str | Path) -> tuple[ir.Policy | None, list[Diagnostic]]:
    res = check_file(path)
    return policy_of(res), res.diagnostics


__all__ = ["CheckResult", "ast", "check_file", "check_source", "compile_file", "compile_text",
           "load_policy", "policy_of"]
