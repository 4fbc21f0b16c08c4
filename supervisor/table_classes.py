"""Which class a ``Table`` is: one per type, a private variant of each, a public variant of the set
types, the class of a gone table.

The read path carries no access check and no "is it deleted?" check at all, and the hot writes no
"is it public?" test. Instead:

- a **public** set or ordered_set is an instance of a variant whose hot writes (``insert``,
  ``update_counter``) skip the owner check, so the protected and private classes make it without
  first testing whether the table is public (bench/bench_tables.py);
- a **private** table is an instance of a variant whose read methods first check that the caller is
  the owner (public and protected tables never pay for it: anyone may read them);
- a **deleted** table has its class switched to ``GONE_CLASS``, whose every operation raises
  ``TableGone`` (the identity properties, ``deleted`` and ``repr`` keep working).

All these classes add no slots to ``Table``, so an instance can change class in place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, cast

from supervisor.errors import TableGone
from supervisor.table import RUNNING_TASKS, Access, Table, TableType
from supervisor.table_bag import BagTable, DuplicateBagTable
from supervisor.table_set import OrderedSetTable, PublicOrderedSetTable, PublicSetTable, SetTable

__all__ = ["GONE_CLASS", "READ_OPERATIONS", "table_class"]

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

_BY_TYPE: Final[Mapping[TableType, type[Table]]] = MappingProxyType(
    {
        TableType.SET: SetTable,
        TableType.ORDERED_SET: OrderedSetTable,
        TableType.BAG: BagTable,
        TableType.DUPLICATE_BAG: DuplicateBagTable,
    }
)


def _owner_only(method: Callable[..., Any], operation: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Table, *args: Any, **kwargs: Any) -> Any:
        if RUNNING_TASKS.get(self._loop) is not self._owner_task:
            self._deny(operation)
        return method(self, *args, **kwargs)

    return guarded


def _private_variant(cls: type[Table]) -> type[Table]:
    namespace: dict[str, Any] = {"__slots__": (), "__doc__": f"A private {cls.__name__}."}
    for operation in READ_OPERATIONS:
        namespace[operation] = _owner_only(getattr(cls, operation), operation)
    return cast(type[Table], type(f"Private{cls.__name__}", (cls,), namespace))


_PUBLIC_BY_TYPE: Final[Mapping[TableType, type[Table]]] = MappingProxyType(
    {
        TableType.SET: PublicSetTable,
        TableType.ORDERED_SET: PublicOrderedSetTable,
        TableType.BAG: BagTable,
        TableType.DUPLICATE_BAG: DuplicateBagTable,
    }
)

_CLASSES: Final[Mapping[tuple[TableType, Access], type[Table]]] = MappingProxyType(
    {
        **{(table_type, Access.PROTECTED): cls for table_type, cls in _BY_TYPE.items()},
        **{(table_type, Access.PRIVATE): _private_variant(cls) for table_type, cls in _BY_TYPE.items()},
        **{(table_type, Access.PUBLIC): cls for table_type, cls in _PUBLIC_BY_TYPE.items()},
    }
)


def table_class(table_type: TableType, access: Access) -> type[Table]:
    """The class of a table of this type and access."""
    return _CLASSES[table_type, access]


# Still meaningful on a gone table: who it was, that it is gone.
_KEPT: Final = frozenset(
    {"access", "deleted", "heir", "keypos", "name", "owner", "type", "__bool__", "__repr__"}
)
_SPECIAL: Final = frozenset({"__contains__", "__iter__", "__len__"})


def _gone(operation: str) -> Callable[..., Any]:
    def raise_gone(self: Table, *args: Any, **kwargs: Any) -> Any:
        raise TableGone(f"table {self._label()} is gone ({self._gone_reason}): {operation}")

    raise_gone.__name__ = operation
    return raise_gone


def _public_operations() -> set[str]:
    names: set[str] = set()
    for cls in _BY_TYPE.values():
        for klass in cls.__mro__[:-1]:  # without object
            for name, value in vars(klass).items():
                public = not name.startswith("_") or name in _SPECIAL
                if public and callable(value) and name not in _KEPT:
                    names.add(name)
    return names


GONE_CLASS: Final[type[Table]] = cast(
    type[Table],
    type(
        "GoneTable",
        (Table,),
        {
            "__slots__": (),
            "__doc__": "A deleted table: every operation raises TableGone.",
            "_DELETED": True,
            **{name: _gone(name) for name in sorted(_public_operations())},
        },
    ),
)
