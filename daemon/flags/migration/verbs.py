"""The migrations' control verbs: ``migration status|advance|rollback|emergency-rollback|history|why``
and ``flags why``.

``plan`` defaults to ``otp_cleanup``, so ``arborctl migration rollback 2`` moves the built-in plan and
``arborctl migration rollback 2 search_v2`` a declared one. The moves are writes: they are refused
with ``permission_denied`` for peers that are not root, the daemon's uid or a member of
``[flags] writers_group``; they are recorded with the peer as the actor (``uid:1000 (alice)``).
"""

from __future__ import annotations

import grp
import os
import pwd
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
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

__all__ = ["migration_methods", "peer_actor"]

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


def peer_actor(context: MethodContext) -> str:
    """The audit trail's actor for the peer: ``uid:1000 (alice)``, or ``local`` for the console."""
    uid = context.connection.peer_uid
    if uid is None:
        return "local"
    try:
        return f"uid:{uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid:{uid}"


def _check_writer(context: MethodContext) -> None:
    uid = context.connection.peer_uid
    if uid is None or uid in (0, os.getuid()):
        return
    group = getattr(getattr(context.daemon.settings, "flags", None), "writers_group", None)
    if group is not None and _member(uid, str(group)):
        return
    raise ControlError(
        ErrorCode.PERMISSION_DENIED,
        f"uid {uid} may not move migrations: root, the daemon's uid or [flags] writers_group only",
    )


def _member(uid: int, group: str) -> bool:
    try:
        entry = grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
        user = pwd.getpwuid(uid)
    except (KeyError, ValueError):
        return False
    return user.pw_gid == entry.gr_gid or user.pw_name in entry.gr_mem


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
    _check_writer(context)
    return await _ask(Advance(params.plan, peer_actor(context), params.to))


@verb("migration.rollback", "move a plan back to an earlier stage (0: every flag off)")
async def migration_rollback(params: RollbackParams, context: MethodContext) -> Any:
    _check_writer(context)
    return await _ask(Rollback(params.plan, params.to, peer_actor(context), params.reason))


@verb("migration.emergency-rollback", "every flag of a plan off now, with a reason")
async def migration_emergency_rollback(params: EmergencyParams, context: MethodContext) -> Any:
    _check_writer(context)
    return await _ask(EmergencyRollback(params.plan, params.reason, peer_actor(context)))


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
