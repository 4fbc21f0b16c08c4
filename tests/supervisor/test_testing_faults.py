"""``supervisor.testing.FaultPlan``: seeded faults at named points of servers and tables."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from supervisor import KILLED, Caller, CallTimeout, ChildSpec, Server, Supervisor, Table
from supervisor.errors import ServerExited, StartFailed
from supervisor.tables._registry import classes as table_classes
from supervisor.testing import Capture, Fault, FaultInjected, FaultPlan, Injection, wait_for_events


class Echo(Server):
    async def handle_call(self, request: object, caller: Caller) -> object:
        return request


class Keeper(Server):
    async def init(self, table_name: str) -> None:
        self.table = Table(table_name, named=True)

    async def handle_call(self, request: object, caller: Caller) -> object:
        self.table.insert((request, True))
        return request


async def _calls(plan: FaultPlan, n: int) -> list[Injection]:
    echo = await Echo.start()
    plan.server(Echo, "handle_call", Fault.RAISE, probability=0.3)
    for i in range(n):
        if not echo.alive:
            echo = await Echo.start()
        try:
            await echo.call(i)
        except ServerExited:
            pass
    if echo.alive:
        await echo.stop()
    return list(plan.injected)


async def test_a_seed_replays_exactly() -> None:
    with FaultPlan(seed=2024) as first:
        injected = await _calls(first, 40)
    with FaultPlan(seed=2024) as again:
        assert await _calls(again, 40) == injected
    with FaultPlan(seed=2025) as other:
        assert await _calls(other, 40) != injected
    assert 0 < len(injected) < 40


def test_a_decision_depends_on_the_seed_point_and_hit_alone() -> None:
    with FaultPlan(seed=1) as plan:
        point = plan.server(Echo, "handle_cast", probability=0.5)
        decisions = [plan.decide(point, hit) for hit in range(1, 100)]
        assert [plan.decide(point, hit) for hit in reversed(range(1, 100))] == decisions[::-1]
        assert plan.decide("Other.handle_call", 1) is False


async def test_a_raise_in_init_fails_the_start_and_names_the_point(fault_plan: FaultPlan) -> None:
    fault_plan.server(Echo, "init", hits={1})
    with pytest.raises(StartFailed) as raised:
        await Echo.start()
    error = raised.value.reason.exception
    assert isinstance(error, FaultInjected)
    assert (error.point, error.hit) == ("Echo.init", 1)
    echo = await Echo.start()  # the second start is not faulted
    assert fault_plan.hits("Echo.init") == 2
    await echo.stop()


async def test_a_hang_makes_the_call_time_out_and_a_cancel_kills_the_server(fault_plan: FaultPlan) -> None:
    fault_plan.server(Echo, "handle_call", Fault.HANG, hits={1})
    fault_plan.server(Echo, "handle_cast", Fault.CANCEL, hits={1})
    echo = await Echo.start()
    with pytest.raises(CallTimeout):
        await echo.call("stuck", timeout=0.01)
    echo.kill()
    assert await echo.wait() is KILLED
    echo = await Echo.start()
    echo.cast("anything")
    assert await echo.wait() is KILLED
    assert [i.fault for i in fault_plan.injected] == [Fault.HANG, Fault.CANCEL]


async def test_a_table_write_raises_in_the_writer(fault_plan: FaultPlan, arbord_names: object) -> None:
    point = fault_plan.table("faulty-rows", "insert", hits={2})
    keeper = await Keeper.start("faulty-rows")
    assert await keeper.call("a") == "a"
    with pytest.raises(ServerExited) as raised:
        await keeper.call("b")
    error = raised.value.reason.exception
    assert isinstance(error, FaultInjected)
    assert (error.point, error.hit) == (point, 2)
    assert fault_plan.injected == [Injection("table faulty-rows.insert", 2, Fault.RAISE)]


async def test_a_supervisor_restarts_a_child_the_plan_crashes(
    arbord_tree: Supervisor, fault_plan: FaultPlan, arbord_capture: Callable[..., Capture]
) -> None:
    restarts = arbord_capture(("supervisor", "child", "restart"))
    fault_plan.server(Echo, "handle_call", hits={1, 2})
    await arbord_tree.start_child(ChildSpec("echo", Echo))
    for expected in (1, 2):
        [info] = await arbord_tree.which_children()
        assert info.server is not None
        with pytest.raises(ServerExited):
            await info.server.call("x")
        await wait_for_events(restarts, [("supervisor", "child", "restart")] * expected, timeout=5.0)
    [info] = await arbord_tree.which_children()
    assert info.server is not None
    assert await info.server.call("y") == "y"


def test_closing_the_plan_restores_the_classes_exactly() -> None:
    before = {cls: dict(vars(cls)) for cls in (Echo, Keeper, *table_classes())}
    with FaultPlan() as plan:
        plan.server(Echo, "init")
        plan.server(Echo, "handle_info")
        plan.table("restored", "delete")
        assert "init" in vars(Echo)
    assert {cls: dict(vars(cls)) for cls in before} == before


def test_bad_rules_are_refused() -> None:
    with FaultPlan() as plan:
        with pytest.raises(ValueError, match="not a fault point"):
            plan.server(Echo, "handle_nothing")
        with pytest.raises(TypeError, match="Server subclass"):
            plan.server(int, "init")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="within"):
            plan.server(Echo, "init", probability=2.0)
        with pytest.raises(ValueError, match="not a table write"):
            plan.table("t", "lookup")


async def test_no_plan_leaves_the_callbacks_untouched() -> None:
    assert "handle_call" in vars(Echo)
    assert vars(Echo)["handle_call"].__qualname__ == "Echo.handle_call"
    assert await asyncio.sleep(0, "ok") == "ok"
