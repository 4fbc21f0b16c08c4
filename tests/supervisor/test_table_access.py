"""Access levels enforced against the calling server or task (docs/otp-conformance.md#table-access).

Groups: public, protected, private, the error message, owner-only operations, checks that follow
the owner, snapshots. A foreigner is an ``Agent`` server (or a plain task) that does not own the
table.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from supervisor.errors import AccessDenied, TableGone
from supervisor.tables import ANY, Access, Table, TableType
from tests.supervisor.test_table_support import Agent, run_as, run_in_task

Operation = Callable[[Table], object]

WRITES: dict[str, Operation] = {
    "insert": lambda t: t.insert(("w", 1)),
    "insert list": lambda t: t.insert([("w", 1)]),
    "insert_new": lambda t: t.insert_new(("w", 1)),
    "delete": lambda t: t.delete("k"),
    "delete_object": lambda t: t.delete_object(("k", 1)),
    "delete_all_objects": lambda t: t.delete_all_objects(),
    "take": lambda t: t.take("k"),
    "update_counter": lambda t: t.update_counter("k", 1),
    "update_element": lambda t: t.update_element("k", (1, 5)),
    "select_delete": lambda t: t.select_delete(ANY),
    "select_replace": lambda t: t.select_replace(ANY),
    "match_delete": lambda t: t.match_delete(ANY),
    "delete_table": lambda t: t.delete_table(),
}

READS: dict[str, Operation] = {
    "lookup": lambda t: t.lookup("k"),
    "get": lambda t: t.get("k"),
    "member": lambda t: t.member("k"),
    "in": lambda t: "k" in t,
    "lookup_element": lambda t: t.lookup_element("k", 1),
    "first": lambda t: t.first(),
    "last": lambda t: t.last(),
    "next": lambda t: t.next("k"),
    "prev": lambda t: t.prev("k"),
    "range": lambda t: t.range("a", "z"),
    "tab2list": lambda t: t.tab2list(),
    "iter": lambda t: list(t),
    "select": lambda t: t.select(ANY),
    "select_chunk": lambda t: t.select_chunk(ANY, 1),
    "select_count": lambda t: t.select_count(ANY),
    "match": lambda t: t.match(("k", ANY)),
    "match_object": lambda t: t.match_object(ANY),
    "snapshot": lambda t: t.snapshot(),
}


@pytest.fixture
async def agents() -> AsyncIterator[tuple[Agent, Agent]]:
    owner, foreigner = await Agent.start(), await Agent.start()
    yield owner, foreigner
    for agent in (owner, foreigner):
        if agent.alive:
            await agent.stop()


async def _owned_table(owner: Agent, access: Access) -> Table:
    def create() -> Table:
        table = Table("guarded", type=TableType.ORDERED_SET, access=access)
        table.insert([("k", 1), ("m", 2)])
        return table

    return await run_as(owner, create)


# --- public ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WRITES))
async def test_public_anyone_writes(agents: tuple[Agent, Agent], name: str) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PUBLIC)
    await run_as(foreigner, lambda: WRITES[name](table))


async def test_public_anyone_reads(agents: tuple[Agent, Agent]) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PUBLIC)
    for operation in READS.values():
        await run_as(foreigner, lambda operation=operation: operation(table))  # type: ignore[misc]


async def test_public_transaction_from_a_foreigner(agents: tuple[Agent, Agent]) -> None:
    owner, _ = agents
    table = await _owned_table(owner, Access.PUBLIC)
    async with table.transaction() as tx:  # this test's task is a foreigner too
        tx.insert(("t", 1))
    assert table.get("t") == ("t", 1)


# --- protected ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WRITES))
async def test_protected_only_the_owner_writes(agents: tuple[Agent, Agent], name: str) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PROTECTED)
    with pytest.raises(AccessDenied, match="protected"):
        await run_as(foreigner, lambda: WRITES[name](table))
    with pytest.raises(AccessDenied):
        WRITES[name](table)  # the test's own task is no owner either
    assert table.tab2list() == [("k", 1), ("m", 2)]
    await run_as(owner, lambda: WRITES[name](table))


async def test_protected_anyone_reads(agents: tuple[Agent, Agent]) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PROTECTED)
    for operation in READS.values():
        await run_as(foreigner, lambda operation=operation: operation(table))  # type: ignore[misc]


async def test_protected_transaction_is_denied_to_a_foreigner(
    agents: tuple[Agent, Agent],
) -> None:
    owner, _ = agents
    table = await _owned_table(owner, Access.PROTECTED)
    with pytest.raises(AccessDenied, match="transaction"):
        async with table.transaction():
            pass


@pytest.mark.parametrize("access", list(Access))
@pytest.mark.parametrize("table_type", list(TableType))
async def test_the_hot_writes_follow_the_access_level_of_every_type(
    agents: tuple[Agent, Agent], table_type: TableType, access: Access
) -> None:
    # A public set or ordered_set has its own class whose insert and update_counter skip the
    # owner check; the other classes make it unconditionally (supervisor.tables._set).
    owner, foreigner = agents

    def create() -> Table:
        table = Table(type=table_type, access=access)
        table.insert(("k", 1))
        return table

    table = await run_as(owner, create)
    writes: list[Callable[[], object]] = [lambda: table.insert(("w", 1))]
    if table_type in (TableType.SET, TableType.ORDERED_SET):
        writes.append(lambda: table.update_counter("k", 1))
    for write in writes:
        if access is Access.PUBLIC:
            await run_as(foreigner, write)
        else:
            with pytest.raises(AccessDenied):
                await run_as(foreigner, write)
        await run_as(owner, write)
    if table_type in (TableType.SET, TableType.ORDERED_SET):
        assert await run_as(owner, lambda: table.get("k")) == ("k", 3 if access is Access.PUBLIC else 2)
    await run_as(owner, table.delete_table)
    with pytest.raises(TableGone):
        await run_as(owner, lambda: table.insert(("w", 1)))
    with pytest.raises(TableGone):
        await run_as(owner, lambda: table.update_counter("k", 1))


async def test_a_plain_task_owner_is_enforced_too() -> None:
    table = Table()  # owned by this test's task
    with pytest.raises(AccessDenied):
        await run_in_task(lambda: table.insert(("a", 1)))
    table.insert(("a", 1))
    assert await run_in_task(lambda: table.lookup("a")) == [("a", 1)]


async def test_a_write_from_outside_any_task_is_denied() -> None:
    table = Table()
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[BaseException | None] = loop.create_future()

    def from_a_callback() -> None:  # loop callbacks run in no task at all
        try:
            table.insert(("a", 1))
        except AccessDenied as error:
            outcome.set_result(error)
        else:
            outcome.set_result(None)

    loop.call_soon(from_a_callback)
    async with asyncio.timeout(5):
        error = await outcome
    assert isinstance(error, AccessDenied)
    assert "code outside any task" in str(error)


async def test_reads_of_a_protected_table_need_no_task_at_all() -> None:
    table = Table()
    table.insert(("a", 1))
    loop = asyncio.get_running_loop()
    read: asyncio.Future[object] = loop.create_future()
    loop.call_soon(lambda: read.set_result((table.lookup("a"), table.get("a"), len(table))))
    async with asyncio.timeout(5):
        assert await read == ([("a", 1)], ("a", 1), 1)


# --- private --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(READS))
async def test_private_only_the_owner_reads(agents: tuple[Agent, Agent], name: str) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PRIVATE)
    with pytest.raises(AccessDenied, match="private"):
        await run_as(foreigner, lambda: READS[name](table))
    await run_as(owner, lambda: READS[name](table))


@pytest.mark.parametrize("name", sorted(WRITES))
async def test_private_only_the_owner_writes(agents: tuple[Agent, Agent], name: str) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PRIVATE)
    with pytest.raises(AccessDenied, match="private"):
        await run_as(foreigner, lambda: WRITES[name](table))
    await run_as(owner, lambda: WRITES[name](table))


async def test_private_continuation_is_owner_only(agents: tuple[Agent, Agent]) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PRIVATE)
    _, continuation = await run_as(owner, lambda: table.select_chunk(ANY, 1))
    assert continuation is not None
    with pytest.raises(AccessDenied, match="select_continue"):
        await run_as(foreigner, lambda: table.select_continue(continuation))
    assert await run_as(owner, lambda: table.select_continue(continuation)) == ([("m", 2)], None)


async def test_private_info_and_len_are_open_to_anyone(agents: tuple[Agent, Agent]) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PRIVATE)
    assert await run_as(foreigner, lambda: len(table)) == 2
    assert (await run_as(foreigner, table.info)).owner is owner


# --- the error ------------------------------------------------------------------------------------


async def test_access_denied_names_the_table_operation_level_and_caller(
    agents: tuple[Agent, Agent],
) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PROTECTED)
    with pytest.raises(AccessDenied) as denied:
        await run_as(foreigner, lambda: table.update_counter("k", 1))
    message = str(denied.value)
    assert "table 'guarded'" in message
    assert "update_counter" in message
    assert "protected" in message
    assert repr(foreigner) in message
    assert repr(owner) in message


# --- owner-only operations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        lambda t, heir: t.give_away(heir),
        lambda t, heir: t.set_heir(heir),
    ],
    ids=["give_away", "set_heir"],
)
async def test_give_away_and_set_heir_are_owner_only_even_when_public(
    agents: tuple[Agent, Agent], operation: Callable[[Table, Agent], Any]
) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PUBLIC)
    with pytest.raises(AccessDenied, match="only its owner"):
        await run_as(foreigner, lambda: operation(table, foreigner))
    assert table.owner is owner
    assert table.heir is None


async def test_the_check_follows_the_owner_after_give_away(agents: tuple[Agent, Agent]) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PROTECTED)
    await run_as(owner, lambda: table.give_away(foreigner))
    await run_as(foreigner, lambda: table.insert(("new", 1)))
    with pytest.raises(AccessDenied):
        await run_as(owner, lambda: table.insert(("old", 1)))


# --- snapshots ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(WRITES) - {"delete_table"}))
async def test_a_snapshot_is_read_only_even_for_the_owner(name: str) -> None:
    table = Table(access=Access.PUBLIC)
    table.insert(("k", 1))
    snapshot = table.snapshot()
    with pytest.raises(AccessDenied, match="snapshot"):
        WRITES[name](snapshot)
    with pytest.raises(AccessDenied, match="snapshot"):
        snapshot.delete_table()
    with pytest.raises(AccessDenied, match="snapshot"):
        async with snapshot.transaction():
            pass


async def test_a_private_tables_snapshot_can_be_handed_to_others(
    agents: tuple[Agent, Agent],
) -> None:
    owner, foreigner = agents
    table = await _owned_table(owner, Access.PRIVATE)
    snapshot = await run_as(owner, table.snapshot)
    assert await run_as(foreigner, snapshot.tab2list) == [("k", 1), ("m", 2)]
    assert snapshot.owner is None
