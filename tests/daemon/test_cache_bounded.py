"""Bounded work per request in the caches (issue 12, item 1): the walks of a cache (its janitor's
sweep, ``cache.list``/``clear``/``stats``, the cleanup of an exited owner's entries) run in slices
that let the rest of the loop run, measured by a probe's turns (``tests/daemon/loop_probe.py``)."""

from __future__ import annotations

import asyncio

from daemon.cache import Cache, CacheConfig
from daemon.chunked import SCAN_CHUNK
from supervisor.testing import ManualClock
from tests.daemon.loop_probe import open_loop_probe

TOTAL = 4 * SCAN_CHUNK


def halfway(sizes: list[int]) -> bool:
    """The probe saw the table part-way through (a walk in one step shows only before and after)."""
    return any(0 < size < TOTAL for size in sizes)


async def test_an_owner_of_many_entries_is_cleaned_up_in_slices() -> None:
    cache = await Cache.start(CacheConfig(ttl=None, max_size=None))
    owner = asyncio.create_task(asyncio.Event().wait())
    for n in range(TOTAL):
        cache.put(f"k{n}", n, owner=owner)
    async with open_loop_probe(lambda: len(cache)) as probe:
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
        await cache.settle()
    assert halfway(probe.seen), sorted(set(probe.seen))
    assert len(cache) == 0
    assert cache.monitor_count() == 0
    await cache.stop()


async def test_a_sweep_in_slices_drops_what_had_expired_when_it_started() -> None:
    clock = ManualClock()
    cache = await Cache.start(CacheConfig(ttl=10.0, max_size=None, janitor_interval=None), clock=clock)
    for n in range(TOTAL):
        cache.put(f"k{n}", n)
    cache.put("forever", 0, ttl=float("inf"))
    clock.advance(10.0)
    async with open_loop_probe(lambda: len(cache) - 1) as probe:
        assert await cache.sweep_in_slices() == TOTAL
    assert halfway(probe.seen)
    assert cache.keys() == ["forever"]
    stats = cache.stats(sweep=False)
    assert (stats.expirations, stats.size) == (TOTAL, 1)
    await cache.stop()


async def test_listing_and_clearing_a_large_cache_run_in_slices() -> None:
    cache = await Cache.start(CacheConfig(ttl=None, max_size=None))
    for n in range(TOTAL):
        cache.put(f"k{n}", n)
    async with open_loop_probe(lambda: None) as turns:
        before = turns.turns
        keys = await cache.scan()
        assert turns.turns - before >= 2
    assert keys == cache.keys()
    async with open_loop_probe(lambda: len(cache)) as probe:
        assert await cache.clear_in_slices() == TOTAL
    assert halfway(probe.seen)
    assert len(cache) == 0
    await cache.stop()
