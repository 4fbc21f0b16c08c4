"""The class of a deleted table: every operation raises ``TableGone``.

A deleted table (``delete_table``, or its owner exited with no heir) has its class switched to
``GoneTable``; the identity properties, ``deleted`` and ``repr`` keep working, so a handle still
says what it was. Its operations are those of every registered table class, so this module is
imported after the modules that define them.

>>> import asyncio
>>> from supervisor.tables import Table
>>> async def demo() -> str:
...     table = Table("t")
...     table.delete_table()
...     try:
...         table.lookup(1)
...     except TableGone as gone:
...         return f"{type(table).__name__}: {gone}"
...     return "unreachable"
>>> asyncio.run(demo())
"GoneTable: table 't' is gone (deleted): lookup"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

import supervisor.tables._bag
import supervisor.tables._set  # noqa: F401  (its classes are registered first)
from supervisor.errors import TableGone
from supervisor.tables._base import Table
from supervisor.tables._registry import classes, register_gone

__all__ = ["GoneTable"]

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
    for cls in classes():
        for klass in cls.__mro__[:-1]:  # without object
            for name, value in vars(klass).items():
                public = not name.startswith("_") or name in _SPECIAL
                if public and callable(value) and name not in _KEPT:
                    names.add(name)
    return names


GoneTable: Final[type[Table]] = cast(
    "type[Table]",
    type(
        "GoneTable",
        (Table,),
        {
            "__slots__": (),
            "__doc__": "A deleted table: every operation raises TableGone.",
            "__module__": __name__,
            "_DELETED": True,
            **{name: _gone(name) for name in sorted(_public_operations())},
        },
    ),
)
register_gone(GoneTable)
