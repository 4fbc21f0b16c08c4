"""User servers that misbehave on purpose, for the stop and reload tests of the real daemon
(tests/daemon/test_lifecycle.py names them in ``[servers.<name>] start``).

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

import asyncio
import time

from supervisor import Exit, Server

__all__ = ["BlocksTheLoop", "Deaf", "NeverStarts"]


class Deaf(Server):
    """Its ``terminate`` never returns and swallows every cancellation: a supervisor abandons it."""

    async def terminate(self, reason: Exit) -> None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                continue


class BlocksTheLoop(Server):
    """Its ``terminate`` blocks the whole event loop (a synchronous call that never returns)."""

    async def terminate(self, reason: Exit) -> None:
        time.sleep(3600)  # noqa: ASYNC251 -- blocking the loop is the point


class NeverStarts(Server):
    """Its ``init`` never returns."""

    async def init(self) -> None:
        await asyncio.Event().wait()
