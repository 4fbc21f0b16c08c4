"""A migration plan: an ordered list of stages, each enabling a set of flags, **cumulative both ways**.

Stage ``n`` means the flags of stages ``1..n`` are on and every other flag of the plan is off; stage 0
means all of them are off. Foundation enabled only a stage's own flags going up and the cumulative
set going down (docs/otp-conformance.md#migrations); here the same rule serves both directions, so
the flags in force depend on the stage alone, never on the path taken to it.

>>> plan = OTP_CLEANUP
>>> [stage.name for stage in plan.stages]
['ets_registry', 'logger_error_context', 'telemetry_and_spans', 'no_process_dict']
>>> sorted(flag for flag, on in plan.flags_at(2).items() if on)
['enable_migration_monitoring', 'use_ets_agent_registry', 'use_logger_error_context']
>>> any(plan.flags_at(0).values())
False
>>> plan.check_stage(5)
Traceback (most recent call last):
    ...
daemon.flags.migration.errors.StageOutOfRange: plan 'otp_cleanup' has stages 0..4, not 5
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from daemon.flags.migration.errors import StageOutOfRange

__all__ = ["BUILT_IN_PLANS", "OTP_CLEANUP", "MigrationPlan", "Risk", "Stage"]


class Risk(enum.StrEnum):
    """How much a stage can break (Foundation's ``risk_level``)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: the flags it turns on (on top of the stages before it)."""

    name: str
    flags: tuple[str, ...]
    description: str = ""
    risk: Risk = Risk.LOW


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """A named, validated list of stages (numbered from 1; 0 is "nothing enabled").

    A flag belongs to one stage only and a plan has at least one stage, so each stage's set of flags
    in force is the union of its own and its predecessors' (``flags_at``).
    """

    name: str
    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a migration plan needs a name")
        if not self.stages:
            raise ValueError(f"plan {self.name!r} has no stages")
        seen: dict[str, str] = {}
        names: set[str] = set()
        for stage in self.stages:
            if not stage.name or stage.name in names:
                raise ValueError(
                    f"plan {self.name!r}: stage names must be non-empty and distinct ({stage.name!r})"
                )
            names.add(stage.name)
            if not stage.flags:
                raise ValueError(f"plan {self.name!r}: stage {stage.name!r} enables no flag")
            for flag in stage.flags:
                if flag in seen:
                    raise ValueError(
                        f"plan {self.name!r}: flag {flag!r} is in stages {seen[flag]!r} and {stage.name!r}"
                    )
                seen[flag] = stage.name

    @property
    def last(self) -> int:
        """The number of the last stage."""
        return len(self.stages)

    @property
    def flags(self) -> tuple[str, ...]:
        """Every flag the plan governs, in stage order."""
        return tuple(flag for stage in self.stages for flag in stage.flags)

    def check_stage(self, stage: int) -> int:
        """``stage`` if it is one of ``0..last``; ``StageOutOfRange`` otherwise."""
        if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= self.last:
            raise StageOutOfRange(f"plan {self.name!r} has stages 0..{self.last}, not {stage!r}")
        return stage

    def flags_at(self, stage: int) -> Mapping[str, bool]:
        """Every flag of the plan and whether it is on at ``stage`` (cumulative: stages ``1..stage``)."""
        self.check_stage(stage)
        on = {flag for s in self.stages[:stage] for flag in s.flags}
        return MappingProxyType({flag: flag in on for flag in self.flags})

    def stage_of(self, flags: Mapping[str, bool]) -> int:
        """The highest stage whose cumulative set is exactly what ``flags`` says is on (0 if none
        matches beyond it): how a plan's position is read back from the flags in force."""
        for stage in range(self.last, -1, -1):
            if all(flags.get(flag, False) == on for flag, on in self.flags_at(stage).items()):
                return stage
        return 0

    def describe(self) -> list[dict[str, object]]:
        """The stages as JSON-ready rows (``migration status``)."""
        return [
            {
                "stage": n,
                "name": s.name,
                "description": s.description,
                "risk": s.risk.value,
                "flags": list(s.flags),
            }
            for n, s in enumerate(self.stages, start=1)
        ]


def _otp_cleanup() -> MigrationPlan:
    return MigrationPlan(
        "otp_cleanup",
        (
            Stage(
                "ets_registry",
                ("use_ets_agent_registry", "enable_migration_monitoring"),
                "the ETS agent registry, with migration monitoring on",
                Risk.LOW,
            ),
            Stage(
                "logger_error_context",
                ("use_logger_error_context",),
                "error context in logger metadata",
                Risk.MEDIUM,
            ),
            Stage(
                "telemetry_and_spans",
                ("use_genserver_telemetry", "use_genserver_span_management", "use_ets_sampled_events"),
                "server telemetry, span management and sampled events",
                Risk.HIGH,
            ),
            Stage(
                "no_process_dict",
                ("enforce_no_process_dict",),
                "the ban on the process dictionary enforced",
                Risk.CRITICAL,
            ),
        ),
    )


OTP_CLEANUP: Final = _otp_cleanup()
"""Foundation's built-in plan: its seven flags and four stages (docs/migrations.md)."""


def _by_name(plans: Iterable[MigrationPlan]) -> Mapping[str, MigrationPlan]:
    return MappingProxyType({plan.name: plan for plan in plans})


BUILT_IN_PLANS: Final[Mapping[str, MigrationPlan]] = _by_name([OTP_CLEANUP])
"""The plans every daemon has, by name (a plan declared in the TOML under the same name replaces it)."""
