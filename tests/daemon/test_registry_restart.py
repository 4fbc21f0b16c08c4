"""The registry under its supervisor, beside its keeper at the root: a crash, its supervisor giving up
and a reload of its settings lose no live entry (tables survive through the keeper), monitors are
re-established, a restarted keeper is re-appointed heir (docs/otp-conformance.md#surviving-a-crash)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.app_reload import ReloadOutcome, apply_components
from daemon.component import ComponentContext
from daemon.registry import (
    KEEPER_ID,
    KEEPER_NAME,
    REGISTRY_NAME,
    REGISTRY_SUPERVISOR_NAME,
    Claim,
    Registry,
    RegistrySettings,
    TableKeeper,
    keeper_child_spec,
    registry_child_spec,
    registry_named,
)
from daemon.registry.component import KEEPER, REGISTRY
from daemon.registry.errors import NotIndexed
from daemon.settings import Settings
from daemon.tree import COMPONENTS, PlannedChild, changed_components, plan_tree
from daemon.verbs.method import VerbTable
from supervisor import Server, Supervisor, Table, whereis


@pytest.fixture
async def tree() -> AsyncIterator[Supervisor]:
    """The registry's part of the daemon's root: the keeper, then the registry's supervisor."""
    async with Supervisor([keeper_child_spec(), registry_child_spec(RegistrySettings())]) as root:
        yield root


async def restart(what: str, supervisor: Supervisor | None = None) -> None:
    """Kill the named child and wait until its supervisor (default: the registry's) has restarted it."""
    server = whereis(what)
    assert server is not None
    server.kill()
    await server.wait()
    if supervisor is None:
        found = whereis(REGISTRY_SUPERVISOR_NAME)
        assert isinstance(found, Supervisor)
        supervisor = found
    await supervisor.which_children()  # a call: the exit and the restart are handled before it
    restarted = whereis(what)
    assert restarted is not None
    assert restarted is not server


async def test_a_crashed_registry_keeps_every_live_entry(tree: Supervisor) -> None:
    stop = asyncio.Event()
    owners = [asyncio.create_task(stop.wait()) for _ in range(20)]
    before = registry_named(REGISTRY_NAME)
    for n, owner in enumerate(owners):
        before.register(n, owner, {"node": f"n{n % 3}"})
    await restart(REGISTRY_NAME)
    after = registry_named(REGISTRY_NAME)
    assert sorted(e.key for e in after.list_all()) == list(range(20))
    assert sorted(e.key for e in after.find_by_attribute("node", "n1")) == list(range(1, 20, 3))
    assert after.monitor_count() == 20
    stop.set()
    await asyncio.gather(*owners)


async def test_monitors_are_reestablished_after_a_crash(tree: Supervisor) -> None:
    stop = asyncio.Event()
    owner = asyncio.create_task(stop.wait())
    registry_named(REGISTRY_NAME).register("agent", owner)
    await restart(REGISTRY_NAME)
    registry = registry_named(REGISTRY_NAME)
    owner.cancel()
    await asyncio.gather(owner, return_exceptions=True)
    await registry.settle()
    assert len(registry._entries) == 0  # removed by the new incarnation's monitor
    assert registry.monitor_count() == 0


async def test_owners_that_died_while_the_registry_was_down_are_cleaned(tree: Supervisor) -> None:
    stop = asyncio.Event()
    owner = asyncio.create_task(stop.wait())
    registry = registry_named(REGISTRY_NAME)
    registry.register("agent", owner)
    registry.kill()
    owner.cancel()  # its Down goes to the dead incarnation
    await asyncio.gather(owner, return_exceptions=True)
    supervisor = whereis(REGISTRY_SUPERVISOR_NAME)
    assert isinstance(supervisor, Supervisor)
    await supervisor.which_children()
    restarted = registry_named(REGISTRY_NAME)
    await restarted.settle()  # the noproc Down of the re-monitor has been handled
    assert len(restarted._entries) == 0
    assert restarted.monitor_count() == 0


async def test_the_old_incarnations_monitors_are_removed_from_the_owner(tree: Supervisor) -> None:
    owner = await Server.start()
    baseline = len(owner._exit_callbacks or {})
    registry_named(REGISTRY_NAME).register("agent", owner)
    for _ in range(3):
        await restart(REGISTRY_NAME)
    # One monitor (the current incarnation's) plus nothing left behind by the crashed ones.
    assert len(owner._exit_callbacks or {}) == baseline + 1
    registry_named(REGISTRY_NAME).unregister("agent")
    assert len(owner._exit_callbacks or {}) == baseline
    await owner.stop()


async def test_a_restarted_keeper_becomes_the_heir_again(tree: Supervisor) -> None:
    owner = await Server.start()
    registry_named(REGISTRY_NAME).register("agent", owner, {"node": "a"})
    await restart(KEEPER_NAME, tree)
    registry = registry_named(REGISTRY_NAME)
    await registry.settle()  # KeeperUp handled
    keeper = whereis(KEEPER_NAME)
    assert registry._entries.info().heir is keeper
    await restart(REGISTRY_NAME)
    entry = registry_named(REGISTRY_NAME).lookup("agent")
    assert entry is not None
    assert entry.owner is owner
    await owner.stop()


async def test_writes_through_a_dead_incarnation_are_refused(tree: Supervisor) -> None:
    old = registry_named(REGISTRY_NAME)
    owner = await Server.start()
    await restart(REGISTRY_NAME)
    with pytest.raises(Exception, match="not running"):
        old.register("agent", owner)
    # Reads through the old handle still see the (shared, surviving) tables.
    registry_named(REGISTRY_NAME).register("agent", owner)
    entry = old.lookup("agent")
    assert entry is not None
    assert entry.owner is owner
    await owner.stop()


async def test_without_a_keeper_tables_die_with_the_registry() -> None:
    stop = asyncio.Event()
    owner = asyncio.create_task(stop.wait())
    registry = await Registry.start()
    registry.register("agent", owner)
    entries = registry._entries
    await registry.stop()
    assert entries.deleted
    stop.set()
    await owner


async def test_the_keeper_survives_stray_mail_and_calls() -> None:
    keeper = await TableKeeper.start()
    keeper.send("junk")
    assert await keeper.call("junk") == ()
    assert keeper.alive
    assert keeper.held() == {}
    await keeper.stop()


async def test_a_claim_from_a_dead_claimant_keeps_the_tables() -> None:
    keeper = await TableKeeper.start()

    class Owner(Server):
        async def init(self) -> None:
            self.table = Table("kept", heir=keeper, heir_data="label")

    owner = await Owner.start()
    await owner.stop()
    dead = await Server.start()
    await dead.stop()
    assert await keeper.call(Claim("label", dead)) == ()
    assert keeper.alive
    assert keeper.held() == {"label": 1}
    claimant = await Server.start()
    (table,) = await keeper.call(Claim("label", claimant))
    assert table.owner is claimant
    await claimant.stop()
    await keeper.stop()


def test_the_keeper_is_a_child_of_the_root_before_the_registry(short_tmp: Path) -> None:
    spec = registry_child_spec(RegistrySettings(intensity=7, period=2.0))
    children: Any = spec.args[0]
    assert [c.id for c in children] == ["registry"]  # the keeper is not under the registry's supervisor
    assert spec.kwargs["flags"].intensity == 7
    assert spec.kwargs["flags"].period == 2.0
    daemon: Any = object()
    context = ComponentContext(daemon, short_tmp, VerbTable({}))
    old = plan_tree(Settings(), context, COMPONENTS)
    ids = [c.id for c in old]
    at = ids.index(KEEPER_ID)  # the keeper comes right before the registry (the telemetry ones before it)
    assert ids[at : at + 2] == [KEEPER_ID, "registry"]
    assert old[at].spec.name == KEEPER_NAME
    new_settings = Settings.model_validate(
        {"registry": RegistrySettings(indexed_attributes=("zone",), intensity=1)}
    )
    # A [registry] reload leaves the keeper alone.
    assert changed_components(COMPONENTS, Settings(), new_settings) == ["registry"]


async def test_a_reload_of_the_registry_settings_keeps_live_entries(tree: Supervisor) -> None:
    old_settings = Settings()
    new_settings = Settings.model_validate(
        {"registry": RegistrySettings(indexed_attributes=("zone",), max_entries_per_owner=5)}
    )
    old_plan = [
        PlannedChild(keeper_child_spec(), KEEPER.name),
        PlannedChild(registry_child_spec(REGISTRY.of(old_settings)), REGISTRY.name),
    ]
    new_plan = [
        PlannedChild(keeper_child_spec(), KEEPER.name),
        PlannedChild(registry_child_spec(REGISTRY.of(new_settings)), REGISTRY.name),
    ]
    keeper = whereis(KEEPER_NAME)
    before = registry_named(REGISTRY_NAME)
    server = await Server.start()
    stop = asyncio.Event()
    task = asyncio.create_task(stop.wait())
    before.register("server", server, {"zone": "eu", "node": "a"})
    before.register("task", task, {"zone": "us", "node": "a"})
    outcome = ReloadOutcome()
    components = (KEEPER, REGISTRY)
    assert changed_components(components, old_settings, new_settings) == ["registry"]
    in_force, later = await apply_components(
        tree, components, old_settings, new_settings, old_plan, new_plan, outcome
    )
    assert (outcome.restarted, outcome.errors, later) == (["registry"], [], [])
    assert in_force == [old_plan[0], new_plan[1]]
    after = registry_named(REGISTRY_NAME)
    assert after is not before
    assert whereis(KEEPER_NAME) is keeper
    # The entries survived, indexed under the new attributes (rebuilt from the entries), not the old.
    for key, owner in (("server", server), ("task", task)):
        entry = after.lookup(key)
        assert entry is not None
        assert entry.owner is owner
    assert [e.key for e in after.find_by_attribute("zone", "eu")] == ["server"]
    with pytest.raises(NotIndexed):
        after.find_by_attribute("node", "a")
    assert after.monitor_count() == 2
    assert after._entries.info().heir is keeper
    # The new incarnation monitors the owners: their deaths still remove their entries.
    await server.stop()
    stop.set()
    await task
    await after.settle()
    assert after.lookup("server") is None
    assert len(after._entries) == 0
    assert after.monitor_count() == 0


async def test_the_registry_supervisor_giving_up_keeps_live_entries() -> None:
    # intensity 1 over a long period: the second crash makes the registry's supervisor give up.
    settings = RegistrySettings(intensity=1, period=60.0)
    async with Supervisor([keeper_child_spec(), registry_child_spec(settings)]) as root:
        keeper = whereis(KEEPER_NAME)
        first = whereis(REGISTRY_SUPERVISOR_NAME)
        assert isinstance(first, Supervisor)
        owner = await Server.start()
        registry_named(REGISTRY_NAME).register("agent", owner, {"node": "a"})
        await restart(REGISTRY_NAME)
        assert whereis(REGISTRY_SUPERVISOR_NAME) is first
        registry_named(REGISTRY_NAME).kill()
        await first.wait()  # it gave up
        await root.which_children()  # the root has handled its exit and restarted it
        second = whereis(REGISTRY_SUPERVISOR_NAME)
        assert isinstance(second, Supervisor)
        assert second is not first
        assert whereis(KEEPER_NAME) is keeper
        registry = registry_named(REGISTRY_NAME)
        entry = registry.lookup("agent")
        assert entry is not None
        assert entry.owner is owner
        assert [e.key for e in registry.find_by_attribute("node", "a")] == ["agent"]
        assert registry.monitor_count() == 1
        await owner.stop()
        await registry.settle()
        assert len(registry._entries) == 0
        assert registry.monitor_count() == 0
