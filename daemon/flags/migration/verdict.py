"""The verdict engine: pure functions from windowed numbers to pass / fail / inconclusive, and from a
run of verdicts to a decision (keep going, pause, roll back). No clock, no I/O: the caller passes the
samples and the time, so every verdict can be replayed (tests use ``supervisor.testing.ManualClock``).

**What is compared.** A ``Comparison`` puts a *subject* beside a *reference*: for a percentage
rollout of a flag, the treatment arm (actors the flag serves) beside the control arm (the others);
for a stage of a plan, the stage's window beside the baseline recorded just before it began. Each
check looks at the **excess** of the subject over the reference, never at the subject alone, so a
fault that hits both arms equally is not blamed on the flag.

**The checks** (thresholds default to Foundation's, ``Rule``):

- ``error_rate``: the subject's error rate exceeds the reference's by more than ``error_rate``;
- ``crashes`` (critical): the subject's crashes per minute, less what the reference's rate predicts
  for the subject's traffic, exceed ``restarts_per_minute``; one critical failure rolls back;
- ``latency_p95``: the subject's p95 exceeds ``latency_factor`` times the reference's.

Each check is judged on a **long and a short window, and fails only when both breach** (the long one
filters noise, the short one that the breach is still going on). Below ``min_sample`` requests in
either side of either window, or before the short window has been observed in full, a check is
**inconclusive**: three requests are not a sample.

>>> rule = Rule(min_sample=50)
>>> bad = Sample(requests=100, errors=20, span=300.0)
>>> good = Sample(requests=100, errors=1, span=300.0)
>>> check_error_rate(Comparison(bad, good), Comparison(bad, good), rule).outcome
<Outcome.FAIL: 'fail'>
>>> check_error_rate(Comparison(bad, bad), Comparison(bad, bad), rule).outcome
<Outcome.PASS: 'pass'>
>>> three = Sample(requests=3, errors=3, span=300.0)
>>> check_error_rate(Comparison(three, good), Comparison(three, good), rule).outcome
<Outcome.INCONCLUSIVE: 'inconclusive'>

**The decision** (after Argo Rollouts' analysis runs): ``decide`` folds one measurement (every
check's verdict at one tick) into a ``Judgement``. A critical failure rolls back at once; otherwise
more than ``failure_limit`` failed measurements in a row roll back; more than ``inconclusive_limit``
inconclusive ones in a row pause (the plan may not advance; nothing is rolled back); a passing
measurement clears both runs. In dry-run mode the decision is reported and never acted on.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace

__all__ = [
    "ABSOLUTE",
    "CheckVerdict",
    "Comparison",
    "Decision",
    "Judgement",
    "Measurement",
    "Outcome",
    "Rule",
    "Sample",
    "check_crashes",
    "check_error_rate",
    "check_latency",
    "decide",
    "measure",
    "summary",
]

ABSOLUTE = "absolute"
"""The reference kind of a stage begun without a baseline worth the name (fewer than ``min_sample``
requests before it): its reference is an empty sample, so the thresholds apply as absolute rates,
Foundation's rule, and only the subject needs a sample."""


class Outcome(enum.StrEnum):
    """One check's verdict, or one measurement's."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Decision(enum.StrEnum):
    """What the judge says to do."""

    CONTINUE = "continue"
    """Healthy so far (or not yet enough failures in a row)."""
    PAUSE = "pause"
    """Too many inconclusive measurements in a row: do not advance; never a rollback."""
    ROLLBACK = "rollback"
    """Roll back (or, in dry-run mode, say that it would)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """The rollback rule: thresholds (Foundation's defaults), windows, sample and run limits."""

    error_rate: float = 0.05
    restarts_per_minute: float = 10.0
    latency_factor: float = 2.0
    min_sample: int = 50
    long_window: float = 300.0
    short_window: float = 60.0
    failure_limit: int = 1
    inconclusive_limit: int = 3
    dry_run: bool = False
    min_z: float = 4.0
    """How sure a breach must be: the two-proportion z statistic of the subject's rate against the
    reference's (errors, or crashes, per request) must reach it (4: about 3 in 100,000 by chance)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What one side saw in one window: requests (declared outcome events), how many were errors,
    crashes charged to it, its latency p95 (seconds) over ``timed`` timed requests, and the seconds
    the window actually covers (less than its length while it fills)."""

    requests: int = 0
    errors: int = 0
    crashes: int = 0
    p95: float | None = None
    timed: int = 0
    span: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def crashes_per_minute(self) -> float:
        return self.crashes * 60.0 / self.span if self.span > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "crashes": self.crashes,
            "crashes_per_minute": round(self.crashes_per_minute, 3),
            "p95": self.p95,
            "timed": self.timed,
            "span": round(self.span, 3),
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """One window: the subject (treatment, or the stage) beside the reference (control, or the
    baseline); ``reference_kind`` says which, for the verdict's text."""

    subject: Sample
    reference: Sample
    reference_kind: str = "control"


@dataclass(frozen=True, slots=True)
class CheckVerdict:
    """One check's verdict with the numbers behind it (``arborctl migration why`` prints them)."""

    check: str
    outcome: Outcome
    reason: str
    critical: bool = False
    numbers: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "outcome": self.outcome.value,
            "critical": self.critical,
            "reason": self.reason,
            "numbers": dict(self.numbers),
        }


def _too_small(long: Comparison, short: Comparison, rule: Rule, count: str = "requests") -> str | None:
    """Why the windows are no sample yet, or None."""
    if short.subject.span < rule.short_window:
        return f"observed {short.subject.span:.0f} s, less than the short window ({rule.short_window:.0f} s)"
    for label, window in (("long", long), ("short", short)):
        sides = [("subject", window.subject)]
        if window.reference_kind != ABSOLUTE:
            sides.append((window.reference_kind, window.reference))
        for side, sample in sides:
            n = getattr(sample, count)
            if n < rule.min_sample:
                return f"{n} {count} in the {label} window's {side}: fewer than {rule.min_sample}"
    return None


def _both(
    check: str, breaches: tuple[bool, bool], numbers: dict[str, object], what: str, critical: bool = False
) -> CheckVerdict:
    long_breach, short_breach = breaches
    if long_breach and short_breach:
        return CheckVerdict(
            check, Outcome.FAIL, f"{what} in the long and the short window", critical, numbers
        )
    if long_breach or short_breach:
        which = "long" if long_breach else "short"
        return CheckVerdict(check, Outcome.PASS, f"{what} in the {which} window only", critical, numbers)
    return CheckVerdict(check, Outcome.PASS, "within the threshold in both windows", critical, numbers)


def check_error_rate(long: Comparison, short: Comparison, rule: Rule) -> CheckVerdict:
    """Fail when the subject's error rate exceeds the reference's by more than ``rule.error_rate``
    in both windows."""
    numbers: dict[str, object] = {
        "threshold": rule.error_rate,
        "long": [round(long.subject.error_rate, 6), round(long.reference.error_rate, 6)],
        "short": [round(short.subject.error_rate, 6), round(short.reference.error_rate, 6)],
        "requests": [long.subject.requests, long.reference.requests],
    }
    small = _too_small(long, short, rule)
    if small:
        return CheckVerdict("error_rate", Outcome.INCONCLUSIVE, small, numbers=numbers)
    excess = tuple(w.subject.error_rate - w.reference.error_rate for w in (long, short))
    z = tuple(
        _z(w.subject.errors, w.subject.requests, w.reference.errors, w.reference.requests, w)
        for w in (long, short)
    )
    numbers["excess"] = [round(e, 6) for e in excess]
    numbers["z"] = [None if v is None else round(v, 2) for v in z]
    return _both(
        "error_rate",
        (
            _significant(excess[0], rule.error_rate, z[0], rule),
            _significant(excess[1], rule.error_rate, z[1], rule),
        ),
        numbers,
        f"error rate above {long.reference_kind}'s by more than {rule.error_rate:g}",
    )


def _z(x1: int, n1: int, x2: int, n2: int, window: Comparison) -> float | None:
    """The two-proportion z statistic of ``x1/n1`` against ``x2/n2`` (pooled), or None when it
    cannot be computed (a side without requests, an absolute reference): then size alone decides."""
    if window.reference_kind == ABSOLUTE or n1 <= 0 or n2 <= 0:
        return None
    x1, x2 = min(x1, n1), min(x2, n2)
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    difference = x1 / n1 - x2 / n2
    if spread == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / spread


def _significant(excess: float, threshold: float, z: float | None, rule: Rule) -> bool:
    """A breach: the excess is over the threshold, and (when it can be tested) no accident of
    sampling: ``z`` at least ``rule.min_z``."""
    return excess > threshold and (z is None or z >= rule.min_z)


def _excess_crashes_per_minute(window: Comparison) -> float:
    """The subject's crashes per minute beyond what the reference's rate per request predicts for the
    subject's traffic (a baseline with no traffic predicts its own crash rate per minute)."""
    subject, reference = window.subject, window.reference
    if reference.requests and subject.requests:
        expected = reference.crashes * subject.requests / reference.requests
        return (subject.crashes - expected) * 60.0 / subject.span if subject.span > 0 else 0.0
    return subject.crashes_per_minute - reference.crashes_per_minute


def check_crashes(long: Comparison, short: Comparison, rule: Rule) -> CheckVerdict:
    """Critical: fail when the subject's excess crashes per minute exceed ``rule.restarts_per_minute``
    in both windows."""
    excess = (_excess_crashes_per_minute(long), _excess_crashes_per_minute(short))
    z = tuple(
        _z(w.subject.crashes, w.subject.requests, w.reference.crashes, w.reference.requests, w)
        for w in (long, short)
    )
    numbers: dict[str, object] = {
        "threshold": rule.restarts_per_minute,
        "crashes": [long.subject.crashes, long.reference.crashes],
        "excess_per_minute": [round(e, 3) for e in excess],
        "z": [None if v is None else round(v, 2) for v in z],
    }
    small = _too_small(long, short, rule)
    if small:
        return CheckVerdict("crashes", Outcome.INCONCLUSIVE, small, critical=True, numbers=numbers)
    return _both(
        "crashes",
        (
            _significant(excess[0], rule.restarts_per_minute, z[0], rule),
            _significant(excess[1], rule.restarts_per_minute, z[1], rule),
        ),
        numbers,
        f"crashes per minute above {long.reference_kind}'s by more than {rule.restarts_per_minute:g}",
        critical=True,
    )


def check_latency(long: Comparison, short: Comparison, rule: Rule) -> CheckVerdict | None:
    """Fail when the subject's p95 exceeds ``rule.latency_factor`` times the reference's in both windows;
    None when nobody reports durations (the check does not apply)."""
    if not (long.subject.timed or long.reference.timed):
        return None
    numbers: dict[str, object] = {
        "factor": rule.latency_factor,
        "long": [long.subject.p95, long.reference.p95],
        "short": [short.subject.p95, short.reference.p95],
    }
    small = _too_small(long, short, rule, "timed")
    if small:
        return CheckVerdict("latency_p95", Outcome.INCONCLUSIVE, small, numbers=numbers)

    def breach(window: Comparison) -> bool:
        subject, reference = window.subject.p95, window.reference.p95
        return (
            subject is not None
            and reference is not None
            and reference > 0
            and subject > rule.latency_factor * reference
        )

    return _both(
        "latency_p95",
        (breach(long), breach(short)),
        numbers,
        f"p95 above {rule.latency_factor:g}x {long.reference_kind}'s",
    )


@dataclass(frozen=True, slots=True)
class Measurement:
    """Every check's verdict at one tick, and their sum: fail if any failed, else inconclusive if
    any was, else pass."""

    at: float
    checks: tuple[CheckVerdict, ...]

    @property
    def outcome(self) -> Outcome:
        outcomes = {c.outcome for c in self.checks}
        if Outcome.FAIL in outcomes:
            return Outcome.FAIL
        if Outcome.INCONCLUSIVE in outcomes or not outcomes:
            return Outcome.INCONCLUSIVE
        return Outcome.PASS

    @property
    def critical_failure(self) -> bool:
        return any(c.critical and c.outcome is Outcome.FAIL for c in self.checks)

    def failed(self) -> list[CheckVerdict]:
        return [c for c in self.checks if c.outcome is Outcome.FAIL]

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at, "outcome": self.outcome.value, "checks": [c.as_dict() for c in self.checks]}


def measure(long: Comparison, short: Comparison, rule: Rule, at: float) -> Measurement:
    """Run every check on the two windows."""
    checks = [check_error_rate(long, short, rule), check_crashes(long, short, rule)]
    latency = check_latency(long, short, rule)
    if latency is not None:
        checks.append(latency)
    return Measurement(at, tuple(checks))


@dataclass(frozen=True, slots=True)
class Judgement:
    """The judge's state for one subject: the runs of failed and inconclusive measurements, the
    latest measurement and the decision it led to."""

    failures: int = 0
    inconclusives: int = 0
    measurements: int = 0
    decision: Decision = Decision.CONTINUE
    last: Measurement | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "decision": self.decision.value,
            "consecutive_failures": self.failures,
            "consecutive_inconclusives": self.inconclusives,
            "measurements": self.measurements,
            "last": None if self.last is None else self.last.as_dict(),
        }


def decide(judgement: Judgement, measurement: Measurement, rule: Rule) -> Judgement:
    """Fold one measurement into the judgement (Argo Rollouts' failure and inconclusive limits)."""
    outcome = measurement.outcome
    count = judgement.measurements + 1
    if outcome is Outcome.PASS:
        return Judgement(0, 0, count, Decision.CONTINUE, measurement)
    if outcome is Outcome.INCONCLUSIVE:
        inconclusives = judgement.inconclusives + 1
        decision = Decision.PAUSE if inconclusives > rule.inconclusive_limit else Decision.CONTINUE
        return replace(
            judgement, inconclusives=inconclusives, measurements=count, decision=decision, last=measurement
        )
    failures = judgement.failures + 1
    rollback = measurement.critical_failure or failures > rule.failure_limit
    return Judgement(failures, 0, count, Decision.ROLLBACK if rollback else Decision.CONTINUE, measurement)


def summary(measurement: Measurement) -> str:
    """The failed checks and their numbers in one line: the reason an automatic rollback records."""
    parts = [f"{c.check}: {c.reason} {c.numbers}" for c in measurement.failed()]
    return "; ".join(parts) or measurement.outcome.value
