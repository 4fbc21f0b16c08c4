"""The verdict engine: three-valued checks, minimum sample, both windows, run limits, arms."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from daemon.flags.migration.verdict import (
    ABSOLUTE,
    CheckVerdict,
    Comparison,
    Decision,
    Judgement,
    Measurement,
    Outcome,
    Rule,
    Sample,
    check_crashes,
    check_error_rate,
    check_latency,
    decide,
    measure,
)

RULE = Rule()
LONG, SHORT = RULE.long_window, RULE.short_window


def window(subject: Sample, reference: Sample, kind: str = "control") -> Comparison:
    return Comparison(subject, reference, kind)


def sample(requests: int, errors: int = 0, crashes: int = 0, span: float = LONG, **kw: object) -> Sample:
    return Sample(requests=requests, errors=errors, crashes=crashes, span=span, **kw)  # type: ignore[arg-type]


def both(subject: Sample, reference: Sample, kind: str = "control") -> tuple[Comparison, Comparison]:
    short_subject = Sample(
        subject.requests, subject.errors, subject.crashes, subject.p95, subject.timed, SHORT
    )
    short_reference = Sample(
        reference.requests, reference.errors, reference.crashes, reference.p95, reference.timed, SHORT
    )
    return window(subject, reference, kind), window(short_subject, short_reference, kind)


def test_the_defaults_are_foundations_thresholds() -> None:
    assert (RULE.error_rate, RULE.restarts_per_minute, RULE.latency_factor) == (0.05, 10.0, 2.0)


def test_three_requests_are_not_a_sample() -> None:
    """Three requests, all failing, in the treatment: inconclusive, which pauses and never rolls back."""
    rule = Rule(inconclusive_limit=0)
    three = sample(3, errors=3, crashes=0)
    control = sample(500, errors=1)
    measurement = measure(*both(three, control), rule, at=0.0)
    assert measurement.outcome is Outcome.INCONCLUSIVE
    assert "3 requests" in measurement.checks[0].reason
    judgement = Judgement()
    for tick in range(20):
        judgement = decide(judgement, measure(*both(three, control), rule, at=float(tick)), rule)
        assert judgement.decision is not Decision.ROLLBACK
    assert judgement.decision is Decision.PAUSE


def test_an_error_rate_breach_must_show_in_both_windows() -> None:
    bad, good = sample(200, errors=40), sample(200, errors=2)
    long, short = both(bad, good)
    assert check_error_rate(long, short, RULE).outcome is Outcome.FAIL
    healed_short = window(sample(200, errors=2, span=SHORT), sample(200, errors=2, span=SHORT))
    verdict = check_error_rate(long, healed_short, RULE)
    assert verdict.outcome is Outcome.PASS
    assert "long window only" in verdict.reason


def test_a_fault_in_both_arms_is_not_blamed_on_the_flag() -> None:
    both_bad = sample(200, errors=60, crashes=50)
    measurement = measure(*both(both_bad, both_bad), RULE, at=0.0)
    assert measurement.outcome is Outcome.PASS
    assert all(c.outcome is Outcome.PASS for c in measurement.checks)


def test_crashes_are_critical_and_normalised_by_traffic() -> None:
    # Treatment has a tenth of the traffic and a tenth of control's crashes: the same rate per request.
    fair = check_crashes(*both(sample(100, crashes=10), sample(1000, crashes=100)), RULE)
    assert fair.outcome is Outcome.PASS
    # 60 crashes in 5 minutes beyond control's rate is 12 a minute: above 10.
    unfair = check_crashes(*both(sample(100, crashes=60), sample(1000, crashes=0)), RULE)
    assert unfair.outcome is Outcome.FAIL
    assert unfair.critical
    measurement = Measurement(0.0, (unfair,))
    assert decide(Judgement(), measurement, Rule(failure_limit=5)).decision is Decision.ROLLBACK


def test_latency_compares_p95_with_the_reference() -> None:
    fast = Sample(100, p95=0.050, timed=100, span=LONG)
    slow = Sample(100, p95=0.120, timed=100, span=LONG)
    fast_short = Sample(100, p95=0.050, timed=100, span=SHORT)
    slow_short = Sample(100, p95=0.120, timed=100, span=SHORT)
    verdict = check_latency(window(slow, fast), window(slow_short, fast_short), RULE)
    assert verdict is not None
    assert verdict.outcome is Outcome.FAIL
    assert check_latency(window(fast, fast), window(fast_short, fast_short), RULE) is not None
    assert check_latency(*both(sample(100), sample(100)), RULE) is None  # nobody reports durations


def test_a_stage_without_a_baseline_uses_absolute_rates() -> None:
    long, short = both(sample(100, errors=10), Sample(span=LONG), ABSOLUTE)
    assert check_error_rate(long, short, RULE).outcome is Outcome.FAIL
    long, short = both(sample(100, errors=1), Sample(span=LONG), ABSOLUTE)
    assert check_error_rate(long, short, RULE).outcome is Outcome.PASS


def test_nothing_is_judged_before_the_short_window_is_observed() -> None:
    young = window(sample(500, errors=500, span=10.0), sample(500, span=10.0))
    verdict = check_error_rate(young, young, RULE)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "less than the short window" in verdict.reason


def test_failures_roll_back_only_past_the_limit() -> None:
    rule = Rule(failure_limit=2)
    failed = Measurement(0.0, (CheckVerdict("error_rate", Outcome.FAIL, "x"),))
    passed = Measurement(0.0, (CheckVerdict("error_rate", Outcome.PASS, "x"),))
    judgement = decide(decide(Judgement(), failed, rule), failed, rule)
    assert judgement.decision is Decision.CONTINUE
    assert judgement.failures == 2
    assert decide(judgement, passed, rule).failures == 0
    assert decide(judgement, failed, rule).decision is Decision.ROLLBACK


OUTCOMES = st.sampled_from([Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE])


@given(
    st.lists(st.tuples(OUTCOMES, st.booleans()), max_size=40),
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=4),
)
def test_the_judge_against_a_model(
    runs: list[tuple[Outcome, bool]], failure_limit: int, inconclusive_limit: int
) -> None:
    """The decision after each measurement equals a direct model of the rule: roll back on a critical
    failure or more than ``failure_limit`` failures since the last pass; pause after more than
    ``inconclusive_limit`` inconclusives in a row; an inconclusive run never rolls back."""
    rule = Rule(failure_limit=failure_limit, inconclusive_limit=inconclusive_limit)
    judgement = Judgement()
    failures = inconclusives = 0
    for outcome, critical in runs:
        check = CheckVerdict("c", outcome, "model", critical=critical)
        judgement = decide(judgement, Measurement(0.0, (check,)), rule)
        if outcome is Outcome.PASS:
            failures = inconclusives = 0
            expected = Decision.CONTINUE
        elif outcome is Outcome.INCONCLUSIVE:
            inconclusives += 1
            expected = Decision.PAUSE if inconclusives > inconclusive_limit else Decision.CONTINUE
        else:
            failures, inconclusives = failures + 1, 0
            expected = Decision.ROLLBACK if critical or failures > failure_limit else Decision.CONTINUE
        assert judgement.decision is expected
        assert (judgement.failures, judgement.inconclusives) == (failures, inconclusives)
        if outcome is not Outcome.FAIL:
            assert judgement.decision is not Decision.ROLLBACK


@given(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=400),
)
def test_a_breach_is_large_and_sure_and_small_samples_never_decide(
    n_t: int, e_t: int, n_c: int, e_c: int
) -> None:
    errors_t, errors_c = min(e_t, n_t), min(e_c, n_c)
    treatment, control = sample(n_t, errors=errors_t), sample(n_c, errors=errors_c)
    verdict = check_error_rate(*both(treatment, control), RULE)
    if min(n_t, n_c) < RULE.min_sample:
        assert verdict.outcome is Outcome.INCONCLUSIVE
    else:
        excess = errors_t / n_t - errors_c / n_c
        pooled = (errors_t + errors_c) / (n_t + n_c)
        spread = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        sure = spread > 0 and excess / spread >= RULE.min_z
        assert (verdict.outcome is Outcome.FAIL) == (excess > RULE.error_rate and sure)
    same = check_error_rate(*both(treatment, treatment), RULE)
    assert same.outcome is not Outcome.FAIL


def test_a_small_difference_in_many_crashes_is_not_a_breach() -> None:
    """Both arms crash on half their requests: a chance excess of two crashes in the short window
    is 60 a minute, over the threshold, but far from significant, so the flag is not blamed."""
    rule = Rule(long_window=4.0, short_window=2.0)
    long = window(Sample(100, 0, 52, span=4.0), Sample(100, 0, 50, span=4.0))
    short = window(Sample(100, 0, 52, span=2.0), Sample(100, 0, 50, span=2.0))
    verdict = check_crashes(long, short, rule)
    assert verdict.outcome is Outcome.PASS
    assert verdict.numbers["excess_per_minute"] == [30.0, 60.0]  # over 10, both windows: large...
    assert verdict.numbers["z"] == [0.28, 0.28]  # ...but not sure
    sure = check_crashes(
        window(Sample(100, 0, 52, span=4.0), Sample(100, 0, 2, span=4.0)),
        window(Sample(100, 0, 52, span=2.0), Sample(100, 0, 2, span=2.0)),
        rule,
    )
    assert sure.outcome is Outcome.FAIL
