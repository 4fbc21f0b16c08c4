"""Types of the C extension ``supervisor._speedups`` (supervisor/_speedups.c).

Its pure-Python twin is ``supervisor.tables._pycore``; ``supervisor.tables._core`` picks one.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, Protocol, Self, final

from typing_extensions import disjoint_base

CALLBACKS: Final[tuple[str, ...]]
"""The names of ``_TableCallbacks``' methods: what the C code calls back on a table, by name."""

def use_running_tasks(mapping: Mapping[asyncio.AbstractEventLoop, asyncio.Task[Any]], /) -> None: ...

class _TableCallbacks(Protocol):
    """The table methods ``TableCore`` calls by name: the uncommon cases it hands back to Python.

    Every concrete table class whose operations are ``TableCore``'s defines them all
    (tests/supervisor/test_table_speedups.py); ``CALLBACKS`` lists the same names at run time.
    """

    def _deny(self, operation: str, *, owner_only: bool = False) -> NoReturn: ...
    def _get_call(self, key: Any, default: Any = None) -> Any: ...
    def _insert_unchecked(self, rows: tuple[Any, ...] | list[tuple[Any, ...]], /) -> None: ...
    def _update_counter(self, key: Any, op: Any, default: tuple[Any, ...] | None) -> Any: ...
    def _update_counter_call(self, key: Any, op: Any, default: tuple[Any, ...] | None = None) -> Any: ...

@disjoint_base
class TableCore:
    """The part of a ``Table`` the C extension implements: its store, owner and hot operations."""

    _rows: dict[Any, Any]
    _loop: asyncio.AbstractEventLoop
    _owner_task: object
    _keypos: int
    def _set_lookup(self, key: Any, /) -> list[tuple[Any, ...]]: ...
    def _set_get(self, key: Any, default: Any = None) -> Any: ...
    def _set_insert(self, rows: tuple[Any, ...] | list[tuple[Any, ...]], /) -> None: ...
    def _set_insert_public(self, rows: tuple[Any, ...] | list[tuple[Any, ...]], /) -> None: ...
    def _set_update_counter(self, key: Any, op: Any, default: tuple[Any, ...] | None = None) -> Any: ...
    def _set_update_counter_public(
        self, key: Any, op: Any, default: tuple[Any, ...] | None = None
    ) -> Any: ...
    def _caller_is_owner(self) -> bool: ...

@final
class GuardedGetter:
    """``GuardedGetter(get, reject, position, on_reject=None)``: called with a key, ``get(key)``,
    unless that is None or ``reject(row[position])`` is true (then ``on_reject(key)``, and None)."""

    @property
    def position(self) -> int: ...
    def __new__(
        cls,
        get: Callable[[Any], Any],
        reject: Callable[[Any], object],
        position: int,
        on_reject: Callable[[Any], object] | None = None,
    ) -> Self: ...
    def __call__(self, key: Any, /) -> Any: ...
