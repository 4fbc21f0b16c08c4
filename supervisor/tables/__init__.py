"""Owned in-memory tables: Erlang's ETS for arbord.

A ``Table`` holds rows (tuples) under a key; whoever creates it owns it, and when the owner exits
the table is deleted or handed to its heir. Reads are plain dictionary reads, with no await, no
lock and no server hop. Queries are ETS match specs (``MatchSpec``, ``Var``, ``ANY``); multi-step
updates that await in the middle are ``Transaction``\\ s; ``docs/tables.md`` is the guide.

>>> import asyncio
>>> from supervisor.tables import ANY, Table, TableType, Var
>>> async def demo() -> list[object]:
...     stock = Table("stock", type=TableType.ORDERED_SET)
...     stock.insert([("pear", 3), ("apple", 0), ("fig", 8)])
...     return [stock.first(), stock.select((ANY, Var("n")), Var("n") > 2, Var("n"))]
>>> asyncio.run(demo())
['apple', [8, 3]]

``Table``, ``TableType`` and ``Access`` are also part of the core surface (``supervisor``); the table
errors are re-exported here from ``supervisor.errors``. The package's modules are private, one
concept each, and import each other without a cycle (``tests/test_layout.py``): ``_vocabulary``
(types, access, ``END_OF_TABLE``) ← ``_registry`` (which class a table is) ← ``_base`` (``Table``:
identity, access, owner; it knows no subclass) ← ``_set``, ``_bag`` (the stores, which register
their classes and their ``_private`` variants) ← ``_gone`` (the class of a deleted table). Queries
are ``_query`` (the pattern language) and ``_select`` (running them); ``_transaction`` stages
changes. The hot operations of sets run in the core chosen by ``_core``: the C extension
``supervisor._speedups``, or its pure-Python twin ``_pycore`` when ``ARBORD_NO_EXTENSIONS=1``.
"""

from __future__ import annotations

import supervisor.tables._gone  # noqa: F401  (registers the class of a deleted table, after the others)
from supervisor.errors import AccessDenied, TableError, TableGone, TableNameTaken
from supervisor.tables._base import (
    Table,
    TableInfo,
    TableTransfer,
    all_tables,
    named_getter,
    named_tables,
    whereis_table,
)
from supervisor.tables._core import GuardedGetter
from supervisor.tables._query import ANY, BINDINGS, WHOLE, Clause, Expr, MatchSpec, Var
from supervisor.tables._select import Continuation
from supervisor.tables._transaction import Transaction
from supervisor.tables._vocabulary import END_OF_TABLE, Access, Row, TableType

__all__ = [
    "ANY",
    "BINDINGS",
    "END_OF_TABLE",
    "WHOLE",
    "Access",
    "AccessDenied",
    "Clause",
    "Continuation",
    "Expr",
    "GuardedGetter",
    "MatchSpec",
    "Row",
    "Table",
    "TableError",
    "TableGone",
    "TableInfo",
    "TableNameTaken",
    "TableTransfer",
    "TableType",
    "Transaction",
    "Var",
    "all_tables",
    "named_getter",
    "named_tables",
    "whereis_table",
]

# Where users import them from (as trio does): reprs, docs and pickles name supervisor.tables.
for _public in (
    Access,
    Clause,
    Continuation,
    Expr,
    MatchSpec,
    Table,
    TableInfo,
    TableTransfer,
    TableType,
    Transaction,
    Var,
    all_tables,
    named_tables,
    whereis_table,
):
    _public.__module__ = __name__
del _public
