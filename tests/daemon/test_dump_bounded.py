"""``tables.dump`` converts a large table in slices with a pause between them (issue 12, item 1):
the loop runs between two streamed items even when the client reads as fast as they come."""

from __future__ import annotations

from typing import Any, cast

from daemon.verbs.method import MethodContext
from daemon.verbs.table_verbs import DumpParams, tables_dump
from supervisor import Access, Table
from tests.daemon.loop_probe import open_loop_probe


async def test_a_dump_lets_the_loop_run_between_its_items() -> None:
    table = Table("test.dump.bounded", named=True, access=Access.PUBLIC)
    table.insert([(n, {"n": n}) for n in range(2_000)])
    items: list[Any] = []
    context = cast(MethodContext, None)  # the dump reads only its params
    async with open_loop_probe(lambda: len(items)) as probe:
        stream = tables_dump.handler(DumpParams(name="test.dump.bounded", chunk=500), context)
        async for item in stream:  # type: ignore[union-attr]
            items.append(item)
    assert [len(item["rows"]) for item in items] == [500] * 4
    assert {1, 2, 3} <= set(probe.seen)  # the probe ran between the items
    table.delete_table()
