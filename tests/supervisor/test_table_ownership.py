"""Ownership, heirs, names and deletion (docs/otp-conformance.md#table-ownership-heirs-and-names).

Groups: who owns a new table, deletion when the owner exits, heirs, give_away, named tables and
``whereis_table``, operations on a deleted table, telemetry, what arbord does not have
(concurrency hints).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from supervisor import telemetry
from supervisor._exits import Exit, ExitKind
from supervisor._server import Server
from supervisor.errors import TableError, TableGone, TableNameTaken
from supervisor.tables import (
    ANY,
    Access,
    Table,
    TableTransfer,
    TableType,
    all_tables,
    named_getter,
    whereis_table,
)
from tests.supervisor.test_table_support import Agent, QuietAgent, inbox_of, run_as

CREATE = ("table", "create")
DELETE = ("table", "delete")
TRANSFER = ("table", "transfer")


@pytest.fixture
async def agents() -> AsyncIterator[list[Agent]]:
    started = [await Agent.start() for _ in range(3)]
    yield started
    for agent in started:
        if agent.alive:
            await agent.stop()


# --- who owns a new table -------------------------------------------------------------------------


async def test_the_creating_server_owns_the_table(agents: list[Agent]) -> None:
    owner = agents[0]
    table = await run_as(owner, Table)
    assert table.owner is owner


async def test_the_creating_task_owns_the_table() -> None:
    assert Table().owner is asyncio.current_task()


def test_a_table_needs_an_owning_process() -> None:
    with pytest.raises(TableError, match="needs an owner"):
        Table()


async def test_an_explicit_owner_must_be_alive(agents: list[Agent]) -> None:
    dead = agents[0]
    await dead.stop()
    with pytest.raises(TableError, match="not alive"):
        Table(owner=dead)
    assert Table(owner=agents[1]).owner is agents[1]


# --- the owner exits ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "crash", "kill"])
async def test_the_table_is_deleted_when_the_owning_server_exits(agents: list[Agent], how: str) -> None:
    owner = await QuietAgent.start()
    table = await run_as(owner, lambda: Table("doomed", named=True))
    with telemetry.capture(DELETE) as seen:
        if how == "stop":
            await owner.stop()
        elif how == "crash":
            owner.cast("no handle_cast: the server crashes")
            await owner.wait()
        else:
            owner.kill()
            await owner.wait()
        async with asyncio.timeout(5):
            deleted = await seen.wait(DELETE)
    assert deleted.metadata["reason"] == "owner_exit"
    assert table.deleted
    assert whereis_table("doomed") is None
    with pytest.raises(TableGone, match="its owner exited"):
        table.lookup("k")


@pytest.mark.parametrize("how", ["return", "raise", "cancel"])
async def test_the_table_is_deleted_when_the_owning_task_ends(how: str) -> None:
    made: asyncio.Future[Table] = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def owner() -> None:
        made.set_result(Table())
        await release.wait()
        if how == "raise":
            raise RuntimeError("the owner fails")

    task = asyncio.create_task(owner())
    table = await made
    with telemetry.capture(DELETE) as seen:
        if how == "cancel":
            task.cancel()
        else:
            release.set()
        async with asyncio.timeout(5):
            deleted = await seen.wait(DELETE)
    expected = {"return": ExitKind.NORMAL, "raise": ExitKind.CRASH, "cancel": ExitKind.KILLED}[how]
    reason = deleted.metadata["exit"]
    assert isinstance(reason, Exit)
    assert reason.kind is expected
    assert table.deleted


async def test_a_live_owner_keeps_its_table_even_with_no_reference_left(
    agents: list[Agent],
) -> None:
    # ETS tables are never garbage-collected: only the owner's exit (or delete) removes them.
    owner = agents[0]
    await run_as(owner, lambda: Table("kept", named=True).insert(("k", 1)))
    gc.collect()
    table = whereis_table("kept")
    assert table is not None
    assert table.lookup("k") == [("k", 1)]


# --- heirs ----------------------------------------------------------------------------------------


async def test_the_heir_inherits_and_gets_table_transfer_in_handle_info(
    agents: list[Agent],
) -> None:
    owner, heir, _ = agents
    table = await run_as(owner, lambda: Table("shared", heir=heir, heir_data={"why": "backup"}))
    await run_as(owner, lambda: table.insert(("k", 1)))
    with telemetry.capture(TRANSFER) as seen:
        await owner.stop()
    assert table.owner is heir
    assert not table.deleted
    assert table.lookup("k") == [("k", 1)]
    assert await inbox_of(heir) == [TableTransfer(table, owner, {"why": "backup"})]
    assert [c.metadata["reason"] for c in seen] == ["heir"]
    await run_as(heir, lambda: table.insert(("k", 2)))


async def test_inheriting_clears_the_heir(agents: list[Agent]) -> None:
    owner, heir, _ = agents
    table = await run_as(owner, lambda: Table(heir=heir))
    await owner.stop()
    assert table.heir is None
    await heir.stop()
    assert table.deleted


async def test_a_dead_heir_does_not_inherit(agents: list[Agent]) -> None:
    owner, heir, _ = agents
    table = await run_as(owner, lambda: Table(heir=heir))
    await heir.stop()
    await owner.stop()
    assert table.deleted


async def test_the_heir_must_be_a_server(agents: list[Agent]) -> None:
    with pytest.raises(TableError, match="heir must be a Server"):
        Table(heir=asyncio.current_task())  # type: ignore[arg-type]
    table = Table()
    with pytest.raises(TableError, match="heir must be a Server"):
        table.set_heir("nobody")  # type: ignore[arg-type]


async def test_set_heir_sets_and_clears_the_heir(agents: list[Agent]) -> None:
    owner, heir, other = agents
    table = await run_as(owner, Table)
    await run_as(owner, lambda: table.set_heir(heir, "data"))
    assert table.heir is heir
    await run_as(owner, lambda: table.set_heir(other, "other data"))
    await run_as(owner, lambda: table.set_heir(None))
    assert table.info().heir is None
    await owner.stop()
    assert table.deleted
    assert await inbox_of(heir) == []
    assert await inbox_of(other) == []


async def test_a_crashing_owner_hands_over_too(agents: list[Agent]) -> None:
    heir = agents[0]
    owner = await QuietAgent.start()
    table = await run_as(owner, lambda: Table(heir=heir, heir_data=7))
    owner.cast("crash")
    await owner.wait()
    assert table.owner is heir
    assert [m.heir_data for m in await inbox_of(heir)] == [7]


# --- give_away ------------------------------------------------------------------------------------


async def test_give_away_moves_the_table_and_sends_the_gift(agents: list[Agent]) -> None:
    owner, receiver, heir = agents
    table = await run_as(owner, lambda: Table(heir=heir))
    with telemetry.capture(TRANSFER) as seen:
        await run_as(owner, lambda: table.give_away(receiver, "gift"))
    assert table.owner is receiver
    assert table.heir is heir  # give_away keeps the heir
    assert await inbox_of(receiver) == [TableTransfer(table, owner, "gift")]
    assert seen[0].metadata["from"] is owner
    assert seen[0].metadata["to"] is receiver
    assert seen[0].metadata["reason"] == "give_away"


async def test_the_old_owner_exiting_after_give_away_changes_nothing(agents: list[Agent]) -> None:
    owner, receiver, _ = agents
    table = await run_as(owner, Table)
    await run_as(owner, lambda: table.give_away(receiver))
    await owner.stop()
    assert not table.deleted
    assert table.owner is receiver
    await receiver.stop()
    assert table.deleted


async def test_a_table_owned_by_a_task_can_be_given_to_a_server(agents: list[Agent]) -> None:
    table = Table()
    table.give_away(agents[0])
    assert table.owner is agents[0]


@pytest.mark.parametrize("target", ["dead", "self", "task"])
async def test_give_away_needs_a_live_server_other_than_the_owner(agents: list[Agent], target: str) -> None:
    owner, dead, _ = agents
    await dead.stop()
    table = await run_as(owner, Table)
    to: Any = {"dead": dead, "self": owner, "task": asyncio.current_task()}[target]
    with pytest.raises(TableError, match="give_away"):
        await run_as(owner, lambda: table.give_away(to))
    assert table.owner is owner


# --- named tables ---------------------------------------------------------------------------------


async def test_a_named_table_is_found_by_name() -> None:
    table = Table("registry-test", named=True)
    assert whereis_table("registry-test") is table
    assert table.info().named
    assert whereis_table("never-created") is None


async def test_a_taken_name_is_refused() -> None:
    Table("taken", named=True)
    with pytest.raises(TableNameTaken, match="'taken'"):
        Table("taken", named=True)
    assert Table("taken").name == "taken"  # a label only: not registered


async def test_a_deleted_tables_name_can_be_reused_and_the_old_handle_stays_gone() -> None:
    old = Table("reused", named=True)
    old.delete_table()
    assert whereis_table("reused") is None
    new = Table("reused", named=True)
    assert whereis_table("reused") is new
    with pytest.raises(TableGone):
        old.lookup("k")


async def test_named_getter_reads_a_named_readable_set_until_it_is_deleted(agents: list[Agent]) -> None:
    # The hot readers' one-call lookup (the sampled events' batch): the table's getter() by name,
    # only for tables any caller may read, gone with the table, back with a new one of that name.
    table = Table("fast-read", named=True, access=Access.PUBLIC)
    table.insert(("k", 1))
    get = named_getter("fast-read")
    assert get is not None
    assert get("k") == ("k", 1)
    assert named_getter("never-created") is None
    owned = await run_as(agents[0], lambda: Table("fast-owned", named=True))
    await run_as(agents[0], lambda: owned.insert(("k", 2)))
    read = named_getter("fast-owned")  # protected: read by a caller that is not the owner
    assert read is not None
    assert read("k") == ("k", 2)
    await agents[0].stop()
    assert named_getter("fast-owned") is None  # deleted with its owner
    Table("fast-private", named=True, access=Access.PRIVATE)
    Table("fast-bag", named=True, type=TableType.BAG)
    assert named_getter("fast-private") is None
    assert named_getter("fast-bag") is None
    table.delete_table()
    assert named_getter("fast-read") is None
    assert get("k") is None  # a getter taken earlier finds nothing
    again = Table("fast-read", named=True)
    again.insert(("k", 3))
    fresh = named_getter("fast-read")
    assert fresh is not None
    assert fresh("k") == ("k", 3)


async def test_all_tables_lists_every_live_table_named_or_not_oldest_first(agents: list[Agent]) -> None:
    # ETS all/0: what `arborctl tables list` shows, the daemon's unnamed tables included (issue 11).
    named = Table("listed", named=True)
    unnamed = Table()
    owned = await run_as(agents[0], Table)
    listed = [t for t in all_tables() if t in (named, unnamed, owned)]
    assert listed == [named, unnamed, owned]
    unnamed.delete_table()
    await agents[0].stop()
    assert owned.deleted
    assert [t for t in all_tables() if t in (named, unnamed, owned)] == [named]


def test_named_needs_a_name() -> None:
    with pytest.raises(TableError, match="named=True needs a name"):
        Table(named=True)


def test_a_name_is_a_string() -> None:
    with pytest.raises(TableError, match="name is a str"):
        Table(42)  # type: ignore[arg-type]


# --- a deleted table ------------------------------------------------------------------------------


GONE_OPERATIONS: dict[str, Callable[[Table], object]] = {
    "insert": lambda t: t.insert(("k", 1)),
    "insert_new": lambda t: t.insert_new(("k", 1)),
    "lookup": lambda t: t.lookup("k"),
    "get": lambda t: t.get("k"),
    "member": lambda t: t.member("k"),
    "in": lambda t: "k" in t,
    "lookup_element": lambda t: t.lookup_element("k", 1),
    "take": lambda t: t.take("k"),
    "delete": lambda t: t.delete("k"),
    "delete_object": lambda t: t.delete_object(("k", 1)),
    "delete_all_objects": lambda t: t.delete_all_objects(),
    "update_counter": lambda t: t.update_counter("k", 1),
    "update_element": lambda t: t.update_element("k", (1, 1)),
    "first": lambda t: t.first(),
    "next": lambda t: t.next("k"),
    "range": lambda t: t.range(),
    "tab2list": lambda t: t.tab2list(),
    "iter": lambda t: list(t),
    "len": len,
    "info": lambda t: t.info(),
    "select": lambda t: t.select(ANY),
    "select_count": lambda t: t.select_count(ANY),
    "select_delete": lambda t: t.select_delete(ANY),
    "select_replace": lambda t: t.select_replace(ANY),
    "select_chunk": lambda t: t.select_chunk(ANY, 1),
    "match": lambda t: t.match(ANY),
    "snapshot": lambda t: t.snapshot(),
    "transaction": lambda t: t.transaction(),
    "give_away": lambda t: t.give_away(Server()),
    "set_heir": lambda t: t.set_heir(None),
    "delete_table": lambda t: t.delete_table(),
}


@pytest.mark.parametrize("table_type", list(TableType))
@pytest.mark.parametrize("name", sorted(GONE_OPERATIONS))
async def test_every_operation_on_a_deleted_table_raises_table_gone(table_type: TableType, name: str) -> None:
    table = Table("gone", type=table_type)
    table.delete_table()
    with pytest.raises(TableGone, match=r"table 'gone' is gone \(deleted\)"):
        GONE_OPERATIONS[name](table)


async def test_a_continuation_of_a_deleted_table_raises_table_gone() -> None:
    table = Table()
    table.insert([("a", 1), ("b", 2)])
    _, continuation = table.select_chunk(ANY, 1)
    assert continuation is not None
    table.delete_table()
    with pytest.raises(TableGone):
        table.select_continue(continuation)


async def test_a_deleted_table_keeps_its_identity() -> None:
    table = Table("remembered", type=TableType.BAG, access=Access.PUBLIC)
    table.delete_table()
    assert (table.name, table.type, table.access, table.deleted) == (
        "remembered",
        TableType.BAG,
        Access.PUBLIC,
        True,
    )
    assert repr(table) == "<Table 'remembered' gone>"
    assert isinstance(table, Table)
    assert table


async def test_delete_table_drops_the_rows_and_the_owner_watch(agents: list[Agent]) -> None:
    owner = agents[0]
    table = await run_as(owner, Table)
    with telemetry.capture(DELETE) as seen:
        await run_as(owner, table.delete_table)
        await owner.stop()  # no second deletion
    assert len(seen) == 1
    assert seen[0].metadata["reason"] == "deleted"


# --- telemetry ------------------------------------------------------------------------------------


async def test_telemetry_on_create_delete_and_transfer(agents: list[Agent]) -> None:
    owner, heir, _ = agents
    with telemetry.capture(CREATE, DELETE, TRANSFER) as seen:
        table = await run_as(owner, lambda: Table("observed", heir=heir, type=TableType.BAG))
        await run_as(owner, lambda: table.insert([("a", 1), ("a", 2)]))
        await owner.stop()
        await heir.stop()
    assert [c.event for c in seen] == [CREATE, TRANSFER, DELETE]
    created, transferred, deleted = seen
    assert created.metadata["table"] is table
    assert created.metadata["owner"] is owner
    assert created.metadata["type"] is TableType.BAG
    assert created.metadata["name"] == "observed"
    assert transferred.metadata["from"] is owner
    assert transferred.metadata["to"] is heir
    assert deleted.measurements == {"size": 2}
    assert deleted.metadata["owner"] is heir
    assert deleted.metadata["reason"] == "owner_exit"


# --- what arbord does not have --------------------------------------------------------------------


@pytest.mark.parametrize("hint", ["read_concurrency", "write_concurrency"])
async def test_there_are_no_concurrency_hints(hint: str) -> None:
    # ETS's hints tune locking across schedulers; one event loop has nothing to tune, and every
    # guarantee (atomic single operations, isolated transactions) holds without them.
    options: dict[str, Any] = {hint: True}
    with pytest.raises(TypeError):
        Table(**options)
