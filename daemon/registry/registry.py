"""The agent registry: keys → (owner, metadata), cleaned up when owners exit, read without a hop.

``Registry`` is a server that owns its tables; everything else happens in the caller's task:

- **reads** (``lookup``, ``lookup_all``, ``find_by_attribute``, ``query``, ``list_all``, ``count``,
  ``dispatch``) are table reads and return only entries whose owner is alive;
- **writes** (``register``, ``unregister``, ``update_metadata``) are synchronous too: each is a
  handful of table operations with no ``await`` in between, so it is atomic on the event loop, and
  costs microseconds instead of a mailbox round trip. Only the registry's methods write, which is
  what keeps the indexes consistent with the entries;
- **cleanup** is the server's one job: it monitors each owner once (however many keys it holds)
  and, on the ``Down``, removes every entry the owner held. The last key of an owner unregistered
  removes its monitor, so monitors never leak.

Tables: ``entries`` and ``owners`` have the ``TableKeeper`` as heir, so a crashed registry loses no
entry: the next incarnation claims them, re-monitors every owner (a dead one's ``Down`` arrives at
once with ``noproc``) and rebuilds the attribute indexes. docs/registry.md has the consistency model.

>>> import asyncio
>>> async def demo() -> list[object]:
...     registry = await Registry.start()
...     worker = asyncio.create_task(asyncio.Event().wait())
...     registry.register("agent-1", worker, {"capability": "search", "node": "a"})
...     found = [e.key for e in registry.find_by_attribute("capability", "search")]
...     worker.cancel()
...     await asyncio.gather(worker, return_exceptions=True)
...     gone = registry.lookup("agent-1")         # read right away: the owner is dead, so no entry
...     await registry.stop()
...     return [found, gone]
>>> asyncio.run(demo())
[['agent-1'], None]
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from daemon.chunked import SCAN_CHUNK, keep_chunked, pause
from daemon.registry.config import DEFAULT_INDEXED_ATTRIBUTES
from daemon.registry.criteria import Criterion, Op, matcher, parse_criteria
from daemon.registry.entry import Entry, KeyMode, describe_owner, owner_task
from daemon.registry.errors import AlreadyRegistered, NotIndexed, TooManyEntries, TooManyValues
from daemon.registry.keeper import Claim, KeeperUp, TableKeeper
from supervisor import (
    Access,
    Caller,
    Down,
    MonitorRef,
    NoProc,
    Server,
    Table,
    demonitor,
    monitor,
    telemetry,
    whereis,
)
from supervisor.lowlevel import GuardedGetter, OwnerIndex

__all__ = [
    "LOOKUP_MISS",
    "OWNER_DOWN",
    "REGISTER",
    "UNREGISTER",
    "Registry",
    "registry_named",
]

REGISTER: Final = ("arbord", "registry", "register")
"""Emitted for each registration: measurements ``{"count": 1}``; metadata registry, key, owner."""
UNREGISTER: Final = ("arbord", "registry", "unregister")
"""Emitted for each entry removed by ``unregister``; metadata registry, key, owner."""
LOOKUP_MISS: Final = ("arbord", "registry", "lookup_miss")
"""Emitted when ``lookup`` finds no live entry; metadata registry, key."""
OWNER_DOWN: Final = ("arbord", "registry", "owner_down")
"""Emitted when an exited owner's entries are removed: measurements ``{"count": n}``."""

_ONE: Final[Mapping[str, float]] = MappingProxyType({"count": 1})
_COLLECTIONS: Final = (list, tuple, set, frozenset)
_SCALARS: Final = frozenset({str, int, float, bool})
_TASK_DONE: Final[Callable[[Any], bool]] = asyncio.Task.done
"""``Task.done`` itself: ``map`` calls it in C, about 15 ns a task against 22 ns for ``task.done()``."""


def _call_done(task: asyncio.Task[Any]) -> bool:
    """``task.done()`` through the task's own class, for a ``Task`` subclass that overrides it."""
    return task.done()


def _not_started(key: object, default: object = None) -> None:
    """``lookup`` before the tables are claimed: nothing is registered yet, as far as anyone knows."""


def _duplicate_lookup(key: object, default: object = None) -> None:
    raise TypeError("lookup is for unique registries; a duplicate registry has lookup_all and dispatch")


_TASK: Final = Entry._fields.index("task")


def _reader(
    get: Callable[..., Any], miss: Callable[[Hashable], None], done: Callable[[Any], bool]
) -> Callable[[Hashable], Entry | None]:
    """Build a registry's ``lookup`` over its entries table's ``get``: the row, if its owner's task
    has not finished (a dead owner's rows may still be there until the registry handles the owner's
    exit), else a miss. ``done`` is ``Registry._owner_done``.

    A ``GuardedGetter``: the read, the liveness check and the miss all run in C, with no Python
    frame (a Python closure doing the same measured 3.4 to 3.6x ``dict.get``; bench_registry).
    ``Table.get`` rather than ``getter()`` (the bare ``dict.get``): it is a C method too, as fast,
    and answers None for an unhashable key where ``dict.get`` raises ``TypeError``, so ``lookup``
    misses like ``lookup_all`` and ``unregister`` do."""
    reader: Callable[[Hashable], Entry | None] = GuardedGetter(get, done, _TASK, miss)
    return reader


def _index_pairs(
    metadata: Mapping[str, Any], attributes: tuple[str, ...], limit: int | None = None
) -> list[tuple[str, Any]]:
    """The ``(attribute, value)`` index keys of an entry: the value of each indexed attribute, or
    each distinct element of a list/set value. Values that cannot be hashed are left out (``query``
    still finds them). More than ``limit`` of them raises ``TooManyValues``.

    De-duplicated through a dict, in one pass: a membership test of the list built so far made a
    20,000-value attribute cost 200 million comparisons, a 9 s stall of the loop at registration and
    again at cleanup (issue 12;
    test_indexing_distinct_values_costs_a_comparison_per_collision_not_per_pair)."""
    pairs: dict[tuple[str, Any], None] = {}
    for attribute in attributes:
        value = metadata.get(attribute)
        if value is None:
            continue
        if type(value) in _SCALARS:  # the common case, first
            pairs[(attribute, value)] = None
            continue
        for item in value if isinstance(value, _COLLECTIONS) else (value,):
            try:
                pairs[(attribute, item)] = None
            except Exception:  # unhashable, or a __hash__ that raises: not indexed, still stored
                continue
            if limit is not None and len(pairs) > limit:  # stop at once: the rest is not looked at
                raise _too_many(attributes, limit)
    if limit is not None and len(pairs) > limit:
        raise _too_many(attributes, limit)
    return list(pairs)


def _too_many(attributes: tuple[str, ...], limit: int) -> TooManyValues:
    return TooManyValues(
        f"the metadata has more than {limit} distinct values of indexed attributes "
        f"({', '.join(attributes)}); registry.max_indexed_values is {limit}"
    )


class Registry(Server):
    """A registry of keys owned by servers, tasks or control connections (see the module docstring).

    ``init(*, keys=KeyMode.UNIQUE, indexed_attributes=("capability", "health_status", "node"),
    keeper=None, max_entries_per_owner=None, max_indexed_values=None, label=None)``: ``keeper`` is
    the registered name of the ``TableKeeper`` to use as heir (none: the tables die with the
    registry); ``max_indexed_values`` bounds the distinct indexed values one entry may carry
    (``TooManyValues`` past it); ``label`` tells this registry's tables apart in the keeper
    (default: the registered name).
    """

    def __init__(self) -> None:
        super().__init__()
        # ``whereis`` finds a server from the moment it is started, before its ``init`` has run (and
        # this one awaits the keeper): until the tables are in place, lookups miss, the other
        # operations refuse with NoProc.
        self._ready = False
        self.lookup: Callable[[Hashable], Entry | None] = _reader(_not_started, self._miss, _TASK_DONE)
        """``lookup(key)``: the entry under ``key`` while its owner is alive, else None (unique
        registries). An attribute built by ``_reader``, not a method: a C callable, with no Python
        frame at all, is what brings it near ``dict.get`` (bench/bench_registry.py)."""
        self.label = f"registry-{id(self):x}"
        # How lookup and find_by_attribute ask an owner's task whether it is done: ``Task.done``
        # itself (faster), until an owner whose class overrides ``done`` registers (_note_owner).
        self._owner_done: Callable[[Any], bool] = _TASK_DONE

    async def init(
        self,
        *,
        keys: KeyMode | str = KeyMode.UNIQUE,
        indexed_attributes: Sequence[str] = DEFAULT_INDEXED_ATTRIBUTES,
        keeper: str | None = None,
        max_entries_per_owner: int | None = None,
        max_indexed_values: int | None = None,
        label: str | None = None,
    ) -> None:
        self.mode = KeyMode(keys)
        self.indexed_attributes = tuple(indexed_attributes)
        self.label = label or self.name or self.label
        self._limit = max_entries_per_owner
        self._values_limit = max_indexed_values
        self._keeper: TableKeeper | None = None
        self._keeper_ref: MonitorRef | None = None
        keeper_server = whereis(keeper) if keeper else None
        claimed: tuple[Table, ...] = ()
        if isinstance(keeper_server, TableKeeper):
            claimed = await keeper_server.call(Claim(self.label, self))
        by_name: dict[str | None, Table | None] = {table.name: table for table in claimed}
        self._entries = by_name.pop(f"{self.label}.entries", None) or self._table("entries")
        self._owners = by_name.pop(f"{self.label}.owners", None) or self._table("owners")
        for leftover in by_name.values():
            if leftover is not None:
                leftover.delete_table()
        self._indexes = {a: self._table(f"index.{a}") for a in self.indexed_attributes}
        # The writes read through the tables' getters (their own dict.get), not Table.get: about
        # ten reads per register + unregister cycle, 0.6 us of its 10 us budget (bench_registry).
        # A write runs only while the registry runs, so its tables are alive.
        self._get_entry = self._entries.getter()
        self._owner_index = OwnerIndex(self._owners, self)
        self._index_rows = {a: (t, t.getter()) for a, t in self._indexes.items()}
        self._reindex()
        self._remonitor()
        self._appoint(keeper_server if isinstance(keeper_server, TableKeeper) else None)
        self._ready = True
        self._build_lookup()

    def _build_lookup(self) -> None:
        if self.mode is KeyMode.UNIQUE:
            self.lookup = _reader(self._entries.get, self._miss, self._owner_done)
        else:
            self.lookup = _duplicate_lookup

    def _note_owner(self, task: asyncio.Task[Any]) -> None:
        """Keep reads asking ``task.done()`` itself once an owner's class overrides ``done``."""
        if type(task).done is not _TASK_DONE and self._owner_done is _TASK_DONE:
            self._owner_done = _call_done
            if self._ready:
                self._build_lookup()

    def _table(self, what: str) -> Table:
        # Public: the registry's methods write from their callers' tasks, with no hop (see above).
        return Table(f"{self.label}.{what}", access=Access.PUBLIC)

    # --- restart: tables back from the keeper ---------------------------------------------------------

    def _reindex(self) -> None:
        """Build the attribute indexes from the entries (they are derived data, never inherited).
        Entries accepted under a higher ``max_indexed_values`` are indexed whole: they were valid."""
        for entry in self._all_entries():
            self._note_owner(entry.task)
            self._index(entry, _index_pairs(entry.metadata, self.indexed_attributes))

    def _remonitor(self) -> None:
        """Replace the monitors of a previous incarnation (whose Down would go nowhere) by ours."""
        self._owner_index.remonitor()

    def _appoint(self, keeper: TableKeeper | None) -> None:
        """Make ``keeper`` the heir of the tables that must survive a crash, and watch it."""
        if self._keeper_ref is not None:
            demonitor(self._keeper_ref, flush=True)
        self._keeper = keeper if keeper is not None and keeper.alive else None
        self._keeper_ref = monitor(self._keeper, watcher=self) if self._keeper is not None else None
        for table in (self._entries, self._owners):
            table.set_heir(self._keeper, self.label)

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, Down):
            if message.ref is self._keeper_ref:
                self._appoint(None)  # until the restarted keeper says KeeperUp
            else:
                await self._owner_down(message.target, message.ref)
        elif isinstance(message, KeeperUp):
            self._appoint(message.keeper)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        # Every call is a settle (see settle): a stray call must not crash the server.
        return None

    async def settle(self, timeout: float | None = 5.0) -> None:
        """Return once the registry has handled every message sent to it before this call: the
        ``Down`` of every owner that exited before it, so their entries are gone from the tables."""
        await self.call("settle", timeout)

    async def _owner_down(self, owner: Any, ref: MonitorRef, *, chunk: int = SCAN_CHUNK) -> None:
        """Remove the entries of an owner that exited, ``chunk`` at a time with a pause between, so
        an owner of 100,000 entries does not hold the loop (daemon/chunked.py). Reads already leave
        them out (the owner's task is done); the owner's row goes with its last key, so a registry
        that stops in the middle leaves the rest to its next incarnation (it re-monitors the
        owner, whose ``Down`` comes at once). test_an_owner_of_many_entries_is_cleaned_up_in_slices"""
        keys = self._owner_index.held(owner, ref)
        if keys is None:  # a stale Down: the owner re-registered since
            return
        get = self._get_entry
        for start in range(0, len(keys), chunk):
            if start:
                await pause()
            for key in keys[start : start + chunk]:
                for entry in self._entries_of(key, owner, get):
                    self._remove(entry)
        self._owner_index.forget(owner, ref)
        telemetry.execute(OWNER_DOWN, {"count": len(keys)}, {"registry": self.label, "owner": owner})

    # --- writes ---------------------------------------------------------------------------------------

    def _started(self) -> None:
        if not self._ready:
            raise NoProc(f"{self!r} is starting: its tables are not in place yet")

    def _writable(self) -> None:
        if not self._ready or self.exit_reason is not None:
            raise NoProc(f"{self!r} is not running: find the current registry with whereis")

    def register(self, key: Hashable, owner: Any, metadata: Mapping[str, Any] | None = None) -> Entry:
        """Register ``key`` for ``owner`` (a server, a task, a connection's task); returns the entry.

        Unique mode: a key held by a live owner raises ``AlreadyRegistered`` naming it; a key held by
        an owner that exited (and was not cleaned up yet) is replaced. Duplicate mode: the same for
        the (key, owner) pair. ``TypeError`` for an unhashable key or a non-owner, ``NoProc`` for
        an owner that is not alive, ``TooManyEntries`` past ``max_entries_per_owner``.
        """
        self._writable()
        try:
            hash(key)
        except TypeError:
            raise TypeError(f"a registry key must be hashable, not {key!r}") from None
        task = owner_task(owner)
        if task.done():
            raise NoProc(f"{describe_owner(owner)} is not alive: it cannot own {key!r}")
        if type(task).done is not _TASK_DONE:
            self._note_owner(task)
        if metadata is not None and type(metadata) is not dict and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata is a mapping, not {metadata!r}")
        for held in self._entries_of(key, None if self.mode is KeyMode.UNIQUE else owner, self._get_entry):
            if not held.task.done():
                message = f"{key!r} is already registered by {describe_owner(held.owner)}"
                raise AlreadyRegistered(message, held.owner)
            self._remove(held)
        if self._limit is not None and self._owner_index.count(owner) >= self._limit:
            raise TooManyEntries(f"{describe_owner(owner)} already holds {self._limit} entries")
        entry = Entry._make((key, owner, MappingProxyType(dict(metadata or {})), task))
        # Before any write: it may refuse (TooManyValues).
        pairs = _index_pairs(entry.metadata, self.indexed_attributes, self._values_limit)
        self._store(entry)
        self._owner_index.add(owner, key)
        self._index(entry, pairs)
        if REGISTER in telemetry.active_events:  # skips building the metadata while nobody listens
            telemetry.execute(REGISTER, _ONE, {"registry": self.label, "key": key, "owner": owner})
        return entry

    def unregister(self, key: Hashable, owner: Any = None) -> bool:
        """Remove ``key`` (only ``owner``'s entry when given; every entry under it otherwise).

        Returns False when there was nothing live to remove: a missing key, another owner's key, or
        an entry whose owner already exited (that one is cleaned up all the same).
        """
        self._writable()
        removed = False
        for entry in self._entries_of(key, owner, self._get_entry):
            live = not entry.task.done()
            self._remove(entry)
            if live:
                removed = True
                if UNREGISTER in telemetry.active_events:  # as in register
                    metadata = {"registry": self.label, "key": key, "owner": entry.owner}
                    telemetry.execute(UNREGISTER, _ONE, metadata)
        return removed

    def update_metadata(self, key: Hashable, metadata: Mapping[str, Any], owner: Any = None) -> bool:
        """Replace the metadata of ``key`` (of ``owner``'s entry in duplicate mode); False if none."""
        self._writable()
        if self.mode is KeyMode.DUPLICATE and owner is None:
            raise TypeError("update_metadata in a duplicate registry needs the owner")
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata is a mapping, not {metadata!r}")
        for entry in self._entries_of(key, owner, self._get_entry):
            if entry.task.done() or (owner is not None and entry.owner is not owner):
                continue
            updated = Entry._make((entry.key, entry.owner, MappingProxyType(dict(metadata)), entry.task))
            # Before any write: it may refuse (TooManyValues).
            pairs = _index_pairs(updated.metadata, self.indexed_attributes, self._values_limit)
            self._unindex(entry)
            self._store(updated)
            self._index(updated, pairs)
            return True
        return False

    # --- the table operations behind the writes --------------------------------------------------

    def _entries_of(self, key: Hashable, owner: Any, get: Callable[..., Any]) -> list[Entry]:
        """The stored entries under ``key`` (of ``owner`` only, when given), live or not, read with
        ``get``: the entries table's ``get`` for the reads, its getter for the writes."""
        try:
            row = get(key)
        except TypeError:  # an unhashable key: never stored (Table.get says None)
            return []
        if row is None:
            return []
        if self.mode is KeyMode.UNIQUE:
            return [row] if owner is None or row.owner is owner else []
        members: dict[Any, Entry] = row[1]
        if owner is None:
            return list(members.values())
        entry = members.get(owner)
        return [] if entry is None else [entry]

    def _store(self, entry: Entry) -> None:
        if self.mode is KeyMode.UNIQUE:
            self._entries.insert(entry)
            return
        row = self._get_entry(entry.key)
        if row is None:
            self._entries.insert((entry.key, {entry.owner: entry}))
        else:
            row[1][entry.owner] = entry

    def _remove(self, entry: Entry) -> None:
        """Drop one stored entry with its index rows and its owner's claim on the key."""
        key, owner = entry.key, entry.owner
        if self.mode is KeyMode.UNIQUE:
            if self._get_entry(key) is entry:
                self._entries.delete(key)
        else:
            row = self._get_entry(key)
            if row is not None and row[1].get(owner) is entry:
                del row[1][owner]
                if not row[1]:
                    self._entries.delete(key)
        self._unindex(entry)
        self._owner_index.discard(owner, key)

    def _entry_id(self, entry: Entry) -> Hashable:
        return entry.key if self.mode is KeyMode.UNIQUE else (entry.key, entry.owner)

    def _index(self, entry: Entry, pairs: list[tuple[str, Any]]) -> None:
        """Add ``entry`` to its index rows ``(value, members, owners)``: ``members`` maps entry ids to
        entries, ``owners`` counts the members of each owner's task (see ``find_by_attribute``)."""
        entry_id = self._entry_id(entry)
        task = entry[3]
        indexes = self._index_rows
        for attribute, value in pairs:
            index, get = indexes[attribute]
            row = get(value)
            if row is None:
                index.insert((value, {entry_id: entry}, {task: 1}))
            else:
                row[1][entry_id] = entry
                owners = row[2]
                owners[task] = owners.get(task, 0) + 1

    def _unindex(self, entry: Entry) -> None:
        entry_id = self._entry_id(entry)
        indexes = self._index_rows
        for attribute, value in _index_pairs(entry.metadata, self.indexed_attributes):
            index, get = indexes[attribute]
            row = get(value)
            if row is not None and row[1].get(entry_id) is entry:
                del row[1][entry_id]
                if not row[1]:
                    index.delete(value)
                    continue
                # Only a member counted by _index is uncounted here, so every member's task stays a
                # key of ``owners`` (a count can only be too high, which costs a check, never a miss).
                owners, task = row[2], entry[3]
                left = owners[task] - 1
                if left:
                    owners[task] = left
                else:
                    del owners[task]

    # --- reads: in the caller, no hop; only live owners' entries --------------------------------------

    def _miss(self, key: Hashable) -> None:
        if LOOKUP_MISS in telemetry.active_events:  # as in register
            telemetry.execute(LOOKUP_MISS, _ONE, {"registry": self.label, "key": key})

    def lookup_all(self, key: Hashable) -> list[Entry]:
        """Every live entry under ``key``: zero or one in a unique registry."""
        self._started()
        return [e for e in self._entries_of(key, None, self._entries.get) if not e.task.done()]

    def find_by_attribute(self, attribute: str, value: Hashable) -> list[Entry]:
        """The live entries whose indexed ``attribute`` is ``value`` (or contains it, for a list):
        an index lookup. An attribute that is not indexed raises ``NotIndexed``."""
        self._started()
        index = self._indexes.get(attribute)
        if index is None:
            indexed = ", ".join(self.indexed_attributes) or "none"
            raise NotIndexed(
                f"attribute {attribute!r} is not indexed (indexed: {indexed}); use query, "
                "or add it to registry.indexed_attributes"
            )
        row = index.get(value)
        if row is None:
            return []
        members: dict[Hashable, Entry] = row[1]
        # One liveness check per owner, not per entry, and in C (bench/bench_registry.py: checking
        # each of 100 matches made it 18x a copy of a plain index's list): ``owners`` holds the task
        # of every member, so while none is done every member is live and the row is copied whole.
        # An owner that is done (its Down not handled yet) sends us to the per-entry filter.
        if any(map(self._owner_done, row[2])):
            return [e for e in members.values() if not e[3].done()]  # e.task: an index is faster
        return list(members.values())

    def query(self, criteria: Iterable[Criterion | tuple[Any, Any, Any] | Mapping[str, Any]]) -> list[Entry]:
        """Live entries matching every criterion (``daemon.registry.criteria``); ``ValueError`` for a
        malformed criterion. An ``eq`` on an indexed attribute narrows the scan to its index. One
        synchronous walk: ``scan`` is the same in slices, for a caller that must not hold the loop."""
        self._started()
        parsed = parse_criteria(criteria)
        match = matcher(parsed)
        return [e for e in self._candidates(parsed) if not e.task.done() and match(e.metadata)]

    async def scan(
        self,
        criteria: Iterable[Criterion | tuple[Any, Any, Any] | Mapping[str, Any]] = (),
        *,
        chunk: int = SCAN_CHUNK,
    ) -> list[Entry]:
        """``query(criteria)`` (every live entry when there are none) walked ``chunk`` entries at a
        time with a pause between (daemon/chunked.py): what the control verbs use, so a registry of
        100,000 entries does not hold the loop. The walk covers the entries present when it starts;
        each is returned if it matches and its owner is alive when its slice is examined."""
        self._started()
        parsed = parse_criteria(criteria)
        candidates = self._candidates(parsed)
        if not parsed:
            return await keep_chunked(candidates, _live, chunk=chunk)
        match = matcher(parsed)
        return await keep_chunked(candidates, lambda e: not e[3].done() and match(e.metadata), chunk=chunk)

    def _candidates(self, parsed: tuple[Criterion, ...]) -> list[Entry]:
        """The entries a query must look at: an index's, for an ``eq`` on an indexed attribute."""
        for path, op, value in parsed:
            if op is Op.EQ and len(path) == 1 and path[0] in self._indexes:
                try:
                    return self.find_by_attribute(path[0], value)
                except TypeError:  # an unhashable value: fall back to the scan
                    continue
        return self._all_entries()

    def list_all(self, filter: Callable[[Mapping[str, Any]], bool] | None = None) -> list[Entry]:
        """Every live entry, or those whose metadata passes ``filter``."""
        self._started()
        entries = [e for e in self._all_entries() if not e.task.done()]
        return entries if filter is None else [e for e in entries if filter(e.metadata)]

    def count(self) -> int:
        """How many live entries there are (a walk of the table: O(entries))."""
        self._started()
        return sum(1 for e in self._all_entries() if not e.task.done())

    def keys_of(self, owner: Any) -> list[Hashable]:
        """The keys ``owner`` holds (empty for an owner that exited: its entries are not live)."""
        self._started()
        row = self._owners.get(owner)
        if row is None or owner_task(owner).done():
            return []
        return list(row[2])

    def dispatch(self, key: Hashable, callback: Callable[[list[Entry]], object]) -> bool:
        """Call ``callback`` with the non-empty list of live entries under ``key`` (pub/sub fan-out,
        Elixir's ``Registry.dispatch``) in the caller; never called when there are none. True if called."""
        entries = self.lookup_all(key)
        if not entries:
            return False
        callback(entries)
        return True

    def monitor_count(self) -> int:
        """How many owners the registry monitors now: one per owner holding at least one key."""
        self._started()
        return len(self._owners)

    def _all_entries(self) -> list[Entry]:
        if self.mode is KeyMode.UNIQUE:
            entries: list[Entry] = self._entries.tab2list()  # type: ignore[assignment]
            return entries
        return [entry for _, members in self._entries.tab2list() for entry in members.values()]


def _live(entry: Entry) -> bool:
    return not entry[3].done()


def registry_named(name: str) -> Registry:
    """The running registry registered as ``name``; ``NoProc`` if there is none (it may be restarting)."""
    server = whereis(name)
    if not isinstance(server, Registry) or not server._ready:
        raise NoProc(f"no registry is running under the name {name!r}")
    return server
