"""The bag and duplicate_bag tables: many rows per key, in a dict ``key -> list of rows``.

Rows under one key keep their insertion order. A bag holds no two equal rows (inserting a row equal
to one it has does nothing); a duplicate_bag keeps every copy. The row count is kept up to date so
``len`` is O(1), as ETS's ``info(T, size)``.

>>> import asyncio
>>> from supervisor.tables import Table, TableType
>>> async def demo() -> list[object]:
...     tags = Table(type=TableType.BAG)
...     tags.insert([("post1", "python"), ("post1", "asyncio"), ("post1", "python")])
...     copies = Table(type=TableType.DUPLICATE_BAG)
...     copies.insert([("post1", "python"), ("post1", "python")])
...     return [tags.lookup("post1"), len(copies), copies.lookup_element("post1", 1)]
>>> asyncio.run(demo())
[[('post1', 'python'), ('post1', 'asyncio')], 2, ['python', 'python']]
"""

from __future__ import annotations

import gc
import itertools
import sys
from collections.abc import Iterable
from typing import Any

from supervisor.errors import TableError
from supervisor.tables._base import Table
from supervisor.tables._private import private_variant
from supervisor.tables._registry import register
from supervisor.tables._vocabulary import MISSING, Access, Row, TableType

__all__ = ["BagTable", "DuplicateBagTable"]


def _unique(rows: list[Row]) -> list[Row]:
    """``rows`` without later rows equal to earlier ones, in order."""
    kept: list[Row] = []
    for row in rows:
        if row not in kept:
            kept.append(row)
    return kept


class BagTable(Table):
    """``TableType.BAG``: a dict ``key -> [rows]`` with no two equal rows under a key."""

    __slots__ = ()

    _rows: dict[Any, list[Row]]

    def _add(self, key: Any, row: Row) -> None:
        existing = self._rows.get(key)
        if existing is None:
            self._rows[key] = [row]
            self._count += 1
        elif row not in existing:
            existing.append(row)
            self._count += 1

    def _merge(self, rows: list[Row], row: Row) -> list[Row]:
        return rows if row in rows else [*rows, row]

    def _dedupe(self, rows: list[Row]) -> list[Row]:
        return _unique(rows)

    # --- store hooks ------------------------------------------------------------------------------

    def _scan(self) -> Iterable[Row]:
        return itertools.chain.from_iterable(self._rows.values())

    def _rows_of(self, key: Any) -> list[Row]:
        try:
            rows = self._rows.get(key)
        except TypeError:
            return []
        return [] if rows is None else list(rows)

    def _drop(self, key: Any) -> list[Row] | None:
        rows = self._rows.pop(key, None)
        if rows is not None:
            self._count -= len(rows)
        return rows

    def _remove_rows(self, rows: list[Row]) -> None:
        # The matched rows themselves, by identity: list.remove would take the first *equal* row,
        # and in a duplicate_bag (1, 1.0, True) are equal rows that a guard can tell apart.
        store, keypos = self._rows, self._keypos
        by_key: dict[Any, set[int]] = {}
        for row in rows:
            by_key.setdefault(row[keypos], set()).add(id(row))
        for key, doomed in by_key.items():
            existing = store[key]
            kept = [row for row in existing if id(row) not in doomed]
            self._count -= len(existing) - len(kept)
            if kept:
                store[key] = kept
            else:
                del store[key]

    def _replace_rows(self, pairs: list[tuple[Row, Row]]) -> None:
        store, keypos = self._rows, self._keypos
        by_key: dict[Any, dict[int, Row]] = {}
        for old, new in pairs:
            by_key.setdefault(old[keypos], {})[id(old)] = new
        for key, replacements in by_key.items():
            old_rows = store[key]
            new_rows = self._dedupe([replacements.get(id(row), row) for row in old_rows])
            store[key] = new_rows
            self._count += len(new_rows) - len(old_rows)

    def _set_state(self, key: Any, rows: list[Row]) -> None:
        self._drop(key)
        if rows:
            self._rows[key] = list(rows)
            self._count += len(rows)

    def _clear(self) -> None:
        self._rows.clear()
        self._count = 0

    def _copy_store(self, clone: Table) -> None:
        # One new list per key: with the cyclic GC on, a million new lists trigger collections
        # that walk them all, 8x the cost of the copy itself. Nothing else runs meanwhile.
        collecting = gc.isenabled()
        gc.disable()
        try:
            rows = self._rows
            clone._rows = dict(zip(rows, map(list.copy, rows.values()), strict=True))
        finally:
            if collecting:
                gc.enable()
        clone._count = self._count

    def _memory(self) -> int:
        lists = list(itertools.islice(self._rows.values(), 64))
        per_list = sum(sys.getsizeof(rows) for rows in lists) // len(lists) if lists else 0
        return super()._memory() + per_list * len(self._rows)

    # --- writes -----------------------------------------------------------------------------------

    def insert(self, rows: Row | list[Row], /) -> None:
        self._check_write("insert")
        for key, row in self._validated(rows, "insert"):
            self._add(key, row)

    def insert_new(self, rows: Row | list[Row]) -> bool:
        self._check_write("insert_new")
        pairs = self._validated(rows, "insert_new")
        store = self._rows
        if any(key in store for key, _ in pairs):
            return False
        for key, row in pairs:
            self._add(key, row)
        return True

    def take(self, key: Any) -> list[Row]:
        self._check_write("take")
        try:
            rows = self._drop(key)
        except TypeError:
            return []
        return [] if rows is None else rows

    def delete_object(self, row: Row) -> None:
        self._check_write("delete_object")
        if not isinstance(row, tuple) or len(row) <= self._keypos:
            raise self._bad_row("delete_object", row)
        try:
            existing = self._rows.get(row[self._keypos])
        except TypeError:
            return
        if existing is not None and row in existing:
            self._set_state(row[self._keypos], [r for r in existing if r != row])

    # --- reads ------------------------------------------------------------------------------------

    def lookup(self, key: Any, /) -> list[Row]:
        return self._rows_of(key)

    def member(self, key: Any) -> bool:
        try:
            return key in self._rows
        except TypeError:
            return False

    def lookup_element(self, key: Any, pos: int, default: Any = MISSING) -> Any:
        rows = self._rows_of(key)
        if not rows:
            if default is MISSING:
                raise TableError(f"table {self._label()}: lookup_element: no row with key {key!r}")
            return default
        if type(pos) is not int or not all(0 <= pos < len(row) for row in rows):
            raise TableError(
                f"table {self._label()}: lookup_element: position {pos!r} is out of range "
                f"for a row under {key!r}"
            )
        return [row[pos] for row in rows]

    def tab2list(self) -> list[Row]:
        return list(itertools.chain.from_iterable(self._rows.values()))

    def __len__(self) -> int:
        return self._count


class DuplicateBagTable(BagTable):
    """``TableType.DUPLICATE_BAG``: like a bag, but equal rows are all kept."""

    __slots__ = ()

    def _add(self, key: Any, row: Row) -> None:
        existing = self._rows.get(key)
        if existing is None:
            self._rows[key] = [row]
        else:
            existing.append(row)
        self._count += 1

    def _merge(self, rows: list[Row], row: Row) -> list[Row]:
        return [*rows, row]

    def _dedupe(self, rows: list[Row]) -> list[Row]:
        return rows


# A public bag is the protected class: its writes test ``_write_check`` (False when public).
register(TableType.BAG, Access.PROTECTED, BagTable)
register(TableType.BAG, Access.PRIVATE, private_variant(BagTable))
register(TableType.BAG, Access.PUBLIC, BagTable)
register(TableType.DUPLICATE_BAG, Access.PROTECTED, DuplicateBagTable)
register(TableType.DUPLICATE_BAG, Access.PRIVATE, private_variant(DuplicateBagTable))
register(TableType.DUPLICATE_BAG, Access.PUBLIC, DuplicateBagTable)
