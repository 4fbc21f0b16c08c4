"""The internal protocol between servers and the supervisors, monitors and names built on them.

This is what OTP calls *internal exports* (``gen_server``'s ``init_it/6``, ``supervisor``'s
``try_again_restart/1``): functions a module exports for its own library's use, documented so that the
library can rely on them, and not part of the API an application calls. Here they are underscored
members of ``Server`` and ``Caller`` that other modules of ``supervisor`` use, each named below with
who uses it and why. Nothing else private crosses the boundary: ``tests/supervisor/test_hooks.py``
checks that ``Server`` and ``Caller`` provide these members and that the supervisor engine's modules
touch no other private member of theirs.

**Server → its starter** (``StartSignal``): a server's task reports the outcome of ``init`` to the
object it was launched with — an ``asyncio.Future[bool]``, or a supervisor's ``RestartAck``, which
records a restarted child at once instead of waking the supervisor (``supervisor/_engine.py``).

**Supervisor → server** (``SupervisorHooks``):

- ``_boot(args, kwargs, name)``: start this instance and wait for its ``init`` (a supervisor's
  ``async with``).
- ``_launch(args, kwargs, name, started)``: the synchronous half of ``_boot``, reporting to a
  ``StartSignal``: a restart that does not await the child's ``init``.
- ``_cancel_start()``: the starter was cancelled during ``init``; kill the half-started server.
- ``_deliver(tag, message)``: queue an ``INFO`` (a ``ChildExit``) or a ``STOP`` (a shutdown) without
  making a call.
- ``_hold_mail()`` / ``_release_mail()``: handle no message meanwhile (a restarted child's ``init``
  is pending).
- ``_add_exit_callback(callback)`` / ``_remove_exit_callback(key)``: run ``callback(reason)`` at the
  exit, or no longer (a supervisor's watch of a child; a monitor).
- ``_remove_mail(predicate)``: drop queued messages (``demonitor(..., flush=True)``).
- ``_supervised``: set by a supervisor on its children, so a crash is reported once, by it.
- ``_exit``: the exit reason, None while running (read without making a future).
- ``_name``: the registered name, read on the restart path without a property call.
- ``_linked_exit(reason)``, **server → supervisor**: run when the server is killed (no ``terminate``);
  a supervisor overrides it to kill its children, as an OTP link would.

**Supervisor → a caller** (``CallerHooks``): ``Caller._fail(error)`` answers a call with an error; a
supervisor refuses a management request that way, so the error is raised in the caller and the
supervisor carries on.

``INFO`` and ``STOP`` are the mailbox tags ``_deliver`` takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from supervisor._exits import Exit

__all__ = ["CALL", "CAST", "INFO", "STOP", "CallerHooks", "StartSignal", "SupervisorHooks"]

# Mailbox entries are (tag, payload, caller-or-None) tuples: the cheapest shape to build and unpack.
CALL: Final = 0
CAST: Final = 1
INFO: Final = 2
STOP: Final = 3


class StartSignal(Protocol):
    """How a server's task reports the outcome of ``init`` to its starter: the part of a future it uses.

    ``True``: running, ``False``: ``Ignore``; an exception (``StartFailed``) when init failed. Normally
    an ``asyncio.Future[bool]`` the starter awaits; a supervisor restarting a child passes an object
    that records the outcome at once instead (``child_records.RestartAck``).
    """

    def done(self) -> bool: ...

    def set_result(self, result: bool, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


class SupervisorHooks(Protocol):
    """The private members of ``Server`` that supervisors, monitors and names use (see above)."""

    _supervised: bool
    _exit: Exit | None
    _name: str | None

    async def _boot(self, args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None) -> bool: ...

    def _launch(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None, started: StartSignal
    ) -> None: ...

    def _cancel_start(self) -> None: ...

    def _deliver(self, tag: int, message: Any) -> None: ...

    def _hold_mail(self) -> None: ...

    def _release_mail(self) -> None: ...

    def _add_exit_callback(self, callback: Callable[[Exit], None]) -> None: ...

    def _remove_exit_callback(self, key: object) -> None: ...

    def _remove_mail(self, predicate: Callable[[int, Any], bool]) -> int: ...

    def _linked_exit(self, reason: Exit) -> None: ...


class CallerHooks(Protocol):
    """The private member of ``Caller`` a supervisor uses to refuse a request."""

    def _fail(self, error: BaseException) -> None: ...
