"""The flags' control methods: ``flags.list/get/enable/disable/clear/percentage/actor/group/history/
explain/lint``.

Reads are open to any peer that may connect. Writes are refused with ``permission_denied``
(``arborctl`` exits 4) unless the peer is the daemon's uid, root, or a member of ``[flags]
writers_group``; the audit trail records the peer as ``uid:<uid> (<user>)``. On the command line::

    arborctl flags enable new_checkout reason="launch"
    arborctl flags percentage new_checkout actors 25
    arborctl flags actor new_checkout alice on
    arborctl flags history new_checkout
    arborctl flags explain new_checkout alice at=2026-11-24T10:00
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Awaitable
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
from daemon.flags.binding import FLAGS_NAME, flags_server
from daemon.flags.errors import RevisionConflict
from daemon.flags.explain import explain, parse_time
from daemon.flags.gates import FLAG_NAME_MAX, GateKind
from daemon.flags.server import Flags
from daemon.flags.store import ChangeRecord
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, NoParams, methods_of, verb
from daemon.verbs.paging import PAGE_BYTES, Limit, Offset, encoded_size
from supervisor.errors import NoProc

__all__ = ["flags_methods", "peer_actor", "writer_allowed"]

FlagName = Annotated[str, Field(min_length=1, max_length=FLAG_NAME_MAX)]
Target = Annotated[str, Field(min_length=1, max_length=FLAG_NAME_MAX)]
Reason = Annotated[str, Field(max_length=1000)]
IfRevision = Annotated[int, Field(ge=0)]
_FROZEN = ConfigDict(extra="forbid", frozen=True)
HISTORY_LIMIT: Final = 50
"""Changes per ``flags.history`` page when the request names no ``limit``."""
_HISTORY_BATCH: Final = 200
"""Changes read from the store at a time while a history page fills (bounded memory, not a page)."""


class FlagParams(BaseModel):
    """One flag."""

    model_config = _FROZEN

    flag: FlagName


class WriteParams(FlagParams):
    """A write: ``reason`` goes to the audit trail; ``create`` makes an unknown flag (else an
    unknown flag is ``not_found``). Every write takes ``if_revision`` too: a compare-and-set, made
    only if the flag is at that revision (``flags.get``'s ``flag_revision``, or the revision a write
    answered), else ``conflict`` with ``flag``, ``expected`` and ``revision`` (the one in force)."""

    reason: Reason | None = None
    if_revision: IfRevision | None = None
    create: bool = False


class ClearParams(FlagParams):
    """``flags.clear``: every gate, or one kind (``boolean``, ``actor``, ``group``, ``percentage``)."""

    gate: Literal["boolean", "actor", "group", "percentage"] | None = None
    reason: Reason | None = None
    if_revision: IfRevision | None = None


class PercentageParams(FlagParams):
    """``flags.percentage FLAG time|actors P``: P in [0, 100]; ``group_id`` buckets actors under
    another Unleash group id than the flag's name."""

    of: Literal["time", "actors"]
    value: float
    group_id: Target | None = None
    reason: Reason | None = None
    if_revision: IfRevision | None = None
    create: bool = False


class ActorParams(FlagParams):
    """``flags.actor FLAG ID on|off|clear``."""

    id: Target
    state: Literal["on", "off", "clear"]
    reason: Reason | None = None
    if_revision: IfRevision | None = None


class GroupParams(FlagParams):
    """``flags.group FLAG NAME on|off|clear``."""

    name: Target
    state: Literal["on", "off", "clear"]
    reason: Reason | None = None
    if_revision: IfRevision | None = None


class HistoryParams(BaseModel):
    """``flags.history [FLAG] [limit=N] [offset=K]``: a page of the audit trail (of one flag or all),
    paged as the list verbs are (daemon/verbs/paging.py) but back in time: ``offset`` counts back
    from the newest change (0: the newest), the page is the ``limit`` changes before it (and at most
    about ``PAGE_BYTES`` of JSON), oldest first, and ``next`` is the offset of the older page."""

    model_config = _FROZEN

    flag: FlagName | None = None
    limit: Limit = HISTORY_LIMIT
    offset: Offset = 0


class ExplainParams(FlagParams):
    """``flags.explain FLAG [ACTOR] [at=TIME]``: TIME is epoch seconds or ISO 8601 (naive: UTC);
    omitted: now."""

    actor: Target | None = None
    at: float | str | None = None


def _server() -> Flags:
    try:
        return flags_server()
    except NoProc as error:
        raise ControlError(ErrorCode.SERVER_DOWN, str(error), {"server": FLAGS_NAME}) from None


def writer_allowed(uid: int | None, writers_group: str | None) -> bool:
    """May the peer ``uid`` change flags? The daemon's uid, root, members of ``writers_group``
    (a name or a gid); None is a peer inside the daemon (the console)."""
    if uid is None or uid in (os.geteuid(), 0):
        return True
    if writers_group is None:
        return False
    try:
        gid = int(writers_group) if writers_group.isdigit() else grp.getgrnam(writers_group).gr_gid
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    return gid in os.getgrouplist(user.pw_name, user.pw_gid)


def peer_actor(uid: int | None) -> str:
    """The audit trail's actor for a control peer: ``uid:1000 (alice)``; ``console`` without a uid."""
    if uid is None:
        return "console"
    try:
        return f"uid:{uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid:{uid}"


def _writer(context: MethodContext) -> tuple[Flags, str]:
    """The server and the audit actor, or ``permission_denied``."""
    server = _server()
    uid = context.connection.peer_uid
    if not writer_allowed(uid, server.settings.writers_group):
        raise ControlError(
            ErrorCode.PERMISSION_DENIED,
            "changing flags is reserved to the daemon's uid, root and [flags] writers_group"
            f" (you are uid {uid})",
        )
    return server, peer_actor(uid)


def _written(record: ChangeRecord) -> dict[str, Any]:
    return record.to_json()


async def _compared(write: Awaitable[ChangeRecord]) -> dict[str, Any]:
    """The write's record, or ``conflict`` naming the revision in force (``if_revision``)."""
    try:
        return _written(await write)
    except RevisionConflict as error:
        data = {"flag": error.flag, "expected": error.expected, "revision": error.revision}
        raise ControlError(ErrorCode.CONFLICT, str(error), data) from None


def _on(state: str) -> bool | None:
    return {"on": True, "off": False}.get(state)


@verb("flags.list", "every flag: its value without an actor, its gates, its declaration")
async def flags_list(params: NoParams, context: MethodContext) -> dict[str, Any]:
    server = _server()
    listed = []
    for name in server.known():
        state = server.state(name)
        declaration = server.declaration(name)
        listed.append(
            {
                "flag": name,
                "value": server.explain(name).value,
                "gates": None if state is None else state.to_json(),
                "declared": declaration is not None,
                "owner": None if declaration is None else declaration.owner,
            }
        )
    return {"flags": listed, "revision": server.revision, "store": server.store.location}


@verb("flags.get", "one flag: its gates, its declaration, its value without an actor")
async def flags_get(params: FlagParams, context: MethodContext) -> dict[str, Any]:
    server = _server()
    state = server.state(params.flag)
    if state is None:
        raise ControlError(ErrorCode.NOT_FOUND, f"no flag named {params.flag!r}", {"flag": params.flag})
    declaration = server.declaration(params.flag)
    return {
        "flag": params.flag,
        "value": server.explain(params.flag).value,
        "gates": state.to_json(),
        "declaration": None if declaration is None else declaration.model_dump(mode="json"),
        "revision": server.revision,
        "flag_revision": await server.flag_revision(params.flag),
    }


@verb("flags.enable", "turn a flag's boolean gate on (create=true: a new flag)")
async def flags_enable(params: WriteParams, context: MethodContext) -> dict[str, Any]:
    server, actor = _writer(context)
    return await _compared(
        server.enable(
            params.flag,
            actor=actor,
            reason=params.reason,
            create=params.create,
            if_revision=params.if_revision,
        )
    )


@verb("flags.disable", "turn a flag's boolean gate off (create=true: a new flag)")
async def flags_disable(params: WriteParams, context: MethodContext) -> dict[str, Any]:
    server, actor = _writer(context)
    return await _compared(
        server.disable(
            params.flag,
            actor=actor,
            reason=params.reason,
            create=params.create,
            if_revision=params.if_revision,
        )
    )


@verb("flags.clear", "remove every gate of a flag, or one kind (boolean|actor|group|percentage)")
async def flags_clear(params: ClearParams, context: MethodContext) -> dict[str, Any]:
    server, actor = _writer(context)
    gate = None if params.gate is None else GateKind(params.gate)
    return await _compared(
        server.clear(params.flag, gate, actor=actor, reason=params.reason, if_revision=params.if_revision)
    )


@verb("flags.percentage", "set the percentage gate: FLAG time|actors P (P in [0, 100])")
async def flags_percentage(params: PercentageParams, context: MethodContext) -> dict[str, Any]:
    server, actor = _writer(context)
    return await _compared(
        server.set_percentage(
            params.flag,
            params.value,
            of=params.of,
            group_id=params.group_id,
            actor=actor,
            reason=params.reason,
            create=params.create,
            if_revision=params.if_revision,
        )
    )


@verb("flags.actor", "one actor's gate: FLAG ID on|off|clear")
async def flags_actor(params: ActorParams, context: MethodContext) -> dict[str, Any]:
    server, actor = _writer(context)
    return await _compared(
        server.set_actor(
            params.flag,
            params.id,
            _on(params.state),
            actor=actor,
            reason=params.reason,
            if_revision=params.if_revision,
        )
    )


@verb("flags.group", "one group's gate: FLAG NAME on|off|clear")
async def flags_group(params: GroupParams, context: MethodContext) -> dict[str, Any]:
    server, actor = _writer(context)
    return await _compared(
        server.set_group(
            params.flag,
            params.name,
            _on(params.state),
            actor=actor,
            reason=params.reason,
            if_revision=params.if_revision,
        )
    )


@verb("flags.history", "the audit trail: who changed what, when, why, at which revision")
async def flags_history(params: HistoryParams, context: MethodContext) -> dict[str, Any]:
    server = _server()
    total = await server.store.count(params.flag)
    newest_first: list[dict[str, Any]] = []
    size, taken, full = 0, params.offset, False
    while not full and len(newest_first) < params.limit:
        # Read a batch at a time, newest first, so that a large limit never holds the whole page's
        # records at once; the change that crosses PAGE_BYTES is the page's last (paging.page's rule).
        want = min(_HISTORY_BATCH, params.limit - len(newest_first))
        batch = await server.store.history(params.flag, limit=want, skip=taken)
        for record in reversed(batch):
            item = record.to_json()
            newest_first.append(item)
            taken += 1
            size += encoded_size(item)
            if size >= PAGE_BYTES:
                full = True
                break
        if len(batch) < want:
            break  # the trail's oldest change is in
    return {
        "changes": newest_first[::-1],
        "revision": server.revision,
        "total": total,
        "next": taken if taken < total else None,
    }


@verb("flags.explain", "replay an evaluation: FLAG [ACTOR] [at=TIME]: the gate, the bucket, the change")
async def flags_explain(params: ExplainParams, context: MethodContext) -> dict[str, Any]:
    server = _server()
    at = None if params.at is None else parse_time(params.at)
    declaration = server.declaration(params.flag)
    history = await server.store.history(params.flag)
    return explain(
        params.flag,
        params.actor,
        history,
        at=at,
        groups=server.group,
        declared=declaration is not None,
        default=False if declaration is None else declaration.default,
    )


@verb("flags.lint", "undeclared flags evaluated, flags never evaluated since start, flags past expires")
async def flags_lint(params: NoParams, context: MethodContext) -> dict[str, Any]:
    return _server().lint()


def flags_methods() -> tuple[Method, ...]:
    """The flags' control methods."""
    return methods_of(globals())
