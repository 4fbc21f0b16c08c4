"""Bounded work per request in the registry (issue 12, item 1): index work linear in the values of
an entry and capped, ``in`` criteria hashed, walks and an exited owner's cleanup done in slices that
let the rest of the loop run (``tests/daemon/loop_probe.py`` measures that without a clock)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.chunked import SCAN_CHUNK
from daemon.registry import Registry, RegistrySettings, TableKeeper
from daemon.registry.criteria import matcher, parse_criteria
from daemon.registry.errors import TooManyValues
from supervisor.errors import CallError
from tests.daemon.loop_probe import open_loop_probe


class Counted:
    """A hashable value that counts how often it is compared for equality (one counter per test)."""

    def __init__(self, n: int, calls: list[int]) -> None:
        self.n = n
        self.calls = calls

    def __hash__(self) -> int:
        return hash(self.n)

    def __eq__(self, other: object) -> bool:
        self.calls[0] += 1
        return isinstance(other, Counted) and other.n == self.n


@pytest.fixture
async def owner() -> AsyncIterator[asyncio.Task[Any]]:
    task = asyncio.create_task(asyncio.Event().wait())
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_indexing_distinct_values_costs_a_comparison_per_collision_not_per_pair(
    owner: asyncio.Task[Any],
) -> None:
    # De-duplication by list membership compared each value with every one before it: 2,000
    # values were 2 million comparisons (20,000 held the loop 9 s at registration and at cleanup).
    registry = await Registry.start(indexed_attributes=("capability",), max_indexed_values=10_000)
    calls = [0]
    values = [Counted(n, calls) for n in range(2_000)]
    registry.register("many", owner, {"capability": values})
    registry.unregister("many")
    await registry.stop()
    assert calls[0] < len(values)


async def test_registering_more_distinct_indexed_values_than_the_cap_is_refused(
    owner: asyncio.Task[Any],
) -> None:
    registry = await Registry.start(max_indexed_values=RegistrySettings().max_indexed_values)
    cap = RegistrySettings().max_indexed_values
    with pytest.raises(TooManyValues, match=f"more than {cap} distinct values"):
        registry.register("many", owner, {"capability": [f"c{n}" for n in range(20_000)]})
    assert registry.lookup("many") is None
    assert registry.monitor_count() == 0  # refused before anything was written
    # Duplicates count once, and values of unindexed attributes not at all.
    metadata: dict[str, Any] = {"capability": ["same"] * 20_000, "other": list(range(20_000))}
    registry.register("ok", owner, metadata)
    assert [e.key for e in registry.find_by_attribute("capability", "same")] == ["ok"]
    with pytest.raises(TooManyValues):
        registry.update_metadata("ok", {"node": [f"n{n}" for n in range(cap + 1)]})
    assert registry.lookup("ok") is not None
    assert registry.lookup("ok").metadata["capability"] == ["same"] * 20_000  # type: ignore[union-attr]
    await registry.stop()


async def test_the_cap_counts_values_over_every_indexed_attribute() -> None:
    registry = await Registry.start(indexed_attributes=("a", "b"), max_indexed_values=3)
    owner = asyncio.current_task()
    assert owner is not None
    registry.register("three", owner, {"a": [1, 2], "b": 1})
    with pytest.raises(TooManyValues):
        registry.register("four", owner, {"a": [1, 2], "b": [1, 2]})
    await registry.stop()


def test_an_in_criterion_is_a_hashed_lookup_not_a_walk_of_its_values() -> None:
    calls = [0]
    wanted = [Counted(n, calls) for n in range(5_000)]
    match = matcher(parse_criteria([("node", "in", wanted)]))
    results = [match({"node": f"n{n}"}) for n in range(200)]
    assert results == [False] * 200
    assert calls[0] < 200  # a walk of the values compared each of the 200 with all 5,000
    assert match({"node": Counted(4_999, calls)})


@pytest.mark.parametrize(
    ("value", "values", "expected"),
    [
        ("a", ["a", "b"], True),
        (1, [1.0], True),
        (True, [1], True),
        ([1, 2], [[1, 2]], True),
        ([1, 2], [(1, 2)], False),
        ((1, 2), [(1, 2)], True),
        ({"x": [1]}, [{"x": [1]}], True),
        ({"x": [1]}, [{"x": [2]}], False),
        (frozenset({1}), [{1}], True),
        (None, [None], True),
        ("a", [["a"]], False),
    ],
)
def test_in_and_not_in_mean_equality_as_a_walk_of_the_values_would(
    value: Any, values: list[Any], expected: bool
) -> None:
    assert matcher(parse_criteria([("v", "in", values)]))({"v": value}) is (value in values) is expected
    assert matcher(parse_criteria([("v", "not_in", values)]))({"v": value}) is not expected


async def test_a_scan_lets_the_loop_run_between_slices(owner: asyncio.Task[Any]) -> None:
    registry = await Registry.start()
    for n in range(3 * SCAN_CHUNK):
        registry.register(f"k{n}", owner, {"node": "a" if n % 2 else "b", "load": n})
    async with open_loop_probe(lambda: None) as probe:
        before = probe.turns
        found = await registry.scan([("load", "gte", 10), ("node", "in", ["a", "c"])])
        during = probe.turns - before
    assert during >= 2  # one turn per pause between slices; none when a walk holds the loop
    assert sorted(e.metadata["load"] for e in found) == [
        n for n in range(3 * SCAN_CHUNK) if n >= 10 and n % 2
    ]
    assert found == registry.query([("load", "gte", 10), ("node", "in", ["a", "c"])])
    assert len(await registry.scan()) == registry.count() == 3 * SCAN_CHUNK
    await registry.stop()


async def test_an_owner_of_many_entries_is_cleaned_up_in_slices(owner: asyncio.Task[Any]) -> None:
    registry = await Registry.start()
    total = 4 * SCAN_CHUNK
    for n in range(total):
        registry.register(f"k{n}", owner, {"capability": [f"c{n}", "shared"]})
    async with open_loop_probe(lambda: len(registry._entries)) as probe:
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
        await registry.settle()
    # The probe ran while the registry was halfway through (a cleanup in one step shows it only
    # the whole table, then an empty one).
    assert any(0 < size < total for size in probe.seen), sorted(set(probe.seen))
    assert len(registry._entries) == 0
    assert registry.monitor_count() == 0
    assert registry.find_by_attribute("capability", "shared") == []
    await registry.stop()


async def test_a_registry_stopped_halfway_through_a_cleanup_leaves_the_rest_to_its_successor(
    owner: asyncio.Task[Any],
) -> None:
    keeper = await TableKeeper.start(name="test.keeper.halfway")
    first = await Registry.start(keeper="test.keeper.halfway", label="halfway")
    total = 4 * SCAN_CHUNK
    for n in range(total):
        first.register(f"k{n}", owner, {"node": "a"})
    stopped = asyncio.Event()

    def stop_halfway() -> int:
        size = len(first._entries)
        if 0 < size < total and not stopped.is_set():
            stopped.set()
            first.kill()
        return size

    async with open_loop_probe(stop_halfway):
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
        with contextlib.suppress(CallError):  # killed while handling the Down: it never answers
            await first.settle()
    assert stopped.is_set()  # else the cleanup ran in one step, which the probe never saw halfway
    await first.wait()
    second = await Registry.start(keeper="test.keeper.halfway", label="halfway")
    await second.settle()
    assert len(second._entries) == 0
    assert second.monitor_count() == 0
    await second.stop()
    await keeper.stop()
