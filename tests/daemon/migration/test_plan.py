"""Migration plans and their state machine: cumulative both ways, rollback to 0, the refusals."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.errors import ConfigError
from daemon.flags.migration.config import MigrationSettings, plans
from daemon.flags.migration.errors import (
    CoolingDown,
    InvalidRollback,
    NotReady,
    SkippedStage,
    StageOutOfRange,
)
from daemon.flags.migration.plan import OTP_CLEANUP, MigrationPlan, Stage
from daemon.flags.migration.steps import Kind, Position, Readiness, advance, emergency_rollback, rollback

FOUNDATION_FLAGS = {
    "use_ets_agent_registry",
    "use_logger_error_context",
    "use_genserver_telemetry",
    "use_genserver_span_management",
    "use_ets_sampled_events",
    "enforce_no_process_dict",
    "enable_migration_monitoring",
}


def on(flags: Mapping[str, bool]) -> set[str]:
    return {f for f, v in flags.items() if v}


def test_otp_cleanup_has_foundations_seven_flags_in_four_stages() -> None:
    assert OTP_CLEANUP.name == "otp_cleanup"
    assert set(OTP_CLEANUP.flags) == FOUNDATION_FLAGS
    assert len(OTP_CLEANUP.flags) == 7
    assert [set(s.flags) for s in OTP_CLEANUP.stages] == [
        {"use_ets_agent_registry", "enable_migration_monitoring"},
        {"use_logger_error_context"},
        {"use_genserver_telemetry", "use_genserver_span_management", "use_ets_sampled_events"},
        {"enforce_no_process_dict"},
    ]
    assert [s.risk.value for s in OTP_CLEANUP.stages] == ["low", "medium", "high", "critical"]


def test_stages_are_cumulative_going_up_unlike_foundation() -> None:
    position = Position()
    for stage in range(1, 5):
        step = advance(OTP_CLEANUP, position, now=float(stage))
        position = step.position
        expected = {f for s in OTP_CLEANUP.stages[:stage] for f in s.flags}
        assert on(step.writes) == expected
        assert set(step.writes) == FOUNDATION_FLAGS  # every flag of the plan is written, on or off
    assert position.stage == 4


@pytest.mark.parametrize("target", [0, 1, 2, 3])
def test_rollback_reaches_every_earlier_stage_including_zero(target: int) -> None:
    step = rollback(OTP_CLEANUP, Position(stage=4), target, now=5.0, cooldown=60.0)
    assert step.to_stage == target
    assert step.kind is Kind.ROLLBACK
    assert on(step.writes) == {f for s in OTP_CLEANUP.stages[:target] for f in s.flags}


def test_emergency_rollback_turns_everything_off_and_cools_down() -> None:
    step = emergency_rollback(OTP_CLEANUP, Position(stage=3), "pager", now=10.0, cooldown=30.0)
    assert step.to_stage == 0
    assert not on(step.writes)
    assert step.reason == "pager"
    with pytest.raises(CoolingDown):
        advance(OTP_CLEANUP, step.position, now=39.0)
    assert advance(OTP_CLEANUP, step.position, now=40.0).to_stage == 1


def test_bad_requests_are_refused() -> None:
    with pytest.raises(StageOutOfRange):
        rollback(OTP_CLEANUP, Position(stage=2), 5, now=0.0, cooldown=0.0)
    with pytest.raises(StageOutOfRange):
        rollback(OTP_CLEANUP, Position(stage=2), -1, now=0.0, cooldown=0.0)
    with pytest.raises(StageOutOfRange):
        advance(OTP_CLEANUP, Position(stage=4), now=0.0)
    with pytest.raises(SkippedStage):
        advance(OTP_CLEANUP, Position(stage=1), now=0.0, to=3)
    with pytest.raises(SkippedStage, match="use rollback"):
        advance(OTP_CLEANUP, Position(stage=2), now=0.0, to=1)
    with pytest.raises(InvalidRollback):
        rollback(OTP_CLEANUP, Position(stage=2), 2, now=0.0, cooldown=0.0)
    with pytest.raises(NotReady, match="healthy: last verdict failed"):
        advance(
            OTP_CLEANUP, Position(), now=0.0, readiness=[Readiness("healthy", False, "last verdict failed")]
        )


def test_a_plan_refuses_shared_flags_and_empty_stages() -> None:
    with pytest.raises(ValueError, match="in stages"):
        MigrationPlan("p", (Stage("a", ("x",)), Stage("b", ("x",))))
    with pytest.raises(ValueError, match="no stages"):
        MigrationPlan("p", ())
    with pytest.raises(ValueError, match="enables no flag"):
        MigrationPlan("p", (Stage("a", ()),))


def test_declared_plans_load_and_undeclared_flags_are_refused() -> None:
    settings = MigrationSettings.model_validate(
        {
            "plans": {
                "search": {
                    "stages": [{"name": "index", "flags": ["a"]}, {"name": "serve", "flags": ["b", "c"]}]
                }
            }
        }
    )
    loaded = plans(settings, declared={"a", "b", "c"})
    assert loaded["search"].last == 2
    assert loaded["otp_cleanup"] is OTP_CLEANUP
    with pytest.raises(ConfigError) as refused:
        plans(settings, declared={"a"})
    assert refused.value.problems == [
        "flags.migration.plans.search: stage 'serve' names the undeclared flag 'b'",
        "flags.migration.plans.search: stage 'serve' names the undeclared flag 'c'",
    ]


@given(st.lists(st.integers(min_value=-1, max_value=5), max_size=30))
def test_the_flags_in_force_depend_on_the_stage_alone(moves: list[int]) -> None:
    """Any sequence of advances and rollbacks: the flags written are the cumulative set of the stage
    reached, and a refused move changes nothing."""
    position = Position()
    now = 0.0
    for move in moves:
        now += 1.0
        before = position
        try:
            if move == 5:
                step = advance(OTP_CLEANUP, position, now=now)
            else:
                step = rollback(OTP_CLEANUP, position, move, now=now, cooldown=0.5)
        except (StageOutOfRange, InvalidRollback, CoolingDown, SkippedStage):
            assert position == before
            continue
        position = step.position
        assert OTP_CLEANUP.stage_of(step.writes) == position.stage
        assert on(step.writes) == {f for s in OTP_CLEANUP.stages[: position.stage] for f in s.flags}
        expected = before.cooldown_until if step.kind is Kind.ADVANCE else now + 0.5
        assert position.cooldown_until == expected
