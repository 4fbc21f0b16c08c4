"""A probe of the event loop's responsiveness that measures no time: a task that counts its turns.

A request that holds the loop lets no other task run until it returns; one that works in slices
lets the probe take a turn at each pause. So "the loop stayed responsive" is "the probe took turns
while the work was in progress", and it can look at the work's state on each turn (how many rows
were left) to prove the turn came in the middle. No clock, no sleep, no timed assertion.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

__all__ = ["LoopProbe", "open_loop_probe"]

T = TypeVar("T")


class LoopProbe(Generic[T]):
    """What the probe saw: ``observe()`` once per turn of the loop, in ``seen``."""

    def __init__(self, observe: Callable[[], T]) -> None:
        self.seen: list[T] = []
        self.started = asyncio.Event()
        self._observe = observe

    @property
    def turns(self) -> int:
        return len(self.seen)

    async def run(self) -> None:
        while True:
            self.seen.append(self._observe())
            self.started.set()
            await asyncio.sleep(0)  # a yield, not a wait: the probe takes every turn it is given


@asynccontextmanager
async def open_loop_probe(observe: Callable[[], T]) -> AsyncIterator[LoopProbe[T]]:
    """A probe running beside the body (it has taken its first turn when the body starts)."""
    probe = LoopProbe(observe)
    task = asyncio.create_task(probe.run())
    await probe.started.wait()
    try:
        yield probe
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
