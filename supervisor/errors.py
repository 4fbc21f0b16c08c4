"""Every error the ``supervisor`` library raises, in one short hierarchy.

Each docstring says who raises the error and what to do about it. Cancellation is never wrapped: it stays
``asyncio.CancelledError``. The middle classes group errors by what the caller was doing, so one
``except`` clause handles a whole family::

    ArbordError
    ├── CallError              a call or stop could not be completed
    │   ├── ServerDown         the server cannot answer: it is gone
    │   │   ├── NoProc         nobody runs there (OTP's noproc)
    │   │   └── ServerExited   the server exited before replying
    │   ├── CallTimeout        no reply in time (also a TimeoutError)
    │   └── CallingSelf        a server called itself
    ├── StartError             a server did not start
    │   ├── AlreadyStarted     the name is held by a live server
    │   ├── StartFailed        init raised or stopped
    │   └── InitIgnored        init raised Ignore
    ├── NotInServer            a server-only operation outside a server
    ├── InvalidConfiguration   a spec or flags were refused before anything started (also a ValueError)
    │   ├── InvalidChildSpec
    │   └── InvalidSupervisorFlags
    ├── ChildError             a supervisor refused a management request
    │   ├── ChildNotFound      (also a LookupError)
    │   ├── ChildRunning
    │   ├── ChildRestarting
    │   ├── ChildAlreadyPresent
    │   ├── MaxChildren
    │   └── UnknownRequest     not a management request (also a TypeError)
    ├── SupervisorGaveUp       a supervisor gave up while its ``async with`` body ran
    ├── TableError             ETS's badarg: a bad key, row, pattern or operation
    │   ├── TableGone
    │   ├── AccessDenied
    │   └── TableNameTaken
    └── TelemetryError         a telemetry handler could not be attached or detached
        ├── HandlerExists
        └── HandlerNotFound

>>> issubclass(NoProc, CallError) and issubclass(CallTimeout, TimeoutError)
True

A caller of a server that crashed never hangs: it gets ``ServerDown`` (``NoProc`` while nobody holds
the name, between a crash and the restart's registration; ``ServerExited`` for a call in flight when
the server died) or ``CallTimeout``, the fault matrix's "ServerDown/Timeout":

>>> issubclass(NoProc, ServerDown) and issubclass(ServerExited, ServerDown)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supervisor._exits import Exit

__all__ = [
    "AccessDenied",
    "AlreadyStarted",
    "ArbordError",
    "CallError",
    "CallTimeout",
    "CallingSelf",
    "ChildAlreadyPresent",
    "ChildError",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "HandlerExists",
    "HandlerNotFound",
    "InitIgnored",
    "InvalidChildSpec",
    "InvalidConfiguration",
    "InvalidSupervisorFlags",
    "MaxChildren",
    "NoProc",
    "NotInServer",
    "ServerDown",
    "ServerExited",
    "StartError",
    "StartFailed",
    "SupervisorGaveUp",
    "TableError",
    "TableGone",
    "TableNameTaken",
    "TelemetryError",
    "UnknownRequest",
]


class ArbordError(Exception):
    """Base class of every error raised by ``supervisor``; catch it to catch them all."""


# --- servers and calls -------------------------------------------------------------------------


class CallError(ArbordError):
    """Base of the errors of ``call`` (and ``stop``): the request did not get its answer."""


class StartError(ArbordError):
    """Base of the errors of starting a server: it is not running as asked."""


class ServerDown(CallError):
    """Base of the errors of a call whose server is gone: ``NoProc`` (not running when called: never
    started, stopped, or crashed and not restarted yet) and ``ServerExited`` (it died with the call in
    flight). OTP's caller exits with ``noproc`` or the server's reason; catch this to handle both.

    After a crash, a supervisor may restart the server under the same name: look it up again (or
    ``call`` by name) and retry if the request is safe to repeat. A call in flight when the server died
    may or may not have taken effect.
    """


class NoProc(ServerDown):
    """Raised by ``call``/``stop`` when the server is not running (never started, or exited).

    OTP's ``noproc``. Look the server up again with ``whereis``: a supervisor may have restarted it.
    """


class CallTimeout(CallError, TimeoutError):
    """Raised by ``call`` when no reply came within the timeout. A reply that arrives later is discarded."""


class ServerExited(ServerDown):
    """Raised by ``call`` when the server exited before replying; ``reason`` is its exit reason."""

    def __init__(self, message: str, reason: Exit) -> None:
        super().__init__(message)
        self.reason = reason


class CallingSelf(CallError):
    """Raised when a server calls itself, which would deadlock. Handle the request inline instead."""


class AlreadyStarted(StartError):
    """Raised when a server is started under a name that a live server holds; ``holder`` is that server."""

    def __init__(self, message: str, holder: object) -> None:
        super().__init__(message)
        self.holder = holder


class StartFailed(StartError):
    """Raised by ``start`` when ``init`` raised or stopped; ``reason`` is the exit reason.

    Under a supervisor this becomes a start failure that stops the supervisor's startup, or a failed
    restart that is retried through the supervisor's mailbox.
    """

    def __init__(self, message: str, reason: Exit) -> None:
        super().__init__(message)
        self.reason = reason


class InitIgnored(StartError):
    """Raised by ``Server.start`` when ``init`` raised ``Ignore`` (supervisors: OTP's ``ignore``)."""


class NotInServer(ArbordError):
    """Raised by ``monitor`` and friends when called outside a server where a server is required."""


# --- supervisors ---------------------------------------------------------------------------------


class InvalidConfiguration(ArbordError, ValueError):
    """Base of the refusals of a spec or flags, raised before anything starts; the message names the
    child or flag and the field."""


class ChildError(ArbordError):
    """Base of a supervisor's refusals of a management request (OTP's ``{error, ...}`` returns)."""


class InvalidChildSpec(InvalidConfiguration):
    """A child spec is malformed. The message names the child and the field; fix the spec."""


class InvalidSupervisorFlags(InvalidConfiguration):
    """Supervisor flags (``SupervisorFlags`` or a supervisor's keyword arguments) are invalid.

    The message names the field and the value; fix the flags.
    """


class UnknownRequest(ChildError, TypeError):
    """A supervisor was called with something that is not one of its management requests.

    Use the supervisor's methods (``which_children()``...), not ``call`` with a request of your own.
    """


class ChildNotFound(ChildError, LookupError):
    """OTP's ``{error, not_found}``: no child with that id (or, for a dynamic supervisor, that server)."""


class ChildRunning(ChildError):
    """OTP's ``{error, running}``: the operation needs a stopped child; terminate it first."""


class ChildRestarting(ChildError):
    """OTP's ``{error, restarting}``: a failed restart is being retried; wait or terminate the child."""


class ChildAlreadyPresent(ChildError):
    """OTP's ``{error, already_present}``: the id exists but is not running; use ``restart_child``."""


class MaxChildren(ChildError):
    """A dynamic supervisor's ``max_children`` is reached; terminate a child or raise the limit."""


class SupervisorGaveUp(ArbordError):
    """Raised on leaving ``async with supervisor:`` when the supervisor gave up while the body ran.

    Giving up is reaching the maximum restart intensity (OTP's escalation: the supervisor stops its
    children and exits with ``shutdown``), or exiting abnormally (a crash, or killed). As a
    ``TaskGroup`` does when a task fails, the body was cancelled at that moment, so it never carried
    on against a tree that was gone. ``reason`` is the supervisor's exit reason and ``child_id`` the
    child whose restart was one too many (None when it did not reach its intensity). Make the child
    stop crashing, or give the supervisor more ``intensity``; a body that must outlive its
    supervisor's children catches this around the ``async with``.
    """

    def __init__(self, message: str, reason: Exit, child_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.child_id = child_id


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


class TelemetryError(ArbordError):
    """Base of the telemetry bus's refusals to attach or detach a handler."""


class HandlerExists(TelemetryError):
    """``telemetry.attach``: a handler with this id is already attached; detach it or pick another id."""


class HandlerNotFound(TelemetryError):
    """``telemetry.detach``: no handler with this id is attached."""
