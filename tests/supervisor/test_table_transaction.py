"""Transactions (stage, await, apply at once) and snapshots (a consistent copy to walk at leisure).

Groups: commit, rollback, the staged view, one transaction at a time, access and deletion, commit
failure, snapshots (consistency while writers run, independence, lifetime).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from supervisor.errors import AccessDenied, TableError, TableGone
from supervisor.tables import ANY, Access, Table, TableType, Transaction, Var
from tests.supervisor.test_table_support import Agent, run_as

ALL_TYPES = list(TableType)


async def _within(awaitable: Awaitable[object]) -> None:
    async with asyncio.timeout(5):
        await awaitable


# --- commit and rollback --------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_changes_are_applied_at_once_when_the_block_ends(table_type: TableType) -> None:
    table = Table(type=table_type, access=Access.PUBLIC)
    table.insert([("a", 1), ("b", 2)])
    inside = asyncio.Event()
    done = asyncio.Event()
    observed: list[list[tuple[object, ...]]] = []

    async def reader() -> None:
        await inside.wait()
        observed.append(sorted(table.tab2list()))  # while the transaction awaits

    async def writer() -> None:
        async with table.transaction() as tx:
            tx.insert(("c", 3))
            tx.delete("a")
            tx.delete_object(("b", 2))
            inside.set()
            await done.wait()

    tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
    await _within(inside.wait())
    await asyncio.sleep(0)
    done.set()
    await _within(asyncio.gather(*tasks))
    assert observed == [[("a", 1), ("b", 2)]]
    assert table.tab2list() == [("c", 3)]


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_an_exception_discards_the_staged_changes(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("a", 1))

    async def fail_to_persist() -> None:
        async with table.transaction() as tx:
            tx.insert(("b", 2))
            tx.delete_all_objects()
            await asyncio.sleep(0)
            raise RuntimeError("persist failed")

    with pytest.raises(RuntimeError, match="persist failed"):
        await fail_to_persist()
    assert table.tab2list() == [("a", 1)]


async def test_cancellation_discards_the_staged_changes() -> None:
    table = Table(access=Access.PUBLIC)
    staged = asyncio.Event()

    async def transfer() -> None:
        async with table.transaction() as tx:
            tx.insert(("a", 1))
            staged.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(transfer())
    await _within(staged.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert table.tab2list() == []
    async with table.transaction() as tx:  # the lock was released
        tx.insert(("b", 2))
    assert table.tab2list() == [("b", 2)]


# --- the staged view ------------------------------------------------------------------------------


async def test_reads_through_the_transaction_see_the_staged_view() -> None:
    table = Table()
    table.insert([("a", 1), ("b", 2)])
    async with table.transaction() as tx:
        assert tx.table is table
        tx.insert(("c", 3))
        tx.delete("a")
        assert tx.lookup("c") == [("c", 3)]
        assert tx.get("c") == ("c", 3)
        assert tx.lookup("a") == []
        assert not tx.member("a")
        assert tx.get("a", "none") == "none"
        assert tx.member("b")
        assert table.lookup("c") == []
        assert tx.insert_new(("b", 20)) is False
        assert tx.insert_new([("d", 4), ("a", 10)]) is True
        tx.delete_all_objects()
        assert not tx.member("b")
        assert tx.lookup(["unhashable"]) == []
        tx.insert(("e", 5))
        tx.delete(["unhashable"])
    assert table.tab2list() == [("e", 5)]


async def test_staging_follows_the_bag_rules() -> None:
    bag = Table(type=TableType.BAG)
    duplicates = Table(type=TableType.DUPLICATE_BAG)
    for table in (bag, duplicates):
        table.insert(("k", 1))
        async with table.transaction() as tx:
            tx.insert([("k", 1), ("k", 2), ("k", 2)])
            tx.delete_object(("k", 1))
        with pytest.raises(TableError, match="get needs a set"):
            async with table.transaction() as tx:
                tx.get("k")
    assert bag.lookup("k") == [("k", 2)]
    assert len(bag) == 1
    assert duplicates.lookup("k") == [("k", 2), ("k", 2)]
    assert len(duplicates) == 2


async def test_staged_rows_are_validated_when_staged() -> None:
    table = Table()
    async with table.transaction() as tx:
        with pytest.raises(TableError):
            tx.insert(["not a row"])  # type: ignore[list-item]
        tx.insert(("ok", 1))
    assert table.tab2list() == [("ok", 1)]


async def test_a_transaction_is_used_inside_its_block_only() -> None:
    table = Table()
    tx = table.transaction()
    with pytest.raises(TableError, match="not open"):
        tx.insert(("a", 1))
    async with tx:
        tx.insert(("a", 1))
    with pytest.raises(TableError, match="not open"):
        tx.lookup("a")


# --- one transaction at a time --------------------------------------------------------------------


async def test_transactions_of_one_table_run_one_at_a_time() -> None:
    table = Table(access=Access.PUBLIC)
    table.insert(("n", 0))
    order: list[str] = []

    async def increment(name: str) -> None:
        async with table.transaction() as tx:
            order.append(f"{name} in")
            (_, n) = tx.get("n")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            tx.insert(("n", n + 1))
            order.append(f"{name} out")

    await _within(asyncio.gather(increment("first"), increment("second")))
    assert order == ["first in", "first out", "second in", "second out"]
    assert table.get("n") == ("n", 2)  # no lost update


async def test_waiting_for_another_transaction_times_out_and_the_lock_stays_usable() -> None:
    table = Table(access=Access.PUBLIC)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with table.transaction():
            holding.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await _within(holding.wait())
    with pytest.raises(TimeoutError, match="another transaction held it"):
        async with table.transaction(timeout=0.01):
            pass
    release.set()
    await _within(task)
    async with table.transaction(timeout=1) as tx:
        tx.insert(("after", 1))
    assert table.lookup("after") == [("after", 1)]


async def test_a_nested_transaction_raises_instead_of_deadlocking() -> None:
    table = Table()
    async with table.transaction():
        with pytest.raises(TableError, match="nesting would deadlock"):
            async with table.transaction():
                pass


async def test_a_plain_write_during_a_public_transaction_is_overwritten_only_for_touched_keys() -> None:
    table = Table(access=Access.PUBLIC)
    table.insert([("touched", 0), ("other", 0)])
    inside = asyncio.Event()
    proceed = asyncio.Event()

    async def transaction() -> None:
        async with table.transaction() as tx:
            tx.insert(("touched", 1))
            inside.set()
            await proceed.wait()

    task = asyncio.create_task(transaction())
    await _within(inside.wait())
    table.insert([("touched", 99), ("other", 99)])  # plain writes take no lock
    proceed.set()
    await _within(task)
    assert sorted(table.tab2list()) == [("other", 99), ("touched", 1)]


# --- access and deletion --------------------------------------------------------------------------


async def test_a_transaction_needs_write_access() -> None:
    owner = await Agent.start()
    try:
        table = await run_as(owner, Table)
        with pytest.raises(AccessDenied, match="transaction"):
            async with table.transaction():
                pass
    finally:
        await owner.stop()


async def test_a_table_deleted_during_the_transaction_fails_the_commit() -> None:
    table = Table()

    async def delete_meanwhile() -> None:
        async with table.transaction() as tx:
            tx.insert(("a", 1))
            table.delete_table()

    with pytest.raises(TableGone, match="transaction commit"):
        await delete_meanwhile()
    with pytest.raises(TableGone):
        async with table.transaction():
            pass


@pytest.mark.parametrize(
    "operation",
    [
        lambda tx: tx.lookup("a"),
        lambda tx: tx.member("a"),
        lambda tx: tx.get("a"),
        lambda tx: tx.insert(("b", 2)),
        lambda tx: tx.insert_new(("b", 2)),
        lambda tx: tx.delete("a"),
        lambda tx: tx.delete_object(("a", 1)),
        lambda tx: tx.delete_all_objects(),
    ],
)
async def test_every_step_of_a_transaction_on_a_deleted_table_raises_table_gone(
    operation: Callable[[Transaction], object],
) -> None:
    table = Table()
    table.insert(("a", 1))

    async def step_after_deletion() -> None:
        async with table.transaction() as tx:
            table.delete_table()  # what the owner's exit does while a transaction awaits
            with pytest.raises(TableGone, match=r"transaction$"):
                operation(tx)

    with pytest.raises(TableGone, match="transaction commit"):  # and the block fails as a whole
        await step_after_deletion()


async def test_an_owner_given_away_during_the_transaction_fails_the_commit() -> None:
    receiver = await Agent.start()
    try:
        table = Table()

        async def give_away_meanwhile() -> None:
            async with table.transaction() as tx:
                tx.insert(("a", 1))
                table.give_away(receiver)

        with pytest.raises(AccessDenied, match="transaction commit"):
            await give_away_meanwhile()
        assert table.tab2list() == []
    finally:
        await receiver.stop()


async def test_a_commit_that_cannot_be_applied_is_undone() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(1, "a"), (2, "b")])
    with pytest.raises(TableError, match="undone"):
        async with table.transaction() as tx:
            tx.insert([(1, "changed"), (3, "c"), ("x", "incomparable"), (5, "e")])
    assert table.tab2list() == [(1, "a"), (2, "b")]
    assert [table.first(), table.last()] == [1, 2]

    async def clear_then_fail() -> None:
        async with table.transaction() as tx:
            tx.delete_all_objects()
            tx.insert([(7, "g"), ("x", "incomparable")])

    with pytest.raises(TableError, match="undone"):
        await clear_then_fail()
    assert table.tab2list() == [(1, "a"), (2, "b")]


# --- snapshots ------------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_a_snapshot_stays_consistent_while_writers_run(table_type: TableType) -> None:
    # Writers move amounts between accounts in single synchronous steps, keeping the total at
    # 1000. A reader walks key by key, awaiting between keys: on the live table it sees totals
    # that never existed; on a snapshot it always sees 1000.
    accounts = Table(type=table_type, access=Access.PUBLIC)
    accounts.insert([(n, 100) for n in range(10)])
    stop = asyncio.Event()
    moves = 0

    def balance(table: Table, n: int) -> int:
        return sum(row[1] for row in table.lookup(n))

    async def writer(seed: int) -> None:
        nonlocal moves
        step = seed
        while not stop.is_set():
            source, target = step % 10, (step * 7 + 3) % 10
            step += 1
            if source != target:
                amounts = balance(accounts, source) - 1, balance(accounts, target) + 1
                accounts.delete(source)
                accounts.delete(target)
                accounts.insert([(source, amounts[0]), (target, amounts[1])])
                moves += 1
            await asyncio.sleep(0)

    async def walk(table: Table) -> int:
        total = 0
        for n in range(10):
            total += balance(table, n)
            await asyncio.sleep(0)  # the writers run meanwhile
        return total

    writers = [asyncio.create_task(writer(seed)) for seed in range(3)]
    try:
        live_totals = [await walk(accounts) for _ in range(5)]
        snapshot_totals = [await walk(accounts.snapshot()) for _ in range(5)]
    finally:
        stop.set()
        await _within(asyncio.gather(*writers))
    assert moves > 0
    assert any(total != 1000 for total in live_totals)  # the writers really interleave
    assert snapshot_totals == [1000] * 5
    assert sum(row[1] for row in accounts.tab2list()) == 1000


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_a_snapshot_is_independent_of_later_writes(table_type: TableType) -> None:
    table = Table("source", type=table_type)
    table.insert([("a", 1), ("b", 2)])
    snapshot = table.snapshot()
    table.insert([("a", 10), ("c", 3)])
    table.delete("b")
    table.delete_all_objects()
    assert sorted(snapshot.tab2list()) == [("a", 1), ("b", 2)]
    assert len(snapshot) == 2
    assert snapshot.member("b")
    assert snapshot.lookup("a") == [("a", 1)]
    assert "snapshot" in repr(snapshot)
    assert snapshot.info().owner is None


async def test_a_snapshot_answers_queries_and_ranges() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(k, k * k) for k in range(10)])
    snapshot = table.snapshot()
    table.delete_all_objects()
    value = Var("v")
    assert snapshot.select((ANY, value), value > 50, value) == [64, 81]
    assert snapshot.range(2, 3) == [(2, 4), (3, 9)]
    assert [snapshot.first(), snapshot.next(8), snapshot.get(3)] == [0, 9, (3, 9)]
    chunk, continuation = snapshot.select_chunk(ANY, 4)
    assert len(chunk) == 4
    assert continuation is not None


async def test_a_snapshot_outlives_the_owner_and_the_table() -> None:
    owner = await Agent.start()

    def create() -> Table:
        table = Table()
        table.insert(("kept", 1))
        return table

    table = await run_as(owner, create)
    snapshot = await run_as(owner, table.snapshot)
    await owner.stop()
    assert table.deleted
    assert snapshot.tab2list() == [("kept", 1)]
    assert not snapshot.deleted
