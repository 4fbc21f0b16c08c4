"""A Supervisor against a pure model of restart accounting (hypothesis, stateful).

Each example draws a strategy, an intensity, a period and children of every restart type, then runs
rules on one event loop of its own: children exit normally or crash, the ``ManualClock`` advances,
children are terminated and restarted through the API. After every step the supervisor must agree with
the model on which children exist and run, each child's restart count, which children got a new server,
and whether it has escalated (docs/otp-conformance.md#strategies, #restart-types, #intensity).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from supervisor import NORMAL, SHUTDOWN, ChildState, Restart, Server, Strategy, Supervisor
from supervisor.errors import ChildRunning
from supervisor.testing import ManualClock
from tests.supervisor.test_supervisor_support import EventLog, crash_child, worker

T = TypeVar("T")

CHILD_IDS = ("c0", "c1", "c2", "c3")
STEPS = (0.5, 1.0, 2.5, 5.0, 6.0)  # exact in binary, so the model's window arithmetic is the real one


@dataclass
class ModelChild:
    id: str
    restart: Restart
    running: bool = True
    restarts: int = 0
    generation: int = 0


class SupervisorModel(RuleBasedStateMachine):
    """Drives one Supervisor on its own event loop and mirrors it in a pure model."""

    loop_factory: Callable[[], asyncio.AbstractEventLoop] = staticmethod(asyncio.new_event_loop)
    step_timeout = 10.0

    def __init__(self) -> None:
        super().__init__()
        self.loop = self.loop_factory()
        self.log: EventLog = []
        self.clock = ManualClock()
        self.sup: Supervisor | None = None
        self.children: list[ModelChild] = []
        self.window: list[float] = []
        self.escalated = False
        self.seen: dict[str, tuple[int, Server]] = {}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        async def bounded() -> T:
            async with asyncio.timeout(self.step_timeout):  # a disagreement may be a wait that never ends
                return await coroutine

        return self.loop.run_until_complete(bounded())

    @property
    def supervisor(self) -> Supervisor:
        assert self.sup is not None
        return self.sup

    # --- setup -------------------------------------------------------------------------------------

    @initialize(
        strategy=st.sampled_from(list(Strategy)),
        intensity=st.integers(0, 3),
        period=st.sampled_from([1.0, 5.0]),
        restarts=st.lists(st.sampled_from(list(Restart)), min_size=1, max_size=len(CHILD_IDS)),
    )
    def start(self, strategy: Strategy, intensity: int, period: float, restarts: list[Restart]) -> None:
        self.strategy, self.intensity, self.period = strategy, intensity, period
        self.children = [ModelChild(cid, r) for cid, r in zip(CHILD_IDS, restarts, strict=False)]
        specs = [worker(c.id, self.log, restart=c.restart) for c in self.children]
        self.sup = self.run(
            Supervisor.start(specs, strategy=strategy, intensity=intensity, period=period, clock=self.clock)
        )

    def teardown(self) -> None:
        try:
            if self.sup is not None and self.sup.alive:
                self.run(self.sup.stop(SHUTDOWN))
            self.run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    # --- the model -----------------------------------------------------------------------------------

    def model_exit(self, child: ModelChild, abnormal: bool) -> None:
        child.running = False
        if not (child.restart is Restart.PERMANENT or (child.restart is Restart.TRANSIENT and abnormal)):
            if child.restart is Restart.TEMPORARY:
                self.children.remove(child)
            return
        now = self.clock.monotonic()
        self.window = [t for t in self.window if t >= now - self.period] + [now]
        if len(self.window) > self.intensity:
            self.escalated = True
            for other in self.children:
                other.running = False
            return
        child.restarts += 1
        if self.strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        else:
            start = 0 if self.strategy is Strategy.ONE_FOR_ALL else self.children.index(child)
            group = self.children[start:]
            for other in group:
                if other is not child and other.restart is Restart.TEMPORARY:
                    self.children.remove(other)
            group = [c for c in group if c in self.children]
        for member in group:
            member.running = True
            member.generation += 1

    def running(self) -> list[ModelChild]:
        return [c for c in self.children if c.running]

    async def settle(self) -> None:
        sup = self.supervisor
        if self.escalated:
            assert await sup.wait() == SHUTDOWN
        else:
            await sup.count_children()

    # --- rules -----------------------------------------------------------------------------------------

    @precondition(lambda self: not self.escalated and any(c.running for c in self.children))
    @rule(index=st.integers(0, len(CHILD_IDS) - 1), abnormal=st.booleans())
    def child_exits(self, index: int, abnormal: bool) -> None:
        running = self.running()
        child = running[index % len(running)]
        server = self.seen[child.id][1]
        self.model_exit(child, abnormal)

        async def act() -> None:
            await crash_child(server, None if abnormal else NORMAL)
            await self.settle()

        self.run(act())

    @rule(seconds=st.sampled_from(STEPS))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: not self.escalated and bool(self.children))
    @rule(index=st.integers(0, len(CHILD_IDS) - 1))
    def terminate_child(self, index: int) -> None:
        child = self.children[index % len(self.children)]
        child.running = False
        if child.restart is Restart.TEMPORARY:
            self.children.remove(child)
        self.run(self.supervisor.terminate_child(child.id))

    @precondition(lambda self: not self.escalated and bool(self.children))
    @rule(index=st.integers(0, len(CHILD_IDS) - 1))
    def restart_child(self, index: int) -> None:
        child = self.children[index % len(self.children)]
        if child.running:
            with pytest.raises(ChildRunning):
                self.run(self.supervisor.restart_child(child.id))
            return
        child.running = True
        child.generation += 1
        assert self.run(self.supervisor.restart_child(child.id)) is not None

    # --- invariants --------------------------------------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        if self.sup is None:
            return
        sup = self.sup
        if self.escalated:
            assert not sup.alive
            assert sup.exit_reason == SHUTDOWN
            assert all(not server.alive for _, server in self.seen.values())
            return
        assert sup.alive
        infos = list(reversed(self.run(sup.which_children())))
        assert [i.id for i in infos] == [c.id for c in self.children]
        for info, child in zip(infos, self.children, strict=True):
            assert info.restarts == child.restarts, child
            assert info.state is (ChildState.RUNNING if child.running else ChildState.UNDEFINED), child
            if not child.running:
                assert info.server is None
                continue
            assert info.server is not None
            assert info.server.alive
            previous = self.seen.get(child.id)
            if previous is not None:
                generation, server = previous
                # A new server exactly when the model started the child again.
                assert (info.server is server) == (generation == child.generation), child
            self.seen[child.id] = (child.generation, info.server)


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.mark.parametrize("loop_name", list(LOOPS))
def test_supervisor_matches_the_restart_model(loop_name: str) -> None:
    class Machine(SupervisorModel):
        loop_factory = staticmethod(LOOPS[loop_name])

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=100,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
