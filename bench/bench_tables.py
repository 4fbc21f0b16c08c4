"""Benchmarks of tables: the hot single operations, a guarded select, a range query, memory per row.

Each figure is compared with the plain-dict code a server would otherwise write, measured in the
same process in alternating rounds: ``dict.get``, ``d[key] = row``, ``d[key] += 1``, a list
comprehension over ``d.values()`` (for a callable guard, the comprehension calls the same callable:
that is the equivalent code; a third row, for information, compares it with the comparison written
inline). Reads are measured on present and on absent keys. The table is
the default kind — a protected set owned by the measuring task, so every write pays the owner
check — except the one row that shows a public table's insert. The range query has an absolute
budget (50 µs for 100 keys out of 1,000,000), shown as the baseline of its row; a second row shows
it is a bisection, not a scan.

Memory: "the same data in a dict" is 1,000,000 fresh ``(key, value)`` tuples held as
``dict[key] = row``; the table holds the same fresh tuples. Both are measured with ``tracemalloc``
(retained bytes after building, in one process), so the tuples and ints count on both sides.
"""

from __future__ import annotations

import gc
import statistics
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from bench.harness import Row, median_time, paired, per_op
from bench.loops import run_on
from supervisor.tables import ANY, Access, MatchSpec, Table, TableType, Var

OPS = 100_000
ROUNDS = 11
SELECT_ROWS = 100_000
RANGE_ROWS = 1_000_000
RANGE_WIDTH = 100
MEMORY_ROWS = 1_000_000
RANGE_BUDGET_US = 50.0


def _hot_ops() -> list[tuple[str, float, float, float]]:
    keys = list(range(OPS))
    absent = [-k - 1 for k in keys]
    rows = [(k, k) for k in keys]
    plain: dict[int, tuple[int, int]] = {r[0]: r for r in rows}
    counters = dict.fromkeys(keys, 0)
    table = Table("bench")
    public = Table("bench-public", access=Access.PUBLIC)
    table.insert(rows)
    public.insert(rows)
    dict_get, lookup, get = plain.get, table.lookup, table.get
    insert, insert_public = table.insert, public.insert
    counter_table = Table("bench-counters")
    counter_table.insert([(k, 0) for k in keys])
    update_counter = counter_table.update_counter

    def base_get() -> None:
        for k in keys:
            dict_get(k)

    def arb_lookup() -> None:
        for k in keys:
            lookup(k)

    def arb_get() -> None:
        for k in keys:
            get(k)

    def base_get_absent() -> None:
        for k in absent:
            dict_get(k)

    def arb_lookup_absent() -> None:
        for k in absent:
            lookup(k)

    def arb_get_absent() -> None:
        for k in absent:
            get(k)

    def base_store() -> None:
        for r in rows:
            plain[r[0]] = r

    def arb_insert() -> None:
        for r in rows:
            insert(r)

    def arb_insert_public() -> None:
        for r in rows:
            insert_public(r)

    def base_increment() -> None:
        for k in keys:
            counters[k] += 1

    def arb_update_counter() -> None:
        for k in keys:
            update_counter(k, 1)

    results = []
    for name, arbord, baseline, target in [
        ("lookup (a list) on a set vs dict.get", arb_lookup, base_get, 3.0),
        ("get (the row) on a set vs dict.get", arb_get, base_get, 3.0),
        ("lookup of an absent key vs dict.get", arb_lookup_absent, base_get_absent, 3.0),
        ("get of an absent key vs dict.get", arb_get_absent, base_get_absent, 3.0),
        ("insert, protected set (owner check) vs d[k] = row", arb_insert, base_store, 3.0),
        ("insert, public set (no check) vs d[k] = row", arb_insert_public, base_store, 3.0),
        ("update_counter vs d[k] += 1", arb_update_counter, base_increment, 4.0),
    ]:
        a, b = paired(arbord, baseline, rounds=ROUNDS)
        results.append((name, per_op(a, OPS), per_op(b, OPS), target))
    return results


def _select() -> list[tuple[str, float, float, float | None]]:
    rows = [(k, k * 7919 % 1000) for k in range(SELECT_ROWS)]
    plain = {r[0]: r for r in rows}
    table = Table("bench-select")
    table.insert(rows)
    value = Var("value")

    def over_500(v: int) -> bool:
        return v > 500

    by_expression = MatchSpec.of((ANY, value), value > 500)
    by_callable = MatchSpec.of((ANY, value), over_500)
    assert table.select(by_expression) == table.select(by_callable)
    assert len(table.select(by_expression)) == len([r for r in plain.values() if r[1] > 500])

    def inline() -> list[tuple[int, int]]:
        return [r for r in plain.values() if r[1] > 500]

    def calling() -> list[tuple[int, int]]:
        return [r for r in plain.values() if over_500(r[1])]

    results: list[tuple[str, float, float, float | None]] = []
    for name, spec, base, target in [
        ("select 100k rows, expression guard vs comprehension", by_expression, inline, 2.0),
        ("select 100k rows, callable guard vs comprehension", by_callable, calling, 2.0),
        ("select, callable guard vs inline comparison (info)", by_callable, inline, None),
    ]:
        a, b = paired(lambda spec=spec: table.select(spec), base, rounds=ROUNDS)  # type: ignore[misc]
        results.append((name, a * 1e3, b * 1e3, target))
    return results


def _range() -> list[tuple[str, float, float, float]]:
    table = Table("bench-range", type=TableType.ORDERED_SET)
    table.insert([(k, k) for k in range(RANGE_ROWS)])
    low = RANGE_ROWS // 2
    high = low + RANGE_WIDTH - 1
    assert len(table.range(low, high)) == RANGE_WIDTH
    queries = 1_000

    def arb_range() -> None:
        for _ in range(queries):
            table.range(low, high)

    def scan() -> list[tuple[Any, ...]]:
        return [r for r in table.tab2list() if low <= r[0] <= high]

    range_us = per_op(statistics.median(median_time(arb_range, repeat=1) for _ in range(5)), queries)
    scan_us = statistics.median(median_time(scan, repeat=1) for _ in range(3)) * 1e6
    return [
        (
            f"ordered_set range {RANGE_WIDTH} of 1M keys vs 50 us budget",
            range_us,
            RANGE_BUDGET_US,
            1.0,
        ),
        ("ordered_set range speed-up over a full scan (x)", scan_us / range_us, 1.0, 100.0),
    ]


def _fresh_rows(n: int) -> Iterator[tuple[int, int]]:
    for k in range(n):
        yield (k, k + 1)


def _retained(build: Callable[[], object]) -> float:
    """Bytes per row retained by what ``build`` returns, measured with tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return (after - before) / MEMORY_ROWS


def _memory() -> list[tuple[str, float, float, float]]:
    def build_dict() -> object:
        plain: dict[int, tuple[int, int]] = {}
        for row in _fresh_rows(MEMORY_ROWS):
            plain[row[0]] = row
        return plain

    def build_table() -> object:
        table = Table("bench-memory")
        insert = table.insert
        for row in _fresh_rows(MEMORY_ROWS):
            insert(row)
        return table

    baseline = _retained(build_dict)
    arbord = _retained(build_table)
    return [("memory per row, 1M-row set vs dict of the same tuples", arbord, baseline, 1.5)]


async def _measure() -> list[tuple[str, float, float, float | None, str]]:
    rows: list[tuple[str, float, float, float | None, str]] = []
    rows += [(*r, "us") for r in _hot_ops()]
    rows += [(*r, "ms") for r in _select()]
    range_rows = _range()
    rows.append((*range_rows[0], "us"))
    rows.append((*range_rows[1], "x"))
    rows += [(*r, "B") for r in _memory()]
    return rows


def run(loop_name: str) -> list[Row]:
    rows = []
    for name, arbord, baseline, target, unit in run_on(loop_name, _measure()):
        faster = unit == "x"
        rows.append(Row("tables", name, loop_name, arbord, baseline, unit, target, higher_is_better=faster))
    return rows
