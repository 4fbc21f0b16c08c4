"""The one small interface every flag store implements, and the records it keeps.

The flags server (``daemon.flags.server``) orders the writes; a store makes them durable and keeps
the audit trail. The in-memory table is always the read path: a store is read once at start
(``load``), written once per change (``commit``), and read again only for the history or, for a
shared store, to catch up on the changes other daemons committed.

- ``load()``: every flag's state and the store-wide revision (the revision of the last change).
- ``commit(change)``: make one change durable and return its revision (store-wide, increasing by
  one). It returns only once the change is committed; on failure it raises ``StoreFailed`` and
  nothing is recorded.
- ``commit_set(changes)``: make several changes durable as **one transaction** (a migration stage
  move: ``change_set``) and return the revision of the last; they get consecutive revisions. All or
  nothing: on failure it raises ``StoreFailed`` and none of them is recorded.
- ``history(flag=None, since=0, limit=None, skip=0)``: the recorded changes, oldest first, of one
  flag or of all, with a revision > ``since`` (``limit``: only the newest ``limit`` of them, after
  leaving out the ``skip`` newest: how ``flags.history`` pages back in time).
- ``count(flag=None)``: how many changes are recorded, of one flag or of all (a page's ``total``).
- ``changes_since(revision)``: every change after ``revision``, oldest first — how a node that saw a
  gap or reconnected catches up (a shared store's resync; a local store answers from its history).
- ``probe()``: while the flags are read-only after a commit raised ``FlagsReadOnly`` (a full or
  read-only disk), a write that changes no flag: it returns once the store can persist again, and
  raises ``FlagsReadOnly`` while it cannot (daemon/flags/read_only.py).
- ``subscribe(callback)``: ``callback(record)`` is called, on the event loop, for each change that
  **another** writer committed (a shared store's push: Redis pub/sub). A local store never calls it.
- ``close()``: release the store (idempotent).

A change is event-sourced: each ``ChangeRecord`` carries the write as asked (``GateOp``), the flag's
old and new state, who made it and why, so the history replays the state in force at any time.

>>> import asyncio
>>> from daemon.flags.gates import FlagState, GateOp, apply
>>> async def demo() -> list[object]:
...     store = MemoryStore()
...     old = FlagState("checkout")
...     op = GateOp.enable()
...     rev = await store.commit(Change("checkout", op, old, apply(old, op), actor="alice"))
...     snapshot = await store.load()
...     return [rev, snapshot.revision, snapshot.flags["checkout"].boolean]
>>> asyncio.run(demo())
[1, 1, True]
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from daemon.flags.errors import FlagsReadOnly, StoreFailed
from daemon.flags.gates import FlagState, GateOp

__all__ = [
    "Change",
    "ChangeCallback",
    "ChangeRecord",
    "FlagStore",
    "MemoryStore",
    "Snapshot",
    "change_set",
    "iso_time",
]


def iso_time(seconds: float) -> str:
    """Epoch seconds as an ISO 8601 UTC time to the millisecond (for people; ``time`` is exact).

    >>> iso_time(0.0)
    '1970-01-01T00:00:00.000+00:00'
    """
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Change:
    """One write to one flag, before the store numbers it. ``new`` None: the flag was deleted."""

    flag: str
    op: GateOp
    old: FlagState | None
    new: FlagState | None
    actor: str
    """Who: the control peer (``uid:1000 (alice)``), the calling code (``api``) or ``auto-rollback``."""
    reason: str | None = None
    time: float = field(default_factory=time.time)
    """Wall-clock seconds since the epoch (UTC): what ``explain --at`` replays against."""
    set_index: int = 0
    """Its place in the change set it was committed with (``change_set``; 0 for a lone change)."""
    set_size: int = 1
    """How many changes were committed together with it, itself included (1: a lone change)."""


def change_set(changes: Sequence[Change]) -> list[Change]:
    """``changes`` numbered as one change set (``set_index``, ``set_size``), to commit with
    ``FlagStore.commit_set``: the audit trail shows them as one move.

    >>> from daemon.flags.gates import GateOp
    >>> numbered = change_set([Change(f, GateOp.enable(), None, None, "api") for f in "ab"])
    >>> [(c.flag, c.set_index, c.set_size) for c in numbered]
    [('a', 0, 2), ('b', 1, 2)]
    """
    size = len(changes)
    return [replace(c, set_index=i, set_size=size) for i, c in enumerate(changes)]


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A committed change: the ``Change`` and its store-wide ``revision``."""

    revision: int
    change: Change

    @property
    def set_revisions(self) -> tuple[int, int]:
        """The first and last revision of the change set it belongs to (its own, twice, if alone)."""
        first = self.revision - self.change.set_index
        return first, first + self.change.set_size - 1

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-able data (the history's reply, a shared store's message); a member
        of a change set carries ``set``: ``[index, size]`` (a lone change carries none)."""
        c = self.change
        data: dict[str, Any] = {
            "revision": self.revision,
            "flag": c.flag,
            "op": c.op.to_json(),
            "old": None if c.old is None else c.old.to_json(),
            "new": None if c.new is None else c.new.to_json(),
            "actor": c.actor,
            "reason": c.reason,
            "time": c.time,
            "when": iso_time(c.time),
        }
        if c.set_size > 1:
            data["set"] = [c.set_index, c.set_size]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeRecord:
        """The inverse of ``to_json``."""
        old, new = data.get("old"), data.get("new")
        index, size = data.get("set") or (0, 1)
        change = Change(
            data["flag"],
            GateOp.from_json(data["op"]),
            None if old is None else FlagState.from_json(old),
            None if new is None else FlagState.from_json(new),
            data["actor"],
            data.get("reason"),
            float(data["time"]),
            int(index),
            int(size),
        )
        return cls(int(data["revision"]), change)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What ``load`` returns: every flag's state and the store-wide revision."""

    flags: Mapping[str, FlagState]
    revision: int


ChangeCallback = Callable[[ChangeRecord], None]
"""Called on the event loop with a change another writer committed (``FlagStore.subscribe``)."""


@runtime_checkable
class FlagStore(Protocol):
    """Where flags are made durable (module docstring). ``shared`` is True for a store several
    daemons share (they must subscribe and resync); ``location`` names it for logs and status."""

    shared: bool
    location: str

    async def load(self) -> Snapshot: ...

    async def commit(self, change: Change) -> int: ...

    async def commit_set(self, changes: Sequence[Change]) -> int: ...

    async def history(
        self, flag: str | None = None, *, since: int = 0, limit: int | None = None, skip: int = 0
    ) -> Sequence[ChangeRecord]: ...

    async def count(self, flag: str | None = None) -> int: ...

    async def changes_since(self, revision: int) -> Sequence[ChangeRecord]: ...

    async def probe(self) -> None: ...

    def subscribe(self, callback: ChangeCallback) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """A store that keeps everything in memory: a daemon's flags and history last until it stops
    (``[flags] store = "memory"``; the tests' store). ``fail_next`` makes the next commits (or
    probes) raise ``StoreFailed``, as a lost connection would; ``full`` makes every commit and probe raise
    ``FlagsReadOnly`` until it is cleared, as a full disk would."""

    shared = False
    location = "memory"

    def __init__(self) -> None:
        self._records: list[ChangeRecord] = []
        self._flags: dict[str, FlagState] = {}
        self.fail_next = 0
        self.full = False

    async def load(self) -> Snapshot:
        return Snapshot(MappingProxyType(dict(self._flags)), len(self._records))

    async def commit(self, change: Change) -> int:
        return await self.commit_set([change])

    async def commit_set(self, changes: Sequence[Change]) -> int:
        if self.full:
            raise FlagsReadOnly("the memory store did not commit: it is told to be full")
        if self.fail_next:
            self.fail_next -= 1
            raise StoreFailed("the memory store was told to fail this commit")
        for change in changes:  # no await: all or nothing
            record = ChangeRecord(len(self._records) + 1, change)
            self._records.append(record)
            if change.new is None:
                self._flags.pop(change.flag, None)
            else:
                self._flags[change.flag] = change.new
        return len(self._records)

    async def history(
        self, flag: str | None = None, *, since: int = 0, limit: int | None = None, skip: int = 0
    ) -> Sequence[ChangeRecord]:
        found = [r for r in self._records[since:] if flag is None or r.change.flag == flag]
        if skip > 0:
            found = found[:-skip]
        return found if limit is None else found[-limit:] if limit > 0 else []

    async def count(self, flag: str | None = None) -> int:
        return sum(1 for r in self._records if flag is None or r.change.flag == flag)

    async def changes_since(self, revision: int) -> Sequence[ChangeRecord]:
        return list(self._records[max(revision, 0) :])

    async def probe(self) -> None:
        if self.full:
            raise FlagsReadOnly("the memory store did not take the probe: it is told to be full")
        if self.fail_next:
            self.fail_next -= 1
            raise StoreFailed("the memory store was told to fail this probe")

    def subscribe(self, callback: ChangeCallback) -> None:
        """A local store has no other writer: the callback is never called."""

    async def close(self) -> None:
        return None
