"""The shared flags store on Redis: several daemons serve one fleet's flags (``[flags] store = "redis"``).

FunWithFlags' model, made exact with revisions:

- **persist, then publish.** A commit is one atomic script (``daemon.flags.redis_keys``): the next
  store-wide revision, the flag's new state, the change record (the audit trail) and a notice on the
  channel naming the revision, the writer and the flag. The write is acknowledged by the script's
  reply: with the server's append-only file fsynced on every write (``appendfsync always``), an
  acknowledged write survives the server's SIGKILL.
- **each node ignores its own messages and reloads the named flag:** a daemon reads the record of
  another daemon's change (the flag's state at that revision) and hands it to the flags server
  (``subscribe``); its own changes it already applied when their commit returned.
- **revisions, not just notifications.** Pub/sub is at-most-once: a notice sent while a daemon was
  disconnected never reaches it. So each daemon tracks the revision it has applied, without holes;
  a notice beyond the next one (a gap), a (re)subscription, or a heartbeat that finds the store ahead
  of it twice in a row makes it read every change after its revision (``changes_since``) and apply
  them in order.
- **lost connection:** the daemon keeps serving its last known values, marks them out of sync
  (``status``), reconnects with a backoff and catches up by revision. Out of sync for longer than
  ``stale_after`` it reports itself **stale**: the ``stale`` property (the OpenFeature provider's
  STALE), ``status``, its heartbeat, and the telemetry event ``("arbord", "flags", "store", "stale")``
  (``("arbord", "flags", "store", "in_sync")`` when it is back).
- **concurrent writers:** a change is committed only if the flag's state in the store is the one it
  was made from; else the store re-applies the same operation (``GateOp``) to the current state and
  commits that (what one daemon's server does for two writes in a row), and hands the result to the
  flags server as it would another daemon's change.
- **a convergence barrier:** each daemon heartbeats the revision it has applied (live for three
  heartbeats, on the Redis server's clock); ``wait_for_revision(n)`` returns once every live daemon
  reports at least ``n`` (``arborctl flags wait --revision N``).

The in-memory table stays the read path: this store is read at start (``load``), written once per
change, and read again only to catch up or for the history.

>>> from daemon.flags.redis_config import RedisStoreSettings
>>> store = RedisStore(RedisStoreSettings(url="redis://app:secret@cache:6379/0"), node="web-1:7:ab")
>>> store.shared, store.location, store.node, store.revision, store.stale
(True, 'redis://cache:6379/0', 'web-1:7:ab', 0, False)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from daemon.flags.errors import FlagsError, StoreFailed
from daemon.flags.gates import FlagState, apply
from daemon.flags.redis_config import RedisStoreSettings
from daemon.flags.redis_keys import (
    COMMIT,
    COMMIT_SET,
    FLEET,
    HEARTBEAT,
    SNAPSHOT,
    Heartbeat,
    Notice,
    RedisKeys,
)
from daemon.flags.store import Change, ChangeCallback, ChangeRecord, Snapshot
from daemon.verbs.codes import ErrorCode
from supervisor import telemetry
from supervisor.lowlevel import Clock, MonotonicClock

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["FleetReport", "NotConverged", "RedisStore", "StoreEvent"]

log = logging.getLogger(__name__)

_BATCH: Final = 500
"""Records read per round trip when catching up or reading the history."""
_RECONNECT_FIRST: Final = 0.05
_RECONNECT_MAX: Final = 2.0
_WAIT_POLL: Final = 0.01
"""Seconds between two reads of the heartbeats while ``wait_for_revision`` waits."""


class StoreEvent:
    """The telemetry events of the shared store (``supervisor.telemetry``)."""

    STALE: Final = ("arbord", "flags", "store", "stale")
    """Out of sync past ``stale_after``; measurements ``{"seconds"}``, metadata ``{"node", "store"}``."""
    OUT_OF_SYNC: Final = ("arbord", "flags", "store", "out_of_sync")
    """The channel was lost: serving the last known flags; metadata ``{"node", "store", "error"}``."""
    IN_SYNC: Final = ("arbord", "flags", "store", "in_sync")
    """Back in sync (after a stale period or a disconnection); measurements ``{"seconds"}`` out of sync."""
    RESYNC: Final = ("arbord", "flags", "store", "resync")
    """Caught up by revision; measurements ``{"changes", "from", "to"}``, metadata ``{"why"}``."""


class NotConverged(FlagsError, TimeoutError):
    """``flags wait``: not every live daemon reported the revision within the timeout. Nothing is
    wrong with the flags; the reply names the daemons still behind (or the store is unreachable)."""

    code = ErrorCode.TIMEOUT


@dataclass(frozen=True, slots=True)
class FleetReport:
    """The live daemons sharing the store, as their heartbeats say, and the store's revision."""

    revision: int
    nodes: tuple[Heartbeat, ...]

    def behind(self, revision: int) -> tuple[Heartbeat, ...]:
        return tuple(n for n in self.nodes if n.revision < revision)

    def to_json(self) -> dict[str, Any]:
        return {"store_revision": self.revision, "nodes": [n.to_json() for n in self.nodes]}


def _encode(state: FlagState | None) -> str:
    """A state's one spelling in the store ('' for none), so that the commit can compare states."""
    if state is None:
        return ""
    return json.dumps(state.to_json(), sort_keys=True, separators=(",", ":"))


def _decode_record(revision: int, data: bytes | str) -> tuple[ChangeRecord, str]:
    """A stored record and the daemon that committed it."""
    fields = json.loads(data)
    fields["revision"] = revision
    return ChangeRecord.from_json(fields), str(fields.get("node", ""))


def _default_node() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RedisStore:
    """The shared store (module docstring): ``daemon.flags.store.FlagStore`` over one Redis server.

    ``load`` connects and reads the flags in force; ``subscribe`` starts following the other daemons'
    changes (and the heartbeat); ``close`` stops both and removes this daemon's heartbeat.
    """

    shared = True

    def __init__(
        self,
        settings: RedisStoreSettings,
        *,
        node: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.location = settings.location
        self.node = node or _default_node()
        self._clock: Clock = clock or MonotonicClock()
        self._keys = RedisKeys(settings.prefix)
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._callback: ChangeCallback | None = None
        self._watchers: list[Callable[[bool, str], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._sync = asyncio.Lock()
        self._advanced = asyncio.Event()
        self._applied: list[tuple[int, asyncio.Future[None]]] = []
        self._revision = 0
        """Every change up to this one has been applied (no holes)."""
        self._flag_revision: dict[str, int] = {}
        """Per flag, the revision of the state the flags server holds (skip anything older)."""
        self._committing = 0
        self._connected = False
        self._out_of_sync_since: float | None = self._clock.monotonic()
        self._reported_stale = False
        self._store_revision = 0
        self._behind_at: int | None = None
        self._last_error: str | None = None
        self._closed = False

    # -- the FlagStore interface ------------------------------------------------------------------

    async def load(self) -> Snapshot:
        """Connect and read the flags in force and the store's revision, in one atomic read, and
        join the fleet (the first heartbeat, at that revision). ``StoreFailed`` if the server cannot
        be reached."""
        client = self._connect()
        try:
            revision, state, flag_revisions = await self._scripts["snapshot"](
                keys=[self._keys.revision, self._keys.state, self._keys.flag_revision],
                client=client,
            )
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} cannot be read: {error}") from error
        flags: dict[str, FlagState] = {}
        for i in range(0, len(state), 2):
            name = state[i].decode()
            flags[name] = FlagState.from_json(json.loads(state[i + 1]))
        for i in range(0, len(flag_revisions), 2):
            name = flag_revisions[i].decode()
            self._flag_revision[name] = int(flag_revisions[i + 1])
        self._revision = self._store_revision = int(revision)
        try:  # a member of the fleet from now on: flags wait waits for it too
            await self._beat()
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} cannot be written: {error}") from error
        return Snapshot(MappingProxyType(flags), self._revision)

    async def commit(self, change: Change) -> int:
        """Commit one change (module docstring: atomic, numbered, announced) and return its revision.
        If another daemon changed the flag first, the same operation is applied to its current
        state and that is committed, and handed to the subscriber as another daemon's change would
        be. ``StoreFailed`` (nothing acknowledged) if the server cannot be reached."""
        client = self._connect()
        self._committing += 1
        try:
            expected = _encode(change.old)
            rebased = False
            for _ in range(100):
                record = {**ChangeRecord(0, change).to_json(), "node": self.node}
                del record["revision"]
                revision, current = await self._scripts["commit"](
                    keys=[
                        self._keys.revision,
                        self._keys.state,
                        self._keys.flag_revision,
                        self._keys.changes,
                        self._keys.history(change.flag),
                    ],
                    args=[
                        change.flag,
                        expected,
                        _encode(change.new),
                        json.dumps(record, separators=(",", ":")),
                        self.node,
                        self._keys.channel,
                    ],
                    client=client,
                )
                if revision:
                    break
                expected = current.decode()
                change = self._rebase(change, expected)
                rebased = True
            else:
                raise StoreFailed(f"flag {change.flag!r} kept changing under this write: try again")
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} did not commit: {error}") from error
        finally:
            self._committing -= 1
        revision = int(revision)
        self._flag_revision[change.flag] = max(self._flag_revision.get(change.flag, 0), revision)
        if rebased:
            # The flags server applies the change it asked for once this returns (no await in between):
            # right after, the state actually committed replaces it.
            asyncio.get_running_loop().call_soon(self._hand_over, ChangeRecord(revision, change))
        return revision

    async def commit_set(self, changes: Sequence[Change]) -> int:
        """Commit ``changes`` as one transaction (one script: every one of them, with consecutive
        revisions, or none) and return the revision of the last. If another daemon changed one of
        the flags first, the set's operations are applied again, in order, to the store's current
        states, that is committed, and the result handed to the subscriber as a whole (as another
        daemon's set would be). ``StoreFailed`` (nothing written) if the server cannot be reached
        or refuses."""
        client = self._connect()
        batch = list(changes)
        if not batch:
            return self._revision
        self._committing += 1
        try:
            rebased = False
            for _ in range(100):
                args = [self.node, self._keys.channel]
                for change in batch:
                    record = {**ChangeRecord(0, change).to_json(), "node": self.node}
                    del record["revision"]
                    args += [
                        change.flag,
                        _encode(change.old),
                        _encode(change.new),
                        json.dumps(record, separators=(",", ":")),
                    ]
                revision, _, _ = await self._scripts["commit_set"](
                    keys=[
                        self._keys.revision,
                        self._keys.state,
                        self._keys.flag_revision,
                        self._keys.changes,
                        *(self._keys.history(change.flag) for change in batch),
                    ],
                    args=args,
                    client=client,
                )
                if revision:
                    break
                flags = list(dict.fromkeys(change.flag for change in batch))
                current = await client.hmget(self._keys.state, flags)
                batch = self._rebase_set(batch, dict(zip(flags, current, strict=True)))
                rebased = True
            else:
                raise StoreFailed("the flags of this change set kept changing under it: try again")
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} did not commit: {error}") from error
        finally:
            self._committing -= 1
        last = int(revision)
        committed = [ChangeRecord(last - len(batch) + 1 + i, change) for i, change in enumerate(batch)]
        for done in committed:
            flag = done.change.flag
            self._flag_revision[flag] = max(self._flag_revision.get(flag, 0), done.revision)
        if rebased:
            asyncio.get_running_loop().call_soon(self._hand_over_all, committed)
        return last

    async def history(
        self, flag: str | None = None, *, since: int = 0, limit: int | None = None, skip: int = 0
    ) -> Sequence[ChangeRecord]:
        skip = max(skip, 0)
        client = self._connect()
        try:
            if flag is None:
                top = int(await client.get(self._keys.revision) or 0) - skip
                first = since + 1 if limit is None else max(since + 1, top - limit + 1)
                revisions = list(range(first, top + 1)) if limit != 0 else []
            else:
                key = self._keys.history(flag)
                found: Any = []
                if limit is None and not skip:
                    found = await client.zrangebyscore(key, f"({since}", "+inf")
                elif limit is None or limit > 0:
                    count = -1 if limit is None else limit
                    found = await client.zrevrangebyscore(key, "+inf", f"({since}", skip, count)
                    found = list(reversed(found))
                revisions = [int(r) for r in found]
            return [record for record, _ in await self._records(client, revisions)]
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} cannot be read: {error}") from error

    async def count(self, flag: str | None = None) -> int:
        client = self._connect()
        try:
            if flag is None:
                return int(await client.get(self._keys.revision) or 0)
            return int(await client.zcard(self._keys.history(flag)))
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} cannot be read: {error}") from error

    async def probe(self) -> None:
        """Never needed: a commit here never raises ``FlagsReadOnly`` (a lost Redis is the store's
        own out-of-sync state, with its reconnection), so the flags never turn read-only on it."""

    async def changes_since(self, revision: int) -> Sequence[ChangeRecord]:
        return await self.history(since=max(revision, 0))

    def subscribe(self, callback: ChangeCallback) -> None:
        """Hand every change another daemon commits to ``callback`` (on the event loop, in revision
        order), and start the heartbeat. Called once, after ``load``."""
        if self._callback is not None:
            raise RuntimeError("the Redis store has a subscriber already")
        self._callback = callback
        self._tasks = [
            asyncio.create_task(self._follow(), name=f"flags-redis-follow {self.location}"),
            asyncio.create_task(self._heartbeat(), name=f"flags-redis-heartbeat {self.location}"),
        ]

    def watch_staleness(self, watcher: Callable[[bool, str], None]) -> None:
        """Call ``watcher(stale, why)`` on the event loop when the flags in force become stale (out
        of sync past ``stale_after``) and when they are in sync again (the flags server's
        ``set_stale``: its OpenFeature provider reports STALE meanwhile)."""
        self._watchers.append(watcher)

    def _tell(self, stale: bool, why: str) -> None:
        for watcher in list(self._watchers):
            try:
                watcher(stale, why)
            except Exception:  # a watcher's bug must not stop the store following the fleet
                log.exception("a flags staleness watcher failed")

    async def close(self) -> None:
        """Stop following, remove this daemon's heartbeat (it no longer holds up ``flags wait``) and
        disconnect. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                if task.cancelled():
                    continue
                raise
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.hdel(self._keys.nodes, self.node)
            except _redis_errors():
                pass  # its entry expires on its own
            await client.aclose()

    # -- what the flags server and the verbs read -------------------------------------------------

    @property
    def revision(self) -> int:
        """Every change up to this revision has been applied here."""
        return self._revision

    @property
    def connected(self) -> bool:
        """Following the channel right now (else the flags in force are the last known ones)."""
        return self._connected

    @property
    def stale(self) -> bool:
        """Out of sync with the store for longer than ``stale_after``: what OpenFeature calls STALE."""
        since = self._out_of_sync_since
        return since is not None and self._clock.monotonic() - since > self.settings.stale_after

    def status(self) -> dict[str, Any]:
        """For ``flags status``: where, who, how far, and whether the values are current."""
        since = self._out_of_sync_since
        return {
            "store": "redis",
            "location": self.location,
            "node": self.node,
            "revision": self._revision,
            "store_revision": max(self._store_revision, self._revision),
            "in_sync": since is None,
            "out_of_sync_for": None if since is None else round(self._clock.monotonic() - since, 3),
            "stale": self.stale,
            "stale_after": self.settings.stale_after,
            "last_error": self._last_error,
        }

    async def fleet(self) -> FleetReport:
        """The live daemons' heartbeats (expired ones are removed) and the store's revision."""
        client = self._connect()
        try:
            revision, live = await self._scripts["fleet"](
                keys=[self._keys.nodes, self._keys.revision], client=client
            )
        except _redis_errors() as error:
            raise StoreFailed(f"the flags store {self.location} cannot be read: {error}") from error
        nodes = tuple(
            sorted(
                (Heartbeat.parse(live[i], live[i + 1]) for i in range(0, len(live), 2)),
                key=lambda n: n.node,
            )
        )
        return FleetReport(int(revision), nodes)

    async def wait_for_revision(self, revision: int, timeout: float) -> FleetReport:
        """Return once every live daemon sharing the store reports ``revision`` or more (and at least
        one does); ``NotConverged`` naming the ones behind when ``timeout`` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        report: FleetReport | None = None
        error: StoreFailed | None = None
        while True:
            try:
                report = await self.fleet()
                error = None
            except StoreFailed as failed:
                error = failed
            if report is not None and error is None and report.nodes and not report.behind(revision):
                return report
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.sleep(min(_WAIT_POLL, left))
        if error is not None:
            raise NotConverged(f"revision {revision} not confirmed within {timeout:g} s: {error}")
        assert report is not None
        if not report.nodes:
            raise NotConverged(f"no live daemon shares the store {self.location}")
        behind = ", ".join(f"{n.node} at {n.revision}" for n in report.behind(revision))
        raise NotConverged(f"revision {revision} not reached within {timeout:g} s by: {behind}")

    async def wait_applied(self, revision: int) -> None:
        """Return once this daemon has applied every change up to ``revision`` (bound it with
        ``asyncio.timeout``)."""
        if self._revision >= revision:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (revision, future)
        self._applied.append(waiter)
        try:
            await future
        finally:
            if waiter in self._applied:
                self._applied.remove(waiter)

    # -- inside -----------------------------------------------------------------------------------

    def _advance(self, revision: int) -> None:
        """Every change up to ``revision`` is applied: heartbeat it soon, wake who waits for it."""
        self._revision = revision
        self._advanced.set()
        for waiter in [w for w in self._applied if w[0] <= revision]:
            self._applied.remove(waiter)
            if not waiter[1].done():
                waiter[1].set_result(None)

    def _connect(self) -> Redis:
        if self._closed:
            raise StoreFailed(f"the flags store {self.location} is closed")
        if self._client is None:
            try:
                from redis.asyncio import Redis
                from redis.asyncio.retry import Retry
                from redis.backoff import NoBackoff
            except ImportError as error:
                raise StoreFailed(
                    "the Redis store needs the redis client: pip install 'arbord[redis]'"
                ) from error
            # No retries inside the client: a command either is acknowledged or fails here, and
            # this store decides what to do (a commit is never sent twice behind the caller's back).
            self._client = Redis.from_url(
                self.settings.url,
                socket_timeout=self.settings.timeout,
                socket_connect_timeout=self.settings.timeout,
                retry=Retry(NoBackoff(), 0),
            )
            for name, source in (
                ("commit", COMMIT),
                ("commit_set", COMMIT_SET),
                ("snapshot", SNAPSHOT),
                ("heartbeat", HEARTBEAT),
                ("fleet", FLEET),
            ):
                self._scripts[name] = self._client.register_script(source)
        return self._client

    def _rebase(self, change: Change, current: str) -> Change:
        """The same operation, made from the flag's state in the store now."""
        old = FlagState.from_json(json.loads(current)) if current else None
        if change.new is None:
            return replace(change, old=old)
        return replace(change, old=old, new=apply(old or FlagState(change.flag), change.op))

    def _rebase_set(self, batch: Sequence[Change], current: dict[str, bytes | str | None]) -> list[Change]:
        """The set's operations again, in order, from the flags' states in the store now."""
        states: dict[str, FlagState | None] = {
            flag: FlagState.from_json(json.loads(data)) if data else None for flag, data in current.items()
        }
        rebased: list[Change] = []
        for change in batch:
            old = states[change.flag]
            new = None if change.new is None else apply(old or FlagState(change.flag), change.op)
            rebased.append(replace(change, old=old, new=new))
            states[change.flag] = new
        return rebased

    def _hand_over_all(self, records: Sequence[ChangeRecord]) -> None:
        """Hand over a change set in one go (no await in between: the flags server receives its
        records back to back and puts them in force together)."""
        for record in records:
            self._hand_over(record)

    def _hand_over(self, record: ChangeRecord) -> None:
        """Give the flags server a state it does not hold yet (older ones are skipped)."""
        flag = record.change.flag
        if record.revision < self._flag_revision.get(flag, 0):
            return
        self._flag_revision[flag] = record.revision
        if self._callback is not None:
            self._callback(record)

    async def _records(self, client: Redis, revisions: Sequence[int]) -> list[tuple[ChangeRecord, str]]:
        found: list[tuple[ChangeRecord, str]] = []
        for start in range(0, len(revisions), _BATCH):
            batch = revisions[start : start + _BATCH]
            for revision, data in zip(batch, await client.hmget(self._keys.changes, batch), strict=True):
                if data is None:
                    raise StoreFailed(f"the flags store {self.location} lost change {revision}")
                found.append(_decode_record(revision, data))
        return found

    async def _catch_up(self, why: str) -> None:
        """Apply every change after this daemon's revision, in order (the resync by revision)."""
        async with self._sync:
            client = self._connect()
            top = int(await client.get(self._keys.revision) or 0)
            start = self._revision
            held: list[ChangeRecord] = []  # the first members of a change set, until its last
            for first in range(start + 1, top + 1, _BATCH):
                batch = list(range(first, min(first + _BATCH, top + 1)))
                for record, node in await self._records(client, batch):
                    if node != self.node or record.revision > self._flag_revision.get(record.change.flag, 0):
                        held.append(record)
                    change = record.change
                    if change.set_index < change.set_size - 1 and record.revision < top:
                        continue  # a set is put in force whole (_hand_over_all), then applied
                    self._hand_over_all(held)
                    held = []
                    self._advance(record.revision)
            self._store_revision = max(self._store_revision, top)
        if top > start:
            telemetry.execute(
                StoreEvent.RESYNC,
                {"changes": top - start, "from": start, "to": top},
                {"why": why, "node": self.node, "store": self.location},
            )

    async def _on_notice(self, notice: Notice) -> None:
        if notice.revision <= self._revision:
            return  # already applied (a catch-up read it)
        if notice.revision > self._revision + 1:
            await self._catch_up("gap")
            return
        async with self._sync:
            if notice.revision != self._revision + 1:
                return
            own = notice.node == self.node
            known = notice.revision <= self._flag_revision.get(notice.flag, 0)
            last = notice.revision
            if not known and not (own and self._committing):
                client = self._connect()
                [(record, _)] = await self._records(client, [notice.revision])
                change = record.change
                if change.set_index < change.set_size - 1:
                    # A change set is put in force whole: read the rest of it now (the script wrote
                    # it all before publishing), hand it over in one go; its notices are then old.
                    last = record.revision + change.set_size - 1 - change.set_index
                    rest = await self._records(client, list(range(record.revision + 1, last + 1)))
                    self._hand_over_all([record, *(r for r, _ in rest)])
                else:
                    self._hand_over(record)
            self._advance(last)
            self._store_revision = max(self._store_revision, last)

    async def _follow(self) -> None:
        """Follow the channel: subscribe, catch up, apply notices; on a lost connection, keep the
        last known values, reconnect with a backoff and do it again."""
        from redis.asyncio.client import PubSub

        lost: tuple[type[BaseException], ...] = (*_redis_errors(), StoreFailed, ValueError)
        pause = _RECONNECT_FIRST
        while not self._closed:  # (a cancellation a library swallowed still ends it)
            pubsub: PubSub | None = None
            try:
                pubsub = self._connect().pubsub()
                await pubsub.subscribe(self._keys.channel)
                # Only once the server confirms the subscription is no notice missed: then catch up.
                while (await pubsub.get_message(timeout=self.settings.timeout)) is None:
                    pass
                await self._catch_up("subscribed")
                self._in_sync()
                pause = _RECONNECT_FIRST
                while not self._closed:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if message is not None and message.get("type") == "message":
                        await self._on_notice(Notice.parse(message["data"]))
            except lost as error:
                self._out_of_sync(error)
            finally:
                if pubsub is not None:
                    try:
                        await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
                    except _redis_errors():
                        pass
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RECONNECT_MAX)

    async def _heartbeat(self) -> None:
        """Say which revision this daemon has applied (at once when it moves, else every
        ``heartbeat`` seconds); notice a store ahead of it; report staleness once it sets in."""
        failed: tuple[type[BaseException], ...] = (*_redis_errors(), StoreFailed)
        while not self._closed:
            self._advanced.clear()
            try:
                await self._check_behind(await self._beat())
            except failed as error:
                self._last_error = str(error)
            self._check_stale()
            try:  # not wait_for: on 3.11 it can swallow a cancellation that races the event
                async with asyncio.timeout(self.settings.heartbeat):
                    await self._advanced.wait()
            except TimeoutError:
                pass

    async def _beat(self) -> int:
        """Write this daemon's heartbeat (its applied revision, live for ``node_ttl``); returns the
        store's revision."""
        store_revision = int(
            await self._scripts["heartbeat"](
                keys=[self._keys.nodes, self._keys.revision],
                args=[
                    self.node,
                    str(self._revision),
                    str(round(self.settings.node_ttl * 1000)),
                    "1" if self.stale else "0",
                ],
                client=self._connect(),
            )
        )
        self._store_revision = max(self._store_revision, store_revision)
        return store_revision

    async def _check_behind(self, store_revision: int) -> None:
        """A notice can be lost without the connection dropping: behind the store at two heartbeats
        in a row (the same revision still missing), catch up. A store behind this daemon went back
        in time (restored or flushed): said once, loudly; the flags in force stay."""
        if store_revision < self._revision and self._connected:
            if self._last_error is None or "went back" not in self._last_error:
                self._last_error = (
                    f"the store's revision went back from {self._revision} to {store_revision}"
                    " (restored or flushed?): restart the daemons that share it"
                )
                log.error("flags store %s (as %s): %s", self.location, self.node, self._last_error)
            return
        if store_revision <= self._revision or not self._connected:
            self._behind_at = None
            return
        if self._behind_at is not None and self._behind_at > self._revision:
            self._behind_at = None
            await self._catch_up("behind")
        else:
            self._behind_at = store_revision

    def _in_sync(self) -> None:
        since, self._out_of_sync_since = self._out_of_sync_since, None
        self._connected = True
        self._last_error = None
        if since is not None:
            seconds = self._clock.monotonic() - since
            if self._reported_stale:
                log.warning("flags store %s: back in sync after %.1f s", self.location, seconds)
                self._reported_stale = False
                self._tell(False, f"back in sync with {self.location} after {seconds:.1f} s")
            telemetry.execute(
                StoreEvent.IN_SYNC, {"seconds": seconds}, {"node": self.node, "store": self.location}
            )
        self._advanced.set()

    def _out_of_sync(self, error: BaseException) -> None:
        self._connected = False
        self._last_error = str(error) or type(error).__name__
        if self._out_of_sync_since is None:
            self._out_of_sync_since = self._clock.monotonic()
            log.warning(
                "flags store %s: lost (%s); serving the last known flags", self.location, self._last_error
            )
            telemetry.execute(
                StoreEvent.OUT_OF_SYNC,
                {},
                {"node": self.node, "store": self.location, "error": self._last_error},
            )
        self._check_stale()

    def _check_stale(self) -> None:
        since = self._out_of_sync_since
        if since is None or self._reported_stale or not self.stale:
            return
        self._reported_stale = True
        seconds = self._clock.monotonic() - since
        log.error(
            "flags store %s: out of sync for %.1f s (budget %g s): the flags in force are stale",
            self.location,
            seconds,
            self.settings.stale_after,
        )
        telemetry.execute(StoreEvent.STALE, {"seconds": seconds}, {"node": self.node, "store": self.location})
        self._tell(True, f"out of sync with {self.location} for {seconds:.1f} s: {self._last_error}")


def _redis_errors() -> tuple[type[BaseException], ...]:
    """What a lost or refused connection raises (redis-py's errors, and the OS's and timeouts)."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)
