"""The migrations' part of ``[flags]``: the guard's thresholds and windows, and the declared plans.

In the TOML file::

    [flags.migration]                 # the automatic rollback's rule (these are the defaults)
    error_rate = 0.05                 # fail: treatment's error rate exceeds control's (or the
    restarts_per_minute = 10.0        #   stage's baseline) by more than this; crashes likewise
    latency_factor = 2.0              # fail: p95 above this many times control's / the baseline
    events = ["shop.checkout"]        # the declared outcome events (dotted names)
    guarded = ["new_checkout"]        # flags whose percentage rollouts are judged

    [flags.migration.plans.search_v2] # a plan: its stages in order, each naming declared flags
    stages = [
      {name = "index", flags = ["search_v2_index"], risk = "low"},
      {name = "serve", flags = ["search_v2_serve"], risk = "high"},
    ]

A plan that names a flag the configuration does not declare is refused at load (exit 78):
``plans(settings, declared)``.

>>> settings = MigrationSettings.model_validate(
...     {"plans": {"p": {"stages": [{"name": "one", "flags": ["a"]}]}}})
>>> sorted(plans(settings, declared={"a"}))
['otp_cleanup', 'p']
>>> plans(settings, declared=set())
Traceback (most recent call last):
    ...
daemon.errors.ConfigError: flags.migration.plans.p: stage 'one' names the undeclared flag 'a'
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daemon.errors import ConfigError
from daemon.flags.migration.plan import BUILT_IN_PLANS, MigrationPlan, Risk, Stage
from daemon.flags.migration.verdict import Rule

__all__ = ["MigrationSettings", "PlanSettings", "StageSettings", "event_name", "plan_problems", "plans"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, Field(min_length=1, max_length=128)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class StageSettings(BaseModel):
    """One stage of a declared plan."""

    model_config = _FROZEN

    name: Name
    flags: list[Name] = Field(min_length=1)
    description: str = ""
    risk: Risk = Risk.LOW


class PlanSettings(BaseModel):
    """A declared plan: its stages, in order."""

    model_config = _FROZEN

    stages: list[StageSettings] = Field(min_length=1)


def event_name(dotted: str) -> tuple[str, ...]:
    """``"shop.checkout"`` → ``("shop", "checkout")``: how the TOML names a telemetry event."""
    parts = tuple(dotted.split("."))
    if not all(parts):
        raise ValueError(f"{dotted!r} is not a dotted event name (e.g. 'shop.checkout')")
    return parts


class MigrationSettings(BaseModel):
    """``[flags.migration]``: the rollback rule (``Rule``'s fields), what it watches, the plans."""

    model_config = _FROZEN

    error_rate: float = Field(default=0.05, ge=0, le=1, allow_inf_nan=False)
    restarts_per_minute: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    latency_factor: float = Field(default=2.0, gt=1, allow_inf_nan=False)
    min_sample: int = Field(default=50, ge=1)
    min_z: float = Field(default=4.0, ge=0, allow_inf_nan=False)
    long_window: Seconds = 300.0
    short_window: Seconds = 60.0
    interval: Seconds = 10.0
    failure_limit: int = Field(default=1, ge=0)
    inconclusive_limit: int = Field(default=3, ge=0)
    cooldown: float = Field(default=3600.0, ge=0, allow_inf_nan=False)
    dry_run: bool = False
    events: list[Name] = Field(default_factory=list)
    guarded: list[Name] = Field(default_factory=list)
    plans: dict[Name, PlanSettings] = Field(default_factory=dict)

    @field_validator("events")
    @classmethod
    def _dotted(cls, value: list[str]) -> list[str]:
        for dotted in value:
            event_name(dotted)
        return value

    def rule(self) -> Rule:
        """The verdict engine's rule from these settings (the short window at most the long one)."""
        return Rule(
            error_rate=self.error_rate,
            restarts_per_minute=self.restarts_per_minute,
            latency_factor=self.latency_factor,
            min_sample=self.min_sample,
            min_z=self.min_z,
            long_window=self.long_window,
            short_window=min(self.short_window, self.long_window),
            failure_limit=self.failure_limit,
            inconclusive_limit=self.inconclusive_limit,
            dry_run=self.dry_run,
        )


def plan_problems(settings: MigrationSettings, declared: Collection[str]) -> list[str]:
    """One line per flag a declared plan names that ``declared`` does not hold, and per plan that is
    not a valid plan (a flag in two stages, two stages of one name)."""
    problems: list[str] = []
    for name, plan in settings.plans.items():
        where = f"flags.migration.plans.{name}"
        for stage in plan.stages:
            problems.extend(
                f"{where}: stage {stage.name!r} names the undeclared flag {flag!r}"
                for flag in stage.flags
                if flag not in declared
            )
        try:
            _plan(name, plan)
        except ValueError as error:
            problems.append(f"{where}: {error}")
    return problems


def _plan(name: str, plan: PlanSettings) -> MigrationPlan:
    return MigrationPlan(
        name, tuple(Stage(s.name, tuple(s.flags), s.description, s.risk) for s in plan.stages)
    )


def plans(
    settings: MigrationSettings, declared: Collection[str] | None = None
) -> Mapping[str, MigrationPlan]:
    """The built-in plans and the declared ones (a declared plan replaces a built-in one of its
    name). With ``declared``, a stage naming a flag outside it is a ``ConfigError`` (exit 78 at
    start; on reload the old configuration stays)."""
    problems = plan_problems(settings, declared if declared is not None else _every_flag(settings))
    if problems:
        raise ConfigError(problems)
    found = dict(BUILT_IN_PLANS)
    found.update((name, _plan(name, plan)) for name, plan in settings.plans.items())
    return found


def _every_flag(settings: MigrationSettings) -> set[str]:
    return {flag for plan in settings.plans.values() for stage in plan.stages for flag in stage.flags}
