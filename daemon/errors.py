"""Every error the arbord daemon raises, in one flat hierarchy.

Each docstring says who raises the error and what to do about it. Library errors (``supervisor.errors``)
are not wrapped: a daemon error is one that only the daemon can raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only an annotation here: importing daemon.control at run time would import the whole control
    # package, which imports this module (a cycle when daemon.errors is imported first).
    from daemon.control.codes import ErrorCode

__all__ = [
    "AlreadyRegistered",
    "AlreadyRunning",
    "ConfigError",
    "ConsoleError",
    "ControlError",
    "ControlSocketError",
    "DaemonError",
    "NotIndexed",
    "TooManyEntries",
    "UnknownCache",
    "UnsafeSocketPath",
]


class DaemonError(Exception):
    """Base of every error the daemon raises."""


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


class AlreadyRegistered(DaemonError):
    """Raised by the agent registry when a key is held by a live owner; ``owner`` names that owner."""

    def __init__(self, message: str, owner: object) -> None:
        super().__init__(message)
        self.owner = owner


class NotIndexed(DaemonError, LookupError):
    """Raised by ``find_by_attribute`` for an attribute the registry does not index: configure it."""


class TooManyEntries(DaemonError):
    """Raised by the agent registry when an owner already holds ``registry.max_entries_per_owner``
    entries: unregister some, or raise the limit in the configuration."""


class UnknownCache(DaemonError, LookupError):
    """Raised when a cache name is not configured under the cache supervisor."""
