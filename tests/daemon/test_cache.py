"""The TTL cache: expiry on a manual clock (never returned once expired), LRU eviction, the rolling
janitor, TTL operations, owner-bound entries, exact stats and telemetry
(docs/otp-conformance.md#cache)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.cache import (
    EVICT,
    EXPIRE,
    HIT,
    MISS,
    SWEEP,
    Cache,
    CacheConfig,
    CacheSettings,
    cache_child_spec,
    cache_named,
)
from daemon.cache.errors import UnknownCache
from supervisor import NoProc, Server, Supervisor, telemetry
from supervisor.testing import ManualClock


async def open_cache(manual_clock: ManualClock, **config: Any) -> Cache:
    defaults: dict[str, Any] = {"ttl": 10.0, "max_size": None, "janitor_interval": None}
    return await Cache.start(CacheConfig(**(defaults | config)), clock=manual_clock, label="test")


@pytest.fixture
async def cache(manual_clock: ManualClock) -> AsyncIterator[Cache]:
    server = await open_cache(manual_clock)
    yield server
    if server.alive:
        await server.stop()


# --- get, put, expiry ------------------------------------------------------------------------------


async def test_put_then_get(cache: Cache) -> None:
    cache.put("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    assert cache.get("missing", "default") == "default"


async def test_an_expired_entry_is_never_returned_even_before_the_janitor(
    cache: Cache, manual_clock: ManualClock
) -> None:
    cache.put("k", 1)
    manual_clock.advance(9.999)
    assert cache.get("k") == 1
    manual_clock.advance(
        0.001
    )  # exactly the TTL: expired (Foundation's TableCache: hit iff now < expires_at)
    assert cache.get("k") is None
    assert "k" not in cache
    assert len(cache) == 0


async def test_put_with_its_own_ttl_and_without_expiry(cache: Cache, manual_clock: ManualClock) -> None:
    cache.put("short", 1, ttl=1.0)
    cache.put("forever", 2, ttl=math.inf)
    manual_clock.advance(1000.0)
    assert cache.get("short") is None
    assert cache.get("forever") == 2
    assert cache.ttl("forever") is None


async def test_a_cache_without_default_ttl_keeps_entries(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, ttl=None)
    cache.put("k", 1)
    manual_clock.advance(1e9)
    assert cache.get("k") == 1
    await cache.stop()


@pytest.mark.parametrize("ttl", [0, -1.0, "1", True, math.nan])
async def test_a_bad_ttl_is_refused(cache: Cache, ttl: Any) -> None:
    with pytest.raises(ValueError, match="TTL"):
        cache.put("k", 1, ttl=ttl)
    assert len(cache) == 0


async def test_an_unhashable_key_is_refused(cache: Cache) -> None:
    with pytest.raises(TypeError, match="hashable"):
        cache.put(["k"], 1)  # type: ignore[arg-type]
    assert cache.get(["k"]) is None  # type: ignore[arg-type]  # reads of unhashable keys just miss


async def test_ttl_expire_and_touch(cache: Cache, manual_clock: ManualClock) -> None:
    cache.put("k", 1)
    manual_clock.advance(4.0)
    assert cache.ttl("k") == pytest.approx(6.0)
    assert cache.expire("k", 20.0) is True
    assert cache.ttl("k") == pytest.approx(20.0)
    manual_clock.advance(15.0)
    assert cache.touch("k") is True  # restarts the TTL it was given: 20 s from now
    assert cache.ttl("k") == pytest.approx(20.0)
    assert cache.expire("k", None) is True  # no expiry any more
    assert cache.ttl("k") is None
    manual_clock.advance(1e6)
    assert cache.get("k") == 1
    assert cache.expire("k", 0) is True  # expire now
    assert cache.get("k") is None
    assert cache.expire("k", 5.0) is False
    assert cache.touch("k") is False
    assert cache.ttl("k") is None


async def test_delete_and_clear(cache: Cache, manual_clock: ManualClock) -> None:
    cache.put("a", 1)
    cache.put("b", 2, ttl=1.0)
    cache.put("c", 3)
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    manual_clock.advance(1.0)
    assert cache.delete("b") is False  # expired: not a live value
    assert cache.clear() == 1
    stats = cache.stats()
    assert (stats.deletions, stats.expirations, stats.size) == (2, 1, 0)


async def test_a_stopped_cache_refuses_writes(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock)
    await cache.stop()
    with pytest.raises(NoProc):
        cache.put("k", 1)


# --- LRU ---------------------------------------------------------------------------------------------


async def test_the_least_recently_used_entry_is_evicted(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, max_size=3)
    for key in "abc":
        cache.put(key, key)
    cache.get("a")  # order of use: b, c, a
    cache.put("d", "d")  # evicts b
    assert cache.get("b") is None
    cache.touch("c")  # order: a, d, c
    cache.put("e", "e")  # evicts a
    assert sorted(cache.keys()) == ["c", "d", "e"]
    cache.put("d", "D")  # an overwrite is a use and needs no room: evicts nothing
    cache.put("f", "f")  # evicts c
    assert sorted(cache.keys()) == ["d", "e", "f"]
    stats = cache.stats()
    assert (stats.evictions, stats.overwrites, stats.size, stats.balanced) == (3, 1, 3, True)
    await cache.stop()


async def test_an_expired_lru_victim_counts_as_expired_not_evicted(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, max_size=2)
    cache.put("old", 1, ttl=1.0)
    cache.put("new", 2)
    manual_clock.advance(1.0)
    with telemetry.capture(EVICT, EXPIRE) as seen:
        cache.put("third", 3)
    assert [c.event for c in seen] == [EXPIRE]
    assert cache.stats().evictions == 0
    await cache.stop()


async def test_lru_order_stays_exact_under_many_uses(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, max_size=50)
    for key in range(50):
        cache.put(key, key)
    for key in reversed(range(50)):  # use them newest first: 49 is now the least recently used
        cache.get(key)
    for new in range(100, 110):
        cache.put(new, new)
    survivors = cache.keys()
    assert sorted(k for k in survivors if isinstance(k, int) and k < 100) == list(range(40))
    await cache.stop()


async def test_deletes_and_overwrites_keep_the_lru_heap_bounded_and_eviction_exact(
    manual_clock: ManualClock,
) -> None:
    cache = await open_cache(manual_clock, max_size=10)
    for round_ in range(200):  # churn far past the size: every key put, overwritten, then deleted
        cache.put(("churn", round_), round_)
        cache.put(("churn", round_), -round_)
        cache.delete(("churn", round_))
    assert cache._lru is not None
    assert len(cache._lru) <= 2 * len(cache) + 64  # stale records are compacted away
    for key in range(10):
        cache.put(key, key)
    for key in (0, 1, 2):
        cache.get(key)  # 3 is now the least recently used
    cache.put("new", 1)
    assert {0, 1, 2, 4, 5, 6, 7, 8, 9, "new"} == set(cache.keys())
    await cache.stop()


# --- the janitor ---------------------------------------------------------------------------------


async def test_the_janitor_sweeps_expired_entries_on_a_rolling_interval(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, janitor_interval=0.01)
    cache.put("a", 1, ttl=1.0)
    cache.put("b", 2, ttl=100.0)
    manual_clock.advance(1.0)
    with telemetry.capture(SWEEP, EXPIRE) as seen:
        async with asyncio.timeout(5):
            first = await seen.wait(SWEEP)
            assert first.measurements["expired"] == 1
            second = await seen.wait(SWEEP, count=2)  # it goes on: the next is scheduled after each
    assert second.measurements["expired"] == 0
    assert [c.metadata["key"] for c in seen.of(EXPIRE)] == ["a"]
    assert len(cache) == 1
    assert cache.get("b") == 2
    await cache.stop()


async def test_no_janitor_when_the_interval_is_none(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, janitor_interval=None)
    assert cache._janitor is None
    await cache.stop()


# --- owner-bound entries ---------------------------------------------------------------------------


async def test_an_entry_bound_to_an_owner_is_dropped_when_it_exits(cache: Cache) -> None:
    server = await Server.start()
    stop = asyncio.Event()
    task = asyncio.create_task(stop.wait())
    cache.put("by-server", 1, owner=server)
    cache.put("by-task", 2, owner=task)
    cache.put("free", 3)
    assert cache.monitor_count() == 2
    await server.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await cache.settle()
    assert cache.keys() == ["free"]
    assert cache.monitor_count() == 0
    assert cache.stats().deletions == 2


async def test_a_bound_entry_is_not_read_once_its_owner_has_exited(cache: Cache) -> None:
    """Between the owner's end and the cache handling its ``Down``, reads already miss: seen from a
    done-callback of the owner's task, which runs before the cache's task does."""
    task = asyncio.create_task(asyncio.Event().wait())
    cache.put("bound", 1, owner=task)
    cache.put("free", 2)
    seen: list[object] = []

    def read(_: object) -> None:
        seen.append(cache.monitor_count())  # 1: the cache has not handled the Down yet
        seen.extend([cache.get("bound", "missed"), "bound" in cache, cache.keys(), cache.ttl("bound")])

    task.add_done_callback(read)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert seen == [1, "missed", False, ["free"], None]
    await cache.settle()  # the Down finds the entry gone: not counted twice
    stats = cache.stats()
    assert (stats.deletions, stats.misses, stats.size, stats.balanced) == (1, 1, 1, True)
    assert cache.monitor_count() == 0


async def test_writes_count_an_entry_whose_owner_exited_as_deleted_not_live(cache: Cache) -> None:
    """In the same window, an overwrite of such an entry is not an overwrite of a live value, and
    ``clear`` does not count it as a live entry removed: it went when its owner exited."""
    task = asyncio.create_task(asyncio.Event().wait())
    cache.put("a", 1, owner=task)
    cache.put("b", 2, owner=task)
    seen: list[object] = []

    def write(_: object) -> None:
        cache.put("a", 10)
        seen.extend([cache.monitor_count(), cache.clear()])  # clears "a" (live) and "b" (owner gone)

    task.add_done_callback(write)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert seen == [1, 1]
    await cache.settle()
    stats = cache.stats()
    assert (stats.sets, stats.overwrites, stats.deletions, stats.size) == (3, 0, 3, 0)
    assert cache.monitor_count() == 0


async def test_an_expired_bound_entry_dropped_at_its_owners_exit_counts_as_expired(
    cache: Cache, manual_clock: ManualClock
) -> None:
    server = await Server.start()
    cache.put("short", 1, ttl=1.0, owner=server)
    manual_clock.advance(5.0)  # expired, but neither read nor swept (stats() would sweep it: not called)
    with telemetry.capture(EXPIRE) as seen:
        await server.stop()
        await cache.settle()
    assert [c.metadata["key"] for c in seen] == ["short"]  # dropped by the Down, as expired
    stats = cache.stats()
    assert (stats.sets, stats.expirations, stats.deletions, stats.size) == (1, 1, 0, 0)
    assert cache.monitor_count() == 0


async def test_an_overwritten_bound_entry_is_no_longer_bound(cache: Cache) -> None:
    server = await Server.start()
    baseline = len(server._exit_callbacks or {})
    cache.put("k", 1, owner=server)
    cache.put("k", 2)  # the new value has no owner: the binding (and the monitor) go
    assert cache.monitor_count() == 0
    assert len(server._exit_callbacks or {}) == baseline
    await server.stop()
    await cache.settle()
    assert cache.get("k") == 2


async def test_owner_monitors_return_to_baseline(cache: Cache, manual_clock: ManualClock) -> None:
    server = await Server.start()
    baseline = len(server._exit_callbacks or {})
    for n in range(20):
        cache.put(n, n, owner=server, ttl=1.0)
    cache.delete(0)
    manual_clock.advance(1.0)
    cache.stats()  # the sweep expires the rest
    assert cache.monitor_count() == 0
    assert len(server._exit_callbacks or {}) == baseline
    await server.stop()


async def test_a_dead_or_bad_owner_is_refused(cache: Cache) -> None:
    server = await Server.start()
    await server.stop()
    with pytest.raises(NoProc):
        cache.put("k", 1, owner=server)
    with pytest.raises(TypeError, match="owner"):
        cache.put("k", 1, owner="me")


# --- stats and telemetry ----------------------------------------------------------------------------


async def test_stats_are_exact_and_balanced(cache: Cache, manual_clock: ManualClock) -> None:
    cache.put("a", 1)
    cache.put("a", 2)  # overwrite: one deletion (and one overwrite)
    cache.put("b", 1, ttl=1.0)
    cache.get("a")
    cache.get("zzz")
    manual_clock.advance(1.0)
    cache.get("b")  # expired: a miss and an expiration
    stats = cache.stats()
    assert stats.as_dict() == {
        "hits": 1,
        "misses": 2,
        "sets": 3,
        "evictions": 0,
        "expirations": 1,
        "deletions": 1,
        "overwrites": 1,
        "size": 1,
        "hit_rate": pytest.approx(1 / 3),
    }
    assert stats.balanced


async def test_hit_miss_evict_expire_events(manual_clock: ManualClock) -> None:
    cache = await open_cache(manual_clock, max_size=1)
    with telemetry.capture(HIT, MISS, EVICT, EXPIRE) as seen:
        cache.put("a", 1, ttl=1.0)
        cache.get("a")
        cache.get("b")
        cache.put("b", 2)  # evicts a
        manual_clock.advance(20.0)
        cache.get("b")  # expired
    assert [(c.event[-1], c.metadata.get("key")) for c in seen] == [
        ("hit", None),
        ("miss", "b"),
        ("evict", "a"),
        ("expire", "b"),
        ("miss", "b"),
    ]
    assert all(c.metadata["cache"] == "test" for c in seen)
    await cache.stop()


# --- under the supervisor -------------------------------------------------------------------------


async def test_named_caches_run_under_the_cache_supervisor() -> None:
    settings = CacheSettings(caches={"sessions": CacheConfig(ttl=5.0)})
    async with Supervisor([cache_child_spec(settings)]):
        cache_named("default").put("k", 1)
        assert cache_named("sessions").get("k") is None  # separate caches
        assert cache_named("sessions").config.ttl == 5.0
        with pytest.raises(UnknownCache):
            cache_named("nope")
        crashed = cache_named("sessions")
        crashed.kill()
        await crashed.wait()
        async with asyncio.timeout(5):
            while True:  # the supervisor restarts it (empty: a cache may lose its contents)
                try:
                    restarted = cache_named("sessions")
                    break
                except UnknownCache:
                    await asyncio.sleep(0)
        assert restarted is not crashed
        assert len(restarted) == 0
        assert cache_named("default").get("k") == 1
