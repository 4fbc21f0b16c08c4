"""The registry behind ``use_ets_agent_registry`` (daemon/registry/switched.py): the registry's
contract on both paths (the ``backend`` fixture runs each test on the supervised path and on the
legacy one), and what a flip must keep: entries found after it either way round, no key in both
paths, under concurrent writers while the flag flips."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from daemon.flags.bucket import normalized
from daemon.registry import LOOKUP_MISS, OWNER_DOWN, REGISTER, UNREGISTER, Registry
from daemon.registry.errors import AlreadyRegistered, NotIndexed
from daemon.registry.switched import REGISTRY_FLAG, SwitchedRegistry
from supervisor import NoProc
from supervisor.testing import capture, wait_for_events
from tests.daemon.conftest import Spawn
from tests.daemon.migration.conftest import Backends

NAME = "test.switched.registry"


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    server = await Registry.start(name=NAME)
    yield server
    if server.alive:
        await server.stop()


def where(switched: SwitchedRegistry) -> dict[str, int]:
    return switched.held()


# --- the contract, on both paths ------------------------------------------------------------------


async def test_a_registered_key_is_found_and_held_by_the_path_in_force(
    backend: Backends, registry: Registry, spawn: Spawn
) -> None:
    switched = SwitchedRegistry(NAME)
    owner = spawn()
    entry = switched.register("agent-1", owner, {"node": "a"})
    assert switched.backend("agent-1") == backend.path
    assert switched.lookup("agent-1") == entry
    assert (entry.key, entry.owner, dict(entry.metadata)) == ("agent-1", owner, {"node": "a"})
    assert entry.task is owner
    expected = {"supervised": 1, "legacy": 0} if backend.supervised else {"supervised": 0, "legacy": 1}
    assert where(switched) == expected
    assert switched.lookup_all("agent-1") == [entry]
    assert switched.count() == 1


async def test_a_live_key_refuses_a_second_owner_and_unregister_answers_what_it_removed(
    backend: Backends, registry: Registry, spawn: Spawn
) -> None:
    switched = SwitchedRegistry(NAME)
    first, second = spawn(), spawn()
    switched.register("k", first)
    with pytest.raises(AlreadyRegistered) as refused:
        switched.register("k", second)
    assert refused.value.owner is first
    assert switched.unregister("k", second) is False
    assert switched.unregister("k", first) is True
    assert switched.unregister("k") is False
    assert switched.lookup("k") is None
    switched.register("k", second)
    assert switched.lookup("k").owner is second  # type: ignore[union-attr]


async def test_bad_input_is_refused_alike(backend: Backends, registry: Registry, spawn: Spawn) -> None:
    switched = SwitchedRegistry(NAME)
    with pytest.raises(TypeError, match="hashable"):
        switched.register(["unhashable"], spawn())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mapping"):
        switched.register("k", spawn(), ["not", "a", "mapping"])  # type: ignore[arg-type]
    dead = spawn()
    dead.cancel()
    await asyncio.gather(dead, return_exceptions=True)
    with pytest.raises(NoProc, match="not alive"):
        switched.register("k", dead)
    assert switched.lookup(["unhashable"]) is None  # type: ignore[arg-type]
    assert switched.unregister(["unhashable"]) is False  # type: ignore[arg-type]


async def test_an_exited_owners_entries_go_with_one_owner_down_event(
    backend: Backends, registry: Registry, spawn: Spawn
) -> None:
    switched = SwitchedRegistry(NAME)
    owner, other = spawn(), spawn()
    switched.register("a", owner)
    switched.register("b", owner)
    switched.register("c", other)
    with capture(OWNER_DOWN) as seen:
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
        assert switched.lookup("a") is None  # at once: reads leave a dead owner's entries out
        [down] = await wait_for_events(seen, [OWNER_DOWN])
        await registry.settle()
    assert down.measurements == {"count": 2}
    assert down.metadata == {"registry": NAME, "owner": owner}
    assert [e.key for e in switched.list_all()] == ["c"]
    assert sum(where(switched).values()) == 1


async def test_metadata_find_query_and_listing(backend: Backends, registry: Registry, spawn: Spawn) -> None:
    switched = SwitchedRegistry(NAME)
    owner = spawn()
    switched.register("a", owner, {"capability": ["search", "index"], "node": "n1", "load": {"cpu": 0.2}})
    switched.register("b", owner, {"capability": "search", "node": "n2", "load": {"cpu": 0.9}})
    switched.register("c", owner, {"node": "n1"})
    assert sorted(e.key for e in switched.find_by_attribute("capability", "search")) == ["a", "b"]
    assert [e.key for e in switched.find_by_attribute("capability", "index")] == ["a"]
    with pytest.raises(NotIndexed):
        switched.find_by_attribute("colour", "red")
    assert sorted(e.key for e in switched.query([("node", "eq", "n1")])) == ["a", "c"]
    assert [e.key for e in switched.query([("load.cpu", "gt", 0.5)])] == ["b"]
    assert sorted(e.key for e in await switched.scan([("load.cpu", "lt", 0.5)])) == ["a"]
    assert sorted(e.key for e in switched.list_all(lambda md: md.get("node") == "n1")) == ["a", "c"]
    assert switched.update_metadata("c", {"node": "n2"}) is True
    assert switched.update_metadata("missing", {}) is False
    assert sorted(e.key for e in switched.find_by_attribute("node", "n2")) == ["b", "c"]
    assert switched.count() == 3
    assert sorted(e.key for e in await switched.scan()) == ["a", "b", "c"]


async def test_the_same_telemetry_on_both_paths(backend: Backends, registry: Registry, spawn: Spawn) -> None:
    switched = SwitchedRegistry(NAME)
    owner = spawn()
    with capture(REGISTER, UNREGISTER, LOOKUP_MISS) as seen:
        switched.register("a", owner)
        switched.lookup("a")
        switched.lookup("nobody")
        switched.unregister("a")
    assert [(c.event, dict(c.measurements), dict(c.metadata)) for c in seen] == [
        (REGISTER, {"count": 1}, {"registry": NAME, "key": "a", "owner": owner}),
        (LOOKUP_MISS, {"count": 1}, {"registry": NAME, "key": "nobody"}),
        (UNREGISTER, {"count": 1}, {"registry": NAME, "key": "a", "owner": owner}),
    ]


# --- flips -----------------------------------------------------------------------------------------


async def test_entries_are_found_across_a_flip_either_way(
    flippable: Backends, registry: Registry, spawn: Spawn
) -> None:
    switched = SwitchedRegistry(NAME)
    owner = spawn()
    switched.register("before", owner, {"node": "n1"})  # supervised
    await flippable.use(REGISTRY_FLAG, False)
    assert switched.backend() == "legacy"
    assert switched.lookup("before") is not None
    with pytest.raises(AlreadyRegistered):
        switched.register("before", spawn())
    switched.register("during", owner, {"node": "n1"})  # legacy
    assert where(switched) == {"supervised": 1, "legacy": 1}
    await flippable.use(REGISTRY_FLAG, True)
    assert switched.lookup("during") is not None
    with pytest.raises(AlreadyRegistered):
        switched.register("during", spawn())
    assert sorted(e.key for e in switched.find_by_attribute("node", "n1")) == ["before", "during"]
    assert sorted(e.key for e in switched.list_all()) == ["before", "during"]
    assert switched.unregister("during") is True
    assert where(switched) == {"supervised": 1, "legacy": 0}
    with capture(LOOKUP_MISS) as seen:
        assert switched.lookup("during") is None
    assert len(seen) == 1  # one miss, not one per path


async def test_concurrent_writers_lose_and_duplicate_nothing_while_the_flag_flips(
    flippable: Backends, registry: Registry, spawn: Spawn
) -> None:
    switched = SwitchedRegistry(NAME)
    writers, rounds, flips = 8, 60, 30
    held: dict[str, asyncio.Task[None]] = {}

    async def writer(w: int) -> None:
        owner = spawn()
        for n in range(rounds):
            key = f"w{w}-{n}"
            switched.register(key, owner, {"node": f"n{n % 3}"})
            held[key] = owner
            assert switched.lookup(key) is not None
            if n % 3 == 0:  # drop an older key, from whichever path holds it
                old = f"w{w}-{n // 2}"
                if old in held and old != key:
                    assert switched.unregister(old, owner) is True
                    del held[old]
            await asyncio.sleep(0)

    async def flipper() -> None:
        for n in range(flips):
            await flippable.use(REGISTRY_FLAG, n % 2 == 1)

    await asyncio.gather(flipper(), *(writer(w) for w in range(writers)))
    listed = [e.key for e in switched.list_all()]
    assert sorted(listed) == sorted(held)  # nothing lost, nothing listed twice
    assert sum(where(switched).values()) == len(held)
    assert where(switched)["legacy"] > 0  # the flips did land
    assert where(switched)["supervised"] > 0
    assert all(switched.lookup(key).owner is owner for key, owner in held.items())  # type: ignore[union-attr]
    assert sorted(e.key for e in await switched.scan()) == sorted(held)


async def test_a_rollout_by_actor_sends_each_key_to_one_path(
    flippable: Backends, registry: Registry, spawn: Spawn
) -> None:
    await flippable.flags.set_percentage(REGISTRY_FLAG, 50.0, of="actors", actor="test")
    switched = SwitchedRegistry(NAME)
    owner = spawn()
    keys = [f"agent-{n}" for n in range(40)]
    for key in keys:
        switched.register(key, owner)
    expected = {key: normalized(REGISTRY_FLAG, key) <= 50.0 for key in keys}
    assert {key: switched.backend(key) == "supervised" for key in keys} == expected
    assert where(switched) == {"supervised": sum(expected.values()), "legacy": 40 - sum(expected.values())}
    assert 0 < sum(expected.values()) < 40
    assert all(switched.lookup(key) is not None for key in keys)


async def test_a_duplicate_registry_is_not_switched(flippable: Backends) -> None:
    server = await Registry.start(keys="duplicate", name="test.switched.duplicate")
    try:
        with pytest.raises(TypeError, match="duplicate"):
            SwitchedRegistry("test.switched.duplicate").lookup("k")
    finally:
        await server.stop()
