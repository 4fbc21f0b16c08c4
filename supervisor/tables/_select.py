"""How a table runs a query: which rows to look at, checked replacements, and chunked walks.

A query looks at the rows of its bound keys when every clause fixes the key (a lookup), and at every
row otherwise (a scan, in key order for an ordered_set). A chunked walk keeps a *cursor*: a list of
keys fixed when the walk started (hash tables, bound keys), or the last key seen (ordered_set, in
``_set``), plus the results computed past the last chunk's limit.

>>> import asyncio
>>> from supervisor.tables import Table, Var
>>> async def demo() -> list[object]:
...     table = Table()
...     table.insert([(n, n % 3) for n in range(7)])
...     chunks, (chunk, more) = [], table.select_chunk((Var("n"), 0), 2, result=Var("n"))
...     while more is not None:
...         chunks.append(chunk)
...         chunk, more = table.select_continue(more)
...     return [*chunks, chunk]
>>> asyncio.run(demo())
[[0, 3], [6]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from supervisor.errors import TableError
from supervisor.tables._query import WHOLE, MatchSpec
from supervisor.tables._vocabulary import Row

if TYPE_CHECKING:
    from supervisor.tables._base import Table

__all__ = [
    "Continuation",
    "Cursor",
    "KeysCursor",
    "first_chunk",
    "next_chunk",
    "replacements",
    "source",
]


def source(table: Table, spec: MatchSpec) -> Iterable[Row]:
    """The rows a query must look at: the rows of the bound keys, or every row."""
    keys = _bound_keys(table, spec)
    if keys is None:
        return table._scan()
    if len(keys) == 1:
        return table._rows_of(keys[0])
    return [row for key in keys for row in table._rows_of(key)]


def _bound_keys(table: Table, spec: MatchSpec) -> list[object] | None:
    """The keys the spec fixes (None: a scan), in key order for an ordered_set."""
    keys = spec.bound_keys(table._keypos)
    if keys is not None and len(keys) > 1 and table._keys is not None:
        try:
            keys.sort()
        except TypeError:
            pass
    return keys


def matches_true(table: Table, spec: MatchSpec) -> list[Row]:
    """The rows ``select_count`` and ``select_delete`` count: every matching row when each clause
    keeps the default result (the row), else those whose clause's result is exactly ``True``
    (ETS: only a match spec returning ``true`` counts or deletes)."""
    rows = source(table, spec)
    if all(clause.result is WHOLE for clause in spec.clauses):
        return spec.compiled.rows(rows)
    return [row for row, result in spec.compiled.pairs(rows) if result is True]


def replacements(table: Table, spec: MatchSpec) -> list[tuple[Row, Row]]:
    """``(old, new)`` for every match, each new row checked to be a row with the old key."""
    pairs = spec.compiled.pairs(source(table, spec))
    keypos = table._keypos
    for old, new in pairs:
        if not isinstance(new, tuple) or len(new) <= keypos:
            raise TableError(
                f"table {table._label()}: select_replace: the result {new!r} for {old!r} is not a row"
            )
        if new[keypos] != old[keypos]:
            raise TableError(f"table {table._label()}: select_replace must keep the key: {old!r} -> {new!r}")
    return pairs


class Cursor(Protocol):
    """Where a chunked select resumes: hands out the next rows, a few keys at a time."""

    @property
    def exhausted(self) -> bool: ...

    def batch(self, size: int) -> list[Row]: ...


class KeysCursor:
    """A cursor over a list of keys fixed when the walk started (hash tables, bound-key queries).

    Each key's rows are read when its batch is reached: a row deleted before then is skipped, a row
    inserted after the walk started under a new key is not seen.
    """

    __slots__ = ("_fetch", "_index", "_keys")

    def __init__(self, keys: list[Any], fetch: Callable[[Any], list[Row]]) -> None:
        self._keys = keys
        self._fetch = fetch
        self._index = 0

    @property
    def exhausted(self) -> bool:
        return self._index >= len(self._keys)

    def batch(self, size: int) -> list[Row]:
        start = self._index
        self._index = start + size
        fetch = self._fetch
        out: list[Row] = []
        for key in self._keys[start : start + size]:
            out += fetch(key)
        return out


class Continuation:
    """Where ``select_chunk`` stopped; pass it to ``table.select_continue`` for the next chunk."""

    __slots__ = ("_cursor", "_limit", "_pending", "_spec", "_table")

    def __init__(self, table: Table, spec: MatchSpec, limit: int, cursor: Cursor, pending: list[Any]) -> None:
        self._table = table
        self._spec = spec
        self._limit = limit
        self._cursor = cursor
        self._pending = pending

    def __repr__(self) -> str:
        return f"<Continuation of {self._table!r} limit={self._limit}>"


def first_chunk(table: Table, spec: MatchSpec, limit: int) -> tuple[list[Any], Continuation | None]:
    """``table.select_chunk``: the first chunk and its continuation."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise TableError(f"select_chunk: limit is an int >= 1, not {limit!r}")
    keys = _bound_keys(table, spec)
    cursor = table._cursor() if keys is None else KeysCursor(keys, table._rows_of)
    return _chunk(table, spec, limit, cursor, [])


def next_chunk(table: Table, continuation: Continuation) -> tuple[list[Any], Continuation | None]:
    """``table.select_continue``: the chunk after ``continuation``."""
    if continuation._table is not table:
        raise TableError(f"{continuation!r} belongs to another table than {table!r}")
    return _chunk(table, continuation._spec, continuation._limit, continuation._cursor, continuation._pending)


def _chunk(
    table: Table, spec: MatchSpec, limit: int, cursor: Cursor, pending: list[Any]
) -> tuple[list[Any], Continuation | None]:
    # Batches never hold more candidate rows than the results still missing, so a chunk is
    # computed from rows scanned once; a bag key can still overshoot: the rest waits as pending.
    select = spec.compiled.select
    results = pending
    while len(results) < limit and not cursor.exhausted:
        results += select(cursor.batch(limit - len(results)))
    chunk, rest = results[:limit], results[limit:]
    if not rest and cursor.exhausted:
        return chunk, None
    return chunk, Continuation(table, spec, limit, cursor, rest)
