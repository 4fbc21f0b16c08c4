"""The migration state machine, pure: where a plan stands and what a request would change.

Each step takes the plan, the current ``Position`` and the time, and returns a ``Transition`` (the
flags to write, the new position) or raises one of ``daemon.flags.migration.errors`` having changed
nothing. The server (``control.py``) writes the transition's flags through the flags server and only
then adopts the new position, so a failed write leaves the position as it was.

>>> from daemon.flags.migration.plan import OTP_CLEANUP
>>> step = advance(OTP_CLEANUP, Position(), now=10.0)
>>> step.to_stage, sorted(f for f, on in step.writes.items() if on)
(1, ['enable_migration_monitoring', 'use_ets_agent_registry'])
>>> rollback(OTP_CLEANUP, step.position, 0, now=11.0, cooldown=60.0, reason="by hand").position.cooldown_until
71.0
>>> advance(OTP_CLEANUP, Position(stage=1), now=10.0, to=3)
Traceback (most recent call last):
    ...
daemon.flags.migration.errors.SkippedStage: plan 'otp_cleanup' is at stage 1: the next stage is 2, not 3
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from daemon.flags.migration.errors import (
    CoolingDown,
    InvalidRollback,
    NotReady,
    SkippedStage,
    StageOutOfRange,
)
from daemon.flags.migration.plan import MigrationPlan

__all__ = ["Kind", "Position", "Readiness", "Transition", "advance", "emergency_rollback", "rollback"]


class Kind(enum.StrEnum):
    """What moved a plan."""

    ADVANCE = "advance"
    ROLLBACK = "rollback"
    EMERGENCY_ROLLBACK = "emergency_rollback"
    AUTO_ROLLBACK = "auto_rollback"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a plan stands: its stage, when it got there, and until when advancing is refused."""

    stage: int = 0
    since: float | None = None
    cooldown_until: float = -math.inf

    def cooling_down(self, now: float) -> bool:
        return now < self.cooldown_until


@dataclass(frozen=True, slots=True)
class Readiness:
    """One readiness check's answer before an advance."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    """A step to apply: write ``writes`` (every flag of the plan), then adopt ``position``."""

    kind: Kind
    from_stage: int
    to_stage: int
    writes: Mapping[str, bool]
    position: Position
    reason: str = ""


def advance(
    plan: MigrationPlan,
    position: Position,
    *,
    now: float,
    to: int | None = None,
    readiness: Sequence[Readiness] = (),
) -> Transition:
    """One stage forward: refused past the last stage, for any stage but the next one, during a
    rollback's cool-down, or when a readiness check fails."""
    target = position.stage + 1
    if to is not None:
        plan.check_stage(to)
        if to != target:
            raise SkippedStage(
                f"plan {plan.name!r} is at stage {position.stage}: the next stage is {target}, not {to}"
                + (" (use rollback to go back)" if to <= position.stage else "")
            )
    if target > plan.last:
        raise StageOutOfRange(f"plan {plan.name!r} is at its last stage ({plan.last}): nothing to advance to")
    if position.cooling_down(now):
        raise CoolingDown(
            f"plan {plan.name!r} was rolled back: advancing is refused for another "
            f"{position.cooldown_until - now:.0f} s (the cool-down)"
        )
    failed = [f"{r.name}: {r.detail}" if r.detail else r.name for r in readiness if not r.ok]
    if failed:
        raise NotReady(failed)
    return Transition(
        Kind.ADVANCE,
        position.stage,
        target,
        plan.flags_at(target),
        replace(position, stage=target, since=now),
    )


def rollback(
    plan: MigrationPlan,
    position: Position,
    to: int,
    *,
    now: float,
    cooldown: float,
    reason: str = "",
    kind: Kind = Kind.ROLLBACK,
) -> Transition:
    """Back to an earlier stage (0 included), and start the cool-down during which advancing is
    refused; a rollback to the current stage or a later one is refused."""
    plan.check_stage(to)
    if to >= position.stage:
        raise InvalidRollback(
            f"plan {plan.name!r} is at stage {position.stage}: a rollback goes to an earlier stage, not {to}"
        )
    return Transition(
        kind,
        position.stage,
        to,
        plan.flags_at(to),
        Position(stage=to, since=now, cooldown_until=now + cooldown),
        reason,
    )


def emergency_rollback(
    plan: MigrationPlan, position: Position, reason: str, *, now: float, cooldown: float
) -> Transition:
    """Everything off (stage 0), whatever the stage, even at 0 (it rewrites the flags then: an
    emergency does not trust that they are already off)."""
    return Transition(
        Kind.EMERGENCY_ROLLBACK,
        position.stage,
        0,
        plan.flags_at(0),
        Position(stage=0, since=now, cooldown_until=now + cooldown),
        reason or "emergency rollback",
    )
