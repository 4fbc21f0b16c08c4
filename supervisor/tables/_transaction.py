"""Transactions: multi-step table updates that may await in the middle, applied all at once.

``async with table.transaction() as tx:`` stages inserts and deletes in ``tx``; reads through ``tx``
see the staged view. The body may await (persist, then apply). When the block ends normally every
staged change is applied in one synchronous step, so no reader ever sees part of it; when it raises
(or is cancelled) the changes are dropped and the table is untouched.

>>> import asyncio
>>> from supervisor.tables import Table
>>> async def demo() -> list[object]:
...     accounts = Table()
...     accounts.insert([("alice", 10), ("bob", 0)])
...     async with accounts.transaction() as tx:
...         tx.insert([("alice", 5), ("bob", 5)])
...         await asyncio.sleep(0)                  # e.g. write the transfer to disk
...         during = accounts.lookup("alice")       # readers still see the old rows
...     try:
...         async with accounts.transaction() as tx:
...             tx.delete("alice")
...             raise RuntimeError("disk full")
...     except RuntimeError:
...         pass
...     return [during, accounts.tab2list()]
>>> asyncio.run(demo())
[[('alice', 10)], [('alice', 5), ('bob', 5)]]

``table.snapshot()`` (``Table._readonly_clone``) is the reader's side: a consistent copy to walk while
awaiting, for instance to stream a dump over the control socket.

Isolation, stated exactly:

- Transactions on one table run one at a time: a per-table ``asyncio.Lock`` is held from the start
  of the block to its end (a mutual exclusion, not a read/write lock: readers never take a lock).
  ``timeout`` bounds the wait for it, with ``asyncio.timeout`` (never ``wait_for``, which on 3.11
  would take the lock in another task). A nested transaction on the same table raises.
- Plain single operations never wait for the lock. On a protected or private table only the owner
  writes, and it is busy inside the transaction, so nothing else can write. On a public table
  another task's plain write can land while a transaction awaits; the commit then sets each key the
  transaction touched to the transaction's view, overwriting that write for those keys only.
- Reads through ``tx`` see the table as it is at the moment of the read, plus the staged changes.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any

from supervisor.errors import TableError, TableGone
from supervisor.tables._vocabulary import Row, TableType

if TYPE_CHECKING:
    from supervisor.tables._base import Table

__all__ = ["Transaction"]


class Transaction:
    """The staged changes of one ``table.transaction()`` block; see the module docstring."""

    __slots__ = ("_cleared", "_open", "_overlay", "_table", "_timeout")

    def __init__(self, table: Table, timeout: float | None) -> None:
        self._table = table
        self._timeout = timeout
        self._overlay: dict[Any, list[Row]] = {}  # key -> its rows after the staged changes
        self._cleared = False
        self._open = False

    @property
    def table(self) -> Table:
        """The table this transaction changes."""
        return self._table

    # --- the block --------------------------------------------------------------------------------

    async def __aenter__(self) -> Transaction:
        table = self._table
        self._check_usable("transaction")
        task = asyncio.current_task()
        if table._tx_task is not None and table._tx_task is task:
            raise TableError(
                f"table {table._label()}: a transaction is already open in this task; "
                "nesting would deadlock (stage everything in the outer one)"
            )
        lock = table._tx_lock
        if lock is None:
            lock = table._tx_lock = asyncio.Lock()
        try:
            async with asyncio.timeout(self._timeout):
                await lock.acquire()
        except TimeoutError:
            raise TimeoutError(
                f"table {table._label()}: another transaction held it for more than {self._timeout} s"
            ) from None
        table._tx_task = task
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        table = self._table
        try:
            if exc_type is None:
                self._commit()
        finally:
            self._open = False
            self._overlay = {}
            self._cleared = False
            table._tx_task = None
            if table._tx_lock is not None:
                table._tx_lock.release()

    def _check_usable(self, operation: str) -> None:
        table = self._table
        if table.deleted:
            raise TableGone(f"table {table._label()} is gone ({table._gone_reason}): {operation}")
        table._check_write(operation)

    def _commit(self) -> None:
        """Apply every staged change in one synchronous step (restoring the table on failure)."""
        self._check_usable("transaction commit")
        table, overlay = self._table, self._overlay
        saved = {key: table._state(key) for key in overlay}
        everything = {key: table._state(key) for key in list(table._rows)} if self._cleared else {}
        try:
            if self._cleared:
                table._clear()
            for key, rows in overlay.items():
                table._set_state(key, rows)
        except Exception as error:
            for key in overlay:
                table._set_state(key, [])
            for key, rows in (everything or saved).items():
                table._set_state(key, rows)
            raise TableError(
                f"table {table._label()}: the transaction could not be applied and was undone: {error!r}"
            ) from error

    # --- staging ----------------------------------------------------------------------------------

    def _current(self, key: Any) -> list[Row]:
        """The rows under ``key`` in the transaction's view (a list the caller must not change)."""
        if not self._open:
            raise TableError("the transaction is not open: use `async with table.transaction()`")
        table = self._table
        if table.deleted:  # the owner exited (or deleted it) while the transaction awaited
            raise TableGone(f"table {table._label()} is gone ({table._gone_reason}): transaction")
        try:
            staged = self._overlay.get(key)
        except TypeError:
            return []
        if staged is not None:
            return staged
        return [] if self._cleared else self._table._state(key)

    def insert(self, rows: Row | list[Row], /) -> None:
        """Stage ``table.insert(rows)``."""
        pairs = self._table._validated(rows, "insert")
        for key, row in pairs:
            self._overlay[key] = self._table._merge(self._current(key), row)

    def insert_new(self, rows: Row | list[Row]) -> bool:
        """Stage ``table.insert_new(rows)``: False (nothing staged) if a key is in the view."""
        pairs = self._table._validated(rows, "insert_new")
        if any(self._current(key) for key, _ in pairs):
            return False
        for key, row in pairs:
            self._overlay[key] = self._table._merge(self._current(key), row)
        return True

    def delete(self, key: Any) -> None:
        """Stage ``table.delete(key)``."""
        self._current(key)
        try:
            self._overlay[key] = []
        except TypeError:
            pass  # an unhashable key has no rows

    def delete_object(self, row: Row) -> None:
        """Stage ``table.delete_object(row)``."""
        ((key, row),) = self._table._validated(row, "delete_object")
        self._overlay[key] = [r for r in self._current(key) if r != row]

    def delete_all_objects(self) -> None:
        """Stage ``table.delete_all_objects()``."""
        self._current(None)
        self._overlay = {}
        self._cleared = True

    def lookup(self, key: Any, /) -> list[Row]:
        """``table.lookup(key)`` in the transaction's view."""
        return list(self._current(key))

    def member(self, key: Any) -> bool:
        """``table.member(key)`` in the transaction's view."""
        return bool(self._current(key))

    def get(self, key: Any, default: Any = None) -> Any:
        """``table.get(key, default)`` in the transaction's view (set and ordered_set)."""
        if self._table.type not in (TableType.SET, TableType.ORDERED_SET):
            self._table._unsupported("get", "a set or ordered_set (use lookup)")
        rows = self._current(key)
        return rows[-1] if rows else default
