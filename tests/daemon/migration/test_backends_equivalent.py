"""The two paths of each migrated component are observably the same (hypothesis): a random sequence
of operations gives the same results, the same errors and the same telemetry on the supervised path
and on the legacy one, except for the differences docs/migrations.md lists ("What differs between
the paths"), which these sequences leave out (the limits, sampling, a batch's timer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.registry import LOOKUP_MISS, OWNER_DOWN, REGISTER, UNREGISTER, Registry
from daemon.registry.entry import Entry
from daemon.registry.switched import SwitchedRegistry
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.server import FlushAll, TelemetryServer
from daemon.telemetry.switched_events import batch, emit_once_per
from supervisor.testing import ManualClock, capture
from tests.daemon.migration.conftest import forget_legacy, start_flags

NAME = "test.equivalent.registry"
KEYS = st.sampled_from(["a", "b", "c"])
OWNERS = st.integers(0, 2)
METADATA = st.fixed_dictionaries(
    {},
    optional={"node": st.sampled_from(["n1", "n2"]), "capability": st.sampled_from(["x", ["x", "y"], "y"])},
)
REGISTRY_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("register"), KEYS, OWNERS, METADATA),
        st.tuples(st.just("unregister"), KEYS, st.none() | OWNERS),
        st.tuples(st.just("lookup"), KEYS),
        st.tuples(st.just("update"), KEYS, METADATA),
        st.tuples(
            st.just("find"), st.sampled_from(["node", "capability"]), st.sampled_from(["n1", "x", "y"])
        ),
        st.tuples(st.just("query"), st.sampled_from(["n1", "n2"])),
        st.tuples(st.just("count")),
        st.tuples(st.just("kill"), OWNERS),
    ),
    max_size=25,
)


def _entry(entry: Entry | None, owners: Sequence[Any]) -> Any:
    if entry is None:
        return None
    return (entry.key, owners.index(entry.owner), sorted(entry.metadata.items(), key=repr))


def _entries(entries: list[Entry], owners: Sequence[Any]) -> list[Any]:
    return sorted((_entry(e, owners) for e in entries), key=repr)


def _owner(value: object, owners: Sequence[Any]) -> object:
    return owners.index(value) if value in owners else value


async def _registry_run(supervised: bool, steps: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``steps`` on one path; what each returned or raised, and the events it emitted."""
    flags = await start_flags(supervised)
    registry = await Registry.start(name=NAME)
    switched = SwitchedRegistry(NAME)
    stop = asyncio.Event()
    everyone: list[asyncio.Task[Any]] = []

    def spawn() -> asyncio.Task[Any]:
        task = asyncio.create_task(stop.wait())
        everyone.append(task)
        return task

    owners = [spawn() for _ in range(3)]
    log: list[Any] = []
    try:
        for step in steps:
            with capture(REGISTER, UNREGISTER, LOOKUP_MISS, OWNER_DOWN) as seen:
                try:
                    outcome = await _registry_step(switched, registry, owners, spawn, step)
                except Exception as error:
                    outcome = type(error).__name__
            events = [
                (c.event, dict(c.measurements), {k: _owner(v, everyone) for k, v in c.metadata.items()})
                for c in seen
            ]
            log.append((step, outcome, events))
    finally:
        stop.set()
        await asyncio.gather(*everyone, return_exceptions=True)
        await registry.stop()
        await flags.stop()
        forget_legacy()
    return log


async def _registry_step(
    switched: SwitchedRegistry,
    registry: Registry,
    owners: list[asyncio.Task[Any]],
    spawn: Callable[[], asyncio.Task[Any]],
    step: tuple[Any, ...],
) -> Any:
    match step:
        case ("register", key, owner, metadata):
            return _entry(switched.register(key, owners[owner], metadata), owners)
        case ("unregister", key, owner):
            return switched.unregister(key, None if owner is None else owners[owner])
        case ("lookup", key):
            return _entry(switched.lookup(key), owners)
        case ("update", key, metadata):
            return switched.update_metadata(key, metadata)
        case ("find", attribute, value):
            return _entries(switched.find_by_attribute(attribute, value), owners)
        case ("query", node):
            return _entries(switched.query([("node", "eq", node)]), owners)
        case ("count",):
            return (switched.count(), _entries(switched.list_all(), owners))
        case ("kill", owner):
            dead = owners[owner]
            dead.cancel()
            await asyncio.gather(dead, return_exceptions=True)
            await registry.settle()
            owners[owner] = spawn()
            return _entries(switched.list_all(), owners)
    raise AssertionError(step)


@settings(max_examples=60, deadline=None)
@given(REGISTRY_STEPS)
def test_the_registrys_two_paths_answer_and_emit_alike(steps: list[tuple[Any, ...]]) -> None:
    assert asyncio.run(_registry_run(True, steps)) == asyncio.run(_registry_run(False, steps))


EVENTS = st.sampled_from([("eq", "a"), ("eq", "b")])
EVENT_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("once"), EVENTS, st.sampled_from([10.0, 60.0]), st.sampled_from([None, {"d": 1}])),
        st.tuples(st.just("batch"), EVENTS, st.integers(0, 9), st.sampled_from([2, 3])),
        st.tuples(st.just("advance"), st.sampled_from([5.0, 30.0])),
        st.tuples(st.just("flush")),
    ),
    max_size=30,
)


async def _events_run(supervised: bool, steps: list[tuple[Any, ...]]) -> list[Any]:
    flags = await start_flags(supervised)
    clock = ManualClock(1000.0)
    server = await TelemetryServer.start(clock=clock, name=SERVER_NAME)
    log: list[Any] = []
    try:
        for step in steps:
            with capture(("eq", "a"), ("eq", "b")) as seen:
                match step:
                    case ("once", event, interval, metadata):
                        outcome: Any = emit_once_per(event, interval, {"n": 1}, metadata)
                    case ("batch", event, item, size):
                        batch(event, {"n": 1, "ids": [item]}, size, 3600.0)
                        outcome = None
                    case ("advance", seconds):
                        clock.advance(seconds)
                        outcome = None
                    case ("flush",):
                        outcome = await server.call(FlushAll())
            emitted = [(c.event, dict(c.measurements), dict(c.metadata)) for c in seen]
            if step[0] == "flush":  # the order in which a flush goes over the events is not defined
                emitted.sort(key=repr)
            log.append((step, outcome, emitted))
    finally:
        await server.stop()
        await flags.stop()
        forget_legacy()
    return log


@settings(max_examples=60, deadline=None)
@given(EVENT_STEPS)
def test_sampled_events_two_paths_answer_and_emit_alike(steps: list[tuple[Any, ...]]) -> None:
    assert asyncio.run(_events_run(True, steps)) == asyncio.run(_events_run(False, steps))
