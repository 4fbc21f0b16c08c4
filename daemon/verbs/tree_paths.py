"""Naming children by path and describing the supervision tree as JSON.

A path is ``root`` followed by child ids separated by ``/``: ``root/core/registry`` is the child
``registry`` of the supervisor ``core``, itself a child of the root. A child of a DynamicSupervisor has
no id; it is named by its registered name, else by ``@`` and its server's hex id (as ``tree`` shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from daemon.errors import ControlError
from daemon.verbs.codes import ErrorCode
from supervisor import ChildInfo, DynamicSupervisor, NoProc, ServerExited, Supervisor

__all__ = ["ROOT", "Resolved", "child_label", "describe_tree", "resolve_child", "resolve_supervisor"]

ROOT: Final = "root"
_CALL_TIMEOUT: Final = 5.0

AnySupervisor = Supervisor | DynamicSupervisor


def child_label(info: ChildInfo) -> str:
    """How a child is named in paths: its id, else its registered name, else ``@<hex id>``."""
    if info.id is not None:
        return info.id
    if info.server is not None:
        return info.server.name or f"@{id(info.server):x}"
    return "@gone"


def _segments(path: str) -> list[str]:
    parts = [p for p in path.strip().strip("/").split("/") if p]
    if not parts or parts[0] != ROOT:
        raise ControlError(
            ErrorCode.NOT_FOUND, f"path {path!r} must start with {ROOT!r} (e.g. 'root/core/registry')"
        )
    return parts[1:]


async def _children(supervisor: AnySupervisor) -> list[ChildInfo]:
    """Children in start order (which_children lists the most recent first, as OTP does)."""
    return list(reversed(await supervisor.which_children(_CALL_TIMEOUT)))


async def _find(supervisor: AnySupervisor, label: str, path: str) -> ChildInfo:
    for info in await _children(supervisor):
        if child_label(info) == label:
            return info
    raise ControlError(ErrorCode.NOT_FOUND, f"no child {label!r} in {path!r}", {"path": path})


async def resolve_supervisor(root: Supervisor, path: str) -> AnySupervisor:
    """The running supervisor at ``path``; ``ControlError`` (not_found/conflict) otherwise."""
    node: AnySupervisor = root
    walked = ROOT
    for label in _segments(path):
        info = await _find(node, label, walked)
        walked = f"{walked}/{label}"
        server = info.server
        if not isinstance(server, Supervisor | DynamicSupervisor):
            raise ControlError(
                ErrorCode.CONFLICT, f"{walked!r} is not a running supervisor", {"path": walked}
            )
        node = server
    return node


@dataclass(frozen=True, slots=True)
class Resolved:
    """A child named by a path: its parent supervisor, its id there and its current record."""

    parent: AnySupervisor
    label: str
    info: ChildInfo


async def resolve_child(root: Supervisor, path: str) -> Resolved:
    """The child at ``path`` (not the root itself); ``ControlError`` if a step does not exist."""
    parts = _segments(path)
    if not parts:
        raise ControlError(ErrorCode.CONFLICT, "the root is not a child: name one of its children")
    parent_path = "/".join([ROOT, *parts[:-1]])
    parent = await resolve_supervisor(root, parent_path)
    info = await _find(parent, parts[-1], parent_path)
    return Resolved(parent, parts[-1], info)


def _node(path: str, label: str, info: ChildInfo | None, server: object) -> dict[str, Any]:
    node: dict[str, Any] = {"id": label, "path": path}
    if info is None:
        stats = server.statistics() if isinstance(server, Supervisor) else None
        node.update(type="supervisor", state="running", restarts=0, uptime=stats.uptime if stats else None)
    else:
        node.update(type=info.type.value, state=info.state.value, restarts=info.restarts, uptime=info.uptime)
    if isinstance(server, Supervisor):
        node["strategy"] = server.strategy.value
    elif isinstance(server, DynamicSupervisor):
        node["strategy"] = "dynamic"
    name = getattr(server, "name", None)
    if name is not None:
        node["name"] = name
    return node


async def describe_tree(
    root: Supervisor,
    path: str = ROOT,
    *,
    depth: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """The subtree at ``path`` as nested dicts: id, path, type, state, restarts, uptime, strategy and
    name where they apply, and ``children`` for supervisors (``depth`` levels of them; None: all).

    A reply must not grow without bound with a supervisor's children (a dynamic supervisor may have
    thousands): each supervisor shows at most ``limit`` of them (None: all), the top node's from
    ``offset`` on; a supervisor that has more says so with ``children_total`` and ``children_next``
    (the ``offset`` that shows the next ones, for its own path)."""
    if _segments(path):
        resolved = await resolve_child(root, path)
        walked = "/".join([ROOT, *_segments(path)])
        node = _node(walked, resolved.label, resolved.info, resolved.info.server)
        server = resolved.info.server
    else:
        walked, server = ROOT, root
        node = _node(ROOT, ROOT, None, root)
    if isinstance(server, Supervisor | DynamicSupervisor):
        await _describe_children(node, server, walked, depth, limit, offset)
    return node


async def _describe_children(
    node: dict[str, Any],
    supervisor: AnySupervisor,
    path: str,
    depth: int | None,
    limit: int | None,
    offset: int = 0,
) -> None:
    if depth is not None and depth <= 0:
        node["children"] = None
        return
    try:
        children = await _children(supervisor)
    except (NoProc, ServerExited):
        node["children"] = None  # it stopped while we walked: shown without children
        return
    end = len(children) if limit is None else min(len(children), offset + limit)
    if offset > 0 or end < len(children):
        node["children_total"] = len(children)
        node["children_next"] = end if end < len(children) else None
    nodes = []
    for info in children[offset:end]:
        label = child_label(info)
        child_path = f"{path}/{label}"
        child = _node(child_path, label, info, info.server)
        if isinstance(info.server, Supervisor | DynamicSupervisor):
            await _describe_children(
                child, info.server, child_path, None if depth is None else depth - 1, limit
            )
        nodes.append(child)
    node["children"] = nodes
