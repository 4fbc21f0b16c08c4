"""The pure-Python twin of ``supervisor._speedups``: ``TableCore`` and ``GuardedGetter``.

The C extension (supervisor/_speedups.c) runs only the common case of each hot table operation and
hands every other case back to the table's Python methods by name (``CALLBACKS``). This module does
exactly the same in Python, so both paths share every error message and every uncommon case. It is
used on interpreters other than CPython, and on CPython when ``ARBORD_NO_EXTENSIONS=1`` is set
(``supervisor.tables._core`` chooses); ``make test`` runs the table, registry and cache suites on
both. It is slower (a Python frame per operation), never different.

>>> rows = {"a": ("a", 1)}
>>> GuardedGetter(rows.get, lambda n: n > 1, 1)("a"), GuardedGetter(rows.get, lambda n: n > 0, 1)("a")
(('a', 1), None)
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

from supervisor.tables._running import RUNNING_TASKS

if TYPE_CHECKING:
    from supervisor._speedups import _TableCallbacks

__all__ = ["CALLBACKS", "GuardedGetter", "TableCore"]

CALLBACKS: Final = ("_deny", "_get_call", "_insert_unchecked", "_update_counter", "_update_counter_call")
"""The table methods the core calls back by name (the C module's ``CALLBACKS``)."""


def _callbacks(core: TableCore) -> _TableCallbacks:
    return core  # type: ignore[return-value]  # every concrete table class defines them (tested)


class TableCore:
    """The part of a ``Table`` the C extension implements: its store, owner and hot operations."""

    __slots__ = ("_keypos", "_loop", "_owner_task", "_rows")

    _rows: dict[Any, Any]
    _loop: asyncio.AbstractEventLoop
    _owner_task: object
    _keypos: int

    def _caller_is_owner(self) -> bool:
        """Whether the task running on the owner's loop is the owner."""
        loop = getattr(self, "_loop", None)
        if loop is None:
            return False
        return RUNNING_TASKS.get(loop) is getattr(self, "_owner_task", None)

    # --- set reads --------------------------------------------------------------------------------

    def _set_lookup(self, key: Any, /) -> list[tuple[Any, ...]]:
        try:
            row = self._rows.get(key)
        except TypeError:  # an unhashable key: in no table
            return []
        return [] if row is None else [row]

    def _set_get(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or not 1 <= len(args) <= 2:  # `default=` by name, or a wrong call
            return _callbacks(self)._get_call(*args, **kwargs)
        try:
            row = self._rows.get(args[0])
        except TypeError:
            row = None
        if row is None:
            return args[1] if len(args) == 2 else None
        return row

    # --- set writes -------------------------------------------------------------------------------

    def _set_insert(self, rows: Any, /) -> None:
        if not self._caller_is_owner():
            _callbacks(self)._deny("insert")
        self._set_insert_public(rows)

    def _set_insert_public(self, rows: Any, /) -> None:
        store = self._rows
        if type(rows) is tuple and self._keypos < len(rows):
            try:
                store[rows[self._keypos]] = rows
                return
            except TypeError:  # an unhashable key: the Python path words the error
                pass
        _callbacks(self)._insert_unchecked(rows)

    def _set_update_counter(self, *args: Any, **kwargs: Any) -> Any:
        return self._update_counter_core(args, kwargs, checked=True)

    def _set_update_counter_public(self, *args: Any, **kwargs: Any) -> Any:
        return self._update_counter_core(args, kwargs, checked=False)

    def _update_counter_core(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, checked: bool) -> Any:
        callbacks = _callbacks(self)
        if kwargs or not 2 <= len(args) <= 3:  # `default=` by name, or a wrong call
            return callbacks._update_counter_call(*args, **kwargs)
        if checked and not self._caller_is_owner():
            callbacks._deny("update_counter")
        store = self._rows
        key, op = args[0], args[1]
        if type(op) is int and self._keypos == 0:
            try:
                row = store.get(key)
            except TypeError:
                row = None
            if type(row) is tuple and len(row) == 2 and type(row[1]) is int:
                total = row[1] + op
                store[key] = (row[0], total)
                return total
        return callbacks._update_counter(key, op, args[2] if len(args) == 3 else None)


@final
class GuardedGetter:
    """``GuardedGetter(get, reject, position, on_reject=None)``: called with a key, ``get(key)``,
    unless that is None or ``reject(row[position])`` is true; then ``on_reject(key)`` is called and
    the answer is None."""

    __slots__ = ("_get", "_on_reject", "_position", "_reject")

    def __init__(
        self,
        get: Callable[[Any], Any],
        reject: Callable[[Any], object],
        position: int,
        on_reject: Callable[[Any], object] | None = None,
    ) -> None:
        position = operator.index(position)
        if position < 0:
            raise ValueError(f"position is an index >= 0, not {position}")
        if not callable(get) or not callable(reject) or (on_reject is not None and not callable(on_reject)):
            raise TypeError("get, reject and on_reject (unless None) are callables")
        self._get = get
        self._reject = reject
        self._position = position
        self._on_reject = on_reject

    @property
    def position(self) -> int:
        """The element given to reject."""
        return self._position

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) != 1 or kwargs:
            raise TypeError("a guarded getter takes exactly one argument: the key")
        key = args[0]
        row = self._get(key)
        if row is not None and not self._reject(row[self._position]):
            return row
        if self._on_reject is not None:
            self._on_reject(key)
        return None
