"""Diagnostics as frozen data: spans, severities, and the closed registry of codes.

Rendering lives in :mod:`rebal.dsl.render` (text, concise) and
:mod:`rebal.dsl.render_machine` (JSON, SARIF); only the CLI prints. Every code that any layer
may emit is registered here with a one-line summary and a docs anchor, so the catalogue in
``docs/diagnostics.md`` and the SARIF rule list are generated from one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is. Errors fail `rebal check`; warnings do not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file, 1-based lines and columns, end exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(file: str, line: int, col: int) -> Span:
        return Span(file, line, col, line, col + 1)


@dataclass(frozen=True, slots=True)
class Label:
    """A secondary location shown with a short message (e.g. 'opened here')."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding. Frozen: rules build them, renderers read them."""

    code: str
    severity: Severity
    message: str
    span: Span | None
    help: str | None = None
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Registry entry: the stable identity of a diagnostic code."""

    code: str
    name: str
    severity: Severity
    summary: str


def _c(code: str, name: str, summary: str) -> CodeInfo:
    sev = {"E": Severity.ERROR, "W": Severity.WARNING, "P": Severity.ERROR, "I": Severity.ERROR}[
        code[0]
    ]
    return CodeInfo(code, name, sev, summary)


#: The closed registry. Codes are stable: never renumber, only add.
CODES: dict[str, CodeInfo] = {
    c.code: c
    for c in (
        # E1xx: reading the file and syntax
        _c("E100", "unreadable-file", "The file cannot be read or is not UTF-8 text."),
        _c("E101", "syntax-error", "The text does not follow the rebal grammar."),
        _c("E102", "unknown-keyword", "A word is not a keyword here; probably misspelled."),
        _c("E103", "unclosed-brace", "A `{` is never closed."),
        _c("E104", "unexpected-end", "The file ends in the middle of a statement."),
        _c("E105", "invalid-character", "A character that rebal does not use."),
        _c("E106", "unterminated-string", "A string is missing its closing quote."),
        _c("E107", "nesting-too-deep", "Expressions are nested too deeply to check."),
        _c("E108", "file-too-large", "The file is larger than rebal accepts."),
        _c("E109", "bad-date", "A date is not a valid calendar date."),
        _c("E110", "bad-number", "A number cannot be read."),
        # E2xx: names
        _c("E201", "undefined-name", "A name is used but never declared."),
        _c("E202", "duplicate-name", "A name is declared twice."),
        _c("E203", "owned-not-mapped", "An owned instrument is not mapped by a venue."),
        _c("E204", "book-and-owned", "An instrument is both in the book and owned."),
        _c("E205", "unknown-backend", "A venue names a backend that is not installed."),
        _c("E206", "duplicate-clause", "A clause that may appear once appears twice."),
        _c("E207", "misplaced-clause", "A clause is not allowed in this block."),
        _c("E208", "missing-clause", "A required clause is missing."),
        _c("E209", "unknown-function", "A function that rebal does not define."),
        _c("E210", "wrong-arguments", "A function is called with the wrong arguments."),
        _c("E211", "not-traded", "A hedge instrument is not owned, so it cannot be traded."),
        _c("E212", "unmapped-instrument", "A venue does not map an instrument the strategy uses."),
        # E3xx: units and dimensions
        _c("E301", "unit-mismatch", "A quantity has the wrong dimension for where it is used."),
        _c("E302", "unknown-unit", "A unit that is neither a keyword unit nor a declared asset."),
        _c("E303", "incompatible-assets", "Quantities in different assets are combined without a price."),
        _c("E304", "bad-condition", "A condition is not a comparison, or a comparison is used as a value."),
        # E4xx: values and ranges
        _c("E401", "out-of-range", "A value is outside the range that makes sense."),
        _c("E402", "band-can-vanish", "A band expression can reach zero or go negative."),
        _c("E403", "clamp-inverted", "clamp(x, lo, hi) with lo above hi."),
        _c("E404", "trigger-can-vanish", "A time trigger can reach zero."),
        _c("E405", "division-by-zero", "A divisor's range contains zero."),
        _c("E406", "expired-instrument", "An instrument expires before the simulation starts."),
        # E407-E409, W908: what a sim venue's run would refuse (specs from strangers)
        _c("E407", "data-path-refused", "A data file outside the spec's folder and every allowed folder."),
        _c("E408", "model-parameter-refused", "A market-model parameter the model cannot simulate."),
        _c("E409", "impossible-correlations", "Correlations that cannot hold together."),
        # E5xx: targets
        _c("E501", "greek-not-hedgeable", "No hedge instrument can move this greek."),
        _c("E502", "weights-not-100", "Weights of fully owned instruments do not sum to 100%."),
        _c("E503", "breach-without-band", "`on breach` is used but no target has a band."),
        _c("E504", "band-excludes-target", "The band does not contain the target."),
        _c("E505", "min-trade-exceeds-band", "`min trade` is wider than the whole band."),
        _c("E506", "split-exceeds-position", "`split` child size is larger than `max position`."),
        _c("E507", "no-trigger", "Nothing ever makes the strategy act."),
        _c("E508", "no-band-no-clock", "A target without a band needs an `every` trigger."),
        # E6xx: risk
        _c("E601", "target-breaches-leverage", "What the targets require exceeds `max leverage`."),
        _c("E602", "target-breaches-position", "What the targets require exceeds `max position`."),
        _c("E603", "target-breaches-notional", "What the targets require exceeds `max notional`."),
        _c("E604", "buffer-unreachable", "The liquidation buffer makes the leverage target unreachable."),
        _c("E605", "mode-loosens-risk", "A mode loosens a risk limit."),
        _c("E606", "needs-capital", "A risk check needs `capital`."),
        # P7xx: house policy
        _c("P701", "policy-limit-exceeded", "A limit is looser than the house policy allows."),
        _c("P702", "policy-clause-missing", "A clause the house policy requires is missing."),
        _c("P703", "policy-venue-not-allowed", "A venue is not in the policy's allowed list."),
        _c("P704", "not-a-policy", "The --policy file holds no policy."),
        # E8xx: backends
        _c("E801", "backend-unsupported", "The venue's backend cannot carry out what the strategy asks."),
        _c("E802", "unknown-setting", "A venue setting the backend does not accept."),
        _c("E803", "missing-setting", "A venue setting the backend requires is missing."),
        _c("E804", "secret-in-spec", "A secret is written in the spec instead of `env NAME`."),
        # E805, E81x: where requests go, and the offline venue check (`rebal check --markets`)
        _c("E805", "url-in-spec", "A URL is written in the spec instead of `url env NAME`."),
        _c("E810", "markets-file-invalid", "A `--markets` file cannot be read or fits no venue of the spec."),
        _c("E811", "venue-symbol-unknown", "The exchange lists no market with this symbol."),
        _c("E812", "venue-symbol-inactive", "The exchange lists this market but does not trade it now."),
        _c("E813", "venue-instrument-mismatch", "The venue's market is not the instrument the spec declares."),
        _c("E814", "below-venue-minimum", "`min trade` or a `split` child is below the venue's smallest order."),
        _c("E815", "off-venue-step", "A `split` child is not a whole number of the venue's amount steps."),
        _c("E816", "venue-fee-above-max", "The market's taker fee is above `max fee`."),
        # W9xx: warnings
        _c("W901", "band-churns", "A band narrower than one round trip of fees: it will churn."),
        _c("W902", "no-max-slippage", "No `max slippage`: orders may fill at any price."),
        _c("W903", "clock-without-band", "A time trigger with no band: it trades every period."),
        _c("W904", "period-not-on-grid", "A period is not a multiple of the sim step."),
        _c("W905", "unused-instrument", "An instrument is declared but never used."),
        _c("W906", "emulated-feature", "The backend emulates this feature rather than supporting it natively."),
        _c("W907", "expired-by-today", "An instrument has expired; a sim venue without `start` starts today."),
        _c("W908", "run-does-not-fit", "A sim venue's run needs more memory than this machine has free."),
        _c("W910", "venue-check-needs-price", "A size cannot be compared with the venue's minimum: no price is stated."),
        # I999: internal
        _c("I999", "internal-error", "rebal itself failed; this is a bug, please report it."),
    )
}


def info(code: str) -> CodeInfo:
    """The registry entry for ``code``; an unknown code is a programming error."""
    return CODES[code]


def make(
    code: str,
    message: str,
    span: Span | None,
    help: str | None = None,
    *,
    labels: Iterable[Label] = (),
    notes: Iterable[str] = (),
    severity: Severity | None = None,
) -> Diagnostic:
    """Build a diagnostic whose severity comes from the registry unless overridden."""
    return Diagnostic(
        code=code,
        severity=severity or CODES[code].severity,
        message=message,
        span=span,
        help=help,
        labels=tuple(labels),
        notes=tuple(notes),
    )


@dataclass
class Sink:
    """Collects diagnostics so one run reports every problem in a file."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, d: Diagnostic) -> None:
        self.items.append(d)

    def emit(
        self, code: str, message: str, span: Span | None, help: str | None = None, **kw: object
    ) -> None:
        self.items.append(make(code, message, span, help, **kw))  # type: ignore[arg-type]

    def extend(self, ds: Iterable[Diagnostic]) -> None:
        self.items.extend(ds)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class RebalError(Exception):
    """A user error carrying diagnostics (never an internal bug)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


class InternalError(Exception):
    """A bug in rebal itself; the CLI reports it as I999 and exit code 2."""
