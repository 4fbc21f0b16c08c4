"""Benchmarks of the TTL cache against ``cachetools.TTLCache`` (the usual Python choice).

- ``get`` of a present, unexpired key against ``TTLCache.__getitem__`` on the same keys, both with
  a TTL of 300 s and room for 10,000 entries (target 1.0x: arbord at least as fast). arbord's get
  also counts the hit, emits the ``hit`` telemetry event and records the use for its LRU;
  ``TTLCache`` moves the key in its LRU order. A second row shows a cache without ``max_size``
  (no LRU bookkeeping).
- Memory per entry for 1,000,000 entries (string keys, int values, fresh on both sides), measured
  with ``tracemalloc`` as retained bytes after the build (target 1.2x), with and without ``max_size``.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.cache import Cache, CacheConfig

KEYS = 1_000
GETS = 100_000
ROUNDS = 9
TTL = 300.0
MAX_SIZE = 10_000
MEMORY_ENTRIES = 1_000_000


async def _get_hits() -> list[tuple[str, float, float, float, str]]:
    keys = [f"key-{n}" for n in range(KEYS)]
    probes = keys * (GETS // KEYS)
    reference: TTLCache[str, int] = TTLCache(maxsize=MAX_SIZE, ttl=TTL)
    bounded = await Cache.start(CacheConfig(ttl=TTL, max_size=MAX_SIZE, janitor_interval=None))
    unbounded = await Cache.start(CacheConfig(ttl=TTL, max_size=None, janitor_interval=None))
    for n, key in enumerate(keys):
        reference[key] = n
        bounded.put(key, n)
        unbounded.put(key, n)
    getitem = reference.__getitem__

    def baseline() -> None:
        for key in probes:
            getitem(key)

    def measure(cache: Cache) -> Callable[[], None]:
        get = cache.get

        def arbord() -> None:
            for key in probes:
                get(key)

        return arbord

    rows = []
    for name, cache in [
        ("get hit vs cachetools TTLCache.__getitem__", bounded),
        ("get hit, no max_size, vs TTLCache.__getitem__", unbounded),
    ]:
        a, b = paired(measure(cache), baseline, rounds=ROUNDS)
        rows.append((name, per_op(a, GETS), per_op(b, GETS), 1.0, "us"))
    await bounded.stop()
    await unbounded.stop()
    return rows


def _retained(build: Callable[[], Any]) -> tuple[float, Any]:
    """Bytes per entry retained by what ``build`` returns, and that object (kept alive meanwhile)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / MEMORY_ENTRIES, kept


async def _memory() -> list[tuple[str, float, float, float, str]]:
    def build_reference() -> Any:
        reference: TTLCache[str, int] = TTLCache(maxsize=2 * MEMORY_ENTRIES, ttl=TTL)
        for n in range(MEMORY_ENTRIES):
            reference[f"key-{n}"] = n + 1000
        return reference

    baseline, kept = _retained(build_reference)
    del kept
    rows = []
    for name, max_size in [
        ("memory per entry, 1M entries vs TTLCache", 2 * MEMORY_ENTRIES),
        ("memory per entry, 1M entries, no max_size, vs TTLCache", None),
    ]:
        config = CacheConfig(ttl=TTL, max_size=max_size, janitor_interval=None)
        cache = await Cache.start(config)

        def build(cache: Cache = cache) -> Any:
            put = cache.put
            for n in range(MEMORY_ENTRIES):
                put(f"key-{n}", n + 1000)
            return cache

        arbord, kept = _retained(build)
        del kept
        await cache.stop()
        rows.append((name, arbord, baseline, 1.2, "B"))
    return rows


async def _measure(memory: bool) -> list[tuple[str, float, float, float, str]]:
    rows = await _get_hits()
    if memory:
        rows += await _memory()
    return rows


def run(loop_name: str) -> list[Row]:
    # Memory does not depend on the loop: measured once, on the default loop (it takes a while).
    measured = run_on(loop_name, _measure(memory=loop_name == "asyncio"))
    return [Row("cache", name, loop_name, a, b, unit, target) for name, a, b, target, unit in measured]
