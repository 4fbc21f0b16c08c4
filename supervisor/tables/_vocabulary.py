"""The words of the table API: table types, access levels, rows, and the end-of-table marker.

They are ETS's: ``set | ordered_set | bag | duplicate_bag``, ``public | protected | private``, and
``'$end_of_table'`` as ``END_OF_TABLE``.

>>> TableType("ordered_set"), Access("public"), END_OF_TABLE
(<TableType.ORDERED_SET: 'ordered_set'>, <Access.PUBLIC: 'public'>, END_OF_TABLE)
"""

from __future__ import annotations

import enum
from typing import Any, Final, TypeAlias

__all__ = ["END_OF_TABLE", "MISSING", "Access", "Row", "TableType"]

Row: TypeAlias = tuple[Any, ...]
"""A table row: a tuple whose element at the table's ``keypos`` is its key."""


class TableType(enum.Enum):
    """How rows relate to keys (ETS table types)."""

    SET = "set"
    """One row per key, keys compared as Python dict keys (see docs/tables.md on 1 and 1.0)."""
    ORDERED_SET = "ordered_set"
    """One row per key, kept in key order (keys compared with ``==`` and ``<``)."""
    BAG = "bag"
    """Many rows per key, but no two equal rows; insertion order is kept per key."""
    DUPLICATE_BAG = "duplicate_bag"
    """Many rows per key, equal rows allowed."""


class Access(enum.Enum):
    """Who may read and write a table (ETS access levels)."""

    PUBLIC = "public"
    """Anyone reads and writes."""
    PROTECTED = "protected"
    """Anyone reads; only the owner writes (the default)."""
    PRIVATE = "private"
    """Only the owner reads or writes."""


class _EndOfTable:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_TABLE"


END_OF_TABLE: Final[Any] = _EndOfTable()
"""Returned by ``first``/``last``/``next``/``prev`` past either end (ETS ``'$end_of_table'``)."""

MISSING: Final[Any] = object()
"""The default of optional arguments where ``None`` is a meaningful value (internal)."""
