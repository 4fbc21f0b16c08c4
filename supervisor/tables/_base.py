"""Owned in-memory tables: Erlang's ETS for arbord — the ``Table`` base class: identity, access, owner.

A table holds rows (tuples) under a key at ``keypos`` (0-based). Whoever runs the code that creates
it — a ``Server``, or a plain asyncio task — owns it; when the owner exits the table is deleted, or
handed to its heir. Reads are plain dictionary reads with no await, no lock and no server hop;
every operation is atomic because none of them awaits.

>>> import asyncio
>>> from supervisor.tables import Table, TableType
>>> async def demo() -> list[object]:
...     prices = Table("prices", type=TableType.ORDERED_SET)   # owned by this task
...     prices.insert([("pear", 3), ("apple", 2)])
...     prices.update_counter("apple", 5)
...     return [prices.lookup("apple"), prices.first(), prices.tab2list()]
>>> asyncio.run(demo())
[[('apple', 7)], 'apple', [('apple', 7), ('pear', 3)]]

This base knows none of its subclasses. The concrete classes live in ``_set`` (set, ordered_set)
and ``_bag`` (bag, duplicate_bag) and register themselves in ``_registry``, where ``Table(...)``
finds the right one; a deleted table switches to the class ``_gone`` registers. The pattern
language is ``_query``, running queries and chunked walks ``_select``, transactions
``_transaction``; the hot operations of sets are in the core (``_core``: C, or its Python twin).
``docs/tables.md`` is the guide.

This module keeps the one piece of interpreter-wide table state: the registry of named tables (ETS's
``named_table``), so ``whereis_table(name)`` works from any caller without a server hop. The
hidden-state check allows it with an inline ``allow-state`` comment that gives the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, NoReturn

from supervisor import _runtime as runtime
from supervisor import telemetry
from supervisor._exits import Exit
from supervisor._server import Server
from supervisor._task_of import task_of
from supervisor.errors import AccessDenied, TableError, TableNameTaken
from supervisor.tables import _select
from supervisor.tables._core import TableCore
from supervisor.tables._query import BINDINGS, WHOLE, as_spec
from supervisor.tables._registry import gone_class, table_class
from supervisor.tables._running import RUNNING_TASKS
from supervisor.tables._select import Continuation, Cursor, KeysCursor
from supervisor.tables._transaction import Transaction
from supervisor.tables._vocabulary import MISSING, Access, Row, TableType

if TYPE_CHECKING:
    from sortedcontainers import SortedList

__all__ = ["NOBODY", "Table", "TableInfo", "TableTransfer", "all_tables", "named_tables", "whereis_table"]

NOBODY: Final = object()
"""The owner task of a snapshot: no task is it, so every write is denied."""


@dataclass(frozen=True, slots=True)
class TableTransfer:
    """The message an heir (or the receiver of ``give_away``) gets in ``handle_info``.

    ETS's ``{'ETS-TRANSFER', Tid, FromPid, HeirData}``: ``heir_data`` is the heir data set with the
    heir, or the gift data passed to ``give_away``.
    """

    table: Table
    from_owner: runtime.Process
    heir_data: object


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A table's settings and size (ETS ``info/1``); ``memory`` is an estimate in bytes."""

    name: str | None
    type: TableType
    access: Access
    keypos: int
    named: bool
    owner: runtime.Process | None
    heir: Server | None
    size: int
    memory: int


# arbord: allow-state(ETS's named_table registry: whereis_table(name) must find a table from any
# caller without a server hop; an entry leaves it when its table is deleted or its owner exits)
_NAMED_TABLES: dict[str, Table] = {}


def whereis_table(name: str) -> Table | None:
    """The live table registered under ``name`` (``named=True``), or None."""
    return _NAMED_TABLES.get(name)


# arbord: allow-state(the readers of _NAMED_TABLES' public and protected tables, kept beside it: an
# entry comes and goes with its table's entry there, so it holds nothing the registry does not)
_NAMED_GETTERS: dict[str, Callable[..., Any]] = {}

named_getter: Final[Callable[[str], Callable[..., Any] | None]] = _NAMED_GETTERS.get
"""``named_getter(name)``: the ``getter()`` of the live set or ordered_set registered under ``name``
when any caller may read it (public or protected), else None (no such table, a bag, or a private
table: use ``whereis_table``). One C call instead of ``whereis_table(name).get``'s Python function
and method, for hot readers of a named table (the sampled events' ``batch``,
bench/bench_telemetry_events.py). Like ``getter()`` it finds nothing once the table is deleted."""


# arbord: allow-state(ETS's all/0: every live table, named or not, for tools that list them; weak,
# so it keeps no table alive, and an entry leaves it when its table is deleted or its owner exits)
_LIVE_TABLES: weakref.WeakValueDictionary[int, Table] = weakref.WeakValueDictionary()


def all_tables() -> list[Table]:
    """Every live table, named or not, oldest first (ETS ``all/0``): what the control socket's
    ``tables.list`` shows, the daemon's own unnamed tables included."""
    return list(_LIVE_TABLES.values())


def named_tables() -> list[Table]:
    """Every live named table, sorted by name: how tools list tables (the control socket's
    ``tables.list``). Unnamed tables are reachable only through their handles, as in ETS."""
    return [_NAMED_TABLES[name] for name in sorted(_NAMED_TABLES)]


def _describe(process: object) -> str:
    return "nobody" if process is None else repr(process)


class Table(TableCore):
    """An owned in-memory table (ETS). See the module docstring and docs/tables.md.

    ``Table(name=None, *, type=SET, access=PROTECTED, keypos=0, named=False, owner=None,
    heir=None, heir_data=None)``. ``name`` labels the table in errors and telemetry; ``named=True``
    also registers it for ``whereis_table`` (a taken name raises ``TableNameTaken``). ``owner``
    defaults to the running server or task. Positions (``keypos``, counter and element positions)
    are 0-based Python indices, where ETS counts from 1.
    """

    # The store (_rows), the owner's task and loop, and keypos live in TableCore, the C base that
    # runs the hot operations of sets (supervisor/_speedups.c).
    __slots__ = (
        "__weakref__",
        "_access",
        "_count",
        "_exit_key",
        "_gone_reason",
        "_heir",
        "_heir_data",
        "_keys",
        "_name",
        "_named",
        "_owner",
        "_snapshot",
        "_tx_lock",
        "_tx_task",
        "_type",
        "_write_check",
    )

    _access: Access
    _count: int
    _exit_key: object
    _gone_reason: str
    _heir: Server | None
    _heir_data: object
    _keys: SortedList | None
    _name: str | None
    _named: bool
    _owner: runtime.Process | None
    _snapshot: bool
    _tx_lock: asyncio.Lock | None
    _tx_task: asyncio.Task[Any] | None
    _type: TableType
    _write_check: bool
    _DELETED: ClassVar[bool] = False

    def __new__(
        cls,
        name: str | None = None,
        *,
        type: TableType = TableType.SET,
        access: Access = Access.PROTECTED,
        keypos: int = 0,
        named: bool = False,
        owner: runtime.Process | None = None,
        heir: Server | None = None,
        heir_data: object = None,
    ) -> Table:
        if cls is Table:
            cls = table_class(TableType(type), Access(access))
        return TableCore.__new__(cls)

    def __init__(
        self,
        name: str | None = None,
        *,
        type: TableType = TableType.SET,
        access: Access = Access.PROTECTED,
        keypos: int = 0,
        named: bool = False,
        owner: runtime.Process | None = None,
        heir: Server | None = None,
        heir_data: object = None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise TableError(f"a table name is a str, not {name!r}")
        if named and name is None:
            raise TableError("named=True needs a name")
        if isinstance(keypos, bool) or not isinstance(keypos, int) or keypos < 0:
            raise TableError(f"keypos is a 0-based index (an int >= 0), not {keypos!r}")
        if heir is not None and not isinstance(heir, Server):
            raise TableError(f"the heir must be a Server (it receives TableTransfer), not {heir!r}")
        if owner is None:
            try:
                owner = runtime.current_process()
            except RuntimeError:
                raise TableError(
                    "a table needs an owner: create it from a server or task, or pass owner="
                ) from None
        if not runtime.is_alive(owner):
            raise TableError(f"the owner {owner!r} is not alive")
        self._type = TableType(type)
        self._access = Access(access)
        self._keypos = keypos
        self._name = name
        self._named = named
        self._heir = heir
        self._heir_data = heir_data
        self._snapshot = False
        self._gone_reason = ""
        self._tx_lock = None
        self._tx_task = None
        self._write_check = self._access is not Access.PUBLIC
        self._keys = None
        self._count = 0
        self._rows = {}
        self._init_store()
        if named:
            assert name is not None
            if name in _NAMED_TABLES:
                raise TableNameTaken(f"a table named {name!r} already exists")
            _NAMED_TABLES[name] = self
            if self._access is not Access.PRIVATE and self._type in (TableType.SET, TableType.ORDERED_SET):
                _NAMED_GETTERS[name] = self.getter()
        self._owner = None
        self._adopt(owner)
        _LIVE_TABLES[id(self)] = self
        telemetry.execute(
            ("table", "create"),
            {},
            {
                "table": self,
                "name": name,
                "type": self._type,
                "access": self._access,
                "owner": owner,
            },
        )

    def _init_store(self) -> None:
        """Set up the empty store (subclasses: an extra key index, a row counter)."""

    # --- identity ---------------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The name given at creation (None if unnamed)."""
        return self._name

    @property
    def type(self) -> TableType:
        """The table type."""
        return self._type

    @property
    def access(self) -> Access:
        """The access level."""
        return self._access

    @property
    def keypos(self) -> int:
        """The 0-based position of the key in each row."""
        return self._keypos

    @property
    def owner(self) -> runtime.Process | None:
        """The owning server or task (None for a snapshot)."""
        return self._owner

    @property
    def heir(self) -> Server | None:
        """The heir, or None."""
        return self._heir

    @property
    def deleted(self) -> bool:
        """True once the table was deleted; every operation then raises ``TableGone``."""
        return self._DELETED

    def __bool__(self) -> bool:
        """A table handle is always true (an empty table too); use ``len`` for the size."""
        return True

    def _label(self) -> str:
        return repr(self._name) if self._name is not None else f"#{id(self):x}"

    def __repr__(self) -> str:
        kind = " snapshot" if self._snapshot else ""
        if self._DELETED:
            return f"<Table {self._label()}{kind} gone>"
        return (
            f"<Table {self._label()}{kind} {self._type.value} {self._access.value} "
            f"owner={_describe(self._owner)} size={len(self)}>"
        )

    def info(self) -> TableInfo:
        """Settings, size and an estimate of the memory used (ETS ``info/1``); allowed to anyone."""
        return TableInfo(
            name=self._name,
            type=self._type,
            access=self._access,
            keypos=self._keypos,
            named=self._named,
            owner=self._owner,
            heir=self._heir,
            size=len(self),
            memory=self._memory(),
        )

    def _memory(self) -> int:
        """The containers, plus the row count times the mean size of a sample of 64 rows (each
        with its elements, one level deep): cheap, and an estimate."""
        total = sys.getsizeof(self._rows)
        if self._keys is not None:
            total += sys.getsizeof(self._keys) + sum(sys.getsizeof(s) for s in self._keys._lists)
        sample = list(itertools.islice(self._scan(), 64))
        if sample:
            sizes = [sys.getsizeof(row) + sum(map(sys.getsizeof, row)) for row in sample]
            total += len(self) * sum(sizes) // len(sample)
        return total

    # --- access -----------------------------------------------------------------------------------

    def _deny(self, operation: str, *, owner_only: bool = False) -> NoReturn:
        """Raise ``AccessDenied`` naming the table, the operation, the access level, the caller."""
        if self._snapshot:
            raise AccessDenied(f"table {self._label()}: {operation} on a snapshot (read-only)")
        try:
            caller: object = runtime.current_process()
        except RuntimeError:
            caller = "code outside any task"
        if owner_only:
            rule = "only its owner may do this"
        elif self._access is Access.PRIVATE:
            rule = "the table is private: only its owner reads or writes"
        else:
            rule = "the table is protected: anyone reads, only its owner writes"
        raise AccessDenied(
            f"table {self._label()}: {operation} denied to {caller!r}; {rule} "
            f"(owner {_describe(self._owner)})"
        )

    def _check_write(self, operation: str) -> None:
        """Deny ``operation`` unless the table is public or the caller is the owner.

        The hot operations inline this check (a method call costs as much as the check itself).
        """
        if self._write_check and RUNNING_TASKS.get(self._loop) is not self._owner_task:
            self._deny(operation)

    def _check_owner(self, operation: str) -> None:
        if RUNNING_TASKS.get(self._loop) is not self._owner_task:
            self._deny(operation, owner_only=True)

    # --- ownership --------------------------------------------------------------------------------

    def _adopt(self, owner: runtime.Process) -> None:
        """Make ``owner`` the owner and watch it: on its exit the table goes to the heir or away."""
        previous = self._owner
        if previous is not None:
            runtime.remove_exit_callback(previous, self._exit_key)
        task = task_of(owner)  # an alive server has a task
        self._owner = owner
        self._owner_task = task
        self._loop = task.get_loop()

        def on_exit(reason: Exit) -> None:
            # A stale callback (the owner changed before it ran) must not touch the table.
            if self._owner is owner and not self._DELETED:
                self._owner_exited(reason)

        self._exit_key = runtime.add_exit_callback(owner, on_exit)

    def _owner_exited(self, reason: Exit) -> None:
        heir, data = self._heir, self._heir_data
        if heir is not None and heir.alive and heir is not self._owner:
            self._heir = None  # as in ETS: inheriting clears the heir, so it cannot ping-pong
            self._heir_data = None
            self._transfer(heir, data, "heir")
        else:
            self._destroy("owner_exit", reason)

    def _transfer(self, new_owner: Server, data: object, how: str) -> None:
        old = self._owner
        assert old is not None
        self._adopt(new_owner)
        new_owner.send(TableTransfer(self, old, data))
        telemetry.execute(
            ("table", "transfer"),
            {},
            {"table": self, "name": self._name, "from": old, "to": new_owner, "reason": how},
        )

    def give_away(self, new_owner: Server, gift_data: object = None) -> None:
        """Make ``new_owner`` the owner; it receives ``TableTransfer(table, old_owner, gift_data)``.

        Only the owner may give a table away, to a live server other than itself (ETS
        ``give_away/3``). The heir is kept.
        """
        self._check_owner("give_away")
        if not isinstance(new_owner, Server):
            raise TableError(f"give_away needs a Server (it receives TableTransfer): {new_owner!r}")
        if not new_owner.alive:
            raise TableError(f"give_away to {new_owner!r}, which is not alive")
        if new_owner is self._owner:
            raise TableError(f"give_away to {new_owner!r}, which already owns the table")
        self._transfer(new_owner, gift_data, "give_away")

    def set_heir(self, heir: Server | None, heir_data: object = None) -> None:
        """Set or clear (``None``) the heir; owner only (ETS ``setopts(T, {heir, ...})``).

        A heir that is dead when the owner exits does not inherit: the table is deleted.
        """
        self._check_owner("set_heir")
        if heir is not None and not isinstance(heir, Server):
            raise TableError(f"the heir must be a Server (it receives TableTransfer), not {heir!r}")
        self._heir = heir
        self._heir_data = heir_data if heir is not None else None

    def delete_table(self) -> None:
        """Delete the table (ETS ``delete/1``); needs write access. Later uses raise TableGone."""
        self._check_write("delete_table")
        self._destroy("deleted", None)

    def _destroy(self, why: str, reason: Exit | None) -> None:
        size = len(self)
        owner = self._owner
        if owner is not None and why != "owner_exit":
            runtime.remove_exit_callback(owner, self._exit_key)
        name = self._name
        if self._named and name is not None and _NAMED_TABLES.get(name) is self:
            del _NAMED_TABLES[name]
            _NAMED_GETTERS.pop(name, None)
        if _LIVE_TABLES.get(id(self)) is self:
            del _LIVE_TABLES[id(self)]
        # Cleared, not replaced: a getter() handed out earlier must find nothing from now on.
        self._rows.clear()
        self._keys = None
        self._count = 0
        self._gone_reason = "deleted" if why == "deleted" else f"its owner exited ({reason!r})"
        object.__setattr__(self, "__class__", gone_class())
        telemetry.execute(
            ("table", "delete"),
            {"size": size},
            {"table": self, "name": name, "owner": owner, "reason": why, "exit": reason},
        )

    # --- the store, per type (overridden by the concrete classes) ---------------------------------

    def _unsupported(self, operation: str, needs: str) -> NoReturn:
        raise TableError(
            f"table {self._label()}: {operation} needs {needs}; this table is {self._type.value}"
        )

    def _scan(self) -> Iterable[Row]:
        """Every row in table order, without copying; only for use inside one synchronous call."""
        raise NotImplementedError

    def _rows_of(self, key: Any) -> list[Row]:
        """The rows under ``key`` (a fresh list; empty for an unhashable key)."""
        raise NotImplementedError

    def _remove_rows(self, rows: list[Row]) -> None:
        """Delete exactly these row objects (found by a scan in this same call)."""
        raise NotImplementedError

    def _replace_rows(self, pairs: list[tuple[Row, Row]]) -> None:
        """Replace each old row (found by a scan in this call) by its new row with the same key."""
        raise NotImplementedError

    def _state(self, key: Any) -> list[Row]:
        """The rows under ``key`` as a list (transactions stage whole-key states)."""
        return self._rows_of(key)

    def _set_state(self, key: Any, rows: list[Row]) -> None:
        """Make ``rows`` (valid for this type) the rows under ``key``; [] removes the key."""
        raise NotImplementedError

    def _clear(self) -> None:
        """Remove every row."""
        raise NotImplementedError

    def _drop(self, key: Any) -> Any:
        """Remove and return what is stored under ``key`` (a row, or a bag's list), or None."""
        raise NotImplementedError

    def _merge(self, rows: list[Row], row: Row) -> list[Row]:
        """``rows`` after inserting ``row`` under their key, as the table type does it."""
        raise NotImplementedError

    def _copy_store(self, clone: Table) -> None:
        """Fill ``clone``'s store with a copy of this one's (snapshots)."""
        raise NotImplementedError

    def _validated(self, rows: object, operation: str) -> list[tuple[Any, Row]]:
        """``(key, row)`` pairs for a row or a list of rows, or TableError naming the bad row."""
        if isinstance(rows, tuple):
            rows = [rows]
        elif not isinstance(rows, list):
            raise TableError(
                f"table {self._label()}: {operation} takes a row (a tuple) or a list of rows, not {rows!r}"
            )
        keypos = self._keypos
        pairs: list[tuple[Any, Row]] = []
        for row in rows:
            if not isinstance(row, tuple) or len(row) <= keypos:
                raise self._bad_row(operation, row)
            key = row[keypos]
            try:
                hash(key)
            except TypeError:
                raise TableError(
                    f"table {self._label()}: {operation}: the key {key!r} is not hashable"
                ) from None
            pairs.append((key, row))
        return pairs

    def _bad_row(self, operation: str, row: object) -> TableError:
        if isinstance(row, tuple) and len(row) > self._keypos:
            return TableError(
                f"table {self._label()}: {operation}: the key {row[self._keypos]!r} of {row!r} "
                "is not usable (not hashable, or not comparable with the other keys)"
            )
        return TableError(
            f"table {self._label()}: {operation}: a row is a tuple with an element at keypos "
            f"{self._keypos}, not {row!r}"
        )

    # --- operations every type has (the concrete classes implement them) -------------------------

    def insert(self, rows: Row | list[Row], /) -> None:
        """Insert a row or a list of rows, all or nothing. A set replaces the row with the same key;
        a bag ignores a row equal to one it holds; a duplicate_bag keeps every copy."""
        raise NotImplementedError

    def insert_new(self, rows: Row | list[Row]) -> bool:
        """Insert only if no row's key is present (all or nothing); False if any key exists."""
        raise NotImplementedError

    def lookup(self, key: Any, /) -> list[Row]:
        """The rows under ``key``: ``[]`` or ``[row]`` for sets; insertion order for bags."""
        raise NotImplementedError

    def member(self, key: Any) -> bool:
        """True when ``key`` has a row."""
        raise NotImplementedError

    def lookup_element(self, key: Any, pos: int, default: Any = MISSING) -> Any:
        """Element ``pos`` of the row under ``key`` (a list of them for bags).

        A missing key raises ``TableError`` unless ``default`` is given (ETS ``lookup_element/4``);
        a position out of range always raises.
        """
        raise NotImplementedError

    def take(self, key: Any) -> list[Row]:
        """Remove and return the rows under ``key``."""
        raise NotImplementedError

    def delete(self, key: Any) -> None:
        """Remove the rows under ``key``; a missing key is fine (``delete_table`` drops tables)."""
        self._check_write("delete")
        try:
            self._drop(key)
        except TypeError:  # an unhashable key is in no table
            pass

    def delete_object(self, row: Row) -> None:
        """Remove rows equal to ``row``, leaving other rows under the same key (all copies)."""
        raise NotImplementedError

    def delete_all_objects(self) -> None:
        """Remove every row, atomically."""
        self._check_write("delete_all_objects")
        self._clear()

    def tab2list(self) -> list[Row]:
        """Every row, as a new list (key order for an ordered_set)."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Row]:
        """Iterate over a list of the rows taken when iteration starts (safe across awaits)."""
        return iter(self.tab2list())

    def __contains__(self, key: object) -> bool:
        """``key in table`` is ``table.member(key)``."""
        return self.member(key)

    # --- operations of some types (the base refuses them clearly) ---------------------------------

    def get(self, key: Any, default: Any = None) -> Any:
        """The row under ``key``, or ``default`` (set and ordered_set; faster than ``lookup``)."""
        self._unsupported("get", "a set or ordered_set (use lookup)")

    def getter(self) -> Callable[..., Any]:
        """A plain ``get(key, default=None)`` of the row store, for a hot read path (set, ordered_set).

        It is the store's own ``dict.get``: no method call of the table's, no access check after the
        one made here (a private table hands it to its owner only), and an unhashable key raises
        ``TypeError``. It stays valid while the table lives, through heir transfers and
        ``give_away``; once the table is deleted it finds nothing. The registry's ``lookup`` reads
        through it (bench/bench_registry.py), wrapped in a ``GuardedGetter``: the row unless a check
        of one element rejects it (there, "has the owner's task finished?"), all in C.
        """
        self._unsupported("getter", "a set or ordered_set")

    def update_counter(self, key: Any, op: Any, default: Row | None = None) -> Any:
        """Add to integer elements atomically and return the new value(s) (ETS ``update_counter``).

        ``op`` is ``incr`` (the element after the key), ``(pos, incr)``, ``(pos, incr, threshold,
        set_value)`` or a list of those tuples (then a list is returned). With a threshold the
        value becomes ``set_value`` when it would pass the threshold (above it for ``incr >= 0``,
        below it for ``incr < 0``). A missing key raises ``TableError`` unless ``default`` (a row)
        is given; it is inserted with its key replaced by ``key`` and then updated. Only on set
        and ordered_set; an element that is not an ``int``, or the key itself, raises.
        """
        self._unsupported("update_counter", "a set or ordered_set")

    def update_element(
        self, key: Any, changes: tuple[int, Any] | list[tuple[int, Any]], default: Row | None = None
    ) -> bool:
        """Set elements ``(pos, value)`` (or a list of them) of the row under ``key``; False if
        there is none, unless ``default`` is given: then it is inserted, with ``key`` at the key
        position, and changed (ETS ``update_element/4``). Not the key position; set and
        ordered_set only."""
        self._unsupported("update_element", "a set or ordered_set")

    def first(self) -> Any:
        """The smallest key, or ``END_OF_TABLE`` (ordered_set)."""
        self._unsupported("first", "an ordered_set")

    def last(self) -> Any:
        """The largest key, or ``END_OF_TABLE`` (ordered_set)."""
        self._unsupported("last", "an ordered_set")

    def next(self, key: Any) -> Any:
        """The smallest key greater than ``key`` (present or not), or ``END_OF_TABLE``."""
        self._unsupported("next", "an ordered_set")

    def prev(self, key: Any) -> Any:
        """The largest key smaller than ``key`` (present or not), or ``END_OF_TABLE``."""
        self._unsupported("prev", "an ordered_set")

    def range(
        self,
        low: Any = None,
        high: Any = None,
        *,
        inclusive: tuple[bool, bool] = (True, True),
        reverse: bool = False,
    ) -> list[Row]:
        """Rows with ``low <= key <= high`` in key order, found by bisection (ordered_set).

        ``None`` leaves a bound open; ``inclusive`` says whether each bound is included.
        """
        self._unsupported("range", "an ordered_set")

    # --- queries (supervisor.tables._select does the work) ----------------------------------------

    def select(self, pattern: object, guard: object = None, result: object = WHOLE) -> list[Any]:
        """The results of a match spec over the table (ETS ``select/2``).

        ``pattern`` is a ``MatchSpec``, a ``Clause``, or a head with ``guard``/``result`` beside it
        (compiled on every call: keep a ``MatchSpec`` for hot queries). A head that fixes the key
        is a lookup, not a scan. An ordered_set gives results in key order.
        """
        spec = as_spec(pattern, guard, result)
        return spec.compiled.select(_select.source(self, spec))

    def select_count(self, pattern: object, guard: object = None) -> int:
        """How many rows the spec matches: head and guard, and, for a ``MatchSpec`` or ``Clause``
        with a result of its own, a result of exactly ``True`` (ETS ``select_count``)."""
        spec = as_spec(pattern, guard)
        if all(clause.result is WHOLE for clause in spec.clauses):
            return spec.compiled.count(_select.source(self, spec))
        return len(_select.matches_true(self, spec))

    def select_delete(self, pattern: object, guard: object = None) -> int:
        """Delete the rows whose head matches and whose guard gives exactly ``True``; the count.

        A ``MatchSpec`` or ``Clause`` with a result of its own deletes only where that result is
        exactly ``True`` (ETS ``select_delete``). Atomic: the matching rows are found first (a
        guard that raises changes nothing).
        """
        self._check_write("select_delete")
        spec = as_spec(pattern, guard)
        matched = _select.matches_true(self, spec)
        if matched:
            self._remove_rows(matched)
        return len(matched)

    def select_replace(self, pattern: object, guard: object = None, result: object = WHOLE) -> int:
        """Replace each matching row by the spec's result, which must keep the key; the count.

        Every replacement is computed and checked before any is applied: a result that is not a
        row, or that changes the key, raises ``TableError`` and nothing changes.
        """
        self._check_write("select_replace")
        pairs = _select.replacements(self, as_spec(pattern, guard, result))
        if pairs:
            self._replace_rows(pairs)
        return len(pairs)

    def match(self, pattern: object) -> list[tuple[Any, ...]]:
        """The bindings (a tuple per matching row) of a head pattern (ETS ``match/2``)."""
        return self.select(pattern, None, BINDINGS)

    def match_object(self, pattern: object) -> list[Row]:
        """The rows matching a head pattern (ETS ``match_object/2``)."""
        return self.select(pattern)

    def match_delete(self, pattern: object) -> int:
        """Delete the rows matching a head pattern; the count (ETS ``match_delete/2``)."""
        return self.select_delete(pattern)

    def select_chunk(
        self, pattern: object, limit: int, guard: object = None, result: object = WHOLE
    ) -> tuple[list[Any], Continuation | None]:
        """The first ``limit`` results and a continuation, or None when there are no more.

        Each chunk has exactly ``limit`` results except the last, which may be empty (ETS's
        ``'$end_of_table'``) when the rows after the last match matched nothing. The walk is not
        a snapshot: an ordered_set resumes after the last key seen (so it sees rows inserted ahead
        of it); other types walk the keys present at the first call, re-reading their rows at
        each chunk. Use ``snapshot()`` for a consistent walk.
        """
        return _select.first_chunk(self, as_spec(pattern, guard, result), limit)

    def select_continue(self, continuation: Continuation) -> tuple[list[Any], Continuation | None]:
        """The next chunk of a ``select_chunk`` walk (ETS ``select/1``)."""
        return _select.next_chunk(self, continuation)

    def _cursor(self) -> Cursor:
        """A cursor over the whole table, for chunked selects (an ordered_set has its own)."""
        return KeysCursor(list(self._rows), self._rows_of)

    # --- multi-step updates and snapshots ---------------------------------------------------------

    def transaction(self, timeout: float | None = None) -> Transaction:
        """``async with table.transaction() as tx:`` — stage changes, await freely, apply at once.

        See ``supervisor.tables._transaction``. ``timeout`` bounds the wait for another transaction
        of this table to finish (``TimeoutError``).
        """
        return Transaction(self, timeout)

    def snapshot(self) -> Table:
        """A read-only copy of the table taken atomically now: walk it across awaits at leisure.

        It answers every read and query and is never deleted by an owner's exit; writes raise
        ``AccessDenied``. The cost is one copy of the key index, the rows (immutable tuples) being
        shared: about 20 ms per million rows for a set, 70 ms for an ordered_set (its sorted keys are
        copied too), a few hundred ms per million keys for a bag (one list per key).
        """
        return self._readonly_clone()

    def _readonly_clone(self) -> Table:
        """A protected copy of this table in one synchronous step, owned by no task (``NOBODY``),
        so every write is denied: what ``snapshot`` returns."""
        clone = TableCore.__new__(table_class(self._type, Access.PROTECTED))
        clone._type = self._type
        clone._access = Access.PROTECTED
        clone._keypos = self._keypos
        clone._name = self._name
        clone._named = False
        clone._heir = None
        clone._heir_data = None
        clone._snapshot = True
        clone._gone_reason = ""
        clone._tx_lock = None
        clone._tx_task = None
        clone._write_check = True
        clone._owner = None
        clone._owner_task = NOBODY
        clone._loop = self._loop
        clone._exit_key = None
        clone._keys = None
        clone._count = 0
        self._copy_store(clone)
        return clone
