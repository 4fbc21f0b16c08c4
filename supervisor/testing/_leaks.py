"""The leak check: what a test left behind, named, against a baseline taken before it ran.

A snapshot lists the live asyncio tasks, the live servers and the exit callbacks (monitors, waits)
each holds, the registered names, the owned tables, the telemetry handlers and the open file
descriptors. ``LeakCheck.leaks()`` compares now with the baseline and describes every difference;
``await check()`` first gives the loop a moment to finish what is finishing (a stopped server's task
runs its last step after ``stop`` returns), then raises ``Leaked`` naming what is left.

>>> import asyncio
>>> from supervisor import Server
>>> async def demo() -> list[str]:
...     leaks = LeakCheck()
...     server = await Server.start(name="demo-left-running")
...     found = leaks.leaks()
...     await server.stop()
...     await leaks.check()  # nothing left: returns quietly
...     return [line.split(" at ")[0] for line in found]
>>> asyncio.run(demo())
["server: <Server 'demo-left-running'", "name: 'demo-left-running'"]
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, Final

from supervisor import _runtime as runtime
from supervisor import telemetry
from supervisor._server import Server
from supervisor.tables import Table, all_tables
from supervisor.testing._waits import WaitTimeout, wait_for

__all__ = ["LeakCheck", "Leaked", "Snapshot"]

_GRACE: Final = 1.0  # how long check() lets finishing tasks finish before it calls them leaked
_FD_DIRS: Final = ("/proc/self/fd", "/dev/fd")


class Leaked(AssertionError):
    """A test left tasks, servers, monitors, names, tables, handlers or descriptors behind."""


def _open_fds() -> dict[int, str] | None:
    """Open descriptor -> what it is (``readlink``), or None where the system cannot list them."""
    for directory in _FD_DIRS:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        fds: dict[int, str] = {}
        for entry in entries:
            try:
                fds[int(entry)] = os.readlink(os.path.join(directory, entry))
            except (OSError, ValueError):
                continue  # the directory listing's own descriptor, closed by now
        return fds
    return None


def _live_tasks() -> set[asyncio.Task[Any]]:
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop: a synchronous test has no tasks to leak
        return set()
    current = asyncio.current_task()
    return {t for t in tasks if t is not current}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What was alive at one moment; objects are held by identity."""

    tasks: frozenset[asyncio.Task[Any]]
    servers: dict[int, Server]
    exit_callbacks: dict[int, int]
    names: frozenset[str]
    tables: dict[int, Table]
    handlers: frozenset[str]
    fds: dict[int, str] | None = field(default=None)

    @classmethod
    def take(cls) -> Snapshot:
        servers = {id(s): s for s in list(runtime._SERVER_OF_TASK.values()) if s.alive}
        return cls(
            tasks=frozenset(_live_tasks()),
            servers=servers,
            exit_callbacks={key: len(s._exit_callbacks or ()) for key, s in servers.items()},
            names=frozenset(runtime.registered_names()),
            tables={id(t): t for t in all_tables()},
            handlers=frozenset(h.id for h in telemetry.list_handlers(())),
            fds=_open_fds(),
        )


class LeakCheck:
    """A baseline taken when created (or by ``reset``), compared with the present on demand."""

    __slots__ = ("baseline",)

    def __init__(self) -> None:
        self.baseline = Snapshot.take()

    def reset(self) -> None:
        """Take the baseline again: what exists now is not a leak."""
        self.baseline = Snapshot.take()

    def leaks(self) -> list[str]:
        """One line per object alive now that was not in the baseline, saying what it is."""
        before, now = self.baseline, Snapshot.take()
        found: list[str] = []
        server_tasks = {s.task for s in now.servers.values()}
        for key, server in now.servers.items():
            if key not in before.servers:
                found.append(f"server: {server!r}")
            elif now.exit_callbacks[key] > before.exit_callbacks[key]:
                extra = now.exit_callbacks[key] - before.exit_callbacks[key]
                found.append(f"monitor: {extra} new monitor(s) or exit callback(s) on {server!r}")
        for task in sorted(now.tasks - before.tasks, key=lambda t: t.get_name()):
            if task not in server_tasks:  # a leaked server is named once, as a server
                found.append(f"task: {task.get_name()} running {task.get_coro()!r}")
        found.extend(f"name: {name!r}" for name in sorted(now.names - before.names))
        found.extend(f"table: {table!r}" for key, table in now.tables.items() if key not in before.tables)
        found.extend(f"telemetry handler: {hid!r}" for hid in sorted(now.handlers - before.handlers))
        if before.fds is not None and now.fds is not None:
            # By number, not by what it points to: uvloop makes a new self-pipe (a socket pair) for
            # every run of the loop, and pytest-asyncio runs it once per fixture and test, each time
            # on the lowest free numbers, the ones the previous pair had.
            found.extend(
                f"file descriptor {fd}: {target}"
                for fd, target in sorted(now.fds.items())
                if fd not in before.fds
            )
        return found

    async def check(self, grace: float = _GRACE) -> None:
        """Raise ``Leaked`` naming what is still alive that was not in the baseline.

        Tasks that are finishing get up to ``grace`` seconds (checked on each loop turn, then on a
        short timer) before they count: a stopped server's task, a cancelled task's last step.
        """
        try:
            await wait_for(lambda: not self.leaks(), grace, what="nothing left behind")
        except WaitTimeout:
            found = self.leaks()
            if found:
                raise Leaked(self.describe(found)) from None

    def check_now(self) -> None:
        """``check`` without the grace, for code outside an event loop."""
        found = self.leaks()
        if found:
            raise Leaked(self.describe(found))

    @staticmethod
    def describe(found: list[str]) -> str:
        """The message of ``Leaked``: one leaked object a line, and what to do about it."""
        lines = "\n  ".join(found)
        return (
            f"the test left behind:\n  {lines}\n(stop what you start, or mark the test arbord_leaks_allowed)"
        )
