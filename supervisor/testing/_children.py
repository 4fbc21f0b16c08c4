"""A supervisor's children seen from a test: the servers that run, and a crash the supervisor handled.

A test of restart behaviour crashes a child and then looks at what its supervisor did. Looking too
early sees the old child (the exit is still in the supervisor's mailbox), so ``crash_and_settle``
returns only once the supervisor has handled the exit: restarted the child, or escalated.

>>> import asyncio
>>> from supervisor import ChildSpec, Server, Supervisor
>>> async def demo() -> tuple[bool, int]:
...     async with Supervisor([ChildSpec("worker", Server)]) as sup:
...         [before] = await running_children(sup)
...         await crash_and_settle(sup, "worker")
...         [after] = await running_children(sup)
...         [info] = await sup.which_children()
...         return after is not before, info.restarts
>>> asyncio.run(demo())
(True, 1)
"""

from __future__ import annotations

from typing import Protocol

from supervisor._child_records import ChildInfo
from supervisor._exits import Exit, crash
from supervisor._server import Server
from supervisor.testing._waits import settle

__all__ = ["crash_and_settle", "running_children"]


class _Parent(Protocol):
    """A ``Supervisor`` or a ``DynamicSupervisor``."""

    @property
    def alive(self) -> bool: ...

    async def which_children(self, timeout: float | None = None) -> list[ChildInfo]: ...

    async def count_children(self) -> object: ...


async def running_children(supervisor: _Parent) -> list[Server]:
    """The servers of ``supervisor``'s children that run now, in ``which_children``'s order."""
    return [info.server for info in await supervisor.which_children() if info.server is not None]


async def crash_and_settle(supervisor: _Parent, child_id: str, reason: Exit | None = None) -> Exit:
    """Make child ``child_id``'s server exit with ``reason`` (by default a crash with a
    ``RuntimeError``) and return its exit once ``supervisor`` has handled it: the child is restarted,
    or the supervisor escalated (then it is no longer alive).

    Raises ``AssertionError`` when ``supervisor`` has no running child ``child_id``.
    """
    for info in await supervisor.which_children():
        if info.id == child_id:
            if info.server is None:
                raise AssertionError(f"child {child_id!r} is not running: {info}")
            server = info.server
            break
    else:
        raise AssertionError(f"no child {child_id!r}")
    exited = await server.stop(reason or crash(RuntimeError(f"{child_id} crashed by crash_and_settle")))
    await settle(supervisor)
    return exited
