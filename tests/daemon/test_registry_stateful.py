"""The registry against a dict model, through random steps (hypothesis, stateful): spawn owners
(servers and tasks), register, unregister, update metadata, kill owners, crash the registry (its
supervisor restarts it, the keeper hands the tables back), look up, find, query. After every step
the registry's live view equals the model; once the registry settles, its tables and monitors hold
exactly the model (no dead owner's row, one monitor per owner with keys)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from daemon.registry import (
    REGISTRY_NAME,
    REGISTRY_SUPERVISOR_NAME,
    RegistrySettings,
    keeper_child_spec,
    registry_child_spec,
)
from daemon.registry.errors import AlreadyRegistered
from daemon.registry.registry import Registry, registry_named
from supervisor import Server, Supervisor, whereis

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
NODES = st.sampled_from(["n1", "n2"])


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner: asyncio.Runner | None = None
        self.owners: list[Any] = []
        self.alive: list[bool] = []
        self.model: dict[str, tuple[int, str]] = {}  # key -> (owner index, node)

    def _run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(awaitable)

    @property
    def registry(self) -> Registry:
        return registry_named(REGISTRY_NAME)

    @initialize(loop=st.sampled_from(sorted(LOOPS)))
    def start(self, loop: str) -> None:
        self.runner = asyncio.Runner(loop_factory=LOOPS[loop])
        self.stop_owners = self._run(self._event())
        # Crashes are steps here, many per second: the registry supervisor must not give up.
        specs = [keeper_child_spec(), registry_child_spec(RegistrySettings(intensity=1000))]
        self.root = Supervisor(specs, intensity=1000)
        self._run(self.root.__aenter__())

    @staticmethod
    async def _event() -> asyncio.Event:
        return asyncio.Event()

    def teardown(self) -> None:
        if self.runner is None:
            return
        try:
            self.stop_owners.set()
            if self.root.alive:
                self._run(self.root.stop())
            for owner in self.owners:
                if isinstance(owner, Server) and owner.alive:
                    self._run(owner.stop())
            tasks = [o for o in self.owners if isinstance(o, asyncio.Task)]

            async def finish() -> None:
                await asyncio.gather(*tasks, return_exceptions=True)

            self._run(finish())
        finally:
            self.runner.close()

    # --- steps -------------------------------------------------------------------------------------

    @rule(server=st.booleans())
    def spawn(self, server: bool) -> None:
        async def make() -> Any:
            if server:
                return await Server.start()
            return asyncio.create_task(self.stop_owners.wait())

        self.owners.append(self._run(make()))
        self.alive.append(True)

    @precondition(lambda self: any(self.alive))
    @rule(key=KEYS, pick=st.integers(min_value=0), node=NODES)
    def register(self, key: str, pick: int, node: str) -> None:
        index = [i for i, a in enumerate(self.alive) if a][pick % sum(self.alive)]
        if key in self.model:
            with pytest.raises(AlreadyRegistered):
                self.registry.register(key, self.owners[index], {"node": node})
            return
        self.registry.register(key, self.owners[index], {"node": node})
        self.model[key] = (index, node)

    @rule(key=KEYS)
    def unregister(self, key: str) -> None:
        assert self.registry.unregister(key) is (key in self.model)
        self.model.pop(key, None)

    @rule(key=KEYS, node=NODES)
    def update(self, key: str, node: str) -> None:
        assert self.registry.update_metadata(key, {"node": node}) is (key in self.model)
        if key in self.model:
            self.model[key] = (self.model[key][0], node)

    @precondition(lambda self: any(self.alive))
    @rule(pick=st.integers(min_value=0))
    def kill_owner(self, pick: int) -> None:
        index = [i for i, a in enumerate(self.alive) if a][pick % sum(self.alive)]
        owner = self.owners[index]

        async def kill() -> None:
            if isinstance(owner, Server):
                owner.kill()
                await owner.wait()
            else:
                owner.cancel()
                await asyncio.gather(owner, return_exceptions=True)

        self._run(kill())
        self.alive[index] = False
        self.model = {k: v for k, v in self.model.items() if v[0] != index}

    @rule()
    def crash_registry(self) -> None:
        async def crash() -> None:
            old = self.registry
            old.kill()
            await old.wait()
            supervisor = whereis(REGISTRY_SUPERVISOR_NAME)
            assert isinstance(supervisor, Supervisor)
            await supervisor.which_children()

        self._run(crash())

    @rule()
    def settle(self) -> None:
        registry = self.registry
        self._run(registry.settle())
        assert {row[0] for row in registry._entries.tab2list()} == set(self.model)
        owners_with_keys = {v[0] for v in self.model.values()}
        assert registry.monitor_count() == len(owners_with_keys)

    # --- what must hold after every step ------------------------------------------------------------

    @invariant()
    def live_view_equals_the_model(self) -> None:
        if self.runner is None:
            return
        registry = self.registry
        for key in ["a", "b", "c", "d", "e"]:
            entry = registry.lookup(key)
            if key in self.model:
                index, node = self.model[key]
                assert entry is not None
                assert entry.owner is self.owners[index]
                assert entry.metadata == {"node": node}
            else:
                assert entry is None
        for node in ["n1", "n2"]:
            found = {e.key for e in registry.find_by_attribute("node", node)}
            assert found == {k for k, v in self.model.items() if v[1] == node}
            assert {e.key for e in registry.query([("node", "eq", node)])} == found
        assert registry.count() == len(self.model)
        # Each index row counts its members per owner task: find_by_attribute checks those tasks.
        for table in registry._indexes.values():
            for _, members, owners in table.tab2list():
                assert owners == Counter(e.task for e in members.values())


RegistryMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestRegistryModel = RegistryMachine.TestCase
