"""Helpers shared by the supervisor tests (this module holds no tests).

Children record what happens to them in an ``EventLog`` passed to them as an explicit argument, so a
test reads start and stop order from one list. A child is crashed with ``crash_child`` and the test then
makes any management call: the supervisor handles calls in its mailbox, after the exit it was told
about, so the call's answer already reflects the restart (no sleeps).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from supervisor._childspec import ChildSpec, Restart
from supervisor._exits import Exit, ExitKind
from supervisor._server import Caller, Server
from supervisor._supervisor import ChildInfo

EventLog = list[tuple[str, str]]
"""``("start" | "stop", label)`` entries, in the order they happened."""


class Worker(Server):
    """Logs its start and its stop by a supervisor; answers calls with its label; a cast crashes it."""

    async def init(self, log: EventLog, label: str) -> None:
        self.log = log
        self.label = label
        log.append(("start", label))

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return self.label

    async def handle_cast(self, message: Any) -> None:
        raise RuntimeError(f"{self.label} crashed on purpose")

    async def terminate(self, reason: Exit) -> None:
        if reason.kind is ExitKind.SHUTDOWN:
            self.log.append(("stop", self.label))


@dataclass
class Switch:
    """Shared by a test and its ``Flaky`` children: while ``failing``, their ``init`` raises."""

    failing: bool = False
    attempts: int = 0


class Flaky(Worker):
    """A worker whose start fails while its switch is on."""

    async def init(self, log: EventLog, label: str, switch: Switch) -> None:  # type: ignore[override]
        switch.attempts += 1
        if switch.failing:
            raise RuntimeError(f"{label} cannot start")
        await super().init(log, label)


@dataclass
class Stubborn:
    """Controls ``StubbornWorker``: it swallows every cancellation until ``release`` is set."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    cancellations: int = 0
    servers: list[Server] = field(default_factory=list)

    async def let_go(self) -> None:
        """Release every stubborn server and wait until each has really ended (test cleanup)."""
        self.release.set()
        for server in self.servers:
            task = server.task
            assert task is not None
            await asyncio.wait((task,))


class StubbornWorker(Server):
    """A child that ignores cancellation in ``terminate``: asyncio cannot kill it."""

    async def init(self, control: Stubborn) -> None:
        self.control = control
        control.servers.append(self)

    async def terminate(self, reason: Exit) -> None:
        self.control.stopping.set()
        while not self.control.release.is_set():
            try:
                await self.control.release.wait()
            except asyncio.CancelledError:
                self.control.cancellations += 1


def worker(child_id: str, log: EventLog, **options: Any) -> ChildSpec:
    """A ``Worker`` spec labelled with its own id."""
    return ChildSpec(child_id, Worker, args=(log, child_id), **options)


def ids(log: EventLog, event: str) -> list[str]:
    """The labels of the ``event`` entries of ``log``, in order."""
    return [label for kind, label in log if kind == event]


async def server_of(sup: Any, child_id: str) -> Server:
    """The running server of child ``child_id`` (asserts it runs)."""
    for info in await sup.which_children():
        if info.id == child_id:
            assert info.server is not None, f"child {child_id!r} is not running: {info}"
            return info.server  # type: ignore[no-any-return]
    raise AssertionError(f"no child {child_id!r}")


async def crash_child(server: Server, reason: Exit | None = None) -> Exit:
    """Make ``server`` exit with ``reason`` and wait until it has; by default a ``Worker`` crashes.

    Once this returns, the supervisor has the exit in its mailbox: its next call sees the restart.
    """
    if reason is None:
        server.cast("crash")
        return await server.wait()
    return await server.stop(reason)


def by_id(children: list[ChildInfo]) -> dict[str | None, ChildInfo]:
    """``which_children`` keyed by id."""
    return {info.id: info for info in children}


TEMPORARY = Restart.TEMPORARY
TRANSIENT = Restart.TRANSIENT
PERMANENT = Restart.PERMANENT
