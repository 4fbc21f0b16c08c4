"""Which class a table of a given type and access is: a registry the table classes fill in.

``Table(...)`` is created through the base class, which knows no subclass: it asks this registry
for the class of the requested type and access. Each module that defines table classes registers
them when it is imported (``_set``, ``_bag``, and ``_gone`` for the class a deleted table switches
to); ``supervisor.tables`` imports them all before anyone can create a table.

>>> from supervisor.tables import Table
>>> table_class(TableType.SET, Access.PUBLIC).__name__, gone_class().__name__
('PublicSetTable', 'GoneTable')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from supervisor.errors import TableError
from supervisor.tables._vocabulary import Access, TableType

if TYPE_CHECKING:
    from supervisor.tables._base import Table

__all__ = ["classes", "gone_class", "register", "register_gone", "table_class"]

# arbord: allow-state(the table classes, registered once each when their module is imported and
# only read after: the class of a (type, access) pair is a fact of the code, not of any run)
_CLASSES: Final[dict[object, type[Table]]] = {}

_GONE: Final = "gone"


def register(table_type: TableType, access: Access, cls: type[Table]) -> None:
    """Make ``cls`` the class of every new table of ``table_type`` and ``access``."""
    _CLASSES[table_type, access] = cls


def register_gone(cls: type[Table]) -> None:
    """Make ``cls`` the class a deleted table switches to."""
    _CLASSES[_GONE] = cls


def table_class(table_type: TableType, access: Access) -> type[Table]:
    """The class of a table of this type and access."""
    try:
        return _CLASSES[table_type, access]
    except KeyError:
        raise TableError(f"no table class for {table_type} {access}: import supervisor.tables") from None


def gone_class() -> type[Table]:
    """The class of a deleted table."""
    return _CLASSES[_GONE]


def classes() -> list[type[Table]]:
    """Every class a live table can have, in registration order."""
    return [cls for key, cls in _CLASSES.items() if key != _GONE]
