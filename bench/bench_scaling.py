"""Doubling benchmarks: a request's cost grows at most linearly in its size and in the data it touches.

Each row measures one operation at a size ``n`` (the baseline column) and at ``2n`` (the arbord
column), both in this run: the ratio is what doubling the input costs, target 2.5 (twice, with room
for noise on a shared machine). A cost that grows with the square shows a ratio near 4 (the
registration of one entry with 20,000 distinct indexed values used to: issue 12).

- registering (and unregistering) one entry whose indexed attribute is a list of ``n`` distinct values;
- the cleanup of an exited owner's ``n`` entries (the registry's ``Down``, in slices);
- ``Registry.scan`` (``registry.list``) over ``n`` entries, and a query whose ``in`` criterion lists
  ``n`` values over a fixed 10,000 entries (hashed: nearly flat), and one with 1,000 values over
  ``n`` entries;
- a cache's sweep of ``n`` expired entries (the janitor's, in slices).

The walks pause between slices (daemon/chunked.py); the pauses are included in the times. The
clock is the process's CPU time (``time.process_time``: the time the machine's other processes take
from us does not count), the two sizes are measured in alternating rounds and each keeps its
fastest, and the garbage collector is held off while the clock runs (its full collections walk the
whole heap, so they would make anything look superlinear).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.harness import Row
from bench.loops import run_on
from daemon.cache import Cache, CacheConfig
from daemon.registry import Registry
from supervisor.testing import ManualClock

ROUNDS = 5
TARGET = 2.5

Measure = Callable[[int], Awaitable[float]]


def _start() -> float:
    """Start the clock (CPU seconds), with the garbage collector held off until ``_stop``."""
    gc.collect()
    gc.disable()
    return time.process_time()


def _stop(started: float) -> float:
    seconds = time.process_time() - started
    gc.enable()
    return seconds


def _owner() -> asyncio.Task[Any]:
    return asyncio.get_running_loop().create_task(asyncio.Event().wait())


async def _end(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _register_values(n: int) -> float:
    registry = await Registry.start(indexed_attributes=("capability",), max_indexed_values=1_000_000)
    owner = _owner()
    metadata = {"capability": [f"capability-{i}" for i in range(n)]}
    started = _start()
    registry.register("many", owner, metadata)
    registry.unregister("many")
    seconds = _stop(started)
    await _end(owner)
    await registry.stop()
    return seconds


async def _owner_cleanup(n: int) -> float:
    registry = await Registry.start()
    owner = _owner()
    for i in range(n):
        registry.register(f"k{i}", owner, {"capability": f"c{i % 100}", "node": "a"})
    started = _start()
    await _end(owner)
    await registry.settle()
    seconds = _stop(started)
    assert registry.monitor_count() == 0
    await registry.stop()
    return seconds


async def _with_entries(n: int, work: Callable[[Registry], Awaitable[object]]) -> float:
    registry = await Registry.start()
    owner = _owner()
    for i in range(n):
        registry.register(f"k{i}", owner, {"node": f"n{i % 50}", "load": i})
    started = _start()
    await work(registry)
    seconds = _stop(started)
    await _end(owner)
    await registry.stop()
    return seconds


async def _scan(n: int) -> float:
    return await _with_entries(n, lambda registry: registry.scan())


async def _in_values(n: int) -> float:
    values = [f"n{i}" for i in range(n)]
    return await _with_entries(10_000, lambda registry: registry.scan([("node", "in", values)]))


async def _in_entries(n: int) -> float:
    values = [f"n{i}" for i in range(1_000)]
    return await _with_entries(n, lambda registry: registry.scan([("node", "in", values)]))


async def _sweep(n: int) -> float:
    clock = ManualClock()
    cache = await Cache.start(CacheConfig(ttl=1.0, max_size=None, janitor_interval=None), clock=clock)
    for i in range(n):
        cache.put(f"k{i}", i)
    clock.advance(1.0)
    started = _start()
    assert await cache.sweep_in_slices() == n
    seconds = _stop(started)
    await cache.stop()
    return seconds


# Sizes past the point where the data outgrows the CPU's caches: below it (a scan of 25,000 entries
# in 2 ms, of 50,000 in 6 to 14 ms) doubling measures the cache, not the algorithm.
CASES: list[tuple[str, Measure, int]] = [
    ("register one entry with n distinct indexed values", _register_values, 20_000),
    ("cleanup of an exited owner's n entries", _owner_cleanup, 20_000),
    ("registry.scan (list) over n entries", _scan, 100_000),
    ("query: `in` of n values over 10k entries", _in_values, 20_000),
    ("query: `in` of 1k values over n entries", _in_entries, 50_000),
    ("cache sweep of n expired entries", _sweep, 50_000),
]


async def _measure() -> list[tuple[str, float, float]]:
    rows = []
    for name, measure, n in CASES:
        await measure(n)  # warm up: imports, first allocations
        small, large = [], []
        for _ in range(ROUNDS):
            small.append(await measure(n))
            large.append(await measure(2 * n))
        rows.append((f"{name}: {n // 1000}k -> {2 * n // 1000}k", min(large) * 1e3, min(small) * 1e3))
    return rows


def run(loop_name: str) -> list[Row]:
    return [
        Row("scaling", name, loop_name, doubled, single, "ms", TARGET)
        for name, doubled, single in run_on(loop_name, _measure())
    ]
