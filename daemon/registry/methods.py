"""The registry's control methods: ``registry.register/unregister/lookup/find/query/list/count``.

Keys are strings and metadata is a JSON object. An entry registered over a connection is owned by
that connection's task, so it vanishes when the client disconnects: an external process keeps a
connection open for as long as it wants to be found (a local service registry with liveness for
free). ``registry.unregister`` removes the caller's own entry; ``force`` removes anyone's.

Entries are returned as ``{"key", "owner", "metadata"}``, ``owner`` being a label such as
``server arbord.x`` or ``task control-connection-3``. ``list``, ``find`` and ``query`` answer a page:
``{"entries", "total", "next"}``, from ``offset`` (default 0) for at most ``limit`` entries (default
1000, at most 10 000) and about 256 KiB; ``next`` is the next page's ``offset``, None after the last
(daemon/verbs/paging.py).

Every verb goes through ``SwitchedRegistry`` (daemon/registry/switched.py): the flag
``use_ets_agent_registry`` chooses, per key, the registry's tables or the legacy dict, and the reads
see both; ``registry.backends`` says which path serves and how many live entries each holds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from daemon.errors import ControlError
from daemon.registry.entry import Entry, describe_owner
from daemon.registry.errors import AlreadyRegistered, NotIndexed, TooManyEntries
from daemon.registry.registry import registry_named
from daemon.registry.spec import REGISTRY_NAME
from daemon.registry.switched import REGISTRY_FLAG, SwitchedRegistry
from daemon.verbs.codes import ErrorCode
from daemon.verbs.jsonable import jsonable
from daemon.verbs.method import Method, MethodContext, NoParams, methods_of, verb
from daemon.verbs.paging import DEFAULT_LIMIT, Offset, page
from daemon.verbs.paging import Limit as Limit
from supervisor import NoProc

__all__ = ["entry_json", "registry_methods"]

Key = Annotated[str, Field(min_length=1, max_length=1024)]
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class KeyParams(BaseModel):
    """A key of the registry."""

    model_config = _FROZEN

    key: Key


class RegisterParams(KeyParams):
    """``registry.register``: the key and its metadata (a JSON object)."""

    metadata: dict[str, Any] = Field(default_factory=dict)


class UnregisterParams(KeyParams):
    """``registry.unregister``: ``force`` removes the key whoever holds it."""

    force: bool = False


class ListParams(BaseModel):
    """A page of at most ``limit`` entries from ``offset``; ``total`` says how many matched."""

    model_config = _FROZEN

    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


class FindParams(ListParams):
    """``registry.find``: entries whose indexed ``attribute`` is (or contains) ``value``."""

    attribute: str
    value: str | int | float | bool


class CriterionParams(BaseModel):
    """One criterion: the value at ``path`` (``"a.b"`` or ``["a", "b"]``) compared by ``op``."""

    model_config = _FROZEN

    path: str | list[str]
    op: Literal["eq", "neq", "gt", "lt", "gte", "lte", "in", "not_in"]
    value: Any = None


class QueryParams(ListParams):
    """``registry.query``: entries matching every criterion."""

    criteria: list[CriterionParams] = Field(max_length=64)


def entry_json(entry: Entry) -> dict[str, Any]:
    """An entry as JSON: key, owner label, metadata."""
    return {
        "key": jsonable(entry.key),
        "owner": describe_owner(entry.owner),
        "metadata": jsonable(dict(entry.metadata)),
    }


def _registry() -> SwitchedRegistry:
    """The daemon's registry behind ``use_ets_agent_registry`` (daemon/registry/switched.py): each
    verb is served by the path the flag chooses, and sees the entries of both."""
    try:
        registry_named(REGISTRY_NAME)
    except NoProc:
        message = "the registry is not running (restarting?): try again"
        raise ControlError(ErrorCode.SERVER_DOWN, message, {"server": REGISTRY_NAME}) from None
    return SwitchedRegistry(REGISTRY_NAME)


def _listed(entries: list[Entry], params: ListParams) -> dict[str, Any]:
    listed = page(entries, params.offset, params.limit, entry_json)
    return {"entries": listed.items, "total": len(entries), "next": listed.next}


@verb("registry.register", "register a key for this connection")
async def registry_register(params: RegisterParams, context: MethodContext) -> dict[str, Any]:
    try:
        entry = _registry().register(params.key, context.connection.task, params.metadata)
    except AlreadyRegistered as taken:
        owner = describe_owner(taken.owner)
        raise ControlError(ErrorCode.CONFLICT, str(taken), {"owner": owner}) from None
    except TooManyEntries as full:
        raise ControlError(ErrorCode.CONFLICT, str(full)) from None
    return entry_json(entry)


@verb("registry.unregister", "remove this connection's key")
async def registry_unregister(params: UnregisterParams, context: MethodContext) -> dict[str, bool]:
    registry = _registry()
    if params.force:
        return {"removed": registry.unregister(params.key)}
    held = registry.lookup_all(params.key)
    if held and all(e.owner is not context.connection.task for e in held):
        owner = describe_owner(held[0].owner)
        raise ControlError(
            ErrorCode.CONFLICT,
            f"{params.key!r} is registered by {owner}, not by this connection (use force)",
            {"owner": owner},
        )
    return {"removed": registry.unregister(params.key, context.connection.task)}


@verb("registry.lookup", "the live owner and metadata of a key")
async def registry_lookup(params: KeyParams, context: MethodContext) -> dict[str, Any]:
    entry = _registry().lookup(params.key)
    if entry is None:
        raise ControlError(ErrorCode.NOT_FOUND, f"{params.key!r} is not registered", {"key": params.key})
    return entry_json(entry)


@verb("registry.find", "entries by an indexed attribute")
async def registry_find(params: FindParams, context: MethodContext) -> dict[str, Any]:
    try:
        entries = _registry().find_by_attribute(params.attribute, params.value)
    except NotIndexed as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, str(error), {"attribute": params.attribute}) from None
    return _listed(entries, params)


@verb("registry.query", "entries matching metadata criteria")
async def registry_query(params: QueryParams, context: MethodContext) -> dict[str, Any]:
    criteria = [c.model_dump() for c in params.criteria]
    try:
        entries = await _registry().scan(criteria)
    except ValueError as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, str(error)) from None
    return _listed(entries, params)


@verb("registry.list", "every live entry")
async def registry_list(params: ListParams, context: MethodContext) -> dict[str, Any]:
    return _listed(await _registry().scan(), params)


@verb("registry.count", "how many live entries")
async def registry_count(params: NoParams, context: MethodContext) -> dict[str, int]:
    return {"count": len(await _registry().scan())}


@verb("registry.backends", "which path serves the registry, and the live entries each holds")
async def registry_backends(params: NoParams, context: MethodContext) -> dict[str, Any]:
    registry = _registry()
    return {"flag": REGISTRY_FLAG, "backend": registry.backend(), "entries": registry.held()}


def registry_methods() -> tuple[Method, ...]:
    """The registry's control methods (entries registered here belong to the connection)."""
    return methods_of(globals())
