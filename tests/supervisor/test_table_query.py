"""The pattern language and queries (docs/otp-conformance.md#table-queries).

Groups: heads, guards, results, clauses, errors, select/select_count/match, select_delete,
select_replace, bound keys (a lookup, not a scan), chunked select with a continuation, compilation.
"""

from __future__ import annotations

from typing import Any

import pytest

from supervisor.errors import TableError
from supervisor.tables import ANY, BINDINGS, WHOLE, Clause, Expr, MatchSpec, Table, TableType, Var

ALL_TYPES = list(TableType)
x, y, z = Var("x"), Var("y"), Var("z")

FRUIT = [
    ("apple", "red", 3),
    ("banana", "yellow", 1),
    ("cherry", "red", 12),
    ("kiwi", "green", 7),
]


def fruit(table_type: TableType = TableType.ORDERED_SET) -> Table:
    table = Table(type=table_type)
    table.insert(FRUIT)
    return table


# --- heads ----------------------------------------------------------------------------------------


async def test_any_matches_every_row_and_a_var_head_binds_the_row() -> None:
    table = fruit()
    assert table.select(ANY) == FRUIT
    assert table.select(x, result=BINDINGS) == [(row,) for row in FRUIT]


async def test_elements_are_literals_wildcards_or_variables() -> None:
    table = fruit()
    assert table.select((x, "red", ANY), result=x) == ["apple", "cherry"]
    assert table.match((x, "red", y)) == [("apple", 3), ("cherry", 12)]
    assert table.match_object((ANY, "green", ANY)) == [("kiwi", "green", 7)]


async def test_a_variable_twice_must_bind_equal_values() -> None:
    table = Table()
    table.insert([(1, 1, "same"), (2, 3, "different"), (4, 4.0, "equal by ==")])
    assert table.select((x, x, ANY), result=x) == [1, 4]


async def test_a_tuple_head_matches_only_rows_of_its_length() -> None:
    table = Table()
    table.insert([("a", 1), ("b", 1, 2), ("c",)])
    assert table.select((ANY, ANY)) == [("a", 1)]
    assert table.select((ANY,)) == [("c",)]


async def test_nested_tuple_patterns() -> None:
    table = Table()
    table.insert([("p", (1, 2)), ("q", (1, 2, 3)), ("r", "not a tuple"), ("s", (9, 2))])
    assert table.select((x, (1, y)), result=(x, y)) == [("p", 2)]
    assert table.select((ANY, (ANY, 2)), result=WHOLE) == [("p", (1, 2)), ("s", (9, 2))]


async def test_literals_match_with_equality_so_1_matches_1_0() -> None:
    table = Table(type=TableType.DUPLICATE_BAG)
    table.insert([("k", 1), ("k", 1.0), ("k", 2)])
    assert table.select((ANY, 1)) == [("k", 1), ("k", 1.0)]
    assert table.select((ANY, 1.0)) == [("k", 1), ("k", 1.0)]


# --- guards ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("guard", "expected"),
    [
        (y > 5, ["cherry", "kiwi"]),
        (y >= 7, ["cherry", "kiwi"]),
        (y < 3, ["banana"]),
        (y <= 3, ["apple", "banana"]),
        (y == 7, ["kiwi"]),
        (y != 7, ["apple", "banana", "cherry"]),
        ((y > 2) & (y < 10), ["apple", "kiwi"]),
        ((y < 2) | (y > 10), ["banana", "cherry"]),
        (~(y > 2), ["banana"]),
        (y * 2 + 1 > 10, ["cherry", "kiwi"]),
        (y - 1 == 2, ["apple"]),
        (100 / y > 50, ["banana"]),
        (y // 5 == 1, ["kiwi"]),
        (y % 2 == 0, ["cherry"]),
        (-y < -10, ["cherry"]),
        # a set of ints: a set of strings would print in a per-process order, and the test ids
        # must be the same in every process (pytest-xdist compares them)
        (y.is_in({7, 3}), ["apple", "kiwi"]),
        (x.is_in(("kiwi", "apple")), ["apple", "kiwi"]),
        (y.is_instance(int) & (y > 10), ["cherry"]),
        (10 - y > 5, ["apple", "banana"]),
    ],
    ids=repr,
)
async def test_guard_expressions(guard: Expr, expected: list[str]) -> None:
    assert fruit().select((x, ANY, y), guard=guard, result=x) == expected


async def test_a_callable_guard_gets_the_bindings_in_head_order() -> None:
    calls: list[tuple[Any, ...]] = []

    def guard(*bound: Any) -> bool:
        calls.append(bound)
        return bool(bound[1] == "red")

    assert fruit().select((x, y, ANY), guard=guard, result=x) == ["apple", "cherry"]
    assert calls[0] == ("apple", "red")


@pytest.mark.parametrize("truthy", [1, "yes", [True], 1.0])
async def test_a_guard_must_give_exactly_true(truthy: Any) -> None:
    table = fruit()
    assert table.select(ANY, guard=lambda: truthy) == []
    assert table.select(ANY, guard=lambda: True) == FRUIT


async def test_an_expression_guard_that_is_not_a_condition_must_give_exactly_true() -> None:
    table = fruit()
    assert table.select((ANY, ANY, y), guard=y + 0) == []  # non-zero ints: truthy, not True
    assert table.select((ANY, ANY, y), guard=(y > 0) & (y + 0)) == []
    assert table.select((ANY, ANY, y), guard=~(y + 0)) == FRUIT
    assert table.select((ANY, ANY, y), guard=Expr("==", y, y)) == FRUIT


async def test_a_guard_expression_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match="no truth value"):
        1 < y < 5  # noqa: B015 - the point: Python asks bool() of the first comparison
    with pytest.raises(TypeError, match=r"combine expressions with & \| ~"):
        bool(y > 1)


async def test_an_exception_in_a_guard_propagates_and_changes_nothing() -> None:
    table = Table()
    table.insert([("a", 1), ("b", "text"), ("c", 3)])
    with pytest.raises(TypeError):
        table.select_delete((ANY, y), y > 0)
    with pytest.raises(ZeroDivisionError):
        table.select_delete((ANY, y), lambda v: v < 1 / 0)
    assert len(table) == 3


async def test_guard_is_instance_first_makes_mixed_rows_safe() -> None:
    table = Table()
    table.insert([("a", 1), ("b", "text"), ("c", 3)])
    assert table.select_delete((ANY, y), y.is_instance(int) & (y > 2)) == 1
    assert sorted(table.tab2list()) == [("a", 1), ("b", "text")]


# --- results --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (WHOLE, ("kiwi", "green", 7)),
        (BINDINGS, ("kiwi", 7)),
        (x, "kiwi"),
        ((y, x), (7, "kiwi")),
        ((x, (y, "const"), WHOLE), ("kiwi", (7, "const"), ("kiwi", "green", 7))),
        (y * 10, 70),
        ((x, y > 5), ("kiwi", True)),
        ((x, (y > 5) & (y < 6)), ("kiwi", False)),
        (lambda name, n: f"{name}:{n}", "kiwi:7"),
        ("constant", "constant"),
        ((BINDINGS,), (("kiwi", 7),)),
    ],
    ids=lambda value: "<function>" if callable(value) else repr(value),  # stable across processes
)
async def test_result_shapes(result: Any, expected: Any) -> None:
    assert fruit().select((x, "green", y), result=result) == [expected]


async def test_bindings_of_a_head_without_variables_are_empty() -> None:
    assert fruit().match(("kiwi", ANY, ANY)) == [()]


# --- clauses --------------------------------------------------------------------------------------


async def test_clauses_are_tried_in_order_and_a_failing_guard_moves_on() -> None:
    spec = MatchSpec(
        Clause((x, "red", y), y > 5, ("big red", x)),
        Clause((x, "red", ANY), None, ("red", x)),
        Clause((x, ANY, y), lambda name, n: n == 1, ("one", x)),
    )
    assert fruit().select(spec) == [("red", "apple"), ("one", "banana"), ("big red", "cherry")]
    # ETS select_count counts only rows whose result is `true`; these results are tuples.
    assert fruit().select_count(spec) == 0
    assert fruit().select_count(MatchSpec(*(Clause(c.head, c.guard, True) for c in spec.clauses))) == 3
    assert len(MatchSpec.of(ANY).clauses) == 1
    assert "Clause" in repr(spec)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "guard", "result", "message"),
    [
        ("not a tuple", None, WHOLE, "a head is a tuple pattern"),
        ((x + 1, ANY), None, WHOLE, "a head holds values"),
        ((WHOLE, ANY), None, WHOLE, "a head holds values"),
        ((x, ANY), y > 1, WHOLE, "guard uses Var\\('y'\\)"),
        ((x, ANY), None, (x, z), "result uses Var\\('z'\\)"),
        ((x, ANY), None, ANY, "ANY is not a result"),
        ((x, ANY), "x > 1", WHOLE, "a guard is None, an expression or a callable"),
        ((x, ANY), x > ANY, WHOLE, "ANY cannot be used inside an expression"),
    ],
)
async def test_bad_specs_raise_table_error(pattern: Any, guard: Any, result: Any, message: str) -> None:
    with pytest.raises(TableError, match=message):
        fruit().select(pattern, guard, result)


def test_bad_spec_building_raises_table_error() -> None:
    with pytest.raises(TableError, match="at least one clause"):
        MatchSpec()
    with pytest.raises(TableError, match="holds Clause objects"):
        MatchSpec((ANY,))  # type: ignore[arg-type]
    with pytest.raises(TableError, match="non-empty string"):
        Var("")


async def test_guard_and_result_go_inside_a_spec() -> None:
    with pytest.raises(TableError, match="inside the Clause/MatchSpec"):
        fruit().select(MatchSpec.of(ANY), guard=lambda: True)


# --- select_delete --------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_select_delete_deletes_only_where_the_guard_gives_exactly_true(
    table_type: TableType,
) -> None:
    table = fruit(table_type)
    assert table.select_delete((ANY, ANY, y), lambda n: 1 if n > 5 else False) == 0
    assert len(table) == 4
    assert table.select_delete((ANY, ANY, y), lambda n: n > 5) == 2
    assert sorted(table.tab2list()) == [FRUIT[0], FRUIT[1]]


async def test_select_delete_removes_every_matching_copy_in_a_duplicate_bag() -> None:
    table = Table(type=TableType.DUPLICATE_BAG)
    table.insert([("k", 1), ("k", 2), ("k", 1), ("j", 1)])
    assert table.select_delete((ANY, 1)) == 3
    assert table.tab2list() == [("k", 2)]
    assert len(table) == 1


@pytest.mark.parametrize("twin", [1.0, True])
async def test_select_delete_in_a_duplicate_bag_deletes_the_matched_row_not_an_equal_one(
    twin: object,
) -> None:
    table = Table(type=TableType.DUPLICATE_BAG)
    table.insert([("k", 1), ("k", twin)])  # equal rows a guard can tell apart
    assert table.select_delete((ANY, y), y.is_instance(type(twin))) == 1
    [(_, left)] = table.tab2list()
    assert type(left) is int
    assert len(table) == 1


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_a_spec_with_results_counts_and_deletes_only_where_the_result_is_exactly_true(
    table_type: TableType,
) -> None:
    # ETS: the first clause that matches gives the result; only `true` counts or deletes.
    spec = MatchSpec(
        Clause(("apple", ANY, ANY), None, True),
        Clause((ANY, "red", ANY), None, False),  # cherry: matched, but the result is not True
        Clause((ANY, ANY, y), y > 5, 1),  # kiwi: 1 is truthy, not True
        Clause(("banana", ANY, ANY), None, True),
    )
    table = fruit(table_type)
    assert table.select_count(spec) == 2
    assert table.select_delete(spec) == 2
    assert sorted(row[0] for row in table.tab2list()) == ["cherry", "kiwi"]
    assert table.select_delete(MatchSpec.of(ANY, None, False)) == 0
    assert len(table) == 2
    assert table.select_count(Clause(ANY, None, True)) == 2


async def test_match_delete() -> None:
    table = fruit()
    assert table.match_delete((ANY, "red", ANY)) == 2
    assert [row[0] for row in table] == ["banana", "kiwi"]


# --- select_replace -------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_select_replace_rewrites_matching_rows(table_type: TableType) -> None:
    table = fruit(table_type)
    count = table.select_replace((x, "red", y), y > 5, (x, "dark red", y * 2))
    assert count == 1
    assert table.lookup("cherry") == [("cherry", "dark red", 24)]
    assert len(table) == 4


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_select_replace_must_keep_the_key_or_nothing_changes(table_type: TableType) -> None:
    table = fruit(table_type)
    with pytest.raises(TableError, match="must keep the key"):
        table.select_replace((x, ANY, y), None, lambda name, n: (name, "ok", n) if n < 5 else (n,))
    with pytest.raises(TableError, match="is not a row"):
        table.select_replace((x, ANY, y), None, y)
    assert sorted(table.tab2list()) == FRUIT


async def test_select_replace_in_a_bag_keeps_rows_distinct() -> None:
    table = Table(type=TableType.BAG)
    table.insert([("k", 1), ("k", 2), ("k", 3)])
    assert table.select_replace(("k", y), y < 3, ("k", 3)) == 2
    assert table.lookup("k") == [("k", 3)]
    assert len(table) == 1


async def test_select_replace_in_a_duplicate_bag_replaces_each_copy() -> None:
    table = Table(type=TableType.DUPLICATE_BAG)
    table.insert([("k", 1), ("k", 2), ("k", 1)])
    assert table.select_replace(("k", 1), None, ("k", 10)) == 2
    assert table.lookup("k") == [("k", 10), ("k", 2), ("k", 10)]


# --- bound keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("table_type", ALL_TYPES)
async def test_a_fully_bound_key_makes_the_query_a_lookup(table_type: TableType) -> None:
    table = Table(type=table_type)
    table.insert([(k, v) for k in range(100) for v in range(2)])
    examined: list[Any] = []

    def guard(value: Any) -> bool:
        examined.append(value)
        return True

    rows = table.select((42, y), guard, WHOLE)
    expected_rows = 1 if table_type in (TableType.SET, TableType.ORDERED_SET) else 2
    assert len(rows) == len(examined) == expected_rows
    examined.clear()
    table.select((ANY, y), guard, WHOLE)
    assert len(examined) == len(table)  # an unbound key is a scan


async def test_bound_keys_of_several_clauses_are_each_looked_up_once() -> None:
    table = fruit()
    spec = MatchSpec(
        Clause(("kiwi", ANY, ANY), None, "k1"),
        Clause(("kiwi", ANY, y), y > 100, "k2"),
        Clause(("apple", ANY, ANY), None, "a"),
        Clause((("nested", "key"), ANY, ANY), None, "none"),
        Clause(([1], ANY, ANY), None, "unhashable"),
    )
    assert spec.bound_keys(0) == ["kiwi", "apple", ("nested", "key"), [1]]
    assert table.select(spec) == ["k1", "a"]
    assert MatchSpec(Clause(("kiwi", ANY, ANY)), Clause((x, ANY, ANY))).bound_keys(0) is None


async def test_bound_keys_of_an_ordered_set_answer_in_key_order() -> None:
    spec = MatchSpec(Clause(("kiwi", ANY, ANY), None, "k"), Clause(("apple", ANY, ANY), None, "a"))
    assert fruit(TableType.ORDERED_SET).select(spec) == ["a", "k"]
    assert fruit(TableType.SET).select(spec) == ["k", "a"]


async def test_a_chunked_walk_of_bound_keys_follows_the_same_order_as_select() -> None:
    spec = MatchSpec(Clause(("kiwi", ANY, ANY), None, "k"), Clause(("apple", ANY, ANY), None, "a"))
    for table_type in (TableType.ORDERED_SET, TableType.SET):
        table = fruit(table_type)
        first, more = table.select_chunk(spec, 1)
        assert more is not None
        second, done = table.select_continue(more)
        assert done is None
        assert first + second == table.select(spec)


async def test_a_key_with_a_variable_inside_is_not_bound() -> None:
    assert MatchSpec.of(((1, x), ANY)).bound_keys(0) is None
    assert MatchSpec.of(((1, 2), ANY)).bound_keys(0) == [(1, 2)]
    assert MatchSpec.of((ANY,)).bound_keys(1) is None


# --- select on an ordered_set ---------------------------------------------------------------------


async def test_select_on_an_ordered_set_gives_key_order() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(k, k % 3) for k in (9, 3, 7, 1, 5)])
    assert table.select((x, ANY), result=x) == [1, 3, 5, 7, 9]


# --- chunks ---------------------------------------------------------------------------------------


def _walk(table: Table, pattern: Any, limit: int, **options: Any) -> list[list[Any]]:
    chunk, continuation = table.select_chunk(pattern, limit, **options)
    chunks = [chunk]
    while continuation is not None:
        chunk, continuation = table.select_continue(continuation)
        chunks.append(chunk)
    return chunks


@pytest.mark.parametrize("table_type", ALL_TYPES)
@pytest.mark.parametrize("limit", [1, 3, 10, 50])
async def test_chunks_have_limit_results_but_the_last(table_type: TableType, limit: int) -> None:
    table = Table(type=table_type)
    rows = [(k // 2, k) for k in range(20)] if table_type in (TableType.BAG,) else None
    table.insert(rows or [(k, k) for k in range(20)])
    chunks = _walk(table, (ANY, y), limit, guard=y % 2 == 0, result=y)
    assert sorted(v for chunk in chunks for v in chunk) == list(range(0, 20, 2))
    assert all(len(chunk) == limit for chunk in chunks[:-1])
    assert len(chunks[-1]) <= limit  # empty when the rows after the last match matched nothing


async def test_a_chunked_walk_with_no_match_ends_at_once() -> None:
    assert fruit().select_chunk(("nothing", ANY, ANY), 5) == ([], None)
    assert fruit().select_chunk((x, ANY, ANY), 5, x == "none") == ([], None)


async def test_a_bound_key_walk_is_a_lookup() -> None:
    table = Table(type=TableType.DUPLICATE_BAG)
    table.insert([("k", n) for n in range(5)] + [("j", 0)])
    assert _walk(table, ("k", y), 2, result=y) == [[0, 1], [2, 3], [4]]


async def test_an_ordered_set_walk_resumes_after_the_last_key_seen() -> None:
    table = Table(type=TableType.ORDERED_SET)
    table.insert([(k, 0) for k in range(0, 100, 10)])
    first, continuation = table.select_chunk((x, ANY), 3, result=x)
    assert first == [0, 10, 20]
    assert continuation is not None
    table.insert([(5, 0), (25, 0)])  # one behind the walk, one ahead of it
    table.delete(30)
    second, continuation = table.select_continue(continuation)
    assert second == [25, 40, 50]


async def test_a_set_walk_covers_the_keys_present_when_it_started() -> None:
    table = Table()
    table.insert([(k, 0) for k in range(10)])
    first, continuation = table.select_chunk((x, ANY), 4, result=x)
    assert continuation is not None
    table.insert((100, 0))  # new: not seen
    table.delete(first[0] + 5)  # deleted before its chunk: skipped
    table.insert((first[0] + 6, "changed"))  # changed before its chunk: read as it is now
    rest = []
    while continuation is not None:
        chunk, continuation = table.select_continue(continuation)
        rest += chunk
    assert 100 not in rest
    assert first[0] + 5 not in rest
    assert sorted(first + rest) == sorted(set(range(10)) - {first[0] + 5})


async def test_chunk_limits_and_foreign_continuations_are_refused() -> None:
    table = fruit()
    for limit in (0, -1, True, 1.5):
        with pytest.raises(TableError, match="limit"):
            table.select_chunk(ANY, limit)  # type: ignore[arg-type]
    _, continuation = table.select_chunk(ANY, 1)
    assert continuation is not None
    assert "limit=1" in repr(continuation)
    with pytest.raises(TableError, match="another table"):
        fruit().select_continue(continuation)


# --- compilation ----------------------------------------------------------------------------------


def test_a_spec_compiles_once_and_runs_on_any_rows() -> None:
    spec = MatchSpec.of((x, y), y > 1, x)
    compiled = spec.compiled
    assert spec.run([("a", 1), ("b", 2)]) == ["b"]
    assert spec.compiled is compiled


def test_literals_are_data_never_code() -> None:
    sneaky = "__import__('os').system('exit 1')"
    spec = MatchSpec.of((sneaky, y), y == "); raise SystemExit(", (sneaky,))
    assert spec.run([(sneaky, "); raise SystemExit("), ("other", 1)]) == [(sneaky,)]


def test_expression_reprs_read_like_the_expression() -> None:
    assert repr((x > 1) & ~(y == 2)) == "((Var('x') > 1) & ~((Var('y') == 2)))"
    assert repr(-x) == "-Var('x')"
    assert repr(x.is_in((1,))) == "Var('x').is_in((1,))"
    assert repr(x.is_instance(int)) == "Var('x').is_instance(<class 'int'>)"
    assert repr(x | 1) == "(Var('x') | 1)"
    assert {x: 1}[x] == 1  # hashable by identity despite the overloaded ==
