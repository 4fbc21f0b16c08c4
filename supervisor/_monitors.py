"""Monitors: one ``Down`` message to the watching server when the watched process exits.

``monitor(target)`` must be called from inside a server (the watcher); ``Down`` arrives in its
``handle_info``. The target may be a server or a plain ``asyncio.Task``. A target that is already dead gets
``Down`` with reason ``noproc`` (OTP), so "watch, then learn it is gone" needs no special case.
``demonitor(ref, flush=True)`` also drops a ``Down`` already queued for that monitor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from supervisor import _runtime as runtime
from supervisor._exits import Exit
from supervisor.errors import NotInServer

if TYPE_CHECKING:
    from supervisor._server import Server

__all__ = ["Down", "MonitorRef", "demonitor", "monitor"]


class MonitorRef:
    """Names one monitor: the key to ``demonitor`` it and the tag on its ``Down`` message."""

    __slots__ = ("_active", "_key", "_watcher_key", "target", "watcher")

    def __init__(self, watcher: Server, target: runtime.Process) -> None:
        self.watcher = watcher
        self.target = target
        self._active = True
        self._key: object = None
        self._watcher_key: object = None

    @property
    def active(self) -> bool:
        """True until the Down was delivered or the monitor was removed."""
        return self._active

    def __repr__(self) -> str:
        return f"<MonitorRef {self.target!r} -> {self.watcher!r}{'' if self._active else ' done'}>"


class Down(NamedTuple):
    """The message a monitor delivers: ``target`` exited with ``reason`` (``noproc`` if already dead)."""

    ref: MonitorRef
    target: Any
    reason: Exit


def monitor(target: runtime.Process, *, watcher: Server | None = None) -> MonitorRef:
    """Watch ``target``; the watcher (default: the calling server) receives exactly one ``Down``."""
    if watcher is None:
        watcher = runtime.current_server()
        if watcher is None:
            raise NotInServer("monitor() needs a watching server: call it from a server or pass watcher=")
    ref = MonitorRef(watcher, target)

    def on_exit(reason: Exit) -> None:
        if ref._active:
            ref._active = False
            runtime.remove_exit_callback(ref.watcher, ref._watcher_key)
            ref.watcher.send(Down(ref, target, reason))

    # OTP removes a process's monitors when it exits. Without this, a long-lived target kept a
    # callback, and through it the whole exited watcher, for every monitor a watcher never removed
    # (test_a_monitor_ends_when_its_watcher_exits, test_a_monitor_of_a_task_ends_when_its_watcher_exits).
    def on_watcher_exit(_: Exit) -> None:
        if ref._active:
            ref._active = False
            runtime.remove_exit_callback(target, ref._key)

    ref._key = runtime.add_exit_callback(target, on_exit)
    ref._watcher_key = runtime.add_exit_callback(watcher, on_watcher_exit)
    return ref


def demonitor(ref: MonitorRef, *, flush: bool = False) -> bool:
    """Stop watching. Returns True if the monitor was still active; ``flush`` drops a queued ``Down``."""
    was_active = ref._active
    ref._active = False
    if was_active:
        runtime.remove_exit_callback(ref.target, ref._key)
        runtime.remove_exit_callback(ref.watcher, ref._watcher_key)
    if flush:
        ref.watcher._remove_mail(lambda _tag, msg: isinstance(msg, Down) and msg.ref is ref)
    return was_active
