"""Benchmarks of the agent registry: lookup, a register + unregister cycle, find_by_attribute.

- ``lookup`` of a present key (a table read plus the owner's liveness check) against ``dict.get``
  on a dict of the same entries (target 3x);
- a ``register`` + ``unregister`` cycle, with three indexed attributes in the metadata, against an
  absolute budget of 10 µs (the baseline column shows the budget);
- ``find_by_attribute`` over 100,000 entries returning 100 matches against the hand-written index a
  server would otherwise keep, a ``dict`` from value to the list of its entries, copied into a new
  list (target 10x). Most of that time is the liveness check of each of the 100 entries (an
  entry is returned only while its owner runs), so a second row compares with the same dict index
  filtered by the same check; and, to show it is an index and not a scan, a third row gives its
  speed-up over a scan of the 100,000 entries (higher is better).

Readers and the registry run on the same event loop, in the same task, as the daemon's control
methods do.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from bench.harness import Row, median_time, paired, per_op
from bench.loops import run_on
from daemon.registry import Registry

LOOKUP_KEYS = 1_000
LOOKUPS = 100_000
CYCLES = 20_000
FIND_ENTRIES = 100_000
FIND_MATCHES = 100
FINDS = 2_000
ROUNDS = 9
CYCLE_BUDGET_US = 10.0


def _lookup(registry: Registry, owner: asyncio.Task[Any]) -> tuple[str, float, float, float]:
    keys = [f"agent-{n}" for n in range(LOOKUP_KEYS)]
    plain = {}
    for key in keys:
        plain[key] = registry.register(key, owner, {"capability": "search"})
    probes = keys * (LOOKUPS // LOOKUP_KEYS)
    lookup, get = registry.lookup, plain.get

    def arbord() -> None:
        for key in probes:
            lookup(key)

    def baseline() -> None:
        for key in probes:
            get(key)

    a, b = paired(arbord, baseline, rounds=ROUNDS)
    for key in keys:
        registry.unregister(key)
    return ("lookup of a present key vs dict.get", per_op(a, LOOKUPS), per_op(b, LOOKUPS), 3.0)


def _cycle(registry: Registry, owner: asyncio.Task[Any]) -> tuple[str, float, float, float]:
    keys = [f"cycle-{n}" for n in range(CYCLES)]
    metadata = {"capability": "search", "health_status": "healthy", "node": "n1"}
    register, unregister = registry.register, registry.unregister

    def cycles() -> None:
        for key in keys:
            register(key, owner, metadata)
            unregister(key)

    seconds = statistics.median(median_time(cycles, repeat=1) for _ in range(ROUNDS))
    return (
        "register + unregister cycle (3 indexed attrs) vs 10 us budget",
        per_op(seconds, CYCLES),
        CYCLE_BUDGET_US,
        1.0,
    )


def _find(registry: Registry, owner: asyncio.Task[Any]) -> list[tuple[str, float, float, float, str]]:
    groups = FIND_ENTRIES // FIND_MATCHES
    by_value: dict[str, list[Any]] = {}
    for n in range(FIND_ENTRIES):
        value = f"capability-{n % groups}"
        entry = registry.register(("find", n), owner, {"capability": value})
        by_value.setdefault(value, []).append(entry)
    wanted = [f"capability-{n}" for n in range(0, groups, groups // 20)]
    assert all(len(registry.find_by_attribute("capability", v)) == FIND_MATCHES for v in wanted)
    probes = wanted * (FINDS // len(wanted))
    find = registry.find_by_attribute

    def arbord() -> None:
        for value in probes:
            find("capability", value)

    def baseline() -> None:
        for value in probes:
            list(by_value[value])

    def baseline_live() -> None:
        for value in probes:
            [e for e in by_value[value] if not e.task.done()]

    def scan() -> None:
        registry.query([("capability", "in", [wanted[0]])])  # `in` is never narrowed to the index

    a, b = paired(arbord, baseline, rounds=ROUNDS)
    a_live, b_live = paired(arbord, baseline_live, rounds=ROUNDS)
    scan_us = statistics.median(median_time(scan, repeat=1) for _ in range(3)) * 1e6
    find_us = per_op(a, len(probes))
    return [
        (
            f"find_by_attribute, {FIND_MATCHES} of {FIND_ENTRIES // 1000}k entries vs dict index",
            find_us,
            per_op(b, len(probes)),
            10.0,
            "us",
        ),
        (
            "  the same vs dict index + the same liveness filter",
            per_op(a_live, len(probes)),
            per_op(b_live, len(probes)),
            1.5,
            "us",
        ),
        ("find_by_attribute speed-up over a scan (x)", scan_us / find_us, 1.0, 100.0, "x"),
    ]


async def _measure() -> list[tuple[str, float, float, float, str]]:
    registry = await Registry.start()
    stop = asyncio.Event()
    owner = asyncio.create_task(stop.wait())
    try:
        rows = [(*_lookup(registry, owner), "us"), (*_cycle(registry, owner), "us")]
        rows += _find(registry, owner)
    finally:
        stop.set()
        await owner
        await registry.stop()
    return rows


def run(loop_name: str) -> list[Row]:
    rows = []
    for name, arbord, baseline, target, unit in run_on(loop_name, _measure()):
        faster = unit == "x"
        rows.append(Row("registry", name, loop_name, arbord, baseline, unit, target, higher_is_better=faster))
    return rows
