"""The process table: which task belongs to which server, which server holds which name.

This is the one place where arbord keeps interpreter-wide state, for the same reason the BEAM has a process
registry: a server must be findable by its task (``current_server``) and by its name (``whereis``) from any
caller, with no server hop. The hidden-state check allows this module by name (see ``pyproject.toml``).

A *process* is what can be monitored and can own a table: a ``Server`` or a plain ``asyncio.Task``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

from supervisor._exits import KILLED, NOPROC, NORMAL, Exit, crash
from supervisor.errors import AlreadyStarted

if TYPE_CHECKING:
    from supervisor._server import Server

__all__ = [
    "ExitCallback",
    "Process",
    "add_exit_callback",
    "current_process",
    "current_server",
    "is_alive",
    "names_view",
    "registered_names",
    "remove_exit_callback",
    "whereis",
]

Process: TypeAlias = "Server | asyncio.Task[Any]"
"""What the runtime tracks as a process: a server, or a plain task (linked, monitored, given exit
callbacks)."""
ExitCallback: TypeAlias = Callable[[Exit], None]
"""Called once with a process's exit reason when it exits (``add_exit_callback``)."""

_SERVER_OF_TASK: dict[asyncio.Task[Any], Server] = {}
_SERVER_OF_NAME: dict[str, Server] = {}
_NAMES_VIEW: Mapping[str, Server] = MappingProxyType(_SERVER_OF_NAME)


def _current_task() -> asyncio.Task[Any] | None:
    # asyncio.current_task() raises outside a running loop; "no task at all" must mean None here, so
    # that monitor() from plain synchronous code raises NotInServer and current_process() its own
    # error (test_current_server_outside_an_event_loop_is_none, test_current_process_outside_a_task_raises).
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def current_server() -> Server | None:
    """The server whose task is running now, or None (plain task, or no task at all)."""
    task = _current_task()
    return None if task is None else _SERVER_OF_TASK.get(task)


def current_process() -> Process:
    """The running server, or the running task when it is not a server's. Raises outside a task."""
    task = _current_task()
    if task is None:
        raise RuntimeError("no asyncio task is running: a process is a server or a task")
    return _SERVER_OF_TASK.get(task, task)


def whereis(name: str) -> Server | None:
    """The live server registered under ``name``, or None. Follows restarts: the current incarnation."""
    server = _SERVER_OF_NAME.get(name)
    if server is None or not server.alive:
        return None
    return server


def names_view() -> Mapping[str, Server]:
    """A live, read-only view of the name table: ``names_view().get(name)`` is the cheapest lookup
    of a registered server, for a hot path that keeps the bound ``get``. Unlike ``whereis`` it may
    give a server that has exited and not yet released its name: check it (``alive``, or a flag
    of the server's own)."""
    return _NAMES_VIEW


def registered_names() -> list[str]:
    """The names of the live registered servers, sorted."""
    return sorted(n for n, s in _SERVER_OF_NAME.items() if s.alive)


def is_alive(process: Process) -> bool:
    """True while the server or task has not exited."""
    if isinstance(process, asyncio.Task):
        return not process.done()
    return process.alive


def task_exit_reason(task: asyncio.Task[Any]) -> Exit:
    """How a finished plain task maps onto an exit reason: return → normal, cancel → killed, raise → crash."""
    if task.cancelled():
        return KILLED
    exc = task.exception()
    return NORMAL if exc is None else crash(exc)


def add_exit_callback(process: Process, callback: ExitCallback) -> object:
    """Run ``callback(reason)`` once when ``process`` exits; returns a key for ``remove_exit_callback``.

    For a process that already exited, the callback runs soon (on the next loop iteration) with ``noproc``,
    as OTP does for a monitor of a dead process.
    """
    if not is_alive(process):
        asyncio.get_running_loop().call_soon(callback, NOPROC)
        return callback
    if isinstance(process, asyncio.Task):

        def on_done(task: asyncio.Task[Any]) -> None:
            callback(task_exit_reason(task))

        process.add_done_callback(on_done)
        return on_done
    process._add_exit_callback(callback)
    return callback


def remove_exit_callback(process: Process, key: object) -> None:
    """Forget a callback added by ``add_exit_callback``; harmless if it already ran."""
    if isinstance(process, asyncio.Task):
        process.remove_done_callback(key)  # type: ignore[arg-type]
    else:
        process._remove_exit_callback(key)


# --- used by Server only ------------------------------------------------------------------------


def _register_task(task: asyncio.Task[Any], server: Server) -> None:
    _SERVER_OF_TASK[task] = server


def _unregister_task(task: asyncio.Task[Any]) -> None:
    _SERVER_OF_TASK.pop(task, None)


def _register_name(name: str, server: Server) -> None:
    holder = _SERVER_OF_NAME.get(name)
    if holder is not None and holder is not server and holder.alive:
        raise AlreadyStarted(f"name {name!r} is already taken by {holder!r}", holder)
    _SERVER_OF_NAME[name] = server


def _unregister_name(name: str, server: Server) -> None:
    if _SERVER_OF_NAME.get(name) is server:
        del _SERVER_OF_NAME[name]
