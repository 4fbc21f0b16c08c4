"""Private tables: a variant of each table class whose reads first check that the caller is the owner.

The read path of public and protected tables carries no access check at all (anyone may read
them). A **private** table is instead an instance of a variant, made here, whose read operations
first check that the caller is the owner; the writes check it already. The variants add no slots,
so an instance can still change class in place (to the class of a deleted table). The modules
that define table classes register each one's private variant (``_set``, ``_bag``).

>>> from supervisor.tables import Access, Table, TableType
>>> from supervisor.tables._registry import table_class
>>> table_class(TableType.BAG, Access.PRIVATE).__name__
'PrivateBagTable'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from supervisor.tables._running import RUNNING_TASKS

if TYPE_CHECKING:
    from supervisor.tables._base import Table

__all__ = ["READ_OPERATIONS", "private_variant"]

READ_OPERATIONS: Final = (
    "__contains__",
    "__iter__",
    "first",
    "get",
    "getter",
    "last",
    "lookup",
    "lookup_element",
    "match",
    "match_object",
    "member",
    "next",
    "prev",
    "range",
    "select",
    "select_chunk",
    "select_continue",
    "select_count",
    "snapshot",
    "tab2list",
)
"""The operations a private table allows only to its owner, beyond the writes (info and len are
allowed to anyone, as ETS's ``info/1``)."""


def _owner_only(method: Callable[..., Any], operation: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Table, *args: Any, **kwargs: Any) -> Any:
        if RUNNING_TASKS.get(self._loop) is not self._owner_task:
            self._deny(operation)
        return method(self, *args, **kwargs)

    return guarded


def private_variant(cls: type[Table]) -> type[Table]:
    """``cls`` with every read operation checking the caller first (``Private<name>``)."""
    namespace: dict[str, Any] = {
        "__slots__": (),
        "__doc__": f"A private {cls.__name__}.",
        "__module__": cls.__module__,
    }
    for operation in READ_OPERATIONS:
        namespace[operation] = _owner_only(getattr(cls, operation), operation)
    return cast("type[Table]", type(f"Private{cls.__name__}", (cls,), namespace))
