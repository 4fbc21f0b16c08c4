"""The shared flags store against a real redis-server (tests/daemon/redis_server.py): two ``Flags``
servers, each with its own ``RedisStore`` and its own tables, stand in for two daemons.

Convergence is awaited (the store's ``wait_applied``, then a round trip through the server's
mailbox, which the store's changes go through), never timed: how fast a change crosses over is
``bench/bench_flags_redis.py``'s business.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from daemon.flags.config import FlagsSettings
from daemon.flags.errors import StoreFailed
from daemon.flags.gates import FlagState, GateOp, apply
from daemon.flags.redis_config import RedisStoreSettings
from daemon.flags.redis_keys import COMMIT, RedisKeys
from daemon.flags.redis_store import NotConverged, RedisStore, StoreEvent
from daemon.flags.server import Flags
from daemon.flags.store import Change, ChangeRecord, change_set
from supervisor.telemetry import Capture
from supervisor.testing import ManualClock, capture
from tests.daemon.redis_server import RedisServer, start_redis_server

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0
"""A bound on every wait: a failure, not a measurement."""


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from start_redis_server()


def _settings(server: RedisServer, **overrides: float) -> RedisStoreSettings:
    values: dict[str, float] = {"heartbeat": 0.05, "stale_after": 5.0, "timeout": 2.0}
    values.update(overrides)
    return RedisStoreSettings(url=server.url, **values)  # type: ignore[arg-type]


@dataclass
class Daemon:
    """One stand-in daemon: a flags server over its own store."""

    name: str
    store: RedisStore
    flags: Flags

    async def converged(self, revision: int) -> None:
        """Return once this daemon has applied ``revision`` and put it in force."""
        async with asyncio.timeout(WAIT):
            await self.store.wait_applied(revision)
            await self.flags.call("sync")  # the store's changes reach the table through the mailbox


async def _in_sync(events: Capture, node: str) -> None:
    """Wait for ``node``'s store to follow the channel (its first ``in_sync``)."""
    async with asyncio.timeout(WAIT):
        count = 1
        while (await events.wait(StoreEvent.IN_SYNC, count=count)).metadata["node"] != node:
            count += 1


async def _daemon(name: str, settings: RedisStoreSettings, clock: ManualClock | None = None) -> Daemon:
    """A flags server over its own store, returned once the store follows the channel."""
    store = RedisStore(settings, node=name, clock=clock)
    with capture(StoreEvent.IN_SYNC) as events:
        flags = await Flags.start(FlagsSettings(store="memory"), store=store)
        await _in_sync(events, name)
    return Daemon(name, store, flags)


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[Daemon, Daemon]]:
    a = await _daemon("a", _settings(redis_server))
    b = await _daemon("b", _settings(redis_server))
    try:
        yield a, b
    finally:
        for daemon in (a, b):
            if daemon.flags.alive:
                await daemon.flags.stop()


def _commit_as(server: RedisServer, node: str, change: Change, *, announce: bool = True) -> int:
    """Commit ``change`` as a third daemon would, from a blocking client (so that nothing else on
    this event loop runs meanwhile); ``announce=False`` loses its notice, as pub/sub may."""
    import redis

    keys = RedisKeys("arbord:flags")
    record = {**ChangeRecord(0, change).to_json(), "node": node}
    del record["revision"]

    def encode(state: FlagState | None) -> str:
        return "" if state is None else json.dumps(state.to_json(), sort_keys=True, separators=(",", ":"))

    with redis.Redis(unix_socket_path=str(server.socket_path)) as client:
        revision, _ = client.eval(
            COMMIT,
            5,
            keys.revision,
            keys.state,
            keys.flag_revision,
            keys.changes,
            keys.history(change.flag),
            change.flag,
            encode(change.old),
            encode(change.new),
            json.dumps(record),
            node,
            keys.channel if announce else "arbord:flags:nowhere",
        )
    return int(revision)


def _stale(daemon: Daemon) -> bool:
    """The flags server's staleness (a function: mypy would take two asserts on it for one)."""
    return daemon.flags.stale


def _change(flag: str, op: GateOp, old: FlagState | None = None) -> Change:
    return Change(flag, op, old, apply(old or FlagState(flag), op), actor="test")


async def test_a_change_on_one_daemon_is_in_force_on_the_other(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    assert not b.flags.enabled("checkout")
    record = await a.flags.enable("checkout", create=True, actor="alice", reason="launch")
    await b.converged(record.revision)
    assert b.flags.enabled("checkout")
    record = await b.flags.enable("checkout", for_actor="bob")
    record = await b.flags.disable("checkout")
    await a.converged(record.revision)
    assert not a.flags.enabled("checkout")
    assert a.flags.enabled("checkout", "bob")
    assert a.flags.state("checkout") == b.flags.state("checkout")
    history = await a.store.history("checkout")
    assert [r.change.actor for r in history] == ["alice", "api", "api"]
    assert history[0].change.reason == "launch"


async def test_a_daemon_ignores_its_own_notices(redis_server: RedisServer) -> None:
    store = RedisStore(_settings(redis_server), node="a")
    other = RedisStore(_settings(redis_server), node="b")
    seen: list[ChangeRecord] = []
    try:
        with capture(StoreEvent.IN_SYNC) as events:
            await store.load()
            store.subscribe(seen.append)
            await other.load()
            other.subscribe(lambda record: None)
            await _in_sync(events, "a")
        mine = await store.commit(_change("x", GateOp.enable()))
        theirs = await other.commit(_change("y", GateOp.enable()))
        async with asyncio.timeout(WAIT):
            await store.wait_applied(theirs)
        assert [r.revision for r in seen] == [theirs]
        assert mine < theirs
        assert store.revision == theirs
    finally:
        await store.close()
        await other.close()


async def test_a_lost_notice_is_caught_up_at_the_next_one(redis_server: RedisServer) -> None:
    # Heartbeats far apart: only the gap before the next notice can reveal the lost one.
    a = await _daemon("a", _settings(redis_server, heartbeat=60))
    b = await _daemon("b", _settings(redis_server, heartbeat=60))
    try:
        with capture(StoreEvent.RESYNC) as events:
            lost = _commit_as(redis_server, "c", _change("quiet", GateOp.enable()), announce=False)
            record = await a.flags.enable("loud", create=True)
            assert record.revision == lost + 1
            await a.converged(record.revision)
            await b.converged(record.revision)
        for daemon in (a, b):  # the writer too: the older change of another flag still applies
            assert daemon.flags.enabled("quiet")
            assert daemon.flags.enabled("loud")
        assert {(e.metadata["node"], e.metadata["why"]) for e in events} == {("a", "gap"), ("b", "gap")}
    finally:
        await a.flags.stop()
        await b.flags.stop()


async def test_a_lost_last_notice_is_caught_up_by_the_heartbeat(
    pair: tuple[Daemon, Daemon], redis_server: RedisServer
) -> None:
    a, b = pair
    with capture(StoreEvent.RESYNC) as events:
        lost = _commit_as(redis_server, "c", _change("quiet", GateOp.enable()), announce=False)
        await a.converged(lost)
        await b.converged(lost)
    assert a.flags.enabled("quiet")
    assert b.flags.enabled("quiet")
    assert {e.metadata["why"] for e in events} == {"behind"}


async def test_changes_made_while_a_daemon_was_disconnected_reach_it(
    pair: tuple[Daemon, Daemon], redis_server: RedisServer
) -> None:
    import redis

    a, b = pair
    await a.converged(0)
    with capture(StoreEvent.OUT_OF_SYNC, StoreEvent.IN_SYNC) as events:
        # From a blocking client, so neither daemon can resubscribe in between: the notice of this
        # change is published to nobody.
        with redis.Redis(unix_socket_path=str(redis_server.socket_path)) as client:
            assert client.client_kill_filter(_type="pubsub") == 2
        revision = _commit_as(redis_server, "c", _change("missed", GateOp.enable()))
        async with asyncio.timeout(WAIT):
            await events.wait(StoreEvent.IN_SYNC, count=2)
        await a.converged(revision)
        await b.converged(revision)
    assert {e.metadata["node"] for e in events.of(StoreEvent.OUT_OF_SYNC)} == {"a", "b"}
    assert a.flags.enabled("missed")
    assert b.flags.enabled("missed")


async def test_concurrent_writes_to_one_flag_are_both_kept(redis_server: RedisServer) -> None:
    first = RedisStore(_settings(redis_server), node="a")
    second = RedisStore(_settings(redis_server), node="b")
    handed: list[ChangeRecord] = []
    try:
        await first.load()
        await second.load()
        second.subscribe(handed.append)
        # Both made from the same state: the second is re-applied to the first's result.
        await first.commit(_change("f", GateOp.enable(for_actor="ann")))
        revision = await second.commit(_change("f", GateOp.enable(for_actor="bob")))
        await asyncio.sleep(0)  # the rebased state is handed over right after the commit returns
        check = RedisStore(_settings(redis_server), node="c")
        state = (await check.load()).flags["f"]
        await check.close()
        assert dict(state.actors) == {"ann": True, "bob": True}
        rebased = [r for r in handed if r.revision == revision]
        assert rebased
        assert rebased[-1].change.new == state
    finally:
        await first.close()
        await second.close()


async def test_a_write_made_from_a_stale_view_is_reapplied_and_corrected_in_the_table(
    redis_server: RedisServer,
) -> None:
    b = await _daemon("b", _settings(redis_server, heartbeat=60))
    try:
        # Another daemon's change B never heard of (its notice lost, no heartbeat soon).
        _commit_as(redis_server, "c", _change("f", GateOp.enable(for_actor="ann")), announce=False)
        record = await b.flags.enable("f", for_actor="bob", create=True)
        await b.converged(record.revision)
        assert dict(b.flags.state("f").actors) == {"ann": True, "bob": True}  # type: ignore[union-attr]
        history = await b.store.history("f")
        assert history[-1].change.new == b.flags.state("f")
    finally:
        await b.flags.stop()


async def test_killing_redis_keeps_the_last_known_flags_and_loses_no_acknowledged_write(
    redis_server: RedisServer,
) -> None:
    clock = ManualClock()
    a = await _daemon("a", _settings(redis_server))
    b = await _daemon("b", _settings(redis_server, stale_after=5.0), clock=clock)
    try:
        acknowledged: dict[str, int] = {}
        for i in range(20):
            acknowledged[f"f{i}"] = (await a.flags.enable(f"f{i}", create=True)).revision
        await b.converged(max(acknowledged.values()))
        with capture(StoreEvent.OUT_OF_SYNC, StoreEvent.STALE, StoreEvent.IN_SYNC) as events:
            redis_server.kill()
            async with asyncio.timeout(WAIT):
                await events.wait(StoreEvent.OUT_OF_SYNC, count=2)
            # Lost: the last known values are served, marked out of sync, not yet stale.
            assert all(b.flags.enabled(f"f{i}") for i in range(20))
            status = b.store.status()
            assert status["in_sync"] is False
            assert status["stale"] is False
            with pytest.raises(StoreFailed):
                await a.flags.enable("never", create=True)
            assert not a.flags.enabled("never")
            # Past the budget: stale, in status and as an event.
            clock.advance(5.5)
            assert b.store.stale
            assert b.store.status()["stale"] is True
            async with asyncio.timeout(WAIT):
                await events.wait(StoreEvent.STALE)
            assert _stale(b)  # the flags server's: its OpenFeature provider answers STALE
            assert not _stale(a)  # A's clock has not passed its budget
            redis_server.start()
            async with asyncio.timeout(WAIT):
                await events.wait(StoreEvent.IN_SYNC, count=2)
            assert not _stale(b)
        assert b.store.status()["stale"] is False  # (not the property: mypy narrowed it above)
        record = await a.flags.disable("f3")
        await b.converged(record.revision)
        assert not b.flags.enabled("f3")
        assert b.flags.enabled("f4")
        check = RedisStore(_settings(redis_server), node="check")
        fresh = await check.load()
        await check.close()
        assert set(acknowledged) <= set(fresh.flags)
        assert "never" not in fresh.flags
        assert a.flags.state("f3") == b.flags.state("f3") == fresh.flags["f3"]
    finally:
        await a.flags.stop()
        await b.flags.stop()


async def test_a_write_storm_through_a_kill_keeps_every_acknowledged_write(redis_server: RedisServer) -> None:
    store = RedisStore(_settings(redis_server), node="a")
    acknowledged: dict[str, int] = {}
    try:
        await store.load()
        for i in range(200):
            if i == 100:
                redis_server.kill()
                redis_server.start()
            try:
                acknowledged[f"s{i}"] = await store.commit(_change(f"s{i}", GateOp.enable()))
            except StoreFailed:
                pass
    finally:
        await store.close()
    check = RedisStore(_settings(redis_server), node="check")
    try:
        snapshot = await check.load()
        assert len(acknowledged) >= 190
        assert set(acknowledged) <= set(snapshot.flags)
        history = {r.revision: r.change.flag for r in await check.history()}
        assert all(history[revision] == flag for flag, revision in acknowledged.items())
        assert sorted(history) == list(range(1, snapshot.revision + 1))
    finally:
        await check.close()


async def test_wait_for_revision_waits_for_every_live_daemon(
    pair: tuple[Daemon, Daemon], redis_server: RedisServer
) -> None:
    import redis

    a, b = pair
    record = await a.flags.enable("w", create=True)
    report = await a.store.wait_for_revision(record.revision, timeout=WAIT)
    assert {n.node for n in report.nodes} == {"a", "b"}
    assert all(n.revision >= record.revision for n in report.nodes)
    keys = RedisKeys("arbord:flags")
    with redis.Redis(unix_socket_path=str(redis_server.socket_path)) as client:
        (seconds, _) = client.time()
        client.hset(keys.nodes, "ghost", f"{(seconds + 60) * 1000} 0 0")
        client.hset(keys.nodes, "gone", f"{(seconds - 60) * 1000} 0 0")
    with pytest.raises(NotConverged, match="ghost at 0"):
        await a.store.wait_for_revision(record.revision, timeout=0.2)
    with redis.Redis(unix_socket_path=str(redis_server.socket_path)) as client:
        client.hdel(keys.nodes, "ghost")
        assert client.hexists(keys.nodes, "gone") == 0  # an expired heartbeat is removed
    await a.store.wait_for_revision(record.revision, timeout=WAIT)
    await b.flags.stop()  # a stopped daemon takes its heartbeat with it
    report = await a.store.wait_for_revision(record.revision, timeout=WAIT)
    assert [n.node for n in report.nodes] == ["a"]


async def test_an_unreachable_store_fails_loudly_at_load(tmp_path: object) -> None:
    store = RedisStore(RedisStoreSettings(url="unix:///nonexistent/redis.sock", timeout=0.5), node="a")
    with pytest.raises(StoreFailed, match="cannot be read"):
        await store.load()
    await store.close()


async def test_a_store_that_went_back_in_time_is_reported(
    pair: tuple[Daemon, Daemon], redis_server: RedisServer
) -> None:
    import redis

    a, b = pair
    record = await a.flags.enable("kept", create=True)
    await b.converged(record.revision)
    said = asyncio.Event()

    class Said(logging.Handler):
        def emit(self, entry: logging.LogRecord) -> None:
            if "went back" in entry.getMessage() and f"(as {b.store.node})" in entry.getMessage():
                said.set()

    handler = Said()
    logging.getLogger("daemon.flags.redis_store").addHandler(handler)
    try:
        with redis.Redis(unix_socket_path=str(redis_server.socket_path)) as client:
            client.flushall()
        async with asyncio.timeout(WAIT):  # the next heartbeats notice it
            await said.wait()
    finally:
        logging.getLogger("daemon.flags.redis_store").removeHandler(handler)
    assert b.flags.enabled("kept")  # the flags in force stay
    assert "went back" in str(b.store.status()["last_error"])


# --- change sets (a migration stage move: several flags, one transaction) -----------------------


def _set_of(*flags: str) -> list[Change]:
    return change_set([_change(flag, GateOp.enable()) for flag in flags])


async def test_a_change_set_is_committed_whole_or_not_at_all(redis_server: RedisServer) -> None:
    import redis

    keys = RedisKeys("arbord:flags")
    store = RedisStore(_settings(redis_server), node="a")
    try:
        await store.load()
        before = await store.commit(_change("z", GateOp.enable()))
        # A key the script would write in the middle of the set holds the wrong type: Redis does not
        # undo a script that fails half-way, so the script must refuse before its first write.
        with redis.Redis(unix_socket_path=str(redis_server.socket_path)) as client:
            client.set(keys.history("b"), "not a sorted set")
            with pytest.raises(StoreFailed, match="WRONGTYPE"):
                await store.commit_set(_set_of("a", "b", "c"))
            assert int(client.get(keys.revision) or 0) == before
            assert set(client.hkeys(keys.state)) == {b"z"}
            assert client.hlen(keys.changes) == before
            client.delete(keys.history("b"))
        assert await store.commit_set(_set_of("a", "b", "c")) == before + 3
        history = await store.history()
        assert [r.set_revisions for r in history[1:]] == [(before + 1, before + 3)] * 3
    finally:
        await store.close()


async def test_a_change_set_on_one_daemon_is_put_in_force_whole_on_the_other(
    pair: tuple[Daemon, Daemon],
) -> None:
    a, b = pair
    flags = ("s1", "s2", "s3")
    for flag in flags:
        await a.flags.enable(flag, create=True)
        await a.flags.disable(flag)
    await b.converged(a.flags.revision)
    partial: list[tuple[bool, ...]] = []

    async def watch() -> None:  # a reader on B, in its own task, between every step of the loop
        while True:
            seen = tuple(b.flags.enabled(flag) for flag in flags)
            if len(set(seen)) > 1:
                partial.append(seen)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        records = await a.flags.write_set([(flag, GateOp.enable()) for flag in flags], reason="stage 1")
        await b.converged(records[-1].revision)
    finally:
        watcher.cancel()
    assert all(b.flags.enabled(flag) for flag in flags)
    assert partial == []
    assert [r.set_revisions for r in await b.store.history()][-3:] == [records[0].set_revisions] * 3


async def test_a_change_set_made_from_a_stale_view_is_reapplied_whole(redis_server: RedisServer) -> None:
    first = RedisStore(_settings(redis_server), node="a")
    second = RedisStore(_settings(redis_server), node="b")
    handed: list[ChangeRecord] = []
    try:
        await first.load()
        await second.load()
        second.subscribe(handed.append)
        await first.commit(_change("b", GateOp.enable(for_actor="ann")))
        # Made from the state before that change: the set is re-applied to the store's states.
        revision = await second.commit_set(_set_of("a", "b"))
        await asyncio.sleep(0)  # the rebased set is handed over right after the commit returns
        assert [r.revision for r in handed if r.revision > 1] == [revision - 1, revision]
        check = RedisStore(_settings(redis_server), node="c")
        state = (await check.load()).flags["b"]
        await check.close()
        assert state.boolean
        assert dict(state.actors) == {"ann": True}
        assert handed[-1].change.new == state
    finally:
        await first.close()
        await second.close()
