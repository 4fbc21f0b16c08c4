"""Table types and single-row operations, item by item against ETS (docs/otp-conformance.md#tables).

Groups: defaults and types, rows and keys, insert/insert_new, reads, take/delete, update_counter,
update_element, ordered navigation and ranges, iteration/len/info. Every test runs in a task that
owns the tables it creates.
"""

from __future__ import annotations

import asyncio
import decimal
import functools
import inspect
from typing import Any, NamedTuple

import pytest

from supervisor.errors import AccessDenied, TableError, TableGone
from supervisor.tables import END_OF_TABLE, Access, Table, TableType

ALL_TYPES = list(TableType)
SET_TYPES = [TableType.SET, TableType.ORDERED_SET]
BAG_TYPES = [TableType.BAG, TableType.DUPLICATE_BAG]


class Point(NamedTuple):
    name: str
    x: int


# --- defaults and types -------------------------------------------------------------------------


async def test_defaults_are_set_protected_keypos_0_and_no_heir() -> None:
    info = Table().info()
    assert (info.type, info.access, info.keypos, info.heir, info.named) == (
        TableType.SET,
        Access.PROTECTED,
        0,
        None,
        False,
    )
    assert info.owner is asyncio.current_task()


async def test_set_keeps_one_row_per_key_and_insert_replaces_it() -> None:
    table = Table()
    table.insert(("a", 1))
    table.insert(("a", 2))
    assert table.lookup("a") == [("a", 2)]
    assert len(table) == 1


async def test_set_treats_1_and_1_0_as_one_key_unlike_ets() -> None:
    # ETS compares set keys by match (1 and 1.0 differ); a dict cannot: a documented difference.
    table = Table()
    table.insert([(1, "int"), (1.0, "float")])
    assert table.tab2list() == [(1.0, "float")]
    assert table.lookup(1) == table.lookup(1.0) == [(1.0, "float")]


async def test_ordered_set_treats_1_and_1_0_as_one_key_like_ets() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(1, "int"), (2, "two"), (1.0, "float")])
    assert table.tab2list() == [(1.0, "float"), (2, "two")]
    assert table.first() == 1


async def test_ordered_set_keeps_rows_in_key_order() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([("c", 3), ("a", 1), ("b", 2)])
    table.insert(("aa", 0))
    expected = [("a", 1), ("aa", 0), ("b", 2), ("c", 3)]
    assert table.tab2list() == expected
    assert list(table) == expected


async def test_ordered_set_refuses_incomparable_keys_and_changes_nothing() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(1, "a"), (3, "c")])
    with pytest.raises(TableError, match="not usable"):
        table.insert(("x", "str key"))
    with pytest.raises(TableError, match="comparable"):
        table.insert([(2, "b"), ("y", "str key"), (4, "d")])
    assert table.tab2list() == [(1, "a"), (3, "c")]
    assert [table.first(), table.next(1), table.last()] == [1, 3, 3]


async def test_bag_ignores_an_equal_row_and_keeps_insertion_order() -> None:
    table = Table(type=TableType.BAG)
    table.insert([("k", 2), ("k", 1), ("k", 2)])
    table.insert(("k", 1))
    assert table.lookup("k") == [("k", 2), ("k", 1)]
    assert len(table) == 2


async def test_duplicate_bag_keeps_equal_rows() -> None:
    table = Table(type=TableType.DUPLICATE_BAG)
    table.insert([("k", 2), ("k", 1), ("k", 2)])
    assert table.lookup("k") == [("k", 2), ("k", 1), ("k", 2)]
    assert len(table) == 3


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_no_operation_awaits_so_each_is_atomic(table_type: TableType) -> None:
    # Atomicity and isolation of single operations rest on this: nothing else runs in between.
    table = Table(type=table_type)
    operations = [name for name in dir(table) if not name.startswith("_")]
    assert "insert" in operations
    assert "select_replace" in operations
    for name in operations:
        attribute = getattr(type(table), name)
        assert not inspect.iscoroutinefunction(attribute), name
        assert not inspect.isasyncgenfunction(attribute), name


# --- rows and keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_keypos_chooses_the_key_element(table_type: TableType) -> None:
    table = Table(type=table_type, keypos=1)
    table.insert([("x", "k1"), ("y", "k2")])
    assert table.lookup("k1") == [("x", "k1")]
    assert table.member("k2")
    assert not table.member("x")


@pytest.mark.parametrize("table_type", ALL_TYPES)
@pytest.mark.parametrize("bad", [["k", 1], (), ([], 1), "row", 5])
async def test_a_row_is_a_tuple_with_a_hashable_key(table_type: TableType, bad: Any) -> None:
    table = Table(type=table_type)
    with pytest.raises(TableError):
        table.insert(bad)
    with pytest.raises(TableError):
        table.insert([("ok", 1), bad])
    assert len(table) == 0


@pytest.mark.parametrize("keypos", [-1, 1.5, True, "0"])
async def test_keypos_must_be_a_0_based_index(keypos: Any) -> None:
    with pytest.raises(TableError, match="keypos"):
        Table(keypos=keypos)


async def test_a_row_too_short_for_keypos_is_refused() -> None:
    table = Table(keypos=2)
    with pytest.raises(TableError, match="keypos 2"):
        table.insert(("a", "b"))


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_named_tuples_are_rows(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(Point("p", 1))
    table.insert([Point("q", 2)])
    assert table.lookup("p") == [Point("p", 1)]
    assert isinstance(table.lookup("q")[0], Point)


# --- insert and insert_new ------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_insert_of_a_list_is_all_or_nothing(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("a", 0))
    with pytest.raises(TableError):
        table.insert([("a", 1), ("b", 2), (), ("d", 4)])
    assert table.tab2list() == [("a", 0)]


@pytest.mark.parametrize("bad_key", [float("nan"), decimal.Decimal("NaN"), decimal.Decimal("sNaN")])
async def test_an_ordered_set_refuses_keys_it_cannot_order_and_stays_whole(bad_key: object) -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(1, "a"), (3, "c")])
    with pytest.raises(TableError):
        table.insert([(2, "b"), (bad_key, "x")])  # all or nothing: 2 is not kept either
    with pytest.raises(TableError):
        table.insert((bad_key, "x"))
    with pytest.raises(TableError):
        table.update_counter(bad_key, 1, (bad_key, 0))
    assert table.tab2list() == [(1, "a"), (3, "c")]
    assert list(table) == [(1, "a"), (3, "c")]
    assert table.next(1) == 3
    table.delete(3)
    assert table.tab2list() == [(1, "a")]


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_insert_takes_a_row_or_a_list_not_other_iterables(table_type: TableType) -> None:
    table = Table(type=table_type)
    with pytest.raises(TableError, match="a list of rows"):
        table.insert(iter([("a", 1)]))  # type: ignore[arg-type]


async def test_a_list_with_one_key_twice_keeps_the_last_row_in_a_set() -> None:
    table = Table()
    table.insert([("a", 1), ("a", 2)])
    assert table.tab2list() == [("a", 2)]


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_insert_new_inserts_nothing_when_any_key_exists(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("b", 0))
    assert table.insert_new([("a", 1), ("b", 2), ("c", 3)]) is False
    assert table.insert_new(("b", 9)) is False
    assert table.tab2list() == [("b", 0)]


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_insert_new_inserts_everything_when_every_key_is_absent(
    table_type: TableType,
) -> None:
    table = Table(type=table_type)
    assert table.insert_new([("a", 1), ("b", 2)]) is True
    assert table.insert_new(("c", 3)) is True
    assert sorted(table.tab2list()) == [("a", 1), ("b", 2), ("c", 3)]


# --- reads ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_lookup_returns_a_fresh_list(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("a", 1))
    found = table.lookup("a")
    found.append(("a", 2))
    assert table.lookup("a") == [("a", 1)]
    assert table.lookup("missing") == []


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_reads_of_an_unhashable_key_find_nothing(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("a", 1))
    assert table.lookup(["a"]) == []
    assert table.member(["a"]) is False
    assert ["a"] not in table
    assert table.lookup_element(["a"], 1, "default") == "default"
    assert table.take(["a"]) == []
    table.delete(["a"])
    assert len(table) == 1


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_get_returns_the_row_or_the_default(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("a", 1))
    assert table.get("a") == ("a", 1)
    assert table.get("b") is None
    assert table.get("b", "none") == "none"
    assert table.get(["unhashable"], 0) == 0


@pytest.mark.parametrize("table_type", BAG_TYPES)
async def test_get_is_refused_on_bags(table_type: TableType) -> None:
    with pytest.raises(TableError, match="get needs a set or ordered_set"):
        Table(type=table_type).get("a")


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_member(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("a", 1))
    assert table.member("a")
    assert "a" in table
    assert not table.member("b")


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_lookup_element_of_a_missing_key_raises_unless_default(table_type: TableType) -> None:
    table = Table(type=table_type)
    with pytest.raises(TableError, match="no row with key 'a'"):
        table.lookup_element("a", 1)
    assert table.lookup_element("a", 1, None) is None


@pytest.mark.parametrize("table_type", ALL_TYPES)
@pytest.mark.parametrize("pos", [2, -1, "1"])
async def test_lookup_element_out_of_range_always_raises(table_type: TableType, pos: Any) -> None:
    table = Table(type=table_type)
    table.insert(("a", 1))
    with pytest.raises(TableError, match="out of range"):
        table.lookup_element("a", pos, "default")


async def test_lookup_element_of_a_set_is_the_element() -> None:
    table = Table()
    table.insert(("a", 1, 2))
    assert table.lookup_element("a", 2) == 2


@pytest.mark.parametrize("table_type", BAG_TYPES)
async def test_lookup_element_of_a_bag_lists_one_element_per_row(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("a", 1), ("a", 2)])
    assert table.lookup_element("a", 1) == [1, 2]


# --- take and delete ------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_take_returns_the_rows_and_removes_them(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("a", 1), ("b", 2)])
    assert table.take("a") == [("a", 1)]
    assert table.take("a") == []
    assert table.tab2list() == [("b", 2)]
    assert len(table) == 1


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_delete_removes_the_key_and_a_missing_key_is_fine(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("a", 1), ("b", 2)])
    table.delete("a")
    table.delete("missing")
    assert table.tab2list() == [("b", 2)]
    assert len(table) == 1


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_delete_object_of_a_set_removes_the_row_only_if_equal(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("a", 1), ("b", 2)])
    table.delete_object(("a", 99))
    table.delete_object(("b", 2))
    table.delete_object(("missing", 0))
    assert table.tab2list() == [("a", 1)]


@pytest.mark.parametrize("table_type", BAG_TYPES)
async def test_delete_object_of_a_bag_keeps_other_rows_of_the_key(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("a", 1), ("a", 2), ("a", 1)])
    table.delete_object(("a", 1))
    assert table.lookup("a") == [("a", 2)]
    assert len(table) == 1
    table.delete_object(("a", 2))
    assert not table.member("a")
    assert len(table) == 0


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_delete_object_needs_a_row(table_type: TableType) -> None:
    with pytest.raises(TableError):
        Table(type=table_type).delete_object("a")  # type: ignore[arg-type]


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_delete_all_objects_empties_the_table(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("a", 1), ("b", 2), ("b", 3)])
    table.delete_all_objects()
    assert table.tab2list() == []
    assert len(table) == 0
    table.insert(("c", 1))
    assert table.tab2list() == [("c", 1)]


# --- update_counter -------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_update_counter_adds_to_the_element_after_the_key(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([("hits", 10), ("wide", 1, 2, 3)])
    assert table.update_counter("hits", 5) == 15
    assert table.update_counter("hits", -20) == -5
    assert table.update_counter("wide", 1) == 2
    assert table.tab2list() == [("hits", -5), ("wide", 2, 2, 3)]


async def test_update_counter_at_a_position() -> None:
    table = Table()
    table.insert(("k", 1, 2, 3))
    assert table.update_counter("k", (3, 10)) == 13
    assert table.lookup("k") == [("k", 1, 2, 13)]


@pytest.mark.parametrize(
    ("start", "op", "expected"),
    [
        (8, (1, 1, 10, 0), 9),  # not above the threshold yet
        (9, (1, 2, 10, 0), 0),  # would pass 10: reset to 0
        (10, (1, 0, 9, -1), -1),  # incr 0 counts as non-negative: above 9, so reset
        (2, (1, -1, 0, 100), 1),
        (0, (1, -1, 0, 100), 100),  # below 0: reset
    ],
)
async def test_update_counter_with_a_threshold_resets(
    start: int, op: tuple[int, int, int, int], expected: int
) -> None:
    table = Table()
    table.insert(("k", start))
    assert table.update_counter("k", op) == expected
    assert table.lookup_element("k", 1) == expected


async def test_update_counter_with_a_list_applies_in_order_and_returns_a_list() -> None:
    table = Table()
    table.insert(("k", 0, 100))
    assert table.update_counter("k", [(1, 1), (2, -10), (1, 1, 1, 50)]) == [1, 90, 50]
    assert table.lookup("k") == [("k", 50, 90)]


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_update_counter_of_a_missing_key_without_default_raises(
    table_type: TableType,
) -> None:
    table = Table(type=table_type)
    with pytest.raises(TableError, match="no row with key 'k' and no default"):
        table.update_counter("k", 1)
    assert len(table) == 0


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_update_counter_inserts_the_default_with_the_key_replaced(
    table_type: TableType,
) -> None:
    table = Table(type=table_type)
    assert table.update_counter("k", 3, default=("ignored", 10)) == 13
    assert table.tab2list() == [("k", 13)]
    if table_type is TableType.ORDERED_SET:
        assert table.first() == "k"


@pytest.mark.parametrize(
    ("row", "op"),
    [
        (("k", "text"), 1),
        (("k", 1.5), 1),
        (("k", True), 1),
        (("k", 1), (0, 1)),  # the key itself
        (("k", 1), (2, 1)),  # out of range
        (("k", 1), (-1, 1)),
        (("k", 1), [(1, 1), (0, 1)]),  # the second op is bad: the first is not applied either
        (("k", 1), 1.0),
        (("k", 1), (1, 1, 2)),
        (("k", 1), "1"),
    ],
)
async def test_update_counter_refuses_bad_ops_and_changes_nothing(row: Any, op: Any) -> None:
    table = Table()
    table.insert(row)
    with pytest.raises(TableError):
        table.update_counter("k", op)
    assert table.tab2list() == [row]


@pytest.mark.parametrize("table_type", BAG_TYPES)
async def test_update_counter_is_refused_on_bags(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert(("k", 1))
    with pytest.raises(TableError, match="update_counter needs a set or ordered_set"):
        table.update_counter("k", 1)


async def test_update_counter_with_a_default_needs_an_orderable_key_in_an_ordered_set() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert((1, 0))
    with pytest.raises(TableError, match="not usable"):
        table.update_counter("x", 1, default=(None, 0))
    assert table.tab2list() == [(1, 0)]


async def test_update_counter_keeps_named_tuple_rows_and_other_keypos() -> None:
    table = Table()
    table.insert(Point("p", 1))
    assert table.update_counter("p", 1) == 2
    assert table.lookup("p") == [Point("p", 2)]
    assert isinstance(table.get("p"), Point)
    by_second = Table(keypos=1)
    by_second.insert((5, "k", 7))
    assert by_second.update_counter("k", 1) == 8
    assert by_second.lookup("k") == [(5, "k", 8)]


# --- update_element -------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_update_element_sets_positions_and_says_if_the_row_was_found(
    table_type: TableType,
) -> None:
    table = Table(type=table_type)
    table.insert(("k", 1, 2))
    assert table.update_element("k", (1, "one")) is True
    assert table.update_element("k", [(2, "two"), (1, "uno")]) is True
    assert table.lookup("k") == [("k", "uno", "two")]
    assert table.update_element("missing", (1, 0)) is False


@pytest.mark.parametrize("table_type", SET_TYPES)
async def test_update_element_with_a_default_inserts_it_under_the_key_then_changes_it(
    table_type: TableType,
) -> None:
    table = Table(type=table_type, keypos=1)
    assert table.update_element("k", (2, "set"), ("ignored", "placeholder", 0, 0)) is True
    assert table.lookup("k") == [("ignored", "k", "set", 0)]  # the key put at keypos
    # A present row is changed as it is: the default is not used.
    assert table.update_element("k", (3, 9), ("other", "x", 1, 1)) is True
    assert table.lookup("k") == [("ignored", "k", "set", 9)]
    if table_type is TableType.ORDERED_SET:
        assert table.first() == "k"


@pytest.mark.parametrize("default", [("short",), "not a row", 5])
async def test_update_element_refuses_a_bad_default_and_changes_nothing(default: Any) -> None:
    table = Table(keypos=1)
    with pytest.raises(TableError, match="update_element"):
        table.update_element("k", (2, "x"), default)
    with pytest.raises(TableError):
        table.update_element("k", (5, "x"), (0, 0, 0))  # a position past the default row
    with pytest.raises(TableError):
        table.update_element(["unhashable"], (2, "x"), (0, 0, 0))
    assert len(table) == 0


async def test_update_element_with_a_default_keeps_an_ordered_set_ordered() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(1, "a"), (3, "c")])
    assert table.update_element(2, (1, "b"), (0, None)) is True
    assert table.tab2list() == [(1, "a"), (2, "b"), (3, "c")]
    with pytest.raises(TableError):
        table.update_element("text", (1, "x"), (0, None))  # not comparable with the int keys
    assert table.tab2list() == [(1, "a"), (2, "b"), (3, "c")]


@pytest.mark.parametrize("change", [(0, "new key"), (3, "x"), [(1, "ok"), (-1, "x")], "bad"])
async def test_update_element_refuses_the_key_and_bad_positions(change: Any) -> None:
    table = Table()
    table.insert(("k", 1, 2))
    with pytest.raises(TableError):
        table.update_element("k", change)
    assert table.lookup("k") == [("k", 1, 2)]


@pytest.mark.parametrize("table_type", BAG_TYPES)
async def test_update_element_is_refused_on_bags(table_type: TableType) -> None:
    with pytest.raises(TableError, match="update_element needs a set or ordered_set"):
        Table(type=table_type).update_element("k", (1, 0))


# --- ordered navigation and ranges ----------------------------------------------------------------


async def test_first_last_next_prev_walk_the_keys_in_order() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(10, "a"), (30, "c"), (20, "b")])
    assert [table.first(), table.last()] == [10, 30]
    assert [table.next(10), table.next(15), table.next(30)] == [20, 20, END_OF_TABLE]
    assert [table.prev(30), table.prev(25), table.prev(10)] == [20, 20, END_OF_TABLE]


async def test_navigation_of_an_empty_ordered_set_ends_at_once() -> None:
    table = Table(type=TableType.ORDERED_SET)
    assert table.first() is END_OF_TABLE
    assert table.last() is END_OF_TABLE
    assert repr(END_OF_TABLE) == "END_OF_TABLE"


async def test_navigation_with_an_incomparable_key_raises() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert((1, "a"))
    with pytest.raises(TableError, match="not comparable"):
        table.next("x")
    with pytest.raises(TableError, match="not comparable"):
        table.range("a", "b")


@pytest.mark.parametrize("table_type", [TableType.SET, *BAG_TYPES])
@pytest.mark.parametrize("operation", ["first", "last", "next", "prev", "range"])
async def test_navigation_needs_an_ordered_set(table_type: TableType, operation: str) -> None:
    table = Table(type=table_type)
    args = () if operation in ("first", "last", "range") else ("k",)
    with pytest.raises(TableError, match="needs an ordered_set"):
        getattr(table, operation)(*args)


async def test_range_bounds_are_inclusive_or_open() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(k, k * k) for k in range(10)])
    assert table.range(3, 5) == [(3, 9), (4, 16), (5, 25)]
    assert table.range(3, 5, inclusive=(False, False)) == [(4, 16)]
    assert table.range(None, 1) == [(0, 0), (1, 1)]
    assert table.range(8) == [(8, 64), (9, 81)]
    assert table.range(7, 8, reverse=True) == [(8, 64), (7, 49)]
    assert table.range(20, 30) == []


@functools.total_ordering
class CountedKey:
    """A key that counts the comparisons made with it."""

    def __init__(self, n: int, counter: list[int]) -> None:
        self.n = n
        self.counter = counter

    def __lt__(self, other: CountedKey) -> bool:
        self.counter[0] += 1
        return self.n < other.n

    def __eq__(self, other: object) -> bool:
        self.counter[0] += 1
        return isinstance(other, CountedKey) and self.n == other.n

    def __hash__(self) -> int:
        return hash(self.n)


async def test_range_bisects_instead_of_scanning() -> None:
    counter = [0]
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(CountedKey(n, counter), n) for n in range(20_000)])
    counter[0] = 0
    rows = table.range(CountedKey(10_000, counter), CountedKey(10_009, counter))
    assert [row[1] for row in rows] == list(range(10_000, 10_010))
    assert counter[0] < 200, f"{counter[0]} comparisons: that is a scan"


# --- iteration, len, info -------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_iteration_walks_a_copy_so_writes_during_the_walk_are_safe(
    table_type: TableType,
) -> None:
    table = Table(type=table_type)
    table.insert([(k, 0) for k in range(5)])
    seen = []
    for row in table:
        seen.append(row)
        table.insert((row[0] + 100, 1))
        table.delete(row[0])
        await asyncio.sleep(0)
    assert sorted(seen) == [(k, 0) for k in range(5)]
    assert sorted(table.tab2list()) == [(k + 100, 1) for k in range(5)]


async def test_info_reports_size_memory_owner_heir_type_and_access() -> None:
    table = Table("sizes", type=TableType.DUPLICATE_BAG, access=Access.PUBLIC, keypos=1)
    empty = table.info().memory
    table.insert([(n, "k") for n in range(1000)])
    info = table.info()
    assert (info.name, info.type, info.access, info.keypos, info.size) == (
        "sizes",
        TableType.DUPLICATE_BAG,
        Access.PUBLIC,
        1,
        1000,
    )
    assert info.owner is asyncio.current_task()
    assert info.heir is None
    assert info.memory > empty + 1000 * 40


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_memory_estimate_grows_with_the_rows(table_type: TableType) -> None:
    table = Table(type=table_type)
    before = table.info().memory
    table.insert([(k, "x" * 100) for k in range(500)])
    assert table.info().memory >= before + 500 * 100


async def test_a_table_handle_is_true_even_when_empty() -> None:
    table = Table()
    assert table
    assert len(table) == 0


async def test_repr_shows_name_type_access_owner_and_size() -> None:
    table = Table("shown", type=TableType.BAG)
    table.insert(("a", 1))
    text = repr(table)
    assert "'shown'" in text
    assert "bag protected" in text
    assert "size=1" in text
    assert "Task" in text


async def test_a_getter_reads_the_live_rows_and_finds_nothing_once_the_table_is_gone() -> None:
    table = Table("getter", type=TableType.SET)
    get = table.getter()
    table.insert(("a", 1))
    assert get("a") == ("a", 1)
    assert get("b", "none") == "none"
    table.insert(("a", 2))
    assert get("a") == ("a", 2)
    table.delete_table()
    assert get("a") is None
    with pytest.raises(TableGone):
        table.getter()


async def test_a_getter_is_refused_on_a_bag_and_to_a_stranger_of_a_private_table() -> None:
    with pytest.raises(TableError, match="getter"):
        Table("bag-getter", type=TableType.BAG).getter()
    private = Table("private-getter", access=Access.PRIVATE)

    async def stranger() -> None:
        private.getter()

    with pytest.raises(AccessDenied):
        await asyncio.create_task(stranger())
