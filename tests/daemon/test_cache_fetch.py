"""fetch: single flight (concurrent misses of one key run the fallback once; docs/otp-conformance.md#cache),
errors reach every waiter and cache nothing, Commit/Decline, a cancelled leader, a flight that
outlives its cache (stopped or crashed) or its owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest

from daemon.cache import MISS, Cache, CacheConfig, Commit, Decline
from supervisor import NoProc, Server, telemetry
from supervisor.testing import ManualClock

CONCURRENT = 1000


@pytest.fixture
async def cache(manual_clock: ManualClock) -> AsyncIterator[Cache]:
    server = await Cache.start(
        CacheConfig(ttl=10.0, max_size=None, janitor_interval=None), clock=manual_clock
    )
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


async def flight(
    cache: Cache, fallback: Fallback, followers: int, owner: Any = None
) -> tuple[asyncio.Task[Any], list[asyncio.Task[Any]]]:
    """A leader running ``fallback`` for "k" and ``followers`` fetches waiting on its flight; returns
    once they all wait (a fetch emits its miss in the step in which it joins the flight)."""
    with telemetry.capture(MISS) as misses:
        leader = asyncio.create_task(cache.fetch("k", fallback, owner=owner))
        async with asyncio.timeout(10):
            await fallback.started.wait()
            waiting = [asyncio.create_task(cache.fetch("k", fallback)) for _ in range(followers)]
            await misses.wait(MISS, count=1 + followers)
    return leader, waiting


async def end(cache: Cache, how: str) -> None:
    """Stop the cache, or crash it (``kill``: its ``terminate`` does not run)."""
    if how == "stop":
        await cache.stop()
    else:
        cache.kill()
        await cache.wait()


async def test_a_hit_does_not_call_the_fallback(cache: Cache) -> None:
    cache.put("k", 1)
    fallback = Fallback(2)
    assert await cache.fetch("k", fallback) == 1
    assert fallback.calls == 0


async def test_a_miss_calls_the_fallback_and_caches_its_value(
    cache: Cache, manual_clock: ManualClock
) -> None:
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


class StopsIterating:
    """An awaitable whose ``__await__`` raises StopIteration (no coroutine can: Python turns it into
    RuntimeError; a hand-written awaitable can, and only at once, before it ever waits)."""

    def __await__(self) -> Generator[Any, None, Any]:
        raise StopIteration


async def test_a_fallback_raising_stop_iteration_leaves_no_flight_behind(cache: Cache) -> None:
    with pytest.raises(RuntimeError, match="StopIteration"):  # as from any coroutine
        await cache.fetch("k", lambda key: StopsIterating())
    # A future refuses StopIteration: the flight used to stay, and every later fetch waited on it.
    retry = Fallback("recovered")
    retry.release.set()
    async with asyncio.timeout(10):
        assert await cache.fetch("k", retry) == "recovered"
    assert retry.calls == 1


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


@pytest.mark.parametrize("how", ["stop", "kill"])
@pytest.mark.parametrize("outcome", ["computed", LookupError("backend down")], ids=["value", "error"])
async def test_a_flight_outlives_its_cache(cache: Cache, how: str, outcome: Any) -> None:
    """The cache stops or crashes while the fallback runs: the leader and every follower still get
    the fallback's own outcome (not TableGone, and no follower waits forever); nothing is cached."""
    fallback = Fallback(outcome)
    leader, followers = await flight(cache, fallback, 3)
    await end(cache, how)
    assert not cache.alive
    fallback.release.set()
    async with asyncio.timeout(10):
        results = await asyncio.gather(leader, *followers, return_exceptions=True)
    assert all(result is outcome for result in results)
    assert fallback.calls == 1
    assert cache._counters.sets == 0  # nothing was cached (the tables are gone with the cache)


async def test_followers_of_a_leader_cancelled_after_the_cache_stopped_get_noproc(cache: Cache) -> None:
    """No one can take the flight over from a dead cache: the followers get NoProc, not a hang and
    not TableGone."""
    fallback = Fallback("never")
    leader, followers = await flight(cache, fallback, 3)
    await cache.stop()
    leader.cancel()
    async with asyncio.timeout(10):
        results = await asyncio.gather(*followers, return_exceptions=True)
        await asyncio.gather(leader, return_exceptions=True)
    assert leader.cancelled()
    assert all(isinstance(result, NoProc) for result in results)
    assert fallback.calls == 1


async def test_an_owner_that_exits_during_the_flight_gets_the_value_uncached(cache: Cache) -> None:
    """The value is everyone's (the followers asked for no owner); there is no one to bind it to,
    so it is not cached."""
    owner = await Server.start()
    fallback = Fallback("value")
    leader, [follower] = await flight(cache, fallback, 1, owner=owner)
    await owner.stop()
    fallback.release.set()
    async with asyncio.timeout(10):
        assert list(await asyncio.gather(leader, follower)) == ["value", "value"]
    assert "k" not in cache
    assert cache.monitor_count() == 0
    assert cache.stats().sets == 0


async def test_a_dead_owner_is_refused_before_the_fallback_runs(cache: Cache) -> None:
    owner = await Server.start()
    await owner.stop()
    fallback = Fallback("value")
    fallback.release.set()
    with pytest.raises(NoProc):
        await cache.fetch("k", fallback, owner=owner)
    assert fallback.calls == 0
    assert await cache.fetch("k", fallback) == "value"  # no flight was left behind
