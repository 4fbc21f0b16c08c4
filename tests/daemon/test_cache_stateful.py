"""The cache against a simple model, through random steps (hypothesis, stateful): put (default TTL,
own TTL, no expiry, bound to an owner or not), get, ``in``, ttl, keys, delete, touch, expire, clear,
sweep, the manual clock moving, owners (tasks and servers) starting and ending, and single-flight
fetches (several concurrent callers of one key: cached, committed with its own TTL, declined, the
fallback raising, a dead owner refused, the owner exiting during the flight).

The model is a dict of stored entries in least-recently-used order, with the same lazy rules: an
entry is gone once its TTL has passed (an expiration) or its owner has exited (a deletion); what
finds it gone drops it and counts why (an overwrite, an eviction or ``clear`` included). A task
owner's end runs random operations, mostly on its own keys, in a done-callback of its task, which
runs before the cache has handled the task's ``Down``: there the dead owner's entries are still
stored (rows, bindings, room taken from ``max_size``) but gone for every read and write. Once the
``Down`` is handled (every step that ends an owner waits for it), what is left of its entries goes,
as an expiration if its TTL had passed, else as a deletion.

After every step: the stored rows (value, expiry, TTL, owner), the counters (overwrites included,
and ``sets == stored + expirations + evictions + deletions``), the owners' bindings and monitors
equal the model's; no entry of an exited owner is left; no flight is left; ``keys()`` lists exactly
the live entries. Every value ``get`` returns is also checked against the row it came from: never
expired, never bound to an exited owner."""

from __future__ import annotations

import asyncio
import math
from typing import Any, NamedTuple

import pytest
import uvloop
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from daemon.cache import MISS, Cache, CacheConfig, Commit, Decline
from supervisor import NoProc, Server, telemetry
from supervisor.testing import ManualClock

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
KEY_NAMES = ["a", "b", "c", "d", "e", "f"]
KEYS = st.sampled_from(KEY_NAMES)
TTLS = st.sampled_from([None, 1.0, 3.0, math.inf])
SECONDS = st.sampled_from([0.5, 1.0, 2.5])
# An owner: None (unbound), a live one (an index into them, modulo their number) or DEAD (the one that
# exited last, which the cache must refuse).
DEAD = -1
OWNERS = st.sampled_from([None, 0, 1, 2, DEAD])
DEFAULT_TTL = 5.0
COMMIT_TTL = 2.0
MAX_SIZE = 4
MAX_LIVE_OWNERS = 4
ABSENT: Any = object()

PICKS = st.integers(min_value=0, max_value=3)  # which live owner ends (those with entries first)
GIVEN = st.lists(st.tuples(KEYS, TTLS), max_size=3)  # entries bound to an owner just before it ends
LATER = st.sampled_from([0.0, 0.0, 1.0, 5.0])  # how long before an owner exits


def window_ops(keys: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Operations run in a task owner's done-callback (before the cache handles its Down)."""
    return st.lists(
        st.one_of(
            st.tuples(st.just("get"), keys),
            st.tuples(st.just("contains"), keys),
            st.tuples(st.just("ttl"), keys),
            st.tuples(st.just("keys")),
            st.tuples(st.just("put"), keys, TTLS, OWNERS),
            st.tuples(st.just("put_new"), TTLS, st.integers(min_value=1, max_value=MAX_SIZE)),
            st.tuples(st.just("delete"), keys),
            st.tuples(st.just("touch"), keys),
            st.tuples(st.just("expire"), keys, st.sampled_from([None, 0.0, 2.0])),
            st.tuples(st.just("clear")),
            st.tuples(st.just("sweep")),
            st.tuples(st.just("advance"), SECONDS),
        ),
        min_size=1,
        max_size=5,
    )


class Entry(NamedTuple):
    value: int
    expires: float | None
    ttl: float | None
    owner: int | None  # index into CacheMachine.owners


class Owner(Server):
    """A server that owns entries; the ones the test kills are not logged as crashes."""

    log_crashes = False


def owner_task(owner: Server | asyncio.Task[Any]) -> asyncio.Task[Any]:
    if isinstance(owner, asyncio.Task):
        return owner
    assert owner.task is not None
    return owner.task


class CacheMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner: asyncio.Runner | None = None
        self.clock = ManualClock()
        # key -> entry; dict order = least recently used first.
        self.stored: dict[str, Entry] = {}
        self.counts = {
            "hits": 0,
            "misses": 0,
            "sets": 0,
            "evictions": 0,
            "expirations": 0,
            "deletions": 0,
            "overwrites": 0,
        }
        self.version = 0
        self.owners: list[Server | asyncio.Task[Any]] = []
        self.alive: list[bool] = []
        self.exited: list[int] = []  # owners in the order they exited
        self.finish: list[asyncio.Event | None] = []  # a task owner returns once its event is set

    def _run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(awaitable)

    @initialize(loop=st.sampled_from(sorted(LOOPS)))
    def start(self, loop: str) -> None:
        self.runner = asyncio.Runner(loop_factory=LOOPS[loop])
        config = CacheConfig(ttl=DEFAULT_TTL, max_size=MAX_SIZE, janitor_interval=None)
        self.cache: Cache = self._run(Cache.start(config, clock=self.clock))
        self.spawn(server=False)
        self.spawn(server=True)

    def teardown(self) -> None:
        if self.runner is None:
            return

        async def finish() -> None:
            await self.cache.stop()
            for index, owner in enumerate(self.owners):
                if isinstance(owner, Server):
                    if owner.alive:
                        await owner.stop()
                else:
                    event = self.finish[index]
                    assert event is not None
                    event.set()
                    await asyncio.gather(owner, return_exceptions=True)

        try:
            self._run(finish())
        finally:
            self.runner.close()

    # --- the model's rules (the same as the cache's, written plainly) --------------------------------

    def _gone(self, key: str) -> str | None:
        """Why a stored entry is not live (the counter its drop goes to), or None if it is."""
        entry = self.stored[key]
        if entry.expires is not None and entry.expires <= self.clock.monotonic():
            return "expirations"
        if entry.owner is not None and not self.alive[entry.owner]:
            return "deletions"
        return None

    def _drop(self, key: str, why: str) -> None:
        del self.stored[key]
        self.counts[why] += 1

    def _live(self, key: str) -> bool:
        """Like the cache: an entry found gone on access is removed and counted."""
        if key not in self.stored:
            return False
        why = self._gone(key)
        if why is not None:
            self._drop(key, why)
            return False
        return True

    def _use(self, key: str) -> None:
        self.stored[key] = self.stored.pop(key)

    def _read(self, key: str) -> int | None:
        if self._live(key):
            self.counts["hits"] += 1
            self._use(key)
            return self.stored[key].value
        self.counts["misses"] += 1
        return None

    def _put(self, key: str, ttl: float | None, owner: int | None, value: int | None = None) -> int:
        self.version += 1
        if key in self.stored:
            why = self._gone(key)
            self._drop(key, why or "deletions")
            if why is None:
                self.counts["overwrites"] += 1
        while len(self.stored) >= MAX_SIZE:
            victim = next(iter(self.stored))
            self._drop(victim, self._gone(victim) or "evictions")
        ttl = DEFAULT_TTL if ttl is None else ttl
        expires = None if ttl == math.inf else self.clock.monotonic() + ttl
        value = self.version if value is None else value
        self.stored[key] = Entry(value, expires, None if ttl == math.inf else ttl, owner)
        self.counts["sets"] += 1
        return value

    def _exit(self, index: int) -> None:
        self.alive[index] = False
        self.exited.append(index)

    def _reap(self, index: int) -> None:
        """The cache has handled the Down of owner ``index``: what is left of its entries goes."""
        assert not self.alive[index]
        for key in [k for k, e in self.stored.items() if e.owner == index]:
            self._drop(key, self._gone(key) or "deletions")

    def _owner(self, pick: int | None) -> int | None:
        """The owner ``pick`` means (see OWNERS); None when there is no such owner."""
        if pick == DEAD:
            return self.exited[-1] if self.exited else None
        live = [i for i, alive in enumerate(self.alive) if alive]
        return None if pick is None or not live else live[pick % len(live)]

    def _alive_indexes(self, kind: type) -> list[int]:
        """The live owners of a kind, those with entries first (the ones whose end matters)."""
        alive = [i for i, o in enumerate(self.owners) if self.alive[i] and isinstance(o, kind)]
        owning = {e.owner for e in self.stored.values()}
        return sorted(alive, key=lambda i: i not in owning)

    # --- operations: the cache's and the model's side by side (steps, or run in an owner's end) -----

    def _op_get(self, key: str) -> None:
        row = self.cache._entries.get(key)
        got = self.cache.get(key, ABSENT)
        expected = self._read(key)
        assert got == (ABSENT if expected is None else expected)
        if got is not ABSENT:  # whatever a read returns was live: not expired, its owner running
            assert row is not None
            assert got is row[1]
            assert row[2] is None or row[2] > self.clock.monotonic()
            assert row[4] is None or not row[4].done()

    def _op_contains(self, key: str) -> None:
        assert (key in self.cache) is self._live(key)

    def _op_ttl(self, key: str) -> None:
        expected = None
        if self._live(key):
            expires = self.stored[key].expires
            expected = None if expires is None else expires - self.clock.monotonic()
        assert self.cache.ttl(key) == expected

    def _op_keys(self) -> None:
        assert sorted(self.cache.keys()) == sorted(k for k in self.stored if self._gone(k) is None)

    def _op_put(self, key: str, ttl: float | None, pick: int | None) -> None:
        index = self._owner(pick)
        owner = None if index is None else self.owners[index]
        if index is not None and not self.alive[index]:
            with pytest.raises(NoProc):
                self.cache.put(key, -1, ttl, owner=owner)
            return
        self._put_both(key, ttl, index)

    def _put_both(self, key: str, ttl: float | None, index: int | None) -> None:
        value = self._put(key, ttl, index)
        self.cache.put(key, value, ttl, owner=None if index is None else self.owners[index])

    def _op_put_new(self, ttl: float | None, times: int) -> None:
        """Unbound puts of keys not stored: each evicts the least recently used entry when full (so
        ``MAX_SIZE`` of them evict every entry stored before)."""
        for _ in range(times):
            self._put_both(next(k for k in KEY_NAMES if k not in self.stored), ttl, None)

    def _op_delete(self, key: str) -> None:
        live = self._live(key)
        if live:
            self._drop(key, "deletions")
        assert self.cache.delete(key) is live

    def _op_touch(self, key: str) -> None:
        live = self._live(key)
        if live:
            entry = self.stored[key]
            if entry.ttl is not None:
                self.stored[key] = entry._replace(expires=self.clock.monotonic() + entry.ttl)
            self._use(key)
        assert self.cache.touch(key) is live

    def _op_expire(self, key: str, ttl: float | None) -> None:
        live = self._live(key)
        if live:
            if ttl == 0.0:
                self._drop(key, "expirations")
            else:
                expires = None if ttl is None else self.clock.monotonic() + ttl
                self.stored[key] = self.stored[key]._replace(expires=expires, ttl=ttl)
        assert self.cache.expire(key, ttl) is live

    def _op_clear(self) -> None:
        cleared = 0
        for key in list(self.stored):
            why = self._gone(key)
            self._drop(key, why or "deletions")
            cleared += why is None
        assert self.cache.clear() == cleared

    def _op_sweep(self) -> None:
        expired = [k for k in self.stored if self._gone(k) == "expirations"]
        for key in expired:
            self._drop(key, "expirations")
        assert self.cache.sweep() == len(expired)
        stats = self.cache.stats()  # sweeps again: nothing left to expire
        assert {k: getattr(stats, k) for k in self.counts} == self.counts
        assert stats.size == len(self.stored)
        assert stats.balanced

    def _op_advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- steps ---------------------------------------------------------------------------------------

    @rule(entries=st.lists(st.tuples(KEYS, TTLS, OWNERS), min_size=1, max_size=3))
    def put(self, entries: list[tuple[str, float | None, int | None]]) -> None:
        for key, ttl, owner in entries:
            self._op_put(key, ttl, owner)

    @rule(key=KEYS, how=st.sampled_from(["get", "contains", "ttl"]))
    def read(self, key: str, how: str) -> None:
        getattr(self, f"_op_{how}")(key)

    @rule(key=KEYS, how=st.sampled_from(["delete", "touch", "expire"]), ttl=st.sampled_from([None, 0.0, 2.0]))
    def change(self, key: str, how: str, ttl: float | None) -> None:
        if how == "expire":
            self._op_expire(key, ttl)
        else:
            getattr(self, f"_op_{how}")(key)

    @rule()
    def clear(self) -> None:
        self._op_clear()

    @rule(seconds=SECONDS)
    def advance(self, seconds: float) -> None:
        self._op_advance(seconds)

    @rule()
    def sweep(self) -> None:
        self._op_sweep()

    @rule(
        key=KEYS,
        callers=st.integers(min_value=1, max_value=4),
        outcome=st.sampled_from(["value", "commit", "decline", "error"]),
        ttl=TTLS,
        owner=OWNERS,
        owner_exits=st.booleans(),
    )
    def fetch(
        self, key: str, callers: int, outcome: str, ttl: float | None, owner: int | None, owner_exits: bool
    ) -> None:
        """``callers`` concurrent fetches of ``key``; on a miss the fallback waits until all of them
        have joined its flight (and, with ``owner_exits``, until the owner has exited)."""
        index = self._owner(owner)
        owner_ = None if index is None else self.owners[index]
        hit = self._live(key)  # the first caller's read drops an expired entry
        for _ in range(callers):
            self._read(key)
        leads = not hit and (index is None or self.alive[index])
        exits = leads and index is not None and owner_exits
        computed = self.version + 1000
        error = LookupError("no value")
        calls: list[str] = []

        async def fallback(k: str) -> Any:
            calls.append(k)
            await release.wait()
            if outcome == "error":
                raise error
            if outcome == "commit":
                return Commit(computed, ttl=COMMIT_TTL)
            return Decline(computed) if outcome == "decline" else computed

        async def end_owner() -> None:
            assert owner_ is not None
            if isinstance(owner_, Server):
                await owner_.stop()
            else:
                owner_.cancel()
                await asyncio.gather(owner_, return_exceptions=True)

        async def flight() -> list[Any]:
            with telemetry.capture(MISS) as misses:
                fetches = [
                    asyncio.create_task(self.cache.fetch(key, fallback, ttl, owner=owner_))
                    for _ in range(callers)
                ]
                answered = asyncio.gather(*fetches, return_exceptions=True)
                async with asyncio.timeout(10):
                    # Until every caller has missed (a fetch misses in the step in which it leads
                    # or joins the flight), or all are answered without a flight (a hit, a dead
                    # owner refused): the cache, not the model, decides which.
                    joined: asyncio.Future[Any] = asyncio.ensure_future(misses.wait(MISS, count=callers))
                    await asyncio.wait([joined, answered], return_when=asyncio.FIRST_COMPLETED)
                    joined.cancel()
                    if exits:
                        await end_owner()
                    release.set()
                    results: list[Any] = await answered
                    await self.cache.settle()  # the owner's Down, when it exited
            return results

        release = asyncio.Event()
        results = self._run(flight())
        if hit:
            assert results == [self.stored[key].value] * callers
            assert calls == []
            return
        if not leads:  # a dead owner is refused before the fallback runs, by every caller
            assert all(isinstance(r, NoProc) for r in results)
            assert calls == []
            return
        assert calls == [key]  # single flight: one fallback for every caller
        if exits:
            assert index is not None
            self._exit(index)
            self._reap(index)
        if outcome == "error":
            assert all(r is error for r in results)
            return
        assert results == [computed] * callers
        if outcome in ("value", "commit") and not exits:
            self._put(key, COMMIT_TTL if outcome == "commit" else ttl, index, value=computed)

    @precondition(lambda self: sum(self.alive) < MAX_LIVE_OWNERS)
    @rule(server=st.booleans())
    def spawn(self, server: bool) -> None:
        event = None if server else asyncio.Event()

        async def make() -> Server | asyncio.Task[Any]:
            if event is None:
                return await Owner.start()
            return asyncio.create_task(event.wait())

        self.owners.append(self._run(make()))
        self.alive.append(True)
        self.finish.append(event)

    @precondition(lambda self: self._alive_indexes(Server))
    @rule(pick=PICKS, given=GIVEN, how=st.sampled_from(["stop", "kill"]), later=LATER)
    def end_server(self, pick: int, given: list[tuple[str, float | None]], how: str, later: float) -> None:
        """The server is given a few more entries; ``later`` seconds on, it stops or is killed; once
        the cache has handled its Down, its entries are gone (expired ones as expirations)."""
        indexes = self._alive_indexes(Server)
        index = indexes[pick % len(indexes)]
        server = self.owners[index]
        assert isinstance(server, Server)
        for key, ttl in given:
            self._put_both(key, ttl, index)
        self._op_advance(later)

        async def end() -> None:
            if how == "stop":
                await server.stop()
            else:
                server.kill()
                await server.wait()
            await self.cache.settle()

        self._run(end())
        self._exit(index)
        self._reap(index)

    @precondition(lambda self: self._alive_indexes(asyncio.Task))
    @rule(
        pick=PICKS,
        given=GIVEN,
        how=st.sampled_from(["return", "cancel"]),
        later=LATER,
        data=st.data(),
    )
    def end_task(
        self, pick: int, given: list[tuple[str, float | None]], how: str, later: float, data: st.DataObject
    ) -> None:
        """The task is given a few more entries; ``later`` seconds on, it ends; a few operations
        (mostly on its keys) run in a done-callback of it, which runs before the cache handles the
        task's Down: its entries are still stored there, but gone for every read and write."""
        indexes = self._alive_indexes(asyncio.Task)
        index = indexes[pick % len(indexes)]
        task = self.owners[index]
        assert isinstance(task, asyncio.Task)
        for key, ttl in given:
            self._put_both(key, ttl, index)
        bound = sorted(k for k, e in self.stored.items() if e.owner == index)
        # On its own keys when it has any (the other keys are the other steps' business).
        window = data.draw(window_ops(st.sampled_from(bound or KEY_NAMES)), label="window")
        if data.draw(st.booleans(), label="then get every key"):  # what the window left of them too
            window = [*window, *(("get", key) for key in KEY_NAMES)]
        self._op_advance(later)
        ran: list[bool] = []
        failures: list[BaseException] = []

        def in_window(_: object) -> None:
            try:
                assert task.done()
                self._exit(index)
                # The Down is not handled yet: the rows and the binding are all still there.
                self.same_entries_and_counts()
                assert (self.cache._owners.get(task) is not None) is bool(bound)
                for name, *args in window:
                    getattr(self, f"_op_{name}")(*args)
                ran.append(True)
            except BaseException as failure:  # the loop would only log it
                failures.append(failure)

        async def end() -> None:
            task.add_done_callback(in_window)
            if how == "cancel":
                task.cancel()
            else:
                event = self.finish[index]
                assert event is not None
                event.set()
            await asyncio.gather(task, return_exceptions=True)
            await self.cache.settle()

        self._run(end())
        if failures:
            raise failures[0]
        assert ran == [True]
        self._reap(index)

    # --- after every step ----------------------------------------------------------------------------

    def same_entries_and_counts(self) -> None:
        rows = self.cache._entries.tab2list()
        assert {row[0]: row[1:5] for row in rows} == {
            k: (e.value, e.expires, e.ttl, None if e.owner is None else owner_task(self.owners[e.owner]))
            for k, e in self.stored.items()
        }
        counters = self.cache._counters
        assert {k: getattr(counters, k) for k in self.counts} == self.counts
        assert counters.sets == len(rows) + counters.expirations + counters.evictions + counters.deletions

    @invariant()
    def cache_equals_the_model(self) -> None:
        if self.runner is None:
            return
        # Between steps every exited owner's Down has been handled: none of its entries is left.
        assert all(e.owner is None or self.alive[e.owner] for e in self.stored.values())
        self.same_entries_and_counts()
        bindings: dict[asyncio.Task[Any], set[str]] = {}
        for key, entry in self.stored.items():
            if entry.owner is not None:
                bindings.setdefault(owner_task(self.owners[entry.owner]), set()).add(key)
        assert {row[0]: set(row[2]) for row in self.cache._owners.tab2list()} == bindings
        assert self.cache.monitor_count() == len(bindings)
        assert len(self.cache._flights) == 0
        self._op_keys()


CacheMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # A failure must be reported well within the 60 s test timeout: shrinking runs of steps is slow,
    # so shrink the first failure only, and skip the explain phase.
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
TestCacheModel = CacheMachine.TestCase
