"""fetch: single flight (concurrent misses of one key run the fallback once, REFERENCE §4 bug (c) not
copied, §18), errors reach every waiter and cache nothing, Commit/Decline, a cancelled leader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.cache import Cache, CacheConfig, Commit, Decline
from supervisor import ManualClock, Server

CONCURRENT = 1000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def cache(clock: ManualClock) -> AsyncIterator[Cache]:
    server = await Cache.start(CacheConfig(ttl=10.0, max_size=None, janitor_interval=None), clock=clock)
    yield server
    if server.alive:
        await server.stop()


class Fallback:
    """Counts its calls; each call waits for ``release`` and then returns (or raises) ``outcome``."""

    def __init__(self, outcome: Any) -> None:
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.outcome = outcome

    async def __call__(self, key: Any) -> Any:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


async def test_a_hit_does_not_call_the_fallback(cache: Cache) -> None:
    cache.put("k", 1)
    fallback = Fallback(2)
    assert await cache.fetch("k", fallback) == 1
    assert fallback.calls == 0


async def test_a_miss_calls_the_fallback_and_caches_its_value(cache: Cache, clock: ManualClock) -> None:
    fallback = Fallback("computed")
    fallback.release.set()
    assert await cache.fetch("k", fallback, ttl=3.0) == "computed"
    assert cache.get("k") == "computed"
    assert cache.ttl("k") == pytest.approx(3.0)


async def test_concurrent_fetches_of_one_missing_key_run_the_fallback_once(cache: Cache) -> None:
    fallback = Fallback({"value": 42})
    fetches = [asyncio.create_task(cache.fetch("k", fallback)) for _ in range(CONCURRENT)]
    async with asyncio.timeout(10):
        await fallback.started.wait()
    fallback.release.set()
    results = await asyncio.gather(*fetches)
    assert fallback.calls == 1
    assert all(result is results[0] for result in results)
    assert results[0] == {"value": 42}
    stats = cache.stats()
    assert (stats.sets, stats.misses, stats.hits) == (1, CONCURRENT, 0)


async def test_a_fallback_error_reaches_every_waiter_and_caches_nothing(cache: Cache) -> None:
    fallback = Fallback(LookupError("backend down"))
    fetches = [asyncio.create_task(cache.fetch("k", fallback)) for _ in range(20)]
    async with asyncio.timeout(10):
        await fallback.started.wait()
    fallback.release.set()
    results = await asyncio.gather(*fetches, return_exceptions=True)
    assert all(isinstance(r, LookupError) and str(r) == "backend down" for r in results)
    assert fallback.calls == 1
    assert "k" not in cache
    retry = Fallback("recovered")
    retry.release.set()
    assert await cache.fetch("k", retry) == "recovered"  # nothing stuck in flight


async def test_decline_returns_the_value_to_all_without_caching(cache: Cache) -> None:
    fallback = Fallback(Decline("not now"))
    fetches = [asyncio.create_task(cache.fetch("k", fallback)) for _ in range(5)]
    async with asyncio.timeout(10):
        await fallback.started.wait()
    fallback.release.set()
    assert await asyncio.gather(*fetches) == ["not now"] * 5
    assert fallback.calls == 1
    assert "k" not in cache


async def test_commit_carries_its_own_ttl(cache: Cache) -> None:
    fallback = Fallback(Commit("v", ttl=99.0))
    fallback.release.set()
    assert await cache.fetch("k", fallback, ttl=1.0) == "v"
    assert cache.ttl("k") == pytest.approx(99.0)


async def test_a_cancelled_leader_hands_the_flight_to_a_follower(cache: Cache) -> None:
    first = Fallback("from the first")
    leader = asyncio.create_task(cache.fetch("k", first))
    async with asyncio.timeout(10):
        await first.started.wait()
    second = Fallback("from a follower")
    second.release.set()
    follower = asyncio.create_task(cache.fetch("k", second))
    await asyncio.sleep(0)  # let the follower join the flight (scheduling, not synchronisation)
    leader.cancel()
    await asyncio.gather(leader, return_exceptions=True)
    assert leader.cancelled()
    async with asyncio.timeout(10):
        assert await follower == "from a follower"
    assert first.calls == 1
    assert second.calls == 1
    assert cache.get("k") == "from a follower"


async def test_a_cancelled_follower_does_not_disturb_the_flight(cache: Cache) -> None:
    fallback = Fallback("value")
    leader = asyncio.create_task(cache.fetch("k", fallback))
    async with asyncio.timeout(10):
        await fallback.started.wait()
    follower = asyncio.create_task(cache.fetch("k", fallback))
    await asyncio.sleep(0)
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)
    fallback.release.set()
    assert await leader == "value"
    assert fallback.calls == 1


async def test_fetch_can_bind_the_value_to_an_owner(cache: Cache) -> None:
    owner = await Server.start()
    fallback = Fallback("bound")
    fallback.release.set()
    await cache.fetch("k", fallback, owner=owner)
    await owner.stop()
    await cache.settle()
    assert "k" not in cache
