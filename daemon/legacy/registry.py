"""The agent registry's legacy path: a module-global dict of entries. DELIBERATE HIDDEN STATE, kept
only so that the move to the supervised registry (``daemon.registry.Registry``, owned tables) can be
staged and rolled back (docs/migrations.md); nothing but ``daemon.registry.switched`` uses it.

This is what a registry looks like before it is migrated (Foundation's ``RegistryAny`` in its
process-dictionary mode, docs/otp-conformance.md#registry): a dict at module level, written by
whoever calls, with no server to own it, to survive a crash, or to order its writes. Each registry
name has its own book (``_BOOKS``), so two registries never see each other's keys.

It stores rows ``(key, owner, metadata, task)`` (``daemon.registry.Entry``) and knows only what a
dict knows: the checks, the errors and the telemetry of a registration are the switched interface's
(``daemon/registry/switched.py``), the same for both paths. The one thing it adds is what a
hidden-state design in Python uses instead of a monitor: a done-callback on each owner's task that
removes the owner's rows when it exits, and tells ``on_down``.

>>> import asyncio
>>> async def demo() -> list[object]:
...     owner = asyncio.create_task(asyncio.Event().wait())
...     put("doc", ("agent-1", owner, {}, owner), lambda owner, n: None)
...     found = live("doc", "agent-1")
...     owner.cancel()
...     await asyncio.gather(owner, return_exceptions=True)
...     return [found is not None and found[0], live("doc", "agent-1"), size("doc")]
>>> asyncio.run(demo())
['agent-1', None, 0]
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = ["OnDown", "Row", "books", "clear", "held", "live", "put", "remove", "replace", "rows", "size"]

Row = tuple[Any, Any, Any, "asyncio.Task[Any]"]
"""``(key, owner, metadata, task)``: ``task`` is the owner's task, whose end is the owner's exit."""
OnDown = Callable[[Any, int], None]
"""Told ``(owner, how many rows were removed)`` when an owner's exit removed its rows."""


class _Book:
    """One registry's rows and, per owner task, the keys it holds (for its done-callback)."""

    __slots__ = ("owners", "rows")

    def __init__(self) -> None:
        self.rows: dict[Hashable, Row] = {}
        self.owners: dict[asyncio.Task[Any], set[Hashable]] = {}


_BOOKS: dict[str, _Book] = {}
"""The hidden state itself: registry name → its book. Module-global on purpose (see above). A book
goes when its last row does, so an empty dict means nothing is kept here."""
books: Final[Mapping[str, object]] = MappingProxyType(_BOOKS)
"""A read-only view of the books: empty once the legacy path keeps nothing (the switch's first,
cheapest test on the hot path)."""


def held(name: str) -> bool:
    """Does registry ``name`` keep any row here? (The switch's cheap test before a second read.)"""
    book = _BOOKS.get(name)
    return book is not None and bool(book.rows)


def size(name: str) -> int:
    """How many rows registry ``name`` keeps here, live or not yet cleaned up."""
    book = _BOOKS.get(name)
    return 0 if book is None else len(book.rows)


def live(name: str, key: Hashable) -> Row | None:
    """The row under ``key`` while its owner runs, else None (an unhashable key is never stored)."""
    book = _BOOKS.get(name)
    if book is None:
        return None
    try:
        row = book.rows.get(key)
    except TypeError:
        return None
    return row if row is not None and not row[3].done() else None


def put(name: str, row: Row, on_down: OnDown) -> None:
    """Store ``row`` under its key (replacing what is there); when its owner's task ends, its rows
    are removed and ``on_down(owner, count)`` is told."""
    book = _BOOKS.get(name)
    if book is None:
        book = _BOOKS[name] = _Book()
    key, task = row[0], row[3]
    old = book.rows.get(key)
    if old is not None:
        _forget(book, old)
    book.rows[key] = row
    keys = book.owners.get(task)
    if keys is None:
        keys = book.owners[task] = set()
        task.add_done_callback(_cleanup(name, on_down))
    keys.add(key)


def _cleanup(name: str, on_down: OnDown) -> Callable[[asyncio.Task[Any]], None]:
    """The done-callback that removes an exited owner's rows (the legacy stand-in for a monitor)."""

    def owner_done(task: asyncio.Task[Any]) -> None:
        book = _BOOKS.get(name)
        keys = None if book is None else book.owners.pop(task, None)
        if book is None or not keys:
            return
        owner: Any = task
        for key in keys:
            row = book.rows.get(key)
            if row is not None and row[3] is task:
                owner = row[1]
                del book.rows[key]
        if not book.rows:
            del _BOOKS[name]
        on_down(owner, len(keys))

    return owner_done


def _forget(book: _Book, row: Row) -> None:
    if book.rows.get(row[0]) is row:
        del book.rows[row[0]]
    keys = book.owners.get(row[3])
    if keys is not None:
        keys.discard(row[0])
        if not keys:  # the owner holds nothing more here: its callback will find nothing
            del book.owners[row[3]]


def remove(name: str, key: Hashable, owner: Any = None) -> Row | None:
    """Remove the row under ``key`` (only if ``owner`` holds it, when given); the row, live or not."""
    book = _BOOKS.get(name)
    if book is None:
        return None
    try:
        row = book.rows.get(key)
    except TypeError:
        return None
    if row is None or (owner is not None and row[1] is not owner):
        return None
    _forget(book, row)
    if not book.rows:
        del _BOOKS[name]
    return row


def replace(name: str, row: Row) -> None:
    """Put ``row`` in place of the row of the same key and owner (new metadata)."""
    book = _BOOKS.get(name)
    if book is not None:
        book.rows[row[0]] = row


def rows(name: str) -> list[Row]:
    """Every row of registry ``name`` whose owner runs."""
    book = _BOOKS.get(name)
    return [] if book is None else [row for row in book.rows.values() if not row[3].done()]


def clear(name: str | None = None) -> None:
    """Forget registry ``name``'s rows (every registry's when None): for tests, and for a migration
    that is done."""
    if name is None:
        _BOOKS.clear()
    else:
        _BOOKS.pop(name, None)
