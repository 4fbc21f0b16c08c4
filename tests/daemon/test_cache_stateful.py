"""The cache against a simple model, through random steps (hypothesis, stateful): put (default TTL,
own TTL, no expiry), get, fetch (commit, decline, error), delete, touch, expire, sweep, and the
manual clock moving. The model is a dict of stored entries in least-recently-used order, with the
same lazy-expiry rule; every step compares values, and the counters keep
``sets == stored + expirations + evictions + deletions`` after every step."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from daemon.cache import Cache, CacheConfig, Decline
from supervisor import ManualClock

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
TTLS = st.sampled_from([None, 1.0, 3.0, math.inf])
DEFAULT_TTL = 5.0
MAX_SIZE = 4


class CacheMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner: asyncio.Runner | None = None
        self.clock = ManualClock()
        # key -> (value, expires_at or None, ttl or None); dict order = least recently used first.
        self.stored: dict[str, tuple[int, float | None, float | None]] = {}
        self.counts = {"hits": 0, "misses": 0, "sets": 0, "evictions": 0, "expirations": 0, "deletions": 0}
        self.version = 0

    def _run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(awaitable)

    @initialize(loop=st.sampled_from(sorted(LOOPS)))
    def start(self, loop: str) -> None:
        self.runner = asyncio.Runner(loop_factory=LOOPS[loop])
        config = CacheConfig(ttl=DEFAULT_TTL, max_size=MAX_SIZE, janitor_interval=None)
        self.cache: Cache = self._run(Cache.start(config, clock=self.clock))

    def teardown(self) -> None:
        if self.runner is None:
            return
        try:
            self._run(self.cache.stop())
        finally:
            self.runner.close()

    # --- the model's rules (the same as the cache's, written plainly) --------------------------------

    def _expired(self, key: str) -> bool:
        expires = self.stored[key][1]
        return expires is not None and expires <= self.clock.monotonic()

    def _live(self, key: str) -> bool:
        """Like the cache: an expired entry found on access is removed and counted."""
        if key not in self.stored:
            return False
        if self._expired(key):
            del self.stored[key]
            self.counts["expirations"] += 1
            return False
        return True

    def _use(self, key: str) -> None:
        self.stored[key] = self.stored.pop(key)

    def _read(self, key: str) -> int | None:
        if self._live(key):
            self.counts["hits"] += 1
            self._use(key)
            return self.stored[key][0]
        self.counts["misses"] += 1
        return None

    def _put(self, key: str, ttl: float | None) -> int:
        self.version += 1
        if key in self.stored:
            self.counts["expirations" if self._expired(key) else "deletions"] += 1
            del self.stored[key]
        while len(self.stored) >= MAX_SIZE:
            victim = next(iter(self.stored))
            self.counts["expirations" if self._expired(victim) else "evictions"] += 1
            del self.stored[victim]
        ttl = DEFAULT_TTL if ttl is None else ttl
        expires = None if ttl == math.inf else self.clock.monotonic() + ttl
        self.stored[key] = (self.version, expires, None if ttl == math.inf else ttl)
        self.counts["sets"] += 1
        return self.version

    # --- steps ---------------------------------------------------------------------------------------

    @rule(key=KEYS, ttl=TTLS)
    def put(self, key: str, ttl: float | None) -> None:
        value = self._put(key, ttl)
        self.cache.put(key, value, ttl)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        assert self.cache.get(key) == self._read(key)

    @rule(key=KEYS, outcome=st.sampled_from(["commit", "decline", "error"]))
    def fetch(self, key: str, outcome: str) -> None:
        expected = self._read(key)
        computed = self.version + 1000

        async def fallback(_: Any) -> Any:
            if outcome == "error":
                raise LookupError("no value")
            return computed if outcome == "commit" else Decline(computed)

        async def fetch() -> Any:
            try:
                return await self.cache.fetch(key, fallback)
            except LookupError:
                return "error"

        got = self._run(fetch())
        if expected is not None:
            assert got == expected
            return
        if outcome == "error":
            assert got == "error"
            return
        assert got == computed
        if outcome == "commit":
            self._put(key, None)
            self.stored[key] = (computed, *self.stored[key][1:])

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        live = self._live(key)
        if live:
            del self.stored[key]
            self.counts["deletions"] += 1
        assert self.cache.delete(key) is live

    @rule(key=KEYS)
    def touch(self, key: str) -> None:
        live = self._live(key)
        if live:
            value, _, ttl = self.stored[key]
            expires = None if ttl is None else self.clock.monotonic() + ttl
            self.stored[key] = (value, expires, ttl)
            self._use(key)
        assert self.cache.touch(key) is live

    @rule(key=KEYS, ttl=st.sampled_from([None, 0.0, 2.0]))
    def expire(self, key: str, ttl: float | None) -> None:
        live = self._live(key)
        if live:
            value, _, _ = self.stored[key]
            if ttl == 0.0:
                del self.stored[key]
                self.counts["expirations"] += 1
            else:
                expires = None if ttl is None else self.clock.monotonic() + ttl
                self.stored[key] = (value, expires, ttl)
        assert self.cache.expire(key, ttl) is live

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.5]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        expired = [k for k in self.stored if self._expired(k)]
        for key in expired:
            del self.stored[key]
        self.counts["expirations"] += len(expired)
        assert self.cache.sweep() == len(expired)
        stats = self.cache.stats()  # sweeps again: nothing left to expire
        assert {k: getattr(stats, k) for k in self.counts} == self.counts
        assert stats.size == len(self.stored)
        assert stats.balanced

    # --- after every step ----------------------------------------------------------------------------

    @invariant()
    def same_entries_in_the_same_order(self) -> None:
        if self.runner is None:
            return
        rows = self.cache._entries.tab2list()
        assert {row[0]: row[1] for row in rows} == {k: v[0] for k, v in self.stored.items()}
        counters = self.cache._counters
        assert {k: getattr(counters, k) for k in self.counts} == self.counts
        assert counters.sets == len(rows) + counters.expirations + counters.evictions + counters.deletions


CacheMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCacheModel = CacheMachine.TestCase
