"""The leak check: what a test left behind, named, against a baseline taken before it ran.

A snapshot lists the live asyncio tasks, the live servers and the exit callbacks (monitors, waits)
each holds, the registered names, the owned tables, the telemetry handlers and the open file
descriptors. ``LeakCheck.leaks()`` compares now with the baseline and describes every difference;
``await check()`` first gives the loop a moment to finish what is finishing (a stopped server's task
runs its last step after ``stop`` returns), then raises ``Leaked`` naming what is left.

It runs around every async test of a suite with arbord's pytest plugin (``docs/testing.md``), so a
snapshot must cost little: descriptors are listed by number only, and only a new one is looked at
(``readlink``) to say what it is. Under uvloop one new descriptor on ``/dev/null`` is not a leak:
libuv opens it on the loop's first socket or pipe, as its reserve against ``EMFILE``, and closes it
with the loop (``_loop_reserve``; test_uvloops_reserve_descriptor_is_not_a_leak).

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
from collections.abc import Iterable
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
# What libuv's reserve descriptor points to: /dev/null, or / where /dev/null is not mounted.
_RESERVE_TARGETS: Final = frozenset({"/dev/null", "/"})


class Leaked(AssertionError):
    """A test left tasks, servers, monitors, names, tables, handlers or descriptors behind."""


def _open_fds() -> tuple[str, frozenset[int]] | None:
    """The directory that lists this process's descriptors and their numbers, or None where the
    system cannot list them. Numbers only: a ``readlink`` each would cost several times the listing."""
    for directory in _FD_DIRS:
        try:
            entries = sorted(int(entry) for entry in os.listdir(directory) if entry.isdigit())
        except OSError:
            continue
        # The listing's own descriptor is in it, closed by now: the lowest that was free, so the
        # first closed one counting up. Left in, the next descriptor opened on that number would
        # not be new (test_the_leak_check_names_every_kind_of_leak's pipe).
        for fd in entries:
            try:
                os.get_inheritable(fd)
            except OSError:
                entries.remove(fd)
                break
        return directory, frozenset(entries)
    return None


def _targets(directory: str, fds: Iterable[int]) -> dict[int, str]:
    """Descriptor -> what it is (``readlink``), for those still open."""
    found: dict[int, str] = {}
    for fd in sorted(fds):
        try:
            found[fd] = os.readlink(os.path.join(directory, str(fd)))
        except OSError:
            continue  # the listing's own descriptor, closed by now
    return found


def _loop_reserve(new: dict[int, str]) -> int | None:
    """The one new descriptor that is uvloop's reserve against ``EMFILE``, if the running loop is
    uvloop's and one new descriptor points where that reserve does; else None.

    libuv opens the reserve on the loop's first stream (a socket, a pipe) and closes it with the
    loop, so it appears during whichever test first opens a connection, and is not the test's. Only
    one is excused: a second new descriptor on ``/dev/null`` is the test's.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    if not type(loop).__module__.startswith("uvloop"):
        return None
    return next((fd for fd, target in new.items() if target in _RESERVE_TARGETS), None)


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
    fds: frozenset[int] | None = field(default=None)
    """The open descriptors' numbers (what a new one is, the leak report reads), or None where the
    system cannot list them."""
    fd_directory: str = field(default="/proc/self/fd")

    @classmethod
    def take(cls) -> Snapshot:
        servers = {id(s): s for s in list(runtime._SERVER_OF_TASK.values()) if s.alive}
        listed = _open_fds()
        return cls(
            tasks=frozenset(_live_tasks()),
            servers=servers,
            exit_callbacks={key: len(s._exit_callbacks or ()) for key, s in servers.items()},
            names=frozenset(runtime.registered_names()),
            tables={id(t): t for t in all_tables()},
            handlers=frozenset(h.id for h in telemetry.list_handlers(())),
            fds=None if listed is None else listed[1],
            fd_directory="/proc/self/fd" if listed is None else listed[0],
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
            new = _targets(now.fd_directory, now.fds - before.fds)
            reserve = _loop_reserve(new)
            if reserve is not None:
                del new[reserve]
            found.extend(f"file descriptor {fd}: {target}" for fd, target in new.items())
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
