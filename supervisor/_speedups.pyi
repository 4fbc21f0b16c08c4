"""Types of the C extension ``supervisor._speedups`` (supervisor/_speedups.c)."""

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Self, final

from typing_extensions import disjoint_base

def use_running_tasks(mapping: Mapping[asyncio.AbstractEventLoop, asyncio.Task[Any]], /) -> None: ...

@disjoint_base
class TableCore:
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
