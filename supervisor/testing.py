"""Helpers for testing code built on ``supervisor``: a clock that moves when told, telemetry capture,
and a way to let a supervisor finish what it was asked before the test looks.

Tests of asynchronous code go wrong in two ways: they sleep to "let things happen" (slow, and flaky on
a loaded machine) or they look before the server has handled what it was sent. These helpers replace
both with waits on something definite:

>>> import asyncio
>>> from supervisor import ChildSpec, Server, Supervisor
>>> from supervisor.testing import capture, settle
>>> class Idle(Server):
...     pass
>>> async def demo() -> int:
...     with capture(("supervisor", "child", "start")) as seen:
...         async with Supervisor([ChildSpec("idle", Idle)]) as sup:
...             await settle(sup)                # every request sent before this is handled
...     return len(seen)
>>> asyncio.run(demo())
1

``ManualClock`` is accepted wherever a ``clock=`` is (restart intensity, caches, timers): advance it
instead of sleeping. ``capture`` records telemetry events with ``await seen.wait(event)`` to wait for
one, bounded by ``asyncio.timeout``.
"""

from __future__ import annotations

from typing import Protocol

from supervisor._clock import ManualClock
from supervisor.telemetry import Capture, Captured, capture

__all__ = ["Capture", "Captured", "ManualClock", "capture", "settle"]

ManualClock.__module__ = __name__


class _Settleable(Protocol):
    @property
    def alive(self) -> bool: ...

    async def count_children(self) -> object: ...


async def settle(supervisor: _Settleable) -> None:
    """Return once ``supervisor`` has handled every request sent to it before this call.

    A round trip through its mailbox (a ``count_children`` call): exits, restarts and management
    requests already queued are done when it returns. A supervisor that stopped, or stops meanwhile
    (it gave up, or shut down on its own), is settled too: this returns without raising.
    """
    if not supervisor.alive:
        return
    try:
        await supervisor.count_children()
    except Exception:
        if supervisor.alive:
            raise
