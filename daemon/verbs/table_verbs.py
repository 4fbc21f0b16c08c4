"""The core control methods about tables: ``tables.list`` (every live table, named or not, with its
owner: the daemon's own are unnamed), ``tables.info`` and ``tables.dump`` (named tables).

A dump streams a snapshot (``Table.snapshot()``), taken in one synchronous step when the request
starts, so the rows it sends are one consistent state however long the client takes to read them.
Rows are sent as JSON arrays; a value JSON cannot carry (a set, an object) is sent as its ``repr``.
Private tables are listed but neither described in detail nor dumped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.chunked import pause
from daemon.errors import ControlError
from daemon.verbs.codes import ErrorCode
from daemon.verbs.jsonable import jsonable
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from daemon.verbs.paging import PAGE_BYTES, PageParams, paged
from supervisor import Access, Server, Table
from supervisor.tables import all_tables, whereis_table

__all__ = ["table_methods"]


def _owner(owner: object) -> str | None:
    """A table's owner in a few words: a server by its registered name (else class and address),
    a task by its name."""
    if isinstance(owner, Server):
        return owner.name or f"{type(owner).__name__}@{id(owner):#x}"
    if isinstance(owner, asyncio.Task):
        return f"task {owner.get_name()}"
    return None if owner is None else repr(owner)


def _describe(table: Table, *, detail: bool) -> dict[str, Any]:
    info = table.info()
    described: dict[str, Any] = {
        "name": info.name,
        "type": info.type.value,
        "access": info.access.value,
        "size": info.size,
    }
    if detail:
        described.update(
            keypos=info.keypos,
            memory=info.memory,
            owner=_owner(info.owner),
            heir=_owner(info.heir),
        )
    return described


def _table(name: str) -> Table:
    table = whereis_table(name)
    if table is None:
        raise ControlError(ErrorCode.NOT_FOUND, f"no named table {name!r}", {"name": name})
    return table


class TableParams(BaseModel):
    """A named table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str


class DumpParams(TableParams):
    """``tables.dump``: rows per streamed item (``chunk``, and about ``PAGE_BYTES`` of JSON at most)
    and at most ``limit`` rows (None: all)."""

    chunk: int = Field(default=500, ge=1, le=10_000)
    limit: int | None = Field(default=None, ge=0)


def _listed(table: Table) -> dict[str, Any]:
    info = table.info()
    return {
        "name": info.name,
        "owner": _owner(info.owner),
        "type": info.type.value,
        "access": info.access.value,
        "size": info.size,
    }


@verb("tables.list", "every live table, named or not: owner, type, access, size (paged)")
async def tables_list(params: PageParams, context: MethodContext) -> dict[str, Any]:
    return paged("tables", all_tables(), params, _listed)


@verb("tables.info", "one table's settings, size, memory, owner")
async def tables_info(params: TableParams, context: MethodContext) -> dict[str, Any]:
    table = _table(params.name)
    return _describe(table, detail=table.access is not Access.PRIVATE)


@verb("tables.dump", "a table's rows from a consistent snapshot", streamed=True)
async def tables_dump(params: DumpParams, context: MethodContext) -> AsyncIterator[dict[str, Any]]:
    table = _table(params.name)
    if table.access is Access.PRIVATE:
        raise ControlError(ErrorCode.PERMISSION_DENIED, f"table {params.name!r} is private to its owner")
    snapshot = table.snapshot()
    remaining = len(snapshot) if params.limit is None else min(params.limit, len(snapshot))
    rows: list[Any] = []
    size = 0
    for row in snapshot:
        if remaining <= 0:
            break
        encoded = jsonable(row)
        rows.append(encoded)
        size += len(json.dumps(encoded, separators=(",", ":"), default=str)) + 1
        remaining -= 1
        if len(rows) == params.chunk or size >= PAGE_BYTES:  # bounded frames (issue 12)
            yield {"rows": rows}
            rows = []
            size = 0
            await pause()  # the rows are converted in slices: a large dump does not hold the loop
    if rows:
        yield {"rows": rows}


def table_methods() -> tuple[Method, ...]:
    """The methods about named tables."""
    return methods_of(globals())
