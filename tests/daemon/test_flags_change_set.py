"""A change set (``Flags.write_set``, ``FlagStore.commit_set``): several flags written as one durable
transaction — a migration stage move. All or nothing, in the store and in memory: a failure in the
middle of a move (here a real SQLite error raised by a trigger on the second flag's row, or the
memory store told to fail) leaves no partial stage; a success is one change set in the audit trail,
put in force together and heard as one change. The Redis store's twin of these tests is in
tests/daemon/test_flags_redis.py (against a real redis-server)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.flags import Flags, FlagState, GateOp, MemoryStore, StoreFailed
from daemon.flags.config import FlagsSettings
from daemon.flags.errors import UnknownFlag
from daemon.flags.gates import GateKind, apply
from daemon.flags.migration.config import MigrationSettings, plans
from daemon.flags.migration.control import Advance, MigrationControl, Rollback, Status, ask
from daemon.flags.migration.port import ServerFlags
from daemon.flags.server import FlagsEvent
from daemon.flags.sqlite_store import SqliteStore
from daemon.flags.store import Change, ChangeRecord, change_set
from supervisor.testing import ManualClock

PLAN = {"stages": [{"name": "one", "flags": ["a", "b", "c"]}, {"name": "two", "flags": ["d"]}]}
FLAGS = ("a", "b", "c", "d")
SETTINGS = {"store": "memory", **{flag: {} for flag in FLAGS}}


def _set(*flags: str) -> list[Change]:
    op = GateOp.enable()
    return change_set([Change(f, op, FlagState(f), apply(FlagState(f), op), "test") for f in flags])


def _fail_on(path: Path, flag: str) -> None:
    """Make the database refuse ``flag``'s row: a real SQLite error in the middle of a transaction
    (after the rows of the flags before it are written)."""
    with sqlite3.connect(path) as db:
        db.execute(
            f"CREATE TRIGGER fail_{flag} BEFORE INSERT ON flags WHEN NEW.name = '{flag}'"
            " BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END"
        )
    db.close()


def _heal(path: Path, flag: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"DROP TRIGGER fail_{flag}")
    db.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "flags.db")
    yield store
    await store.close()


# --- the stores --------------------------------------------------------------------------------


async def test_a_change_set_gets_consecutive_revisions_and_is_recorded_as_one_set(
    sqlite_store: SqliteStore,
) -> None:
    await sqlite_store.commit(_set("z")[0])
    assert await sqlite_store.commit_set(_set("a", "b", "c")) == 4
    history = await sqlite_store.history()
    assert [r.revision for r in history] == [1, 2, 3, 4]
    assert [(r.change.set_index, r.change.set_size) for r in history] == [(0, 1), (0, 3), (1, 3), (2, 3)]
    assert {r.set_revisions for r in history[1:]} == {(2, 4)}
    assert "set" not in history[0].to_json()
    assert history[2].to_json()["set"] == [1, 3]
    assert ChangeRecord.from_json(history[2].to_json()) == history[2]


async def test_a_failure_in_the_middle_of_a_sqlite_change_set_records_none_of_it(
    sqlite_store: SqliteStore,
) -> None:
    await sqlite_store.commit(_set("z")[0])
    _fail_on(sqlite_store.path, "b")
    with pytest.raises(StoreFailed, match="injected: disk full"):
        await sqlite_store.commit_set(_set("a", "b", "c"))
    snapshot = await sqlite_store.load()
    assert (snapshot.revision, sorted(snapshot.flags)) == (1, ["z"])
    assert [r.change.flag for r in await sqlite_store.history()] == ["z"]
    _heal(sqlite_store.path, "b")
    assert await sqlite_store.commit_set(_set("a", "b", "c")) == 4


async def test_a_failed_memory_change_set_records_none_of_it() -> None:
    store = MemoryStore()
    store.fail_next = 1
    with pytest.raises(StoreFailed):
        await store.commit_set(_set("a", "b"))
    assert (await store.load()).revision == 0
    assert await store.commit_set(_set("a", "b")) == 2


# --- through the flags server ------------------------------------------------------------------


async def _server(store: SqliteStore | MemoryStore) -> Flags:
    return await Flags.start(FlagsSettings.model_validate(SETTINGS), store=store)


async def test_write_set_puts_every_flag_in_force_together_and_tells_listeners_once() -> None:
    flags = await _server(MemoryStore())
    events: list[FlagsEvent] = []
    flags.listen(events.append)
    try:
        records = await flags.write_set(
            [("a", GateOp.enable()), ("b", GateOp.percentage(30, of="actors")), ("b", GateOp.enable())],
            actor="alice",
            reason="stage 1",
        )
        assert [r.revision for r in records] == [1, 2, 3]
        assert flags.revision == 3
        assert records[2].change.old == FlagState("b", percentage=records[1].change.new.percentage)  # type: ignore[union-attr]
        assert flags.enabled("a")
        assert flags.enabled("b")
        assert [(e.kind, e.flags, e.record) for e in events] == [("changed", ("a", "b"), records[-1])]
        assert {r.change.actor for r in records} == {"alice"}
    finally:
        await flags.stop()


async def test_write_set_refuses_an_unknown_flag_before_writing_anything() -> None:
    store = MemoryStore()
    flags = await _server(store)
    try:
        with pytest.raises(UnknownFlag, match="'typo'"):
            await flags.write_set([("a", GateOp.enable()), ("typo", GateOp.enable())])
        assert not flags.enabled("a")
        assert flags.revision == 0
        assert (await store.load()).revision == 0
    finally:
        await flags.stop()


async def test_a_store_failure_in_the_middle_of_write_set_leaves_memory_and_store_unchanged(
    sqlite_store: SqliteStore,
) -> None:
    flags = await _server(sqlite_store)
    try:
        await flags.enable("d")
        _fail_on(sqlite_store.path, "b")
        with pytest.raises(StoreFailed):
            await flags.write_set([(f, GateOp.enable()) for f in ("a", "b", "c")])
        assert [flags.enabled(f) for f in FLAGS] == [False, False, False, True]
        assert [flags.state(f) for f in ("a", "b", "c")] == [FlagState(f) for f in ("a", "b", "c")]
        assert flags.revision == 1
        assert flags.alive
        snapshot = await sqlite_store.load()
        assert (snapshot.revision, sorted(snapshot.flags)) == (1, ["d"])
        _heal(sqlite_store.path, "b")
        await flags.write_set([(f, GateOp.enable()) for f in ("a", "b", "c")])
        assert all(flags.enabled(f) for f in FLAGS)
    finally:
        await flags.stop()


# --- a migration stage move ----------------------------------------------------------------------


async def _control(flags: Flags) -> MigrationControl:
    settings = MigrationSettings.model_validate({"plans": {"p": PLAN}})
    port = ServerFlags(lambda: flags)
    return await MigrationControl.start(
        settings, plans(settings, set(FLAGS)), port, ManualClock(0.0), timer=False
    )


async def test_a_store_failure_in_the_middle_of_a_stage_move_leaves_no_partial_stage(
    sqlite_store: SqliteStore,
) -> None:
    flags = await _server(sqlite_store)
    control = await _control(flags)
    try:
        _fail_on(sqlite_store.path, "b")
        with pytest.raises(StoreFailed):
            await ask(control, Advance("p", "alice"))
        assert [flags.enabled(f) for f in FLAGS] == [False] * 4
        assert (await sqlite_store.load()).flags == {}
        assert (await ask(control, Status("p")))["plans"]["p"]["stage"] == 0
        _heal(sqlite_store.path, "b")
        await ask(control, Advance("p", "alice"))
        await ask(control, Advance("p", "alice"))
        assert [flags.enabled(f) for f in FLAGS] == [True] * 4
        _fail_on(sqlite_store.path, "c")  # the rollback's third write fails
        with pytest.raises(StoreFailed):
            await ask(control, Rollback("p", 0, "bob", "by hand"))
        assert [flags.enabled(f) for f in FLAGS] == [True] * 4
        assert all(s.boolean for s in (await sqlite_store.load()).flags.values())
        assert (await ask(control, Status("p")))["plans"]["p"]["stage"] == 2
    finally:
        await control.stop()
        await flags.stop()


async def test_a_stage_move_is_one_change_set_in_the_audit_trail(sqlite_store: SqliteStore) -> None:
    flags = await _server(sqlite_store)
    control = await _control(flags)
    try:
        await ask(control, Advance("p", "alice"))
        await ask(control, Advance("p", "alice"))
        await ask(control, Rollback("p", 1, "bob", "by hand"))
        history = await sqlite_store.history()
        assert [r.set_revisions for r in history] == [(1, 4)] * 4 + [(5, 8)] * 4 + [
            (9, 12)
        ] * 4  # every flag of the plan
        assert {r.change.reason for r in history[8:]} == {"by hand"}
        assert [flags.enabled(f) for f in FLAGS] == [True, True, True, False]
    finally:
        await control.stop()
        await flags.stop()


async def test_a_rolled_back_rollout_is_one_change_set_of_two_writes() -> None:
    flags = await _server(MemoryStore())
    try:
        await flags.set_percentage("a", 40, of="actors")
        revision = await ServerFlags(lambda: flags).write({"a": None}, actor="auto-rollback", reason="errors")
        history = await flags.store.history("a")
        assert revision == 3
        assert [r.change.op for r in history[1:]] == [GateOp.clear(GateKind.PERCENTAGE), GateOp.disable()]
        assert history[1].set_revisions == history[2].set_revisions == (2, 3)
        assert flags.state("a") == FlagState("a", boolean=False)
        with pytest.raises(UnknownFlag):
            await ServerFlags(lambda: flags).write({"nope": None}, actor="auto-rollback", reason="x")
    finally:
        await flags.stop()
