"""OFREP's place in the tree: a child of the flags component that mounts the two routes on the HTTP
listener ``arbord.http`` and keeps them mounted.

::

    arbord.root
    ├── http      HttpListener   arbord.http          only with [telemetry.prometheus] listen
    ...
    ├── flags     Flags          arbord.flags
    ├── migration ...
    ├── ofrep     OfrepMount     arbord.flags.ofrep   only with [flags] ofrep = true

``[flags] ofrep = true`` without a listener is a configuration error (exit 78 at start, naming both
keys; a reload that would remove it is refused: daemon/flags/component.py), never a daemon that
silently serves nothing. A listener's routes are those of its start, so the mount follows the
listener: it watches it (a monitor) and hears every start of a server named ``arbord.http`` (the
bus's ``("server", "start")``); when the listener restarts, or a reload of ``[telemetry]`` replaces
it, the routes are on the new one before its start returns. The mount never exits for that, so a
restarting listener cannot make it crash-loop; between the two OFREP is not served, and the log says
so. Stopping, the mount unmounts the routes. The handlers find the flags server by name on each
request: a restart of the flags server needs nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from daemon.errors import ConfigError
from daemon.flags.ofrep.protocol import BULK_PATH, SINGLE_PREFIX, evaluate_bulk, evaluate_one
from daemon.telemetry.http_listener import HttpListener, Route
from daemon.telemetry.metrics_tree import HTTP_NAME
from supervisor import (
    Caller,
    ChildSpec,
    Down,
    Exit,
    MonitorRef,
    Server,
    demonitor,
    monitor,
    telemetry,
    whereis,
)
from supervisor.errors import HandlerNotFound

__all__ = ["OFREP_NAME", "OFREP_ROUTES", "OfrepMount", "ofrep_child_spec"]

log = logging.getLogger("arbord.flags.ofrep")

OFREP_NAME: Final = "arbord.flags.ofrep"
SERVER_START: Final = ("server", "start")
"""Every server's start on the bus (docs/telemetry.md; metadata ``server``, ``name``): how the mount
hears of a new listener."""

OFREP_ROUTES: Final = (
    Route(BULK_PATH, evaluate_bulk, methods=("POST",)),
    Route(SINGLE_PREFIX, evaluate_one, methods=("POST",)),
)

NO_LISTENER: Final = (
    "[flags] ofrep = true serves OFREP on the HTTP listener, but [telemetry.prometheus] listen is not "
    'set: set it (e.g. listen = "127.0.0.1:9464") or set [flags] ofrep = false'
)


@dataclass(frozen=True, slots=True)
class _ListenerUp:
    listener: HttpListener


class OfrepMount(Server):
    """Mounts ``OFREP_ROUTES`` on the running ``arbord.http`` (``ConfigError`` if there is none) and
    on every listener started under that name after it. ``call("listener")``: the listener the
    routes are on, or None."""

    async def init(self) -> None:
        listener = whereis(HTTP_NAME)
        if not isinstance(listener, HttpListener):
            raise ConfigError([NO_LISTENER])
        self._listener: HttpListener | None = None
        self._ref: MonitorRef | None = None
        self._handler_id = f"{OFREP_NAME}@{id(self):x}"
        telemetry.attach(self._handler_id, SERVER_START, self._on_server_start)
        self._mount(listener)

    def _on_server_start(
        self, event: object, measurements: Mapping[str, float], metadata: Mapping[str, Any], _: object
    ) -> None:
        # In the starting server's task: only a message to this mount.
        if not self.alive:
            telemetry.detach(self._handler_id)  # killed without its terminate: leave the bus
            return
        server = metadata.get("server")
        if metadata.get("name") == HTTP_NAME and isinstance(server, HttpListener):
            # The routes go on now, before the listener's start returns (a dict insert each): once
            # its supervisor has it running, it serves OFREP. The mount then watches it.
            for route in OFREP_ROUTES:
                server.mount(route)
            self.send(_ListenerUp(server))

    def _mount(self, listener: HttpListener) -> None:
        if listener is self._listener or not listener.alive:
            return
        if self._ref is not None:
            demonitor(self._ref, flush=True)
        for route in OFREP_ROUTES:
            listener.mount(route)
        self._listener = listener
        self._ref = monitor(listener, watcher=self)
        log.info("OFREP on http://%s:%d/ofrep/v1/evaluate/flags", listener.host, listener.port)

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, _ListenerUp):
            self._mount(message.listener)
        elif isinstance(message, Down) and message.ref is self._ref:
            self._listener, self._ref = None, None
            log.warning("OFREP is not served: the HTTP listener exited (%r); waiting for it", message.reason)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "listener":
            return self._listener
        raise ValueError(f"unknown request {request!r}")

    async def terminate(self, reason: Exit) -> None:
        try:
            telemetry.detach(self._handler_id)
        except HandlerNotFound:  # detached by the bus after a failure (logged there)
            pass
        if self._listener is not None and self._listener.alive:
            for route in OFREP_ROUTES:
                self._listener.unmount(route.path)


def ofrep_child_spec() -> ChildSpec:
    """The mount's child spec (the flags component adds it when ``[flags] ofrep`` is true)."""
    return ChildSpec("ofrep", OfrepMount, name=OFREP_NAME)
