"""A named TTL cache: owned tables, read and written in the caller, swept by its own janitor.

``Cache`` is a server that owns the cache's tables and does the three things that need a process
of their own: it runs the **janitor** (a sweep of expired entries, then the next one scheduled
``janitor_interval`` seconds after it ends: a rolling interval), it receives the ``Down`` of the
**owners** entries are bound to (and drops their entries), and it is what ``whereis`` finds. Every
operation — ``get``, ``put``, ``delete``, ``fetch`` … — runs in the caller's task with no server hop:
each is a few table operations with no ``await`` in between, so it is atomic on the event loop.

- **Expiry** is on the monotonic clock (``supervisor.lowlevel.Clock``, injectable): a read of an expired
  entry removes it and misses, so an expired value is never returned, janitor or not.
- **LRU**: past ``max_size`` the least recently used entry is evicted. A read records its use in
  the entry's ``Recency`` (one attribute store); the LRU heap (ordered by the tick each record is
  filed under) is brought up to date lazily when an eviction looks at it, which keeps it exact.
- **fetch** is single-flight: concurrent misses of one key run the fallback once (``fallback``).
- **Owner binding**: ``put(..., owner=server_or_task)`` drops the entry when the owner exits. The
  row keeps the owner's task, so a read checks ``task.done()`` (bound rows only) and never returns
  an entry whose owner has exited, even before the cache has handled the owner's ``Down``.
- **stats** are exact (``stats`` module).

>>> import asyncio
>>> from supervisor import ManualClock
>>> async def demo() -> list[object]:
...     clock = ManualClock()
...     cache = await Cache.start(CacheConfig(ttl=10.0, max_size=2), clock=clock)
...     cache.put("a", 1)
...     cache.put("b", 2)
...     cache.get("a")                     # "a" is now the most recently used
...     cache.put("c", 3)                  # full: evicts "b", the least recently used
...     clock.advance(10.0)                # everything expires...
...     stats = cache.stats()              # sweeps first: "a" and "c" expired
...     result = [cache.get("b"), cache.get("a"), stats.evictions, stats.expirations, stats.balanced]
...     await cache.stop()
...     return result
>>> asyncio.run(demo())
[None, None, 1, 2, True]
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from types import MappingProxyType
from typing import Any, Final, Protocol

from daemon.cache.config import CacheConfig
from daemon.cache.fallback import Abandoned, unwrap
from daemon.cache.stats import CacheStats, Counters
from daemon.chunked import SCAN_CHUNK, keep_chunked, pause
from supervisor import Access, Caller, Down, MonitorRef, NoProc, Server, Table, is_alive, telemetry
from supervisor.errors import TableGone
from supervisor.lowlevel import Clock, MonotonicClock, OwnerIndex, task_of

__all__ = ["EVICT", "EXPIRE", "HIT", "MISS", "SWEEP", "Cache", "Getter", "Recency"]

HIT: Final = ("arbord", "cache", "hit")
"""A read found a live value: measurements ``{"count": 1}``, metadata ``{"cache"}``."""
MISS: Final = ("arbord", "cache", "miss")
"""A read found nothing live: metadata ``{"cache", "key"}``."""
EVICT: Final = ("arbord", "cache", "evict")
"""The least recently used entry was dropped to make room: metadata ``{"cache", "key"}``."""
EXPIRE: Final = ("arbord", "cache", "expire")
"""An entry was dropped because its TTL had passed (by a read, a write or the janitor)."""
SWEEP: Final = ("arbord", "cache", "sweep")
"""The janitor finished a sweep: measurements ``{"expired": n, "duration": seconds}``."""

_ONE: Final = MappingProxyType({"count": 1})
_MISSING: Final[Any] = object()
# Row layout of the entries table. ``_OWNER`` holds the owner's *task* (a server's ``task``): whether
# the owner is alive is then one ``done()`` call on the read path.
_KEY, _VALUE, _EXPIRES, _TTL, _OWNER, _RECENCY = range(6)
# Why an entry leaves (the counter it goes to); 0 is "it has not left" (``Cache._gone``).
_EXPIRED, _EVICTED, _DELETED, _OVERWRITTEN = range(1, 5)


class Recency:
    """When an entry of a size-bounded cache was last used (``tick``) and under which tick it is
    filed in the cache's LRU heap (``filed``); ``tick > filed`` means "used since", re-filed at
    eviction. The heap orders records by ``filed``; a record whose entry has left is stale and is
    dropped when it reaches the top (or when the heap is compacted)."""

    __slots__ = ("filed", "key", "tick")

    def __init__(self, tick: int, key: Hashable) -> None:
        self.tick = tick
        self.filed = tick
        self.key = key

    def __lt__(self, other: Recency) -> bool:
        return self.filed < other.filed


class _Sweep:
    """The janitor's message to itself."""

    __slots__ = ()


_SWEEP_MESSAGE: Final = _Sweep()


def _starting(key: Hashable, default: Any = None) -> Any:
    raise NoProc("the cache is starting: its tables do not exist yet")


class Getter(Protocol):
    """The signature of ``Cache.get``."""

    def __call__(self, key: Hashable, default: Any = None) -> Any: ...


def _reader(cache: Cache) -> Getter:
    """``cache.get``: everything it touches is bound here once, so a hit is a handful of local reads."""
    entries_get, now, counters, ticks = cache._entries.get, cache._now, cache._counters, cache._ticks
    hit_metadata, label, drop, execute = cache._meta, cache.label, cache._drop, telemetry.execute
    listened = telemetry.active_events

    def get(key: Hashable, default: Any = None) -> Any:
        row = entries_get(key)
        if row is not None:
            expires = row[_EXPIRES]
            if expires is not None and expires <= now():
                drop(row, _EXPIRED)  # lazy expiry: an expired value is never returned
            elif row[_OWNER] is not None and row[_OWNER].done():
                drop(row, _DELETED)  # its owner exited; the cache has not handled the Down yet
            else:
                recency = row[_RECENCY]
                if recency is not None:
                    recency.tick = next(ticks)
                counters.hits += 1
                if HIT in listened:
                    execute(HIT, _ONE, hit_metadata)
                return row[_VALUE]
        counters.misses += 1
        if MISS in listened:
            execute(MISS, _ONE, {"cache": label, "key": key})
        return default

    return get


class Cache(Server):
    """One named cache. ``init(config=CacheConfig(), *, clock=None, label=None)``; ``label`` names it
    in telemetry and table names (default: the registered name)."""

    get: Getter
    """``get(key, default=None)``: the live value under ``key``, or ``default``; counts a hit or a
    miss. Built for each cache by ``_reader`` (a closure over the cache's tables and counters reads
    about 10% faster than a method, which is what puts it level with cachetools: bench_cache)."""

    def __init__(self) -> None:
        super().__init__()
        # ``whereis`` finds a server from the moment it is started, before its ``init`` has run: until
        # then every operation refuses with NoProc instead of failing on a missing attribute.
        self._ready = False
        self._get: Callable[..., Any] = _starting
        self.get = _starting

    async def init(
        self, config: CacheConfig | None = None, *, clock: Clock | None = None, label: str | None = None
    ) -> None:
        self.config = config or CacheConfig()
        self.label = label or self.name or f"cache-{id(self):x}"
        self.clock: Clock = clock or MonotonicClock()
        # The real clock is read through time.monotonic itself: a method call less per read.
        self._now: Callable[[], float] = (
            time.monotonic if isinstance(self.clock, MonotonicClock) else self.clock.monotonic
        )
        self._counters = Counters()
        self._ticks = itertools.count(1)
        self._meta = MappingProxyType({"cache": self.label})
        # Public tables: the cache's own methods write them from their callers' tasks.
        self._entries = Table(f"{self.label}.entries", access=Access.PUBLIC)
        # The LRU order of a size-bounded cache: a heap of the entries' Recency records (server
        # state, not a table: nothing reads it but eviction, and a heap costs half the memory of
        # an ordered table: bench_cache, memory per entry).
        self._lru: list[Recency] | None = [] if self.config.max_size is not None else None
        self._owners = Table(f"{self.label}.owners", access=Access.PUBLIC)
        # By task: a row keeps its owner's task, and hands it back to unbind.
        self._owner_index = OwnerIndex(self._owners, self, identify=task_of)
        self._flights = Table(f"{self.label}.flights", access=Access.PUBLIC)
        self._janitor: asyncio.TimerHandle | None = None
        self._schedule_janitor()
        self._get = self._entries.get
        self.get = _reader(self)
        self._ready = True

    # --- the janitor and the owners' Down --------------------------------------------------------

    def _schedule_janitor(self) -> None:
        interval = self.config.janitor_interval
        if interval is not None:
            loop = asyncio.get_running_loop()
            self._janitor = loop.call_later(interval, self.send, _SWEEP_MESSAGE)

    async def handle_info(self, message: Any) -> None:
        if message is _SWEEP_MESSAGE:
            await self.sweep_in_slices()
            self._schedule_janitor()  # rolling: counted from the end of this sweep
        elif isinstance(message, Down):
            await self._owner_down(message.target, message.ref)

    async def terminate(self, reason: Any) -> None:
        if self._janitor is not None:
            self._janitor.cancel()

    def sweep(self) -> int:
        """Drop every expired entry now; returns how many. One synchronous walk: the janitor and the
        control verbs use ``sweep_in_slices``."""
        self._started()
        started = time.perf_counter()
        now = self._now()
        rows = self._entries.tab2list()
        expired = [row for row in rows if row[_EXPIRES] is not None and row[_EXPIRES] <= now]
        for row in expired:
            self._drop(row, _EXPIRED)
        duration = time.perf_counter() - started
        telemetry.execute(SWEEP, {"expired": len(expired), "duration": duration}, self._meta)
        return len(expired)

    async def sweep_in_slices(self, *, chunk: int = SCAN_CHUNK) -> int:
        """``sweep`` walked ``chunk`` rows at a time with a pause between (daemon/chunked.py), so a
        cache of a million entries does not hold the loop: the rows expired when it starts are
        dropped (one replaced meanwhile is left alone). ``SWEEP``'s duration counts the pauses."""
        self._started()
        started = time.perf_counter()
        now = self._now()
        expired = await keep_chunked(
            self._entries.tab2list(),
            lambda row: row[_EXPIRES] is not None and row[_EXPIRES] <= now,
            chunk=chunk,
        )
        await self._drop_in_slices(expired, _EXPIRED, chunk)
        duration = time.perf_counter() - started
        telemetry.execute(SWEEP, {"expired": len(expired), "duration": duration}, self._meta)
        return len(expired)

    async def _drop_in_slices(self, rows: list[tuple[Any, ...]], why: int, chunk: int) -> None:
        for start in range(0, len(rows), chunk):
            if start:
                await pause()
                if not self._ready or not self.alive:  # stopped meanwhile: its tables are gone
                    return
            for row in rows[start : start + chunk]:
                self._drop(row, why)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        # Every call is a settle (see settle): a stray call must not crash the server.
        return None

    async def settle(self, timeout: float | None = 5.0) -> None:
        """Return once the cache has handled every message sent to it before this call (owners'
        ``Down``, a due janitor sweep)."""
        await self.call("settle", timeout)

    async def _owner_down(self, owner: Any, ref: MonitorRef, *, chunk: int = SCAN_CHUNK) -> None:
        """Drop the entries bound to an owner that exited: a deletion each, or an expiration for a
        value whose TTL had already passed (it was dead already, as everywhere else); ``chunk`` at
        a time with a pause between (reads already miss them: the owner's task is done)."""
        keys = self._owner_index.held(owner, ref)
        if keys is None:  # a stale Down: the owner was bound again since
            return
        task = task_of(owner)
        for start in range(0, len(keys), chunk):
            if start:
                await pause()
            now = self._now()
            for key in keys[start : start + chunk]:
                entry = self._get(key)
                if entry is not None and entry[_OWNER] is task:
                    self._drop(entry, self._gone(entry, now) or _DELETED)
        self._owner_index.forget(owner, ref)

    # --- reads ---------------------------------------------------------------------------------------

    @staticmethod
    def _gone(row: tuple[Any, ...], now: float) -> int:
        """Why a stored row is not live (0: it is): ``_EXPIRED`` once its TTL has passed, else
        ``_DELETED`` once its owner has exited (the cache may not have handled the ``Down`` yet)."""
        expires = row[_EXPIRES]
        if expires is not None and expires <= now:
            return _EXPIRED
        owner = row[_OWNER]
        if owner is not None and owner.done():
            return _DELETED
        return 0

    def _live(self, key: Hashable) -> tuple[Any, ...] | None:
        """The live row under ``key`` without counting a read (an expired one, or one whose owner
        has exited, is dropped)."""
        row = self._get(key)
        if row is None:
            return None
        why = self._gone(row, self._now())
        if why:
            self._drop(row, why)
            return None
        return row  # type: ignore[no-any-return]

    def ttl(self, key: Hashable) -> float | None:
        """Seconds left before ``key`` expires; None when it has no TTL or is not there (Cachex)."""
        row = self._live(key)
        if row is None or row[_EXPIRES] is None:
            return None
        return float(row[_EXPIRES] - self._now())

    def __contains__(self, key: object) -> bool:
        """``key in cache``: a live entry exists (not counted as a read)."""
        try:
            return self._live(key) is not None
        except TypeError:
            return False

    def __len__(self) -> int:
        """Entries stored, including expired ones the janitor has not swept yet (and bound ones
        whose owner's ``Down`` the cache has not handled yet)."""
        self._started()
        return len(self._entries)

    def keys(self) -> list[Any]:
        """The live keys, least recently written first (a walk: O(entries))."""
        self._started()
        now, gone = self._now(), self._gone
        return [row[_KEY] for row in self._entries.tab2list() if not gone(row, now)]

    async def scan(self, *, chunk: int = SCAN_CHUNK) -> list[Any]:
        """``keys()`` walked ``chunk`` rows at a time with a pause between (daemon/chunked.py): the
        keys present when it starts that are live when their slice is examined."""
        self._started()
        gone, now = self._gone, self._now
        rows = await keep_chunked(self._entries.tab2list(), lambda row: not gone(row, now()), chunk=chunk)
        return [row[_KEY] for row in rows]

    def stats(self, *, sweep: bool = True) -> CacheStats:
        """The exact counters. Sweeps first (O(entries)), so ``size`` counts live entries only;
        ``sweep=False`` right after ``sweep_in_slices`` does not walk them again."""
        if sweep:
            self.sweep()
        else:
            self._started()
        return self._counters.snapshot(len(self._entries))

    # --- writes --------------------------------------------------------------------------------------

    def _started(self) -> None:
        if not self._ready:
            raise NoProc(f"{self!r} is starting: its tables do not exist yet")

    def _writable(self) -> None:
        if not self._ready or not self.alive:
            raise NoProc(f"{self!r} is not running: find the current cache with whereis")

    @staticmethod
    def _check_owner(owner: Any) -> None:
        """Refuse an owner that is not a server or task (``TypeError``) or has exited (``NoProc``)."""
        if owner is not None and not isinstance(owner, Server | asyncio.Task):
            raise TypeError(f"an owner is a Server or an asyncio.Task, not {owner!r}")
        if owner is not None and not is_alive(owner):
            raise NoProc(f"{owner!r} is not alive: it cannot own a cache entry")

    def _expiry(self, ttl: float | None) -> tuple[float | None, float | None]:
        """``(expires_at, ttl)`` for a TTL: None means the cache default; ``math.inf``, never."""
        if ttl is None:
            ttl = self.config.ttl
        if ttl is None or ttl == math.inf:
            return None, None
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise ValueError(f"a TTL is a number of seconds > 0 (or math.inf), not {ttl!r}")
        return self._now() + ttl, float(ttl)

    def put(self, key: Hashable, value: Any, ttl: float | None = None, *, owner: Any = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (None: the cache's default TTL;
        ``math.inf``: no expiry). With ``owner`` (a server or task) the entry is dropped when it exits.

        Evicts the least recently used entry when the cache is full.
        """
        self._writable()
        try:
            hash(key)
        except TypeError:
            raise TypeError(f"a cache key must be hashable, not {key!r}") from None
        self._check_owner(owner)
        expires, ttl_seconds = self._expiry(ttl)
        old = self._get(key)
        if old is not None:
            self._drop(old, self._gone(old, self._now()) or _OVERWRITTEN)
        max_size = self.config.max_size
        while max_size is not None and len(self._entries) >= max_size and self._evict_one():
            pass
        recency = None
        if self._lru is not None:
            recency = Recency(next(self._ticks), key)
            heapq.heappush(self._lru, recency)  # the newest tick: it stays at the bottom
        task = None if owner is None else task_of(owner)
        self._entries.insert((key, value, expires, ttl_seconds, task, recency))
        self._counters.sets += 1
        if owner is not None:
            self._bind(owner, key)

    def delete(self, key: Hashable) -> bool:
        """Remove ``key``; True if a live value was removed (an expired one counts as expired)."""
        self._writable()
        row = self._live(key)
        if row is None:
            return False
        self._drop(row, _DELETED)
        return True

    def expire(self, key: Hashable, ttl: float | None) -> bool:
        """Give ``key`` a new TTL from now (None: never expire; <= 0: expire it now).

        False when there is no live ``key``.
        """
        self._writable()
        row = self._live(key)
        if row is None:
            return False
        if ttl is not None and ttl <= 0:
            self._drop(row, _EXPIRED)
            return True
        expires, ttl_seconds = (None, None) if ttl is None else self._expiry(ttl)
        self._entries.insert((*row[:_EXPIRES], expires, ttl_seconds, *row[_OWNER:]))
        return True

    def touch(self, key: Hashable) -> bool:
        """Restart ``key``'s TTL (the one it was stored with) and mark it used; False if not there."""
        self._writable()
        row = self._live(key)
        if row is None:
            return False
        if row[_TTL] is not None:
            self._entries.insert((*row[:_EXPIRES], self._now() + row[_TTL], *row[_TTL:]))
        if row[_RECENCY] is not None:
            row[_RECENCY].tick = next(self._ticks)
        return True

    def clear(self) -> int:
        """Remove every entry; returns how many live ones were removed (expired ones count as such)."""
        self._writable()
        now = self._now()
        cleared = 0
        for row in self._entries.tab2list():
            why = self._gone(row, now)
            self._drop(row, why or _DELETED)
            cleared += not why
        return cleared

    async def clear_in_slices(self, *, chunk: int = SCAN_CHUNK) -> int:
        """``clear`` walked ``chunk`` rows at a time with a pause between: the entries present when
        it starts are removed (one written meanwhile stays); returns how many of them were live."""
        self._writable()
        rows = self._entries.tab2list()
        now = self._now()
        cleared = 0
        for start in range(0, len(rows), chunk):
            if start:
                await pause()
                if not self._ready or not self.alive:  # stopped meanwhile: its tables are gone
                    break
            for row in rows[start : start + chunk]:
                if self._get(row[_KEY]) is row:
                    why = self._gone(row, now)
                    self._drop(row, why or _DELETED)
                    cleared += not why
        return cleared

    async def fetch(
        self,
        key: Hashable,
        fallback: Callable[[Any], Awaitable[Any]],
        ttl: float | None = None,
        *,
        owner: Any = None,
    ) -> Any:
        """The value under ``key``; on a miss, ``await fallback(key)`` computes it (and caches it,
        unless it returns ``Decline``). Concurrent misses of one key run the fallback once and all
        get its result; its exception reaches every one of them and nothing is cached.

        A flight outlives its cache: if the cache stops (or crashes) while the fallback runs, every
        caller still gets the fallback's value or exception, and nothing is cached. Likewise when
        ``owner`` exits while the fallback runs: the value is returned, not cached (it would have
        no one to belong to); an owner that has already exited is refused before the fallback runs.
        """
        value = self.get(key, _MISSING)
        while value is _MISSING:
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, fallback, ttl, owner)
            try:
                return await asyncio.shield(flight[1])
            except Abandoned:  # its leader was cancelled: look again, maybe lead
                self._writable()  # ... unless the cache has stopped meanwhile: nothing to look in
                row = self._live(key)
                value = _MISSING if row is None else row[_VALUE]
        return value

    async def _lead(
        self, key: Hashable, fallback: Callable[[Any], Awaitable[Any]], ttl: float | None, owner: Any
    ) -> Any:
        self._writable()
        self._check_owner(owner)  # before the fallback runs, not after its work is done
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights.insert((key, future))
        try:
            value, keep, value_ttl = unwrap(await fallback(key), ttl)
            if keep and self.alive and (owner is None or is_alive(owner)):
                self.put(key, value, value_ttl, owner=owner)
        except asyncio.CancelledError:
            self._land(key, future, Abandoned())
            raise
        except BaseException as error:
            self._land(key, future, error)
            raise
        self._land(key, future, None, value)
        return value

    def _land(
        self, key: Hashable, future: asyncio.Future[Any], error: BaseException | None, value: Any = None
    ) -> None:
        """End a flight: settle its future with ``error`` or ``value``, *then* remove its row. In
        that order because the row goes with the cache (``TableGone`` once it has stopped) while
        the followers wait on the future: they must hear the outcome either way."""
        if error is None:
            future.set_result(value)
        else:
            if isinstance(error, StopIteration):
                # A future refuses StopIteration (TypeError), which left the followers waiting;
                # a hand-written awaitable can raise it. Followers get what a coroutine would.
                wrapped = RuntimeError(f"the fallback raised {error!r}")
                wrapped.__cause__ = error
                error = wrapped
            future.set_exception(error)
            future.exception()  # retrieved: followers may all be gone, and that is not an error
        with contextlib.suppress(TableGone):
            self._flights.delete(key)

    # --- the table operations behind them ------------------------------------------------------

    def _drop(self, row: tuple[Any, ...], why: int) -> None:
        """Remove this exact row with its lru row and owner binding, and count why."""
        key = row[_KEY]
        if self._get(key) is not row:
            return
        self._entries.delete(key)
        lru = self._lru
        if lru is not None and len(lru) > 2 * len(self._entries) + 64:
            self._compact_lru(lru)
        if row[_OWNER] is not None:
            self._unbind(row[_OWNER], key)
        counters = self._counters
        if why == _EXPIRED:
            counters.expirations += 1
            telemetry.execute(EXPIRE, _ONE, {"cache": self.label, "key": key})
        elif why == _EVICTED:
            counters.evictions += 1
            telemetry.execute(EVICT, _ONE, {"cache": self.label, "key": key})
        else:
            counters.deletions += 1
            if why == _OVERWRITTEN:
                counters.overwrites += 1

    def _evict_one(self) -> bool:
        """Drop the least recently used entry: the first record on the heap whose entry was not
        used since it was filed (one that was is re-filed under its last use, so the choice stays
        exact; stale records of entries that left are discarded on the way)."""
        lru, get = self._lru, self._get
        assert lru is not None
        while lru:
            recency = lru[0]
            row = get(recency.key)
            if row is None or row[_RECENCY] is not recency:
                heapq.heappop(lru)
                continue
            if recency.tick > recency.filed:
                recency.filed = recency.tick
                heapq.heapreplace(lru, recency)  # sift the top down under its new tick
                continue
            heapq.heappop(lru)
            self._drop(row, self._gone(row, self._now()) or _EVICTED)
            return True
        return False

    def _compact_lru(self, lru: list[Recency]) -> None:
        """Forget the stale records (entries deleted, expired or replaced) once they are half the
        heap, so a cache that deletes far more than it evicts keeps the heap near its size."""
        live = [row[_RECENCY] for row in self._entries.tab2list()]
        heapq.heapify(live)
        lru[:] = live

    def _bind(self, owner: Any, key: Hashable) -> None:
        """Record ``key`` among ``owner``'s entries (by its task), monitoring it on its first one."""
        self._owner_index.add(owner, key)

    def _unbind(self, task: asyncio.Task[Any], key: Hashable) -> None:
        self._owner_index.discard(task, key)

    def monitor_count(self) -> int:
        """How many owners the cache monitors: one per owner with at least one bound entry."""
        self._started()
        return len(self._owners)
