"""The core control methods about the supervision tree: tree, which_children, count_children, and
start/terminate/restart/delete_child by path (``daemon.verbs.tree_paths``).

``start_child`` takes the child spec as JSON: ``start`` names a ``supervisor.Server`` subclass as
``"package.module:ClassName"``, imported by the daemon, so it is reserved to the daemon's uid and root
(not to the control group). The other operations act on children that already have a spec.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from daemon.control.config import CONTROL_SERVER_NAME
from daemon.errors import ControlError
from daemon.sections import DEFAULT_START_TIMEOUT
from daemon.verbs.codes import ErrorCode
from daemon.verbs.daemon_verbs import require_privileged
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from daemon.verbs.paging import DEFAULT_LIMIT, Limit, Offset, PageParams, paged
from daemon.verbs.tree_paths import (
    ROOT,
    Resolved,
    child_label,
    describe_tree,
    resolve_child,
    resolve_supervisor,
)
from supervisor import (
    ChildInfo,
    ChildSpec,
    ChildType,
    DynamicSupervisor,
    Restart,
    Server,
    Shutdown,
    Supervisor,
    whereis,
)
from supervisor.errors import InvalidChildSpec

__all__ = ["ChildSpecParams", "tree_methods"]

_CALL_TIMEOUT = 30.0


class PathParams(BaseModel):
    """A supervisor's path (default: the root)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = ROOT


class TreeParams(PathParams):
    """``tree``: the subtree at ``path``, ``depth`` levels of children (None: all), at most ``limit``
    children of each supervisor (its first ones; ``offset`` skips some of the top node's)."""

    depth: int | None = Field(default=None, ge=0)
    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


class ChildrenParams(PathParams):
    """``which_children``: a page of at most ``limit`` children from ``offset``, in start order."""

    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


class ChildPathParams(BaseModel):
    """A child's path, e.g. ``root/core/registry``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str


class ChildSpecParams(BaseModel):
    """A ``ChildSpec`` as JSON. ``start`` is ``"package.module:ClassName"`` of a ``Server`` subclass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    start: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    restart: Literal["permanent", "transient", "temporary"] = "permanent"
    shutdown: float | Literal["brutal_kill", "infinity"] | None = Field(default=None)
    type: Literal["worker", "supervisor"] = "worker"
    name: str | None = None
    start_timeout: float = Field(default=DEFAULT_START_TIMEOUT, gt=0, le=3600, allow_inf_nan=False)
    """Seconds its ``init`` may take; a start from the socket always has a limit, so that it can never
    wedge the supervisor it is added to (docs/otp-conformance.md#start-timeouts)."""


class StartChildParams(BaseModel):
    """``start_child``: add ``spec`` to the supervisor at ``path`` and start it. Under ``root`` itself
    only with ``force``: a child there that crashes too often makes the root give up, and the
    daemon with it (``root/servers`` is the supervisor for such children)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = ROOT
    spec: ChildSpecParams
    force: bool = False


def _info(label: str, info: ChildInfo) -> dict[str, Any]:
    server = info.server
    return {
        "id": label,
        "type": info.type.value,
        "state": info.state.value,
        "restarts": info.restarts,
        "uptime": info.uptime,
        "name": server.name if server is not None else None,
    }


@verb("tree", "the supervision tree: each child's state, restarts, uptime")
async def tree(params: TreeParams, context: MethodContext) -> dict[str, Any]:
    return await describe_tree(
        context.daemon.root, params.path, depth=params.depth, limit=params.limit, offset=params.offset
    )


@verb("which_children", "a supervisor's children, in start order (paged)")
async def which_children(params: ChildrenParams, context: MethodContext) -> dict[str, Any]:
    supervisor = await resolve_supervisor(context.daemon.root, params.path)
    children = list(reversed(await supervisor.which_children(_CALL_TIMEOUT)))
    page = PageParams(limit=params.limit, offset=params.offset)
    return paged("children", children, page, lambda info: _info(child_label(info), info))


@verb("count_children", "a supervisor's child counts")
async def count_children(params: PathParams, context: MethodContext) -> dict[str, int]:
    supervisor = await resolve_supervisor(context.daemon.root, params.path)
    counts = await supervisor.count_children(_CALL_TIMEOUT)
    return {
        "specs": counts.specs,
        "active": counts.active,
        "supervisors": counts.supervisors,
        "workers": counts.workers,
    }


def _import_server(target: str) -> type[Server]:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        found = getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, f"cannot import {target!r}: {error}") from None
    if not (isinstance(found, type) and issubclass(found, Server)):
        raise ControlError(ErrorCode.INVALID_PARAMS, f"{target!r} is not a supervisor.Server subclass")
    return found


def _child_spec(params: ChildSpecParams) -> ChildSpec:
    shutdown: float | Shutdown | None
    shutdown = Shutdown(params.shutdown) if isinstance(params.shutdown, str) else params.shutdown
    try:
        return ChildSpec(
            params.id,
            _import_server(params.start),
            args=tuple(params.args),
            kwargs=params.kwargs,
            restart=Restart(params.restart),
            shutdown=shutdown,
            type=ChildType(params.type),
            name=params.name,
            start_timeout=params.start_timeout,
        )
    except InvalidChildSpec as error:
        raise ControlError(ErrorCode.INVALID_PARAMS, str(error)) from None


@verb("start_child", "add and start a child from a JSON spec")
async def start_child(params: StartChildParams, context: MethodContext) -> dict[str, Any]:
    require_privileged(context, "start_child")
    supervisor = await resolve_supervisor(context.daemon.root, params.path)
    if supervisor is context.daemon.root and not params.force:
        # A crashing child under the root spends the root's intensity: past it the root gives up
        # and the daemon exits 70 (issue 11, test_start_child_under_the_root_needs_force).
        raise ControlError(
            ErrorCode.INVALID_PARAMS,
            "start_child under root itself is refused: a child there that keeps crashing takes the "
            "whole daemon down; start it under a supervisor below (root/servers), or pass force=true",
            {"path": params.path},
        )
    spec = await asyncio.to_thread(_child_spec, params.spec)  # an import may touch the disk
    server = await supervisor.start_child(spec, _CALL_TIMEOUT)
    label = params.spec.id
    if isinstance(supervisor, DynamicSupervisor) and server is not None:
        label = server.name or f"@{id(server):x}"
    path = f"{params.path.strip().strip('/')}/{label}"
    return {"path": path, "started": server is not None, "name": server.name if server else None}


def _not_the_control_server(found: Resolved, operation: str) -> None:
    # The request would wait for the server that is serving it to stop: refuse instead of cutting
    # ourselves off (the daemon would be left without its control socket).
    control = whereis(CONTROL_SERVER_NAME)
    if control is not None and found.info.server is control:
        raise ControlError(
            ErrorCode.CONFLICT, f"{operation} cannot act on the control server itself; use shutdown or reload"
        )


@verb("terminate_child", "stop a child; it is not restarted")
async def terminate_child(params: ChildPathParams, context: MethodContext) -> dict[str, Any]:
    found = await resolve_child(context.daemon.root, params.path)
    _not_the_control_server(found, "terminate_child")
    if isinstance(found.parent, DynamicSupervisor):
        if found.info.server is None:
            raise ControlError(ErrorCode.CONFLICT, f"{params.path!r} is not running")
        await found.parent.terminate_child(found.info.server, _CALL_TIMEOUT)
    else:
        await found.parent.terminate_child(found.label, _CALL_TIMEOUT)
    return {"path": params.path, "state": "undefined"}


def _static_parent(found_parent: Supervisor | DynamicSupervisor, operation: str) -> Supervisor:
    if not isinstance(found_parent, Supervisor):
        raise ControlError(
            ErrorCode.CONFLICT, f"{operation} needs a child id: a DynamicSupervisor's children have none"
        )
    return found_parent


@verb("restart_child", "start a stopped child again")
async def restart_child(params: ChildPathParams, context: MethodContext) -> dict[str, Any]:
    found = await resolve_child(context.daemon.root, params.path)
    parent = _static_parent(found.parent, "restart_child")
    server = await parent.restart_child(found.label, _CALL_TIMEOUT)
    return {"path": params.path, "started": server is not None}


@verb("delete_child", "forget a stopped child's spec")
async def delete_child(params: ChildPathParams, context: MethodContext) -> dict[str, Any]:
    found = await resolve_child(context.daemon.root, params.path)
    parent = _static_parent(found.parent, "delete_child")
    await parent.delete_child(found.label, _CALL_TIMEOUT)
    return {"path": params.path, "deleted": True}


def tree_methods() -> tuple[Method, ...]:
    """The methods about the supervision tree."""
    return methods_of(globals())
