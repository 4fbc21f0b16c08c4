"""The poller (``arbord.metrics.poller``): periodic measurements emitted as events, after Erlang's
``telemetry_poller`` (docs/otp-conformance.md#poller). Every ``interval`` seconds (5 by default)
one round emits:

=========================== ======================================== ===========================
event                       measurements                             metadata
=========================== ======================================== ===========================
``arbord.poller.tree``      ``processes`` (running children of the   —
                            tree), ``named`` (registered names),
                            ``tables`` (live tables), ``restarts``
                            (of the running supervisors' children)
``arbord.poller.mailbox``   ``depth`` (messages waiting)             ``server`` (registered name)
``arbord.poller.table``     ``size`` (rows), ``memory`` (bytes,      ``table`` (its name)
                            an estimate)
``arbord.poller.loop``      ``lag`` (ns the round started late)      —
``arbord.poller.process``   ``rss`` (bytes), ``open_fds``            —
``arbord.poller.failure``   —                                        ``measurement``, ``reason``
=========================== ======================================== ===========================

(``process`` reads ``/proc/self``: on a system without it the round emits no such event.) The
default metrics turn them into gauges (docs/telemetry.md). ``[telemetry.poller] measurements``
adds callables ``"package.module:function"``, called with no argument each round (a coroutine
function is awaited); they emit events of their own. One that raises is removed for the rest of
the daemon's run, logged and reported with an ``arbord.poller.failure`` event.

>>> import asyncio
>>> from supervisor import call
>>> from supervisor.testing import ManualClock, capture
>>> async def demo() -> list[str]:
...     clock = ManualClock()
...     poller = await Poller.start(PollerSettings(builtin=("loop",)), clock=clock)
...     clock.advance(5.25)                     # the round is due at 5 s: it runs 0.25 s late
...     with capture(LOOP) as seen:
...         ran = await call(poller, POLL)
...     await poller.stop()
...     return ran + [str(seen[0].measurements["lag"])]
>>> asyncio.run(demo())
['loop', '250000000']

With a ``clock`` given, as here, the poller arms no timer: the test runs each round (``POLL``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from daemon.telemetry.metrics_config import PollerSettings, resolve_callable
from supervisor import Caller, Server, Supervisor, registered_names, telemetry, whereis
from supervisor.lowlevel import Clock, MonotonicClock
from supervisor.tables import all_tables

__all__ = [
    "FAILURE",
    "LOOP",
    "MAILBOX",
    "POLL",
    "POLLER_NAME",
    "PROCESS",
    "TABLE",
    "TREE",
    "Poller",
]

log = logging.getLogger("arbord.metrics")

POLLER_NAME: Final = "arbord.metrics.poller"
ROOT_NAME: Final = "arbord.root"
POLL: Final = "poll"
"""The message (cast by the timer, or a ``call`` that returns the names of the measurements run)."""
TREE: Final = ("arbord", "poller", "tree")
MAILBOX: Final = ("arbord", "poller", "mailbox")
TABLE: Final = ("arbord", "poller", "table")
LOOP: Final = ("arbord", "poller", "loop")
PROCESS: Final = ("arbord", "poller", "process")
FAILURE: Final = ("arbord", "poller", "failure")
_CALL_TIMEOUT: Final = 1.0
_PROC: Final = Path("/proc/self")

Measurement = Callable[[], Any]


async def _walk(supervisor: Supervisor) -> tuple[int, int]:
    """Running children and their restarts, under ``supervisor`` and its sub-supervisors."""
    processes = restarts = 0
    for child in await supervisor.which_children(timeout=_CALL_TIMEOUT):
        restarts += child.restarts
        if child.server is not None and child.server.alive:
            processes += 1
            if isinstance(child.server, Supervisor):
                below = await _walk(child.server)
                processes, restarts = processes + below[0], restarts + below[1]
    return processes, restarts


async def _tree() -> None:
    root = whereis(ROOT_NAME)
    processes, restarts = await _walk(root) if isinstance(root, Supervisor) else (0, 0)
    measurements = {
        "processes": processes,
        "named": len(registered_names()),
        "tables": len(all_tables()),
        "restarts": restarts,
    }
    telemetry.execute(TREE, measurements, {})


def _mailbox() -> None:
    for name in registered_names():
        server = whereis(name)
        if server is not None:
            telemetry.execute(MAILBOX, {"depth": server.statistics().mailbox_depth}, {"server": name})


def _table() -> None:
    for table in all_tables():
        info = table.info()
        if info.name is not None:
            telemetry.execute(TABLE, {"size": info.size, "memory": info.memory}, {"table": info.name})


def _process() -> None:
    if not _PROC.exists():
        return
    pages = int((_PROC / "statm").read_text().split()[1])
    open_fds = len(os.listdir(_PROC / "fd")) - 1  # less the one listdir itself opened
    telemetry.execute(PROCESS, {"rss": pages * os.sysconf("SC_PAGE_SIZE"), "open_fds": open_fds}, {})


class Poller(Server):
    """``init(settings, *, clock=None)``; registered as ``arbord.metrics.poller`` in the daemon."""

    async def init(self, settings: PollerSettings, *, clock: Clock | None = None) -> None:
        self.interval = settings.interval
        self.clock: Clock = clock or MonotonicClock()
        self._armed = clock is None
        self._timer: asyncio.TimerHandle | None = None
        builtin: dict[str, Measurement] = {
            "tree": _tree,
            "mailbox": _mailbox,
            "table": _table,
            "loop": self._loop_lag,
            "process": _process,
        }
        self.measurements: dict[str, Measurement] = {name: builtin[name] for name in settings.builtin}
        for path in settings.measurements:
            try:
                self.measurements[path] = resolve_callable(path)
            except ValueError as error:
                self._report(path, error)
        self._schedule()

    def _schedule(self) -> None:
        self._due = self.clock.monotonic() + self.interval
        if self._armed:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self.send, POLL)

    def _loop_lag(self) -> None:
        lag = max(0.0, self.clock.monotonic() - self._due)
        telemetry.execute(LOOP, {"lag": round(lag * 1e9)}, {})

    async def handle_info(self, message: Any) -> None:
        if message == POLL:
            await self.poll()

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == POLL:
            return await self.poll()
        raise ValueError(f"unknown request {request!r}")

    async def poll(self) -> list[str]:
        """One round: every measurement in turn (a raising one is removed); the next is scheduled."""
        ran = []
        for name, measure in list(self.measurements.items()):
            try:
                result = measure()
                if inspect.isawaitable(result):
                    await result
            except Exception as error:
                if name in ("tree", "mailbox", "table", "loop", "process"):
                    # arbord's own: a passing condition (a supervisor busy past the timeout), skipped.
                    log.debug("poller measurement %s skipped this round: %r", name, error)
                    continue
                del self.measurements[name]
                self._report(name, error)
                continue
            ran.append(name)
        if self._timer is not None:
            self._timer.cancel()
        self._schedule()
        return ran

    def _report(self, name: str, error: BaseException) -> None:
        log.warning("poller measurement %s raised %r: removed", name, error)
        telemetry.execute(FAILURE, {}, {"measurement": name, "reason": repr(error)})

    async def terminate(self, reason: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
