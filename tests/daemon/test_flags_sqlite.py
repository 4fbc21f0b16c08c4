"""The SQLite store: WAL and synchronous=FULL, the audit trail and the state in one transaction, a
failed commit changing nothing (the server stays up), a bad database refused at open; and where the
state directory is."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.flags import Flags, FlagsReadOnly, FlagState, GateOp, StoreCorrupt, StoreFailed
from daemon.flags.config import FlagsSettings
from daemon.flags.gates import apply
from daemon.flags.sqlite_store import SqliteStore
from daemon.flags.state_dir import choose_state_dir, database_path
from daemon.flags.store import Change
from supervisor.testing import wait_for


def change(flag: str, op: GateOp, old: FlagState | None = None, actor: str = "test") -> Change:
    before = old or FlagState(flag)
    return Change(flag, op, old, apply(before, op), actor)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "flags.db")
    yield opened
    await opened.close()


async def test_the_database_is_in_wal_mode_with_full_sync(store: SqliteStore) -> None:
    def pragmas() -> tuple[str, int]:
        assert store._db is not None
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        return mode, store._db.execute("PRAGMA synchronous").fetchone()[0]

    assert await store._run(pragmas) == ("wal", 2)  # 2 is FULL


async def test_revisions_history_and_changes_since(store: SqliteStore) -> None:
    assert await store.commit(change("a", GateOp.enable())) == 1
    assert await store.commit(change("b", GateOp.percentage(5))) == 2
    assert await store.commit(change("a", GateOp.disable(), FlagState("a", boolean=True))) == 3
    assert [r.revision for r in await store.history("a")] == [1, 3]
    assert [r.revision for r in await store.history(limit=2)] == [2, 3]
    assert [r.revision for r in await store.changes_since(1)] == [2, 3]
    (last,) = await store.history("a", since=1)
    assert last.change.old == FlagState("a", boolean=True)
    assert last.change.new == FlagState("a", boolean=False)
    snapshot = await store.load()
    assert snapshot.revision == 3
    assert dict(snapshot.flags) == {
        "a": FlagState("a", boolean=False),
        "b": apply(FlagState("b"), GateOp.percentage(5)),
    }


async def test_a_failed_commit_raises_and_records_nothing(store: SqliteStore) -> None:
    await store.commit(change("a", GateOp.enable()))

    def full() -> None:  # the database may not grow by a page: the next write finds the "disk" full
        assert store._db is not None
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")

    await store._run(full)
    big = Change("b", GateOp.enable(), None, FlagState("b", boolean=True), "test", reason="x" * 100_000)
    with pytest.raises(StoreFailed, match="did not commit"):
        await store.commit(big)
    snapshot = await store.load()
    assert snapshot.revision == 1
    assert list(snapshot.flags) == ["a"]


async def test_a_failed_commit_leaves_the_flags_in_force_and_the_server_up(tmp_path: Path) -> None:
    # A database that refuses writes (SQLITE_READONLY) turns the flags read-only; its probes fail
    # too until it takes writes again, then the flags are writable by themselves (read_only.py).
    store = await SqliteStore.open(tmp_path / "flags.db")
    flags = await Flags.start(FlagsSettings.model_validate({"beta": {}, "probe_interval": 0.01}), store=store)
    try:
        await flags.enable("beta")
        await store._run(lambda: store._db.execute("PRAGMA query_only = ON") if store._db else None)
        with pytest.raises(FlagsReadOnly, match="attempt to write a readonly database"):
            await flags.disable("beta", reason="this write must not land")
        assert flags.enabled("beta") is True
        assert flags.alive
        await wait_for(lambda: (flags.read_only_status() or {}).get("probes", 0) >= 1, 10.0)
        assert flags.read_only is not None  # the probe was refused as the write was
        await store._run(lambda: store._db.execute("PRAGMA query_only = OFF") if store._db else None)
        await wait_for(lambda: flags.read_only is None, 10.0)
        await flags.disable("beta")
        assert flags.enabled("beta") is False
        assert [r.revision for r in await store.history()] == [1, 2]
    finally:
        await flags.stop()


async def test_the_store_is_closed_when_the_server_stops(tmp_path: Path) -> None:
    flags = await Flags.start(FlagsSettings(path=tmp_path / "own.db"))
    await flags.enable("x", create=True)
    await flags.stop()
    again = await SqliteStore.open(tmp_path / "own.db")
    try:
        assert (await again.load()).flags["x"].boolean is True
    finally:
        await again.close()
    await again.close()  # idempotent


async def test_a_file_that_is_not_a_database_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "flags.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreCorrupt, match=str(path)):
        await SqliteStore.open(path)


async def test_a_database_with_an_unreadable_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flags.db"
    await (await SqliteStore.open(path)).close()  # create it
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, state TEXT NOT NULL)")
        db.execute('INSERT INTO flags VALUES (\'x\', \'{"name": "x", "boolean": "yes"}\')')
        db.commit()
    with pytest.raises(StoreCorrupt, match="not a readable flags database"):
        await SqliteStore.open(path)


async def test_a_database_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flags.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreCorrupt, match="schema 99"):
        await SqliteStore.open(path)


async def test_a_directory_that_cannot_be_created_is_a_store_failure(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreFailed, match="cannot create"):
        await SqliteStore.open(tmp_path / "file" / "sub" / "flags.db")


def test_the_state_directory_order(tmp_path: Path) -> None:
    assert choose_state_dir({"STATE_DIRECTORY": "/a:/b", "XDG_STATE_HOME": "/x"}, None) == Path("/a")
    assert choose_state_dir({"XDG_STATE_HOME": "/x"}, tmp_path) == Path("/x/arbord")
    assert choose_state_dir({}, tmp_path) == tmp_path / "state"
    assert (
        database_path(FlagsSettings(path=tmp_path / "f.db"), {"STATE_DIRECTORY": "/a"}) == tmp_path / "f.db"
    )
    assert database_path(FlagsSettings(), {"STATE_DIRECTORY": "/a"}) == Path("/a/flags.db")


async def test_a_commit_after_another_writers_takes_the_next_revision(tmp_path: Path) -> None:
    # The store remembers its last revision instead of reading it at each commit (one statement
    # fewer per acknowledged write); a row another writer committed meanwhile is a duplicate
    # revision, read again and retried, never a lost or overwritten change.
    first = await SqliteStore.open(tmp_path / "flags.db")
    second = await SqliteStore.open(tmp_path / "flags.db")
    try:
        assert await first.commit(change("a", GateOp.enable())) == 1
        assert await second.commit(change("b", GateOp.enable())) == 2
        assert await first.commit(change("c", GateOp.enable())) == 3
        assert [r.change.flag for r in await first.history()] == ["a", "b", "c"]
    finally:
        await first.close()
        await second.close()


async def test_an_acknowledged_write_is_four_statements_and_one_transaction(store: SqliteStore) -> None:
    # BEGIN IMMEDIATE, the audit row, the state row, COMMIT (the one fdatasync of the WAL): the
    # revision is remembered, not read back at each commit (docs/performance.md, durable writes).
    await store.commit(change("a", GateOp.enable()))  # the first commit reads the last revision
    statements: list[str] = []
    assert store._db is not None
    store._db.set_trace_callback(statements.append)
    try:
        await store.commit(change("a", GateOp.disable(), FlagState("a", boolean=True)))
    finally:
        store._db.set_trace_callback(None)
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "INSERT", "COMMIT"]
