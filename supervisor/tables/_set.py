"""The set and ordered_set tables: one row per key, in a plain dict.

A set is a dict ``key -> row``: a lookup is one dict read. An ordered_set adds a
``sortedcontainers.SortedList`` of the keys beside the same dict, so reads stay plain dict reads
while ``first``/``next``/``range`` bisect the sorted keys (a range of k keys costs O(log n + k),
not a scan). That is the structure of ``SortedDict``, kept as two objects because copying a
``SortedDict`` (for a snapshot) goes through its Python-level views: 25x slower than a dict copy.

>>> import asyncio
>>> from supervisor.tables import Table, TableType
>>> async def demo() -> list[object]:
...     hits = Table(type=TableType.ORDERED_SET)
...     hits.insert([(n, 0) for n in (30, 10, 20, 40)])
...     hits.update_counter(20, [(1, 7), (1, 1)])
...     return [hits.range(15, 30), hits.next(20), hits.lookup(20)]
>>> asyncio.run(demo())
[[(20, 8), (30, 0)], 30, [(20, 8)]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from sortedcontainers import SortedList

from supervisor.errors import TableError
from supervisor.tables._base import Table
from supervisor.tables._core import TableCore
from supervisor.tables._private import private_variant
from supervisor.tables._registry import register
from supervisor.tables._running import RUNNING_TASKS
from supervisor.tables._vocabulary import END_OF_TABLE, MISSING, Access, Row, TableType

__all__ = ["OrderedSetTable", "PublicOrderedSetTable", "PublicSetTable", "SetTable"]


def _rebuild(row: Row, elements: list[Any]) -> Row:
    """A row of the same kind as ``row`` (a plain tuple or a named tuple) with new elements."""
    make = getattr(type(row), "_make", None)
    if type(row) is tuple or make is None:
        return tuple(elements)
    rebuilt: Row = make(elements)
    return rebuilt


def _is_int(value: object) -> bool:
    return type(value) is int


class SetTable(Table):
    """``TableType.SET``: a dict ``key -> row``."""

    __slots__ = ()

    # --- store hooks (an ordered_set overrides the ones that change the key set) -----------------

    def _put(self, key: Any, row: Row) -> None:
        self._rows[key] = row

    def _put_many(self, pairs: list[tuple[Any, Row]]) -> None:
        rows = self._rows
        for key, row in pairs:
            rows[key] = row

    def _drop(self, key: Any) -> Row | None:
        row: Row | None = self._rows.pop(key, None)
        return row

    def _scan(self) -> Iterable[Row]:
        return self._rows.values()

    def _rows_of(self, key: Any) -> list[Row]:
        try:
            row = self._rows.get(key)
        except TypeError:
            return []
        return [] if row is None else [row]

    def _remove_rows(self, rows: list[Row]) -> None:
        store, keypos = self._rows, self._keypos
        for row in rows:
            key = row[keypos]
            if store.get(key) is row:
                self._drop(key)

    def _replace_rows(self, pairs: list[tuple[Row, Row]]) -> None:
        store, keypos = self._rows, self._keypos
        for old, new in pairs:
            key = old[keypos]
            if store.get(key) is old:
                store[key] = new

    def _set_state(self, key: Any, rows: list[Row]) -> None:
        if rows:
            self._put(key, rows[-1])
        else:
            self._drop(key)

    def _clear(self) -> None:
        self._rows.clear()

    def _merge(self, rows: list[Row], row: Row) -> list[Row]:
        return [row]

    def _copy_store(self, clone: Table) -> None:
        clone._rows = self._rows.copy()

    # --- writes -----------------------------------------------------------------------------------

    # insert: one plain tuple is stored by the C base (after the owner check); anything else comes
    # back to _insert_unchecked, which the C code calls once the check has passed.
    insert = TableCore._set_insert

    def _insert_unchecked(self, rows: Row | list[Row], /) -> None:
        if type(rows) is tuple:
            try:
                self._put(rows[self._keypos], rows)
            except (IndexError, TypeError):
                raise self._bad_row("insert", rows) from None
            return
        self._put_many(self._validated(rows, "insert"))

    def insert_new(self, rows: Row | list[Row]) -> bool:
        self._check_write("insert_new")
        pairs = self._validated(rows, "insert_new")
        store = self._rows
        if any(key in store for key, _ in pairs):
            return False
        self._put_many(pairs)
        return True

    def take(self, key: Any) -> list[Row]:
        self._check_write("take")
        try:
            row = self._drop(key)
        except TypeError:
            return []
        return [] if row is None else [row]

    def delete_object(self, row: Row) -> None:
        self._check_write("delete_object")
        if not isinstance(row, tuple) or len(row) <= self._keypos:
            raise self._bad_row("delete_object", row)
        key = row[self._keypos]
        try:
            if self._rows.get(key) == row:
                self._drop(key)
        except TypeError:
            pass

    # update_counter: a plain int added to a (key, int) row by the C base (after the owner check);
    # anything else comes back to _update_counter once the check has passed. A call naming
    # ``default=`` goes to _update_counter_call, the whole operation in Python.
    update_counter = TableCore._set_update_counter

    def _update_counter_call(self, key: Any, op: Any, default: Row | None = None) -> Any:
        self._check_write("update_counter")
        return self._update_counter(key, op, default)

    def _update_counter(self, key: Any, op: Any, default: Row | None) -> Any:
        """The general update_counter: validate every op, then store the new row once."""
        operations, single = self._counter_ops(op)
        keypos = self._keypos
        try:
            row = self._rows.get(key)
        except TypeError:
            raise TableError(
                f"table {self._label()}: update_counter: the key {key!r} is not hashable"
            ) from None
        if row is None:
            if default is None:
                raise TableError(
                    f"table {self._label()}: update_counter: no row with key {key!r} and no default"
                )
            if not isinstance(default, tuple) or len(default) <= keypos:
                raise self._bad_row("update_counter (default)", default)
            row = _rebuild(default, [*default[:keypos], key, *default[keypos + 1 :]])
        elements = list(row)
        results: list[int] = []
        for pos, incr, threshold, set_value in operations:
            if pos == keypos or not 0 <= pos < len(elements):
                raise TableError(
                    f"table {self._label()}: update_counter: position {pos} of {row!r} is "
                    + ("the key" if pos == keypos else "out of range")
                )
            value = elements[pos]
            if not _is_int(value):
                raise TableError(
                    f"table {self._label()}: update_counter: element {pos} of {row!r} is not an int"
                )
            value += incr
            if threshold is not None and (
                (incr >= 0 and value > threshold) or (incr < 0 and value < threshold)
            ):
                value = set_value
            elements[pos] = value
            results.append(value)
        try:
            self._put(key, _rebuild(row, elements))
        except TypeError:  # a new key an ordered_set cannot order
            raise self._bad_row("update_counter", row) from None
        return results[0] if single else results

    def _counter_ops(self, op: Any) -> tuple[list[tuple[int, int, int | None, int]], bool]:
        """Parse ``incr | (pos, incr) | (pos, incr, threshold, set_value) | [tuples]``."""
        if _is_int(op):
            return [(self._keypos + 1, op, None, 0)], True
        single = isinstance(op, tuple)
        parsed: list[tuple[int, int, int | None, int]] = []
        for item in [op] if single else op if isinstance(op, list) else [None]:
            if isinstance(item, tuple) and len(item) in (2, 4) and all(map(_is_int, item)):
                if len(item) == 2:
                    parsed.append((item[0], item[1], None, 0))
                else:
                    parsed.append((item[0], item[1], item[2], item[3]))
                continue
            raise TableError(
                f"table {self._label()}: update_counter: an op is incr, (pos, incr) or "
                f"(pos, incr, threshold, set_value) of ints, or a list of those tuples; not {op!r}"
            )
        return parsed, single

    def update_element(
        self, key: Any, changes: tuple[int, Any] | list[tuple[int, Any]], default: Row | None = None
    ) -> bool:
        self._check_write("update_element")
        items = [changes] if isinstance(changes, tuple) else changes
        if not isinstance(items, list) or not all(
            isinstance(c, tuple) and len(c) == 2 and _is_int(c[0]) for c in items
        ):
            raise TableError(
                f"table {self._label()}: update_element takes (pos, value) or a list of them, not {changes!r}"
            )
        keypos = self._keypos
        if default is not None and (not isinstance(default, tuple) or len(default) <= keypos):
            raise self._bad_row("update_element (default)", default)
        try:
            row = self._rows.get(key)
        except TypeError:
            if default is None:
                return False
            raise self._bad_row("update_element (default)", default) from None
        if row is None:
            if default is None:
                return False
            row = _rebuild(default, [*default[:keypos], key, *default[keypos + 1 :]])
        elements = list(row)
        for pos, value in items:
            if pos == self._keypos or not 0 <= pos < len(elements):
                raise TableError(
                    f"table {self._label()}: update_element: position {pos} of {row!r} is "
                    + ("the key" if pos == self._keypos else "out of range")
                )
            elements[pos] = value
        try:
            self._put(key, _rebuild(row, elements))
        except TypeError:  # a new key an ordered_set cannot order
            raise self._bad_row("update_element", row) from None
        return True

    # --- reads ------------------------------------------------------------------------------------

    # lookup and get: the C base's, one dict read with no Python frame.
    lookup = TableCore._set_lookup
    get = TableCore._set_get

    def _get_call(self, key: Any, default: Any = None) -> Any:
        """get with ``default=`` named: the C base passes such calls here."""
        try:
            return self._rows.get(key, default)
        except TypeError:
            return default

    def getter(self) -> Callable[..., Any]:
        return self._rows.get

    def member(self, key: Any) -> bool:
        try:
            return key in self._rows
        except TypeError:
            return False

    def lookup_element(self, key: Any, pos: int, default: Any = MISSING) -> Any:
        try:
            row = self._rows.get(key)
        except TypeError:
            row = None
        if row is None:
            if default is MISSING:
                raise TableError(f"table {self._label()}: lookup_element: no row with key {key!r}")
            return default
        if not _is_int(pos) or not 0 <= pos < len(row):
            raise TableError(
                f"table {self._label()}: lookup_element: position {pos!r} of {row!r} is out of range"
            )
        return row[pos]

    def tab2list(self) -> list[Row]:
        return list(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)


class _OrderedCursor:
    """Resumes an ordered_set walk after the last key seen, by bisection."""

    __slots__ = ("_after", "_exhausted", "_started", "_table")

    def __init__(self, table: OrderedSetTable) -> None:
        self._table = table
        self._after: Any = None
        self._started = False
        self._exhausted = False

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def batch(self, size: int) -> list[Row]:
        keys = self._table._keys
        assert keys is not None
        ahead = keys.irange(self._after, None, (False, True)) if self._started else iter(keys)
        chosen = list(islice(ahead, size + 1))  # one more, to know whether this is the end
        if len(chosen) <= size:
            self._exhausted = True
        else:
            del chosen[size]
        if chosen:
            self._after = chosen[-1]
            self._started = True
        rows = self._table._rows
        return [rows[key] for key in chosen]


class OrderedSetTable(SetTable):
    """``TableType.ORDERED_SET``: the set's dict plus a ``SortedList`` of its keys."""

    __slots__ = ()

    _keys: SortedList

    def _init_store(self) -> None:
        self._keys = SortedList()

    def _put(self, key: Any, row: Row) -> None:
        rows = self._rows
        if key not in rows:
            self._index(key)  # may raise: nothing is stored then
        rows[key] = row

    def _index(self, key: Any) -> None:
        """Add a new key to the sorted keys, or raise (``TypeError`` for a key the others cannot be
        compared with, ``TableError`` for a key that cannot be ordered at all) and add nothing."""
        if key != key:  # NaN: bisection could insert it but never find it again
            raise TableError(
                f"table {self._label()}: an ordered_set cannot hold {key!r}: it is not equal to itself"
            )
        try:
            self._keys.add(key)
        except TypeError:
            raise
        except Exception as error:  # e.g. decimal.InvalidOperation from a signalling comparison
            raise TableError(f"table {self._label()}: cannot order the key {key!r}: {error!r}") from None

    def _put_many(self, pairs: list[tuple[Any, Row]]) -> None:
        # Index the new keys first (the only step that can fail: incomparable keys) and undo that
        # on failure, so a list insert stays all-or-nothing. Then the dict writes cannot fail.
        rows, keys = self._rows, self._keys
        fresh: dict[Any, None] = {}
        try:
            for key, _ in pairs:
                if key not in rows and key not in fresh:
                    self._index(key)
                    fresh[key] = None
        except BaseException as error:
            for added in fresh:
                keys.remove(added)
            if isinstance(error, TypeError):
                raise TableError(
                    f"table {self._label()}: an ordered_set needs keys comparable with each other; "
                    f"cannot order {key!r}"
                ) from None
            raise
        for key, row in pairs:
            rows[key] = row

    def _drop(self, key: Any) -> Row | None:
        # The sorted keys first: if a key cannot be found there, nothing has changed yet.
        rows = self._rows
        if key not in rows:
            return None
        self._keys.remove(key)
        row: Row = rows.pop(key)
        return row

    def _scan(self) -> Iterable[Row]:
        return map(self._rows.__getitem__, self._keys)

    def _cursor(self) -> _OrderedCursor:
        return _OrderedCursor(self)

    def _copy_store(self, clone: Table) -> None:
        clone._rows = self._rows.copy()
        clone._keys = SortedList(self._keys)

    def insert(self, rows: Row | list[Row], /) -> None:
        try:  # unconditional, as in SetTable.insert (PublicOrderedSetTable has no check)
            if RUNNING_TASKS[self._loop] is not self._owner_task:
                self._deny("insert")
        except KeyError:
            self._deny("insert")
        self._insert_unchecked(rows)

    def _clear(self) -> None:
        self._rows.clear()
        self._keys.clear()

    def tab2list(self) -> list[Row]:
        return list(map(self._rows.__getitem__, self._keys))

    # --- order ------------------------------------------------------------------------------------

    def first(self) -> Any:
        keys = self._keys
        return keys[0] if keys else END_OF_TABLE

    def last(self) -> Any:
        keys = self._keys
        return keys[-1] if keys else END_OF_TABLE

    def next(self, key: Any) -> Any:
        keys = self._keys
        index = self._bisect(keys.bisect_right, key, "next")
        return keys[index] if index < len(keys) else END_OF_TABLE

    def prev(self, key: Any) -> Any:
        keys = self._keys
        index = self._bisect(keys.bisect_left, key, "prev") - 1
        return keys[index] if index >= 0 else END_OF_TABLE

    def _bisect(self, bisect: Any, key: Any, operation: str) -> int:
        try:
            return bisect(key)  # type: ignore[no-any-return]
        except TypeError:
            raise TableError(
                f"table {self._label()}: {operation}: {key!r} is not comparable with the keys"
            ) from None

    def range(
        self,
        low: Any = None,
        high: Any = None,
        *,
        inclusive: tuple[bool, bool] = (True, True),
        reverse: bool = False,
    ) -> list[Row]:
        rows = self._rows
        try:
            return [rows[key] for key in self._keys.irange(low, high, inclusive, reverse)]
        except TypeError:
            raise TableError(
                f"table {self._label()}: range: {low!r}..{high!r} is not comparable with the keys"
            ) from None


# --- public tables --------------------------------------------------------------------------------
#
# The classes of public sets and ordered_sets: the hot writes without the owner check (the C base's
# public variants for a set; for an ordered_set, a Python insert that repeats a few lines of
# OrderedSetTable.insert rather than call shared code, because a call costs as much as the write
# itself). The other writes check ``_write_check`` (False on a public table) through
# ``Table._check_write``.


class PublicSetTable(SetTable):
    """A public ``TableType.SET``: anyone writes, so ``insert`` and ``update_counter`` check nothing."""

    __slots__ = ()

    insert = TableCore._set_insert_public
    update_counter = TableCore._set_update_counter_public

    def _update_counter_call(self, key: Any, op: Any, default: Row | None = None) -> Any:
        return self._update_counter(key, op, default)


class PublicOrderedSetTable(OrderedSetTable):
    """A public ``TableType.ORDERED_SET``: ``insert`` and ``update_counter`` check nothing."""

    __slots__ = ()

    insert = SetTable._insert_unchecked  # the store goes through the ordered_set's _put
    update_counter = TableCore._set_update_counter_public
    _update_counter_call = PublicSetTable._update_counter_call


register(TableType.SET, Access.PROTECTED, SetTable)
register(TableType.SET, Access.PRIVATE, private_variant(SetTable))
register(TableType.SET, Access.PUBLIC, PublicSetTable)
register(TableType.ORDERED_SET, Access.PROTECTED, OrderedSetTable)
register(TableType.ORDERED_SET, Access.PRIVATE, private_variant(OrderedSetTable))
register(TableType.ORDERED_SET, Access.PUBLIC, PublicOrderedSetTable)
