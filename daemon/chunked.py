"""Long walks in slices: a request that touches many rows gives the event loop back between slices.

Every request runs on the daemon's one event loop, beside every other connection, the supervision
tree and the watchdog ping. A walk over a table of 100,000 entries costs tens of milliseconds of
Python; done in one step it holds the loop that long, and a few such requests in a row starve the
others or miss a watchdog ping. So the daemon's scans (``registry.list``/``query``/``count``,
the cleanup of an exited owner's entries, the caches' listing, clearing and sweeping) walk their
rows ``chunk`` at a time and ``await pause()`` in between: the cost stays linear in the rows
touched, and no slice holds the loop for more than about a millisecond (docs/performance.md,
"Bounded work per request").

A walk in slices is not atomic: what it walks is a snapshot taken when it starts (a list of rows),
and each row is judged when its slice runs (an entry whose owner exited meanwhile is left out).

>>> import asyncio
>>> asyncio.run(keep_chunked(range(10), lambda n: n % 3 == 0, chunk=4))
[0, 3, 6, 9]
>>> asyncio.run(map_chunked(["a", "b", "c"], str.upper, chunk=2))
['A', 'B', 'C']
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

__all__ = ["SCAN_CHUNK", "keep_chunked", "map_chunked", "pause"]

T = TypeVar("T")
R = TypeVar("R")

SCAN_CHUNK: Final = 1024
"""Rows per slice of a walk: about 0.1 to 1 ms of Python each (a liveness check and a match, or a
row removed with its index entries), small next to the loop's other work, large next to the cost
of one pass of the loop (bench/bench_scaling.py)."""


async def pause() -> None:
    """Let the event loop run everything else that is ready (I/O, timers, other tasks) once."""
    await asyncio.sleep(0)


async def keep_chunked(
    items: Sequence[T], keep: Callable[[T], object], *, chunk: int = SCAN_CHUNK
) -> list[T]:
    """The items ``keep`` says yes to, in order, judged ``chunk`` at a time with a ``pause`` between."""
    kept: list[T] = []
    for start in range(0, len(items), chunk):
        if start:
            await pause()
        kept.extend(filter(keep, items[start : start + chunk]))
    return kept


async def map_chunked(items: Sequence[T], convert: Callable[[T], R], *, chunk: int = SCAN_CHUNK) -> list[R]:
    """``[convert(item) for item in items]``, ``chunk`` at a time with a ``pause`` between."""
    converted: list[R] = []
    for start in range(0, len(items), chunk):
        if start:
            await pause()
        converted.extend(map(convert, items[start : start + chunk]))
    return converted
