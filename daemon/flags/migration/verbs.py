"""The migrations' control verbs: ``migration status|advance|rollback|emergency-rollback|history|why``
and ``flags why``.

``plan`` defaults to ``otp_cleanup``, so ``arborctl migration rollback 2`` moves the built-in plan and
``arborctl migration rollback 2 search_v2`` a declared one. The moves are writes: they are refused
with ``permission_denied`` for peers that are not root, the daemon's uid or a member of
``[flags] writers_group``; they are recorded with the peer as the actor (``uid:1000 (alice)``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
from daemon.flags.binding import flags_server
from daemon.flags.methods import peer_actor, writer_allowed
from daemon.flags.migration.control import (
    MIGRATION_NAME,
    Advance,
    EmergencyRollback,
    History,
    Rollback,
    Status,
    Why,
    ask,
)
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from supervisor import NoProc, whereis

__all__ = ["migration_methods"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
PlanName = Annotated[str, Field(min_length=1, max_length=128)]
DEFAULT_PLAN = "otp_cleanup"


class PlanParams(BaseModel):
    model_config = _FROZEN

    plan: PlanName = DEFAULT_PLAN


class StatusParams(BaseModel):
    """``migration status``: one plan, or every plan."""

    model_config = _FROZEN

    plan: PlanName | None = None


class AdvanceParams(PlanParams):
    """``migration advance``: one stage forward (``to`` names it, to be explicit)."""

    to: int | None = Field(default=None, ge=0)


class RollbackParams(BaseModel):
    """``migration rollback N``: back to stage ``to`` (0 included)."""

    model_config = _FROZEN

    to: int
    plan: PlanName = DEFAULT_PLAN
    reason: str = Field(default="", max_length=1000)


class EmergencyParams(BaseModel):
    """``migration emergency-rollback REASON``: every flag of the plan off."""

    model_config = _FROZEN

    reason: str = Field(min_length=1, max_length=1000)
    plan: PlanName = DEFAULT_PLAN


class HistoryParams(BaseModel):
    """``migration history``: the newest moves and verdict-driven rollbacks, newest first."""

    model_config = _FROZEN

    plan: PlanName | None = None
    limit: int = Field(default=20, ge=1, le=500)


class WhyParams(BaseModel):
    """``migration why``: the judgements, with their numbers (of one plan or flag, or all)."""

    model_config = _FROZEN

    subject: PlanName | None = None


class FlagWhyParams(BaseModel):
    """``flags why FLAG``: the verdicts on the flag's rollout and on the plans that hold it."""

    model_config = _FROZEN

    flag: PlanName


def _writer(context: MethodContext) -> str:
    """The audit actor for the peer, or ``permission_denied`` (the flags' own rule for writers)."""
    uid = context.connection.peer_uid
    try:
        writers_group = flags_server().settings.writers_group
    except NoProc:
        raise ControlError(ErrorCode.SHUTTING_DOWN, "the flags server is not running (restarting?)") from None
    if not writer_allowed(uid, writers_group):
        raise ControlError(
            ErrorCode.PERMISSION_DENIED,
            "moving migrations is reserved to the daemon's uid, root and [flags] writers_group"
            f" (you are uid {uid})",
        )
    return peer_actor(uid)


async def _ask(request: object) -> Any:
    if whereis(MIGRATION_NAME) is None:
        raise ControlError(ErrorCode.SHUTTING_DOWN, f"{MIGRATION_NAME} is not running (restarting?)")
    try:
        return await ask(MIGRATION_NAME, request)
    except NoProc:
        raise ControlError(
            ErrorCode.SHUTTING_DOWN, f"{MIGRATION_NAME} is not running (restarting?)"
        ) from None


@verb("migration.status", "each plan's stage, stages, flags, cool-down and verdict")
async def migration_status(params: StatusParams, context: MethodContext) -> Any:
    return await _ask(Status(params.plan))


@verb("migration.advance", "move a plan one stage forward (after its readiness checks)")
async def migration_advance(params: AdvanceParams, context: MethodContext) -> Any:
    return await _ask(Advance(params.plan, _writer(context), params.to))


@verb("migration.rollback", "move a plan back to an earlier stage (0: every flag off)")
async def migration_rollback(params: RollbackParams, context: MethodContext) -> Any:
    return await _ask(Rollback(params.plan, params.to, _writer(context), params.reason))


@verb("migration.emergency-rollback", "every flag of a plan off now, with a reason")
async def migration_emergency_rollback(params: EmergencyParams, context: MethodContext) -> Any:
    return await _ask(EmergencyRollback(params.plan, params.reason, _writer(context)))


@verb("migration.history", "the newest moves and automatic rollbacks, newest first")
async def migration_history(params: HistoryParams, context: MethodContext) -> Any:
    return {"history": await _ask(History(params.plan, params.limit))}


@verb("migration.why", "the verdicts behind each judged plan and rollout, with their numbers")
async def migration_why(params: WhyParams, context: MethodContext) -> Any:
    return await _ask(Why(params.subject))


@verb("flags.why", "the verdicts on a flag's rollout (and its plans), with their numbers")
async def flags_why(params: FlagWhyParams, context: MethodContext) -> Any:
    return await _ask(Why(params.flag))


def migration_methods() -> tuple[Method, ...]:
    """The verbs above (``daemon.flags.component`` adds them to the flags component's)."""
    return methods_of(globals())
