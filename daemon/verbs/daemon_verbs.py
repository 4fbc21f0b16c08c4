"""The core control methods about the daemon itself: hello, version, ping, status, reload, config,
shutdown. ``docs/control-protocol.md`` lists each one's params and result."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from daemon import __version__
from daemon.control.config import CONTROL_SERVER_NAME
from daemon.control.protocol import PROTOCOL_VERSION
from daemon.errors import ConfigError, ControlError
from daemon.masking import mask
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import Method, MethodContext, NoParams, methods_of, verb
from daemon.verbs.tree_paths import describe_tree
from supervisor import ArbordError, whereis

__all__ = ["HasMethods", "daemon_methods", "require_privileged"]

log = logging.getLogger("daemon.control")


@runtime_checkable
class HasMethods(Protocol):
    """A connection that knows the method table it is served with (for ``hello``)."""

    @property
    def methods(self) -> Mapping[str, Method]: ...


def require_privileged(context: MethodContext, what: str) -> None:
    """Refuse ``what`` unless the peer is the daemon's uid or root (not merely the control group):
    used by methods that import code or read arbitrary files as the daemon."""
    uid = context.connection.peer_uid
    if uid is not None and uid not in (os.geteuid(), 0):
        raise ControlError(
            ErrorCode.PERMISSION_DENIED,
            f"{what} is reserved to the daemon's uid and root (you are uid {uid})",
        )


class HelloParams(BaseModel):
    """``hello``: ``client`` names the caller in the daemon's log (optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str | None = None


@verb("hello", "protocol and daemon versions, the methods, who you are")
async def hello(params: HelloParams, context: MethodContext) -> dict[str, Any]:
    connection = context.connection
    if params.client is not None:
        log.info(
            "control connection %d is %.100r (pid %s)", connection.id, params.client, connection.peer_pid
        )
    names = sorted(connection.methods) if isinstance(connection, HasMethods) else []
    return {
        "daemon": "arbord",
        "version": __version__,
        "protocol": PROTOCOL_VERSION,
        "connection": connection.id,
        "peer": {"uid": connection.peer_uid, "pid": connection.peer_pid},
        "methods": names,
    }


@verb("methods", "every method: summary, streamed, params JSON schema")
async def describe_methods(params: NoParams, context: MethodContext) -> list[dict[str, Any]]:
    connection = context.connection
    table = connection.methods if isinstance(connection, HasMethods) else {}
    return [method.describe() for method in sorted(table.values(), key=lambda m: m.name)]


@verb("version", "daemon, protocol and Python versions, event loop")
async def version(params: NoParams, context: MethodContext) -> dict[str, Any]:
    return {
        "version": __version__,
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "platform": sys.platform,
    }


@verb("ping", "liveness: answers {pong: true}")
async def ping(params: NoParams, context: MethodContext) -> dict[str, bool]:
    return {"pong": True}


async def _paths_by_name(context: MethodContext) -> dict[str, str]:
    """Each registered supervisor's path in the tree (``arbord.servers`` → ``root/servers``)."""
    try:
        tree = await describe_tree(context.daemon.root)
    except (RuntimeError, ArbordError):  # no tree yet (starting), or it stopped while we walked
        return {}
    paths: dict[str, str] = {}

    def walk(node: Mapping[str, Any]) -> None:
        if node.get("name") is not None:
            paths[str(node["name"])] = str(node["path"])
        for child in node.get("children") or ():
            walk(child)

    walk(tree)
    return paths


def _child_path(paths: Mapping[str, str], supervisor: str, child: str) -> str:
    """A child named by its supervisor's label and its id, as a tree path where the label is known."""
    return f"{paths.get(supervisor, supervisor)}/{child}"


async def _with_tree_paths(summary: dict[str, Any], context: MethodContext) -> None:
    """Name the children of ``restarts`` and ``last_crash`` by their tree paths (``root/servers/echo``),
    the paths ``tree`` shows and ``restart_child`` takes."""
    restarts, crash = summary.get("restarts"), summary.get("last_crash")
    paths = await _paths_by_name(context) if (restarts and restarts["children"]) or crash else {}
    if restarts:
        restarts["children"] = {
            _child_path(paths, row["supervisor"], row["child"]): row["restarts"]
            for row in restarts["children"]
        }
    if crash is not None:
        summary["last_crash"] = {
            "time": crash["time"],
            "child": _child_path(paths, crash["supervisor"], crash["child"]),
            "reason": crash["reason"],
        }


@verb("status", "state, pid, uptime, restarts, last crash, version, loop, config path")
async def status(params: NoParams, context: MethodContext) -> dict[str, Any]:
    summary = dict(context.daemon.status())
    await _with_tree_paths(summary, context)
    control = whereis(CONTROL_SERVER_NAME)
    if control is not None:
        statistics = await control.call("statistics")
        summary["control"] = {
            "socket": statistics.socket,
            "connections": statistics.connections,
            "accepted": statistics.accepted,
            "refused": statistics.refused,
            "busy": statistics.busy,
        }
    return summary


@verb("reload", "re-read the configuration; apply what changed or keep the old")
async def reload(params: NoParams, context: MethodContext) -> dict[str, Any]:
    return dict(await context.daemon.reload())


@verb("config.show", "the configuration in force, secrets masked")
async def config_show(params: NoParams, context: MethodContext) -> Any:
    return mask(context.daemon.settings.model_dump(mode="json"))


class ConfigCheckParams(BaseModel):
    """``config.check``: an absolute path to a TOML file, read and validated by the daemon."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str


@verb("config.check", "validate a configuration file")
async def config_check(params: ConfigCheckParams, context: MethodContext) -> dict[str, Any]:
    require_privileged(context, "config.check")
    path = Path(params.path)
    if not path.is_absolute():
        raise ControlError(
            ErrorCode.INVALID_PARAMS, f"path {params.path!r} must be absolute (the daemon's cwd is not yours)"
        )
    from daemon.settings import load_settings  # the settings module imports the whole config model

    try:
        # A thread that always ends soon: read_toml takes regular files of at most MAX_CONFIG_BYTES
        # and never blocks on a FIFO, so a request that times out leaves nothing running for long
        # (``config.check /dev/zero`` once grew a thread's memory without end; test_settings_read).
        await asyncio.to_thread(load_settings, path)
    except ConfigError as error:
        return {"ok": False, "path": str(path), "errors": list(error.problems)}
    return {"ok": True, "path": str(path), "errors": []}


@verb("shutdown", "stop the daemon cleanly, as SIGTERM does")
async def shutdown(params: NoParams, context: MethodContext) -> dict[str, bool]:
    # Begin the stop after this reply is written: the control server drains in-flight requests,
    # this one included, before the rest of the tree stops.
    asyncio.get_running_loop().call_soon(context.daemon.request_shutdown)
    return {"stopping": True}


def daemon_methods() -> tuple[Method, ...]:
    """The methods about the daemon as a whole."""
    return methods_of(globals())
