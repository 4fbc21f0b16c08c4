"""A stateful property test: each table type against a plain model, through random operations.

The model is a dict ``key -> list of rows`` (a sorted key order for ordered_set). Hypothesis drives
inserts (single, lists, invalid lists), insert_new, deletes, take, update_counter,
update_element, select_delete, select_replace, transactions that commit or fail, snapshots, and the
owner's death with or without a live heir, and ``give_away``; reads check lookup_element, an
ordered_set's first/last/next/prev and ranges, and chunked walks against select. After every step
the table must equal the model. The table is public so the test can write from outside the owning
server; ownership moves are made by the owner.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from supervisor.errors import TableError, TableGone
from supervisor.tables import (
    ANY,
    END_OF_TABLE,
    Access,
    Clause,
    MatchSpec,
    Table,
    TableTransfer,
    TableType,
    Var,
)
from tests.supervisor.test_table_support import Agent, inbox_of, run_as

Row = tuple[Any, ...]
KEYS = st.integers(min_value=0, max_value=4)
VALUES = st.integers(min_value=0, max_value=3)
ROWS = st.tuples(KEYS, VALUES)
LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
value = Var("value")


class TableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner: asyncio.Runner | None = None
        self.agents: list[Agent] = []
        self.model: dict[int, list[Row]] = {}
        self.heir: Agent | None = None
        self.table_type = TableType.SET

    # --- setting up -------------------------------------------------------------------------------

    def _run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(awaitable)

    def _agent(self) -> Agent:
        agent: Agent = self._run(Agent.start())
        self.agents.append(agent)
        return agent

    @initialize(table_type=st.sampled_from(list(TableType)), loop=st.sampled_from(sorted(LOOPS)))
    def create(self, table_type: TableType, loop: str) -> None:
        self.runner = asyncio.Runner(loop_factory=LOOPS[loop])
        self.table_type = table_type
        self._new_table()

    def _new_table(self) -> None:
        self.owner = self._agent()
        self.table = Table("model", type=self.table_type, access=Access.PUBLIC, owner=self.owner)
        self.model = {}
        self.heir = None

    def teardown(self) -> None:
        if self.runner is None:
            return
        for agent in self.agents:
            if agent.alive:
                self._run(agent.stop())
        self.runner.close()

    # --- the model --------------------------------------------------------------------------------

    @property
    def _sets(self) -> bool:
        return self.table_type in (TableType.SET, TableType.ORDERED_SET)

    def _merge(self, rows: list[Row], row: Row) -> list[Row]:
        if self._sets:
            return [row]
        if self.table_type is TableType.BAG and row in rows:
            return rows
        return [*rows, row]

    def _model_insert(self, rows: list[Row]) -> None:
        for row in rows:
            self.model[row[0]] = self._merge(self.model.get(row[0], []), row)

    def _model_rows(self) -> list[Row]:
        keys = sorted(self.model) if self.table_type is TableType.ORDERED_SET else list(self.model)
        return [row for key in keys for row in self.model[key]]

    def _set(self, key: int, rows: list[Row]) -> None:
        if rows:
            self.model[key] = rows
        else:
            self.model.pop(key, None)

    # --- operations -------------------------------------------------------------------------------

    @rule(row=ROWS)
    def insert_one(self, row: Row) -> None:
        self.table.insert(row)
        self._model_insert([row])

    @rule(rows=st.lists(ROWS, max_size=4), broken=st.booleans())
    def insert_list(self, rows: list[Row], broken: bool) -> None:
        if broken:
            try:
                self.table.insert([*rows, ()])
            except TableError:
                return
            raise AssertionError("an invalid row was accepted")
        self.table.insert(rows)
        self._model_insert(rows)

    @rule(rows=st.lists(ROWS, min_size=1, max_size=3))
    def insert_new(self, rows: list[Row]) -> None:
        expected = not any(row[0] in self.model for row in rows)
        assert self.table.insert_new(rows) is expected
        if expected:
            self._model_insert(rows)

    @rule(key=KEYS)
    def delete(self, key: int) -> None:
        self.table.delete(key)
        self.model.pop(key, None)

    @rule(row=ROWS)
    def delete_object(self, row: Row) -> None:
        self.table.delete_object(row)
        self._set(row[0], [r for r in self.model.get(row[0], []) if r != row])

    @rule(key=KEYS)
    def take(self, key: int) -> None:
        assert self.table.take(key) == self.model.pop(key, [])

    @rule()
    def delete_all_objects(self) -> None:
        self.table.delete_all_objects()
        self.model.clear()

    @rule(key=KEYS, incr=st.integers(-3, 3), default=st.none() | VALUES)
    def update_counter(self, key: int, incr: int, default: int | None) -> None:
        row_default = None if default is None else ("ignored", default)
        if not self._sets:
            try:
                self.table.update_counter(key, incr, row_default)
            except TableError:
                return
            raise AssertionError("update_counter worked on a bag")
        if key not in self.model and default is None:
            try:
                self.table.update_counter(key, incr)
            except TableError:
                return
            raise AssertionError("update_counter created a row without a default")
        start = self.model[key][0][1] if key in self.model else default
        assert start is not None
        assert self.table.update_counter(key, incr, row_default) == start + incr
        self.model[key] = [(key, start + incr)]

    @rule(key=KEYS, new=VALUES, default=st.none() | VALUES)
    def update_element(self, key: int, new: int, default: int | None) -> None:
        row_default = None if default is None else ("ignored", default)
        if not self._sets:
            try:
                self.table.update_element(key, (1, new), row_default)
            except TableError:
                return
            raise AssertionError("update_element worked on a bag")
        found = key in self.model
        assert self.table.update_element(key, (1, new), row_default) is (found or default is not None)
        if found or default is not None:
            self.model[key] = [(key, new)]

    @rule(key=KEYS, default=st.none() | VALUES)
    def lookup_element(self, key: int, default: int | None) -> None:
        rows = self.model.get(key, [])
        if rows:
            expected: object = rows[0][1] if self._sets else [row[1] for row in rows]
            assert self.table.lookup_element(key, 1) == expected
        elif default is None:
            try:
                self.table.lookup_element(key, 1)
            except TableError:
                return
            raise AssertionError("lookup_element of a missing key without a default")
        else:
            assert self.table.lookup_element(key, 1, default) == default

    @rule(low=st.none() | KEYS, high=st.none() | KEYS, key=KEYS)
    def navigate(self, low: int | None, high: int | None, key: int) -> None:
        if self.table_type is not TableType.ORDERED_SET:
            return
        keys = sorted(self.model)
        table = self.table
        assert table.first() == (keys[0] if keys else END_OF_TABLE)
        assert table.last() == (keys[-1] if keys else END_OF_TABLE)
        assert table.next(key) == next((k for k in keys if k > key), END_OF_TABLE)
        assert table.prev(key) == next((k for k in reversed(keys) if k < key), END_OF_TABLE)
        inside = [self.model[k][0] for k in keys if (low is None or k >= low) and (high is None or k <= high)]
        assert table.range(low, high) == inside

    @rule(limit=st.integers(min_value=1, max_value=4), bound=st.booleans())
    def select_in_chunks(self, limit: int, bound: bool) -> None:
        spec = MatchSpec(Clause((1, ANY)), Clause((3, ANY))) if bound else MatchSpec.of(ANY)
        walked: list[Row] = []
        chunk, more = self.table.select_chunk(spec, limit)
        walked += chunk
        while more is not None:
            assert len(chunk) == limit
            chunk, more = self.table.select_continue(more)
            walked += chunk
        assert walked == self.table.select(spec)

    @rule(threshold=VALUES)
    def select_delete(self, threshold: int) -> None:
        before = len(self._model_rows())
        for key in list(self.model):
            self._set(key, [row for row in self.model[key] if not row[1] >= threshold])
        deleted = self.table.select_delete((ANY, value), value >= threshold)
        assert deleted == before - len(self._model_rows())

    @rule(match=VALUES)
    def select_replace(self, match: int) -> None:
        count = 0
        for key in list(self.model):
            rows = []
            for row in self.model[key]:
                if row[1] == match:
                    row = (row[0], match + 1)
                    count += 1
                if self.table_type is not TableType.BAG or row not in rows:
                    rows.append(row)
            self._set(key, rows)
        key_var = Var("key")
        assert self.table.select_replace((key_var, match), None, (key_var, match + 1)) == count

    @rule(rows=st.lists(ROWS, max_size=3), deleted=st.lists(KEYS, max_size=2), fail=st.booleans())
    def transaction(self, rows: list[Row], deleted: list[int], fail: bool) -> None:
        async def body() -> None:
            async with self.table.transaction() as tx:
                tx.insert(rows)
                await asyncio.sleep(0)
                for key in deleted:
                    tx.delete(key)
                if fail:
                    raise RuntimeError("rolled back")

        try:
            self._run(body())
        except RuntimeError:
            assert fail
            return
        self._model_insert(rows)
        for key in deleted:
            self.model.pop(key, None)

    @rule(row=ROWS)
    def snapshot_ignores_later_writes(self, row: Row) -> None:
        snapshot = self.table.snapshot()
        expected = sorted(self._model_rows())
        self.table.insert(row)
        self._model_insert([row])
        assert sorted(snapshot.tab2list()) == expected

    # --- ownership --------------------------------------------------------------------------------

    @rule(heir_alive=st.booleans())
    def set_heir(self, heir_alive: bool) -> None:
        heir = self._agent()
        self._run(run_as(self.owner, lambda: self.table.set_heir(heir, "data")))
        self.heir = heir
        if not heir_alive:
            self._run(heir.stop())

    @rule()
    def owner_exits(self) -> None:
        heir = self.heir
        old = self.owner
        self._run(old.stop())
        if heir is not None and heir.alive:
            assert self.table.owner is heir
            assert self.table.heir is None
            assert self._run(inbox_of(heir)) == [TableTransfer(self.table, old, "data")]
            self.owner, self.heir = heir, None
            heir.inbox.clear()
            return
        for operation in (
            lambda: self.table.lookup(0),
            lambda: self.table.insert((0, 0)),
            lambda: self.table.select(ANY),
            lambda: len(self.table),
        ):
            try:
                operation()
            except TableGone:
                continue
            raise AssertionError("a deleted table answered")
        self._new_table()  # and go on with a fresh one

    @rule()
    def give_away(self) -> None:
        receiver = self._agent()
        old = self.owner
        self._run(run_as(old, lambda: self.table.give_away(receiver, "gift")))
        assert self._run(inbox_of(receiver)) == [TableTransfer(self.table, old, "gift")]
        receiver.inbox.clear()
        self.owner = receiver

    # --- what must always hold --------------------------------------------------------------------

    @invariant()
    def equals_the_model(self) -> None:
        if self.runner is None:
            return
        table = self.table
        rows = table.tab2list()
        if self.table_type is TableType.ORDERED_SET:
            assert rows == self._model_rows()
        else:
            assert sorted(rows) == sorted(self._model_rows())
        assert len(table) == len(rows)
        for key in range(5):
            assert table.lookup(key) == self.model.get(key, [])
            assert table.member(key) is (key in self.model)
        assert table.owner is self.owner


TestTableModel = TableMachine.TestCase
TestTableModel.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
