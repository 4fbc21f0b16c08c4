"""Every error the ``supervisor`` library raises, in one flat hierarchy.

Each docstring says who raises the error and what to do about it. Cancellation is never wrapped: it stays
``asyncio.CancelledError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supervisor.exits import Exit

__all__ = [
    "AccessDenied",
    "AlreadyStarted",
    "ArbordError",
    "CallTimeout",
    "CallingSelf",
    "ChildAlreadyPresent",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "HandlerExists",
    "HandlerNotFound",
    "InitIgnored",
    "InvalidChildSpec",
    "InvalidSupervisorFlags",
    "MaxChildren",
    "NoProc",
    "NotInServer",
    "ServerExited",
    "StartFailed",
    "TableError",
    "TableGone",
    "TableNameTaken",
    "UnknownRequest",
]


class ArbordError(Exception):
    """Base class of every error raised by ``supervisor``; catch it to catch them all."""


# --- servers and calls -------------------------------------------------------------------------


class NoProc(ArbordError):
    """Raised by ``call``/``stop`` when the server is not running (never started, or exited).

    OTP's ``noproc``. Look the server up again with ``whereis``: a supervisor may have restarted it.
    """


class CallTimeout(ArbordError, TimeoutError):
    """Raised by ``call`` when no reply came within the timeout. A reply that arrives later is discarded."""


class ServerExited(ArbordError):
    """Raised by ``call`` when the server exited before replying; ``reason`` is its exit reason."""

    def __init__(self, message: str, reason: Exit) -> None:
        super().__init__(message)
        self.reason = reason


class CallingSelf(ArbordError):
    """Raised when a server calls itself, which would deadlock. Handle the request inline instead."""


class AlreadyStarted(ArbordError):
    """Raised when a server is started under a name that a live server holds; ``holder`` is that server."""

    def __init__(self, message: str, holder: object) -> None:
        super().__init__(message)
        self.holder = holder


class StartFailed(ArbordError):
    """Raised by ``start`` when ``init`` raised or stopped; ``reason`` is the exit reason.

    Under a supervisor this becomes a start failure that stops the supervisor's startup, or a failed
    restart that is retried through the supervisor's mailbox.
    """

    def __init__(self, message: str, reason: Exit) -> None:
        super().__init__(message)
        self.reason = reason


class InitIgnored(ArbordError):
    """Raised by ``Server.start`` when ``init`` raised ``Ignore`` (supervisors: OTP's ``ignore``)."""


class NotInServer(ArbordError):
    """Raised by ``monitor`` and friends when called outside a server where a server is required."""


# --- supervisors ---------------------------------------------------------------------------------


class InvalidChildSpec(ArbordError, ValueError):
    """A child spec is malformed. The message names the child and the field; fix the spec."""


class InvalidSupervisorFlags(ArbordError, ValueError):
    """Supervisor flags (``SupervisorFlags`` or a supervisor's keyword arguments) are invalid.

    The message names the field and the value; fix the flags.
    """


class UnknownRequest(ArbordError, TypeError):
    """A supervisor was called with something that is not one of its management requests.

    Use the supervisor's methods (``which_children()``...), not ``call`` with a request of your own.
    """


class ChildNotFound(ArbordError, LookupError):
    """OTP's ``{error, not_found}``: no child with that id (or, for a dynamic supervisor, that server)."""


class ChildRunning(ArbordError):
    """OTP's ``{error, running}``: the operation needs a stopped child; terminate it first."""


class ChildRestarting(ArbordError):
    """OTP's ``{error, restarting}``: a failed restart is being retried; wait or terminate the child."""


class ChildAlreadyPresent(ArbordError):
    """OTP's ``{error, already_present}``: the id exists but is not running; use ``restart_child``."""


class MaxChildren(ArbordError):
    """A dynamic supervisor's ``max_children`` is reached; terminate a child or raise the limit."""


# --- tables -------------------------------------------------------------------------------------


class TableError(ArbordError):
    """Base of table errors (ETS's ``badarg``): a bad key, row, pattern or operation for the table type."""


class TableGone(TableError):
    """The table was deleted (explicitly, or because its owner exited with no heir)."""


class AccessDenied(TableError):
    """The caller may not perform this operation under the table's access level; the message says which."""


class TableNameTaken(TableError):
    """A named table with this name already exists."""


# --- telemetry ----------------------------------------------------------------------------------


class HandlerExists(ArbordError):
    """``telemetry.attach``: a handler with this id is already attached; detach it or pick another id."""


class HandlerNotFound(ArbordError):
    """``telemetry.detach``: no handler with this id is attached."""
