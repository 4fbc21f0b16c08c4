"""The agent registry: registration decisions, owner cleanup, monitors, indexes, queries, duplicate
keys, via names, telemetry (docs/otp-conformance.md#registry)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any

import pytest

from daemon.registry import (
    LOOKUP_MISS,
    OWNER_DOWN,
    REGISTER,
    REGISTRY_NAME,
    REGISTRY_SUPERVISOR_NAME,
    UNREGISTER,
    KeyMode,
    Registry,
    RegistrySettings,
    Via,
    keeper_child_spec,
    registry_child_spec,
    registry_named,
    start_via,
    whereis_via,
)
from daemon.registry.errors import AlreadyRegistered, NotIndexed, TooManyEntries
from supervisor import Caller, ChildSpec, NoProc, Server, Supervisor, telemetry, whereis
from supervisor.errors import AlreadyStarted
from supervisor.lowlevel import add_exit_callback
from tests.daemon.conftest import Spawn


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    server = await Registry.start()
    yield server
    if server.alive:
        await server.stop()


async def kill(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# --- registering and looking up -----------------------------------------------------------------------


async def test_lookup_returns_owner_and_metadata_of_a_registered_key(
    registry: Registry, spawn: Spawn
) -> None:
    owner = spawn()
    registry.register("agent", owner, {"node": "a"})
    entry = registry.lookup("agent")
    assert entry is not None
    assert (entry.key, entry.owner, dict(entry.metadata)) == ("agent", owner, {"node": "a"})


async def test_lookup_of_an_unknown_key_is_none(registry: Registry) -> None:
    assert registry.lookup("nobody") is None


async def test_metadata_is_a_read_only_copy(registry: Registry, spawn: Spawn) -> None:
    metadata = {"node": "a"}
    entry = registry.register("agent", spawn(), metadata)
    metadata["node"] = "b"
    assert entry.metadata["node"] == "a"
    with pytest.raises(TypeError):
        entry.metadata["node"] = "c"  # type: ignore[index]


async def test_registering_a_key_held_by_a_live_owner_is_refused_naming_the_owner(
    registry: Registry, spawn: Spawn
) -> None:
    first = spawn()
    first.set_name("first-owner")
    registry.register("agent", first)
    with pytest.raises(AlreadyRegistered, match="first-owner") as refused:
        registry.register("agent", spawn())
    assert refused.value.owner is first
    entry = registry.lookup("agent")
    assert entry is not None
    assert entry.owner is first


async def test_a_key_held_by_a_dead_owner_is_replaced(registry: Registry, spawn: Spawn) -> None:
    first, second = spawn(), spawn()
    registry.register("agent", first)
    await kill(first)  # dead, and its Down not handled yet: the stale entry is still stored
    registry.register("agent", second, {"v": 2})
    entry = registry.lookup("agent")
    assert entry is not None
    assert entry.owner is second
    await registry.settle()  # the late Down of the first owner must not remove the new entry
    assert registry.lookup("agent") == entry


async def test_unregister_of_a_missing_key_returns_false(registry: Registry) -> None:
    assert registry.unregister("nobody") is False


async def test_unregister_removes_the_key_and_returns_true(registry: Registry, spawn: Spawn) -> None:
    registry.register("agent", spawn())
    assert registry.unregister("agent") is True
    assert registry.lookup("agent") is None
    assert registry.unregister("agent") is False


async def test_unregister_with_another_owner_leaves_the_entry(registry: Registry, spawn: Spawn) -> None:
    owner = spawn()
    registry.register("agent", owner)
    assert registry.unregister("agent", spawn()) is False
    assert registry.unregister("agent", owner) is True


async def test_servers_and_tasks_can_own_entries(registry: Registry, spawn: Spawn) -> None:
    server = await Server.start()
    registry.register("server", server)
    registry.register("task", spawn())
    assert {e.key for e in registry.list_all()} == {"server", "task"}
    await server.stop()
    assert registry.lookup("server") is None


@pytest.mark.parametrize("bad", [{"a": "list"}, ["unhashable"]])
async def test_an_unhashable_key_is_a_type_error(registry: Registry, spawn: Spawn, bad: Any) -> None:
    with pytest.raises(TypeError, match="hashable"):
        registry.register(bad, spawn())


@pytest.mark.parametrize("bad", [{"a": "list"}, ["unhashable"]])
async def test_reads_of_an_unhashable_key_miss(registry: Registry, spawn: Spawn, bad: Any) -> None:
    # No entry can be under it (register refuses it): every read says so, none raises.
    registry.register("agent", spawn(), {"node": "a"})
    with telemetry.capture(LOOKUP_MISS) as seen:
        assert registry.lookup(bad) is None
    assert [c.metadata["key"] for c in seen] == [bad]
    assert registry.lookup_all(bad) == []
    assert registry.find_by_attribute("node", bad) == []
    assert registry.unregister(bad) is False
    assert registry.dispatch(bad, lambda entries: None) is False
    assert registry.lookup("agent") is not None


@pytest.mark.parametrize("owner", ["a string", 42, None])
async def test_an_owner_must_be_a_server_or_a_task(registry: Registry, owner: Any) -> None:
    with pytest.raises(TypeError, match="owner"):
        registry.register("agent", owner)


async def test_a_dead_owner_cannot_register(registry: Registry, spawn: Spawn) -> None:
    owner = spawn()
    await kill(owner)
    with pytest.raises(NoProc):
        registry.register("agent", owner)
    assert registry.count() == 0


async def test_a_stopped_registry_refuses_writes(spawn: Spawn) -> None:
    registry = await Registry.start()
    await registry.stop()
    with pytest.raises(NoProc):
        registry.register("agent", spawn())


async def test_an_owner_past_its_entry_limit_is_refused(spawn: Spawn) -> None:
    registry = await Registry.start(max_entries_per_owner=2)
    owner = spawn()
    registry.register(1, owner)
    registry.register(2, owner)
    with pytest.raises(TooManyEntries):
        registry.register(3, owner)
    registry.register(3, spawn())
    await registry.stop()


# --- owners exit: entries and monitors go -------------------------------------------------------------


async def test_every_entry_of_an_exited_owner_is_removed(registry: Registry, spawn: Spawn) -> None:
    owner, other = spawn(), spawn()
    for key in ("a", "b", "c"):
        registry.register(key, owner, {"capability": "x"})
    registry.register("d", other, {"capability": "x"})
    await kill(owner)
    # Before the Down is handled, reads already hide the dead owner's entries...
    assert [e.key for e in registry.find_by_attribute("capability", "x")] == ["d"]
    assert registry.count() == 1
    await registry.settle()
    # ...and once it is, they are gone from the tables and the owner is no longer monitored.
    assert len(registry._entries) == 1
    assert registry.monitor_count() == 1


async def test_one_monitor_per_owner_however_many_keys(registry: Registry, spawn: Spawn) -> None:
    owner = spawn()
    for key in range(10):
        registry.register(key, owner)
    assert registry.monitor_count() == 1
    for key in range(9):
        registry.unregister(key)
    assert registry.monitor_count() == 1
    registry.unregister(9)
    assert registry.monitor_count() == 0


async def test_monitors_return_to_baseline_after_register_unregister_death_cycles(registry: Registry) -> None:
    server = await Server.start()
    baseline = len(server._exit_callbacks or {})
    stop = asyncio.Event()
    for cycle in range(50):
        registry.register(("s", cycle), server)
        task = asyncio.create_task(stop.wait())
        registry.register(("t", cycle), task)
        registry.unregister(("s", cycle))
        await kill(task)
    await registry.settle()
    assert registry.monitor_count() == 0
    assert len(server._exit_callbacks or {}) == baseline  # no exit callback left on the owner
    assert len(registry._owners) == 0
    assert len(registry._entries) == 0
    await server.stop()


async def test_owner_down_emits_telemetry_with_the_count(registry: Registry, spawn: Spawn) -> None:
    owner = spawn()
    registry.register("a", owner)
    registry.register("b", owner)
    with telemetry.capture(OWNER_DOWN) as seen:
        await kill(owner)
        async with asyncio.timeout(5):
            event = await seen.wait(OWNER_DOWN)
    assert event.measurements == {"count": 2}
    assert event.metadata["owner"] is owner


async def test_register_unregister_and_misses_emit_telemetry(registry: Registry, spawn: Spawn) -> None:
    owner = spawn()
    with telemetry.capture(REGISTER, UNREGISTER, LOOKUP_MISS) as seen:
        registry.register("a", owner)
        registry.lookup("a")
        registry.lookup("b")
        registry.unregister("a")
        registry.unregister("a")
    assert [(c.event[-1], c.metadata["key"]) for c in seen] == [
        ("register", "a"),
        ("lookup_miss", "b"),
        ("unregister", "a"),
    ]


# --- metadata, indexes, queries -------------------------------------------------------------------------


async def test_update_metadata_replaces_it_and_reindexes(registry: Registry, spawn: Spawn) -> None:
    registry.register("agent", spawn(), {"health_status": "starting"})
    assert registry.update_metadata("agent", {"health_status": "healthy"}) is True
    assert registry.find_by_attribute("health_status", "starting") == []
    assert [e.key for e in registry.find_by_attribute("health_status", "healthy")] == ["agent"]
    assert registry.update_metadata("nobody", {}) is False


async def test_find_by_attribute_uses_the_index_and_list_values(registry: Registry, spawn: Spawn) -> None:
    registry.register("a", spawn(), {"capability": ["search", "plan"], "node": "n1"})
    registry.register("b", spawn(), {"capability": "search", "node": "n2"})
    registry.register("c", spawn(), {"node": "n1"})
    assert sorted(e.key for e in registry.find_by_attribute("capability", "search")) == ["a", "b"]
    assert [e.key for e in registry.find_by_attribute("capability", "plan")] == ["a"]
    assert sorted(e.key for e in registry.find_by_attribute("node", "n1")) == ["a", "c"]
    assert registry.find_by_attribute("node", "n9") == []
    # The index holds exactly the values registered: an index table, not a scan of entries.
    assert sorted(row[0] for row in registry._indexes["capability"].tab2list()) == ["plan", "search"]


class HashRaises:
    """A metadata value whose ``__hash__`` raises something other than TypeError."""

    def __hash__(self) -> int:
        raise ValueError("no hash for me")


async def test_a_value_whose_hash_raises_is_stored_unindexed_and_cleaned_up(
    registry: Registry, spawn: Spawn
) -> None:
    owner = spawn()
    odd = HashRaises()
    entry = registry.register("odd", owner, {"capability": [odd, "search"]})
    assert registry.lookup("odd") == entry
    assert [e.key for e in registry.find_by_attribute("capability", "search")] == ["odd"]
    with telemetry.capture(OWNER_DOWN) as seen:
        await kill(owner)
        async with asyncio.timeout(10):
            await seen.wait(OWNER_DOWN)
    assert registry.alive  # the cleanup did not crash it
    assert registry.lookup("odd") is None
    assert registry.find_by_attribute("capability", "search") == []


async def test_an_unindexed_attribute_is_a_clear_error(registry: Registry) -> None:
    with pytest.raises(
        NotIndexed, match=r"'colour' is not indexed \(indexed: capability, health_status, node\)"
    ):
        registry.find_by_attribute("colour", "red")


async def test_indexed_attributes_are_configurable(spawn: Spawn) -> None:
    registry = await Registry.start(indexed_attributes=("zone",))
    registry.register("a", spawn(), {"zone": "eu", "node": "n1"})
    assert [e.key for e in registry.find_by_attribute("zone", "eu")] == ["a"]
    with pytest.raises(NotIndexed):
        registry.find_by_attribute("node", "n1")
    await registry.stop()


async def test_unhashable_attribute_values_are_not_indexed_but_queryable(
    registry: Registry, spawn: Spawn
) -> None:
    registry.register("a", spawn(), {"node": {"name": "n1"}})
    assert registry.find_by_attribute("node", "n1") == []
    assert [e.key for e in registry.query([("node.name", "eq", "n1")])] == ["a"]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ([("load.cpu", "eq", 0.5)], ["b"]),
        ([("load.cpu", "neq", 0.5)], ["a", "c", "d"]),
        ([("load.cpu", "gt", 0.25)], ["b", "c"]),
        ([("load.cpu", "gte", 0.5)], ["b", "c"]),
        ([("load.cpu", "lt", 0.5)], ["a"]),
        ([("load.cpu", "lte", 0.5)], ["a", "b"]),
        ([("node", "in", ["n1", "n3"])], ["a", "c", "d"]),
        ([("node", "not_in", ["n1", "n3"])], ["b"]),
        ([("node", "eq", "n1"), ("load.cpu", "gt", 0.1)], ["c"]),
        ([("load.missing.deeper", "eq", None)], ["a", "b", "c", "d"]),
        ([], ["a", "b", "c", "d"]),
    ],
)
async def test_query_operators_over_nested_paths_anded(
    registry: Registry, spawn: Spawn, criteria: list[tuple[str, str, Any]], expected: list[str]
) -> None:
    registry.register("a", spawn(), {"node": "n1", "load": {"cpu": 0.1}})
    registry.register("b", spawn(), {"node": "n2", "load": {"cpu": 0.5}})
    registry.register("c", spawn(), {"node": "n1", "load": {"cpu": 0.9}})
    registry.register("d", spawn(), {"node": "n3", "load": "unknown"})
    assert sorted(e.key for e in registry.query(criteria)) == expected


async def test_query_with_incomparable_values_does_not_match_or_raise(
    registry: Registry, spawn: Spawn
) -> None:
    registry.register("a", spawn(), {"load": "high"})
    assert registry.query([("load", "gt", 3)]) == []


@pytest.mark.parametrize(
    "criterion",
    [("load", "between", 1), ("", "eq", 1), ("load", "in", "abc"), (1, "eq", 1), {"path": "x"}],
)
async def test_a_malformed_criterion_is_a_value_error(registry: Registry, criterion: Any) -> None:
    with pytest.raises(ValueError, match=r"criterion|needs a list"):
        registry.query([criterion])


async def test_list_all_with_a_filter_and_count(registry: Registry, spawn: Spawn) -> None:
    registry.register("a", spawn(), {"n": 1})
    registry.register("b", spawn(), {"n": 2})
    assert [e.key for e in registry.list_all(lambda md: md["n"] > 1)] == ["b"]
    assert registry.count() == 2


async def test_keys_of_an_owner(registry: Registry, spawn: Spawn) -> None:
    owner = spawn()
    registry.register("a", owner)
    registry.register("b", owner)
    assert registry.keys_of(owner) == ["a", "b"]
    await kill(owner)
    assert registry.keys_of(owner) == []


# --- duplicate keys: pub/sub ---------------------------------------------------------------------------


async def test_duplicate_mode_holds_one_entry_per_owner_and_dispatches(spawn: Spawn) -> None:
    topics = await Registry.start(keys=KeyMode.DUPLICATE)
    first, second = spawn(), spawn()
    topics.register("news", first, {"capability": "reader"})
    topics.register("news", second, {"capability": "reader"})
    with pytest.raises(AlreadyRegistered):
        topics.register("news", first)
    received: list[list[Any]] = []
    assert topics.dispatch("news", lambda entries: received.append([e.owner for e in entries])) is True
    assert received == [[first, second]]
    assert len(topics.find_by_attribute("capability", "reader")) == 2
    await kill(first)
    assert [e.owner for e in topics.lookup_all("news")] == [second]
    assert topics.unregister("news", second) is True
    assert topics.dispatch("news", received.append) is False  # never called with no entries
    assert received == [[first, second]]
    with pytest.raises(TypeError, match="lookup_all"):
        topics.lookup("news")
    await topics.settle()
    assert topics.monitor_count() == 0
    await topics.stop()


# --- naming servers through the registry ----------------------------------------------------------------


async def test_via_names_follow_the_live_server() -> None:
    registry = await Registry.start(name="test.via.registry")
    via = Via("test.via.registry", ("worker", 1), {"node": "a"})
    worker = await start_via(via, Server)
    assert whereis_via(via) is worker
    with pytest.raises(AlreadyStarted) as taken:
        await start_via(via, Server)
    assert taken.value.holder is worker
    assert [e.owner for e in registry.find_by_attribute("node", "a")] == [worker]
    await worker.stop()
    assert whereis_via(via) is None
    again = await start_via(via, Server)
    assert whereis_via(via) is again
    await again.stop()
    await registry.stop()
    assert whereis_via(via) is None


async def test_start_via_without_a_registry_starts_nothing() -> None:
    with pytest.raises(NoProc):
        await start_via(Via("test.via.none", "k"), Server)


async def test_a_registry_found_before_its_init_ran_refuses_cleanly(spawn: Spawn) -> None:
    starting = Registry()  # what whereis returns between start() and the end of init
    assert starting.lookup("agent") is None
    with pytest.raises(NoProc, match="starting"):
        starting.list_all()
    with pytest.raises(NoProc):
        starting.register("agent", spawn())


async def test_reads_hide_a_dead_owner_before_its_down_is_handled(registry: Registry, spawn: Spawn) -> None:
    # Each check runs after the owner's task has ended but before the registry could handle the Down
    # its monitor queued: only the liveness check on the read path hides the entry.
    loop = asyncio.get_running_loop()
    server = await Server.start()
    task = spawn()

    # Queued from the exit notification, ahead of the registry's wake-up (this callback is older
    # than the registry's monitor), so it runs once the server's task is done, before the registry.
    def check_soon(_: object) -> None:
        loop.call_soon(check, None)

    add_exit_callback(server, check_soon)
    registry.register("server", server, {"node": "a"})
    task_entry = registry.register("task", task, {"node": "a"})
    seen: list[tuple[object, ...]] = []

    def check(_: object) -> None:
        seen.append(
            (
                len(registry._entries),
                registry.lookup("server"),
                registry.lookup("task"),
                [e.key for e in registry.find_by_attribute("node", "a")],
                [e.key for e in registry.query([("node", "eq", "a")])],
                [e.key for e in registry.list_all()],
                registry.count(),
            )
        )

    task.add_done_callback(check)  # runs right after the registry's own done-callback queued the Down
    await server.stop()
    await registry.settle()
    assert seen == [(2, None, task_entry, ["task"], ["task"], ["task"], 1)]
    await kill(task)
    assert seen[1] == (1, None, None, [], [], [], 0)


async def test_find_by_attribute_hides_a_dead_owners_entries_in_a_shared_row(
    registry: Registry, spawn: Spawn
) -> None:
    # An index row checks each owner once while all are alive; once one has exited (its Down not
    # handled yet) the row is filtered entry by entry, in registration order, before and after cleanup.
    first, second = spawn(), spawn()
    for n in range(6):
        registry.register(n, first if n % 2 else second, {"node": "a"})
    assert [e.key for e in registry.find_by_attribute("node", "a")] == [0, 1, 2, 3, 4, 5]
    row = registry._indexes["node"].get("a")
    assert row[2] == {second: 3, first: 3}
    first.cancel()
    await asyncio.sleep(0)  # the task has ended; its done-callbacks have not run yet
    assert first.done()
    assert [e.key for e in registry.find_by_attribute("node", "a")] == [0, 2, 4]
    await registry.settle()
    assert [e.key for e in registry.find_by_attribute("node", "a")] == [0, 2, 4]
    assert registry._indexes["node"].get("a")[2] == {second: 3}
    registry.unregister(2)
    assert registry._indexes["node"].get("a")[2] == {second: 2}
    assert [e.key for e in registry.find_by_attribute("node", "a")] == [0, 4]


class _FlaggedTask(asyncio.Task[bool]):
    """A task whose ``done`` also answers True once flagged: reads must ask its own ``done``."""

    flagged = False

    def done(self) -> bool:
        return self.flagged or super().done()


async def test_reads_ask_an_owner_class_that_overrides_done(registry: Registry, spawn: Spawn) -> None:
    plain = spawn()
    registry.register("plain", plain, {"node": "a"})
    assert registry._owner_done is asyncio.Task.done  # plain tasks: Task.done itself, the fast way
    stop = asyncio.Event()
    odd = _FlaggedTask(stop.wait())
    try:
        registry.register("odd", odd, {"node": "a"})
        assert [e.key for e in registry.find_by_attribute("node", "a")] == ["plain", "odd"]
        odd.flagged = True
        assert registry.lookup("odd") is None
        assert [e.key for e in registry.find_by_attribute("node", "a")] == ["plain"]
        assert registry.lookup("plain") is not None
    finally:
        stop.set()
        await odd


# --- monitors and exit callbacks come back to their baseline -------------------------------------------


def exit_callbacks(process: Server | asyncio.Task[Any]) -> int:
    """How many exit callbacks ``process`` carries: a server's own, a task's done-callbacks (a
    monitor of a task is one done-callback on it)."""
    if isinstance(process, asyncio.Task):
        return len(process._callbacks or [])
    return len(process._exit_callbacks or {})


async def restart_registry(*, while_down: Callable[[], object] = lambda: None) -> Registry:
    """Kill the daemon's registry, run ``while_down`` before its supervisor restarts it, and
    return the new incarnation (which claims the tables from the keeper and re-monitors)."""
    old = registry_named(REGISTRY_NAME)
    old.kill()
    await old.wait()
    while_down()
    supervisor = whereis(REGISTRY_SUPERVISOR_NAME)
    assert isinstance(supervisor, Supervisor)
    await supervisor.which_children()  # a call: the exit and the restart are handled before it
    new = registry_named(REGISTRY_NAME)
    assert new is not old
    return new


def take_over_on_exit(
    registry: Registry, key: Hashable, dying: asyncio.Task[Any], heir: asyncio.Task[Any]
) -> list[tuple[bool, object]]:
    """Register ``key`` for ``heir`` from ``dying``'s last done-callback: once the registry's monitor
    has queued the ``Down``, before the registry handled it. Returns [(the dying owner was still in
    the registry's owners then, the new entry's owner)]."""
    taken: list[tuple[bool, object]] = []

    def take_over(_: object) -> None:
        still_owner = registry._owners.get(dying) is not None
        taken.append((still_owner, registry.register(key, heir).owner))

    dying.add_done_callback(take_over)
    return taken


async def test_monitors_and_exit_callbacks_return_to_baseline_across_owners_exits_and_restarts() -> None:
    settings = RegistrySettings(intensity=10, period=60.0)  # the restarts below stay within it
    async with Supervisor([keeper_child_spec(), registry_child_spec(settings)]):
        registry = registry_named(REGISTRY_NAME)
        stop = asyncio.Event()
        steady_server = await Server.start()  # owners that outlive every cycle: what is left on them
        steady_task = asyncio.create_task(stop.wait())  # is what the registry leaked
        server_baseline = exit_callbacks(steady_server)
        task_baseline = exit_callbacks(steady_task)
        own_baseline = exit_callbacks(registry)  # its supervisor's watch, its monitor of the keeper
        assert registry.monitor_count() == 0

        def check(monitored: int, steady_monitored: bool) -> None:
            assert registry.monitor_count() == monitored
            # Each monitor is one callback on its owner and one on the registry (its watcher).
            assert exit_callbacks(registry) == own_baseline + monitored
            assert exit_callbacks(steady_server) == server_baseline + steady_monitored
            assert exit_callbacks(steady_task) == task_baseline + steady_monitored

        for cycle in range(24):
            server = await Server.start()
            task = asyncio.create_task(stop.wait())
            for n in range(3):
                registry.register(("steady-server", cycle, n), steady_server, {"node": "a"})
                registry.register(("steady-task", cycle, n), steady_task, {"node": "a"})
                registry.register(("server", cycle, n), server, {"capability": ["x", "y"]})
                registry.register(("task", cycle, n), task, {"capability": "x"})
            check(4, True)
            # A dead owner's key taken over before its Down is handled: the late Down is stale.
            doomed = asyncio.create_task(stop.wait())
            registry.register(("doomed", cycle), doomed)
            taken = take_over_on_exit(registry, ("doomed", cycle), doomed, steady_task)
            await kill(doomed)
            assert taken == [(True, steady_task)]
            exiting = 2  # the owners that exit holding their keys: server and task
            if cycle % 8 == 7:
                # The new incarnation re-monitors every owner (the task exited meanwhile: noproc);
                # the old one's monitors end with it, on the owners as well.
                registry = await restart_registry(while_down=task.cancel)
                await registry.settle()
                assert registry.lookup(("task", cycle, 0)) is None
                exiting = 1
                check(2 + exiting, True)
            removed = [registry.unregister(("steady-server", cycle, n)) for n in range(3)]
            removed += [registry.unregister(("steady-task", cycle, n), steady_task) for n in range(3)]
            removed.append(registry.unregister(("doomed", cycle), steady_task))
            assert removed == [True] * 7
            check(exiting, False)
            if cycle % 2:
                await server.stop()
            else:
                server.kill()
                await server.wait()
            await kill(task)
            await registry.settle()
            check(0, False)
        assert (len(registry._entries), len(registry._owners)) == (0, 0)
        assert {attribute: len(index) for attribute, index in registry._indexes.items()} == dict.fromkeys(
            registry.indexed_attributes, 0
        )
        await steady_server.stop()
        stop.set()
        await steady_task


# --- start_via as a child's start function ----------------------------------------------------------------


class ViaWorker(Server):
    """A child started through ``start_via``: any call says which incarnation answers it."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return self


async def test_start_via_under_a_supervisor_re_registers_each_restart_under_the_same_name() -> None:
    settings = RegistrySettings(intensity=10, period=60.0)
    via = Via(REGISTRY_NAME, ("worker", 1), {"node": "a", "capability": "search"})
    async with Supervisor([keeper_child_spec(), registry_child_spec(settings)]):
        spec = ChildSpec("worker", start_via, args=(via, ViaWorker))
        async with Supervisor([spec], intensity=10, period=60.0) as workers:

            async def current(previous: Server | None) -> Server:
                (info,) = await workers.which_children()  # also: any restart has been handled
                child = info.server
                assert isinstance(child, ViaWorker)
                assert child is not previous
                assert whereis_via(via) is child
                served: object = await child.call("which")
                assert served is child  # it is the live one, serving
                entry = registry_named(REGISTRY_NAME).lookup(via.key)
                assert entry is not None
                assert (entry.owner, dict(entry.metadata)) == (child, dict(via.metadata))
                return child

            first = await current(None)
            registry = registry_named(REGISTRY_NAME)
            # A crash: the restarted child takes the name over, and the Down of the dead one
            # removes nothing of its entry.
            first.kill()
            await first.wait()
            second = await current(first)
            await registry.settle()
            assert await current(first) is second
            assert registry.monitor_count() == 1
            assert [e.owner for e in registry.find_by_attribute("capability", "search")] == [second]
            # A normal exit of a permanent child: restarted and re-registered as well.
            await second.stop()
            third = await current(second)
            # The registry restarts: the name survives (keeper), and the next child restart registers
            # in the new incarnation.
            registry = await restart_registry()
            assert await current(second) is third
            third.kill()
            await third.wait()
            fourth = await current(third)
            await registry.settle()
            assert registry.monitor_count() == 1
            # Stopped by its supervisor: the name is free; restarted: taken again.
            await workers.terminate_child("worker")
            assert whereis_via(via) is None
            await registry.settle()
            assert registry.monitor_count() == 0
            await workers.restart_child("worker")
            await current(fourth)
        assert whereis_via(via) is None
