"""The default flag store: one SQLite database, durable at every acknowledged write.

The database (``flags.db`` in the state directory, ``daemon.flags.state_dir``) holds the audit
trail, ``changes`` (one row per revision: the write, the old and the new state, who, why, when), and
the state in force, ``flags`` (one row per flag, updated in the same transaction). It runs in WAL
mode with ``synchronous=FULL``: a commit returns only once it is on disk, so **a write the server
acknowledges survives SIGKILL and power loss** (tests/faults/test_flag_faults.py kills a daemon
50 times during a write storm). The calls block, so they run on one dedicated thread of the store's
own, never on the event loop; a failed commit is rolled back and raised as ``StoreFailed``, and as
``FlagsReadOnly`` when the disk could not take it (full, read-only, an I/O error): the flags server
then turns the flags read-only and ``probe`` tells it when the disk takes writes again. A database
that cannot be read at start raises ``StoreCorrupt`` (a ``ConfigError``: the daemon exits 78 naming
the file) rather than start with no flags; one that, or whose directory, cannot be written raises
``StoreNotWritable`` (also 78, saying so: SQLite's own "unable to open database file" reads like
corruption).

>>> import asyncio, tempfile, pathlib
>>> from daemon.flags.gates import FlagState, GateOp, apply
>>> async def demo(path: pathlib.Path) -> list[object]:
...     store = await SqliteStore.open(path)
...     old = FlagState("beta")
...     rev = await store.commit(Change("beta", GateOp.enable(), old, apply(old, GateOp.enable()), "alice"))
...     await store.close()
...     again = await SqliteStore.open(path)
...     snapshot = await again.load()
...     await again.close()
...     return [rev, snapshot.revision, snapshot.flags["beta"].boolean]
>>> with tempfile.TemporaryDirectory() as tmp:
...     asyncio.run(demo(pathlib.Path(tmp) / "flags.db"))
[1, 1, True]
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from daemon.flags.errors import FlagsReadOnly, InvalidGate, StoreCorrupt, StoreFailed, StoreNotWritable
from daemon.flags.gates import FlagState
from daemon.flags.store import Change, ChangeCallback, ChangeRecord, Snapshot

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

T = TypeVar("T")

_PERSISTENCE: Final = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN}
)
"""SQLite's primary result codes that say the disk did not take a write (not a lock, not a bug)."""


def _commit_failed(path: Path, error: sqlite3.Error) -> StoreFailed:
    """The error a commit's failure is raised as: ``FlagsReadOnly`` when the disk refused it."""
    code = getattr(error, "sqlite_errorcode", None)
    kind = FlagsReadOnly if code is not None and code & 0xFF in _PERSISTENCE else StoreFailed
    return kind(f"the flags store {path} did not commit: {error}")


SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS changes (
    revision INTEGER PRIMARY KEY,
    flag TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_flag ON changes (flag, revision);
CREATE TABLE IF NOT EXISTS flags (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
"""


def _refuse_if_not_writable(path: Path, error: sqlite3.Error) -> None:
    """Raise ``StoreNotWritable`` if ``path``, or its directory (where SQLite creates the ``-wal``
    and ``-shm`` files), cannot be written: what SQLite's ``error`` then means. Probed by trying
    (an unnamed temporary file, the file opened for writing), so a read-only mount, a mode and
    root's exemption from modes are all judged as the kernel judges them."""
    directory = path.parent
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as probe:
        raise StoreNotWritable(
            [
                f"the flags store {path} cannot be opened for writing: its directory {directory} is not"
                f" writable ({probe.strerror}); the daemon writes {path.name} and its -wal and -shm"
                f" files there, so the state directory must be writable by its user (sqlite: {error})"
            ]
        ) from error
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    except OSError as probe:
        raise StoreNotWritable(
            [
                f"the flags store {path} cannot be opened for writing: the file is not writable"
                f" ({probe.strerror}); it must be writable by the daemon's user (sqlite: {error})"
            ]
        ) from error
    os.close(fd)


class SqliteStore:
    """A ``FlagStore`` in one SQLite file; open it with ``await SqliteStore.open(path)``."""

    shared = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = f"sqlite:{path}"
        # One thread: sqlite3 connections belong to the thread that made them, and one writer at a
        # time is what the server sends anyway.
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="arbord-flags-sqlite")
        self._db: sqlite3.Connection | None = None
        self._revision: int | None = None
        """The last revision committed (None: read it from the table at the next commit)."""
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if need be) the database at ``path``; ``StoreCorrupt`` naming it if it is
        not a readable flags database, ``StoreNotWritable`` if it or its directory cannot be written,
        ``StoreFailed`` if it cannot be created."""
        store = cls(path)
        try:
            await store._run(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    async def _run(self, function: Callable[[], T]) -> T:
        if self._closed:
            raise StoreFailed(f"the flags store {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._thread, function)

    # --- on the store's thread -------------------------------------------------------------------

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            where = self.path.parent
            raise StoreFailed(f"cannot create the flags store's directory {where}: {error}") from error
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            _refuse_if_not_writable(self.path, error)
            raise StoreFailed(f"cannot open the flags store {self.path}: {error}") from error
        try:
            # Checked before anything is written: a database refused at start is left as it was
            # (switching to WAL first rewrote the header of the file it then refused;
            # tests/faults/test_unit_faults.py::test_f13_...[schema]).
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise StoreCorrupt([f"the flags store {self.path} failed its integrity check: {check}"])
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                problem = f"the flags store {self.path} has schema {version}, not {SCHEMA_VERSION}"
                raise StoreCorrupt([problem])
            db.execute("PRAGMA journal_mode=WAL").fetchall()
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._load_on_thread(db)  # every row must parse: a bad one is corruption
        except StoreCorrupt:
            db.close()
            raise
        except (sqlite3.DatabaseError, InvalidGate, ValueError, KeyError, TypeError) as error:
            db.close()
            if isinstance(error, sqlite3.OperationalError):
                _refuse_if_not_writable(self.path, error)
            problem = f"the flags store {self.path} is not a readable flags database: {error}"
            raise StoreCorrupt([problem]) from error
        self._db = db

    def _load_on_thread(self, db: sqlite3.Connection) -> Snapshot:
        flags = {
            name: FlagState.from_json(json.loads(state))
            for name, state in db.execute("SELECT name, state FROM flags")
        }
        revision = db.execute("SELECT COALESCE(MAX(revision), 0) FROM changes").fetchone()[0]
        return Snapshot(MappingProxyType(flags), int(revision))

    def _commit_on_thread(self, changes: Sequence[Change]) -> int:
        """Commit ``changes`` in one transaction (all or nothing) and return the last revision.

        Per change: one row in ``changes``, one in ``flags``; per transaction: ``BEGIN IMMEDIATE``,
        ``COMMIT`` and the one ``fdatasync`` of the WAL that makes it durable (``synchronous=FULL``).
        The last revision is remembered rather than read back (``MAX(revision)``) at each commit:
        the write lock makes this store the only writer while it holds it, and a row another
        process committed meanwhile shows up as a duplicate revision, which is read again and
        retried once."""
        db = self._db
        assert db is not None
        try:
            for last in (self._revision, None):
                db.execute("BEGIN IMMEDIATE")
                try:
                    revision = self._insert(db, changes, last)
                    db.execute("COMMIT")
                    break
                except BaseException as error:
                    self._revision = None  # read it again at the next commit
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    if last is None or not isinstance(error, sqlite3.IntegrityError):
                        raise
                    # A duplicate revision: another writer committed meanwhile. Read it, retry once.
        except sqlite3.Error as error:
            raise _commit_failed(self.path, error) from error
        self._revision = revision
        return revision

    def _probe_on_thread(self) -> None:
        """A transaction that writes the header page again, unchanged (its schema version), and
        commits it durably: it needs the disk to take a WAL frame and its ``fdatasync``, as a write
        does, and changes no flag."""
        db = self._db
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise _commit_failed(self.path, error) from error

    def _insert(self, db: sqlite3.Connection, changes: Sequence[Change], last: int | None) -> int:
        """The rows of ``changes`` after revision ``last`` (None: the table's last), in the open
        transaction; returns the last revision written."""
        if last is None:
            last = int(db.execute("SELECT COALESCE(MAX(revision), 0) FROM changes").fetchone()[0])
        revision = last
        for change in changes:
            revision += 1
            db.execute(
                "INSERT INTO changes (revision, flag, record) VALUES (?, ?, ?)",
                (revision, change.flag, json.dumps(ChangeRecord(revision, change).to_json())),
            )
            if change.new is None:
                db.execute("DELETE FROM flags WHERE name = ?", (change.flag,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO flags (name, state) VALUES (?, ?)",
                    (change.flag, json.dumps(change.new.to_json())),
                )
        return revision

    def _select_on_thread(self, sql: str, args: tuple[Any, ...]) -> list[ChangeRecord]:
        db = self._db
        assert db is not None
        try:
            rows = db.execute(sql, args).fetchall()
        except sqlite3.Error as error:
            raise StoreFailed(f"the flags store {self.path} could not be read: {error}") from error
        return [ChangeRecord.from_json(json.loads(row[0])) for row in rows]

    def _count_on_thread(self, sql: str, args: tuple[Any, ...]) -> int:
        db = self._db
        assert db is not None
        try:
            return int(db.execute(sql, args).fetchone()[0])
        except sqlite3.Error as error:
            raise StoreFailed(f"the flags store {self.path} could not be read: {error}") from error

    # --- the FlagStore interface -----------------------------------------------------------------

    async def load(self) -> Snapshot:
        db = self._db
        if db is None:
            raise StoreFailed(f"the flags store {self.path} is not open")
        return await self._run(lambda: self._load_on_thread(db))

    async def commit(self, change: Change) -> int:
        return await self._run(lambda: self._commit_on_thread((change,)))

    async def commit_set(self, changes: Sequence[Change]) -> int:
        """Commit ``changes`` as one SQLite transaction: every one of them durable, or none."""
        batch = tuple(changes)
        return await self._run(lambda: self._commit_on_thread(batch))

    async def history(
        self, flag: str | None = None, *, since: int = 0, limit: int | None = None, skip: int = 0
    ) -> Sequence[ChangeRecord]:
        where = "revision > ?" + ("" if flag is None else " AND flag = ?")
        args: tuple[Any, ...] = (since,) if flag is None else (since, flag)
        if limit is None and skip <= 0:
            sql = f"SELECT record FROM changes WHERE {where} ORDER BY revision"
        else:
            sql = (
                f"SELECT record FROM (SELECT record, revision FROM changes WHERE {where}"
                " ORDER BY revision DESC LIMIT ? OFFSET ?) ORDER BY revision"
            )
            args = (*args, -1 if limit is None else max(limit, 0), max(skip, 0))
        return await self._run(lambda: self._select_on_thread(sql, args))

    async def count(self, flag: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM changes" + ("" if flag is None else " WHERE flag = ?")
        args: tuple[Any, ...] = () if flag is None else (flag,)
        return await self._run(lambda: self._count_on_thread(sql, args))

    async def changes_since(self, revision: int) -> Sequence[ChangeRecord]:
        return await self.history(since=revision)

    async def probe(self) -> None:
        """Write and commit the header page, unchanged: ``FlagsReadOnly`` while the disk refuses."""
        if self._db is None:
            raise StoreFailed(f"the flags store {self.path} is not open")
        await self._run(self._probe_on_thread)

    def subscribe(self, callback: ChangeCallback) -> None:
        """A local store has no other writer: the callback is never called."""

    async def close(self) -> None:
        """Close the database and stop the store's thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, db.close)
        self._thread.shutdown(wait=False)
