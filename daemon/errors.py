"""The base of the daemon's errors and the errors of the daemon as a whole, in one flat hierarchy.

Each docstring says who raises the error and what to do about it. Library errors (``supervisor.errors``)
are not wrapped: a daemon error is one that only the daemon can raise. A component's own errors live
in its package (``daemon/registry/errors.py``, ``daemon/cache/errors.py``), each with the ``code`` a
verb that lets it escape is answered with; the names they had here stay importable from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from daemon.verbs.codes import ErrorCode

__all__ = [
    "AlreadyRunning",
    "ConfigError",
    "ConsoleError",
    "ControlError",
    "ControlSocketError",
    "DaemonError",
    "UnsafeSocketPath",
]

# The components' errors that used to be defined here, and where they live now. Imported on first
# use (PEP 562): a component's errors module imports this one for ``DaemonError``.
_MOVED: Final = MappingProxyType(
    {
        "AlreadyRegistered": "daemon.registry.errors",
        "NotIndexed": "daemon.registry.errors",
        "TooManyEntries": "daemon.registry.errors",
        "UnknownCache": "daemon.cache.errors",
    }
)


def __getattr__(name: str) -> Any:
    """``from daemon.errors import AlreadyRegistered`` still works (the old spelling, kept as an alias)."""
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DaemonError(Exception):
    """Base of every error the daemon raises.

    ``code``: the control protocol's error code a verb that lets this error escape is answered with
    (None: ``internal``, a bug). A component's errors set it on their class.
    """

    code: ErrorCode | None = None


class ConfigError(DaemonError):
    """The configuration was refused (at start: exit 78; on reload: the old one is kept).

    ``problems`` holds one line per problem, each naming the key, where it came from, the value given
    and what was expected.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ControlError(DaemonError):
    """A control method refused a request; becomes ``{"error": {"code", "message", ...}}`` in the reply.

    Raise it from a control method handler: ``code`` is an ``ErrorCode``, ``data`` extra JSON fields.
    """

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = dict(data) if data else {}


class ControlSocketError(DaemonError):
    """Raised by the control server's start when its socket cannot be served: the directory cannot be
    created, the path cannot be probed, or the bind failed. The daemon does not start (exit 1: a
    restart may succeed)."""


class UnsafeSocketPath(ControlSocketError):
    """The socket's place cannot be served safely: the directory is group/world-writable, owned by
    another uid or not a directory, or the path holds something that is not a socket. A restart
    cannot fix that, so the daemon exits 78 (EX_CONFIG) and systemd does not retry; fix the
    directory or the configured path."""


class AlreadyRunning(ControlSocketError):
    """Raised by the control server's start when a live daemon already answers on the socket path:
    this instance refuses to start. Stop the other one (``arborctl shutdown``) or configure another
    socket/runtime directory. ``peer_pid`` is the other daemon's pid when the kernel reports it."""

    def __init__(self, message: str, peer_pid: int | None = None) -> None:
        super().__init__(message)
        self.peer_pid = peer_pid


class ConsoleError(DaemonError):
    """Raised by the console server's start when the console cannot listen (bind failure, unsafe
    directory, busy port): the daemon does not start rather than run without the console it was
    configured with. Fix the ``[console]`` section or disable the console."""
