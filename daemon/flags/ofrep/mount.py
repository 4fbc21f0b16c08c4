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
keys), never a daemon that silently serves nothing. The mount watches the listener: when the listener
restarts (its routes are its start's), the mount stops abnormally and the root restarts it, which
mounts the routes again on the new listener. Stopping, it unmounts them. The handlers find the flags
server by name on each request, so a restart of the flags server needs nothing here.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from daemon.errors import ConfigError
from daemon.flags.ofrep.protocol import BULK_PATH, SINGLE_PREFIX, evaluate_bulk, evaluate_one
from daemon.telemetry.http_listener import HttpListener, Route
from daemon.telemetry.metrics_tree import HTTP_NAME
from supervisor import ChildSpec, Down, Exit, Server, monitor, whereis

__all__ = ["OFREP_NAME", "OFREP_ROUTES", "OfrepMount", "ofrep_child_spec"]

log = logging.getLogger("arbord.flags.ofrep")

OFREP_NAME: Final = "arbord.flags.ofrep"

OFREP_ROUTES: Final = (
    Route(BULK_PATH, evaluate_bulk, methods=("POST",)),
    Route(SINGLE_PREFIX, evaluate_one, methods=("POST",)),
)

NO_LISTENER: Final = (
    "[flags] ofrep = true serves OFREP on the HTTP listener, but [telemetry.prometheus] listen is not "
    'set: set it (e.g. listen = "127.0.0.1:9464") or set [flags] ofrep = false'
)


class ListenerRestarted(Exception):
    """The HTTP listener this mount's routes were on exited; the restarted mount mounts them again."""


class OfrepMount(Server):
    """Mounts ``OFREP_ROUTES`` on the running ``arbord.http`` (``ConfigError`` if there is none)."""

    async def init(self) -> None:
        listener = whereis(HTTP_NAME)
        if not isinstance(listener, HttpListener):
            raise ConfigError([NO_LISTENER])
        for route in OFREP_ROUTES:
            listener.mount(route)
        self._listener = listener
        self._ref = monitor(listener, watcher=self)
        log.info("OFREP on http://%s:%d/ofrep/v1/evaluate/flags", listener.host, listener.port)

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, Down) and message.ref is self._ref:
            raise ListenerRestarted(f"the HTTP listener exited ({message.reason!r})")

    async def terminate(self, reason: Exit) -> None:
        if self._listener.alive:
            for route in OFREP_ROUTES:
                self._listener.unmount(route.path)


def ofrep_child_spec() -> ChildSpec:
    """The mount's child spec (the flags component adds it when ``[flags] ofrep`` is true)."""
    return ChildSpec("ofrep", OfrepMount, name=OFREP_NAME)
